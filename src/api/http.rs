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

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

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

/// What the server calls for every request. The handler must answer through the
/// `Responder`; if it returns without answering, or panics, the client gets a 500.
pub type Handler = Arc<dyn Fn(&mut Request, Responder) + Send + Sync>;

pub struct Server {}

impl Server {
    pub fn new(listeners: Vec<Listener>, limits: Limits, handler: Handler) -> Server {
        todo!()
    }

    /// Accepts and serves until `shutdown` is called; returns then (open connections are
    /// left to finish on their own threads).
    pub fn run(&self) {
        todo!()
    }

    /// A handle that stops `run` from another thread (the signal thread).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        todo!()
    }
}

#[derive(Clone)]
pub struct ShutdownHandle {}

impl ShutdownHandle {
    pub fn shutdown(&self) {
        todo!()
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
}

/// Errors from reading a request body.
#[derive(Debug)]
pub enum BodyError {
    /// The body is longer than the caller's limit (answer 413).
    TooLarge,
    Io(io::Error),
}

impl Request {
    /// A header's value, by case-insensitive name (the first if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        todo!()
    }

    /// Decoded query pairs ('+' and %XX decoded), in order, repeats kept.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        todo!()
    }

    /// The request body as a stream.
    pub fn body(&mut self) -> &mut dyn Read {
        todo!()
    }

    /// Reads the whole body if it is at most `limit` bytes.
    pub fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        todo!()
    }
}

/// Answers one request, exactly once.
pub struct Responder {}

impl Responder {
    /// A whole response with Content-Length (HEAD requests get the headers only).
    pub fn send(self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        todo!()
    }

    /// Starts a chunked response: the head is flushed at once; each `write` on the returned
    /// stream is sent as one chunk and flushed; `finish` ends the body.
    pub fn stream(self, status: u16, headers: &[(&str, &str)]) -> io::Result<ChunkedWriter> {
        todo!()
    }

    /// Answers 101 with these headers and returns the raw connection. The server stops
    /// serving requests on it.
    pub fn hijack(self, headers: &[(&str, &str)]) -> io::Result<Conn> {
        todo!()
    }
}

pub struct ChunkedWriter {}

impl Write for ChunkedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        todo!()
    }
    fn flush(&mut self) -> io::Result<()> {
        todo!()
    }
}

impl ChunkedWriter {
    /// placeholder
    pub fn peer_closed(&self) -> bool {
        todo!()
    }

    /// Writes the last chunk; the connection may then serve the next request.
    pub fn finish(self) -> io::Result<()> {
        todo!()
    }
}

/// A hijacked connection: full duplex (`try_clone` gives an independent handle for a
/// second thread), half-close with `shutdown_write`, or hand the descriptor elsewhere.
pub struct Conn {}

impl Conn {
    pub fn try_clone(&self) -> io::Result<Conn> {
        todo!()
    }
    pub fn shutdown_write(&self) -> io::Result<()> {
        todo!()
    }
    /// Bytes the server had already read past the request head (a client may send stdin
    /// right behind the request); deliver them before reading from the socket.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        todo!()
    }
    pub fn into_fd(self) -> OwnedFd {
        todo!()
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        todo!()
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        todo!()
    }
    fn flush(&mut self) -> io::Result<()> {
        todo!()
    }
}
