//! Path resolution confined to a root directory. Image content is untrusted: a layer or a
//! rootfs may hold symlinks like `etc -> /` or `dev -> ../../..`, and following them from
//! the host would write outside the container. Every path taken from an image is therefore
//! opened relative to the root's descriptor with openat2(2) RESOLVE_IN_ROOT, which makes the
//! kernel treat the root as "/" for `..` and absolute symlinks alike (Linux >= 5.6). Where
//! openat2 is missing (ENOSYS) we walk the path ourselves and refuse any symlink on the way,
//! which is stricter but never escapes.

use crate::error::{Context, Error, Result};
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The normal components of `path`, with "." dropped and ".." kept (the kernel, or our
/// walk, confines it to the root).
fn components(path: &str) -> Vec<&std::ffi::OsStr> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            Component::ParentDir => Some(std::ffi::OsStr::new("..")),
            _ => None,
        })
        .collect()
}

/// Opens `path` (absolute or relative, taken as relative to `root`) with `flags`, resolving
/// every component inside `root`. The last component is followed only if it is a symlink
/// that stays in the root; pass `OFlag::O_NOFOLLOW` to refuse that too.
pub fn open_in_root(root: BorrowedFd<'_>, path: &str, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let rel: PathBuf = components(path).iter().collect();
    let rel = if rel.as_os_str().is_empty() { PathBuf::from(".") } else { rel };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(mode)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(root.as_raw_fd(), &rel, how) {
        Ok(fd) => Ok(owned(fd)),
        Err(nix::Error::ENOSYS) => open_walk(root, path, flags, mode),
        Err(e) => Err(Error::from(e).context(format!("open {path} in container root"))),
    }
}

/// The fallback for kernels without openat2: component by component, no symlinks at all.
fn open_walk(root: BorrowedFd<'_>, path: &str, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let comps = components(path);
    let mut stack: Vec<OwnedFd> = Vec::new();
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let cur = |stack: &Vec<OwnedFd>| -> RawFd {
        stack.last().map(|f| f.as_raw_fd()).unwrap_or(root.as_raw_fd())
    };
    let Some((last, parents)) = comps.split_last() else {
        return openat(Some(root.as_raw_fd()), ".", flags | OFlag::O_CLOEXEC, mode)
            .map(owned)
            .ctx(|| format!("open {path} in container root"));
    };
    for c in parents {
        if *c == ".." {
            stack.pop();
            continue;
        }
        let fd = openat(Some(cur(&stack)), *c, dir_flags, Mode::empty())
            .ctx(|| format!("open {path} in container root (symlinks refused without openat2)"))?;
        stack.push(owned(fd));
    }
    if *last == ".." {
        stack.pop();
        return openat(Some(cur(&stack)), ".", flags | OFlag::O_CLOEXEC, mode)
            .map(owned)
            .ctx(|| format!("open {path} in container root"));
    }
    openat(Some(cur(&stack)), *last, flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, mode)
        .map(owned)
        .ctx(|| format!("open {path} in container root (symlinks refused without openat2)"))
}

/// Creates directory `path` and its missing parents inside `root` (like `mkdir -p`, with
/// every lookup confined to the root) and returns it opened as an O_PATH directory.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &str, mode: Mode) -> Result<OwnedFd> {
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    if let Ok(fd) = open_in_root(root, path, dir_flags, Mode::empty()) {
        return Ok(fd);
    }
    let mut done = String::new();
    for c in components(path) {
        let c = c.to_str().ok_or_else(|| Error::invalid(format!("path {path:?} is not UTF-8")))?;
        let parent = open_in_root(root, &done, dir_flags, Mode::empty())?;
        match mkdirat(Some(parent.as_raw_fd()), c, mode) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => return Err(Error::from(e).context(format!("mkdir {path} in container root"))),
        }
        done.push('/');
        done.push_str(c);
    }
    open_in_root(root, path, dir_flags, Mode::empty())
}

/// `/proc/self/fd/N`: a path naming exactly the object behind `fd`, for calls that take
/// paths only (mount(2) targets, bind sources).
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a host directory to use as a root for the functions above.
pub fn open_root(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map(owned)
        .ctx(|| format!("open {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let t = TempDir::new("fs-root");
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        // Absolute and climbing symlinks both point "outside" from the host's view.
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("up")).unwrap();
        std::fs::write(t.path().join("outside"), "outside").unwrap();
        let r = open_root(&root).unwrap();
        for p in ["/abs/etc/passwd", "up/etc/passwd", "../../etc/passwd"] {
            let fd = open_in_root(r.as_fd(), p, OFlag::O_RDONLY, Mode::empty()).unwrap();
            let got = std::fs::read_to_string(fd_path(fd.as_fd())).unwrap();
            assert_eq!(got, "inside", "{p}");
        }
        assert!(open_in_root(r.as_fd(), "up/outside", OFlag::O_RDONLY, Mode::empty()).is_err());
    }

    #[test]
    fn mkdir_all_creates_inside_through_symlinks() {
        let t = TempDir::new("fs-mkdir");
        let root = t.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        symlink("/", root.join("escape")).unwrap();
        let r = open_root(&root).unwrap();
        mkdir_all_in_root(r.as_fd(), "/escape/a/b", Mode::from_bits_truncate(0o755)).unwrap();
        assert!(root.join("a/b").is_dir());
        assert!(!t.path().join("a").exists());
        assert!(!Path::new("/a/b").exists() || Path::new("/a/b").is_dir());
    }
}
