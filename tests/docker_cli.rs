//! The unmodified docker CLI (when one is on PATH) drives berth: version, info, images,
//! import, ps, create, start, run (foreground and -d), logs, stop, kill, wait, rm, inspect,
//! rmi, tag.

mod common;
use common::*;
use std::process::{Command, Output, Stdio};

fn docker_on_path() -> bool {
    Command::new("docker").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn docker(d: &Daemon, args: &[&str]) -> Output {
    Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root.join("docker-config"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = docker(d, args);
    assert!(
        o.status.success(),
        "docker {args:?}: {}\nstdout: {}\nstderr: {}\n{}",
        o.status,
        stdout(&o),
        stderr(&o),
        tail(&d.log(), 30)
    );
    stdout(&o)
}

#[test]
fn the_docker_cli_works_against_berth() {
    if !root_or_skip("the_docker_cli_works_against_berth") {
        return;
    }
    if !docker_on_path() {
        eprintln!("skipped the_docker_cli_works_against_berth: no docker CLI on PATH");
        return;
    }
    let d = Daemon::start();
    let v = ok(&d, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.trim(), "1.41");
    let info = ok(&d, &["info", "--format", "{{.Driver}} {{.OSType}}"]);
    assert!(info.trim().ends_with(" linux"), "{info}");

    let tar = busybox_tar(&d.root);
    let id = ok(&d, &["import", "-m", "via docker", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "dk/busybox:1"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    ok(&d, &["tag", "dk/busybox:1", "dk/busybox:latest"]);
    let images = ok(&d, &["images"]);
    assert!(images.starts_with("REPOSITORY"), "{images}");
    assert!(images.contains("dk/busybox") && images.contains(" 1 ") && images.contains("latest"), "{images}");
    let cmd = ok(&d, &["image", "inspect", "-f", "{{json .Config.Cmd}} {{.Comment}}", "dk/busybox:1"]);
    assert_eq!(cmd.trim(), "[\"sh\"] via docker");

    // Foreground run: output and exit status.
    let o = docker(&d, &["run", "--rm", "dk/busybox", "sh", "-c", "echo out; echo err >&2; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    // Start failure: 127 like dockerd.
    let o = docker(&d, &["run", "--rm", "dk/busybox", "no-such-binary"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));

    // Detached run, logs, stop, wait, inspect.
    let id = ok(&d, &["run", "-d", "--name", "dk1", "dk/busybox", "sh", "-c", "echo started; while :; do sleep 1; done"]);
    assert_eq!(id.trim().len(), 64);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ok(&d, &["logs", "dk1"]), "started\n");
    let ps = ok(&d, &["ps"]);
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    assert!(ps.contains("dk1") && ps.contains("Up "), "{ps}");
    ok(&d, &["stop", "-t", "1", "dk1"]);
    assert_eq!(ok(&d, &["wait", "dk1"]).trim(), "137");
    let st = ok(&d, &["inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Image}}", "dk1"]);
    assert_eq!(st.trim(), "exited /dk1 dk/busybox");
    let ps = ok(&d, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("dk1 Exited (137)"), "{ps}");

    // create + start + kill + rm.
    ok(&d, &["create", "--name", "dk2", "dk/busybox", "sleep", "100"]);
    ok(&d, &["start", "dk2"]);
    ok(&d, &["kill", "dk2"]);
    ok(&d, &["rm", "dk1", "dk2"]);
    assert_eq!(ok(&d, &["ps", "-aq"]).trim(), "");

    // rmi refuses while in use, then removes.
    ok(&d, &["create", "--name", "user", "dk/busybox:1", "true"]);
    // With two tags, removing one only untags.
    let untag = ok(&d, &["rmi", "dk/busybox:latest"]);
    assert_eq!(untag.trim(), "Untagged: dk/busybox:latest");
    // The last tag of an image a container uses is refused.
    let o = docker(&d, &["rmi", "dk/busybox:1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("container") && stderr(&o).contains("is using its referenced image"), "{}", stderr(&o));
    ok(&d, &["rm", "user"]);
    let del = ok(&d, &["rmi", "dk/busybox:1"]);
    assert!(del.contains("Untagged: dk/busybox:1") && del.contains("Deleted: sha256:"), "{del}");
    assert_eq!(ok(&d, &["images", "-q"]).trim(), "");
}
