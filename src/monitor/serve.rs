//! The monitor's event loop, from `Started` to the container's end: one poll(2) over the
//! container's output, its stdin, attach clients, the monitor socket (requests: Watch, Kill,
//! Attach, Resize), watch connections and a signalfd for SIGCHLD. When the init has been
//! reaped it drains the output (bounded), closes the attach streams, removes the cgroups,
//! records the exit status and tells every watcher. Single-threaded; never blocks on a
//! client.

use super::channel;
use super::output::{Client, LogWriter};
use super::proto::{self, ExitStatus, FromMonitor, Spec, ToMonitor};
use crate::sys::{cgroup, pty, seqpacket};
use crate::util::jsonlog::Stream;
use crate::util::time::now_nanos;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long output is still read after the init died (something outside the container may
/// hold a pipe open).
const DRAIN: Duration = Duration::from_secs(2);
/// How long queued output may take to reach attach clients at the end.
const FLUSH: Duration = Duration::from_secs(2);
/// Read size for output and client input.
const READ_BUF: usize = 64 * 1024;
/// Stdin bytes held for a container that does not read; clients are not read meanwhile.
const STDIN_LIMIT: usize = 1 << 20;
/// Connections accepted but not yet past their request.
const MAX_PENDING: usize = 64;

/// The container's stdio as the monitor holds it.
pub enum Stdio {
    Pipes { stdout: OwnedFd, stderr: OwnedFd, stdin: Option<OwnedFd> },
    Tty(OwnedFd),
}

struct Output {
    fd: Option<OwnedFd>,
    stream: Stream,
}

struct StdinSink {
    fd: OwnedFd,
    queue: Vec<u8>,
    close_when_drained: bool,
}

pub struct Monitor<'a> {
    spec: &'a Spec,
    init: Pid,
    /// Exit code once the init has been reaped, and when.
    status: Option<(i32, i64, Instant)>,
    sigfd: SignalFd,
    listener: OwnedFd,
    pending: Vec<Option<OwnedFd>>,
    watches: Vec<Option<OwnedFd>>,
    outputs: Vec<Output>,
    stdin: Option<StdinSink>,
    /// The pty master (tty containers), for resizing.
    master: Option<OwnedFd>,
    clients: Vec<Client>,
    log: LogWriter,
    buf: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Tag {
    Signal,
    Listener,
    Pending(usize),
    Watch(usize),
    Output(usize),
    Stdin,
    Client(usize),
}

fn is_readable(ev: PollFlags) -> bool {
    ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
}

impl<'a> Monitor<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &'a Spec,
        init: Pid,
        sigfd: SignalFd,
        listener: OwnedFd,
        start_channel: OwnedFd,
        log: LogWriter,
        stdio: Stdio,
        clients: Vec<Client>,
    ) -> Monitor<'a> {
        let (outputs, stdin, master) = match stdio {
            Stdio::Pipes { stdout, stderr, stdin } => (
                vec![Output { fd: Some(stdout), stream: Stream::Stdout }, Output { fd: Some(stderr), stream: Stream::Stderr }],
                stdin,
                None,
            ),
            Stdio::Tty(master) => {
                // The master carries output and input; stdin gets its own descriptor so
                // closing it (stdin_once) leaves the output alone.
                let stdin = if spec.process.open_stdin {
                    master.try_clone().ok()
                } else {
                    None
                };
                let out = master.try_clone().ok();
                (vec![Output { fd: out, stream: Stream::Stdout }], stdin, Some(master))
            }
        };
        let mut m = Monitor {
            spec,
            init,
            status: None,
            sigfd,
            listener,
            pending: Vec::new(),
            watches: vec![Some(start_channel)],
            outputs,
            stdin: stdin.map(|fd| StdinSink { fd, queue: Vec::new(), close_when_drained: false }),
            master,
            clients: Vec::new(),
            log,
            buf: vec![0u8; READ_BUF],
        };
        for c in clients {
            m.add_client(c);
        }
        m
    }

    /// Serves the container until it ended, then records the end.
    pub fn run(mut self) {
        // A very short-lived init may be gone already.
        self.reap();
        loop {
            if let Some((_, _, at)) = self.status {
                if self.outputs.iter().all(|o| o.fd.is_none()) || at.elapsed() >= DRAIN {
                    break;
                }
            }
            self.turn();
        }
        self.finish();
    }

    fn add_client(&mut self, mut c: Client) {
        let preread = std::mem::take(&mut c.preread);
        if c.stdin {
            self.queue_stdin(&preread);
        }
        self.clients.push(c);
    }

    /// One poll and the handling of what it reported.
    fn turn(&mut self) {
        let mut tags = Vec::new();
        let mut fds = Vec::new();
        let stdin_full = self.stdin.as_ref().is_some_and(|s| s.queue.len() >= STDIN_LIMIT);
        fds.push(PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN));
        tags.push(Tag::Signal);
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        tags.push(Tag::Listener);
        for (i, p) in self.pending.iter().enumerate() {
            if let Some(fd) = p {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                tags.push(Tag::Pending(i));
            }
        }
        for (i, w) in self.watches.iter().enumerate() {
            if let Some(fd) = w {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                tags.push(Tag::Watch(i));
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            if let Some(fd) = &o.fd {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                tags.push(Tag::Output(i));
            }
        }
        if let Some(s) = &self.stdin {
            if !s.queue.is_empty() {
                fds.push(PollFd::new(s.fd.as_fd(), PollFlags::POLLOUT));
                tags.push(Tag::Stdin);
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = PollFlags::empty();
            if !c.read_closed && (!c.stdin || !stdin_full) {
                ev |= PollFlags::POLLIN;
            }
            if c.pending() > 0 {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.conn.as_fd(), ev));
            tags.push(Tag::Client(i));
        }
        let timeout = match self.status {
            Some((_, _, at)) => {
                let left = DRAIN.saturating_sub(at.elapsed()).as_millis().min(60_000) as u16;
                PollTimeout::from(left.max(1))
            }
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => return,
            // Cannot happen with valid descriptors; avoid spinning if it does.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        let events: Vec<(Tag, PollFlags)> = tags
            .into_iter()
            .zip(fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())))
            .filter(|(_, ev)| !ev.is_empty())
            .collect();
        drop(fds);
        for (tag, ev) in events {
            match tag {
                Tag::Signal => {
                    while let Ok(Some(_)) = self.sigfd.read_signal() {}
                    self.reap();
                }
                Tag::Listener => self.accept(),
                Tag::Pending(i) => self.request(i),
                Tag::Watch(i) => self.watch_event(i),
                Tag::Output(i) => self.read_output(i),
                Tag::Stdin => self.flush_stdin(),
                Tag::Client(i) => self.client_event(i, ev),
            }
        }
        self.pending.retain(Option::is_some);
        self.watches.retain(Option::is_some);
        self.clients.retain(|c| !c.dead);
    }

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.init => self.exited(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == self.init => self.exited(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => return,
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    fn exited(&mut self, code: i32) {
        // The kernel has killed the rest of the pid namespace by now; the stdin pipe has
        // no reader left.
        self.status = Some((code, now_nanos(), Instant::now()));
        self.stdin = None;
    }

    fn accept(&mut self) {
        while let Ok(conn) = seqpacket::accept(self.listener.as_fd()) {
            if self.pending.len() < MAX_PENDING {
                self.pending.push(Some(conn));
            }
        }
    }

    fn request(&mut self, i: usize) {
        let Some(conn) = self.pending[i].take() else { return };
        // poll reported it readable: a request, its end, or an error; each ends it.
        let (msg, fd) = match channel::recv::<ToMonitor>(conn.as_fd()) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return,
        };
        let reply = match msg {
            ToMonitor::Watch => {
                self.watches.push(Some(conn));
                return;
            }
            ToMonitor::Kill { signal } => self.kill(signal),
            ToMonitor::Attach { stdin, stdout, stderr, preread } => match fd {
                Some(c) => match super::set_nonblocking(c.as_fd()) {
                    Ok(()) => {
                        let mut client = Client::new(c, stdin, stdout, stderr);
                        client.preread = preread;
                        self.add_client(client);
                        FromMonitor::Done
                    }
                    Err(e) => FromMonitor::Error { message: e.message },
                },
                None => FromMonitor::Error { message: "attach request without a connection".to_string() },
            },
            ToMonitor::Resize { rows, cols } => match &self.master {
                Some(m) => match pty::set_size(m.as_fd(), rows, cols) {
                    Ok(()) => FromMonitor::Done,
                    Err(e) => FromMonitor::Error { message: e.message },
                },
                None => FromMonitor::Error { message: "the container has no tty".to_string() },
            },
            other => FromMonitor::Error { message: format!("unexpected request {other:?}") },
        };
        let _ = channel::send(conn.as_fd(), &reply, None);
    }

    fn kill(&self, signal: i32) -> FromMonitor {
        if self.status.is_some() {
            return FromMonitor::Error { message: "container is not running".to_string() };
        }
        let sig = match signal {
            0 => None,
            n => match Signal::try_from(n) {
                Ok(s) => Some(s),
                Err(_) => return FromMonitor::Error { message: format!("invalid signal {n}") },
            },
        };
        match nix::sys::signal::kill(self.init, sig) {
            Ok(()) => FromMonitor::Done,
            Err(e) => FromMonitor::Error { message: format!("kill container init: {}", crate::error::Error::from(e)) },
        }
    }

    /// A watcher only ever receives; anything readable is its departure (or noise).
    fn watch_event(&mut self, i: usize) {
        let Some(w) = &self.watches[i] else { return };
        match channel::recv::<ToMonitor>(w.as_fd()) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => self.watches[i] = None,
        }
    }

    fn read_output(&mut self, i: usize) {
        let Some(fd) = &self.outputs[i].fd else { return };
        let stream = self.outputs[i].stream;
        match nix::unistd::read(fd.as_raw_fd(), &mut self.buf) {
            Ok(0) => self.close_output(i),
            Ok(n) => {
                let data = &self.buf[..n];
                self.log.write(stream, data, now_nanos());
                let framed = self.master.is_none();
                for c in &mut self.clients {
                    c.push(stream, data, framed);
                }
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
            // EIO: a pty master whose slave side is closed everywhere.
            Err(_) => self.close_output(i),
        }
    }

    fn close_output(&mut self, i: usize) {
        self.outputs[i].fd = None;
        self.log.finish(self.outputs[i].stream, now_nanos());
    }

    fn queue_stdin(&mut self, data: &[u8]) {
        if let Some(s) = &mut self.stdin {
            if !s.close_when_drained {
                s.queue.extend_from_slice(data);
            }
        }
        self.flush_stdin();
    }

    fn flush_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        while !s.queue.is_empty() {
            match nix::unistd::write(s.fd.as_fd(), &s.queue) {
                Ok(n) => {
                    s.queue.drain(..n);
                }
                Err(nix::Error::EAGAIN) => return,
                Err(nix::Error::EINTR) => {}
                // EPIPE: the container closed its stdin; nobody will read it again.
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
        if s.queue.capacity() > 256 * 1024 {
            s.queue.shrink_to(64 * 1024);
        }
        if s.close_when_drained {
            self.stdin = None;
        }
    }

    fn client_event(&mut self, i: usize, ev: PollFlags) {
        if ev.contains(PollFlags::POLLOUT) {
            self.clients[i].flush();
        }
        if ev.contains(PollFlags::POLLERR) {
            self.clients[i].dead = true;
            return;
        }
        if !is_readable(ev) || self.clients[i].dead {
            return;
        }
        let c = &mut self.clients[i];
        let stdin_client = c.stdin;
        match nix::unistd::read(c.conn.as_raw_fd(), &mut self.buf) {
            Ok(0) => {
                // A half-close is not a disconnect: output keeps flowing. Only a hangup
                // (both directions gone) ends the client.
                c.read_closed = true;
                if ev.contains(PollFlags::POLLHUP) {
                    c.dead = true;
                }
                if stdin_client && self.spec.process.stdin_once {
                    if let Some(s) = &mut self.stdin {
                        s.close_when_drained = true;
                    }
                    self.flush_stdin();
                }
            }
            Ok(n) => {
                if stdin_client {
                    if let Some(s) = &mut self.stdin {
                        if !s.close_when_drained {
                            s.queue.extend_from_slice(&self.buf[..n]);
                        }
                    }
                    self.flush_stdin();
                }
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
            Err(_) => c.dead = true,
        }
    }

    /// The container is gone: flush, close, clean up, record, tell.
    fn finish(mut self) {
        let (code, finished_at, _) = self.status.expect("finish runs after the init was reaped");
        for i in 0..self.outputs.len() {
            if self.outputs[i].fd.is_some() {
                self.close_output(i);
            }
        }
        self.stdin = None;
        self.master = None;
        self.flush_clients();
        for c in self.clients.drain(..) {
            let _ = seqpacket::shutdown_write(c.conn.as_fd());
        }
        let oom_killed = self.spec.cgroups.iter().any(|c| cgroup::oom_killed(c));
        let mut error = self.log.error.clone().unwrap_or_default();
        for c in self.spec.cgroups.iter().rev() {
            if let Err(e) = cgroup::remove(c) {
                if error.is_empty() {
                    error = e.message;
                }
            }
        }
        let status = ExitStatus { code, finished_at, oom_killed, error };
        let run_dir = &self.spec.run_dir;
        let json = serde_json::to_vec(&status).expect("an exit status always serializes");
        let _ = super::write_atomic(&run_dir.join(proto::EXIT_NAME), &json);
        let _ = std::fs::remove_file(run_dir.join(proto::SOCKET_NAME));
        let _ = std::fs::remove_file(run_dir.join(proto::PIDS_NAME));
        let exit = FromMonitor::Exit(status);
        for w in self.watches.iter().flatten() {
            let _ = channel::send(w.as_fd(), &exit, None);
        }
    }

    /// Gives attach clients up to FLUSH to take what is queued for them.
    fn flush_clients(&mut self) {
        let deadline = Instant::now() + FLUSH;
        loop {
            self.clients.retain(|c| !c.dead);
            let waiting: Vec<usize> = (0..self.clients.len()).filter(|&i| self.clients[i].pending() > 0).collect();
            let left = deadline.saturating_duration_since(Instant::now());
            if waiting.is_empty() || left.is_zero() {
                return;
            }
            let mut fds: Vec<PollFd> =
                waiting.iter().map(|&i| PollFd::new(self.clients[i].conn.as_fd(), PollFlags::POLLOUT)).collect();
            let ms = left.as_millis().clamp(1, 60_000) as u16;
            let _ = poll(&mut fds, PollTimeout::from(ms));
            let ready: Vec<(usize, PollFlags)> = waiting
                .iter()
                .zip(fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())))
                .map(|(&i, ev)| (i, ev))
                .collect();
            drop(fds);
            for (i, ev) in ready {
                if ev.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                    self.clients[i].dead = true;
                } else if ev.contains(PollFlags::POLLOUT) {
                    self.clients[i].flush();
                }
            }
        }
    }
}
