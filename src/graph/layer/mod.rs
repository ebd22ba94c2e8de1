//! Layer tarballs: detecting their compression and applying one (untrusted) into a
//! driver's staging directory with Docker's layer semantics (whiteouts, opaque dirs,
//! hardlinks, devices, xattrs). This file owns the stream: decompression, counting the
//! bytes for the caller's diff ID, reading to the very end, and telling a broken archive
//! from a failing reader. What each entry does to the tree is in `apply.rs`, reading its
//! header in `header.rs`. Nothing here knows about registries, digests or the GraphDB, and
//! nothing may write outside `dest`.

mod apply;
mod header;
#[cfg(test)]
mod tests;

use crate::driver::storage::WhiteoutMode;
use crate::error::{Error, Result};
use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// What `apply` consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyStats {
    /// Uncompressed tar bytes read, the whole stream (end-of-archive blocks and padding too).
    pub bytes: u64,
    /// Tar entries seen (extension headers such as PAX or GNU long names not counted).
    pub entries: u64,
}

/// Read size between us and the caller's reader: big enough that a hashing or
/// decompressing reader below is called rarely, small enough to stay in cache.
const READ_BUF: usize = 256 * 1024;

/// Applies the uncompressed tar stream `tar` into `dest` (a staging dir of a driver).
/// Reads `tar` to its very end (including the end-of-archive blocks and any padding after)
/// so a caller hashing the stream gets the layer's full diff ID. A stream that is not a tar
/// archive gives an InvalidArgument error; an error of `tar` itself keeps its own kind.
pub fn apply(tar: &mut dyn Read, dest: &Path, whiteouts: WhiteoutMode) -> Result<ApplyStats> {
    let bytes = Cell::new(0u64);
    let failed = Cell::new(false);
    let counted = Counted { inner: tar, bytes: &bytes, failed: &failed };
    let mut archive = tar::Archive::new(BufReader::with_capacity(READ_BUF, counted));
    let mut applier = apply::Applier::new(dest, whiteouts, &failed)?;
    let mut entries = 0u64;
    for entry in archive.entries().map_err(|e| stream_error(e, &failed))? {
        let entry = entry.map_err(|e| stream_error(e, &failed))?;
        entries += 1;
        applier.entry(entry)?;
    }
    applier.finish()?;
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| stream_error(e, &failed))?;
    Ok(ApplyStats { bytes: bytes.get(), entries })
}

/// Counts what the caller's reader gives and remembers whether it failed, so that an error
/// coming out of the tar parser can be blamed on the right party.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    bytes: &'a Cell<u64>,
    failed: &'a Cell<bool>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes.set(self.bytes.get() + n as u64);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed.set(true);
                }
                Err(e)
            }
        }
    }
}

/// An error out of the tar parser: the caller's reader failed (keep its kind), or the bytes
/// are not a valid archive (the client sent something that is not a layer).
fn stream_error(e: io::Error, source_failed: &Cell<bool>) -> Error {
    if source_failed.get() {
        Error::from(e).context("read layer")
    } else {
        // The parser quotes the offending bytes; keep the message one short printable line.
        let detail: String = e
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(120)
            .collect();
        Error::invalid(format!("invalid tar archive: {detail}"))
    }
}

/// gzip's magic and method (deflate) bytes, as Docker checks them.
pub fn is_gzip(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0x1f, 0x8b, 0x08])
}

fn is_zstd(prefix: &[u8]) -> bool {
    prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// A layer stream with its compression removed; `Send` when the source is.
pub enum Decompressed<R: Read> {
    Plain(io::Chain<io::Cursor<Vec<u8>>, R>),
    Gzip(flate2::read::MultiGzDecoder<io::Chain<io::Cursor<Vec<u8>>, R>>),
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressed::Plain(r) => r.read(buf),
            Decompressed::Gzip(r) => r.read(buf),
        }
    }
}

/// Wraps a layer blob reader: gunzips it when it starts with gzip's magic, refuses zstd,
/// and passes anything else through as a plain tar (which `apply` then validates).
pub fn decompress<R: Read>(mut r: R) -> Result<Decompressed<R>> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from(e).context("read layer")),
        }
    }
    let prefix = &head[..n];
    if is_zstd(prefix) {
        return Err(Error::invalid("zstd-compressed layers are not supported"));
    }
    let whole = io::Cursor::new(prefix.to_vec()).chain(r);
    if is_gzip(prefix) {
        Ok(Decompressed::Gzip(flate2::read::MultiGzDecoder::new(whole)))
    } else {
        Ok(Decompressed::Plain(whole))
    }
}
