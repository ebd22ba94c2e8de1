//! cgroupfs, v1, v2 and hybrid: finding the mounted hierarchies (from mountinfo), naming a
//! container's directories in them, creating those directories (v1 cpuset needs its cpus and
//! mems filled in before a task may join), moving a process in, and removing them. Only
//! files under cgroupfs are touched; limits (memory, cpu shares, devices) come later and
//! will be written as (file, value) plans by their own code.

use crate::error::{Context, Error, Result};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted ("/sys/fs/cgroup/memory", or "/sys/fs/cgroup" for v2).
    pub mount: PathBuf,
    /// true for cgroup2.
    pub unified: bool,
    /// v1 controllers bound to it ("cpu", "cpuacct", "name=systemd"); empty for v2.
    pub controllers: Vec<String>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup hierarchies in a /proc/self/mountinfo text, in mount order; a hierarchy
/// mounted twice (same device) is listed once, at its first mount point.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut seen_devices: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        // id parent major:minor root mountpoint options [optional...] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let unified = match r[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        if seen_devices.iter().any(|d| d == l[2]) {
            continue;
        }
        seen_devices.push(l[2].to_string());
        let controllers = if unified {
            Vec::new()
        } else {
            r[2].split(',')
                .filter(|o| !matches!(*o, "rw" | "ro" | "noprefix" | "xattr" | "clone_children") && !o.starts_with("release_agent="))
                .map(str::to_string)
                .collect()
        };
        out.push(Hierarchy { mount: PathBuf::from(unescape(l[4])), unified, controllers });
    }
    out
}

/// The hierarchies mounted in the caller's mount namespace.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// A relative cgroup path with only normal components ("berth", "system.slice/berth").
fn check_relative(what: &str, p: &str) -> Result<PathBuf> {
    let path = Path::new(p.trim_start_matches('/'));
    let ok = !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(Error::invalid(format!("cgroup {what} {p:?} must be a plain relative path")));
    }
    Ok(path.to_path_buf())
}

/// The cgroup directories of container `id` under `parent` in the given hierarchies: one
/// per v1 hierarchy (including name=systemd) and the unified one (v2, or hybrid's empty
/// unified hierarchy, where it only groups the container's processes).
pub fn paths_in(hierarchies: &[Hierarchy], parent: &str, id: &str) -> Result<Vec<PathBuf>> {
    let parent = check_relative("parent", parent)?;
    let id = check_relative("name", id)?;
    if hierarchies.is_empty() {
        return Err(Error::system("no cgroup hierarchy is mounted"));
    }
    Ok(hierarchies.iter().map(|h| h.mount.join(&parent).join(&id)).collect())
}

/// `paths_in` for the hierarchies mounted here: what the daemon puts in `Spec.cgroups`.
pub fn container_paths(parent: &str, id: &str) -> Result<Vec<PathBuf>> {
    paths_in(&hierarchies()?, parent, id)
}

/// Docker's default device allowlist (v1 `devices.allow` syntax): mknod of anything, and
/// read/write/mknod of the nodes a container's /dev holds: null, zero, full, random,
/// urandom, tty, console, ptmx, the pts devices, and /dev/net/tun.
pub const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
];

/// The writes that confine a container's devices to `rules` in the v1 devices hierarchy:
/// deny everything, then allow each rule. Empty where there is no v1 devices controller
/// (cgroup v2 controls devices with an eBPF program instead, which berth does not load
/// yet).
pub fn device_writes(hierarchies: &[Hierarchy], parent: &str, id: &str, rules: &[&str]) -> Result<Vec<(PathBuf, String)>> {
    let parent = check_relative("parent", parent)?;
    let id = check_relative("name", id)?;
    let mut out = Vec::new();
    for h in hierarchies.iter().filter(|h| h.controllers.iter().any(|c| c == "devices")) {
        let dir = h.mount.join(&parent).join(&id);
        out.push((dir.join("devices.deny"), "a".to_string()));
        for r in rules {
            out.push((dir.join("devices.allow"), r.to_string()));
        }
    }
    Ok(out)
}

/// True on a pure cgroup v2 host (one unified hierarchy), false for v1 and hybrid.
pub fn is_v2() -> bool {
    hierarchies().map(|h| h.len() == 1 && h[0].unified).unwrap_or(false)
}

/// Removes `parent` from every hierarchy where it exists and is empty (daemon shutdown,
/// tests). A parent still holding containers is left alone.
pub fn remove_parent(parent: &str) -> Result<()> {
    let parent = check_relative("parent", parent)?;
    for h in hierarchies()? {
        let dir = h.mount.join(&parent);
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EBUSY | libc::ENOTEMPTY)) => {}
            Err(e) => return Err(Error::from(e).context(format!("remove cgroup {}", dir.display()))),
        }
    }
    Ok(())
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// v1 cpuset refuses tasks while cpuset.cpus or cpuset.mems is empty, and a new directory
/// starts empty: copy the parent's values down. v2 (a cgroup.controllers file exists)
/// inherits by itself and is left alone.
fn init_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else { return Ok(()) };
    if !parent.join("cpuset.cpus").exists() || parent.join("cgroup.controllers").exists() {
        return Ok(());
    }
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read_trimmed(&dir.join(file)).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let value = read_trimmed(&parent.join(file)).unwrap_or_default();
        std::fs::write(dir.join(file), &value)
            .ctx(|| format!("write {value:?} to {file} of {}", dir.display()))?;
    }
    Ok(())
}

/// Creates cgroup directory `dir` and its missing parents, preparing each for tasks.
pub fn create(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.is_dir() {
        missing.push(cur);
        cur = match cur.parent() {
            Some(p) => p,
            None => break,
        };
    }
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::from(e).context(format!("create cgroup {}", d.display()))),
        }
    }
    // Also the existing ancestors: a parent left half-made by a crash is repaired here.
    let mut chain: Vec<&Path> = dir.ancestors().collect();
    chain.reverse();
    for d in chain {
        init_cpuset(d)?;
    }
    Ok(())
}

/// Moves process `pid` (all its threads) into cgroup `dir`.
pub fn add_process(dir: &Path, pid: i32) -> Result<()> {
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())
        .ctx(|| format!("add pid {pid} to cgroup {}", dir.display()))
}

/// Removes an empty cgroup directory. Right after its last task was reaped the kernel may
/// still answer EBUSY for a moment, so that is retried for up to a second.
pub fn remove(dir: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(Error::from(e).context(format!("remove cgroup {}", dir.display()))),
        }
    }
}

/// True when the kernel's OOM killer killed a task in cgroup `dir` (v1 memory.oom_control
/// or v2 memory.events, both count `oom_kill`).
pub fn oom_killed(dir: &Path) -> bool {
    ["memory.events", "memory.oom_control"].iter().any(|f| {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        text.lines().any(|l| {
            l.strip_prefix("oom_kill ").and_then(|n| n.trim().parse::<u64>().ok()).is_some_and(|n| n > 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_allowlist_goes_to_the_devices_hierarchy() {
        let hs = parse_mountinfo(
            "30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             31 25 0:27 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n",
        );
        let w = device_writes(&hs, "berth", "abc", &["c 1:3 rwm"]).unwrap();
        assert_eq!(
            w,
            vec![
                (PathBuf::from("/sys/fs/cgroup/devices/berth/abc/devices.deny"), "a".to_string()),
                (PathBuf::from("/sys/fs/cgroup/devices/berth/abc/devices.allow"), "c 1:3 rwm".to_string()),
            ]
        );
        let v2 = parse_mountinfo("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert!(device_writes(&v2, "berth", "abc", DEFAULT_DEVICE_RULES).unwrap().is_empty());
    }
    use crate::testutil::TempDir;

    const HYBRID: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
90 31 0:31 / /mnt/odd\\040dir rw,relatime - cgroup cgroup rw,cpuset
";

    #[test]
    fn parses_hybrid_mountinfo() {
        let h = parse_mountinfo(HYBRID);
        let mounts: Vec<_> = h.iter().map(|h| h.mount.to_str().unwrap()).collect();
        assert_eq!(
            mounts,
            ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]
        );
        assert_eq!(h[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(h[2].controllers, ["name=systemd"]);
        assert!(h[3].unified && !h[0].unified);
        let p = paths_in(&h, "berth", "abc").unwrap();
        assert_eq!(p[1], Path::new("/sys/fs/cgroup/cpuset/berth/abc"));
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn parses_unified_mountinfo_and_escapes() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n\
                    31 23 0:40 / /mnt/my\\040cg rw - cgroup cgroup rw,pids\n";
        let h = parse_mountinfo(text);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], Hierarchy { mount: "/sys/fs/cgroup".into(), unified: true, controllers: vec![] });
        assert_eq!(h[1].mount, Path::new("/mnt/my cg"));
    }

    #[test]
    fn refuses_escaping_names() {
        let h = parse_mountinfo(HYBRID);
        assert!(paths_in(&h, "../x", "id").is_err());
        assert!(paths_in(&h, "berth", "a/../../b").is_err());
        assert!(paths_in(&h, "", "id").is_err());
        assert!(paths_in(&[], "berth", "id").is_err());
        assert_eq!(paths_in(&h, "/berth/sub", "id").unwrap()[0], Path::new("/sys/fs/cgroup/cpu,cpuacct/berth/sub/id"));
    }

    #[test]
    fn create_copies_cpuset_down_a_fake_tree() {
        let t = TempDir::new("cgroup-cpuset");
        let root = t.path().join("cpuset");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(root.join("cpuset.mems"), "0\n").unwrap();
        let leaf = root.join("berth/abc");
        create(&leaf).unwrap();
        for d in [root.join("berth"), leaf.clone()] {
            assert_eq!(std::fs::read_to_string(d.join("cpuset.cpus")).unwrap(), "0-3");
            assert_eq!(std::fs::read_to_string(d.join("cpuset.mems")).unwrap(), "0");
        }
        // A value already set is kept.
        std::fs::write(leaf.join("cpuset.cpus"), "1").unwrap();
        create(&leaf).unwrap();
        assert_eq!(std::fs::read_to_string(leaf.join("cpuset.cpus")).unwrap(), "1");
        // v2 directories are left alone.
        let v2 = t.path().join("unified");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "cpuset memory\n").unwrap();
        std::fs::write(v2.join("cpuset.cpus"), "").unwrap();
        create(&v2.join("berth")).unwrap();
        assert!(!v2.join("berth/cpuset.cpus").exists());
    }

    #[test]
    fn oom_counters() {
        let t = TempDir::new("cgroup-oom");
        assert!(!oom_killed(t.path()));
        std::fs::write(t.path().join("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").unwrap();
        assert!(!oom_killed(t.path()));
        std::fs::write(t.path().join("memory.events"), "low 0\noom 1\noom_kill 2\n").unwrap();
        assert!(oom_killed(t.path()));
    }

    #[test]
    fn real_cgroup_lifecycle() {
        if !crate::testutil::is_root("real_cgroup_lifecycle") {
            return;
        }
        let parent = format!("berth-test-{}", &crate::util::id::random_id()[..12]);
        struct Cleanup(String, Vec<PathBuf>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                for p in &self.1 {
                    let _ = remove(p);
                }
                let _ = remove_parent(&self.0);
            }
        }
        let paths = container_paths(&parent, "c1").unwrap();
        let guard = Cleanup(parent.clone(), paths.clone());
        for p in &paths {
            create(p).unwrap();
            assert!(p.is_dir());
        }
        for p in &paths {
            remove(p).unwrap();
        }
        remove_parent(&parent).unwrap();
        for h in hierarchies().unwrap() {
            assert!(!h.mount.join(&parent).exists());
        }
        drop(guard);
    }
}
