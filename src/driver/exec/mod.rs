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

use crate::error::{Context, Error, Kind, Result};
use crate::monitor::channel;
use crate::monitor::proto::{self, FromMonitor, ToMonitor};
// The monitor's contract is this driver's interface: the engine builds a `Spec` and reads
// `ExitStatus`es through here.
pub use crate::monitor::proto::{BindMount, ExitStatus, Network, Process, Spec, PIDS_NAME};
use crate::sys::{memfd, proc, seqpacket};
use std::os::fd::{AsFd, OwnedFd};
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

fn attach_message(s: &AttachStream) -> ToMonitor {
    ToMonitor::Attach { stdin: s.stdin, stdout: s.stdout, stderr: s.stderr, preread: s.preread.clone() }
}

/// A start failure as the monitor worded it. The docker CLI picks exit status 126/127 from
/// the words ("executable file not found", "no such file or directory", "permission
/// denied"), so the message is passed on verbatim; dockerd answers such failures with 400.
fn start_failed(message: String) -> Error {
    Error::invalid(message)
}

impl ExecDriver {
    /// Prepares the exec root and the sealed copy of the berth binary.
    pub fn new(exec_root: &Path) -> Result<ExecDriver> {
        ExecDriver::with_binary(exec_root, Path::new("/proc/self/exe"))
    }

    /// Like `new`, running monitors from a copy of `binary` (which must dispatch
    /// `berth monitor`): tests run inside the test harness, whose own executable does not.
    pub(crate) fn with_binary(exec_root: &Path, binary: &Path) -> Result<ExecDriver> {
        std::fs::create_dir_all(exec_root).ctx(|| format!("create exec root {}", exec_root.display()))?;
        std::fs::set_permissions(exec_root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .ctx(|| format!("chmod {}", exec_root.display()))?;
        let binary = memfd::sealed_copy(binary, "berth")?;
        Ok(ExecDriver { exec_root: exec_root.to_path_buf(), binary })
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
        if spec.run_dir != self.run_dir(&spec.id) {
            return Err(Error::invalid(format!(
                "spec run dir {} is not {}",
                spec.run_dir.display(),
                self.run_dir(&spec.id).display()
            )));
        }
        let (chan, theirs) = seqpacket::pair()?;
        let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").ctx(|| "open /dev/null")?;
        let child = proc::spawn(self.binary.as_fd(), &["berth", "monitor"], null.as_fd(), theirs.as_fd())
            .ctx(|| "start the container monitor")?;
        drop(theirs);
        drop(null);
        let ready = channel::send(chan.as_fd(), &ToMonitor::Spec(Box::new(spec.clone())), None)
            .and_then(|()| channel::recv::<FromMonitor>(chan.as_fd()));
        // The spawned process exits as soon as it has forked the monitor proper.
        let _ = nix::sys::wait::waitpid(child, None);
        let (monitor_pid, pid) = match ready.ctx(|| "container monitor")? {
            Some((FromMonitor::Ready { monitor_pid, pid }, _)) => (monitor_pid, pid),
            Some((FromMonitor::Failed { message }, _)) => return Err(start_failed(message)),
            Some((other, _)) => return Err(Error::system(format!("container monitor: unexpected {other:?}"))),
            None => return Err(Error::system("container monitor exited during start")),
        };

        let go = (|| -> Result<()> {
            for a in &attaches {
                channel::send(chan.as_fd(), &attach_message(a), Some(a.conn.as_fd())).ctx(|| "hand over attach stream")?;
            }
            before_go(pid)?;
            channel::send(chan.as_fd(), &ToMonitor::Go, None).ctx(|| "container monitor")
        })();
        if let Err(e) = go {
            cancel(&chan);
            return Err(e);
        }
        drop(attaches);
        match channel::recv::<FromMonitor>(chan.as_fd()).ctx(|| "container monitor")? {
            Some((FromMonitor::Started { .. }, _)) => {}
            Some((FromMonitor::Failed { message }, _)) => return Err(start_failed(message)),
            Some((other, _)) => {
                cancel(&chan);
                return Err(Error::system(format!("container monitor: unexpected {other:?}")));
            }
            None => return Err(Error::system("container monitor exited during start")),
        }
        Ok(Running { pid, monitor_pid, watch: Watch { sock: chan, run_dir: spec.run_dir.clone() } })
    }

    /// Connects to the monitor of container `id`. `NotFound` when no monitor listens.
    fn connect(&self, id: &str) -> Result<OwnedFd> {
        let path = self.run_dir(id).join(proto::SOCKET_NAME);
        seqpacket::connect(&path).map_err(|e| {
            if e.kind == Kind::NotFound || e.message.ends_with("connection refused") {
                Error::not_found(format!("container {id} has no running monitor ({})", e.message))
            } else {
                e
            }
        })
    }

    /// One request, answered by `Done` or `Error`.
    fn request(&self, id: &str, msg: &ToMonitor, pass: Option<std::os::fd::BorrowedFd<'_>>) -> Result<()> {
        let conn = self.connect(id)?;
        channel::send(conn.as_fd(), msg, pass).ctx(|| format!("container monitor of {id}"))?;
        match channel::recv::<FromMonitor>(conn.as_fd()).ctx(|| format!("container monitor of {id}"))? {
            Some((FromMonitor::Done, _)) => Ok(()),
            Some((FromMonitor::Error { message }, _)) => Err(Error::conflict(message)),
            Some((other, _)) => Err(Error::system(format!("container monitor of {id}: unexpected {other:?}"))),
            // The monitor was past serving requests: the container has just ended.
            None => Err(Error::conflict("container is not running")),
        }
    }

    /// Hands an attach stream to the running container's monitor.
    pub fn attach(&self, id: &str, stream: AttachStream) -> Result<()> {
        self.request(id, &attach_message(&stream), Some(stream.conn.as_fd()))
    }

    /// Asks the monitor to signal the container's init.
    pub fn kill(&self, id: &str, signal: i32) -> Result<()> {
        self.request(id, &ToMonitor::Kill { signal }, None)
    }

    /// Asks the monitor to resize the container's pty.
    pub fn resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        self.request(id, &ToMonitor::Resize { rows, cols }, None)
    }

    /// Reconnects to a running container's monitor (after a daemon restart). `NotFound`
    /// when no monitor answers.
    pub fn watch(&self, id: &str) -> Result<Watch> {
        let conn = self.connect(id)?;
        channel::send(conn.as_fd(), &ToMonitor::Watch, None).ctx(|| format!("container monitor of {id}"))?;
        Ok(Watch { sock: conn, run_dir: self.run_dir(id) })
    }

    /// The exit record the monitor left, if any.
    pub fn read_exit(&self, id: &str) -> Option<ExitStatus> {
        read_exit_in(&self.run_dir(id))
    }

    /// Removes the container's run dir (after its exit was recorded in the GraphDB).
    pub fn cleanup(&self, id: &str) {
        let _ = std::fs::remove_dir_all(self.run_dir(id));
    }
}

fn read_exit_in(run_dir: &Path) -> Option<ExitStatus> {
    let data = std::fs::read(run_dir.join(proto::EXIT_NAME)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Asks a monitor that has not let its container exec yet to give up, and waits until it
/// has cleaned up (it answers `Failed` and closes the channel).
fn cancel(chan: &OwnedFd) {
    let _ = channel::send(chan.as_fd(), &ToMonitor::Kill { signal: 9 }, None);
    while let Ok(Some(_)) = channel::recv::<FromMonitor>(chan.as_fd()) {}
}

impl Watch {
    /// Blocks until the container is gone. If the monitor vanished without a word (it was
    /// killed), the exit record is read instead; if there is none, the container is
    /// reported as killed (137) with an error.
    pub fn wait(self) -> ExitStatus {
        loop {
            match channel::recv::<FromMonitor>(self.sock.as_fd()) {
                Ok(Some((FromMonitor::Exit(status), _))) => return status,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        read_exit_in(&self.run_dir).unwrap_or_else(|| ExitStatus {
            code: 137,
            finished_at: crate::util::time::now_nanos(),
            oom_killed: false,
            error: "monitor exited without recording the exit status".to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
