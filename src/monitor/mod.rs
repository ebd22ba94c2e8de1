//! The container monitor (`berth monitor`): one small, single-threaded process per
//! container. The daemon spawns it with a channel on fd 3 (see proto.rs); it forks once so
//! the daemon's child can exit at once and the monitor lives on under init (setsid),
//! surviving daemon restarts. The monitor then makes the run dir, its socket, the log and
//! the cgroups, forks the container's init into a new pid namespace (init.rs), relays the
//! start handshake, and serves the container until it ends (serve.rs).
//!
//! It must never start a thread (it forks), and it uses sys/ and util/ only.

pub mod channel;
mod init;
mod lookup;
mod output;
pub mod proto;
mod rootfs;
mod serve;
mod user;

use crate::error::{Context, Result};
use crate::sys::{cgroup, proc, seqpacket};
use init::{Stdio, SYNC_CGROUPS, SYNC_ERROR, SYNC_GO, SYNC_READY};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};
use proto::{FromMonitor, Spec, ToMonitor};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Entry point of `berth monitor`. Exit status: 0 for the daemon's direct child once it
/// forked the monitor; the monitor itself exits 0 after recording the container's end,
/// 1 when the start failed.
pub fn main(_args: &[String]) -> i32 {
    let chan = match proc::take_channel() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth monitor is internal: {e}");
            return 1;
        }
    };
    let spec = match channel::recv::<ToMonitor>(chan.as_fd()) {
        Ok(Some((ToMonitor::Spec(spec), None))) => *spec,
        Ok(None) => return 1,
        Ok(Some(_)) => return failed(&chan, "monitor: expected the spec as the first message"),
        Err(e) => return failed(&chan, &format!("monitor: read spec: {e}")),
    };
    match proc::fork() {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => return failed(&chan, &format!("monitor: {e}")),
    }
    // Leave the daemon's session and working directory: nothing of the daemon's may keep
    // the monitor (or a mount) pinned.
    let _ = nix::unistd::setsid();
    let _ = nix::unistd::chdir("/");
    run(spec, chan)
}

fn failed(chan: &OwnedFd, message: &str) -> i32 {
    let _ = channel::send(chan.as_fd(), &FromMonitor::Failed { message: message.to_string() }, None);
    1
}

/// What the monitor made for a container before its init exists; `undo` removes it.
struct Made {
    /// Set once the run dir is known to be ours (no other monitor serves it).
    run_dir: Option<PathBuf>,
    cgroups: Vec<PathBuf>,
}

impl Made {
    fn undo(&self) {
        for c in self.cgroups.iter().rev() {
            let _ = cgroup::remove(c);
        }
        if let Some(dir) = &self.run_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The monitor's ends of the container's stdio, and the init's.
struct Pipes {
    stdout: OwnedFd,
    stderr: OwnedFd,
    stdin: Option<OwnedFd>,
    init: Stdio,
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).ctx(|| "fcntl(F_GETFL)")?;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK))
        .map(drop)
        .ctx(|| "fcntl(F_SETFL, O_NONBLOCK)")
}

/// Pipes for a non-tty container: the monitor reads stdout/stderr and writes stdin, all
/// non-blocking on its side only (the container's ends stay blocking).
fn make_pipes(spec: &Spec) -> Result<Pipes> {
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "create stdout pipe")?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "create stderr pipe")?;
    set_nonblocking(out_r.as_fd())?;
    set_nonblocking(err_r.as_fd())?;
    let (stdin_m, stdin_i) = if spec.process.open_stdin {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx(|| "create stdin pipe")?;
        set_nonblocking(w.as_fd())?;
        (Some(w), r)
    } else {
        let null = std::fs::File::open("/dev/null").ctx(|| "open /dev/null")?;
        (None, OwnedFd::from(null))
    };
    Ok(Pipes { stdout: out_r, stderr: err_r, stdin: stdin_m, init: Stdio::Pipes { stdin: stdin_i, stdout: out_w, stderr: err_w } })
}

/// Everything up to the fork of the init, in the monitor, in host namespaces.
fn prepare(spec: &Spec, made: &mut Made) -> Result<(OwnedFd, output::LogWriter, Option<Pipes>)> {
    std::fs::create_dir_all(&spec.run_dir).ctx(|| format!("create run dir {}", spec.run_dir.display()))?;
    std::fs::set_permissions(&spec.run_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .ctx(|| format!("chmod {}", spec.run_dir.display()))?;
    let socket = spec.run_dir.join(proto::SOCKET_NAME);
    // Binding replaces a stale socket file; a live one belongs to another monitor.
    if seqpacket::connect(&socket).is_ok() {
        return Err(crate::error::Error::conflict(format!("container {} already has a running monitor", spec.id)));
    }
    made.run_dir = Some(spec.run_dir.clone());
    let _ = std::fs::remove_file(spec.run_dir.join(proto::EXIT_NAME));
    let listener = seqpacket::listen(&socket)?;
    let log = output::LogWriter::open(&spec.log_path)?;
    for c in &spec.cgroups {
        cgroup::create(c)?;
        made.cgroups.push(c.clone());
    }
    for (file, value) in &spec.cgroup_writes {
        std::fs::write(file, value).ctx(|| format!("write {value:?} to {}", file.display()))?;
    }
    let pipes = if spec.process.tty { None } else { Some(make_pipes(spec)?) };
    Ok((listener, log, pipes))
}

/// The monitor proper: start the container, serve it, record its end. Returns the exit
/// status of the monitor process.
fn run(spec: Spec, chan: OwnedFd) -> i32 {
    // Signals: the monitor ends only when its container does. SIGCHLD arrives on a
    // signalfd, so it must be blocked.
    for sig in [Signal::SIGPIPE, Signal::SIGHUP, Signal::SIGINT, Signal::SIGTERM] {
        let _ = proc::ignore_signal(sig);
    }
    let mut chld = SigSet::empty();
    chld.add(Signal::SIGCHLD);
    let mut made = Made { run_dir: None, cgroups: Vec::new() };
    let setup = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&chld), None)
        .ctx(|| "block SIGCHLD")
        .and_then(|()| SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ctx(|| "signalfd"))
        .and_then(|sigfd| prepare(&spec, &mut made).map(|p| (sigfd, p)));
    let (sigfd, (listener, log, pipes)) = match setup {
        Ok(v) => v,
        Err(e) => {
            made.undo();
            return failed(&chan, &e.message);
        }
    };
    let (sync_m, sync_i) = match seqpacket::pair() {
        Ok(p) => p,
        Err(e) => {
            made.undo();
            return failed(&chan, &e.message);
        }
    };

    // The next child is PID 1 of a new pid namespace; the monitor itself stays outside.
    let forked = nix::sched::unshare(CloneFlags::CLONE_NEWPID)
        .ctx(|| "unshare pid namespace")
        .and_then(|()| proc::fork());
    let (init_pid, pipes) = match forked {
        Ok(ForkResult::Child) => {
            let stdio = match pipes {
                Some(p) => p.init,
                None => Stdio::Tty,
            };
            drop((chan, sigfd, listener, log, sync_m));
            init::run(&spec, sync_i, stdio)
        }
        Ok(ForkResult::Parent { child }) => (child, pipes.map(|p| (p.stdout, p.stderr, p.stdin))),
        Err(e) => {
            made.undo();
            return failed(&chan, &e.message);
        }
    };
    drop(sync_i);

    let start = Start { chan: &chan, sync: &sync_m, init: init_pid, made: &made };
    let (stdio, clients) = match start.handshake(&spec, pipes) {
        Ok(v) => v,
        Err(message) => {
            start.abort();
            return failed(&chan, &message);
        }
    };
    // If the daemon is gone by now, the container runs on and a new daemon will find it.
    let _ = channel::send(chan.as_fd(), &FromMonitor::Started { pid: init_pid.as_raw() }, None);
    drop(sync_m);
    // The monitor lives as long as its container, but most of its code (spec parsing,
    // setup) has run for the last time: let its pages go from the resident set.
    proc::drop_code_pages();
    let m = serve::Monitor::new(&spec, init_pid, sigfd, listener, chan, log, stdio, clients);
    m.run();
    0
}

/// The start handshake between the daemon (on the channel) and the init (on the sync
/// pair).
struct Start<'a> {
    chan: &'a OwnedFd,
    sync: &'a OwnedFd,
    init: Pid,
    made: &'a Made,
}

impl Start<'_> {
    /// Cgroups, `ready`, `Ready`, attaches, `Go`, `go`, and the execve result. Returns the
    /// container's stdio as the monitor serves it (`pipes`, or the pty master the init
    /// sent) and the attach clients handed over before `Go`; an error is the message for
    /// `Failed`.
    fn handshake(
        &self,
        spec: &Spec,
        pipes: Option<(OwnedFd, OwnedFd, Option<OwnedFd>)>,
    ) -> std::result::Result<(serve::Stdio, Vec<output::Client>), String> {
        for c in &spec.cgroups {
            cgroup::add_process(c, self.init.as_raw()).map_err(|e| e.message)?;
        }
        let _ = seqpacket::send(self.sync.as_fd(), SYNC_CGROUPS, None);
        let master = match self.recv_from_init()? {
            Some(master) => master,
            None => return Err(self.init_gone("during setup")),
        };
        let stdio = match (pipes, master) {
            (Some((stdout, stderr, stdin)), None) => serve::Stdio::Pipes { stdout, stderr, stdin },
            (None, Some(m)) => {
                set_nonblocking(m.as_fd()).map_err(|e| e.message)?;
                serve::Stdio::Tty(m)
            }
            (None, None) => return Err("container init sent no pty".to_string()),
            (Some(_), Some(_)) => return Err("container init sent an unexpected descriptor".to_string()),
        };
        let pids = serde_json::json!({"monitor": std::process::id(), "init": self.init.as_raw()});
        write_atomic(&spec.run_dir.join(proto::PIDS_NAME), pids.to_string().as_bytes()).map_err(|e| e.message)?;
        let ready = FromMonitor::Ready { monitor_pid: std::process::id() as i32, pid: self.init.as_raw() };
        channel::send(self.chan.as_fd(), &ready, None).map_err(|e| e.message)?;

        let mut clients = Vec::new();
        loop {
            match channel::recv::<ToMonitor>(self.chan.as_fd()) {
                Ok(Some((ToMonitor::Attach { stdin, stdout, stderr, preread }, Some(conn)))) => {
                    set_nonblocking(conn.as_fd()).map_err(|e| e.message)?;
                    let mut c = output::Client::new(conn, stdin, stdout, stderr);
                    c.preread = preread;
                    clients.push(c);
                }
                Ok(Some((ToMonitor::Go, _))) => break,
                Ok(Some((ToMonitor::Kill { .. }, _))) => return Err("start cancelled".to_string()),
                Ok(Some((other, _))) => return Err(format!("unexpected message before start: {other:?}")),
                Ok(None) => return Err("start cancelled: the daemon closed the channel".to_string()),
                Err(e) => return Err(e.message),
            }
        }
        let _ = seqpacket::send(self.sync.as_fd(), SYNC_GO, None);
        // End of stream: the sync socket was close-on-exec, so execve succeeded.
        match self.recv_from_init() {
            Ok(None) => Ok((stdio, clients)),
            Ok(Some(_)) => Err("container init sent an unexpected message".to_string()),
            Err(message) => Err(message),
        }
    }

    /// One packet from the init: `Ok(Some(master))` for `ready`, `Ok(None)` at end of
    /// stream, `Err` with its message for `error:`.
    fn recv_from_init(&self) -> std::result::Result<Option<Option<OwnedFd>>, String> {
        match seqpacket::recv_packet(self.sync.as_fd(), 64 * 1024) {
            Ok(None) => Ok(None),
            Ok(Some((msg, mut fds))) if msg == SYNC_READY => Ok(Some(fds.pop())),
            Ok(Some((msg, _))) if msg.starts_with(SYNC_ERROR) => {
                Err(String::from_utf8_lossy(&msg[SYNC_ERROR.len()..]).into_owned())
            }
            Ok(Some(_)) => Err("container init sent an unexpected message".to_string()),
            Err(e) => Err(format!("read from container init: {e}")),
        }
    }

    fn init_gone(&self, when: &str) -> String {
        match nix::sys::wait::waitpid(self.init, None) {
            Ok(WaitStatus::Exited(_, code)) => format!("container init exited {when} with status {code}"),
            Ok(WaitStatus::Signaled(_, sig, _)) => format!("container init was killed {when} by {sig}"),
            _ => format!("container init vanished {when}"),
        }
    }

    /// Kills and reaps the init and removes everything made for it.
    fn abort(&self) {
        let _ = nix::sys::signal::kill(self.init, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.init, None);
        self.made.undo();
    }
}

/// Writes `data` to `path` through a temporary file and a rename, so readers see the old
/// content or the new, never a torn one.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).ctx(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("rename {} to {}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn atomic_writes_replace() {
        let t = TempDir::new("monitor-atomic");
        let p = t.path().join("exit.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2");
        assert!(!t.path().join("exit.tmp").exists());
    }
}
