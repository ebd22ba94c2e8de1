//! The container's init, from the monitor's fork up to execve: namespaces, the rootfs
//! (rootfs.rs), hostname, loopback, stdio (pipes or a pty allocated inside the container),
//! user and groups (user.rs), working directory, the command's path (lookup.rs). It then
//! reports ready, waits for "go" and execs. Runs in a single-threaded child of the monitor,
//! already PID 1 of the new pid namespace; it never returns.
//!
//! Sync protocol with the monitor, one packet each on a SOCK_SEQPACKET pair (close-on-exec,
//! so a successful execve shows up as end-of-stream on the monitor's side):
//! monitor → init `cgroups` (the init is in its cgroups), `go`;
//! init → monitor `ready` (with the pty master when tty), or `error:<message>`.

use super::lookup;
use super::proto::{Network, Spec};
use super::rootfs;
use super::user;
use crate::error::{Context, Error, Result};
use crate::sys::{caps, fs as sysfs, netif, proc, pty, seqpacket};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

pub const SYNC_CGROUPS: &[u8] = b"cgroups";
pub const SYNC_GO: &[u8] = b"go";
pub const SYNC_READY: &[u8] = b"ready";
pub const SYNC_ERROR: &[u8] = b"error:";

/// The container's stdio as the init receives it.
pub enum Stdio {
    /// Pipe ends (or /dev/null) for fds 0, 1, 2.
    Pipes { stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd },
    /// Allocate a pty inside the container and hand its master to the monitor.
    Tty,
}

/// Everything execve needs, computed before "go" so that nothing can fail after it but
/// execve itself.
struct Exec {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    /// The pty master, sent to the monitor with `ready`.
    master: Option<OwnedFd>,
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("{what} contains a NUL byte")))
}

/// Reports `message` to the monitor and exits.
fn fail(sync: &OwnedFd, message: &str, code: i32) -> ! {
    let mut m = SYNC_ERROR.to_vec();
    m.extend_from_slice(message.as_bytes());
    let _ = seqpacket::send(sync.as_fd(), &m, None);
    proc::exit_now(code)
}

/// Waits for packet `want` from the monitor; anything else (end of stream: the monitor is
/// gone or gave up) ends the init.
fn wait_for(sync: &OwnedFd, want: &[u8]) {
    let mut buf = [0u8; 16];
    match seqpacket::recv(sync.as_fd(), &mut buf) {
        Ok(Some((n, _))) if &buf[..n] == want => {}
        _ => proc::exit_now(1),
    }
}

/// The init's whole life. Never returns: it execs the command or exits.
pub fn run(spec: &Spec, sync: OwnedFd, stdio: Stdio) -> ! {
    let exec = match prepare(spec, &sync, stdio) {
        Ok(e) => e,
        Err(e) => fail(&sync, &e.message, 1),
    };
    if seqpacket::send(sync.as_fd(), SYNC_READY, exec.master.as_ref().map(|m| m.as_fd())).is_err() {
        proc::exit_now(1);
    }
    drop(exec.master);
    wait_for(&sync, SYNC_GO);
    if let Err(e) = proc::cloexec_from(3) {
        fail(&sync, &e.message, 127);
    }
    let err = match nix::unistd::execve(&exec.path, &exec.argv, &exec.env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    fail(&sync, &lookup::exec_error(&spec.process.args[0], err), 127)
}

fn prepare(spec: &Spec, sync: &OwnedFd, stdio: Stdio) -> Result<Exec> {
    // A killed monitor takes its container with it (the monitor is our parent).
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "set parent death signal")?;
    if spec.process.args.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    if spec.network == Network::Loopback {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if let Network::Join(path) = &spec.network {
        let ns = std::fs::File::open(path).ctx(|| format!("open network namespace {}", path.display()))?;
        nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
            .ctx(|| format!("join network namespace {}", path.display()))?;
    }
    nix::sched::unshare(flags).ctx(|| "unshare mount, uts, ipc and network namespaces")?;

    // Device nodes and mount points get exactly the modes asked for.
    nix::sys::stat::umask(Mode::empty());
    rootfs::execute(&rootfs::plan(spec))?;
    nix::unistd::sethostname(&spec.hostname).ctx(|| format!("set hostname {:?}", spec.hostname))?;
    if spec.network == Network::Loopback {
        netif::link_up("lo")?;
    }

    // A session of its own: signals to the monitor's process group never reach the
    // container, and a tty can become its controlling terminal.
    nix::unistd::setsid().ctx(|| "setsid")?;
    let master = match stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            for (fd, to) in [(&stdin, 0), (&stdout, 1), (&stderr, 2)] {
                nix::unistd::dup2(fd.as_raw_fd(), to).ctx(|| format!("set up fd {to}"))?;
            }
            None
        }
        Stdio::Tty => {
            let (master, slave) = pty::open()?;
            pty::set_controlling_tty(slave.as_fd())?;
            let (rows, cols) = spec.process.console_size;
            if rows > 0 && cols > 0 {
                pty::set_size(slave.as_fd(), rows, cols)?;
            }
            for to in 0..3 {
                nix::unistd::dup2(slave.as_raw_fd(), to).ctx(|| format!("set up fd {to} on the pty"))?;
            }
            Some(master)
        }
    };

    let passwd = std::fs::read_to_string("/etc/passwd").ok();
    let group = std::fs::read_to_string("/etc/group").ok();
    let who = user::resolve(&spec.process.user, passwd.as_deref(), group.as_deref()).map_err(Error::invalid)?;
    let mut env = spec.process.env.clone();
    user::default_env(&mut env, &who.home);

    let cwd = if spec.process.cwd.is_empty() { "/" } else { spec.process.cwd.as_str() };
    // Created as root, like Docker does, before privileges are dropped.
    let root = sysfs::open_root(std::path::Path::new("/"))?;
    sysfs::mkdir_all_in_root(root.as_fd(), cwd, Mode::from_bits_truncate(0o755))
        .ctx(|| format!("create working directory {cwd}"))?;
    drop(root);

    // Never more than the monitor holds (a host may lack some capabilities entirely).
    let keep = match &spec.capabilities {
        Some(names) => caps::mask(names) & caps::permitted(),
        None => caps::permitted(),
    };
    if spec.capabilities.is_some() {
        caps::drop_bounding(keep)?;
    }
    let groups: Vec<Gid> = who.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&groups).ctx(|| "setgroups")?;
    nix::unistd::setgid(Gid::from_raw(who.gid)).ctx(|| format!("setgid {}", who.gid))?;
    nix::unistd::setuid(Uid::from_raw(who.uid)).ctx(|| format!("setuid {}", who.uid))?;
    if who.uid == 0 {
        caps::set(keep)?;
    }
    // Changing credentials clears the parent death signal: set it again.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "set parent death signal")?;
    nix::unistd::chdir(cwd).ctx(|| format!("chdir to cwd ({cwd:?})"))?;

    let path_var = env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("");
    let path = lookup::find(std::path::Path::new("/"), &spec.process.args[0], path_var).map_err(Error::invalid)?;

    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    proc::reset_signals()?;
    wait_for(sync, SYNC_CGROUPS);
    Ok(Exec {
        path: cstring(&path, "command path")?,
        argv: spec.process.args.iter().map(|a| cstring(a, "argument")).collect::<Result<_>>()?,
        env: env.iter().map(|e| cstring(e, "environment")).collect::<Result<_>>()?,
        master,
    })
}
