//! Root tests of the exec driver and the monitor against the real kernel: a busybox rootfs
//! in a temp dir, started through `ExecDriver::start` with its own exec root and cgroup
//! parent. The monitor is `berth monitor`, so the tests need the built berth binary next to
//! the test harness (target/<profile>/berth: run `cargo build` before `cargo test`), or
//! one named by $BERTH_TEST_BINARY; without it they say so and skip.

use super::*;
use crate::monitor::proto::{Network, Process, RootfsMount};
use crate::sys::cgroup;
use crate::testutil::TempDir;
use crate::util::jsonlog;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// $BERTH_TEST_BINARY, else target/<profile>/berth (from target/<profile>/deps/berth-<hash>).
fn berth_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_TEST_BINARY") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("berth");
    bin.is_file().then_some(bin)
}

struct Fixture {
    tmp: TempDir,
    rootfs: PathBuf,
    parent: String,
    driver: ExecDriver,
    started: RefCell<Vec<Spec>>,
}

impl Fixture {
    fn new(test: &str) -> Option<Fixture> {
        if !crate::testutil::is_root(test) {
            return None;
        }
        let Some(bin) = berth_binary() else {
            eprintln!("skipped {test}: target/<profile>/berth is missing (run `cargo build` first)");
            return None;
        };
        let tmp = TempDir::new(test);
        let rootfs = tmp.path().join("rootfs");
        for d in ["bin", "etc", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "cat", "sleep", "ls", "id", "hostname", "mount", "grep", "pwd", "tty", "stty", "true",
            "wc", "ps", "readlink", "touch",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let parent = format!("berth-test-{}", &crate::util::id::random_id()[..12]);
        let driver = ExecDriver::with_binary(&tmp.path().join("exec"), &bin).unwrap();
        Some(Fixture { tmp, rootfs, parent, driver, started: RefCell::new(Vec::new()) })
    }

    fn spec(&self, args: &[&str]) -> Spec {
        let id = crate::util::id::random_id();
        Spec {
            id: id.clone(),
            rootfs: RootfsMount {
                fstype: "bind".into(),
                source: self.rootfs.clone(),
                data: String::new(),
                data_dir: None,
                target: self.rootfs.clone(),
                readonly: false,
            },
            mounts: vec![],
            hostname: id[..12].to_string(),
            process: Process {
                args: args.iter().map(|a| a.to_string()).collect(),
                env: vec!["PATH=/bin".into()],
                cwd: "/".into(),
                user: String::new(),
                tty: false,
                open_stdin: false,
                stdin_once: false,
                console_size: (0, 0),
            },
            log_path: self.tmp.path().join(format!("{id}-json.log")),
            run_dir: self.driver.run_dir(&id),
            cgroups: cgroup::container_paths(&self.parent, &id).unwrap(),
            network: Network::Loopback,
            masked_paths: ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/acpi", "/proc/nothing"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            readonly_paths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            shm_size: 64 << 20,
            capabilities: Some(crate::sys::caps::compute(&[], &[]).unwrap()),
            cgroup_writes: cgroup::device_writes(
                &cgroup::hierarchies().unwrap(),
                &self.parent,
                &id,
                cgroup::DEFAULT_DEVICE_RULES,
            )
            .unwrap(),
        }
    }

    fn start(&self, spec: &Spec, attaches: Vec<AttachStream>) -> Result<Running> {
        self.started.borrow_mut().push(spec.clone());
        self.driver.start(spec, attaches, &mut |_| Ok(()))
    }

    /// Runs `spec` to its end; returns the exit status and the logged stdout and stderr.
    fn run(&self, spec: &Spec) -> (ExitStatus, String, String) {
        let running = self.start(spec, vec![]).unwrap();
        let status = running.watch.wait();
        let (out, err) = read_log(&spec.log_path);
        (status, out, err)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for spec in self.started.borrow().iter() {
            // A live monitor is asked to end its container; it then cleans up itself.
            if let Ok(watch) = self.driver.watch(&spec.id) {
                let _ = self.driver.kill(&spec.id, 9);
                watch.wait();
            } else if let Ok(pids) = std::fs::read_to_string(spec.run_dir.join(proto::PIDS_NAME)) {
                let v: serde_json::Value = serde_json::from_str(&pids).unwrap_or_default();
                for key in ["init", "monitor"] {
                    if let Some(pid) = v[key].as_i64() {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
                    }
                }
            }
            for c in &spec.cgroups {
                let _ = cgroup::remove(c);
            }
            self.driver.cleanup(&spec.id);
        }
        let _ = cgroup::remove_parent(&self.parent);
    }
}

fn read_log(path: &Path) -> (String, String) {
    let text = std::fs::read(path).unwrap_or_default();
    let (mut out, mut err) = (String::new(), String::new());
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e = jsonlog::decode(line).expect("every log line is json-file");
        let s = String::from_utf8_lossy(&e.log).into_owned();
        match e.stream {
            jsonlog::Stream::Stdout => out.push_str(&s),
            jsonlog::Stream::Stderr => err.push_str(&s),
        }
    }
    (out, err)
}

/// Reads 8-byte-framed attach output until end of stream: (stdout, stderr).
fn read_frames(conn: &mut UnixStream) -> (String, String) {
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    let mut rest = &all[..];
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let payload = String::from_utf8_lossy(&rest[8..8 + len]).into_owned();
        match rest[0] {
            1 => out.push_str(&payload),
            2 => err.push_str(&payload),
            other => panic!("bad stream byte {other}"),
        }
        rest = &rest[8 + len..];
    }
    assert!(rest.is_empty(), "trailing partial frame");
    (out, err)
}

#[test]
fn runs_a_container_and_logs_its_output() {
    let Some(f) = Fixture::new("exec_runs") else { return };
    let spec = f.spec(&["sh", "-c", "echo out; echo err >&2; echo pid=$$; hostname; printf partial; exit 3"]);
    let (status, out, err) = f.run(&spec);
    assert_eq!(status.code, 3, "{status:?}");
    assert!(status.error.is_empty());
    assert_eq!(out, format!("out\npid=1\n{}\npartial", &spec.id[..12]));
    assert_eq!(err, "err\n");
    // Everything the monitor made is gone but the exit record.
    assert!(!spec.run_dir.join(proto::SOCKET_NAME).exists());
    assert!(!spec.run_dir.join(proto::PIDS_NAME).exists());
    assert_eq!(f.driver.read_exit(&spec.id).unwrap(), status);
    for c in &spec.cgroups {
        assert!(!c.exists(), "{} left behind", c.display());
    }
    f.driver.cleanup(&spec.id);
    assert!(!spec.run_dir.exists());
}

#[test]
fn the_container_sees_only_itself() {
    let Some(f) = Fixture::new("exec_isolation") else { return };
    let script = "ls /proc | grep -c '^[0-9]*$'; cat /proc/self/mountinfo; echo ---; \
                  ls /dev; echo ---; cat /proc/kcore | wc -c; echo x > /proc/sys/kernel/hostname || echo ro-ok; \
                  cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ls /sys/class/net";
    let (status, out, err) = f.run(&f.spec(&["sh", "-c", script]));
    assert_eq!(status.code, 0, "{out}\n{err}");
    let parts: Vec<&str> = out.split("---\n").collect();
    let mut lines = parts[0].lines();
    // sh, ls and grep (the shell may exec ls... but never more than three).
    let count: usize = lines.next().unwrap().trim().parse().unwrap();
    assert!((1..=3).contains(&count), "{count} processes visible");
    let tmp = f.tmp.path().to_str().unwrap();
    for line in lines {
        let mount_point = line.split(' ').nth(4).unwrap();
        assert!(!mount_point.starts_with(tmp) && !mount_point.starts_with("/work"), "host mount visible: {line}");
    }
    for node in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd", "stdin"] {
        assert!(parts[1].lines().any(|l| l == node), "/dev/{node} missing: {}", parts[1]);
    }
    let tail: Vec<&str> = parts[2].lines().collect();
    assert_eq!(tail[0], "0", "/proc/kcore is masked");
    assert_eq!(tail[1], "ro-ok", "/proc/sys is read-only");
    assert_eq!(tail[3], "0x9", "lo is up (IFF_UP|IFF_LOOPBACK)");
    assert_eq!(tail[4], "lo", "only loopback in the new netns");
}

#[test]
fn user_and_working_directory() {
    let Some(f) = Fixture::new("exec_user") else { return };
    let mut spec = f.spec(&["sh", "-c", "id -u; id -g; pwd; echo $HOME; echo $PATH"]);
    spec.process.user = "nobody".into();
    spec.process.cwd = "/work/dir".into();
    spec.process.env = vec![];
    let (status, out, err) = f.run(&spec);
    assert_eq!(status.code, 0, "{err}");
    assert_eq!(out, "65534\n65534\n/work/dir\n/nonexistent\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    assert!(f.rootfs.join("work/dir").is_dir());

    let mut spec = f.spec(&["id"]);
    spec.process.user = "nosuchuser".into();
    let e = f.start(&spec, vec![]).err().expect("unknown user fails");
    assert_eq!(e.message, "unable to find user nosuchuser: no matching entries in passwd file");
}

#[test]
fn start_failures_use_dockers_words_and_clean_up() {
    let Some(f) = Fixture::new("exec_failures") else { return };
    let spec = f.spec(&["nope"]);
    let e = f.start(&spec, vec![]).err().expect("missing command fails");
    assert_eq!(e.message, "exec: \"nope\": executable file not found in $PATH");
    assert!(!spec.run_dir.exists());
    for c in &spec.cgroups {
        assert!(!c.exists());
    }
    let e = f.start(&f.spec(&["/nonexistent"]), vec![]).err().unwrap();
    assert_eq!(e.message, "exec: \"/nonexistent\": stat /nonexistent: no such file or directory");
    let e = f.start(&f.spec(&["/etc"]), vec![]).err().unwrap();
    assert_eq!(e.message, "exec: \"/etc\": permission denied");
    // Found and executable, but execve itself fails.
    std::fs::write(f.rootfs.join("bin/garbage"), "not a program").unwrap();
    std::fs::set_permissions(f.rootfs.join("bin/garbage"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let spec = f.spec(&["garbage"]);
    let e = f.start(&spec, vec![]).err().unwrap();
    assert_eq!(e.message, "exec: \"garbage\": exec format error");
    assert!(!spec.run_dir.exists());

    // before_go failing cancels the start.
    let spec = f.spec(&["true"]);
    f.started.borrow_mut().push(spec.clone());
    let e = f.driver.start(&spec, vec![], &mut |_| Err(Error::system("network setup failed"))).err().unwrap();
    assert_eq!(e.message, "network setup failed");
    assert!(!spec.run_dir.exists());
}

#[test]
fn attach_streams_frames_and_stdin() {
    let Some(f) = Fixture::new("exec_attach") else { return };
    let mut spec = f.spec(&["sh", "-c", "cat; echo done >&2"]);
    spec.process.open_stdin = true;
    spec.process.stdin_once = true;
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let attach = AttachStream { conn: theirs.into(), stdin: true, stdout: true, stderr: true, preread: b"early ".to_vec() };
    let running = f.start(&spec, vec![attach]).unwrap();
    mine.write_all(b"hello\n").unwrap();
    mine.shutdown(std::net::Shutdown::Write).unwrap();
    let (out, err) = read_frames(&mut mine);
    assert_eq!(out, "early hello\n");
    assert_eq!(err, "done\n");
    assert_eq!(running.watch.wait().code, 0);
}

#[test]
fn tty_containers_get_a_pty() {
    let Some(f) = Fixture::new("exec_tty") else { return };
    let mut spec = f.spec(&["sh", "-c", "tty; stty size; sleep 0.5; stty size"]);
    spec.process.tty = true;
    spec.process.console_size = (24, 80);
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let attach = AttachStream { conn: theirs.into(), stdin: false, stdout: true, stderr: true, preread: vec![] };
    let running = f.start(&spec, vec![attach]).unwrap();
    mine.shutdown(std::net::Shutdown::Write).unwrap();
    // Resize once the first size was printed.
    let mut raw = Vec::new();
    while !String::from_utf8_lossy(&raw).contains("24 80\r\n") {
        let mut buf = [0u8; 256];
        let n = mine.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended early: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
    f.driver.resize(&spec.id, 30, 100).unwrap();
    mine.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert_eq!(raw, "/dev/pts/0\r\n24 80\r\n30 100\r\n");
    assert_eq!(running.watch.wait().code, 0);
    let (out, _) = read_log(&spec.log_path);
    assert_eq!(out, "/dev/pts/0\r\n24 80\r\n30 100\r\n");
}

fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn containers_outlive_the_daemon_and_are_found_again() {
    let Some(f) = Fixture::new("exec_restart") else { return };
    let spec = f.spec(&["sleep", "1000"]);
    let running = f.start(&spec, vec![]).unwrap();
    let monitor = running.monitor_pid;
    // A second monitor for the same container refuses to take over.
    let e = f.driver.start(&spec, vec![], &mut |_| Ok(())).err().unwrap();
    assert_eq!(e.message, format!("container {} already has a running monitor", spec.id));
    f.driver.kill(&spec.id, 0).unwrap();

    // The monitor runs from a sealed memfd, never from the host's berth file.
    let exe = std::fs::read_link(format!("/proc/{monitor}/exe")).unwrap();
    assert!(exe.to_string_lossy().starts_with("/memfd:"), "{}", exe.display());
    let w = std::fs::OpenOptions::new().write(true).open(format!("/proc/{monitor}/exe"));
    assert!(w.and_then(|mut f| f.write_all(b"x")).is_err(), "the monitor binary is writable");
    eprintln!("monitor RSS: {} kB", rss_kb(monitor));

    // The daemon "restarts": its channel closes, the container runs on.
    drop(running);
    drop(f.driver.watch(&spec.id).unwrap());
    let again = ExecDriver::with_binary(&f.tmp.path().join("exec"), &berth_binary().unwrap()).unwrap();
    again.kill(&spec.id, 0).unwrap();
    let watch = again.watch(&spec.id).unwrap();
    // PID 1 ignores SIGTERM it has no handler for: only SIGKILL ends `sleep`.
    again.kill(&spec.id, 15).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    again.kill(&spec.id, 0).unwrap();
    again.kill(&spec.id, 9).unwrap();
    let status = watch.wait();
    assert_eq!(status.code, 137);
    assert!(again.kill(&spec.id, 9).is_err());
    assert_eq!(again.read_exit(&spec.id).unwrap().code, 137);
    // The monitor exits right after telling (a zombie until its new parent reaps it).
    let gone = (0..100).any(|_| {
        let stat = std::fs::read_to_string(format!("/proc/{monitor}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next()).unwrap_or(None);
        if matches!(state, None | Some('Z')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
        false
    });
    assert!(gone, "monitor {monitor} still running");
}

#[test]
fn capabilities_and_devices_are_docker_defaults() {
    let Some(f) = Fixture::new("exec_caps") else { return };
    // The bounding set holds exactly Docker's 14 capabilities (minus any the host lacks);
    // a block device cannot be opened even after mknod succeeds (device cgroup), on v1.
    let script = "grep CapBnd /proc/self/status; mknod /tmp/sda b 8 0 && (head -c1 /tmp/sda >/dev/null 2>&1 && echo read-ok || echo read-denied);                   hostname other 2>/dev/null && echo sethostname-ok || echo sethostname-denied";
    let (status, out, err) = f.run(&f.spec(&["sh", "-c", script]));
    assert_eq!(status.code, 0, "{out}\n{err}");
    let bnd = out.lines().next().unwrap().split_whitespace().nth(1).unwrap();
    let want = crate::sys::caps::mask(&crate::sys::caps::compute(&[], &[]).unwrap()) & crate::sys::caps::permitted();
    assert_eq!(u64::from_str_radix(bnd, 16).unwrap(), want, "{out}");
    assert!(out.contains("sethostname-denied"), "CAP_SYS_ADMIN kept: {out}");
    if !cgroup::is_v2() {
        assert!(out.contains("read-denied"), "device cgroup lets a disk through: {out}");
    }
    // --privileged keeps what the monitor holds.
    let mut spec = f.spec(&["sh", "-c", "grep CapBnd /proc/self/status"]);
    spec.capabilities = None;
    spec.cgroup_writes.clear();
    let (_, out, _) = f.run(&spec);
    let bnd = out.split_whitespace().nth(1).unwrap();
    assert_eq!(u64::from_str_radix(bnd, 16).unwrap(), crate::sys::caps::permitted());
}

#[test]
fn network_modes() {
    let Some(f) = Fixture::new("exec_network") else { return };
    let mut spec = f.spec(&["ls", "/sys/class/net"]);
    spec.network = Network::Host;
    let (status, out, err) = f.run(&spec);
    assert_eq!(status.code, 0, "{err}");
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(host.iter().all(|i| out.lines().any(|l| l == i)), "host interfaces {host:?}, container saw {out}");

    // A second container joins the first one's network namespace.
    let first = f.spec(&["sleep", "1000"]);
    let running = f.start(&first, vec![]).unwrap();
    let ns = PathBuf::from(format!("/proc/{}/ns/net", running.pid));
    let mut spec = f.spec(&["readlink", "/proc/self/ns/net"]);
    spec.network = Network::Join(ns.clone());
    let (status, out, err) = f.run(&spec);
    assert_eq!(status.code, 0, "{err}");
    assert_eq!(out.trim(), std::fs::read_link(&ns).unwrap().to_str().unwrap());
    f.driver.kill(&first.id, 9).unwrap();
    assert_eq!(running.watch.wait().code, 137);
}

#[test]
fn a_killed_monitor_takes_its_container_along() {
    let Some(f) = Fixture::new("exec_monitor_killed") else { return };
    let spec = f.spec(&["sleep", "1000"]);
    let running = f.start(&spec, vec![]).unwrap();
    let init = nix::unistd::Pid::from_raw(running.pid);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.monitor_pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let status = running.watch.wait();
    assert_eq!(status.code, 137);
    assert_eq!(status.error, "monitor exited without recording the exit status");
    // PR_SET_PDEATHSIG: the init dies with its monitor.
    let gone = (0..100).any(|_| {
        let alive = std::fs::read_to_string(format!("/proc/{init}/stat"))
            .map(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
            .unwrap_or(false);
        if alive {
            std::thread::sleep(Duration::from_millis(20));
        }
        !alive
    });
    assert!(gone, "container init {init} outlived its monitor");
    assert!(matches!(f.driver.kill(&spec.id, 9), Err(e) if e.kind == Kind::NotFound));
}

#[test]
fn readonly_rootfs_and_bind_mounts() {
    let Some(f) = Fixture::new("exec_binds") else { return };
    let host_file = f.tmp.path().join("hostname");
    std::fs::write(&host_file, "from-host\n").unwrap();
    let host_dir = f.tmp.path().join("data");
    std::fs::create_dir_all(&host_dir).unwrap();
    let mut spec = f.spec(&[
        "sh",
        "-c",
        "cat /etc/hostname; (echo x > /etc/hostname) 2>/dev/null || echo ro-file; \
         touch /newfile 2>/dev/null || echo ro-root; echo hi > /deep/data/f && echo rw-dir; \
         echo y > /dev/shm/z && echo shm-ok",
    ]);
    spec.rootfs.readonly = true;
    spec.mounts = vec![
        crate::monitor::proto::BindMount { source: host_file.clone(), destination: "/etc/hostname".into(), readonly: true },
        crate::monitor::proto::BindMount { source: host_dir.clone(), destination: "/deep/data".into(), readonly: false },
    ];
    let (status, out, err) = f.run(&spec);
    assert_eq!(status.code, 0, "{err}");
    assert_eq!(out, "from-host\nro-file\nro-root\nrw-dir\nshm-ok\n");
    assert_eq!(std::fs::read_to_string(host_dir.join("f")).unwrap(), "hi\n");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "from-host\n");
}
