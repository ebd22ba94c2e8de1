//! File syscalls that nix 0.29 lacks or returns as raw integers: openat into an owned
//! descriptor, extended attributes on descriptors and on paths without following a final
//! symlink (xattr(7)), and giving an open file a new name (linkat(2) with AT_EMPTY_PATH).
//! Everything else (mknodat, fchownat, utimensat, renameat2, ...) is used straight from
//! nix. Nothing here resolves untrusted paths: callers pass descriptors, or
//! `/proc/self/fd/N/name` paths built from descriptors they hold.

use crate::sys::fs::fd_path;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::NixPath;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// openat(2) relative to `dir`, returning an owned descriptor (always O_CLOEXEC). The
/// caller picks the resolution rules with `flags` (O_NOFOLLOW, O_DIRECTORY, ...).
pub fn openat<P: ?Sized + NixPath>(
    dir: BorrowedFd<'_>,
    path: &P,
    flags: OFlag,
    mode: Mode,
) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), path, flags | OFlag::O_CLOEXEC, mode)?;
    // SAFETY: `fd` was just returned by a successful openat and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets extended attribute `name` of the file open at `fd` (fsetxattr(2)).
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated and `value` is a live slice of `value.len()` bytes;
    // the kernel only reads both for the duration of the call.
    let rc = unsafe {
        libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0)
    };
    Errno::result(rc).map(drop)
}

/// Sets extended attribute `name` of `path` itself, not of a symlink's target
/// (lsetxattr(2)).
pub fn lsetxattr(path: &Path, name: &CStr, value: &[u8]) -> nix::Result<()> {
    let rc = path.with_nix_path(|p| {
        // SAFETY: `p` and `name` are NUL-terminated; `value` is a live slice of
        // `value.len()` bytes; the kernel only reads them during the call.
        unsafe { libc::lsetxattr(p.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) }
    })?;
    Errno::result(rc).map(drop)
}

/// The extended attribute names of the file open at `fd` (flistxattr(2)).
pub fn flistxattr(fd: BorrowedFd<'_>) -> nix::Result<Vec<CString>> {
    let raw = sized(|buf| {
        // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes (a null pointer with
        // size 0 asks for the needed size); the kernel writes at most that many bytes.
        let rc = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        Errno::result(rc).map(|n| n as usize)
    })?;
    Ok(split_names(&raw))
}

/// The extended attribute names of `path` itself, not of a symlink's target.
pub fn llistxattr(path: &Path) -> nix::Result<Vec<CString>> {
    let raw = sized(|buf| {
        let rc = path.with_nix_path(|p| {
            // SAFETY: `p` is NUL-terminated; `buf` is a live, writable buffer of
            // `buf.len()` bytes and the kernel writes at most that many.
            unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
        })?;
        Errno::result(rc).map(|n| n as usize)
    })?;
    Ok(split_names(&raw))
}

/// The value of extended attribute `name` of the file open at `fd` (fgetxattr(2)).
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr) -> nix::Result<Vec<u8>> {
    sized(|buf| {
        // SAFETY: `name` is NUL-terminated; `buf` is a live, writable buffer of `buf.len()`
        // bytes and the kernel writes at most that many.
        let rc = unsafe {
            libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        Errno::result(rc).map(|n| n as usize)
    })
}

/// The value of extended attribute `name` of `path` itself, not of a symlink's target.
pub fn lgetxattr(path: &Path, name: &CStr) -> nix::Result<Vec<u8>> {
    sized(|buf| {
        let rc = path.with_nix_path(|p| {
            // SAFETY: `p` and `name` are NUL-terminated; `buf` is a live, writable buffer
            // of `buf.len()` bytes and the kernel writes at most that many.
            unsafe {
                libc::lgetxattr(p.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            }
        })?;
        Errno::result(rc).map(|n| n as usize)
    })
}

/// Runs a get/list xattr call twice: once with an empty buffer for the size, then for the
/// data, retrying on ERANGE if the attribute grew in between.
fn sized(mut call: impl FnMut(&mut [u8]) -> nix::Result<usize>) -> nix::Result<Vec<u8>> {
    loop {
        let size = call(&mut [])?;
        let mut buf = vec![0u8; size];
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// listxattr(2) returns the names as one buffer of NUL-terminated strings.
fn split_names(raw: &[u8]) -> Vec<CString> {
    raw.split(|b| *b == 0).filter(|n| !n.is_empty()).filter_map(|n| CString::new(n).ok()).collect()
}

/// `/proc/self/fd/N/name`: a path to entry `name` of the directory open at `dir`, for the
/// calls that have no *at form (lsetxattr, llistxattr, lgetxattr). Only the final
/// component is looked up by name, so nothing on the way can be a planted symlink.
pub fn entry_path(dir: BorrowedFd<'_>, name: &OsStr) -> std::path::PathBuf {
    fd_path(dir).join(name)
}

/// Gives the file open at `fd` (an O_PATH descriptor is fine, also of a symlink) the new
/// name `name` in directory `newdir`: linkat(fd, "", newdir, name, AT_EMPTY_PATH). Without
/// CAP_DAC_READ_SEARCH the kernel refuses that with ENOENT; then the magic link
/// `/proc/self/fd/N` is followed instead, which links the same inode (see open(2), O_PATH).
pub fn link_fd(fd: BorrowedFd<'_>, newdir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<()> {
    let name = Path::new(name);
    match nix::unistd::linkat(
        Some(fd.as_raw_fd()),
        Path::new(""),
        Some(newdir.as_raw_fd()),
        name,
        AtFlags::AT_EMPTY_PATH,
    ) {
        Err(Errno::ENOENT) => nix::unistd::linkat(
            None,
            fd_path(fd).as_path(),
            Some(newdir.as_raw_fd()),
            name,
            AtFlags::AT_SYMLINK_FOLLOW,
        ),
        other => other,
    }
}

/// renameat2(2) with RENAME_NOREPLACE (linux/fs.h: 1), by raw syscall: libc wrappers for it
/// are missing on musl and older glibc.
pub fn rename_noreplace(from: &Path, to: &Path) -> std::result::Result<(), nix::Error> {
    use std::os::unix::ffi::OsStrExt;
    const RENAME_NOREPLACE: libc::c_uint = 1;
    let from = std::ffi::CString::new(from.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    let to = std::ffi::CString::new(to.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: both paths are NUL-terminated C strings that live across the call; AT_FDCWD
    // makes them relative to the working directory like rename(2).
    let r = unsafe {
        libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), RENAME_NOREPLACE)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;

    fn open_owned(p: &Path, flags: i32) -> OwnedFd {
        let f = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(p).unwrap();
        OwnedFd::from(f)
    }

    #[test]
    fn xattrs_round_trip_on_fd_and_path() {
        let t = TempDir::new("file-xattr");
        let f = t.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let fd = open_owned(&f, 0);
        let name = CString::new("user.berth").unwrap();
        match fsetxattr(fd.as_fd(), &name, b"one") {
            // tmpfs before 6.6 and some filesystems refuse user.* xattrs.
            Err(Errno::EOPNOTSUPP) => return eprintln!("skipped: no user xattrs on tmp"),
            r => r.unwrap(),
        }
        assert_eq!(fgetxattr(fd.as_fd(), &name).unwrap(), b"one");
        lsetxattr(&f, &name, b"two").unwrap();
        assert_eq!(lgetxattr(&f, &name).unwrap(), b"two");
        assert!(flistxattr(fd.as_fd()).unwrap().contains(&name));
        assert!(llistxattr(&f).unwrap().contains(&name));
    }

    #[test]
    fn link_fd_names_an_open_file() {
        let t = TempDir::new("file-link");
        std::fs::write(t.path().join("a"), "data").unwrap();
        std::os::unix::fs::symlink("a", t.path().join("s")).unwrap();
        let dir = open_owned(t.path(), libc::O_PATH | libc::O_DIRECTORY);
        let a = open_owned(&t.path().join("a"), libc::O_PATH);
        link_fd(a.as_fd(), dir.as_fd(), OsStr::new("b")).unwrap();
        assert_eq!(std::fs::read_to_string(t.path().join("b")).unwrap(), "data");
        let s = open_owned(&t.path().join("s"), libc::O_PATH | libc::O_NOFOLLOW);
        link_fd(s.as_fd(), dir.as_fd(), OsStr::new("s2")).unwrap();
        assert!(std::fs::symlink_metadata(t.path().join("s2")).unwrap().file_type().is_symlink());
    }
}
