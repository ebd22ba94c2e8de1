//! `ContainerStart`: turn a created (or exited) container into a running one. The job
//! claims the container (so a second start or a removal waits or refuses), computes the
//! monitor's `Spec` as plain data, has the exec driver start the monitor (handing over the
//! attach streams that were waiting), records the new state, and leaves a watcher thread
//! that records the exit. A failed start records Docker's exit code (127 "not found", 126
//! "permission denied", else 128) and the runtime's message, and leaves the status as it was.

use super::container::{Container, NetState, Status};
use super::{Busy, Ctr, Engine, Job};
use crate::driver::exec::{AttachStream, Running};
use crate::error::{Error, Result};
use crate::driver::exec::{BindMount, ExitStatus, Process, Spec};
use crate::sys::{caps, cgroup};
use std::sync::Arc;
use std::time::Duration;

pub struct ContainerStart {
    pub id: String,
}

/// Docker's default masked and read-only paths (unprivileged containers).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
];
pub const READONLY_PATHS: &[&str] =
    &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// /dev/shm when the user sets no size: 64 MiB, as Docker.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

impl Job for ContainerStart {
    type Output = ();
    const NAME: &'static str = "ContainerStart";

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<()> {
        let ctr = e.lookup(&self.id)?;
        let (c, attaches) = claim(&ctr)?;
        // A bug that panics here must not leave the container claimed ("starting") for
        // good: it turns into a failed start like any other.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| launch(e, &ctr, &c, attaches)))
            .unwrap_or_else(|_| Err(Error::system("internal error while starting the container (see the daemon log)")));
        let mut g = ctr.lock();
        g.1.busy = None;
        let outcome = match result {
            Ok((running, network)) => {
                log_debug!("container {} runs as pid {} under monitor {}", ctr.id, running.pid, running.monitor_pid);
                let st = &mut g.0.state;
                st.status = Status::Running;
                st.pid = running.pid;
                st.started_at = crate::util::time::now_nanos();
                st.exit_code = 0;
                st.error.clear();
                st.oom_killed = false;
                st.network = network;
                let persisted = e.persist(&g.0);
                drop(g);
                ctr.notify();
                e.spawn_watcher(ctr.clone(), running);
                persisted
            }
            Err(err) => {
                let st = &mut g.0.state;
                st.exit_code = exit_code_for(&err.message);
                st.error = err.message.clone();
                let _ = e.persist(&g.0);
                let auto_remove = g.0.spec.host.auto_remove;
                drop(g);
                ctr.notify();
                if auto_remove {
                    let _ = e.run(super::remove::ContainerRemove { id: ctr.id.clone(), force: true });
                }
                Err(err)
            }
        };
        outcome
    }
}

/// Marks the container as starting and takes its waiting attach streams. Waits out a
/// concurrent start or stop; refuses during removal; 304 when already running.
fn claim(ctr: &Ctr) -> Result<(Container, Vec<AttachStream>)> {
    let mut g = ctr.lock();
    loop {
        match g.1.busy {
            Some(Busy::Removing) => {
                return Err(Error::conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    ctr.id
                )))
            }
            Some(_) => g = ctr.wait_change(g, Duration::from_millis(200)),
            // An attach answered but not registered yet: its stream is for this start.
            None if g.1.attaching > 0 => g = ctr.wait_change(g, Duration::from_millis(200)),
            None => break,
        }
    }
    if g.0.running() {
        return Err(Error::not_modified());
    }
    if matches!(g.0.state.status, Status::Removing | Status::Dead) {
        return Err(Error::conflict(format!("container {} is {}", ctr.id, g.0.state.status.name())));
    }
    g.1.busy = Some(Busy::Starting);
    let attaches = std::mem::take(&mut g.1.pending_attach);
    Ok((g.0.clone(), attaches))
}

/// Starts the monitor; the networks are wired while the container's process waits for
/// "go" (its namespaces exist, nothing of the user's runs yet).
///
/// The network state is written to the GraphDB before "go": a daemon killed after "go"
/// finds the container running with what it holds recorded, and keeps it; killed before,
/// the monitor gives up on the start and start-up releases the addresses.
fn launch(e: &Engine, ctr: &Ctr, c: &Container, attaches: Vec<AttachStream>) -> Result<(Running, NetState)> {
    let spec = build_spec(e, c)?;
    let mut network = NetState::default();
    let record = |network: &NetState| {
        let mut g = ctr.lock();
        g.0.state.network = network.clone();
        e.persist(&g.0)
    };
    let started = e.exec.start(&spec, attaches, &mut |pid| {
        // A panic while wiring becomes an error here, where `network` still says what to undo.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.wire(c, pid, &mut network)))
            .unwrap_or_else(|_| Err(Error::system("internal error while connecting the container (see the daemon log)")))?;
        if network != NetState::default() {
            record(&network)?;
        }
        Ok(())
    });
    match started {
        Ok(running) => Ok((running, network)),
        Err(err) => {
            e.unwire(&c.id, &network);
            if network != NetState::default() {
                let _ = record(&NetState::default());
            }
            Err(err)
        }
    }
}

/// The monitor's instructions for this container, as data.
pub fn build_spec(e: &Engine, c: &Container) -> Result<Spec> {
    let layers: Vec<String> = e.db.image_layers(&c.image_id)?.into_iter().map(|l| l.id).collect();
    let mut rootfs = e.storage.rootfs_mount(&c.id, &layers)?;
    rootfs.readonly = c.spec.host.readonly_rootfs;
    // `--network container:X` shares X's hosts, resolv.conf and hostname, as Docker does.
    let dir = match super::connect::joined_container(&c.spec.host.network_mode) {
        Some(other) => e.container_dir(&e.lookup(other)?.id),
        None => e.container_dir(&c.id),
    };
    let bind = |name: &str, dest: &str| BindMount {
        source: dir.join(name),
        destination: dest.to_string(),
        readonly: false,
    };
    let mounts = vec![
        bind("resolv.conf", "/etc/resolv.conf"),
        bind("hostname", "/etc/hostname"),
        bind("hosts", "/etc/hosts"),
    ];
    let privileged = c.spec.host.privileged;
    let network = e.netns_mode(c)?;
    let hostname = std::fs::read_to_string(dir.join("hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| c.spec.hostname.clone());
    let mut env = vec![format!("HOSTNAME={hostname}")];
    if c.spec.tty {
        env.push("TERM=xterm".into());
    }
    for kv in &c.spec.env {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    Ok(Spec {
        id: c.id.clone(),
        rootfs,
        mounts,
        hostname,
        process: Process {
            args: c.spec.argv(),
            env,
            cwd: if c.spec.working_dir.is_empty() { "/".into() } else { c.spec.working_dir.clone() },
            user: c.spec.user.clone(),
            tty: c.spec.tty,
            open_stdin: c.spec.open_stdin,
            stdin_once: c.spec.stdin_once,
            console_size: c.spec.host.console_size,
        },
        log_path: e.log_path(&c.id),
        run_dir: e.exec.run_dir(&c.id),
        cgroups: cgroup::container_paths(&e.config.cgroup_parent, &c.id)?,
        network,
        masked_paths: if privileged { vec![] } else { MASKED_PATHS.iter().map(|s| s.to_string()).collect() },
        readonly_paths: if privileged { vec![] } else { READONLY_PATHS.iter().map(|s| s.to_string()).collect() },
        shm_size: if c.spec.host.shm_size > 0 { c.spec.host.shm_size as u64 } else { DEFAULT_SHM_SIZE },
        capabilities: if privileged {
            None
        } else {
            Some(caps::compute(&c.spec.host.cap_add, &c.spec.host.cap_drop)?)
        },
        cgroup_writes: if privileged {
            Vec::new()
        } else {
            cgroup::device_writes(&cgroup::hierarchies()?, &e.config.cgroup_parent, &c.id, cgroup::DEFAULT_DEVICE_RULES)?
        },
    })
}

/// The exit code Docker records for a start that failed, chosen from the runtime's words
/// (the CLI makes the same choice for `run`'s own exit status).
pub fn exit_code_for(message: &str) -> i32 {
    if message.contains("executable file not found") || message.contains("no such file or directory") {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        128
    }
}

impl Engine {
    /// Waits in its own thread for the container's exit and records it.
    pub(super) fn spawn_watcher(&self, ctr: Arc<Ctr>, running: Running) {
        let Some(engine) = self.me.upgrade() else { return };
        let id = ctr.id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("watch-{}", &ctr.id[..12]))
            .stack_size(128 * 1024)
            .spawn(move || {
                let status = running.watch.wait();
                engine.on_exit(&ctr, status);
            });
        if let Err(err) = spawned {
            log_error!("container {id}: cannot start its watcher thread: {err}");
        }
    }

    /// Removes the cgroups a monitor that was killed could not remove itself.
    pub(super) fn release_leftovers(&self, id: &str) {
        if let Ok(dirs) = cgroup::container_paths(&self.config.cgroup_parent, id) {
            for d in dirs {
                let _ = cgroup::remove(&d);
            }
        }
    }

    /// Records a container's exit: state, database, waiters; then `--rm` removal.
    pub(super) fn on_exit(&self, ctr: &Arc<Ctr>, st: ExitStatus) {
        let code = st.code;
        let auto_remove = self.record_exit(ctr, st);
        log_info!("container {} exited with {code}", &ctr.id[..12]);
        if auto_remove {
            if let Err(err) = self.run(super::remove::ContainerRemove { id: ctr.id.clone(), force: true }) {
                log_error!("container {}: auto-remove: {}", ctr.id, err.message);
            }
        }
    }

    /// Writes an exit into the container's state and the GraphDB, releases what the run
    /// held, and wakes waiters. Returns whether the container is to be removed (`--rm`).
    ///
    /// The network is released before the exit is visible: a `restart` (or a `start` after
    /// `wait`) claims the container only once it is marked exited, and must not find its
    /// new ports, address or hosts entries torn down by the old run's cleanup.
    pub(super) fn record_exit(&self, ctr: &Arc<Ctr>, st: ExitStatus) -> bool {
        let crashed = !st.error.is_empty();
        let network = ctr.lock().0.state.network.clone();
        self.unwire(&ctr.id, &network);
        let auto_remove = {
            let mut g = ctr.lock();
            let s = &mut g.0.state;
            s.status = Status::Exited;
            s.pid = 0;
            s.exit_code = st.code;
            s.finished_at = st.finished_at;
            s.oom_killed = st.oom_killed;
            s.error = st.error;
            s.network = NetState::default();
            g.1.exits += 1;
            if let Err(err) = self.persist(&g.0) {
                log_error!("container {}: record exit: {}", ctr.id, err.message);
            }
            g.0.spec.host.auto_remove
        };
        if crashed {
            // The monitor died without cleaning up after itself.
            self.release_leftovers(&ctr.id);
        }
        self.exec.cleanup(&ctr.id);
        ctr.notify();
        auto_remove
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_to_docker_exit_codes() {
        assert_eq!(exit_code_for("exec: \"nope\": executable file not found in $PATH"), 127);
        assert_eq!(exit_code_for("exec: \"/x\": stat /x: no such file or directory"), 127);
        assert_eq!(exit_code_for("exec: \"/etc\": permission denied"), 126);
        assert_eq!(exit_code_for("mount proc on /proc: device or resource busy"), 128);
    }
}
