//! The blob store: layers kept byte for byte as they arrived (compressed as the registry
//! served them, or as an archive or import gave them), content-addressed under
//! `<data-root>/blobs/sha256/<hex>`, so that push and save reproduce them exactly. A blob is
//! written to `blobs/tmp/` while it streams in, hashed on the way, and renamed into place
//! only once complete and verified; start-up removes what `tmp/` still holds.

use crate::error::{Context, Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn new(root: &Path) -> Result<BlobStore> {
        for sub in ["sha256", "tmp"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).ctx(|| format!("create {}", d.display()))?;
        }
        Ok(BlobStore { root: root.to_path_buf() })
    }

    fn hex(digest: &str) -> Result<&str> {
        match digest.strip_prefix("sha256:") {
            Some(h) if crate::util::id::is_full_id(h) => Ok(h),
            _ => Err(Error::invalid(format!("invalid digest {digest:?}"))),
        }
    }

    pub fn path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("sha256").join(Self::hex(digest)?))
    }

    pub fn open(&self, digest: &str) -> Result<File> {
        let p = self.path(digest)?;
        File::open(&p).ctx(|| format!("open blob {digest}"))
    }

    /// A new blob being written.
    pub fn writer(&self) -> Result<BlobWriter> {
        let path = self.root.join("tmp").join(&crate::util::id::random_id()[..16]);
        let file = File::create(&path).ctx(|| format!("create {}", path.display()))?;
        Ok(BlobWriter { file: io::BufWriter::with_capacity(256 * 1024, file), path, hasher: Sha256::new(), size: 0 })
    }

    /// Puts an already complete file (a layer extracted from an archive) into the store
    /// under its digest, by renaming it.
    pub fn adopt(&self, file: &Path) -> Result<(String, u64)> {
        let mut f = File::open(file).ctx(|| format!("open {}", file.display()))?;
        let mut h = Sha256::new();
        let size = io::copy(&mut f, &mut HashWriter(&mut h)).ctx(|| format!("read {}", file.display()))?;
        let digest = format!("sha256:{}", crate::util::id::hex(&h.finalize()));
        let dest = self.path(&digest)?;
        std::fs::rename(file, &dest).ctx(|| format!("move {} into the blob store", file.display()))?;
        Ok((digest, size))
    }

    pub fn remove(&self, digest: &str) {
        if let Ok(p) = self.path(digest) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Every stored digest.
    pub fn list(&self) -> Vec<String> {
        std::fs::read_dir(self.root.join("sha256"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| crate::util::id::is_full_id(n))
                    .map(|n| format!("sha256:{n}"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes the leftovers of writes a dead daemon never finished.
    pub fn cleanup(&self) {
        if let Ok(rd) = std::fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A blob on its way into the store.
pub struct BlobWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Where the blob is being written (flush before reading it back).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finishes the blob: checks it against `expected` (when known) and moves it into the
    /// store. Returns its digest and size.
    pub fn commit(mut self, expected: Option<&str>) -> Result<(String, u64)> {
        self.file.flush().ctx(|| format!("write {}", self.path.display()))?;
        let digest = format!("sha256:{}", crate::util::id::hex(&self.hasher.clone().finalize()));
        if let Some(want) = expected {
            if want != digest {
                let _ = std::fs::remove_file(&self.path);
                return Err(Error::invalid(format!("blob {want}: content has digest {digest}")));
            }
        }
        let store_root = self.path.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        let dest = store_root.join("sha256").join(digest.trim_start_matches("sha256:"));
        std::fs::rename(&self.path, &dest).ctx(|| format!("store blob {digest}"))?;
        Ok((digest, self.size))
    }

    pub fn abort(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A reader that copies everything it reads into a writer (a download into the blob store
/// while the same bytes are being extracted).
pub struct Tee<R, W> {
    pub inner: R,
    pub copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn write_verify_commit() {
        let t = TempDir::new("blobs");
        let s = BlobStore::new(t.path()).unwrap();
        let mut w = s.writer().unwrap();
        w.write_all(b"hello").unwrap();
        let (d, n) = w.commit(Some(&crate::graph::image::digest_of(b"hello"))).unwrap();
        assert_eq!(n, 5);
        assert!(s.path(&d).unwrap().exists());
        assert_eq!(s.list(), vec![d.clone()]);
        let mut got = String::new();
        s.open(&d).unwrap().read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello");
        // A wrong digest is refused and leaves nothing behind.
        let mut w = s.writer().unwrap();
        w.write_all(b"other").unwrap();
        assert!(w.commit(Some(&d)).is_err());
        assert_eq!(std::fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
        // Tee copies what passes.
        let mut w = s.writer().unwrap();
        let mut tee = Tee { inner: &b"teed"[..], copy: &mut w };
        let mut out = Vec::new();
        tee.read_to_end(&mut out).unwrap();
        let (d2, _) = w.commit(None).unwrap();
        assert_eq!(d2, crate::graph::image::digest_of(b"teed"));
        s.remove(&d2);
        assert!(!s.path(&d2).unwrap().exists());
        assert!(s.path("sha256:xyz").is_err());
    }
}
