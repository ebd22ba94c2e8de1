//! The native exec driver: starts container monitors and talks to them. The daemon is
//! multi-threaded, so nothing container-related is set up in a child forked from it: the
//! driver spawns the berth binary again (`berth monitor`), single-threaded, which does the
//! namespace, mount and cgroup work (see monitor/). The binary is executed from a sealed
//! memfd copy made once at start-up, so no process that a container can see ever maps the
//! host's berth binary file (the CVE-2019-5736 class: a container rewriting the runtime
//! binary through /proc/PID/exe).
//!
//! Everything the driver knows about a container's run is in its run dir
//! (`<exec-root>/<id>/`): the monitor's socket, pid record and exit record. A restarted
//! daemon reconnects through those files alone.

use crate::error::Result;
use crate::monitor::proto::{ExitStatus, Spec};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// A client connection to hand to the monitor as an attach stream (already answered with
/// 101; from here on it is a raw byte pipe).
pub struct AttachStream {
    pub conn: OwnedFd,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Bytes already read from `conn` past the request head (early stdin).
    pub preread: Vec<u8>,
}

/// A started container: its init's host PID and the channel on which `Exit` arrives.
pub struct Running {
    pub pid: i32,
    pub monitor_pid: i32,
    pub watch: Watch,
}

/// A connection on which the monitor sends `Exit` when the container is gone.
pub struct Watch {
    sock: OwnedFd,
    run_dir: PathBuf,
}

pub struct ExecDriver {
    exec_root: PathBuf,
    /// Sealed memfd holding a copy of our own executable; monitors are executed from it.
    binary: OwnedFd,
}

impl ExecDriver {
    /// Prepares the exec root and the sealed copy of the berth binary.
    pub fn new(exec_root: &Path) -> Result<ExecDriver> {
        todo!()
    }

    /// `<exec-root>/<id>`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join(id)
    }

    /// Starts a container: spawns its monitor, sends the spec, waits until the container's
    /// process is ready, hands over `attaches`, calls `before_go(pid)` (network wiring
    /// later), then lets the process exec. On any failure everything started is undone and
    /// the error carries the monitor's message.
    pub fn start(
        &self,
        spec: &Spec,
        attaches: Vec<AttachStream>,
        before_go: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<Running> {
        todo!()
    }

    /// Hands an attach stream to the running container's monitor.
    pub fn attach(&self, id: &str, stream: AttachStream) -> Result<()> {
        todo!()
    }

    /// Asks the monitor to signal the container's init.
    pub fn kill(&self, id: &str, signal: i32) -> Result<()> {
        todo!()
    }

    /// Asks the monitor to resize the container's pty.
    pub fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        todo!()
    }

    /// Reconnects to a running container's monitor (after a daemon restart). `NotFound`
    /// when no monitor answers.
    pub fn watch(&self, id: &str) -> Result<Watch> {
        todo!()
    }

    /// The exit record the monitor left, if any.
    pub fn read_exit(&self, id: &str) -> Option<ExitStatus> {
        todo!()
    }

    /// Removes the container's run dir (after its exit was recorded in the GraphDB).
    pub fn cleanup(&self, id: &str) {
        todo!()
    }
}

impl Watch {
    /// Blocks until the container is gone. If the monitor vanished without a word (it was
    /// killed), the exit record is read instead; if there is none, the container is
    /// reported as killed (137) with an error.
    pub fn wait(self) -> ExitStatus {
        todo!()
    }
}
