//! Streaming sha256: a reader that hashes what passes through it, so a layer's diff ID (or
//! a blob's digest) is known the moment the stream has been consumed, without a second
//! pass or holding the data.

use sha2::{Digest, Sha256};
use std::io::{self, Read};

pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> DigestReader<R> {
        DigestReader { inner, hasher: Sha256::new() }
    }

    /// "sha256:<hex>" of everything read.
    pub fn digest(&self) -> String {
        format!("sha256:{}", crate::util::id::hex(&self.hasher.clone().finalize()))
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes() {
        let mut r = DigestReader::new(&b"hello"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.digest(), crate::graph::image::digest_of(b"hello"));
    }
}
