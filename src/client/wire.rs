//! The client's side of the wire: a connection with its read buffer, response heads read
//! within bounds, response bodies decoded (Content-Length, chunked, or up to EOF) and handed
//! back to the keep-alive slot at their end, and chunked uploads. No API knowledge here.

use crate::sys::socket::Stream;
use crate::util::readbuf::ReadBuf;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

const BUF_SIZE: usize = 8 * 1024;
/// A response head larger than this is refused: the daemon's heads are a few hundred bytes.
const MAX_HEAD: usize = 1024 * 1024;
/// A chunk-size line or trailer line.
const MAX_LINE: usize = 64 * 1024;
/// Read size for streamed request bodies; each read becomes one chunk.
const UPLOAD_CHUNK: usize = 32 * 1024;

/// The idle keep-alive connection, shared with responses that hand it back when their
/// body has been read to the end.
pub(super) type Pool = Arc<Mutex<Option<Wire>>>;

pub(super) fn lock(pool: &Pool) -> MutexGuard<'_, Option<Wire>> {
    pool.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A response head as received.
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) headers: Vec<(String, String)>,
    /// False when the request body could not be sent whole (the connection is out of
    /// step) or the daemon spoke HTTP/1.0.
    pub(super) in_step: bool,
}

pub(super) enum Upload {
    Read(io::Error),
    Write,
}

/// Copies a streamed body as chunks, one write per read.
pub(super) fn upload(stream: &Stream, reader: &mut dyn Read) -> std::result::Result<(), Upload> {
    let mut w = stream;
    let mut buf = vec![0u8; UPLOAD_CHUNK + 32];
    loop {
        // Leave room in front for the chunk-size line so each chunk is one write.
        let n = loop {
            match reader.read(&mut buf[16..16 + UPLOAD_CHUNK]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r.map_err(Upload::Read)?,
            }
        };
        if n == 0 {
            return w.write_all(b"0\r\n\r\n").map_err(|_| Upload::Write);
        }
        let size = format!("{n:x}\r\n");
        let start = 16 - size.len();
        buf[start..16].copy_from_slice(size.as_bytes());
        buf[16 + n..16 + n + 2].copy_from_slice(b"\r\n");
        w.write_all(&buf[start..16 + n + 2]).map_err(|_| Upload::Write)?;
    }
}

pub(super) enum HeadFailure {
    /// No byte of a response arrived.
    Nothing(io::Error),
    Partial(io::Error),
}

/// A connection to the daemon with its read buffer.
pub(super) struct Wire {
    pub(super) stream: Stream,
    rb: ReadBuf,
}

impl Wire {
    pub(super) fn new(stream: Stream) -> Wire {
        Wire { stream, rb: ReadBuf::new(BUF_SIZE) }
    }

    pub(super) fn buffered(&self) -> &[u8] {
        self.rb.buffered()
    }

    fn fill(&mut self, cap: usize) -> io::Result<usize> {
        let mut r: &Stream = &self.stream;
        self.rb.fill(&mut r, cap)
    }

    /// Reads a response head, skipping interim 1xx responses (except the 101 of an upgrade).
    pub(super) fn read_head(&mut self, upgrade: bool) -> std::result::Result<Head, HeadFailure> {
        let mut received = false;
        loop {
            let len = loop {
                if let Some(len) = head_end(self.buffered()) {
                    break len;
                }
                if self.buffered().len() >= MAX_HEAD {
                    return Err(HeadFailure::Partial(bad("response head too large")));
                }
                match self.fill(MAX_HEAD + 1) {
                    Ok(0) => {
                        let e = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the daemon closed the connection",
                        );
                        return Err(if received {
                            HeadFailure::Partial(e)
                        } else {
                            HeadFailure::Nothing(e)
                        });
                    }
                    Ok(_) => received = true,
                    Err(e) => {
                        return Err(if received {
                            HeadFailure::Partial(e)
                        } else {
                            HeadFailure::Nothing(e)
                        })
                    }
                }
            };
            let parsed =
                parse_response_head(&self.buffered()[..len]).map_err(HeadFailure::Partial)?;
            self.rb.consume(len);
            if parsed.status < 200 && !(upgrade && parsed.status == 101) {
                continue;
            }
            return Ok(parsed);
        }
    }

    /// One line without its line end, of at most MAX_LINE bytes.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(line) = self.rb.take_line() {
                return Ok(line);
            }
            if self.buffered().len() > MAX_LINE {
                return Err(bad("chunk line too long"));
            }
            if self.fill(MAX_LINE + 2)? == 0 {
                return Err(eof());
            }
        }
    }

    /// Up to `left` bytes of body data; Ok(0) only at EOF.
    fn data(&mut self, out: &mut [u8], left: u64) -> io::Result<usize> {
        let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if self.rb.is_empty() {
            if want >= BUF_SIZE {
                loop {
                    match (&self.stream).read(&mut out[..want]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => return r,
                    }
                }
            }
            if self.fill(BUF_SIZE)? == 0 {
                return Ok(0);
            }
        }
        Ok(self.rb.copy_to(&mut out[..want]))
    }
}

/// The length of the head at the start of `data` (through its blank line), if complete.
fn head_end(data: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(i) = data[start..].iter().position(|&b| b == b'\n') {
        let line = &data[start..start + i];
        start += i + 1;
        if line.is_empty() || line == b"\r" {
            return Some(start);
        }
    }
    None
}

fn parse_response_head(head: &[u8]) -> io::Result<Head> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let reason = parts.next().unwrap_or("").to_string();
    if !version.starts_with("HTTP/1.")
        || code.len() != 3
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("malformed response status line"));
    }
    let status: u16 = code.parse().map_err(|_| bad("malformed response status line"))?;
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("malformed response header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Head { status, reason, headers, in_step: version != "HTTP/1.0" })
}

fn bad(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the daemon closed the connection inside a response body",
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    /// Delimited by the end of the connection.
    Eof,
    Done,
}

pub(super) struct ResponseBody {
    /// None once the body has ended and the connection went back to the pool or closed.
    wire: Option<Wire>,
    framing: Framing,
    reusable: bool,
    pool: Pool,
}

impl ResponseBody {
    pub(super) fn new(wire: Wire, method: &str, head: &Head, pool: &Pool) -> ResponseBody {
        let (status, headers) = (head.status, &head.headers[..]);
        let chunked = header(headers, "transfer-encoding").is_some_and(|te| {
            te.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        });
        let length = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let framing = if method == "HEAD" || status < 200 || status == 204 || status == 304 {
            Framing::Done
        } else if chunked {
            Framing::ChunkSize
        } else if let Some(n) = length {
            if n == 0 {
                Framing::Done
            } else {
                Framing::Length(n)
            }
        } else {
            Framing::Eof
        };
        let close = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
        });
        let mut body = ResponseBody {
            wire: Some(wire),
            framing,
            reusable: head.in_step && !close && framing != Framing::Eof,
            pool: Arc::clone(pool),
        };
        body.release_if_done();
        body
    }

    /// At the end of the body, hands the connection back for the next call if it can
    /// carry one (nothing stray buffered behind the response).
    fn release_if_done(&mut self) {
        if self.framing != Framing::Done {
            return;
        }
        if let Some(wire) = self.wire.take() {
            if self.reusable && wire.buffered().is_empty() {
                *lock(&self.pool) = Some(wire);
            }
        }
    }

    pub(super) fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let r = self.read_inner(out);
        match r {
            Ok(_) => self.release_if_done(),
            Err(_) => {
                self.wire = None;
                self.framing = Framing::Done;
            }
        }
        r
    }

    fn read_inner(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(wire) = self.wire.as_mut() else {
            return Ok(0);
        };
        loop {
            match self.framing {
                Framing::Done => return Ok(0),
                Framing::Eof => {
                    let n = wire.data(out, u64::MAX)?;
                    if n == 0 {
                        self.framing = Framing::Done;
                    }
                    return Ok(n);
                }
                Framing::Length(left) => {
                    let n = wire.data(out, left)?;
                    if n == 0 {
                        return Err(eof());
                    }
                    let left = left - n as u64;
                    self.framing = if left == 0 { Framing::Done } else { Framing::Length(left) };
                    return Ok(n);
                }
                Framing::ChunkData(left) => {
                    let n = wire.data(out, left)?;
                    if n == 0 {
                        return Err(eof());
                    }
                    let left = left - n as u64;
                    self.framing =
                        if left == 0 { Framing::ChunkEnd } else { Framing::ChunkData(left) };
                    return Ok(n);
                }
                Framing::ChunkSize => {
                    let line = wire.line()?;
                    let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
                    let digits = String::from_utf8_lossy(digits);
                    let size = u64::from_str_radix(digits.trim(), 16)
                        .map_err(|_| bad("invalid chunk size from the daemon"))?;
                    self.framing =
                        if size == 0 { Framing::Trailers } else { Framing::ChunkData(size) };
                }
                Framing::ChunkEnd => {
                    if !wire.line()?.is_empty() {
                        return Err(bad("chunk data not followed by a line end"));
                    }
                    self.framing = Framing::ChunkSize;
                }
                Framing::Trailers => {
                    if wire.line()?.is_empty() {
                        self.framing = Framing::Done;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// A Wire whose daemon side has sent `input` and closed.
    fn wire_with(input: &[u8]) -> Wire {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(input).unwrap();
        Wire::new(Stream::Unix(a))
    }

    fn response(wire: &mut Option<Wire>, method: &str, pool: &Pool) -> (Head, ResponseBody) {
        let mut w = wire.take().expect("a connection");
        let head = match w.read_head(false) {
            Ok(h) => h,
            Err(HeadFailure::Nothing(e) | HeadFailure::Partial(e)) => panic!("{e}"),
        };
        let body = ResponseBody::new(w, method, &head, pool);
        (head, body)
    }

    fn read_all(body: &mut ResponseBody) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = body.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn pool() -> Pool {
        Arc::new(Mutex::new(None))
    }

    #[test]
    fn interim_responses_are_skipped_and_eof_bodies_are_not_reused() {
        let p = pool();
        let mut w = Some(wire_with(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A:  b \r\n\r\nline 1\nline 2\n",
        ));
        let (head, mut body) = response(&mut w, "GET", &p);
        assert_eq!((head.status, head.reason.as_str()), (200, "OK"));
        assert_eq!(header(&head.headers, "x-a"), Some("b"));
        assert_eq!(read_all(&mut body).unwrap(), b"line 1\nline 2\n");
        assert!(lock(&p).is_none());
    }

    #[test]
    fn kept_connections_go_back_at_the_end_of_the_body() {
        let p = pool();
        let (a, mut daemon) = UnixStream::pair().unwrap();
        let mut w = Some(Wire::new(Stream::Unix(a)));
        // Each response is sent when the previous one has been read, as a daemon would.
        let mut next = |w: &mut Option<Wire>, bytes: &[u8], method: &str| {
            daemon.write_all(bytes).unwrap();
            response(w, method, &p)
        };
        let (_, mut body) = next(
            &mut w,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n1\r\nd\r\n0\r\nX-T: 1\r\n\r\n",
            "GET",
        );
        assert_eq!(read_all(&mut body).unwrap(), b"abcd");
        w = lock(&p).take();
        let (_, mut body) =
            next(&mut w, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nefgh", "GET");
        let mut exact = [0u8; 4];
        assert_eq!(body.read(&mut exact).unwrap(), 4);
        // Back in the pool without waiting for a read that returns 0.
        w = lock(&p).take();
        let (_, _no_body) = next(&mut w, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", "HEAD");
        w = lock(&p).take();
        let (head, _) = next(&mut w, b"HTTP/1.1 204 No Content\r\n\r\n", "POST");
        assert_eq!(head.status, 204);
        w = lock(&p).take();
        let (_, mut body) = next(
            &mut w,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz",
            "GET",
        );
        assert_eq!(read_all(&mut body).unwrap(), b"z");
        assert!(lock(&p).is_none(), "Connection: close is not reused");
        // Bytes the daemon sent beyond a response mean it is out of step: not reused either.
        let mut w = Some(wire_with(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nzstray"));
        let (_, mut body) = response(&mut w, "GET", &p);
        assert_eq!(read_all(&mut body).unwrap(), b"z");
        assert!(lock(&p).is_none());
    }

    #[test]
    fn broken_bodies_are_errors() {
        for input in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ] {
            let p = pool();
            let mut w = Some(wire_with(input));
            let (_, mut body) = response(&mut w, "GET", &p);
            assert!(read_all(&mut body).is_err(), "{input:?}");
            assert!(lock(&p).is_none());
        }
    }

    #[test]
    fn bad_heads() {
        let mut w = wire_with(b"");
        assert!(matches!(w.read_head(false), Err(HeadFailure::Nothing(_))));
        let mut w = wire_with(b"HTTP/1.1 200 OK\r\nX: ");
        assert!(matches!(w.read_head(false), Err(HeadFailure::Partial(_))));
        for bad in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"SPDY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
        ] {
            let mut w = wire_with(bad);
            assert!(matches!(w.read_head(false), Err(HeadFailure::Partial(_))), "{bad:?}");
        }
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        let (a, b) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = (&b).write_all(&big);
        });
        let mut w = Wire::new(Stream::Unix(a));
        assert!(matches!(w.read_head(false), Err(HeadFailure::Partial(_))));
        drop(w);
        writer.join().unwrap();
        // A 101 ends the head only for an upgrade.
        let mut w = wire_with(b"HTTP/1.1 101 UPGRADED\r\n\r\nraw");
        let head = w.read_head(true).ok().unwrap();
        assert_eq!(head.status, 101);
        assert_eq!(w.buffered(), b"raw");
    }

    #[test]
    fn uploads_are_chunked_one_write_per_read() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let s = Stream::Unix(a);
        let data = vec![b'q'; UPLOAD_CHUNK + 5];
        let mut reader = &data[..];
        assert!(upload(&s, &mut reader).is_ok());
        drop(s);
        let mut out = Vec::new();
        b.read_to_end(&mut out).unwrap();
        let mut expected = format!("{UPLOAD_CHUNK:x}\r\n").into_bytes();
        expected.extend_from_slice(&data[..UPLOAD_CHUNK]);
        expected.extend_from_slice(b"\r\n5\r\nqqqqq\r\n0\r\n\r\n");
        assert_eq!(out, expected);
    }
}
