//! Where the container's output goes: the json-file log (Docker's line format, one entry per
//! line, long lines cut at 16 KiB) and attach clients (8-byte stdout/stderr frames, or raw
//! bytes for a tty), each with a bounded queue so a slow client never blocks the monitor.
//! No polling here: monitor/serve.rs decides when to read and write.

use crate::error::{Context, Result};
use crate::util::jsonlog::{self, Stream};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// Longest log entry: a line without '\n' is cut into entries of this size (Docker's
/// json-file driver does the same).
pub const MAX_ENTRY: usize = 16 * 1024;

/// Most bytes queued for one attach client; a client further behind is dropped.
pub const CLIENT_QUEUE_LIMIT: usize = 1 << 20;

/// Feeds `data` through `partial` (the unterminated tail of earlier data) and calls `emit`
/// for every complete log entry: each '\n'-terminated line (with its '\n'), and any run of
/// MAX_ENTRY bytes without one. What remains stays in `partial` (< MAX_ENTRY bytes).
pub fn split_lines(partial: &mut Vec<u8>, data: &[u8], mut emit: impl FnMut(&[u8])) {
    let mut rest = data;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..=i];
        if partial.is_empty() {
            line.chunks(MAX_ENTRY).for_each(&mut emit);
        } else {
            partial.extend_from_slice(line);
            partial.chunks(MAX_ENTRY).for_each(&mut emit);
            partial.clear();
        }
        rest = &rest[i + 1..];
    }
    partial.extend_from_slice(rest);
    if partial.len() >= MAX_ENTRY {
        let full = partial.len() / MAX_ENTRY * MAX_ENTRY;
        partial[..full].chunks(MAX_ENTRY).for_each(&mut emit);
        partial.drain(..full);
    }
}

/// The json-file log of one container.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
    batch: Vec<u8>,
    /// The first write error, reported in the exit record; later output is dropped.
    pub error: Option<String>,
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl LogWriter {
    /// Opens (creating, mode 0640) the log for appending. Its directory must exist.
    pub fn open(path: &Path) -> Result<LogWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)
            .ctx(|| format!("open log file {}", path.display()))?;
        Ok(LogWriter { file, partial: [Vec::new(), Vec::new()], batch: Vec::new(), error: None })
    }

    /// Logs `data` read from `stream` at time `now` (ns): complete lines are written with
    /// one write(2), an unterminated tail waits for more.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: i64) {
        let mut batch = std::mem::take(&mut self.batch);
        split_lines(&mut self.partial[index(stream)], data, |entry| jsonlog::encode(&mut batch, stream, now, entry));
        self.flush(&mut batch);
        self.batch = batch;
    }

    /// Writes out the unterminated tail of `stream` (the stream ended).
    pub fn finish(&mut self, stream: Stream, now: i64) {
        let partial = std::mem::take(&mut self.partial[index(stream)]);
        if partial.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        jsonlog::encode(&mut batch, stream, now, &partial);
        self.flush(&mut batch);
        self.batch = batch;
    }

    fn flush(&mut self, batch: &mut Vec<u8>) {
        if !batch.is_empty() && self.error.is_none() {
            if let Err(e) = self.file.write_all(batch) {
                self.error = Some(format!("write container log: {}", crate::error::Error::from(e)));
            }
        }
        batch.clear();
        // Keep the monitor small after a burst of output.
        if batch.capacity() > 256 * 1024 {
            batch.shrink_to(64 * 1024);
        }
    }
}

/// The attach frame header for `len` bytes of `stream`: stream byte, three zeros, length as
/// big-endian u32 (Docker's stdcopy format).
pub fn frame_header(stream: Stream, len: usize) -> [u8; 8] {
    let kind = match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    };
    let n = (len as u32).to_be_bytes();
    [kind, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// One attach client: a non-blocking stream socket handed over by the daemon.
pub struct Client {
    pub conn: OwnedFd,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The client half-closed (or never sends): stop reading from it.
    pub read_closed: bool,
    /// Gone or too slow: closed at the end of this loop turn.
    pub dead: bool,
    /// Stdin bytes the daemon read from the connection before handing it over; they go to
    /// the container's stdin first.
    pub preread: Vec<u8>,
    queue: Vec<u8>,
    sent: usize,
}

impl Client {
    pub fn new(conn: OwnedFd, stdin: bool, stdout: bool, stderr: bool) -> Client {
        Client { conn, stdin, stdout, stderr, read_closed: false, dead: false, preread: Vec::new(), queue: Vec::new(), sent: 0 }
    }

    pub fn wants(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        }
    }

    /// Queues output: a frame when `framed`, raw bytes otherwise (tty). A client whose
    /// queue would pass CLIENT_QUEUE_LIMIT is marked dead.
    pub fn push(&mut self, stream: Stream, data: &[u8], framed: bool) {
        if self.dead || !self.wants(stream) {
            return;
        }
        if self.pending() + data.len() + 8 > CLIENT_QUEUE_LIMIT {
            self.dead = true;
            return;
        }
        if framed {
            self.queue.extend_from_slice(&frame_header(stream, data.len()));
        }
        self.queue.extend_from_slice(data);
        self.flush();
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.queue.len() - self.sent
    }

    /// Writes as much of the queue as the socket takes now; a write error marks the
    /// client dead.
    pub fn flush(&mut self) {
        while self.pending() > 0 && !self.dead {
            match nix::unistd::write(self.conn.as_fd(), &self.queue[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(nix::Error::EAGAIN) => break,
                Err(nix::Error::EINTR) => {}
                Err(_) => self.dead = true,
            }
        }
        if self.sent == self.queue.len() {
            self.queue.clear();
            self.sent = 0;
            if self.queue.capacity() > 256 * 1024 {
                self.queue.shrink_to(64 * 1024);
            }
        } else if self.sent > 64 * 1024 {
            self.queue.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::io::Read;

    fn split(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut partial = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            split_lines(&mut partial, c, |e| out.push(e.to_vec()));
        }
        (out, partial)
    }

    #[test]
    fn lines_and_partials() {
        let (out, rest) = split(&[b"a\nb", b"c\n\nd"]);
        assert_eq!(out, [b"a\n".to_vec(), b"bc\n".to_vec(), b"\n".to_vec()]);
        assert_eq!(rest, b"d");
    }

    #[test]
    fn long_lines_are_cut_at_16k() {
        let long = vec![b'x'; MAX_ENTRY * 2 + 10];
        let (out, rest) = split(&[&long]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|e| e.len() == MAX_ENTRY));
        assert_eq!(rest.len(), 10);
        let mut line = vec![b'y'; MAX_ENTRY + 5];
        line.push(b'\n');
        let (out, rest) = split(&[&line[..100], &line[100..]]);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [MAX_ENTRY, 6]);
        assert!(rest.is_empty());
        assert_eq!(out[1], b"yyyyy\n");
    }

    #[test]
    fn log_lines_are_docker_json() {
        let t = TempDir::new("output-log");
        let path = t.path().join("c-json.log");
        let mut log = LogWriter::open(&path).unwrap();
        log.write(Stream::Stdout, b"hello\nwor", 1_000_000_000);
        log.write(Stream::Stderr, b"oops\n", 2_000_000_000);
        log.finish(Stream::Stdout, 3_000_000_000);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], r#"{"log":"hello\n","stream":"stdout","time":"1970-01-01T00:00:01Z"}"#);
        assert_eq!(lines[1], r#"{"log":"oops\n","stream":"stderr","time":"1970-01-01T00:00:02Z"}"#);
        assert_eq!(lines[2], r#"{"log":"wor","stream":"stdout","time":"1970-01-01T00:00:03Z"}"#);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    }

    #[test]
    fn frames_and_client_queues() {
        assert_eq!(frame_header(Stream::Stdout, 5), [1, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(frame_header(Stream::Stderr, 0x0102_0304), [2, 0, 0, 0, 1, 2, 3, 4]);
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut c = Client::new(a.into(), false, true, false);
        c.push(Stream::Stdout, b"out1\n", true);
        c.push(Stream::Stderr, b"err1\n", true);
        let mut got = [0u8; 13];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"\x01\x00\x00\x00\x00\x00\x00\x05out1\n");
        // Nobody reads: the queue fills, then the client is dropped instead of blocking.
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..64 {
            c.push(Stream::Stdout, &chunk, false);
        }
        assert!(c.dead);
    }
}
