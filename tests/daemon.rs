//! The daemon itself: surviving SIGKILL with containers running, crash safety of import,
//! graceful stop, and the API's answers to bad input.

mod common;
use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn a_killed_daemon_restarts_and_still_manages_its_containers() {
    if !root_or_skip("a_killed_daemon_restarts_and_still_manages_its_containers") {
        return;
    }
    let mut d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["run", "-d", "--name", "ta", "bb", "sh", "-c", "while :; do echo tick; sleep 0.2; done"]);
    d.ok(&["run", "-d", "--name", "tb", "bb", "sh", "-c", "trap 'exit 5' TERM; while :; do sleep 1; done"]);
    d.ok(&["run", "-d", "--name", "tc", "bb", "sh", "-c", "sleep 1; exit 9"]);
    d.kill9();
    // While the daemon is away, c exits.
    std::thread::sleep(Duration::from_millis(1500));
    d.spawn();
    let running = d.ok(&["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = running.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["ta", "tb"], "ps after restart:\n{running}\n{}", tail(&d.log(), 30));
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "tc"]).trim(), "exited 9");
    // Logs keep flowing, stop and wait still work.
    let logs = d.ok(&["logs", "--tail", "1", "ta"]);
    assert_eq!(logs, "tick\n");
    d.ok(&["stop", "tb"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "tb"]).trim(), "5");
    let waiter = {
        let host = d.host();
        std::thread::spawn(move || {
            std::process::Command::new(BERTH).args(["-H", &host, "wait", "ta"]).output().unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    d.ok(&["kill", "ta"]);
    let w = waiter.join().unwrap();
    assert_eq!(stdout(&w).trim(), "137");
    // A graceful stop leaves running containers running.
    d.ok(&["run", "-d", "--name", "survivor", "bb", "sleep", "100"]);
    assert!(d.stop().success());
    d.spawn();
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Running}}", "survivor"]).trim(), "true");
}

#[test]
fn a_daemon_killed_during_import_leaves_no_half_image() {
    if !root_or_skip("a_daemon_killed_during_import_leaves_no_half_image") {
        return;
    }
    let mut d = Daemon::start();
    // A valid tar stream sent slowly: the daemon is killed while it is applying it.
    let tar = busybox_tar(&d.root);
    let bytes = std::fs::read(&tar).unwrap();
    let mut child = std::process::Command::new(BERTH)
        .args(["-H", &d.host(), "import", "-", "half:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    d.kill9();
    drop(stdin);
    let _ = child.wait();
    d.spawn();
    assert_eq!(d.ok(&["images", "-q"]).trim(), "");
    // Nothing of the layer is left on disk once the daemon has started again.
    for sub in ["overlay", "vfs/dir"] {
        if let Ok(rd) = std::fs::read_dir(d.data_root().join(sub)) {
            let left: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 64)
                .collect();
            assert!(left.is_empty(), "layer dirs left in {sub}: {left:?}");
        }
    }
    // And the next import works.
    d.import_busybox("whole:1");
    assert_eq!(d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).trim(), "whole:1");
}

#[test]
fn bad_input_gets_docker_codes_and_messages() {
    if !root_or_skip("bad_input_gets_docker_codes_and_messages") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let (s, b) = d.request("POST", "/v1.41/containers/create", Some(b"{bad json"));
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("\"message\""), "{b}");
    let (s, b) = d.request("GET", "/v1.41/containers/nope/json", None);
    assert_eq!((s, b.trim()), (404, "{\"message\":\"No such container: nope\"}"));
    let (s, b) = d.request("POST", "/v1.41/containers/create?name=twin", Some(br#"{"Image":"bb","Cmd":["true"]}"#));
    assert_eq!(s, 201, "{b}");
    let (s, b) = d.request("POST", "/v1.41/containers/create?name=twin", Some(br#"{"Image":"bb","Cmd":["true"]}"#));
    assert_eq!(s, 409, "{b}");
    assert!(b.contains("The container name \\\"/twin\\\" is already in use"), "{b}");
    let (s, b) = d.request("POST", "/v1.41/containers/create?name=bad/name", Some(br#"{"Image":"bb"}"#));
    assert_eq!(s, 400, "{b}");
    let (s, b) = d.request("POST", "/v1.41/containers/create", Some(br#"{"Image":"missing:1","Cmd":["true"]}"#));
    assert_eq!((s, b.trim()), (404, "{\"message\":\"No such image: missing:1\"}"));
    let (s, _) = d.request("POST", "/v1.41/containers/twin/kill?signal=NOSUCHSIG", None);
    assert_eq!(s, 400);
    let (s, _) = d.request("GET", "/v1.41/nowhere", None);
    assert_eq!(s, 404);
    let (s, b) = d.request("GET", "/v1.99/version", None);
    assert_eq!(s, 400, "{b}");
    // A non-tar import is refused with a message, and leaves nothing behind.
    let o = d.berth_stdin(&["import", "-", "junk"], b"this is not a tarball, not even close to one............");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("tar") || err.contains("archive"), "{err}");
    assert!(!d.ok(&["images"]).contains("junk"));
    // A request carrying both Transfer-Encoding and Content-Length is refused.
    let (s, _) = d
        .raw(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(s, 400);
    // The daemon is still fine.
    assert_eq!(d.request("GET", "/_ping", None), (200, "OK".to_string()));
}

#[test]
fn an_unknown_storage_driver_is_refused() {
    if !root_or_skip("an_unknown_storage_driver_is_refused") {
        return;
    }
    let root = std::path::PathBuf::from(format!("/tmp/berth-it-drv-{}", std::process::id()));
    let o = std::process::Command::new(BERTH)
        .arg("daemon")
        .arg("-H")
        .arg(format!("unix://{}/s.sock", root.display()))
        .arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .arg("--storage-driver")
        .arg("zfs-of-dreams")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("unknown storage driver \"zfs-of-dreams\""), "{err}");
}
