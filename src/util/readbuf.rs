//! A growable read buffer over a byte stream, shared by both ends of berth's HTTP (the
//! daemon's server and the CLI's client): fill it from a reader within a size cap, look at
//! what is buffered, take whole lines, and copy buffered bytes out. Framing rules (heads,
//! chunks, limits) stay with each end; this is only the bookkeeping of `pos` and `end`.

use std::io::{self, Read};

pub struct ReadBuf {
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl ReadBuf {
    pub fn new(size: usize) -> ReadBuf {
        ReadBuf { buf: vec![0; size], pos: 0, end: 0 }
    }

    /// The bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// Drops everything buffered.
    pub fn clear(&mut self) {
        self.pos = self.end;
    }

    /// Reads more bytes, compacting or growing the buffer (never beyond `cap` bytes);
    /// Ok(0) at EOF. A full buffer at `cap` is an InvalidData error ("read buffer full").
    pub fn fill(&mut self, r: &mut dyn Read, cap: usize) -> io::Result<usize> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            } else if self.buf.len() < cap {
                let len = (self.buf.len() * 2).min(cap);
                self.buf.resize(len, 0);
            } else {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "read buffer full"));
            }
        }
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes one buffered line (without its CRLF or LF), if a whole one is there.
    pub fn take_line(&mut self) -> Option<Vec<u8>> {
        let i = self.buffered().iter().position(|&b| b == b'\n')?;
        let data = &self.buf[self.pos..self.pos + i];
        let line = data.strip_suffix(b"\r").unwrap_or(data).to_vec();
        self.pos += i + 1;
        Some(line)
    }

    /// Copies up to `out.len()` buffered bytes into `out`; returns how many.
    pub fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.end - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_grows_and_takes_lines() {
        let mut src: &[u8] = b"one\r\ntwo\nrest";
        let mut b = ReadBuf::new(4);
        while b.fill(&mut src, 64).unwrap() > 0 {}
        assert_eq!(b.take_line().unwrap(), b"one");
        assert_eq!(b.take_line().unwrap(), b"two");
        assert!(b.take_line().is_none());
        let mut out = [0u8; 2];
        assert_eq!(b.copy_to(&mut out), 2);
        assert_eq!(&out, b"re");
        assert_eq!(b.buffered(), b"st");
        let mut big: &[u8] = &[b'x'; 100];
        let mut small = ReadBuf::new(4);
        let err = loop {
            match small.fill(&mut big, 8) {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
