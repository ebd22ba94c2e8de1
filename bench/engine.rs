//! `make bench`: berth's performance figures, measured on this machine against its own
//! daemon on scratch roots, with the baselines printed beside them in the same run.
//! - `berth run --rm IMAGE true` end to end (median of N), next to a bare
//!   `unshare -fpmiun chroot ROOTFS /bin/true`.
//! - daemon idle RSS, one monitor's RSS, the static binary's size.
//! - `GET /containers/json` with 20 running containers over one keep-alive connection
//!   (median and p99 latency).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "stats.rs"]
mod stats;
use stats::*;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}


fn time_runs(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Sends `GET path` on a keep-alive connection and reads one whole response.
fn get(conn: &mut BufReader<UnixStream>, path: &str) -> usize {
    let req = format!("GET {path} HTTP/1.1\r\nHost: berth\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes()).expect("write");
    let mut len = None;
    let mut chunked = false;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).expect("read head");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse::<usize>().ok();
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if let Some(n) = len {
        let mut body = vec![0u8; n];
        conn.read_exact(&mut body).expect("body");
        return n;
    }
    assert!(chunked, "response without length");
    let mut total = 0;
    loop {
        line.clear();
        conn.read_line(&mut line).expect("chunk size");
        let n = usize::from_str_radix(line.trim(), 16).expect("chunk size");
        let mut chunk = vec![0u8; n + 2];
        conn.read_exact(&mut chunk).expect("chunk");
        total += n;
        if n == 0 {
            return total;
        }
    }
}

fn main() {
    if !root_or_skip("bench") {
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let d = Daemon::start();
    d.import_busybox("bench/busybox");
    let host = d.host();
    println!("berth benchmarks ({} cores, kernel {})", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default());
    println!("binary: {}", bin());
    println!("storage driver: {}", d.ok(&["info", "-f", "{{.Driver}}"]).trim());

    // Idle daemon RSS, before containers exist.
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_kib(d.pid());

    // run --rm true, end to end.
    for _ in 0..3 {
        d.ok(&["run", "--rm", "bench/busybox", "true"]);
    }
    let run = time_runs(runs, || {
        let st = Command::new(bin())
            .args(["-H", &host, "run", "--rm", "bench/busybox", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("berth run");
        assert!(st.success());
    });
    // The floor: namespaces + chroot with nothing else (util-linux unshare).
    let rootfs = d.root.join("rootfs-src");
    let unshare = time_runs(runs, || {
        let st = Command::new("unshare")
            .args(["-fpmiun", "chroot"])
            .arg(&rootfs)
            .arg("/bin/true")
            .status()
            .expect("unshare");
        assert!(st.success());
    });
    println!();
    println!("run --rm true, {runs} runs (target median <= 25 ms):");
    println!("  berth run --rm IMAGE true        median {}  p90 {}  min {}", ms(percentile(&run, 0.5)), ms(percentile(&run, 0.9)), ms(run[0]));
    println!("  unshare -fpmiun chroot DIR true  median {}  p90 {}  min {}", ms(percentile(&unshare, 0.5)), ms(percentile(&unshare, 0.9)), ms(unshare[0]));

    // 20 running containers; a monitor's RSS; list latency over keep-alive.
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(d.ok(&["run", "-d", "bench/busybox", "sleep", "1000"]).trim().to_string());
    }
    std::thread::sleep(Duration::from_millis(300));
    let pids = std::fs::read_to_string(d.exec_root().join(&ids[0]).join("pids.json")).unwrap_or_default();
    let monitor: i32 = serde_json::from_str::<serde_json::Value>(&pids)
        .ok()
        .and_then(|v| v["monitor"].as_i64())
        .unwrap_or(0) as i32;
    let monitor_rss = rss_kib(monitor);
    let stream = UnixStream::connect(&d.sock).expect("connect");
    let mut conn = BufReader::with_capacity(64 * 1024, stream);
    let body = get(&mut conn, "/v1.41/containers/json");
    for _ in 0..200 {
        get(&mut conn, "/v1.41/containers/json");
    }
    let n = 3000;
    let list = time_runs(n, || {
        get(&mut conn, "/v1.41/containers/json");
    });
    println!();
    println!("GET /containers/json, 20 running containers, one keep-alive connection, {n} requests ({body} bytes each):");
    println!("  median {}  p99 {}  (targets 0.3 ms / 1 ms)", ms(percentile(&list, 0.5)), ms(percentile(&list, 0.99)));

    println!();
    println!("memory (targets: daemon idle <= 10 MB, monitor <= 1.5 MB):");
    println!("  daemon idle RSS      {:.1} MB", idle_rss as f64 / 1024.0);
    println!("  one monitor RSS      {:.2} MB", monitor_rss as f64 / 1024.0);
    println!("  daemon RSS, 20 ctrs  {:.1} MB", rss_kib(d.pid()) as f64 / 1024.0);
    let static_bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release/berth");
    match std::fs::metadata(&static_bin) {
        Ok(m) => println!("  static binary        {:.1} MB ({})  (target <= 10 MB)", m.len() as f64 / 1e6, static_bin.display()),
        Err(_) => println!("  static binary        not built (make static)"),
    }
}
