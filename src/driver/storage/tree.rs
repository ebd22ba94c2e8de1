//! Whole-tree work on layer directories: recursive remove, a faithful copy (vfs layers and
//! container layers), and apparent size. The trees hold untrusted image content, so every
//! step is relative to a directory descriptor and no symlink is ever followed. The walk
//! keeps two descriptors open whatever the depth (it climbs back up with ".." and keeps
//! only names on its heap stack), so a hostile layer nested thousands of levels deep can
//! neither exhaust descriptors nor overflow the stack. It refuses to descend into another
//! filesystem: a mount left on a container dir must never have its content deleted.
//! Nothing here knows about layers, drivers or tar.

use crate::error::{Context, Error, Result};
use crate::sys::file::{
    entry_path, fgetxattr, flistxattr, fsetxattr, lgetxattr, llistxattr, lsetxattr, openat,
};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat,
    Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW);

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn is_dir(st: &FileStat) -> bool {
    kind(st) == SFlag::S_IFDIR
}

fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> nix::Result<FileStat> {
    fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn lossy(name: &CStr) -> String {
    String::from_utf8_lossy(name.to_bytes()).into_owned()
}

/// What a walk does. Directories are entered before their contents and left after them;
/// both calls get the descriptor of the directory's parent.
trait Visit {
    fn file(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()>;
    fn enter(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()>;
    fn leave(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()>;
}

struct Frame {
    name: CString,
    st: FileStat,
    subdirs: Vec<(CString, FileStat)>,
}

/// Walks entry `name` of directory `parent` depth first. Entries that vanish while we walk
/// (a running container's upper dir changes under `rw_size`) are skipped.
fn walk(parent: BorrowedFd<'_>, name: &CStr, v: &mut dyn Visit) -> Result<()> {
    let st = lstat_at(parent, name).ctx(|| format!("stat {}", lossy(name)))?;
    if !is_dir(&st) {
        return v.file(parent, name, &st);
    }
    v.enter(parent, name, &st)?;
    let mut cur = openat(parent, name, DIR_FLAGS, Mode::empty())
        .ctx(|| format!("open directory {}", lossy(name)))?;
    let subdirs = scan(cur.as_fd(), &st, v)?;
    let mut stack = vec![Frame { name: name.to_owned(), st, subdirs }];
    loop {
        let top = stack.last_mut().expect("the walk returns when the stack empties");
        if let Some((sub, sst)) = top.subdirs.pop() {
            v.enter(cur.as_fd(), &sub, &sst)?;
            let next = match openat(cur.as_fd(), sub.as_c_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    v.leave(cur.as_fd(), &sub, &sst)?;
                    continue;
                }
                Err(e) => {
                    return Err(Error::from(e).context(format!("open directory {}", lossy(&sub))))
                }
            };
            let subdirs = scan(next.as_fd(), &sst, v)?;
            cur = next;
            stack.push(Frame { name: sub, st: sst, subdirs });
            continue;
        }
        let done = stack.pop().expect("the stack is not empty here");
        if stack.is_empty() {
            drop(cur);
            return v.leave(parent, &done.name, &done.st);
        }
        // Our trees are private to the daemon: nothing renames a directory under the walk,
        // so ".." is the directory we came from.
        cur = openat(cur.as_fd(), c"..", DIR_FLAGS, Mode::empty())
            .ctx(|| format!("open parent of {}", lossy(&done.name)))?;
        v.leave(cur.as_fd(), &done.name, &done.st)?;
    }
}

/// Hands every non-directory of `dir` to the visitor and returns its subdirectories.
fn scan(
    dir: BorrowedFd<'_>,
    dir_st: &FileStat,
    v: &mut dyn Visit,
) -> Result<Vec<(CString, FileStat)>> {
    let mut subdirs = Vec::new();
    let mut d = Dir::openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "read directory")?;
    for entry in d.iter() {
        let entry = entry.ctx(|| "read directory")?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let st = match lstat_at(dir, name) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(Error::from(e).context(format!("stat {}", lossy(name)))),
        };
        if is_dir(&st) {
            if st.st_dev != dir_st.st_dev {
                return Err(Error::system(format!(
                    "{} is a mount point: refusing to cross into another filesystem",
                    lossy(name)
                )));
            }
            subdirs.push((name.to_owned(), st));
        } else {
            v.file(dir, name, &st)?;
        }
    }
    Ok(subdirs)
}

/// Opens the parent of `path` and returns it with the last component.
fn split(path: &Path) -> Result<(OwnedFd, CString)> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} has no last component", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fd = crate::sys::fs::open_root(parent)?;
    let name =
        CString::new(name.as_bytes()).map_err(|_| Error::invalid("path holds a NUL byte"))?;
    Ok((fd, name))
}

struct Remover;

impl Visit for Remover {
    fn file(&mut self, dir: BorrowedFd<'_>, name: &CStr, _: &FileStat) -> Result<()> {
        match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::from(e).context(format!("remove {}", lossy(name)))),
        }
    }
    fn enter(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()> {
        // Without CAP_DAC_OVERRIDE (unprivileged tests) a 0555 directory from a layer could
        // not be emptied; root never needs this.
        if st.st_mode & 0o300 != 0o300 && !nix::unistd::geteuid().is_root() {
            let _ = fchmodat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(0o700),
                FchmodatFlags::NoFollowSymlink,
            );
        }
        Ok(())
    }
    fn leave(&mut self, dir: BorrowedFd<'_>, name: &CStr, _: &FileStat) -> Result<()> {
        match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::from(e).context(format!("remove directory {}", lossy(name)))),
        }
    }
}

/// Removes entry `name` of `parent`, recursively if it is a directory. Missing is fine.
pub fn remove_all_at(parent: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
    let name =
        CString::new(name.as_bytes()).map_err(|_| Error::invalid("name holds a NUL byte"))?;
    match unlinkat(Some(parent.as_raw_fd()), name.as_c_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) | Err(Errno::EPERM) => walk(parent, &name, &mut Remover),
        Err(e) => Err(Error::from(e).context(format!("remove {}", lossy(&name)))),
    }
}

/// Removes `path` and everything below it. Missing is fine.
pub fn remove_all(path: &Path) -> Result<()> {
    let (parent, name) = match split(path) {
        Ok(v) => v,
        Err(e) if e.kind == crate::error::Kind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    remove_all_at(parent.as_fd(), OsStr::from_bytes(name.to_bytes()))
        .ctx(|| format!("remove {}", path.display()))
}

struct Sizer {
    total: u64,
    seen: HashSet<(u64, u64)>,
}

impl Visit for Sizer {
    fn file(&mut self, _: BorrowedFd<'_>, _: &CStr, st: &FileStat) -> Result<()> {
        if kind(st) == SFlag::S_IFREG
            && (st.st_nlink <= 1 || self.seen.insert((st.st_dev, st.st_ino)))
        {
            self.total += st.st_size.max(0) as u64;
        }
        Ok(())
    }
    fn enter(&mut self, _: BorrowedFd<'_>, _: &CStr, _: &FileStat) -> Result<()> {
        Ok(())
    }
    fn leave(&mut self, _: BorrowedFd<'_>, _: &CStr, _: &FileStat) -> Result<()> {
        Ok(())
    }
}

/// The apparent size of the regular files under `path`, each hardlinked inode once.
pub fn tree_size(path: &Path) -> Result<u64> {
    let (parent, name) = split(path)?;
    let mut s = Sizer { total: 0, seen: HashSet::new() };
    walk(parent.as_fd(), &name, &mut s).ctx(|| format!("size of {}", path.display()))?;
    Ok(s.total)
}

/// Builds the copy: `cur` is the destination directory matching the walk's position.
struct Copier {
    dst_parent: OwnedFd,
    dst_name: CString,
    top: Option<OwnedFd>,
    cur: Option<OwnedFd>,
    rel: PathBuf,
    depth: usize,
    /// First copy of each hardlinked inode, relative to `top`.
    links: HashMap<(u64, u64), PathBuf>,
    chown: bool,
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (TimeSpec::new(st.st_atime, st.st_atime_nsec), TimeSpec::new(st.st_mtime, st.st_mtime_nsec))
}

fn perm(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

impl Copier {
    fn cur(&self) -> Result<BorrowedFd<'_>> {
        self.cur
            .as_ref()
            .map(|f| f.as_fd())
            .ok_or_else(|| Error::invalid("copy source is not a directory"))
    }

    /// Copies xattrs between two open files. chown clears security.capability, so this
    /// runs after the owner is set; chmod does not, so the mode may follow.
    fn fd_meta(&self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, st: &FileStat) -> Result<()> {
        if self.chown {
            fchown(dst.as_raw_fd(), Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))
                .ctx(|| "chown")?;
        }
        for name in flistxattr(src).ctx(|| "list xattrs")? {
            let value = fgetxattr(src, &name).ctx(|| format!("get xattr {}", lossy(&name)))?;
            fsetxattr(dst, &name, &value).ctx(|| format!("set xattr {}", lossy(&name)))?;
        }
        fchmod(dst.as_raw_fd(), perm(st)).ctx(|| "chmod")?;
        let (a, m) = times(st);
        futimens(dst.as_raw_fd(), &a, &m).ctx(|| "set times")
    }

    /// The same for a symlink, device or fifo, named by its directory.
    fn at_meta(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        st: &FileStat,
    ) -> Result<()> {
        if self.chown {
            fchownat(
                Some(dst.as_raw_fd()),
                name,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .ctx(|| "chown")?;
        }
        let os = OsStr::from_bytes(name.to_bytes());
        let (sp, dp) = (entry_path(src, os), entry_path(dst, os));
        for x in llistxattr(&sp).ctx(|| "list xattrs")? {
            let value = lgetxattr(&sp, &x).ctx(|| format!("get xattr {}", lossy(&x)))?;
            lsetxattr(&dp, &x, &value).ctx(|| format!("set xattr {}", lossy(&x)))?;
        }
        if kind(st) != SFlag::S_IFLNK {
            // Not a symlink (we just created it), so following is the same as not.
            fchmodat(Some(dst.as_raw_fd()), name, perm(st), FchmodatFlags::FollowSymlink)
                .ctx(|| "chmod")?;
        }
        let (a, m) = times(st);
        utimensat(Some(dst.as_raw_fd()), name, &a, &m, UtimensatFlags::NoFollowSymlink)
            .ctx(|| "set times")
    }

    fn copy_entry(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()> {
        let k = kind(st);
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key) {
                let dst = self.cur()?;
                let top = self.top.as_ref().expect("top is set with cur").as_fd();
                return linkat(
                    Some(top.as_raw_fd()),
                    first.as_path(),
                    Some(dst.as_raw_fd()),
                    Path::new(OsStr::from_bytes(name.to_bytes())),
                    AtFlags::empty(),
                )
                .ctx(|| "link");
            }
            let rel = self.rel.join(OsStr::from_bytes(name.to_bytes()));
            self.links.insert(key, rel);
        }
        let dst = self.cur()?;
        if k == SFlag::S_IFREG {
            let src = File::from(
                openat(dir, name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, Mode::empty())
                    .ctx(|| "open")?,
            );
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
            let mut out = File::from(
                openat(dst, name, flags, Mode::from_bits_truncate(0o600)).ctx(|| "create")?,
            );
            // File to File: std uses copy_file_range(2), which reflinks where the fs can.
            std::io::copy(&mut &src, &mut out).ctx(|| "copy data")?;
            return self.fd_meta(src.as_fd(), out.as_fd(), st);
        }
        if k == SFlag::S_IFLNK {
            let target = readlinkat(Some(dir.as_raw_fd()), name).ctx(|| "readlink")?;
            symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name).ctx(|| "symlink")?;
        } else if matches!(k, SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO | SFlag::S_IFSOCK) {
            mknodat(Some(dst.as_raw_fd()), name, k, perm(st), st.st_rdev).ctx(|| "mknod")?;
        } else {
            return Ok(());
        }
        self.at_meta(dir, dst, name, st)
    }
}

impl Visit for Copier {
    fn file(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()> {
        self.copy_entry(dir, name, st)
            .ctx(|| format!("copy {}", self.rel.join(OsStr::from_bytes(name.to_bytes())).display()))
    }
    fn enter(&mut self, _: BorrowedFd<'_>, name: &CStr, _: &FileStat) -> Result<()> {
        let (parent, name) = match &self.cur {
            Some(cur) => (cur.as_fd(), name),
            None => (self.dst_parent.as_fd(), self.dst_name.as_c_str()),
        };
        // Owner-only until `leave` sets the real mode, as tar does.
        mkdirat(Some(parent.as_raw_fd()), name, Mode::from_bits_truncate(0o700)).ctx(|| {
            format!("mkdir {}", self.rel.join(OsStr::from_bytes(name.to_bytes())).display())
        })?;
        let fd = openat(parent, name, DIR_FLAGS, Mode::empty())
            .ctx(|| format!("open {}", lossy(name)))?;
        if self.cur.is_some() {
            self.rel.push(OsStr::from_bytes(name.to_bytes()));
        } else {
            self.top = Some(fd.try_clone().ctx(|| "dup directory descriptor")?);
        }
        self.cur = Some(fd);
        self.depth += 1;
        Ok(())
    }
    fn leave(&mut self, dir: BorrowedFd<'_>, name: &CStr, st: &FileStat) -> Result<()> {
        let src =
            openat(dir, name, DIR_FLAGS, Mode::empty()).ctx(|| format!("open {}", lossy(name)))?;
        let cur = self.cur.take().expect("leave follows enter");
        self.fd_meta(src.as_fd(), cur.as_fd(), st)
            .ctx(|| format!("copy {}", self.rel.display()))?;
        self.depth -= 1;
        if self.depth > 0 {
            self.cur =
                Some(openat(cur.as_fd(), c"..", DIR_FLAGS, Mode::empty()).ctx(|| "open parent")?);
            self.rel.pop();
        }
        Ok(())
    }
}

/// Copies the directory `src` to `dst` (which must not exist) with everything a layer can
/// hold: modes with setuid/setgid/sticky, owners, nanosecond times, xattrs, hardlinks inside
/// the tree, symlinks as they are, devices, fifos and sockets.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let (sp, sn) = split(src)?;
    let (dp, dn) = split(dst)?;
    let mut c = Copier {
        dst_parent: dp,
        dst_name: dn,
        top: None,
        cur: None,
        rel: PathBuf::new(),
        depth: 0,
        links: HashMap::new(),
        chown: nix::unistd::geteuid().is_root(),
    };
    walk(sp.as_fd(), &sn, &mut c).ctx(|| format!("copy {} to {}", src.display(), dst.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{is_root, TempDir};
    use std::fs;
    use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};

    /// One line per entry: path, mode, owner, mtime, size, rdev, link target, first
    /// name of its inode if hardlinked, xattrs.
    fn describe(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut inodes: HashMap<u64, String> = HashMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(p) = stack.pop() {
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mut x: Vec<String> = llistxattr(&p)
                .unwrap()
                .into_iter()
                .map(|n| format!("{}={:?}", n.to_string_lossy(), lgetxattr(&p, &n).unwrap()))
                .collect();
            x.sort();
            let link = fs::read_link(&p).map(|t| t.display().to_string()).unwrap_or_default();
            let same = if m.is_file() && m.nlink() > 1 {
                inodes.entry(m.ino()).or_insert_with(|| rel.clone()).clone()
            } else {
                String::new()
            };
            out.push(format!(
                "{rel} {:o} {}:{} {}.{} {} {} {link} {same} {x:?}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                m.mtime_nsec(),
                if m.is_dir() { 0 } else { m.size() },
                m.rdev()
            ));
            if m.is_dir() {
                for e in fs::read_dir(&p).unwrap() {
                    stack.push(e.unwrap().path());
                }
            }
        }
        out.sort();
        out
    }

    fn set_times(p: &Path, secs: i64, nsec: i64) {
        let t = TimeSpec::new(secs, nsec);
        utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
    }

    #[test]
    fn copy_keeps_everything_a_layer_holds() {
        if !is_root("copy_keeps_everything_a_layer_holds") {
            return;
        }
        let t = TempDir::new("tree-copy");
        let src = t.path().join("src");
        fs::create_dir_all(src.join("usr/bin")).unwrap();
        fs::create_dir_all(src.join("tmp")).unwrap();
        fs::write(src.join("usr/bin/ping"), "ping").unwrap();
        fs::hard_link(src.join("usr/bin/ping"), src.join("usr/bin/ping6")).unwrap();
        fs::hard_link(src.join("usr/bin/ping"), src.join("tmp/ping-elsewhere")).unwrap();
        symlink("/usr/bin/ping", src.join("usr/bin/p")).unwrap();
        symlink("../../../../etc", src.join("usr/escape")).unwrap();
        mknodat(
            None,
            &src.join("null"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        mknodat(None, &src.join("fifo"), SFlag::S_IFIFO, Mode::from_bits_truncate(0o600), 0)
            .unwrap();
        let ping = src.join("usr/bin/ping");
        nix::unistd::chown(&ping, Some(Uid::from_raw(1000)), Some(Gid::from_raw(1001))).unwrap();
        let cap: Vec<u8> =
            [0x0200_0001u32, 1 << 13, 0, 0, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
        lsetxattr(&ping, c"security.capability", &cap).unwrap();
        lsetxattr(&src.join("tmp"), c"trusted.berth", b"dir-xattr").unwrap();
        fchownat(
            None,
            &src.join("usr/bin/p"),
            Some(Uid::from_raw(7)),
            Some(Gid::from_raw(8)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        fs::set_permissions(&ping, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
        fs::set_permissions(src.join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap();
        fs::set_permissions(src.join("usr"), std::os::unix::fs::PermissionsExt::from_mode(0o555))
            .unwrap();
        for (p, s) in [
            ("usr/bin/p", 11),
            ("usr/bin/ping", 12),
            ("null", 13),
            ("tmp", 14),
            ("usr/bin", 15),
            ("usr", 16),
            ("", 17),
        ] {
            set_times(&src.join(p), 1_500_000_000 + s, 123_456_789);
        }
        let dst = t.path().join("dst");
        copy_tree(&src, &dst).unwrap();
        assert_eq!(describe(&src), describe(&dst));
        assert!(fs::symlink_metadata(dst.join("null")).unwrap().file_type().is_char_device());
        assert_eq!(tree_size(&dst).unwrap(), 4, "hardlinked inodes count once");
        assert!(copy_tree(&src, &dst).is_err(), "the destination must not exist");
        remove_all(&dst).unwrap();
        assert!(!dst.exists());
    }

    #[test]
    fn deep_trees_are_removed_without_recursion() {
        let t = TempDir::new("tree-deep");
        let top = t.path().join("top");
        fs::create_dir(&top).unwrap();
        let root = crate::sys::fs::open_root(&top).unwrap();
        // Deeper than PATH_MAX allows in one path, and than a 1024-descriptor limit.
        let mut cur = root;
        for i in 0..3000 {
            mkdirat(Some(cur.as_raw_fd()), "d", Mode::from_bits_truncate(0o755)).unwrap();
            if i % 100 == 0 {
                let f = openat(
                    cur.as_fd(),
                    "f",
                    OFlag::O_WRONLY | OFlag::O_CREAT,
                    Mode::from_bits_truncate(0o644),
                )
                .unwrap();
                drop(f);
            }
            cur = openat(cur.as_fd(), "d", OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
                .unwrap();
        }
        drop(cur);
        assert_eq!(tree_size(&top).unwrap(), 0);
        remove_all(&top).unwrap();
        assert!(!top.exists());
        remove_all(&top).unwrap();
    }

    #[test]
    fn mounts_inside_a_tree_are_never_entered() {
        if !is_root("mounts_inside_a_tree_are_never_entered") {
            return;
        }
        let t = TempDir::new("tree-mount");
        let victim = t.path().join("tree/mnt");
        fs::create_dir_all(&victim).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &victim,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _guard = Unmount(&victim);
        fs::write(victim.join("precious"), "data").unwrap();
        assert!(remove_all(&t.path().join("tree")).is_err());
        assert_eq!(fs::read_to_string(victim.join("precious")).unwrap(), "data");
    }
}
