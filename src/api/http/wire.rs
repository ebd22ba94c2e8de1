//! The read side of one server connection: an 8 KiB buffer (grown only for long heads, up
//! to the head limit), socket read timeouts set only when they change, the request head
//! read against its limits, and the request body decoded from Content-Length or chunked
//! framing. It writes only `100 Continue`; responses belong to `response.rs`.

use super::parse::{self, BodyKind, Head, Meta, Reject};
use super::Limits;
use crate::sys::socket::Stream;
use crate::util::readbuf::ReadBuf;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

const BUF_SIZE: usize = 8 * 1024;
/// A chunk-size line with its extensions (RFC 9112 §7.1.1); legitimate ones are a few bytes.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Trailer fields after the last chunk; read and discarded.
const MAX_TRAILERS: usize = 8 * 1024;

/// How much of the current request body is left, and how it is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body, or all of it read.
    Done,
    /// Content-Length with this many bytes left.
    Length(u64),
    Chunked(Chunk),
    /// A framing error, a timeout or an early EOF: the stream is out of step and the
    /// connection must close.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank line; this many bytes seen.
    Trailers(usize),
}

/// Why no request head came.
#[derive(Debug)]
pub(super) enum HeadError {
    /// EOF, a reset, or an idle timeout before the first byte: close quietly.
    Closed,
    /// Answer this status and close.
    Reject(Reject),
}

pub(super) struct Wire {
    rb: ReadBuf,
    /// The read timeout now set on the socket, to skip redundant setsockopt calls.
    timeout: Option<Duration>,
    body_timeout: Duration,
    pub body: Framing,
    /// The client sent `Expect: 100-continue` and no `100 Continue` has gone out yet.
    pub continue_pending: bool,
    /// The connection was hijacked: body reads return EOF.
    pub hijacked: bool,
}

impl Wire {
    pub fn new(body_timeout: Duration) -> Wire {
        Wire {
            rb: ReadBuf::new(BUF_SIZE),
            timeout: None,
            body_timeout,
            body: Framing::Done,
            continue_pending: false,
            hijacked: false,
        }
    }

    fn set_timeout(&mut self, s: &Stream, t: Duration) -> io::Result<()> {
        // A zero timeout means "none" to setsockopt; std refuses it.
        let t = t.max(Duration::from_millis(1));
        if self.timeout != Some(t) {
            s.set_read_timeout(Some(t))?;
            self.timeout = Some(t);
        }
        Ok(())
    }

    /// Reads more bytes into the buffer, growing it up to `cap`; Ok(0) at EOF.
    fn fill(&mut self, s: &Stream, cap: usize) -> io::Result<usize> {
        let mut r: &Stream = s;
        self.rb.fill(&mut r, cap)
    }

    fn buffered(&self) -> &[u8] {
        self.rb.buffered()
    }

    /// Takes the bytes read past the current request (for a hijacked connection).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let v = self.buffered().to_vec();
        self.rb.clear();
        v
    }

    /// Waits for the next request and reads its head within the limits; sets the body
    /// framing for it.
    pub fn read_head(&mut self, s: &Stream, limits: &Limits) -> Result<(Head, Meta), HeadError> {
        self.body = Framing::Done;
        self.continue_pending = false;
        // Blank lines between requests are allowed (RFC 9112 §2.2); skip them here so they
        // neither start the head clock nor count toward the head.
        loop {
            let blank = self.buffered().iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            self.rb.consume(blank);
            if !self.rb.is_empty() {
                break;
            }
            if self.set_timeout(s, limits.idle_timeout).is_err() {
                return Err(HeadError::Closed);
            }
            match self.fill(s, BUF_SIZE) {
                Ok(0) | Err(_) => return Err(HeadError::Closed),
                Ok(_) => {}
            }
        }
        let deadline = Instant::now() + limits.head_timeout;
        let cap = limits.max_head.max(BUF_SIZE) + 1;
        let mut scanned = 0; // bytes of the head already searched for its end
        let mut lines = 0;
        let head_len = loop {
            let data = self.buffered();
            let mut found = None;
            while let Some(i) = data[scanned..].iter().position(|&b| b == b'\n') {
                let line_end = scanned + i;
                let line = &data[..line_end];
                let start = line.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                scanned = line_end + 1;
                if line_end == start || (line_end == start + 1 && data[start] == b'\r') {
                    found = Some(scanned);
                    break;
                }
                lines += 1;
                if lines > limits.max_headers + 1 {
                    return Err(HeadError::Reject((431, "too many header fields")));
                }
            }
            if let Some(len) = found {
                break len;
            }
            if data.len() >= limits.max_head {
                return Err(HeadError::Reject((431, "request header fields too large")));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HeadError::Reject((408, "request head timed out")));
            }
            if self.set_timeout(s, left).is_err() {
                return Err(HeadError::Closed);
            }
            match self.fill(s, cap) {
                Ok(0) => return Err(HeadError::Closed),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    return Err(HeadError::Reject((408, "request head timed out")))
                }
                Err(_) => return Err(HeadError::Closed),
            }
        };
        if head_len > limits.max_head {
            return Err(HeadError::Reject((431, "request header fields too large")));
        }
        let head = parse::parse_head(&self.buffered()[..head_len]).map_err(HeadError::Reject)?;
        self.rb.consume(head_len);
        if head.headers.len() > limits.max_headers {
            return Err(HeadError::Reject((431, "too many header fields")));
        }
        let meta = parse::meta(&head.headers, head.http10).map_err(HeadError::Reject)?;
        self.body = match meta.body {
            None => Framing::Done,
            Some(BodyKind::Length(n)) => Framing::Length(n),
            Some(BodyKind::Chunked) => Framing::Chunked(Chunk::Size),
        };
        self.continue_pending = meta.expect_continue && !head.http10 && meta.body.is_some();
        Ok((head, meta))
    }

    /// True when the body is known to be longer than `max`, so draining it is not worth
    /// it and the connection should close instead.
    pub fn body_exceeds(&self, max: u64) -> bool {
        match self.body {
            Framing::Length(n) => n > max,
            Framing::Failed => true,
            _ => false,
        }
    }

    /// Reads and discards the rest of the body, at most `max` bytes. True when the
    /// connection is in step for the next request.
    pub fn drain(&mut self, s: &Stream, max: u64) -> bool {
        if self.body == Framing::Done {
            return true;
        }
        // A client that waits for 100 Continue may never send the body: don't wait for it.
        if self.continue_pending || self.body_exceeds(max) {
            return false;
        }
        let mut scratch = [0u8; 4096];
        let mut total = 0u64;
        while total <= max {
            match self.read_body(s, &mut scratch) {
                Ok(0) => return self.body == Framing::Done,
                Ok(n) => total += n as u64,
                Err(_) => return false,
            }
        }
        false
    }

    /// Reads body bytes: Ok(0) at the end of this request's body. Any error leaves the
    /// framing `Failed`.
    pub fn read_body(&mut self, s: &Stream, out: &mut [u8]) -> io::Result<usize> {
        if self.hijacked || out.is_empty() {
            return Ok(0);
        }
        if matches!(self.body, Framing::Done) {
            return Ok(0);
        }
        if self.body == Framing::Failed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "request body failed earlier"));
        }
        let r = self.read_body_inner(s, out);
        if r.is_err() {
            self.body = Framing::Failed;
        }
        r.map_err(timeout_error)
    }

    fn read_body_inner(&mut self, s: &Stream, out: &mut [u8]) -> io::Result<usize> {
        if self.continue_pending {
            self.continue_pending = false;
            let mut w: &Stream = s;
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let timeout = self.body_timeout;
        self.set_timeout(s, timeout)?;
        loop {
            match self.body {
                Framing::Done => return Ok(0),
                Framing::Failed => unreachable!("checked by read_body"),
                Framing::Length(left) => {
                    let n = self.read_data(s, out, left)?;
                    self.body = if n as u64 == left {
                        Framing::Done
                    } else {
                        Framing::Length(left - n as u64)
                    };
                    return Ok(n);
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    let n = self.read_data(s, out, left)?;
                    self.body = Framing::Chunked(if n as u64 == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n as u64)
                    });
                    return Ok(n);
                }
                Framing::Chunked(Chunk::Size) => {
                    let line = self.line(s, MAX_CHUNK_LINE)?;
                    let size = chunk_size(&line)?;
                    self.body = Framing::Chunked(if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    let line = self.line(s, 2)?;
                    if !line.is_empty() {
                        return Err(bad("chunk data not followed by a line end"));
                    }
                    self.body = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers(seen)) => {
                    let line = self.line(s, MAX_TRAILERS.saturating_sub(seen))?;
                    self.body = if line.is_empty() {
                        Framing::Done
                    } else {
                        Framing::Chunked(Chunk::Trailers(seen + line.len() + 2))
                    };
                }
            }
        }
    }

    /// Copies up to `left` body bytes: from the buffer if it holds any, else straight from
    /// the socket into `out` when `out` is large, else through the buffer.
    fn read_data(&mut self, s: &Stream, out: &mut [u8], left: u64) -> io::Result<usize> {
        let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if self.rb.is_empty() {
            if want >= BUF_SIZE {
                let n = read_retry(s, &mut out[..want])?;
                if n == 0 {
                    return Err(early_eof());
                }
                return Ok(n);
            }
            if self.fill(s, BUF_SIZE)? == 0 {
                return Err(early_eof());
            }
        }
        Ok(self.rb.copy_to(&mut out[..want]))
    }

    /// One line (without its CRLF or LF) of at most `max` bytes.
    fn line(&mut self, s: &Stream, max: usize) -> io::Result<Vec<u8>> {
        loop {
            let data = self.buffered();
            if let Some(i) = data.iter().position(|&b| b == b'\n') {
                if i > max + 1 {
                    return Err(bad("chunk line too long"));
                }
                return Ok(self.rb.take_line().unwrap_or_default());
            }
            if data.len() > max + 1 {
                return Err(bad("chunk line too long"));
            }
            if self.fill(s, BUF_SIZE)? == 0 {
                return Err(early_eof());
            }
        }
    }
}

fn read_retry(s: &Stream, out: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut r: &Stream = s;
        match r.read(out) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A chunk-size line: hex digits, then optional `;extension`s, which are ignored.
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = parse_trim(&line[..end]);
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad("invalid chunk size"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad("invalid chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| bad("invalid chunk size"))
}

fn parse_trim(mut v: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn bad(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn early_eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "client closed the connection inside the request body",
    )
}

/// Turns a socket timeout (EAGAIN from SO_RCVTIMEO) into an error that says what timed out.
fn timeout_error(e: io::Error) -> io::Error {
    if is_timeout(&e) {
        io::Error::new(io::ErrorKind::TimedOut, "request body read timed out")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// A Wire on one end of a socketpair whose other end has sent `input` (and is closed
    /// when `close` is set).
    fn wire_with(input: &[u8], close: bool) -> (Wire, Stream, UnixStream) {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(input).unwrap();
        if close {
            b.shutdown(std::net::Shutdown::Write).unwrap();
        }
        (Wire::new(Duration::from_millis(200)), Stream::Unix(a), b)
    }

    fn limits() -> Limits {
        Limits {
            max_head: 1024,
            max_headers: 4,
            head_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(200),
            ..Limits::default()
        }
    }

    fn read_all(w: &mut Wire, s: &Stream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 3]; // small reads cross every state boundary
        loop {
            let n = w.read_body(s, &mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;name=value\r\nhello\r\n1 \r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: 1\r\n\r\n\
            GET /next HTTP/1.1\r\n\r\n";
        let (mut w, s, _peer) = wire_with(input, true);
        let (head, _) = w.read_head(&s, &limits()).unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(read_all(&mut w, &s).unwrap(), b"hello world!");
        assert_eq!(w.body, Framing::Done);
        let (next, _) = w.read_head(&s, &limits()).unwrap();
        assert_eq!(next.path, "/next");
        assert!(matches!(w.read_head(&s, &limits()), Err(HeadError::Closed)));
    }

    #[test]
    fn content_length_body_and_pipelining() {
        let input =
            b"PUT /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789\r\nGET /b HTTP/1.1\r\n\r\n";
        let (mut w, s, _peer) = wire_with(input, true);
        w.read_head(&s, &limits()).unwrap();
        assert_eq!(read_all(&mut w, &s).unwrap(), b"0123456789");
        // The stray CRLF between requests is skipped.
        assert_eq!(w.read_head(&s, &limits()).unwrap().0.path, "/b");
    }

    #[test]
    fn bad_chunks_fail_the_body() {
        for body in
            [&b"zz\r\n"[..], b"5\r\nhelloXX", b"-1\r\n", b"1000000000000000\r\n", b"5\r\nhel"]
        {
            let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            input.extend_from_slice(body);
            let (mut w, s, _peer) = wire_with(&input, true);
            w.read_head(&s, &limits()).unwrap();
            assert!(read_all(&mut w, &s).is_err(), "{body:?}");
            assert_eq!(w.body, Framing::Failed);
            assert!(!w.drain(&s, DRAIN), "{body:?}");
        }
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE + 10));
        let (mut w, s, _peer) = wire_with(&input, false);
        w.read_head(&s, &limits()).unwrap();
        assert_eq!(read_all(&mut w, &s).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    const DRAIN: u64 = 1024 * 1024;

    #[test]
    fn endless_trailers_are_refused() {
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        for _ in 0..1000 {
            input.extend_from_slice(b"X-T: aaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let (mut w, s, _peer) = wire_with(&input, false);
        w.read_head(&s, &limits()).unwrap();
        assert!(read_all(&mut w, &s).is_err());
    }

    #[test]
    fn body_read_times_out() {
        let (mut w, s, _peer) = wire_with(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", false);
        w.read_head(&s, &limits()).unwrap();
        let e = read_all(&mut w, &s).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(w.body_exceeds(0), "a failed body can't be drained");
    }

    #[test]
    fn head_limits() {
        let (mut w, s, _peer) =
            wire_with(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", true);
        assert!(matches!(w.read_head(&s, &limits()), Err(HeadError::Reject((431, _)))));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 2000));
        let (mut w, s, _peer) = wire_with(&big, false);
        assert!(matches!(w.read_head(&s, &limits()), Err(HeadError::Reject((431, _)))));
        let (mut w, s, _peer) = wire_with(b"GET / HTTP/1.1\r\nX: 1", false);
        assert!(matches!(w.read_head(&s, &limits()), Err(HeadError::Reject((408, _)))));
        // Nothing sent: an idle close, no answer.
        let (mut w, s, _peer) = wire_with(b"", false);
        assert!(matches!(w.read_head(&s, &limits()), Err(HeadError::Closed)));
        // A long head within a larger limit grows the buffer.
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 20_000));
        long.extend_from_slice(b"\r\n\r\n");
        let (mut w, s, _peer) = wire_with(&long, true);
        let lim = Limits { max_head: 32 * 1024, ..limits() };
        assert_eq!(w.read_head(&s, &lim).unwrap().0.headers[0].1.len(), 20_000);
    }

    #[test]
    fn large_reads_bypass_the_buffer_but_never_overread() {
        let mut input = b"POST / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'z', 20_000));
        input.extend_from_slice(b"GET /after HTTP/1.1\r\n\r\n");
        let (mut w, s, _peer) = wire_with(&input, true);
        w.read_head(&s, &limits()).unwrap();
        let mut big = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            let n = w.read_body(&s, &mut big).unwrap();
            if n == 0 {
                break;
            }
            assert!(big[..n].iter().all(|&b| b == b'z'));
            total += n;
        }
        assert_eq!(total, 20_000);
        assert_eq!(w.read_head(&s, &limits()).unwrap().0.path, "/after");
    }

    #[test]
    fn drain_keeps_step_or_gives_up() {
        let (mut w, s, _peer) = wire_with(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /n HTTP/1.1\r\n\r\n",
            true,
        );
        w.read_head(&s, &limits()).unwrap();
        assert!(w.drain(&s, DRAIN));
        assert_eq!(w.read_head(&s, &limits()).unwrap().0.path, "/n");
        let (mut w, s, _peer) =
            wire_with(b"POST / HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n", true);
        w.read_head(&s, &limits()).unwrap();
        assert!(!w.drain(&s, DRAIN));
        let (mut w, s, _peer) = wire_with(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            false,
        );
        w.read_head(&s, &limits()).unwrap();
        assert!(w.continue_pending);
        assert!(!w.drain(&s, DRAIN));
    }

    #[test]
    fn chunk_size_lines() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"A ; ext=\"q\"").unwrap(), 10);
        for bad in [&b""[..], b";x", b"g", b" 1", b"0x1", b"1234567890abcdef"] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
    }
}
