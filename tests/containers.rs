//! Containers through the daemon and the berth CLI, on the real kernel: isolation, exit
//! codes, logs, stop/kill, removal, user/env/workdir, --rm, both storage drivers.

mod common;
use common::*;

fn run(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    let o = d.berth(&all);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

#[test]
fn isolation_is_real() {
    if !root_or_skip("isolation_is_real") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    // PID 1 is the command itself.
    let (code, out, err) = run(&d, &["bb", "sh", "-c", "echo $$"]);
    assert_eq!((code, out.trim()), (0, "1"), "stderr: {err}");
    // /proc shows only the container's processes: the shell alone (echo and the glob are
    // the shell's own).
    let (_, out, _) = run(&d, &["bb", "sh", "-c", "echo /proc/[0-9]*"]);
    assert_eq!(out.trim(), "/proc/1", "processes visible: {out}");
    // Host mounts are invisible: every mount point is the container's own (bind mounts
    // name their host source in the root field, as in Docker; the point is inside).
    let (_, out, _) = run(&d, &["bb", "cat", "/proc/self/mountinfo"]);
    let points: Vec<&str> = out.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    let allowed = ["/", "/proc", "/dev", "/sys", "/etc"];
    for p in &points {
        assert!(allowed.iter().any(|a| p == a || p.starts_with(&format!("{a}/"))), "host mount visible: {p}\n{out}");
        assert!(!p.starts_with("/tmp") && !p.starts_with("/work"), "host mount visible: {p}");
    }
    assert!(points.len() >= 8, "{out}");
    // The hostname is the container's: -h, else the short ID.
    let (_, out, _) = run(&d, &["-h", "boxname", "bb", "hostname"]);
    assert_eq!(out.trim(), "boxname");
    let id = d.ok(&["create", "bb", "hostname"]).trim().to_string();
    d.ok(&["start", id.as_str()]);
    d.ok(&["wait", id.as_str()]);
    assert_eq!(d.ok(&["logs", id.as_str()]).trim(), &id[..12]);
    // A new network namespace: with --network none only loopback, up; by default also
    // eth0 on the daemon's bridge.
    let ifaces = |args: &[&str]| -> Vec<String> {
        let (_, out, _) = run(&d, args);
        out.lines().skip(2).map(|l| l.split(':').next().unwrap_or("").trim().to_string()).collect()
    };
    assert_eq!(ifaces(&["--network", "none", "bb", "cat", "/proc/net/dev"]), ["lo"]);
    let mut all = ifaces(&["bb", "cat", "/proc/net/dev"]);
    all.sort();
    assert_eq!(all, ["eth0", "lo"]);
}

#[test]
fn exit_codes_propagate() {
    if !root_or_skip("exit_codes_propagate") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    assert_eq!(run(&d, &["bb", "sh", "-c", "exit 3"]).0, 3);
    assert_eq!(run(&d, &["bb", "true"]).0, 0);
    // Killed by a signal: 128 + signal. PID 1 of a namespace only dies of SIGKILL sent
    // from outside (it ignores signals it has no handler for).
    d.ok(&["run", "-d", "--name", "victim", "bb", "sleep", "100"]);
    d.ok(&["kill", "victim"]);
    assert_eq!(d.ok(&["wait", "victim"]).trim(), "137");
    // Start failures: 127 for a missing command, with the runtime's words.
    let (code, _, err) = run(&d, &["bb", "nonexistent-cmd"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, _, err) = run(&d, &["bb", "/etc"]);
    assert_eq!(code, 126, "{err}");
    // Output reaches the right streams.
    let o = d.berth(&["run", "--rm", "bb", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
}

/// Many `run`s at once: each sees its own output from the first byte (the client starts
/// the container as soon as its attach is answered, before the daemon may have registered
/// the stream), and generated names never collide.
#[test]
fn concurrent_runs_keep_their_output() {
    if !root_or_skip("concurrent_runs_keep_their_output") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    std::thread::scope(|s| {
        for t in 0..6 {
            let d = &d;
            s.spawn(move || {
                for i in 0..10 {
                    let word = format!("w{t}-{i}");
                    let (code, out, err) = run(d, &["bb", "echo", &word]);
                    assert_eq!((code, out.as_str()), (0, format!("{word}\n").as_str()), "{err}");
                }
            });
        }
    });
}

#[test]
fn logs_survive_the_container() {
    if !root_or_skip("logs_survive_the_container") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d.ok(&["run", "-d", "--name", "talker", "bb", "sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2"]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    assert_eq!(d.ok(&["wait", "talker"]).trim(), "0");
    let logs = d.berth(&["logs", "talker"]);
    assert_eq!(stdout(&logs), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    assert_eq!(stderr(&logs), "oops\n");
    // The tail counts lines of both streams.
    let tail2 = d.berth(&["logs", "--tail", "2", "talker"]);
    assert_eq!((stdout(&tail2).as_str(), stderr(&tail2).as_str()), ("line 5\n", "oops\n"));
    let ts = d.ok(&["logs", "-t", "--tail", "2", "talker"]);
    // 2026-11-28T19:12:14.151913362Z line 5
    let (stamp, rest) = ts.split_once(' ').expect("timestamp");
    assert!(stamp.ends_with('Z') && stamp.len() == 30, "{ts}");
    assert_eq!(rest, "line 5\n");
    // The json-file log is on disk in Docker's format.
    let log = std::fs::read_to_string(d.data_root().join("containers").join(id).join(format!("{id}-json.log"))).unwrap();
    assert!(log.starts_with("{\"log\":\"line 1\\n\",\"stream\":\"stdout\",\"time\":\""), "{log}");
    // Follow ends when the container stops.
    let id2 = d.ok(&["run", "-d", "bb", "sh", "-c", "echo a; sleep 1; echo b"]);
    let f = d.ok(&["logs", "-f", id2.trim()]);
    assert_eq!(f, "a\nb\n");
}

#[test]
fn stop_kills_a_process_ignoring_sigterm() {
    if !root_or_skip("stop_kills_a_process_ignoring_sigterm") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["run", "-d", "--name", "stubborn", "bb", "sh", "-c", "trap '' TERM; while :; do sleep 1; done"]);
    let t0 = std::time::Instant::now();
    d.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t0.elapsed();
    assert!(took >= std::time::Duration::from_millis(900), "stopped too early: {took:?}");
    let code = d.ok(&["inspect", "-f", "{{.State.ExitCode}} {{.State.Status}}", "stubborn"]);
    assert_eq!(code.trim(), "137 exited");
    // A polite process exits on SIGTERM with its own code.
    d.ok(&["run", "-d", "--name", "polite", "bb", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 1; done"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    d.ok(&["stop", "polite"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "polite"]).trim(), "7");
    // kill -s and kill.
    d.ok(&["run", "-d", "--name", "kk", "bb", "sleep", "100"]);
    d.ok(&["kill", "kk"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "kk"]).trim(), "false 137");
    // Stopping a stopped container is fine (304 → success).
    d.ok(&["stop", "kk"]);
}

#[test]
fn rm_removes_rootfs_log_and_rows() {
    if !root_or_skip("rm_removes_rootfs_log_and_rows") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let id = d.ok(&["create", "--name", "gone", "bb", "sh", "-c", "echo hi > /tmp/x"]).trim().to_string();
    d.ok(&["start", "gone"]);
    d.ok(&["wait", "gone"]);
    let dir = d.data_root().join("containers").join(&id);
    assert!(dir.exists());
    let layer_dirs = |d: &Daemon| -> usize {
        let mut n = 0;
        for driver in ["overlay", "vfs/dir"] {
            if let Ok(rd) = std::fs::read_dir(d.data_root().join(driver)) {
                n += rd.flatten().filter(|e| e.file_name().to_string_lossy() == id).count();
            }
        }
        n
    };
    assert_eq!(layer_dirs(&d), 1);
    // A running container is refused without -f.
    d.ok(&["run", "-d", "--name", "busy", "bb", "sleep", "100"]);
    let o = d.berth(&["rm", "busy"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("You cannot remove a running container"), "{}", stderr(&o));
    d.ok(&["rm", "-f", "busy"]);
    d.ok(&["rm", "gone"]);
    assert!(!dir.exists());
    assert_eq!(layer_dirs(&d), 0);
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    let (status, body) = d.request("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(status, 404, "{body}");
    // --rm removes the container when it exits.
    let o = d.berth(&["run", "--rm", "--name", "temp", "bb", "true"]);
    assert!(o.status.success());
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn user_env_workdir_entrypoint() {
    if !root_or_skip("user_env_workdir_entrypoint") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    assert_eq!(run(&d, &["-u", "nobody", "bb", "id", "-u"]).1.trim(), "65534");
    assert_eq!(run(&d, &["-u", "1234:5678", "bb", "sh", "-c", "echo $(id -u):$(id -g)"]).1.trim(), "1234:5678");
    let (code, _, err) = run(&d, &["-u", "ghost", "bb", "id"]);
    assert_ne!(code, 0);
    assert!(err.contains("unable to find user ghost"), "{err}");
    assert_eq!(run(&d, &["-e", "FOO=bar", "bb", "sh", "-c", "echo $FOO"]).1.trim(), "bar");
    let envfile = d.root.join("env.list");
    std::fs::write(&envfile, "# comment\nA=1\nB=two words\n").unwrap();
    assert_eq!(
        run(&d, &["--env-file", envfile.to_str().unwrap(), "bb", "sh", "-c", "echo $A-$B"]).1.trim(),
        "1-two words"
    );
    assert_eq!(run(&d, &["-w", "/made/here", "bb", "pwd"]).1.trim(), "/made/here");
    assert_eq!(run(&d, &["--entrypoint", "echo", "bb", "hello"]).1.trim(), "hello");
    // HOSTNAME and PATH are set like Docker sets them.
    let env = run(&d, &["-h", "hn", "bb", "env"]).1;
    assert!(env.contains("HOSTNAME=hn\n") && env.contains("PATH=/usr/local/sbin:"), "{env}");
}

fn basic_run(driver: &str) {
    let d = Daemon::start_with(Some(driver));
    assert!(d.ok(&["info", "-f", "{{.Driver}}"]).trim() == driver);
    d.import_busybox("bb");
    // Writes go to the container's own layer, not the image.
    let (code, out, err) = run(&d, &["bb", "sh", "-c", "echo changed > /bin/busybox-note; cat /bin/busybox-note"]);
    assert_eq!((code, out.as_str()), (0, "changed\n"), "{err}");
    let (_, out, _) = run(&d, &["bb", "sh", "-c", "ls /bin/busybox-note 2>&1 || true"]);
    assert!(out.contains("No such file"), "{out}");
}

#[test]
fn runs_on_overlay() {
    if !root_or_skip("runs_on_overlay") {
        return;
    }
    basic_run("overlay");
}

#[test]
fn runs_on_vfs() {
    if !root_or_skip("runs_on_vfs") {
        return;
    }
    basic_run("vfs");
}

#[test]
fn the_monitor_runs_from_a_sealed_copy() {
    if !root_or_skip("the_monitor_runs_from_a_sealed_copy") {
        return;
    }
    // CVE-2019-5736: nothing a container can reach maps the host's berth binary.
    let d = Daemon::start();
    d.import_busybox("bb");
    let before = std::fs::read(BERTH).unwrap();
    let id = d.ok(&["run", "-d", "bb", "sleep", "100"]).trim().to_string();
    let pids = std::fs::read_to_string(d.exec_root().join(&id).join("pids.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&pids).unwrap();
    let monitor = v["monitor"].as_i64().unwrap();
    let exe = std::fs::read_link(format!("/proc/{monitor}/exe")).unwrap();
    assert!(exe.to_string_lossy().starts_with("/memfd:"), "monitor runs {exe:?}");
    // Writing through /proc/PID/exe fails: the memfd is sealed (or busy).
    let w = std::fs::OpenOptions::new().write(true).open(format!("/proc/{monitor}/exe"));
    if let Ok(mut f) = w {
        use std::io::Write;
        assert!(f.write_all(b"pwned").is_err(), "wrote into the monitor's executable");
    }
    // A container that runs /proc/self/exe runs the sealed copy, not the host file.
    let _ = d.berth(&["run", "--rm", "--entrypoint", "/proc/self/exe", "bb", "version"]);
    d.ok(&["rm", "-f", &id]);
    assert_eq!(std::fs::read(BERTH).unwrap(), before);
}
