//! The integration harness: each test gets its own berth daemon with its own data root,
//! exec root, socket and cgroup parent, drives the built binary like a user does, and
//! leaves nothing behind (containers, monitors, mounts, cgroups, files), also when the test
//! fails (cleanup runs in Drop).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// The binary the harness runs: $BERTH_BIN (the benchmark sets it to the static build),
/// else the one cargo built for this test run.
pub fn bin() -> String {
    std::env::var("BERTH_BIN").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| BERTH.to_string())
}

/// Skips (with a message) unless we are root: the tests need real namespaces and mounts.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped {test}: integration tests need root");
        false
    }
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).expect("urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub struct Daemon {
    pub root: PathBuf,
    pub sock: PathBuf,
    pub cgroup_parent: String,
    pub driver: String,
    /// This daemon's own default bridge, its address, its nf_tables table and the pool
    /// its user networks take subnets from: parallel tests never share a kernel name.
    pub bridge: String,
    pub bip: String,
    pub nft_table: String,
    pub pool: String,
    /// More daemon flags (e.g. --userland-proxy-only).
    pub extra: Vec<String>,
    child: Option<Child>,
}

/// A /24 for the default bridge and a /24 pool (cut into /28s) for user networks, unique
/// within this test binary (a counter) and apart from other binaries' (the pid); test
/// binaries run one after another, and 10.200-249/16 is no host route here.
fn test_subnets() -> (String, String) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 256;
    let b = 200 + std::process::id() % 25;
    (format!("10.{b}.{n}.1/24"), format!("base=10.{}.{n}.0/24,size=28", b + 25))
}

impl Daemon {
    /// Starts a daemon with the default storage driver choice.
    pub fn start() -> Daemon {
        Daemon::start_with(None)
    }

    pub fn start_with(driver: Option<&str>) -> Daemon {
        let id = random_suffix();
        Daemon::start_at(PathBuf::from(format!("/tmp/berth-it-{id}")), driver)
    }

    /// A daemon whose roots are all under `root` (which it removes when dropped).
    pub fn start_at(root: PathBuf, driver: Option<&str>) -> Daemon {
        Daemon::start_full(root, driver, &[])
    }

    /// A daemon with more flags.
    pub fn start_flags(extra: &[&str]) -> Daemon {
        let id = random_suffix();
        Daemon::start_full(PathBuf::from(format!("/tmp/berth-it-{id}")), None, extra)
    }

    fn start_full(root: PathBuf, driver: Option<&str>, extra: &[&str]) -> Daemon {
        let id = random_suffix();
        std::fs::create_dir_all(&root).expect("create test root");
        let (bip, pool) = test_subnets();
        let mut d = Daemon {
            sock: root.join("berth.sock"),
            cgroup_parent: format!("berth-it-{id}"),
            driver: driver.unwrap_or("").to_string(),
            bridge: format!("bt{}", &id[..8]),
            bip,
            nft_table: format!("berth_it_{id}"),
            pool,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            root,
            child: None,
        };
        d.spawn();
        d
    }

    pub fn data_root(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.root.join("exec")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// (Re)starts the daemon process on the same roots and waits until it answers.
    pub fn spawn(&mut self) {
        let mut cmd = Command::new(bin());
        cmd.arg("daemon")
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .arg("--log-level")
            .arg("debug")
            .args(["--bridge", &self.bridge, "--bip", &self.bip, "--nft-table", &self.nft_table])
            .args(["--default-address-pool", &self.pool])
            .args(&self.extra);
        if !self.driver.is_empty() {
            cmd.arg("--storage-driver").arg(&self.driver);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("daemon.log"))
            .expect("daemon log");
        cmd.stdin(Stdio::null()).stdout(log.try_clone().expect("log")).stderr(log);
        self.child = Some(cmd.spawn().expect("spawn daemon"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _)) = self.try_request("GET", "/_ping", None) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("daemon exited with {status} at start-up:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("daemon did not answer within 20 s:\n{}", self.log());
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// SIGKILL the daemon (containers keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM the daemon and wait for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM)
            .expect("SIGTERM daemon");
        c.wait().expect("wait daemon")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("daemon.log")).unwrap_or_default()
    }

    /// Runs the berth CLI against this daemon.
    pub fn berth(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth")
    }

    /// Runs the CLI with stdin from `input`.
    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(bin())
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run berth");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait berth");
        let _ = writer.join();
        out
    }

    /// Runs the CLI and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A raw HTTP/1.1 request on a fresh connection; returns (status, body).
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
        self.try_request(method, path, body).expect("request")
    }

    pub fn try_request(&self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<(u16, String)> {
        let mut s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = body.unwrap_or(b"");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        raw_response(&mut s)
    }

    /// Sends bytes as they are and reads the answer (for malformed requests).
    pub fn raw(&self, bytes: &[u8]) -> std::io::Result<(u16, String)> {
        let mut s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(bytes)?;
        raw_response(&mut s)
    }

    /// Imports a busybox rootfs (from Debian's busybox-static) as `name`.
    pub fn import_busybox(&self, name: &str) -> String {
        let tar = busybox_tar(&self.root);
        let out = self.berth(&["import", tar.to_str().expect("path"), name]);
        assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Reads one HTTP response to EOF (the requests ask for Connection: close) and decodes a
/// chunked body.
pub fn raw_response(s: &mut UnixStream) -> std::io::Result<(u16, String)> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {head:?}")))?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

pub fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// A tarball of a minimal busybox rootfs, built once per test root.
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox.tar");
    if tar.exists() {
        return tar;
    }
    let rootfs = dir.join("rootfs-src");
    for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
    }
    std::fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox"))
        .expect("copy /usr/bin/busybox (install busybox-static)");
    for applet in [
        "sh", "echo", "cat", "ls", "sleep", "id", "hostname", "ps", "true", "false", "env",
        "pwd", "mount", "touch", "grep", "wc", "head", "kill", "trap", "seq", "dd", "stat",
        "readlink", "test", "mkdir", "rm", "whoami", "printf", "yes", "date", "ip", "wget",
        "nc", "httpd", "ping", "ifconfig", "route",
    ] {
        let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        .expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    tar
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Remove every container through the daemon (stops monitors and cgroups).
            let ids = self.berth(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = self.berth(&["rm", "-f", id]);
            }
            if let Some(mut c) = self.child.take() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(c.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                let _ = c.wait();
            }
        }
        self.remove_network_leftovers();
        cleanup_leftovers(&self.root, &self.exec_root(), &self.cgroup_parent);
    }
}

impl Daemon {
    /// Bridges of this daemon's networks (read from its GraphDB: the daemon may be dead),
    /// its default bridge and its nf_tables tables. Tests may use `ip` and `nft` here.
    pub fn bridges(&self) -> Vec<String> {
        let mut out = vec![self.bridge.clone()];
        if let Ok(db) = rusqlite::Connection::open(self.data_root().join("berth.db")) {
            if let Ok(mut st) = db.prepare("SELECT spec FROM networks") {
                let specs: Vec<String> = st.query_map([], |r| r.get::<_, String>(0)).map(|rows| rows.flatten().collect()).unwrap_or_default();
                for spec in specs {
                    if let Some(b) = serde_json::from_str::<serde_json::Value>(&spec).ok().and_then(|v| v["bridge"].as_str().map(String::from)) {
                        if !b.is_empty() && !out.contains(&b) {
                            out.push(b);
                        }
                    }
                }
            }
        }
        out
    }

    fn remove_network_leftovers(&self) {
        for b in self.bridges() {
            let _ = Command::new("ip").args(["link", "del", &b]).stderr(Stdio::null()).status();
        }
        for family in ["ip", "bridge"] {
            let _ = Command::new("nft").args(["delete", "table", family, &self.nft_table]).stderr(Stdio::null()).status();
        }
    }
}

/// Kills monitors recorded under `exec_root`, unmounts anything under `root`, removes the
/// cgroup parent in every hierarchy and the test root.
pub fn cleanup_leftovers(root: &Path, exec_root: &Path, cgroup_parent: &str) {
    if let Ok(rd) = std::fs::read_dir(exec_root) {
        for e in rd.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path().join("pids.json")) {
                for key in ["\"init\":", "\"monitor\":"] {
                    if let Some(pid) = text.split(key).nth(1).and_then(|r| {
                        r.trim_start().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<i32>().ok())
                    }) {
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                    }
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let prefix = root.display().to_string();
    if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut points: Vec<String> = mi
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    remove_cgroups(cgroup_parent);
    let _ = std::fs::remove_dir_all(root);
}

/// rmdir the parent cgroup and everything below it, deepest first, in every hierarchy.
pub fn remove_cgroups(parent: &str) {
    let mut dirs = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            let p = h.path().join(parent);
            if p.is_dir() {
                collect_dirs(&p, &mut dirs);
            }
        }
    }
    let p = Path::new("/sys/fs/cgroup").join(parent);
    if p.join("cgroup.procs").exists() {
        collect_dirs(&p, &mut dirs);
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for d in dirs {
        for _ in 0..50 {
            match std::fs::remove_dir(&d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => {
                    // Kill what is still in it, then retry.
                    if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
                        for pid in procs.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn collect_dirs(p: &Path, out: &mut Vec<PathBuf>) {
    out.push(p.to_path_buf());
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub mod images;
pub mod proxy;
pub mod registry;
