//! `make bench`, networking: what the bridge driver costs, measured side by side on this
//! machine, against daemons on scratch roots with their own bridges and tables.
//! - `run --rm true` on the default bridge vs `--network none` (interleaved runs).
//! - Start latency of the 1st vs the 100th container on one bridge (`run -d`).
//! - TCP throughput (iperf3, host → container): to the container's address directly,
//!   through a published port on 127.0.0.1 (nf_tables DNAT), and through the userland proxy.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "stats.rs"]
mod stats;
use stats::*;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};



fn timed(d: &Daemon, args: &[&str]) -> Duration {
    let t = Instant::now();
    let st = Command::new(bin()).arg("-H").arg(d.host()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("berth");
    assert!(st.success(), "berth {args:?}");
    t.elapsed()
}

/// An image with busybox and the host's iperf3 with the libraries it links.
fn import_iperf(d: &Daemon) {
    let root = d.root.join("iperf-root");
    let tar = busybox_tar(&d.root);
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-xf").arg(&tar).status().unwrap().success());
    let ldd = Command::new("ldd").arg("/usr/bin/iperf3").output().expect("ldd (install iperf3)");
    let mut files = vec!["/usr/bin/iperf3".to_string()];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line.split("=>").last().unwrap_or("").split_whitespace().next().unwrap_or("");
        if path.starts_with('/') {
            files.push(path.to_string());
        }
    }
    for f in files {
        let dest = root.join(f.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    let out = d.root.join("iperf.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&out).arg(".").status().unwrap().success());
    d.ok(&["import", out.to_str().unwrap(), "bench/iperf"]);
}

/// Gbit/s from host to `addr:port`, 4 s, median of 3.
fn throughput(addr: &str, port: u16) -> f64 {
    let mut v: Vec<f64> = (0..3)
        .map(|_| {
            let out = Command::new("iperf3").args(["-c", addr, "-p", &port.to_string(), "-t", "4", "-J"]).output().expect("iperf3");
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let bps = j["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0);
            assert!(bps > 0.0, "iperf3 to {addr}:{port}: {}", String::from_utf8_lossy(&out.stdout));
            bps / 1e9
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[1]
}

fn wait_port(addr: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect((addr, port)).is_err() {
        assert!(Instant::now() < deadline, "{addr}:{port} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    if !root_or_skip("bench") {
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let d = Daemon::start();
    d.import_busybox("bench/busybox");
    println!("berth network benchmarks, binary {}", bin());

    // Bridge vs none, interleaved so both see the same machine.
    for _ in 0..3 {
        timed(&d, &["run", "--rm", "bench/busybox", "true"]);
        timed(&d, &["run", "--rm", "--network", "none", "bench/busybox", "true"]);
    }
    let (mut bridge, mut none) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        bridge.push(timed(&d, &["run", "--rm", "bench/busybox", "true"]));
        none.push(timed(&d, &["run", "--rm", "--network", "none", "bench/busybox", "true"]));
    }
    let (b, n) = (median(bridge), median(none));
    println!();
    println!("run --rm true, {runs} runs each (target: bridge adds <= 5 ms):");
    println!("  --network none   median {}", ms(n));
    println!("  default bridge   median {}", ms(b));
    println!("  bridge adds      {}", ms(b.saturating_sub(n)));

    // The 1st and the 100th container on one bridge. The kernel tears the namespaces of
    // the runs above down in the background for a while: let it finish first.
    std::thread::sleep(Duration::from_secs(3));
    let starts: Vec<Duration> = (0..100).map(|_| timed(&d, &["run", "-d", "bench/busybox", "sleep", "1000"])).collect();
    let first = median(starts[..10].to_vec());
    let last = median(starts[90..].to_vec());
    println!();
    println!("run -d on one bridge (median of containers 1-10 and 91-100; target 100th <= 1.2x 1st):");
    println!("  containers 1-10    {}", ms(first));
    println!("  containers 91-100  {}", ms(last));
    println!("  ratio              {:.2}", last.as_secs_f64() / first.as_secs_f64());
    let ids = d.ok(&["ps", "-q"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids);
    d.ok(&rm);

    // Throughput: direct, nf_tables DNAT, userland proxy.
    import_iperf(&d);
    d.ok(&["run", "-d", "--name", "iperf", "-p", "127.0.0.1::5201", "bench/iperf", "iperf3", "-s"]);
    let ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "iperf"]).trim().to_string();
    let port: u16 = d.ok(&["inspect", "-f", "{{(index (index .NetworkSettings.Ports \"5201/tcp\") 0).HostPort}}", "iperf"]).trim().parse().unwrap();
    wait_port(&ip, 5201);
    let direct = throughput(&ip, 5201);
    let nat = throughput("127.0.0.1", port);
    let p = Daemon::start_flags(&["--userland-proxy-only"]);
    import_iperf(&p);
    p.ok(&["run", "-d", "--name", "iperf", "-p", "127.0.0.1::5201", "bench/iperf", "iperf3", "-s"]);
    let pip = p.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "iperf"]).trim().to_string();
    let pport: u16 = p.ok(&["inspect", "-f", "{{(index (index .NetworkSettings.Ports \"5201/tcp\") 0).HostPort}}", "iperf"]).trim().parse().unwrap();
    wait_port(&pip, 5201);
    let proxied = throughput("127.0.0.1", pport);
    println!();
    println!("TCP throughput host -> container, iperf3 4 s, median of 3 (targets: DNAT >= 0.9x direct, proxy >= 0.5x):");
    println!("  direct to {ip:<15}  {direct:.2} Gbit/s");
    println!("  127.0.0.1:{port:<5} (DNAT)    {nat:.2} Gbit/s  ({:.2}x)", nat / direct);
    println!("  127.0.0.1:{pport:<5} (proxy)   {proxied:.2} Gbit/s  ({:.2}x)", proxied / direct);
}
