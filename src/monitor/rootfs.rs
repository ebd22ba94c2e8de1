//! The container's filesystem view: the mount plan for a Spec, built as data (unit-tested
//! without root), and the thin loop that executes it inside the init's new mount namespace,
//! ending with pivot_root. Every target inside the rootfs is resolved with openat2
//! RESOLVE_IN_ROOT (sys::fs) and mounted through /proc/self/fd/N, so a symlink in the
//! image can never redirect a mount onto the host (runc's defence against symlink-exchange
//! attacks, CVE-2021-30465 class). Runs only in the container's init, before execve.

use super::proto::{RootfsMount, Spec};
use crate::error::{Context, Error, Result};
use crate::sys::fs::{fd_path, mkdir_all_in_root, open_in_root, open_root};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, makedev, mknodat, Mode, SFlag};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One step of the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Make every mount in the new namespace private: nothing propagates back to the host.
    PrivateRoot,
    /// Mount the root filesystem on its (host) target directory.
    Rootfs(RootfsMount),
    /// Mount a filesystem on a directory inside the root, created if missing.
    Mount { target: &'static str, fstype: &'static str, flags: MsFlags, data: String },
    /// sysfs at /sys; where the kernel refuses a new sysfs instance (EPERM) the host's /sys
    /// is bound read-only instead, as runc does.
    Sysfs { flags: MsFlags },
    /// A character device in /dev (mode 0666), or a bind of the host's node where mknod is
    /// refused.
    Device { name: &'static str, major: u64, minor: u64 },
    /// A symlink `link` (inside the root) pointing at `target`.
    Symlink { link: &'static str, target: &'static str },
    /// Bind a host file or directory onto `target` inside the root (created to match).
    Bind { source: PathBuf, target: String, readonly: bool },
    /// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory.
    Mask(String),
    /// Make a path read-only (a bind onto itself, remounted read-only).
    ReadOnly(String),
    /// Remount the root filesystem read-only.
    RootReadonly,
    /// pivot_root into the rootfs and detach the old root.
    PivotRoot,
}

/// Docker's standard device nodes (character devices, major/minor from devices.txt).
const DEVICES: [(&str, u64, u64); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// The /dev symlinks runc creates.
const DEV_LINKS: [(&str, &str); 6] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/core", "/proc/kcore"),
];

/// The mount plan for `spec`, in execution order.
pub fn plan(spec: &Spec) -> Vec<Op> {
    let nosuid_noexec_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let mut ops = vec![
        Op::PrivateRoot,
        Op::Rootfs(spec.rootfs.clone()),
        Op::Mount { target: "/proc", fstype: "proc", flags: nosuid_noexec_nodev, data: String::new() },
        Op::Mount {
            target: "/dev",
            fstype: "tmpfs",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: "mode=755,size=65536k".to_string(),
        },
        Op::Mount {
            target: "/dev/pts",
            fstype: "devpts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=0620,gid=5".to_string(),
        },
        Op::Sysfs { flags: nosuid_noexec_nodev | MsFlags::MS_RDONLY },
        Op::Mount { target: "/dev/mqueue", fstype: "mqueue", flags: nosuid_noexec_nodev, data: String::new() },
        Op::Mount {
            target: "/dev/shm",
            fstype: "tmpfs",
            flags: nosuid_noexec_nodev,
            data: format!("mode=1777,size={}", spec.shm_size),
        },
    ];
    ops.extend(DEVICES.iter().map(|&(name, major, minor)| Op::Device { name, major, minor }));
    ops.extend(DEV_LINKS.iter().map(|&(link, target)| Op::Symlink { link, target }));
    ops.extend(spec.mounts.iter().map(|m| Op::Bind {
        source: m.source.clone(),
        target: m.destination.clone(),
        readonly: m.readonly,
    }));
    ops.extend(spec.masked_paths.iter().map(|p| Op::Mask(p.clone())));
    ops.extend(spec.readonly_paths.iter().map(|p| Op::ReadOnly(p.clone())));
    if spec.rootfs.readonly {
        ops.push(Op::RootReadonly);
    }
    ops.push(Op::PivotRoot);
    ops
}

/// Executes `ops` (from `plan`) in the caller's mount namespace, which must be a new one.
/// Afterwards the caller's root and working directory are the container's "/".
pub fn execute(ops: &[Op]) -> Result<()> {
    let mut root: Option<OwnedFd> = None;
    for op in ops {
        if let Op::Rootfs(r) = op {
            root = Some(mount_rootfs(r)?);
            continue;
        }
        if let Op::PrivateRoot = op {
            mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
                .ctx(|| "make / private")?;
            continue;
        }
        let r = root.as_ref().ok_or_else(|| Error::system("mount plan: rootfs must come first"))?;
        step(r.as_fd(), op)?;
    }
    Ok(())
}

fn mount_rootfs(r: &RootfsMount) -> Result<OwnedFd> {
    if let Some(dir) = &r.data_dir {
        nix::unistd::chdir(dir).ctx(|| format!("chdir to {}", dir.display()))?;
    }
    let target = &r.target;
    if r.fstype == "bind" {
        mount(Some(&r.source), target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
    } else {
        let data = (!r.data.is_empty()).then_some(r.data.as_str());
        mount(Some(&r.source), target, Some(r.fstype.as_str()), MsFlags::empty(), data)
    }
    .ctx(|| format!("mount rootfs ({}) on {}", r.fstype, target.display()))?;
    open_root(target)
}

fn dir_mode() -> Mode {
    Mode::from_bits_truncate(0o755)
}

/// The per-mount flags of the mount behind `fd` that a read-only remount must keep.
fn kept_flags(fd: BorrowedFd<'_>) -> MsFlags {
    let keep = MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | MsFlags::MS_NOATIME
        | MsFlags::MS_NODIRATIME
        | MsFlags::MS_RELATIME;
    match nix::sys::statvfs::fstatvfs(fd) {
        // statvfs's ST_* bits have the values of the matching MS_* flags.
        Ok(s) => MsFlags::from_bits_truncate(s.flags().bits()) & keep,
        Err(_) => MsFlags::empty(),
    }
}

/// Remounts the mount now visible at `path` (re-resolved, so it names the top mount)
/// read-only.
fn remount_readonly(root: BorrowedFd<'_>, path: &str) -> Result<()> {
    let top = open_in_root(root, path, OFlag::O_PATH, Mode::empty())?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept_flags(top.as_fd());
    mount(None::<&str>, &fd_path(top.as_fd()), None::<&str>, flags, None::<&str>)
        .ctx(|| format!("remount {path} read-only"))
}

fn bind(source: &Path, target: BorrowedFd<'_>, what: &str) -> Result<()> {
    mount(Some(source), &fd_path(target), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .ctx(|| format!("bind {} on {what}", source.display()))
}

/// Opens `path` inside the root as O_PATH; `None` when it does not exist.
fn open_existing(root: BorrowedFd<'_>, path: &str) -> Result<Option<OwnedFd>> {
    match open_in_root(root, path, OFlag::O_PATH, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind == crate::error::Kind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the file `path` inside the root if missing (parents included) and opens it.
fn ensure_file(root: BorrowedFd<'_>, path: &str) -> Result<OwnedFd> {
    if let Some(parent) = Path::new(path).parent().and_then(Path::to_str) {
        mkdir_all_in_root(root, parent, dir_mode())?;
    }
    open_in_root(root, path, OFlag::O_CREAT | OFlag::O_RDONLY, Mode::from_bits_truncate(0o644))
        .ctx(|| format!("create mount point {path}"))
}

fn step(root: BorrowedFd<'_>, op: &Op) -> Result<()> {
    match op {
        Op::PrivateRoot | Op::Rootfs(_) => Ok(()),
        Op::Mount { target, fstype, flags, data } => {
            let dir = mkdir_all_in_root(root, target, dir_mode())?;
            let data = (!data.is_empty()).then_some(data.as_str());
            mount(Some(*fstype), &fd_path(dir.as_fd()), Some(*fstype), *flags, data)
                .ctx(|| format!("mount {fstype} on {target}"))
        }
        Op::Sysfs { flags } => {
            let dir = mkdir_all_in_root(root, "/sys", dir_mode())?;
            match mount(Some("sysfs"), &fd_path(dir.as_fd()), Some("sysfs"), *flags, None::<&str>) {
                Ok(()) => Ok(()),
                Err(nix::Error::EPERM) => {
                    bind(Path::new("/sys"), dir.as_fd(), "/sys")?;
                    remount_readonly(root, "/sys")
                }
                Err(e) => Err(Error::from(e).context("mount sysfs on /sys")),
            }
        }
        Op::Device { name, major, minor } => {
            let dev = open_in_root(root, "/dev", OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())?;
            let mode = Mode::from_bits_truncate(0o666);
            match mknodat(Some(dev.as_raw_fd()), *name, SFlag::S_IFCHR, mode, makedev(*major, *minor)) {
                Ok(()) => Ok(()),
                Err(nix::Error::EPERM) => {
                    let path = format!("/dev/{name}");
                    let node = ensure_file(root, &path)?;
                    bind(&Path::new("/dev").join(name), node.as_fd(), &path)
                }
                Err(e) => Err(Error::from(e).context(format!("mknod /dev/{name}"))),
            }
        }
        Op::Symlink { link, target } => {
            let p = Path::new(link);
            let (Some(parent), Some(name)) = (p.parent().and_then(Path::to_str), p.file_name()) else {
                return Err(Error::system(format!("symlink {link}: bad path")));
            };
            let dir = open_in_root(root, parent, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())?;
            match nix::unistd::symlinkat(*target, Some(dir.as_raw_fd()), name) {
                Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
                Err(e) => Err(Error::from(e).context(format!("symlink {link} -> {target}"))),
            }
        }
        Op::Bind { source, target, readonly } => {
            let meta = std::fs::metadata(source).ctx(|| format!("bind mount source {}", source.display()))?;
            let dst = if meta.is_dir() {
                mkdir_all_in_root(root, target, dir_mode())?
            } else {
                ensure_file(root, target)?
            };
            bind(source, dst.as_fd(), target)?;
            if *readonly {
                remount_readonly(root, target)?;
            }
            Ok(())
        }
        Op::Mask(path) => {
            let Some(fd) = open_existing(root, path)? else { return Ok(()) };
            let st = fstat(fd.as_raw_fd()).ctx(|| format!("stat {path}"))?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                mount(Some("tmpfs"), &fd_path(fd.as_fd()), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
                    .ctx(|| format!("mask {path} (tmpfs)"))
            } else {
                bind(Path::new("/dev/null"), fd.as_fd(), path).ctx(|| format!("mask {path}"))
            }
        }
        Op::ReadOnly(path) => {
            let Some(fd) = open_existing(root, path)? else { return Ok(()) };
            mount(Some(&fd_path(fd.as_fd())), &fd_path(fd.as_fd()), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .ctx(|| format!("bind {path} on itself"))?;
            remount_readonly(root, path)
        }
        Op::RootReadonly => {
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept_flags(root);
            mount(None::<&str>, &fd_path(root), None::<&str>, flags, None::<&str>).ctx(|| "remount the rootfs read-only")
        }
        Op::PivotRoot => pivot(root),
    }
}

/// runc's pivot_root(".", ".") trick: no directory for the old root is needed inside the
/// new one. Afterwards the old root is stacked on top of the new root at "/", and a lazy
/// unmount of "." takes it away, leaving the new root with nothing of the host reachable.
fn pivot(root: BorrowedFd<'_>) -> Result<()> {
    nix::unistd::fchdir(root.as_raw_fd()).ctx(|| "fchdir into the rootfs")?;
    nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root into the rootfs")?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount the old root")?;
    nix::unistd::chdir("/").ctx(|| "chdir to / after pivot_root")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::proto::{BindMount, Network, Process};

    pub fn spec() -> Spec {
        Spec {
            id: "c".repeat(64),
            rootfs: RootfsMount {
                fstype: "overlay".into(),
                source: "overlay".into(),
                data: "lowerdir=l,upperdir=u,workdir=w".into(),
                data_dir: Some("/var/lib/berth/overlay/x".into()),
                target: "/var/lib/berth/overlay/x/merged".into(),
                readonly: false,
            },
            mounts: vec![BindMount { source: "/data/hosts".into(), destination: "/etc/hosts".into(), readonly: true }],
            hostname: "abc".into(),
            process: Process {
                args: vec!["true".into()],
                env: vec![],
                cwd: "/".into(),
                user: String::new(),
                tty: false,
                open_stdin: false,
                stdin_once: false,
                console_size: (0, 0),
            },
            log_path: "/x.log".into(),
            run_dir: "/run/berth/c".into(),
            cgroups: vec![],
            network: Network::Loopback,
            masked_paths: vec!["/proc/kcore".into()],
            readonly_paths: vec!["/proc/sys".into()],
            shm_size: 64 << 20,
            capabilities: None,
            cgroup_writes: vec![],
        }
    }

    #[test]
    fn plan_follows_docker_defaults() {
        let s = spec();
        let ops = plan(&s);
        assert_eq!(ops[0], Op::PrivateRoot);
        assert_eq!(ops[1], Op::Rootfs(s.rootfs.clone()));
        let targets: Vec<&str> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Mount { target, .. } => Some(*target),
                Op::Sysfs { .. } => Some("/sys"),
                _ => None,
            })
            .collect();
        assert_eq!(targets, ["/proc", "/dev", "/dev/pts", "/sys", "/dev/mqueue", "/dev/shm"]);
        let shm = ops.iter().find(|o| matches!(o, Op::Mount { target: "/dev/shm", .. })).unwrap();
        assert_eq!(
            *shm,
            Op::Mount {
                target: "/dev/shm",
                fstype: "tmpfs",
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
                data: "mode=1777,size=67108864".into()
            }
        );
        assert!(ops.contains(&Op::Sysfs {
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        }));
        assert!(ops.contains(&Op::Device { name: "null", major: 1, minor: 3 }));
        assert!(ops.contains(&Op::Symlink { link: "/dev/ptmx", target: "pts/ptmx" }));
        // Order: devices and links, then the spec's binds, masks, read-only paths, pivot.
        let n = ops.len();
        assert_eq!(
            ops[n - 4..],
            [
                Op::Bind { source: "/data/hosts".into(), target: "/etc/hosts".into(), readonly: true },
                Op::Mask("/proc/kcore".into()),
                Op::ReadOnly("/proc/sys".into()),
                Op::PivotRoot,
            ]
        );
        assert!(!ops.contains(&Op::RootReadonly));
    }

    #[test]
    fn readonly_rootfs_is_remounted_before_pivot() {
        let mut s = spec();
        s.rootfs.readonly = true;
        let ops = plan(&s);
        assert_eq!(ops[ops.len() - 2..], [Op::RootReadonly, Op::PivotRoot]);
    }

    #[test]
    fn plan_without_rootfs_is_refused() {
        assert!(execute(&[Op::PivotRoot]).is_err());
    }
}
