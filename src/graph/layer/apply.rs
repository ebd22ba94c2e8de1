//! What one layer tar entry does to the tree being built, with Docker's semantics. The
//! entry is untrusted: its name is cleaned lexically against a virtual root (`../../x` is
//! `x`), its parent directory is resolved with RESOLVE_IN_ROOT (a planted `lib -> /` leads
//! back into the tree), and the last component is created with *at calls relative to that
//! parent, never following a symlink. Hardlink targets resolve inside the tree the same way.
//! Nothing here reads the stream beyond the entry it is given, or touches a path outside
//! the destination.

use super::header::{device, meta, owner, Meta};
use super::stream_error;
use crate::driver::storage::tree::remove_all_at;
use crate::driver::storage::WhiteoutMode;
use crate::error::{Context, Error, Kind, Result};
use crate::sys::file::{entry_path, fsetxattr, link_fd, lsetxattr, openat};
use crate::sys::fs::{mkdir_all_in_root, open_in_root, open_root};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode,
    SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};
use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), never part of the image's tree.
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";
const COPY_BUF: usize = 256 * 1024;
const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW);

/// A directory whose mode and times are set after the last entry (creating its children
/// would change its mtime, and a read-only mode would stop them being created).
struct DirMeta {
    parent: String,
    name: OsString,
    mode: Mode,
    atime: TimeSpec,
    mtime: TimeSpec,
}

enum Op {
    Dir,
    File,
    Symlink,
    Hardlink,
    Node(SFlag),
}

pub(super) struct Applier<'a> {
    /// The destination, O_PATH: every lookup starts here and stays below it.
    root: OwnedFd,
    whiteouts: WhiteoutMode,
    /// chown needs CAP_CHOWN; unprivileged (tests) files keep the caller's owner.
    chown: bool,
    source_failed: &'a Cell<bool>,
    /// The parent directory of the previous entry: tar lists a directory's files together.
    parent: Option<(String, OwnedFd)>,
    dirs: Vec<DirMeta>,
    /// Delete mode: every path this layer wrote, and their ancestors, which an opaque
    /// marker must keep.
    seen: HashSet<Vec<u8>>,
    buf: Vec<u8>,
}

/// The normal components of a tar name, with ".." applied lexically against a virtual
/// root, so that no name can climb out (Docker: filepath.Clean("/" + name)).
pub(super) fn clean(raw: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn utf8(b: Vec<u8>) -> Result<String> {
    String::from_utf8(b)
        .map_err(|e| Error::invalid(format!("path {:?} is not UTF-8", lossy(e.as_bytes()))))
}

/// Runs `create`; if the name is taken, removes what is there (a directory with all its
/// content) and runs it once more.
fn replace<T>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mut create: impl FnMut() -> nix::Result<T>,
) -> Result<T> {
    match create() {
        Err(Errno::EEXIST) => {
            remove_all_at(dir, name)?;
            create().map_err(Error::from)
        }
        r => r.map_err(Error::from),
    }
}

/// SELinux labels and trusted.* need support the destination fs may lack; Docker drops
/// them there too. Anything else (security.capability above all) must be kept.
fn xattr_optional(name: &CStr) -> bool {
    let n = name.to_bytes();
    n.starts_with(b"trusted.") || n == b"security.selinux"
}

impl<'a> Applier<'a> {
    pub(super) fn new(
        dest: &Path,
        whiteouts: WhiteoutMode,
        source_failed: &'a Cell<bool>,
    ) -> Result<Applier<'a>> {
        Ok(Applier {
            root: open_root(dest)?,
            whiteouts,
            chown: nix::unistd::geteuid().is_root(),
            source_failed,
            parent: None,
            dirs: Vec::new(),
            seen: HashSet::new(),
            buf: vec![0; COPY_BUF],
        })
    }

    pub(super) fn entry<R: Read>(&mut self, mut e: tar::Entry<'_, R>) -> Result<()> {
        let raw = e.path_bytes().into_owned();
        self.apply_entry(&mut e, &raw).ctx(|| format!("apply layer entry {:?}", lossy(&raw)))
    }

    fn apply_entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<()> {
        use tar::EntryType as T;
        let kind = e.header().entry_type();
        let op = match kind {
            T::Directory => Op::Dir,
            // Pre-POSIX archives mark directories with a trailing slash only.
            T::Regular | T::Continuous if raw.ends_with(b"/") => Op::Dir,
            T::Regular | T::Continuous | T::GNUSparse => Op::File,
            T::Symlink => Op::Symlink,
            T::Link => Op::Hardlink,
            T::Char => Op::Node(SFlag::S_IFCHR),
            T::Block => Op::Node(SFlag::S_IFBLK),
            T::Fifo => Op::Node(SFlag::S_IFIFO),
            // Global PAX headers, volume labels, types from the future: not part of a tree.
            _ => return Ok(()),
        };
        let comps = clean(raw);
        let Some((last, parents)) = comps.split_last() else {
            return match op {
                Op::Dir => self.root_dir(e),
                _ => Ok(()),
            };
        };
        if comps[0].starts_with(WHITEOUT_META_PREFIX) && comps != [OPAQUE] {
            return Ok(());
        }
        let parent = utf8(parents.join(&b'/'))?;
        let name = OsStr::from_bytes(last);
        if *last == OPAQUE {
            return self.opaque(&parent);
        }
        if last.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(());
        }
        if let Some(victim) = last.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&parent, OsStr::from_bytes(victim), e);
        }
        let meta = meta(e)?;
        if self.whiteouts == WhiteoutMode::Delete {
            self.mark(&comps);
        }
        let full = comps.join(&b'/');
        self.with_parent(&parent, true, |s, dir| match op {
            Op::Dir => s.dir(dir, &parent, name, meta),
            Op::File => s.file(dir, name, &meta, e),
            Op::Symlink => s.symlink(dir, name, &meta, e),
            Op::Hardlink => s.hardlink(dir, name, &full, e),
            Op::Node(kind) => s.node(dir, name, kind, &meta, e),
        })?;
        Ok(())
    }

    /// Sets the deferred modes and times of directories, once every entry is in.
    pub(super) fn finish(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        let mut parent: Option<(&str, OwnedFd)> = None;
        for d in &dirs {
            if parent.as_ref().map(|p| p.0) != Some(d.parent.as_str()) {
                // A later entry may have replaced a parent: nothing left to set then.
                let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
                parent = open_in_root(self.root.as_fd(), &d.parent, flags, Mode::empty())
                    .ok()
                    .map(|fd| (d.parent.as_str(), fd));
            }
            let Some((_, pfd)) = &parent else { continue };
            let fd = match openat(pfd.as_fd(), d.name.as_os_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(e) => {
                    return Err(Error::from(e).context(format!("open directory {:?}", d.name)))
                }
            };
            fchmod(fd.as_raw_fd(), d.mode).ctx(|| format!("chmod directory {:?}", d.name))?;
            futimens(fd.as_raw_fd(), &d.atime, &d.mtime)
                .ctx(|| format!("set times of directory {:?}", d.name))?;
        }
        Ok(())
    }

    /// Records a path this layer writes, with its ancestors (stopping at the first already
    /// known one: its ancestors are known too).
    fn mark(&mut self, comps: &[&[u8]]) {
        for n in (1..=comps.len()).rev() {
            if !self.seen.insert(comps[..n].join(&b'/')) {
                break;
            }
        }
    }

    /// Runs `f` with the directory `path` (relative to the root, resolved inside it),
    /// created when missing if `create`, else `Ok(None)` when missing.
    fn with_parent<T>(
        &mut self,
        path: &str,
        create: bool,
        f: impl FnOnce(&mut Self, BorrowedFd<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let (p, fd) = match self.parent.take() {
            Some((p, fd)) if p == path => (p, fd),
            _ => {
                let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
                match open_in_root(self.root.as_fd(), path, flags, Mode::empty()) {
                    Ok(fd) => (path.to_string(), fd),
                    Err(e) if e.kind == Kind::NotFound && create => {
                        // As Docker: missing parents are created 0755, owned by us (root).
                        let fd = mkdir_all_in_root(
                            self.root.as_fd(),
                            path,
                            Mode::from_bits_truncate(0o755),
                        )?;
                        (path.to_string(), fd)
                    }
                    Err(e) if e.kind == Kind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        };
        let r = f(self, fd.as_fd());
        self.parent = Some((p, fd));
        r.map(Some)
    }

    fn owner_fd(&self, fd: BorrowedFd<'_>, m: &Meta) -> Result<()> {
        if self.chown {
            fchown(fd.as_raw_fd(), Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)))
                .ctx(|| format!("chown to {}:{}", m.uid, m.gid))?;
        }
        Ok(())
    }

    fn owner_at(&self, dir: BorrowedFd<'_>, name: &OsStr, m: &Meta) -> Result<()> {
        if self.chown {
            let (u, g) = (Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)));
            fchownat(Some(dir.as_raw_fd()), name, u, g, AtFlags::AT_SYMLINK_NOFOLLOW)
                .ctx(|| format!("chown to {}:{}", m.uid, m.gid))?;
        }
        Ok(())
    }

    /// Sets the entry's xattrs with `set`. Runs after chown, which clears
    /// security.capability.
    fn xattrs(&self, m: &Meta, mut set: impl FnMut(&CStr, &[u8]) -> nix::Result<()>) -> Result<()> {
        for (name, value) in &m.xattrs {
            match set(name, value) {
                Ok(()) => {}
                Err(Errno::EOPNOTSUPP) if xattr_optional(name) => {}
                Err(e) => {
                    return Err(
                        Error::from(e).context(format!("set xattr {}", name.to_string_lossy()))
                    )
                }
            }
        }
        Ok(())
    }

    /// Owner, xattrs, mode and times of a just-created symlink, device or fifo.
    fn meta_at(&self, dir: BorrowedFd<'_>, name: &OsStr, m: &Meta, symlink: bool) -> Result<()> {
        self.owner_at(dir, name, m)?;
        if !m.xattrs.is_empty() {
            let path = entry_path(dir, name);
            self.xattrs(m, |k, v| lsetxattr(&path, k, v))?;
        }
        if !symlink {
            // We just created it and it is not a symlink: following is the same as not.
            fchmodat(Some(dir.as_raw_fd()), name, m.mode, FchmodatFlags::FollowSymlink)
                .ctx(|| "chmod")?;
        }
        utimensat(Some(dir.as_raw_fd()), name, &m.atime, &m.mtime, UtimensatFlags::NoFollowSymlink)
            .ctx(|| "set times")
    }

    fn root_dir<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        let m = meta(e)?;
        let fd =
            openat(self.root.as_fd(), ".", DIR_FLAGS, Mode::empty()).ctx(|| "open layer root")?;
        self.owner_fd(fd.as_fd(), &m)?;
        self.xattrs(&m, |k, v| fsetxattr(fd.as_fd(), k, v))?;
        self.dirs.push(DirMeta {
            parent: String::new(),
            name: ".".into(),
            mode: m.mode,
            atime: m.atime,
            mtime: m.mtime,
        });
        Ok(())
    }

    fn dir(&mut self, dir: BorrowedFd<'_>, parent: &str, name: &OsStr, m: Meta) -> Result<()> {
        let raw = dir.as_raw_fd();
        let private = Mode::from_bits_truncate(0o700);
        match mkdirat(Some(raw), name, private) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = fstatat(Some(raw), name, AtFlags::AT_SYMLINK_NOFOLLOW).ctx(|| "stat")?;
                if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFDIR {
                    remove_all_at(dir, name)?;
                    mkdirat(Some(raw), name, private).ctx(|| "mkdir")?;
                }
            }
            Err(e) => return Err(Error::from(e).context("mkdir")),
        }
        let fd = openat(dir, name, DIR_FLAGS, Mode::empty()).ctx(|| "open directory")?;
        self.owner_fd(fd.as_fd(), &m)?;
        self.xattrs(&m, |k, v| fsetxattr(fd.as_fd(), k, v))?;
        self.dirs.push(DirMeta {
            parent: parent.to_string(),
            name: name.to_owned(),
            mode: m.mode,
            atime: m.atime,
            mtime: m.mtime,
        });
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        m: &Meta,
        e: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        // O_EXCL|O_NOFOLLOW: an existing name (a planted symlink above all) is removed and
        // replaced, never written through.
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let fd = replace(dir, name, || openat(dir, name, flags, Mode::from_bits_truncate(0o600)))
            .ctx(|| "create")?;
        let mut f = File::from(fd);
        let want = e.size();
        let mut got = 0u64;
        loop {
            let n = match e.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(stream_error(err, self.source_failed)),
            };
            f.write_all(&self.buf[..n]).ctx(|| "write")?;
            got += n as u64;
        }
        if got != want {
            return Err(Error::invalid(format!(
                "invalid tar archive: file data ends after {got} of {want} bytes"
            )));
        }
        self.owner_fd(f.as_fd(), m)?;
        self.xattrs(m, |k, v| fsetxattr(f.as_fd(), k, v))?;
        fchmod(f.as_raw_fd(), m.mode).ctx(|| "chmod")?;
        futimens(f.as_raw_fd(), &m.atime, &m.mtime).ctx(|| "set times")
    }

    fn symlink<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        m: &Meta,
        e: &tar::Entry<'_, R>,
    ) -> Result<()> {
        // The target is only text: it is stored as it is and never followed by us.
        let target =
            e.link_name_bytes().ok_or_else(|| Error::invalid("symlink without a target"))?;
        let target = OsStr::from_bytes(&target);
        replace(dir, name, || symlinkat(target, Some(dir.as_raw_fd()), name)).ctx(|| "symlink")?;
        self.meta_at(dir, name, m, true)
    }

    fn node<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        kind: SFlag,
        m: &Meta,
        e: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let dev = device(e.header())?;
        replace(dir, name, || mknodat(Some(dir.as_raw_fd()), name, kind, m.mode, dev))
            .ctx(|| "mknod")?;
        self.meta_at(dir, name, m, false)
    }

    /// A hardlink names a file this tree already holds: its target is cleaned and resolved
    /// inside the root like any name, so it can never link a host file. Its metadata is
    /// the target's (one inode).
    fn hardlink<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        full: &[u8],
        e: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let raw = e.link_name_bytes().ok_or_else(|| Error::invalid("hardlink without a target"))?;
        let target = clean(&raw).join(&b'/');
        if target.is_empty() {
            return Err(Error::invalid("hardlink to the layer root"));
        }
        if target == full {
            return Ok(());
        }
        let target = utf8(target)?;
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        let fd = match open_in_root(self.root.as_fd(), &target, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e.kind == Kind::NotFound => {
                return Err(Error::invalid(format!(
                    "hardlink target {target:?} is not in the layer"
                )))
            }
            Err(e) => return Err(e),
        };
        let st = fstat(fd.as_raw_fd()).ctx(|| format!("stat {target}"))?;
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
            return Err(Error::invalid(format!("hardlink target {target:?} is a directory")));
        }
        replace(dir, name, || link_fd(fd.as_fd(), dir, name)).ctx(|| format!("link to {target}"))
    }

    /// `.wh.NAME`: NAME is gone in this layer.
    fn whiteout<R: Read>(
        &mut self,
        parent: &str,
        victim: &OsStr,
        e: &tar::Entry<'_, R>,
    ) -> Result<()> {
        if victim.is_empty() || victim == "." || victim == ".." {
            return Ok(());
        }
        match self.whiteouts {
            WhiteoutMode::Delete => {
                self.with_parent(parent, false, |_, dir| remove_all_at(dir, victim))?;
            }
            WhiteoutMode::Overlay => {
                let (uid, gid) = owner(e.header())?;
                self.with_parent(parent, true, |s, dir| {
                    // overlayfs reads a 0:0 character device as "deleted" (overlayfs.rst).
                    remove_all_at(dir, victim)?;
                    mknodat(Some(dir.as_raw_fd()), victim, SFlag::S_IFCHR, Mode::empty(), 0)
                        .ctx(|| "mknod whiteout")?;
                    if s.chown {
                        let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
                        fchownat(Some(dir.as_raw_fd()), victim, u, g, AtFlags::AT_SYMLINK_NOFOLLOW)
                            .ctx(|| "chown whiteout")?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// `.wh..wh..opq` in D: nothing of D from lower layers shows through.
    fn opaque(&mut self, parent: &str) -> Result<()> {
        match self.whiteouts {
            WhiteoutMode::Overlay => {
                self.with_parent(parent, true, |_, dir| {
                    let fd = openat(dir, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
                        .ctx(|| "open opaque directory")?;
                    fsetxattr(fd.as_fd(), OPAQUE_XATTR, b"y").ctx(|| "set trusted.overlay.opaque")
                })?;
            }
            WhiteoutMode::Delete => {
                self.with_parent(parent, false, |s, dir| s.clear_unseen(parent, dir))?;
            }
        }
        Ok(())
    }

    /// Removes everything below `path` that this layer did not write (depth first, one
    /// descriptor per level of directories this layer wrote).
    fn clear_unseen(&self, path: &str, dir: BorrowedFd<'_>) -> Result<()> {
        let top = openat(dir, ".", DIR_FLAGS, Mode::empty()).ctx(|| "open opaque directory")?;
        let mut stack = vec![self.clear_level(path.as_bytes().to_vec(), top)?];
        while let Some((path, fd, subdirs)) = stack.last_mut() {
            let Some(sub) = subdirs.pop() else {
                stack.pop();
                continue;
            };
            let child = join(path, sub.as_bytes());
            match openat(fd.as_fd(), sub.as_os_str(), DIR_FLAGS, Mode::empty()) {
                Ok(cfd) => {
                    let level = self.clear_level(child, cfd)?;
                    stack.push(level);
                }
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => {}
                Err(e) => return Err(Error::from(e).context(format!("open {}", lossy(&child)))),
            }
        }
        Ok(())
    }

    /// One directory of `clear_unseen`: removes its unseen entries, returns the seen
    /// subdirectories still to visit.
    fn clear_level(&self, path: Vec<u8>, fd: OwnedFd) -> Result<(Vec<u8>, OwnedFd, Vec<OsString>)> {
        let mut keep = Vec::new();
        let mut d = Dir::openat(
            Some(fd.as_raw_fd()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("read directory {}", lossy(&path)))?;
        let mut names = Vec::new();
        for entry in d.iter() {
            let entry = entry.ctx(|| format!("read directory {}", lossy(&path)))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name.to_vec()));
            }
        }
        for name in names {
            if self.seen.contains(&join(&path, name.as_bytes())) {
                keep.push(name);
            } else {
                remove_all_at(fd.as_fd(), &name)?;
            }
        }
        Ok((path, fd, keep))
    }
}

fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() {
        return name.to_vec();
    }
    let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
    p.extend_from_slice(parent);
    p.push(b'/');
    p.extend_from_slice(name);
    p
}
