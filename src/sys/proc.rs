//! Process plumbing for the monitor and the exec driver: spawning the monitor from the
//! threaded daemon without running any of our code in the child (posix_spawn), forking only
//! where that is safe (a single-threaded process), taking over an inherited descriptor,
//! signal dispositions, and marking descriptors close-on-exec before the container's execve.
//! Nothing here decides what a container looks like.

use crate::error::{Context, Error, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{ForkResult, Pid};
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The descriptor number a spawned monitor finds its channel on.
pub const CHANNEL_FD: RawFd = 3;

/// Number of threads of the calling process, from /proc/self/task.
fn thread_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task").ctx(|| "read /proc/self/task")?.count())
}

/// fork(2), refused unless the caller is single-threaded: in a threaded process the child
/// could inherit a lock (malloc's, stdio's) held by a thread that does not exist there.
pub fn fork() -> Result<ForkResult> {
    let n = thread_count()?;
    if n != 1 {
        return Err(Error::system(format!("fork refused: the process has {n} threads")));
    }
    // SAFETY: the process has exactly one thread (checked just above, and nothing in this
    // call starts one), so the child inherits no lock held by another thread.
    unsafe { nix::unistd::fork() }.ctx(|| "fork")
}

/// An owned posix_spawn file-actions object, destroyed on drop.
struct FileActions(MaybeUninit<libc::posix_spawn_file_actions_t>);

impl FileActions {
    fn new() -> Result<FileActions> {
        let mut raw = MaybeUninit::uninit();
        // SAFETY: initialises the object in place; it is wrapped (and so destroyed in Drop)
        // only when this succeeded.
        let rc = unsafe { libc::posix_spawn_file_actions_init(raw.as_mut_ptr()) };
        if rc != 0 {
            return Err(Error::from(nix::Error::from_raw(rc)).context("posix_spawn_file_actions_init"));
        }
        Ok(FileActions(raw))
    }

    fn dup2(&mut self, fd: RawFd, to: RawFd) -> Result<()> {
        // SAFETY: the object was initialised in new(); the call only records the action.
        let rc = unsafe { libc::posix_spawn_file_actions_adddup2(self.0.as_mut_ptr(), fd, to) };
        if rc != 0 {
            return Err(Error::from(nix::Error::from_raw(rc)).context("posix_spawn dup2 action"));
        }
        Ok(())
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: the object was initialised in new() and is destroyed exactly once.
        unsafe { libc::posix_spawn_file_actions_destroy(self.0.as_mut_ptr()) };
    }
}

/// Moves `fd` above CHANNEL_FD if needed (a duplicate, close-on-exec), so the spawn's
/// dup2 onto 0-3 cannot replace it.
fn above_channel(fd: BorrowedFd<'_>) -> Result<Option<OwnedFd>> {
    if fd.as_raw_fd() > CHANNEL_FD {
        return Ok(None);
    }
    fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(CHANNEL_FD + 1)).map(owned).map(Some).ctx(|| "fcntl(F_DUPFD_CLOEXEC)")
}

/// Starts the executable open at `program` (through /proc/self/fd/N, which execs even
/// when the descriptor is close-on-exec: the kernel opens the file before it closes those)
/// with `argv` and an empty environment; its stdin, stdout and stderr are `null` (an open
/// /dev/null) and `channel` becomes its descriptor 3. posix_spawn runs none of our code in
/// the child (glibc and musl use a vfork-style clone that only applies the file actions
/// and execs), which is what a multi-threaded daemon may do safely. Every other descriptor
/// of ours is close-on-exec, so the child sees exactly these four.
pub fn spawn(program: BorrowedFd<'_>, argv: &[&str], null: BorrowedFd<'_>, channel: BorrowedFd<'_>) -> Result<Pid> {
    let moved_prog = above_channel(program)?;
    let prog_fd = moved_prog.as_ref().map(|f| f.as_raw_fd()).unwrap_or(program.as_raw_fd());
    let program = format!("/proc/self/fd/{prog_fd}");
    let prog = CString::new(program.as_str()).expect("a /proc path has no NUL");
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(*a).map_err(|_| Error::invalid("argument contains NUL")))
        .collect::<Result<_>>()?;
    let mut arg_ptrs: Vec<*mut libc::c_char> = args.iter().map(|a| a.as_ptr() as *mut _).collect();
    arg_ptrs.push(std::ptr::null_mut());
    let env_ptrs: [*mut libc::c_char; 1] = [std::ptr::null_mut()];

    // dup2(fd, fd) would leave close-on-exec set, and the actions run in order: every
    // source must sit above the targets 0-3 (a fresh descriptor can be 3 when the daemon's
    // stdio takes 0-2).
    let moved_chan = above_channel(channel)?;
    let chan = moved_chan.as_ref().map(|f| f.as_raw_fd()).unwrap_or(channel.as_raw_fd());
    let moved_null = above_channel(null)?;
    let null = moved_null.as_ref().map(|f| f.as_raw_fd()).unwrap_or(null.as_raw_fd());
    let mut actions = FileActions::new()?;
    for to in 0..3 {
        actions.dup2(null, to)?;
    }
    actions.dup2(chan, CHANNEL_FD)?;

    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `prog`, `args` and the NULL-terminated
    // pointer arrays outlive it, `actions` is initialised, attributes are NULL (defaults).
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            prog.as_ptr(),
            actions.0.as_ptr(),
            std::ptr::null(),
            arg_ptrs.as_ptr(),
            env_ptrs.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::from(nix::Error::from_raw(rc)).context(format!("spawn {program}")));
    }
    Ok(Pid::from_raw(pid))
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful fcntl(F_DUPFD_CLOEXEC) and nothing
    // else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// _exit(2): ends the process at once, without running atexit handlers or flushing stdio
/// buffers that a forked child shares (by copy) with its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

static CHANNEL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes ownership of the channel descriptor a spawned monitor inherited as fd 3 and marks
/// it close-on-exec. Fails if fd 3 is not open or was already taken.
pub fn take_channel() -> Result<OwnedFd> {
    if CHANNEL_TAKEN.swap(true, Ordering::SeqCst) {
        return Err(Error::system("monitor channel already taken"));
    }
    fcntl(CHANNEL_FD, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .ctx(|| "monitor channel (fd 3) is not open")?;
    // SAFETY: fd 3 is open (fcntl above succeeded), was handed to us at exec by the spawner,
    // and the flag above guarantees ownership is taken only once in this process.
    Ok(unsafe { OwnedFd::from_raw_fd(CHANNEL_FD) })
}

/// Ignores `sig` (SIG_IGN). An ignored signal stays ignored across execve, so the
/// container's init must call `reset_signals` first.
pub fn ignore_signal(sig: Signal) -> Result<()> {
    let act = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_IGN installs no handler code, so no async-signal-safety rule applies.
    unsafe { sigaction(sig, &act) }.map(drop).ctx(|| format!("ignore {sig}"))
}

/// Restores the default disposition of every signal and unblocks all of them, so the
/// container's process starts the way a freshly exec'd process expects.
pub fn reset_signals() -> Result<()> {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler code.
        unsafe { sigaction(sig, &dfl) }.ctx(|| format!("reset {sig}"))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .ctx(|| "unblock signals")
}

/// Marks every descriptor from `first` up close-on-exec (close_range(2) with
/// CLOSE_RANGE_CLOEXEC, Linux >= 5.11; older kernels: each entry of /proc/self/fd).
pub fn cloexec_from(first: RawFd) -> Result<()> {
    // SAFETY: close_range only changes descriptor flags; no memory is passed.
    let rc = unsafe {
        libc::syscall(libc::SYS_close_range, first as libc::c_uint, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC)
    };
    if rc == 0 {
        return Ok(());
    }
    let mut fds = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").ctx(|| "read /proc/self/fd")? {
        let e = e.ctx(|| "read /proc/self/fd")?;
        if let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) {
            fds.push(fd);
        }
    }
    for fd in fds.into_iter().filter(|fd| *fd >= first) {
        // EBADF: the directory's own descriptor, already closed.
        match fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
            Ok(_) | Err(nix::Error::EBADF) => {}
            Err(e) => return Err(Error::from(e).context(format!("set close-on-exec on fd {fd}"))),
        }
    }
    Ok(())
}

/// Unmaps the resident pages of our code mappings with madvise(MADV_DONTNEED). A
/// long-lived process whose start-up ran most of the binary keeps those pages counted in
/// its RSS though it never runs them again; afterwards only what still executes is
/// faulted back in. Only executable, non-writable mappings qualify: code is never written,
/// while a read-only data mapping may hold private relocated copies (RELRO) that
/// MADV_DONTNEED would silently revert to the file's contents.
pub fn drop_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
    for line in maps.lines() {
        // start-end perms offset dev inode path
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        let path = f.nth(3).unwrap_or("");
        if perms != "r-xp" || path.is_empty() || path.starts_with('[') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { continue };
        // SAFETY: the range is a whole private, never-written code mapping of this process,
        // taken from /proc/self/maps; MADV_DONTNEED on it only drops page-table entries that
        // the next access refills from the file with identical contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fork_is_refused_with_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        match fork() {
            Err(e) => assert!(e.message.contains("threads"), "{e}"),
            Ok(ForkResult::Child) => exit_now(0),
            Ok(ForkResult::Parent { .. }) => panic!("fork allowed with threads"),
        }
        drop(tx);
        t.join().unwrap();
    }

    #[test]
    fn spawn_passes_the_channel_as_fd_3() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let sh = std::fs::File::open("/bin/sh").unwrap();
        let (mine, theirs) = crate::sys::seqpacket::pair().unwrap();
        // The child proves fd 3 is the channel by writing to it.
        let pid = spawn(sh.as_fd(), &["sh", "-c", "echo hi >&3"], null.as_fd(), theirs.as_fd()).unwrap();
        drop(theirs);
        let mut buf = [0u8; 8];
        let (n, _) = crate::sys::seqpacket::recv(mine.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"hi\n");
        let st = nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(st, nix::sys::wait::WaitStatus::Exited(pid, 0));
    }
}
