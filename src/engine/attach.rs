//! `ContainerAttach`: connect a client's hijacked stream to a container's stdio. A running
//! container's monitor takes the stream over directly (the daemon keeps no copy loop, and
//! the stream survives a daemon restart); for a container that is not running the stream
//! waits for the next start, which is how `docker run` and `start -a` see output from the
//! first byte.

use super::{Busy, Engine, Job};
pub use crate::driver::exec::AttachStream;
use crate::error::Result;
use std::time::Duration;

/// An attach on its way: taken before the hijack answers 101 and dropped once the stream
/// is registered (or the attach failed). Starts wait while one exists, because the client
/// sends its start as soon as it reads the 101.
pub struct AttachIntent {
    ctr: std::sync::Arc<super::Ctr>,
}

impl Engine {
    pub fn attach_intent(&self, id: &str) -> Result<AttachIntent> {
        let ctr = self.lookup(id)?;
        ctr.lock().1.attaching += 1;
        Ok(AttachIntent { ctr })
    }
}

impl Drop for AttachIntent {
    fn drop(&mut self) {
        let mut g = self.ctr.lock();
        g.1.attaching = g.1.attaching.saturating_sub(1);
        drop(g);
        self.ctr.notify();
    }
}

pub struct ContainerAttach {
    pub id: String,
    pub stream: AttachStream,
}

impl Job for ContainerAttach {
    type Output = ();
    const NAME: &'static str = "ContainerAttach";

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<()> {
        let ctr = e.lookup(&self.id)?;
        let mut g = ctr.lock();
        // A start in progress has already handed over its waiting streams: wait for it to
        // finish, then go to the monitor directly.
        while g.1.busy == Some(Busy::Starting) {
            g = ctr.wait_change(g, Duration::from_millis(100));
        }
        if g.0.running() {
            drop(g);
            // The container may have exited in between: the stream is then simply closed.
            return match e.exec.attach(&ctr.id, self.stream) {
                Err(err) if err.kind == crate::error::Kind::NotFound => Ok(()),
                other => other,
            };
        }
        g.1.pending_attach.push(self.stream);
        Ok(())
    }
}

/// `ContainerResize`: the pty size of a tty container.
pub struct ContainerResize {
    pub id: String,
    pub rows: u16,
    pub cols: u16,
}

impl Job for ContainerResize {
    type Output = ();
    const NAME: &'static str = "ContainerResize";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        format!("{} ({}x{})", self.id, self.rows, self.cols)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let ctr = e.lookup(&self.id)?;
        if !ctr.lock().0.running() {
            return Err(super::stop::not_running(&ctr.id));
        }
        e.exec.resize(&ctr.id, self.rows, self.cols)
    }
}
