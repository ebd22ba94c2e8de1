//! The daemon's HTTP/1.1 server: listeners (unix, tcp, systemd fd://), one thread per
//! connection (requests on one connection are served in turn; concurrent requests come on
//! concurrent connections, as the docker CLI does it), request parsing with hard limits,
//! and three ways to answer: a whole body, a chunked stream flushed per write, or a hijack
//! (101, then a raw full-duplex byte pipe). It knows nothing of Docker or of routes.
//!
//! Why not tiny_http (see the README's "Dependencies"): 0.12 reads header lines without a
//! bound, honours Transfer-Encoding over Content-Length instead of refusing the pair,
//! buffers a streamed response's head until the first chunk fills (which deadlocks
//! `docker run`: it sends `start` only after `wait`'s headers arrive), and returns a
//! hijacked connection as one object that cannot be read and written from two threads.

mod parse;
mod response;
mod serve;
#[cfg(test)]
mod tests;
mod wire;

pub use response::{ChunkedWriter, Conn, Responder};

use crate::sys::socket::Stream;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serve::{lock, Shared};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Stack of a connection thread, on which the handler runs. Only touched pages cost
/// memory; this leaves room for a handler's JSON, SQLite and tar work in a debug build.
const CONN_STACK: usize = 512 * 1024;

/// Hard bounds on what a client may make the server hold or wait for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line plus headers, in bytes (431 beyond).
    pub max_head: usize,
    /// Number of header lines (431 beyond).
    pub max_headers: usize,
    /// Time to receive a whole request head once its first byte arrived (408 beyond).
    pub head_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests before it is closed.
    pub idle_timeout: Duration,
    /// Time one read of a request body may block before the request fails.
    pub body_timeout: Duration,
    /// Connections served at once; beyond it new connections get 503 and are closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 64 * 1024,
            max_headers: 100,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(60),
            max_connections: 2048,
        }
    }
}

/// A listening socket.
pub enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

impl Listener {
    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Unix(l) => l.set_nonblocking(true),
            Listener::Tcp(l) => l.set_nonblocking(true),
        }
    }

    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
        }
    }

    /// Where it listens, for logs: "unix:///run/berth.sock", "tcp://127.0.0.1:2375".
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix(l) => match l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            {
                Some(p) => format!("unix://{p}"),
                None => "unix://(unnamed)".to_string(),
            },
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp://{a}"),
                Err(_) => "tcp://(unknown)".to_string(),
            },
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}

/// What the server calls for every request. The handler must answer through the
/// `Responder`; if it returns without answering, or panics, the client gets a 500.
pub type Handler = Arc<dyn Fn(&mut Request, Responder) + Send + Sync>;

pub struct Server {
    listeners: Vec<Listener>,
    limits: Arc<Limits>,
    handler: Handler,
    stop: Arc<Stop>,
    /// Connections being served now.
    live: Arc<AtomicUsize>,
}

/// How `run` is stopped: the accept threads poll their listener together with the read
/// end of a pipe; `shutdown` closes the write end, which makes the read end readable
/// (POLLHUP) for all of them at once. Listening sockets are not shut down themselves:
/// under systemd socket activation they are shared with systemd, which keeps listening.
struct Stop {
    stopped: AtomicBool,
    wake: Mutex<Option<OwnedFd>>,
    /// The pipe's read end, or why there is none.
    watch: Result<OwnedFd, String>,
}

impl Server {
    pub fn new(listeners: Vec<Listener>, limits: Limits, handler: Handler) -> Server {
        let (watch, wake) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok((r, w)) => (Ok(r), Some(w)),
            Err(e) => {
                (Err(format!("create shutdown pipe: {}", crate::error::errno_text(e as i32))), None)
            }
        };
        Server {
            listeners,
            limits: Arc::new(limits),
            handler,
            stop: Arc::new(Stop { stopped: AtomicBool::new(false), wake: Mutex::new(wake), watch }),
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Accepts and serves until `shutdown` is called; returns then (open connections are
    /// left to finish on their own threads).
    pub fn run(&self) {
        let watch = match &self.stop.watch {
            Ok(fd) => fd.as_fd(),
            Err(e) => {
                crate::log_error!("http server: {e}");
                return;
            }
        };
        std::thread::scope(|scope| {
            for listener in &self.listeners {
                if let Err(e) = listener.set_nonblocking() {
                    crate::log_error!("http server: set {} non-blocking: {e}", listener.describe());
                    continue;
                }
                let spawned = std::thread::Builder::new()
                    .name("http-accept".into())
                    .spawn_scoped(scope, move || self.accept_loop(listener, watch));
                if let Err(e) = spawned {
                    crate::log_error!(
                        "http server: start accept thread for {}: {e}",
                        listener.describe()
                    );
                }
            }
        });
    }

    /// A handle that stops `run` from another thread (the signal thread).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { stop: Arc::clone(&self.stop) }
    }

    fn accept_loop(&self, listener: &Listener, watch: BorrowedFd<'_>) {
        loop {
            if self.stop.stopped.load(Ordering::Acquire) {
                return;
            }
            let mut fds = [
                PollFd::new(listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(watch, PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::Error::EINTR) => continue,
                Err(e) => {
                    crate::log_error!("http server: poll {}: {e}", listener.describe());
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            if fds[1].any().unwrap_or(false) {
                return;
            }
            // Take every pending connection before polling again.
            loop {
                match listener.accept() {
                    Ok(stream) => self.dispatch(stream),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                        ) => {}
                    Err(e) => {
                        // Out of descriptors or memory: back off instead of spinning on a
                        // listener that stays readable.
                        crate::log_error!("http server: accept on {}: {e}", listener.describe());
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                }
            }
        }
    }

    fn dispatch(&self, stream: Stream) {
        let guard = LiveGuard(Arc::clone(&self.live));
        if self.live.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            // Answered from the accept thread, so it must not block: the response is small
            // enough for an empty socket buffer, and what doesn't fit is dropped.
            if stream.set_nonblocking(true).is_ok() {
                let _ = (&stream).write(&response::error_response(503, "too many connections"));
            }
            return;
        }
        let limits = Arc::clone(&self.limits);
        let handler = Arc::clone(&self.handler);
        let spawned = std::thread::Builder::new()
            .name("http-conn".into())
            .stack_size(CONN_STACK)
            .spawn(move || {
                let _guard = guard;
                serve::serve(stream, limits, handler);
            });
        if let Err(e) = spawned {
            crate::log_error!("http server: start connection thread: {e}");
        }
    }
}

/// Counts a connection as live until dropped.
struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<Stop>,
}

impl ShutdownHandle {
    /// Makes `run` return promptly; calling it again does nothing.
    pub fn shutdown(&self) {
        self.stop.stopped.store(true, Ordering::Release);
        drop(lock(&self.stop.wake).take());
    }
}

/// A parsed request. The body is read through `body()`, which ends at the end of this
/// request's body whatever the framing (Content-Length or chunked).
pub struct Request {
    /// "GET", "POST", ... as sent.
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The raw query string (after '?', not decoded).
    pub query: String,
    /// Header (name, value) pairs in the order sent.
    pub headers: Vec<(String, String)>,
    body: Body,
}

/// Errors from reading a request body.
#[derive(Debug)]
pub enum BodyError {
    /// The body is longer than the caller's limit (answer 413).
    TooLarge,
    Io(io::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("request body too large"),
            BodyError::Io(e) => write!(f, "read request body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl Request {
    /// A header's value, by case-insensitive name (the first if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Decoded query pairs ('+' and %XX decoded), in order, repeats kept.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse::query_pairs(&self.query)
    }

    /// The request body as a stream.
    pub fn body(&mut self) -> &mut dyn Read {
        &mut self.body
    }

    /// Reads the whole body if it is at most `limit` bytes.
    pub fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let known = match lock(&self.body.shared.wire).body {
            wire::Framing::Length(n) => Some(n),
            _ => None,
        };
        if known.is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge);
        }
        let mut out = Vec::with_capacity(known.map_or(0, |n| n as usize));
        (&mut self.body).take(limit as u64 + 1).read_to_end(&mut out).map_err(BodyError::Io)?;
        if out.len() > limit {
            return Err(BodyError::TooLarge);
        }
        Ok(out)
    }
}

/// The request body: reads go through the connection's buffer and framing.
struct Body {
    shared: Arc<Shared>,
}

impl Read for Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        lock(&self.shared.wire).read_body(&self.shared.stream, out)
    }
}
