//! `ContainerRemove`: refuse a running container unless forced (then SIGKILL and wait),
//! mark it as being removed (persisted, so a daemon killed mid-way finishes the job at
//! start-up), delete its read-write layer, directory and row, and wake `removed` waiters.

use super::container::Status;
use super::stop::wait_exit;
use super::{Busy, Ctr, Engine, Job};
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

pub struct ContainerRemove {
    pub id: String,
    pub force: bool,
}

impl Job for ContainerRemove {
    type Output = ();
    const NAME: &'static str = "ContainerRemove";

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<()> {
        let ctr = e.lookup(&self.id)?;
        loop {
            let exits = {
                let mut g = ctr.lock();
                match g.1.busy {
                    Some(Busy::Removing) => {
                        return Err(Error::conflict(format!(
                            "removal of container {} is already in progress",
                            ctr.id
                        )))
                    }
                    Some(Busy::Starting) => {
                        drop(ctr.wait_change(g, Duration::from_millis(200)));
                        continue;
                    }
                    _ => {}
                }
                if !g.0.running() {
                    g.1.busy = Some(Busy::Removing);
                    break;
                }
                if !self.force {
                    return Err(Error::conflict(format!(
                        "You cannot remove a running container {}. Stop the container before \
                         attempting removal or force remove",
                        ctr.id
                    )));
                }
                g.1.exits
            };
            let _ = e.exec.kill(&ctr.id, libc::SIGKILL);
            if !wait_exit(&ctr, exits, Some(Duration::from_secs(30))) {
                return Err(Error::system(format!(
                    "could not kill running container {}, cannot remove",
                    ctr.id
                )));
            }
        }
        e.finish_removal(&ctr)
    }
}

impl Engine {
    /// Deletes a stopped container claimed for removal. Each step tolerates what an earlier,
    /// interrupted attempt already did.
    pub(super) fn finish_removal(&self, ctr: &Arc<Ctr>) -> Result<()> {
        {
            let mut g = ctr.lock();
            g.0.state.status = Status::Removing;
            g.1.pending_attach.clear();
            self.persist(&g.0)?;
        }
        let result = (|| -> Result<()> {
            self.storage.remove_rw(&ctr.id)?;
            self.exec.cleanup(&ctr.id);
            let dir = self.container_dir(&ctr.id);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::from(e).context(format!("remove {}", dir.display()))),
            }
            self.db.delete_container(&ctr.id)
        })();
        if let Err(err) = result {
            let mut g = ctr.lock();
            g.1.busy = None;
            g.0.state.status = Status::Dead;
            g.0.state.error = err.message.clone();
            let _ = self.persist(&g.0);
            drop(g);
            ctr.notify();
            return Err(err.context(format!("remove container {}", ctr.id)));
        }
        self.forget(ctr);
        {
            let mut g = ctr.lock();
            g.1.busy = None;
            g.1.removed = true;
        }
        ctr.notify();
        Ok(())
    }
}
