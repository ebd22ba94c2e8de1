//! `make bench` (pull part): a 4-layer image (gzip level 6, about 120 MB here) pulled from
//! a registry on loopback by berth and by dockerd (Debian's docker.io), side by side in one
//! run. The layers: a Debian minbase rootfs (debootstrap, cached under
//! /var/cache/berth-bench); a 24 MiB incompressible file and 2000 small files; an opaque
//! directory and a whiteout; a tiny layer. Also the daemon's peak RSS during the pull, and
//! `images` latency with 200 images.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "stats.rs"]
mod stats;
use stats::*;

use common::images::{self, Entry};
use common::registry::{OciLayout, TestImage};
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CACHE: &str = "/var/cache/berth-bench";

fn sh(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false)
}

/// The minbase rootfs as an uncompressed tar (cached).
fn minbase_tar() -> Option<PathBuf> {
    let dir = Path::new(CACHE);
    let tar = dir.join("minbase.tar");
    if tar.exists() {
        return Some(tar);
    }
    std::fs::create_dir_all(dir).ok()?;
    let root = dir.join("minbase");
    if !root.join("etc/debian_version").exists() {
        eprintln!("building a Debian minbase rootfs with debootstrap (once; needs deb.debian.org)...");
        let ok = sh(Command::new("debootstrap").args(["--variant=minbase", "bookworm"]).arg(&root).arg("http://deb.debian.org/debian"));
        if !ok {
            return None;
        }
    }
    let tmp = dir.join("minbase.tar.tmp");
    if !sh(Command::new("tar").arg("-C").arg(&root).args(["--numeric-owner", "-cf"]).arg(&tmp).arg(".")) {
        return None;
    }
    std::fs::rename(&tmp, &tar).ok()?;
    Some(tar)
}

/// The benchmark image as an OCI layout (cached).
fn bench_layout() -> Option<PathBuf> {
    let layout = Path::new(CACHE).join("layout");
    if layout.join("index.json").exists() {
        return Some(layout);
    }
    let base = std::fs::read(minbase_tar()?).ok()?;
    let mut random = vec![0u8; 24 << 20];
    std::fs::File::open("/dev/urandom").ok()?.read_exact(&mut random).ok()?;
    let names: Vec<String> = (0..2000).map(|i| format!("srv/small/f{i:04}")).collect();
    let bodies: Vec<String> = (0..2000).map(|i| format!("small file {i}\n")).collect();
    let mut l2 = vec![Entry::Dir("srv"), Entry::Dir("srv/small"), Entry::File("srv/random.bin", &random, 0o644)];
    for (n, b) in names.iter().zip(&bodies) {
        l2.push(Entry::File(n, b.as_bytes(), 0o644));
    }
    let l2 = images::layer(&l2);
    let l3 = images::layer(&[Entry::Dir("usr/share/doc"), Entry::Opaque("usr/share/doc"), Entry::File("usr/share/doc/README", b"docs were here\n", 0o644), Entry::Whiteout("etc/motd")]);
    let l4 = images::layer(&[Entry::File("etc/bench-release", b"4\n", 0o644)]);
    let tmp = Path::new(CACHE).join("layout.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    OciLayout::write_with(&tmp, "1", &[TestImage::linux("amd64", vec![base, l2, l3, l4])], Some(6));
    std::fs::rename(&tmp, &layout).ok()?;
    Some(layout)
}

fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("blobs/sha256")).map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn peak_rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
        .unwrap_or(0)
}

/// A new, empty ext4 filesystem (a loop-mounted sparse file) for one engine's pull: the
/// host's filesystem carries the previous run's deletions (and may discard online), which
/// would make file creation — most of a pull's kernel time — noisy and unfair to whichever
/// engine runs next.
struct FreshFs {
    image: PathBuf,
    mount: PathBuf,
}

impl FreshFs {
    fn new(name: &str) -> Option<FreshFs> {
        let image = PathBuf::from(format!("/tmp/berth-bench-{name}-{}.img", std::process::id()));
        let mount = PathBuf::from(format!("/tmp/berth-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&mount).ok()?;
        let ok = sh(Command::new("truncate").args(["-s", "8G"]).arg(&image))
            && sh(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))
            && sh(Command::new("mount").args(["-o", "loop"]).arg(&image).arg(&mount));
        if !ok {
            let _ = std::fs::remove_file(&image);
            return None;
        }
        Some(FreshFs { image, mount })
    }
}

impl Drop for FreshFs {
    fn drop(&mut self) {
        // Anything still mounted inside (overlay mounts of dockerd) goes first.
        cleanup_leftovers(&self.mount.join("x"), &self.mount.join("none"), "berth-bench-none");
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir(&self.mount);
    }
}

/// One berth pull on a fresh daemon: (seconds, peak daemon RSS in KiB).
fn berth_pull(image: &str) -> (Duration, u64) {
    let fs = FreshFs::new("berth").expect("make a fresh ext4 filesystem (mkfs.ext4, loop devices)");
    let d = Daemon::start_at(fs.mount.join("root"), Some("overlay"));
    let t = Instant::now();
    let out = d.berth(&["pull", "-q", image]);
    let took = t.elapsed();
    assert!(out.status.success(), "berth pull failed: {}\n{}", stderr(&out), tail(&d.log(), 20));
    let rss = peak_rss_kib(d.pid());
    drop(d);
    drop(fs);
    (took, rss)
}

/// One dockerd pull on a fresh dockerd with its own roots.
fn dockerd_pull(image: &str) -> Option<Duration> {
    let fs = FreshFs::new("dockerd")?;
    let root = fs.mount.join("root");
    std::fs::create_dir_all(&root).ok()?;
    let sock = root.join("docker.sock");
    let mut child = Command::new("dockerd")
        .arg("-H").arg(format!("unix://{}", sock.display()))
        .arg("--data-root").arg(root.join("data"))
        .arg("--exec-root").arg(root.join("exec"))
        .arg("--pidfile").arg(root.join("docker.pid"))
        .args(["--bridge=none", "--iptables=false", "--ip-masq=false", "--storage-driver=overlay2"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(root.join("dockerd.log")).ok()?)
        .spawn()
        .ok()?;
    let host = format!("unix://{}", sock.display());
    let ready = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        sh(Command::new("docker").args(["-H", &host, "version"]))
    });
    let result = if ready {
        let t = Instant::now();
        let ok = sh(Command::new("docker").args(["-H", &host, "pull", "-q", image]));
        ok.then(|| t.elapsed())
    } else {
        None
    };
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
    // dockerd leaves its overlay mounts and containerd state behind on a fast stop.
    cleanup_leftovers(&root, &root.join("exec"), "berth-bench-none");
    drop(fs);
    result
}


fn main() {
    if !root_or_skip("pull bench") {
        return;
    }
    let Some(layout) = bench_layout() else {
        println!("pull bench skipped: could not build the minbase image (debootstrap needs deb.debian.org)");
        return;
    };
    let reg = registry::Registry::start();
    let image = format!("{}/bench/minbase:1", reg.addr);
    reg.skopeo_copy(&format!("oci:{}:1", layout.display()), "bench/minbase:1", None, false);
    let runs: usize = std::env::var("BENCH_PULL_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    println!("pull of {image}: 4 layers, {:.1} MB compressed, {runs} runs each", du(&layout) as f64 / 1e6);
    let mut berth = Vec::new();
    let mut peak = 0;
    let mut docker = Vec::new();
    let have_dockerd = Command::new("dockerd").arg("--version").stdout(Stdio::null()).status().is_ok();
    // Interleaved, each pull on its own fresh filesystem (FreshFs).
    let settle = || {
        let _ = Command::new("sync").status();
    };
    for _ in 0..runs {
        settle();
        let (t, rss) = berth_pull(&image);
        berth.push(t);
        peak = peak.max(rss);
        if have_dockerd {
            settle();
            if let Some(t) = dockerd_pull(&image) {
                docker.push(t);
            }
        }
    }
    println!("  berth pull    median {:.2} s  (runs: {:?})", median(berth.clone()).as_secs_f64(), berth.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect::<Vec<_>>());
    if docker.is_empty() {
        println!("  dockerd pull  not measured (install docker.io)");
    } else {
        let (b, dk) = (median(berth).as_secs_f64(), median(docker.clone()).as_secs_f64());
        println!("  dockerd pull  median {dk:.2} s  (runs: {:?})", docker.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect::<Vec<_>>());
        println!("  berth / dockerd = {:.2}  (target <= 0.5)", b / dk);
    }
    println!("  peak daemon RSS during a pull {:.1} MB  (target <= 50 MB)", peak as f64 / 1024.0);

    // images with 200 images.
    let d = Daemon::start();
    for i in 0..200 {
        // Each a different one-layer image: the busybox tree plus a file naming it.
        let id = format!("{i}\n");
        let t = images::busybox_layer_with(&[Entry::File("etc/id", id.as_bytes(), 0o644)]);
        let o = d.berth_stdin(&["import", "-", &format!("many/img{i}:1")], &t);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let (status, body) = d.request("GET", "/v1.41/images/json", None);
        times.push(t.elapsed());
        assert_eq!(status, 200);
        assert!(body.matches("\"Id\"").count() >= 200);
    }
    println!();
    println!("GET /images/json with 200 images: median {:.2} ms  (target <= 10 ms)", median(times).as_secs_f64() * 1000.0);
}
