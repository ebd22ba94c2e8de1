//! An in-process pipe between two threads: a bounded queue of byte chunks with a `Write`
//! end and a `Read` end. Spent chunks travel back to the writer for reuse, so a long
//! stream allocates a handful of buffers, not one per chunk (musl's allocator would map and
//! unmap memory for each). A pull uses it to split one layer's work over two cores: one
//! thread downloads, verifies and decompresses, the other extracts (which on many hosts is
//! mostly kernel time spent creating files). Either side failing ends the other: a dropped
//! reader makes writes fail, a writer that reports an error makes reads fail.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

enum Msg {
    Data(Vec<u8>),
    Failed(String),
}

pub struct PipeWriter {
    tx: SyncSender<Msg>,
    /// Chunks the reader is done with.
    spent: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    chunk: usize,
}

pub struct PipeReader {
    rx: Receiver<Msg>,
    give_back: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

/// A pipe holding at most `chunks` chunks of `chunk` bytes in flight.
pub fn pipe(chunks: usize, chunk: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(chunks.max(1));
    let (give_back, spent) = sync_channel(chunks.max(1) + 1);
    (
        PipeWriter { tx, spent, buf: Vec::with_capacity(chunk), chunk },
        PipeReader { rx, give_back, current: Vec::new(), pos: 0, done: false },
    )
}

impl PipeWriter {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = match self.spent.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(self.chunk),
        };
        let data = std::mem::replace(&mut self.buf, next);
        self.tx.send(Msg::Data(data)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reading side is gone"))
    }

    /// Ends the stream cleanly (the reader sees EOF after the buffered bytes).
    pub fn close(mut self) -> io::Result<()> {
        self.send_buf()
    }

    /// Ends the stream with an error the reader will get instead of EOF.
    pub fn fail(self, message: String) {
        let _ = self.tx.send(Msg::Failed(message));
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.chunk {
            self.send_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(d)) => {
                    let spent = std::mem::replace(&mut self.current, d);
                    if spent.capacity() > 0 {
                        let _ = self.give_back.try_send(spent);
                    }
                    self.pos = 0;
                }
                Ok(Msg::Failed(m)) => {
                    self.done = true;
                    return Err(io::Error::other(m));
                }
                // The writer was dropped: closed (or it gave up without a word).
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_threads_in_order() {
        let (mut w, mut r) = pipe(2, 7);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        let t = std::thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.close().unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got, expect);
    }

    #[test]
    fn failures_travel_both_ways() {
        let (mut w, mut r) = pipe(2, 4);
        w.write_all(b"abcd").unwrap();
        w.fail("bad digest".into());
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 4);
        assert_eq!(r.read(&mut buf).unwrap_err().to_string(), "bad digest");
        let (mut w, r) = pipe(1, 4);
        drop(r);
        assert!(w.write_all(b"abcdefgh").is_err());
    }
}
