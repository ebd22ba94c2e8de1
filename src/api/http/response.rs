//! The write side of a server connection: a whole response in one write, a chunked stream
//! flushed per write, or a hijack (101, then the raw socket as a `Conn`). The server adds
//! only framing headers (Content-Length, Transfer-Encoding, Connection); everything else
//! comes from the handler. It never reads requests except to finish a body before a hijack.

use super::serve::{lock, Phase, Shared, DRAIN_MAX};
use crate::sys::socket::Stream;
use std::io::{self, Write};
use std::sync::Arc;


/// Answers one request, exactly once.
pub struct Responder {
    /// Taken by the answering method; still here on drop means "not answered".
    shared: Option<Arc<Shared>>,
}

impl Responder {
    pub(super) fn new(shared: Arc<Shared>) -> Responder {
        Responder { shared: Some(shared) }
    }

    fn take(&mut self) -> Arc<Shared> {
        self.shared.take().expect("a Responder answers once: every answering method consumes it")
    }

    /// A whole response with Content-Length (HEAD requests get the headers only).
    pub fn send(mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        check(status, headers)?;
        let shared = self.take();
        let (head_only, mut close) = {
            let ex = lock(&shared.exchange);
            (ex.head_only, ex.close)
        };
        close |= shared.body_blocks_keepalive();
        let r = write_whole(&shared.stream, status, headers, body, head_only, &mut close);
        shared.settle(if r.is_ok() { Phase::Complete } else { Phase::Broken }, close);
        r
    }

    /// Starts a chunked response: the head is flushed at once; each `write` on the returned
    /// stream is sent as one chunk and flushed; `finish` ends the body.
    pub fn stream(mut self, status: u16, headers: &[(&str, &str)]) -> io::Result<ChunkedWriter> {
        check(status, headers)?;
        let shared = self.take();
        let (head_only, http10, mut close) = {
            let ex = lock(&shared.exchange);
            (ex.head_only, ex.http10, ex.close)
        };
        close |= shared.body_blocks_keepalive();
        let mode = if head_only || bodyless(status) {
            Mode::Discard
        } else if http10 {
            // HTTP/1.0 has no chunked coding: the body ends where the connection does.
            close = true;
            Mode::Raw
        } else {
            Mode::Chunked
        };
        let mut out = Vec::with_capacity(256);
        status_line(&mut out, status);
        caller_headers(&mut out, headers, &mut close);
        if mode == Mode::Chunked || (head_only && !bodyless(status)) {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Err(e) = (&shared.stream).write_all(&out) {
            shared.settle(Phase::Broken, true);
            return Err(e);
        }
        lock(&shared.exchange).phase = Phase::Streaming;
        out.clear();
        Ok(ChunkedWriter { shared, mode, close, buf: out, done: false, failed: false })
    }

    /// Answers 101 with these headers and returns the raw connection. The server stops
    /// serving requests on it.
    pub fn hijack(mut self, headers: &[(&str, &str)]) -> io::Result<Conn> {
        check(101, headers)?;
        let shared = self.take();
        match hijack(&shared, headers) {
            Ok(conn) => {
                shared.settle(Phase::Hijacked, true);
                Ok(conn)
            }
            Err(e) => {
                shared.settle(Phase::Broken, true);
                Err(e)
            }
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.settle(Phase::Unanswered, false);
        }
    }
}

fn hijack(shared: &Shared, headers: &[(&str, &str)]) -> io::Result<Conn> {
    let buffered = {
        let mut wire = lock(&shared.wire);
        // Finish the request body first so that what stays buffered is what the client
        // sent after the request (stdin it did not wait to send).
        let mut scratch = [0u8; 4096];
        let mut total = 0u64;
        loop {
            let n = wire.read_body(&shared.stream, &mut scratch)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > DRAIN_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body too large for an upgraded connection",
                ));
            }
        }
        wire.hijacked = true;
        wire.take_buffered()
    };
    let stream = shared.stream.try_clone()?;
    // The raw stream may sit idle for as long as the container runs.
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 101 UPGRADED\r\n");
    let mut ignored = false;
    caller_headers(&mut out, headers, &mut ignored);
    out.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    (&stream).write_all(&out)?;
    Ok(Conn::new(stream, buffered))
}

/// Writes a whole response; `close` comes in as "must close" and goes out as "will close"
/// (a handler may ask for `Connection: close` itself).
pub(super) fn write_whole(
    stream: &Stream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    head_only: bool,
    close: &mut bool,
) -> io::Result<()> {
    let bodyless = bodyless(status);
    let mut out = Vec::with_capacity(256);
    status_line(&mut out, status);
    caller_headers(&mut out, headers, close);
    if !bodyless {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(&mut out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    if *close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let body = if head_only || bodyless { &[][..] } else { body };
    // Head and body leave in one writev: no copy of the body behind the head (with musl's
    // allocator a body-sized buffer per response costs an mmap and munmap), and no second
    // packet for small responses.
    write_all_vectored(stream, &out, body)
}

fn write_all_vectored(stream: &Stream, head: &[u8], body: &[u8]) -> io::Result<()> {
    let mut w = stream;
    let mut bufs = [io::IoSlice::new(head), io::IoSlice::new(body)];
    let mut rest = &mut bufs[..];
    while !rest.is_empty() {
        match w.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A complete `{"message": ...}` error response that closes the connection.
pub(super) fn error_response(status: u16, message: &str) -> Vec<u8> {
    let body = error_body(message);
    let mut out = Vec::with_capacity(160 + body.len());
    status_line(&mut out, status);
    out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
    push_decimal(&mut out, body.len() as u64);
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(&body);
    out
}

/// Docker's error body: one JSON object and a newline.
pub(super) fn error_body(message: &str) -> Vec<u8> {
    let mut body = serde_json::json!({ "message": message }).to_string().into_bytes();
    body.push(b'\n');
    body
}

/// Refuses what would corrupt the response: a status outside 100..=999, or a CR, LF or
/// NUL in a header (header injection from a value that came from a user).
fn check(status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
    if !(100..=999).contains(&status) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid http status"));
    }
    for (name, value) in headers {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        if name.is_empty() || name.contains(':') || name.contains(' ') || bad(name) || bad(value) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid response header {name:?}"),
            ));
        }
    }
    Ok(())
}

/// 1xx, 204 and 304 responses never have a body (RFC 9110 §6.4.1).
fn bodyless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The handler's headers minus the framing ones, which are the server's to write; a
/// handler's `Connection: close` is honoured.
fn caller_headers(out: &mut Vec<u8>, headers: &[(&str, &str)], close: &mut bool) {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
        {
            continue;
        }
        if name.eq_ignore_ascii_case("connection") {
            *close |= value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Reason phrases (RFC 9110 §15) for the statuses a container API answers.
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Chunked,
    /// HTTP/1.0 client: raw bytes, the end of the body is the end of the connection.
    Raw,
    /// HEAD request or a bodyless status: writes are dropped.
    Discard,
}

/// A chunked response body. Each `write` goes out at once as one chunk; dropping it
/// without `finish` closes the connection, since the client cannot tell the body ended.
pub struct ChunkedWriter {
    shared: Arc<Shared>,
    mode: Mode,
    close: bool,
    /// Reused for each chunk so that a chunk is one write(2) without an allocation.
    buf: Vec<u8>,
    done: bool,
    failed: bool,
}

impl Write for ChunkedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "response stream failed earlier",
            ));
        }
        if data.is_empty() {
            return Ok(0);
        }
        let r = match self.mode {
            Mode::Discard => Ok(()),
            Mode::Raw => (&self.shared.stream).write_all(data),
            Mode::Chunked => {
                self.buf.clear();
                self.buf.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                self.buf.extend_from_slice(data);
                self.buf.extend_from_slice(b"\r\n");
                (&self.shared.stream).write_all(&self.buf)
            }
        };
        match r {
            Ok(()) => Ok(data.len()),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Every write is already on the wire.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ChunkedWriter {
    /// True once the client has closed (or half-closed) its side: a long wait (`/wait`,
    /// `logs -f`) uses it to stop instead of holding a thread for a client that left.
    pub fn peer_closed(&self) -> bool {
        use nix::sys::socket::{recv, MsgFlags};
        use std::os::fd::{AsFd, AsRawFd};
        let mut probe = [0u8; 1];
        let fd = self.shared.stream.as_fd().as_raw_fd();
        // A peek at EOF reads 0 bytes; an open, quiet connection would block (EAGAIN).
        match recv(fd, &mut probe, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
            Ok(0) => true,
            Ok(_) => false,
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => false,
            Err(_) => true,
        }
    }

    /// Writes the last chunk; the connection may then serve the next request.
    pub fn finish(mut self) -> io::Result<()> {
        self.done = true;
        let r = if self.failed {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "response stream failed earlier"))
        } else if self.mode == Mode::Chunked {
            (&self.shared.stream).write_all(b"0\r\n\r\n")
        } else {
            Ok(())
        };
        let close = self.close || self.mode == Mode::Raw;
        self.shared.settle(if r.is_ok() { Phase::Complete } else { Phase::Broken }, close);
        r
    }
}

impl Drop for ChunkedWriter {
    fn drop(&mut self) {
        if !self.done {
            if self.mode == Mode::Discard && !self.failed {
                self.shared.settle(Phase::Complete, self.close);
            } else {
                self.shared.settle(Phase::Broken, true);
            }
        }
    }
}

/// A hijacked connection: full duplex (`try_clone` gives an independent handle for a
/// second thread), half-close with `shutdown_write`, or hand the descriptor elsewhere
/// (`into_fd`, after `take_buffered`).
pub type Conn = crate::sys::socket::Upgraded;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// What write_whole puts on the wire.
    fn whole(
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        head_only: bool,
        close: bool,
    ) -> (String, bool) {
        let (a, mut b) = UnixStream::pair().unwrap();
        let s = Stream::Unix(a);
        let mut close = close;
        write_whole(&s, status, headers, body, head_only, &mut close).unwrap();
        drop(s);
        let mut out = String::new();
        b.read_to_string(&mut out).unwrap();
        (out, close)
    }

    #[test]
    fn whole_responses() {
        let (out, close) = whole(
            200,
            &[("Content-Type", "application/json"), ("Api-Version", "1.41")],
            b"{}\n",
            false,
            false,
        );
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\nContent-Length: 3\r\n\r\n{}\n"
        );
        assert!(!close);
        let (out, _) = whole(200, &[], b"hello", true, false);
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        let (out, _) = whole(204, &[("Content-Length", "9")], b"ignored", false, false);
        assert_eq!(out, "HTTP/1.1 204 No Content\r\n\r\n");
        let (out, close) = whole(304, &[("Connection", "close")], b"", false, false);
        assert_eq!(out, "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
        assert!(close);
        let big = vec![b'x'; 64 * 1024 + 1];
        let (out, _) = whole(599, &[("Transfer-Encoding", "chunked")], &big, false, true);
        assert!(out.starts_with(
            "HTTP/1.1 599 Unknown\r\nContent-Length: 65537\r\nConnection: close\r\n\r\nxxx"
        ));
        assert_eq!(out.len(), out.find("\r\n\r\n").unwrap() + 4 + big.len());
    }

    #[test]
    fn header_injection_is_refused() {
        assert!(check(200, &[("X-Name", "a\r\nSet-Cookie: x")]).is_err());
        assert!(check(200, &[("X Name", "a")]).is_err());
        assert!(check(200, &[("", "a")]).is_err());
        assert!(check(99, &[]).is_err());
        assert!(check(200, &[("X-Name", "a b\tc")]).is_ok());
    }

    #[test]
    fn error_responses_are_docker_json() {
        let r = String::from_utf8(error_response(431, "request header fields too large")).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n\
             Content-Length: 46\r\nConnection: close\r\n\r\n{\"message\":\"request header fields too large\"}\n"
        );
        let mut n = Vec::new();
        for v in [0u64, 7, 10, 1234567890123] {
            n.clear();
            push_decimal(&mut n, v);
            assert_eq!(String::from_utf8(n.clone()).unwrap(), v.to_string());
        }
    }
}
