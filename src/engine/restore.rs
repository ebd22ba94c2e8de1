//! Daemon start-up: make memory, disk and the running monitors agree with the GraphDB.
//! - Containers whose monitor still answers are running (also those whose "running" state
//!   never reached the database because the daemon died mid-start); a watcher is attached.
//! - Containers the database thinks are running but whose monitor is gone take the exit
//!   record the monitor left, or are marked exited (255) when there is none (a reboot).
//! - Half-done removals are finished; `--rm` containers that exited meanwhile are removed.
//! - Storage staging leftovers, layer directories without a row, container layers and
//!   directories without a row, and monitors of containers without a row are removed.

use super::container::{NetState, Status};
use super::{Busy, Engine};
use crate::error::Result;
use crate::driver::exec::{ExitStatus, PIDS_NAME};
use std::collections::HashSet;

/// Exit code recorded for a container whose monitor vanished without a record.
pub const LOST_EXIT_CODE: i32 = 255;

impl Engine {
    pub fn restore(&self) -> Result<()> {
        self.storage.cleanup()?;
        self.restore_networks()?;
        let rows = self.db.containers()?;
        let mut known: HashSet<String> = HashSet::new();
        let mut to_remove = Vec::new();
        // Watchers start after the network is restored: an exit recorded in between would
        // release ports and hosts entries that the restore then takes again, for good.
        let mut watchers = Vec::new();
        for row in rows {
            let c = match Engine::from_row(row) {
                Ok(c) => c,
                Err(err) => {
                    log_error!("restore: {}", err.message);
                    continue;
                }
            };
            known.insert(c.id.clone());
            let ctr = self.insert(c);
            let status = ctr.lock().0.state.status;
            if status == Status::Removing {
                to_remove.push(ctr);
                continue;
            }
            match self.exec.watch(&ctr.id) {
                Ok(watch) => {
                    let pid = self.read_init_pid(&ctr.id);
                    {
                        let mut g = ctr.lock();
                        if g.0.state.status != Status::Running {
                            g.0.state.status = Status::Running;
                            if g.0.state.started_at == 0 {
                                g.0.state.started_at = crate::util::time::now_nanos();
                            }
                        }
                        if pid > 0 {
                            g.0.state.pid = pid;
                        }
                        let _ = self.persist(&g.0);
                    }
                    watchers.push((ctr, crate::driver::exec::Running { pid, monitor_pid: 0, watch }));
                    continue;
                }
                Err(_) if matches!(status, Status::Running | Status::Paused | Status::Restarting) => {
                    let st = self.exec.read_exit(&ctr.id).unwrap_or_else(|| ExitStatus {
                        code: LOST_EXIT_CODE,
                        finished_at: crate::util::time::now_nanos(),
                        oom_killed: false,
                        error: "the container's monitor is gone (host reboot or killed)".into(),
                    });
                    log_info!("container {} exited while the daemon was away ({})", &ctr.id[..12], st.code);
                    // The monitor is gone either way: make sure its cgroups are too.
                    self.release_leftovers(&ctr.id);
                    if self.record_exit(&ctr, st) {
                        to_remove.push(ctr);
                    }
                }
                Err(_) => self.exec.cleanup(&ctr.id),
            }
        }
        for ctr in to_remove {
            ctr.lock().1.busy = Some(Busy::Removing);
            if let Err(err) = self.finish_removal(&ctr) {
                log_error!("restore: {}", err.message);
            }
        }
        self.collect_garbage(&known);
        self.restore_wiring();
        for (ctr, running) in watchers {
            self.spawn_watcher(ctr, running);
        }
        Ok(())
    }

    /// Makes the kernel's network state match the containers that still run: their ports
    /// and hosts entries are taken again, addresses of the others are released, the
    /// firewall table is rebuilt in one batch, and veths left on our bridges by containers
    /// that are gone are deleted.
    fn restore_wiring(&self) {
        // The rebuild comes first: it decides whether nf_tables or the userland proxy
        // forwards, and each port re-taken below is then added under that mode.
        if let Err(e) = self.sync_firewall() {
            log_error!("restore firewall: {}", e.message);
        }
        let mut running = Vec::new();
        for ctr in self.all() {
            let c = ctr.snapshot();
            if c.running() {
                self.rewire_running(&c);
                running.push(c);
            } else if c.state.network != NetState::default() {
                // Killed between recording its wiring and "go": nothing of it runs.
                let mut g = ctr.lock();
                g.0.state.network = NetState::default();
                if let Err(e) = self.persist(&g.0) {
                    log_warn!("container {}: forget its network state: {}", crate::util::id::short(&c.id), e.message);
                }
            }
        }
        let live: HashSet<&str> = running.iter().map(|c| c.id.as_str()).collect();
        match self.db.allocations() {
            Ok(rows) => {
                for (net, ctr, ip) in rows {
                    if !live.contains(ctr.as_str()) {
                        log_info!("releasing {ip}: container {} is not running", crate::util::id::short(&ctr));
                        let _ = self.db.release_ip(&net, &ctr);
                    }
                }
            }
            Err(e) => log_warn!("restore addresses: {}", e.message),
        }
        let bridges: Vec<String> = self.bridges().into_iter().map(|b| b.name).collect();
        let keep: HashSet<String> =
            running.iter().flat_map(|c| c.state.network.endpoints.values().map(|e| e.veth.clone())).collect();
        if !bridges.is_empty() {
            if let Err(e) = self.net.remove_stale_veths(&bridges, &keep) {
                log_warn!("restore interfaces: {}", e.message);
            }
        }
    }

    fn read_init_pid(&self, id: &str) -> i32 {
        let path = self.exec.run_dir(id).join(PIDS_NAME);
        std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("init").and_then(|p| p.as_i64()))
            .unwrap_or(0) as i32
    }

    /// Removes what the database does not know. Runs before the API serves, so nothing is
    /// being created concurrently.
    fn collect_garbage(&self, containers: &HashSet<String>) {
        // Layers and blobs of pulls, loads or removals that never finished.
        self.blobs.cleanup();
        let _ = std::fs::remove_dir_all(self.config.data_root.join("tmp"));
        match self.db.collect_unused() {
            Ok((layers, blobs)) => {
                for l in layers {
                    log_info!("removing layer {l}: no image uses it");
                    let _ = self.storage.remove_layer(&l);
                }
                for b in blobs {
                    self.blobs.remove(&b);
                }
            }
            Err(err) => log_warn!("layer garbage collection: {}", err.message),
        }
        if let Ok(known) = self.db.all_blob_digests() {
            let known: HashSet<String> = known.into_iter().collect();
            for b in self.blobs.list().into_iter().filter(|b| !known.contains(b)) {
                log_info!("removing blob {b}: no layer uses it");
                self.blobs.remove(&b);
            }
        }
        match (self.storage.layers(), self.db.all_layer_ids()) {
            (Ok(on_disk), Ok(rows)) => {
                let rows: HashSet<String> = rows.into_iter().collect();
                for l in on_disk.into_iter().filter(|l| !rows.contains(l)) {
                    log_info!("removing unreferenced layer {l}");
                    if let Err(err) = self.storage.remove_layer(&l) {
                        log_warn!("remove layer {l}: {}", err.message);
                    }
                }
            }
            (Err(err), _) | (_, Err(err)) => log_warn!("layer garbage collection: {}", err.message),
        }
        if let Ok(rw) = self.storage.rw_layers() {
            for id in rw.into_iter().filter(|id| !containers.contains(id)) {
                log_info!("removing read-write layer of unknown container {id}");
                let _ = self.storage.remove_rw(&id);
            }
        }
        let dirs = |root: &std::path::Path| -> Vec<String> {
            std::fs::read_dir(root)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| crate::util::id::is_full_id(n))
                        .collect()
                })
                .unwrap_or_default()
        };
        for id in dirs(&self.config.data_root.join("containers")).into_iter().filter(|id| !containers.contains(id)) {
            log_info!("removing directory of unknown container {id}");
            let _ = std::fs::remove_dir_all(self.container_dir(&id));
        }
        for id in dirs(&self.config.exec_root).into_iter().filter(|id| !containers.contains(id)) {
            // A monitor whose container row is gone (the daemon died mid-removal): stop it.
            if self.exec.watch(&id).is_ok() {
                log_info!("killing the monitor of unknown container {id}");
                let _ = self.exec.kill(&id, libc::SIGKILL);
            }
            self.exec.cleanup(&id);
        }
    }
}
