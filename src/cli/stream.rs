//! Byte streams from the daemon as the docker CLI prints them: the 8-byte-header
//! stdout/stderr frames of non-tty attach and logs streams (frames may be split across
//! reads at any byte) and raw tty bytes. Readers and writers in, nothing else (JSON
//! progress streams are `progress`'s).

use std::io::{self, Read, Write};

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Copies a framed stream: stream 0 (stdin echo) and 1 go to `out`, 2 to `err`. Ends
/// cleanly at the end of the stream, also inside a frame (the daemon went away).
pub fn demux<R: Read, O: Write, E: Write>(r: &mut R, out: &mut O, err: &mut E) -> io::Result<()> {
    let mut header = [0u8; 8];
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if read_full(r, &mut header)? < header.len() {
            return Ok(());
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let to_err = match header[0] {
            0 | 1 => false,
            2 => true,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("Unrecognized input header: {other}"),
                ))
            }
        };
        while left > 0 {
            let want = left.min(buf.len());
            let n = read_full(r, &mut buf[..want])?;
            if n == 0 {
                return Ok(());
            }
            if to_err {
                err.write_all(&buf[..n])?;
                err.flush()?;
            } else {
                out.write_all(&buf[..n])?;
                out.flush()?;
            }
            left -= n;
        }
    }
}

/// Copies raw bytes (a tty stream), flushing every read so prompts show at once.
pub fn copy_raw<R: Read, W: Write>(r: &mut R, out: &mut W) -> io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_split_across_reads() {
        let mut data = frame(1, b"out1\n");
        data.extend(frame(2, b"err1\n"));
        data.extend(frame(1, b"out2\n"));
        data.extend(frame(0, b""));
        for step in [1, 3, 7, 8, 13, 1000] {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            demux(&mut Trickle { data: &data, step }, &mut out, &mut err).unwrap();
            assert_eq!(
                (out.as_slice(), err.as_slice()),
                (&b"out1\nout2\n"[..], &b"err1\n"[..]),
                "step {step}"
            );
        }
    }

    #[test]
    fn truncated_and_bad_streams() {
        let mut data = frame(1, b"hello");
        data.truncate(10);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(
            &mut Trickle {
                data: &data,
                step: 4,
            },
            &mut out,
            &mut err,
        )
        .unwrap();
        assert_eq!(out, b"he");
        let e = demux(&mut &b"plain text here"[..], &mut out, &mut err).unwrap_err();
        assert_eq!(e.to_string(), "Unrecognized input header: 112");
    }
}
