//! Sealed in-memory copies of executables (memfd_create(2) + F_ADD_SEALS). The daemon runs
//! container monitors from such a copy so that no process a container can reach maps the
//! host's berth binary: a container that opens /proc/PID/exe of its monitor for writing gets
//! a sealed memfd (CVE-2019-5736, the runc binary overwrite). This file only makes and checks
//! copies; deciding what to run from them is the exec driver's business.

use crate::error::{Context, Error, Result};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// MFD_EXEC from include/uapi/linux/memfd.h (Linux >= 6.3): ask for an executable memfd
/// explicitly, so a `vm.memfd_noexec=1` default does not make the copy non-executable.
const MFD_EXEC: libc::c_uint = 0x0010;

/// The seals that make a memfd immutable: no write, no resize, no removing seals.
fn all_seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// Copies the file at `path` into a new close-on-exec memfd named `name` and seals it.
pub fn sealed_copy(path: &Path, name: &str) -> Result<OwnedFd> {
    let cname = std::ffi::CString::new(name).map_err(|_| Error::invalid("memfd name contains NUL"))?;
    let base = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    let fd = match memfd_create(&cname, base | MemFdCreateFlag::from_bits_retain(MFD_EXEC)) {
        Ok(fd) => fd,
        // Kernels before 6.3 do not know MFD_EXEC; their memfds are executable anyway.
        Err(nix::Error::EINVAL) => memfd_create(&cname, base).ctx(|| "memfd_create")?,
        Err(e) => return Err(Error::from(e).context("memfd_create")),
    };
    let mut src = File::open(path).ctx(|| format!("open {}", path.display()))?;
    let mut dst = File::from(fd);
    // std::io::copy uses copy_file_range/sendfile between files: no copy through userspace.
    std::io::copy(&mut src, &mut dst).ctx(|| format!("copy {} into a memfd", path.display()))?;
    let fd = OwnedFd::from(dst);
    fcntl(fd.as_raw_fd(), FcntlArg::F_ADD_SEALS(all_seals())).ctx(|| "seal the memfd copy")?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::io::{Read, Seek, Write};

    #[test]
    fn copy_is_identical_and_immutable() {
        let t = TempDir::new("memfd");
        let src = t.path().join("prog");
        std::fs::write(&src, b"#!not really a program\n").unwrap();
        let fd = sealed_copy(&src, "berth-test").unwrap();
        let seals = fcntl(fd.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap();
        assert!(SealFlag::from_bits_truncate(seals).contains(all_seals()));
        let mut f = File::from(fd);
        let mut got = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"#!not really a program\n");
        assert!(f.write_all(b"x").is_err());
        assert!(f.set_len(1).is_err());
        let reopened = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", f.as_raw_fd()));
        if let Ok(mut w) = reopened {
            assert!(w.write_all(b"x").is_err());
        }
    }
}
