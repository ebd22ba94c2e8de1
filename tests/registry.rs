//! Images through a real registry (Debian's docker-registry on 127.0.0.1): push and pull
//! round trips on both storage drivers, layer trees with whiteouts, opaque directories,
//! hardlinks and symlinks, multi-platform indexes, pulls by digest, save/load, credentials
//! (basic and bearer), the docker CLI pulling through berth, and faults (a daemon killed
//! mid-pull, a connection cut mid-blob, corrupted bytes, a full disk).

mod common;
use common::images::{self, Entry};
use common::proxy::{Fault, Proxy};
use common::registry::{OciLayout, Registry, TestImage};
use common::*;
use std::process::Command;

/// A two-layer image: busybox with some files, then a layer that whites one out, makes a
/// directory opaque, and adds a hardlink and a symlink.
fn tricky_image() -> Vec<Vec<u8>> {
    let base = images::busybox_layer_with(&[
        Entry::Dir("data"),
        Entry::File("data/keep", b"keep\n", 0o644),
        Entry::File("data/gone", b"gone\n", 0o644),
        Entry::Dir("opq"),
        Entry::File("opq/old", b"old\n", 0o644),
        Entry::File("setuid", b"#!/bin/sh\n", 0o4755),
    ]);
    let top = images::layer(&[
        Entry::Whiteout("data/gone"),
        Entry::Dir("opq"),
        Entry::Opaque("opq"),
        Entry::File("opq/new", b"new\n", 0o644),
        Entry::File("data/orig", b"linked\n", 0o644),
        Entry::Hardlink("data/hard", "data/orig"),
        Entry::Symlink("data/soft", "/data/keep"),
    ]);
    vec![base, top]
}

fn check_tricky_tree(d: &Daemon, image: &str) {
    let script = "ls /data | sort | tr '\\n' ' '; echo; ls /opq | tr '\\n' ' '; echo; \
                  cat /data/hard; readlink /data/soft; stat -c '%h %a' /data/orig /setuid";
    let out = d.berth(&["run", "--rm", image, "sh", "-c", script]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hard keep orig soft \nnew \nlinked\n/data/keep\n2 644\n1 4755\n", "tree as seen in the container");
}

fn pull_push_round_trip(driver: &str) {
    let reg = Registry::start();
    let d = Daemon::start_with(Some(driver));
    let layout = d.root.join("layout");
    let layout = OciLayout::write(&layout, "1", &[TestImage::linux("amd64", tricky_image())], true);
    let name = format!("{}/tests/tricky:1", reg.addr);
    reg.push(&layout, "tests/tricky:1", None);

    // Pull (skopeo pushed it: pull is tested independently of berth's push).
    let out = d.berth(&["pull", &name]);
    assert!(out.status.success(), "pull: {}\n{}", stderr(&out), tail(&d.log(), 30));
    let text = stdout(&out);
    assert!(text.contains("Pull complete") && text.contains("Status: Downloaded newer image"), "{text}");
    check_tricky_tree(&d, &name);
    // Re-pull is a no-op.
    let again = d.ok(&["pull", &name]);
    assert!(again.contains("Image is up to date"), "{again}");
    let digest = d.ok(&["image", "inspect", "-f", "{{index .RepoDigests 0}}", &name]);
    assert!(digest.trim().starts_with(&format!("{}/tests/tricky@sha256:", reg.addr)), "{digest}");

    // berth push to another repository of the same registry, then pull that back on a
    // fresh daemon: the same tree, and by digest.
    let other = format!("{}/tests/copy:2", reg.addr);
    d.ok(&["tag", &name, &other]);
    let pushed = d.ok(&["push", &other]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    // The layers came from tests/tricky on the same registry: mounted, not uploaded.
    assert!(pushed.contains("Mounted from tests/tricky"), "{pushed}");
    let again = d.ok(&["push", &other]);
    assert!(again.contains("Layer already exists") && !again.contains("Pushed"), "{again}");
    let d2 = Daemon::start_with(Some(driver));
    d2.ok(&["pull", &other]);
    check_tricky_tree(&d2, &other);
    let by_digest = format!("{}/tests/tricky@{}", reg.addr, digest.trim().rsplit('@').next().unwrap());
    let out = d2.berth(&["pull", &by_digest]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Shared layers: removing one image keeps the other working.
    d2.ok(&["rmi", &other]);
    check_tricky_tree(&d2, &by_digest);
}

#[test]
fn pull_and_push_on_overlay() {
    if !root_or_skip("pull_and_push_on_overlay") {
        return;
    }
    pull_push_round_trip("overlay");
}

#[test]
fn pull_and_push_on_vfs() {
    if !root_or_skip("pull_and_push_on_vfs") {
        return;
    }
    pull_push_round_trip("vfs");
}

#[test]
fn a_multi_platform_index_gives_the_hosts_image() {
    if !root_or_skip("a_multi_platform_index_gives_the_hosts_image") {
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let layout = d.root.join("layout");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let other = if arch == "amd64" { "arm64" } else { "amd64" };
    let mine = images::busybox_layer_with(&[Entry::File("etc/platform", format!("{arch}\n").as_bytes(), 0o644)]);
    let theirs = images::busybox_layer_with(&[Entry::File("etc/platform", format!("{other}\n").as_bytes(), 0o644)]);
    let layout = OciLayout::write(&layout, "1", &[TestImage::linux(other, vec![theirs]), TestImage::linux(arch, vec![mine])], true);
    let name = format!("{}/tests/multi:1", reg.addr);
    reg.push(&layout, "tests/multi:1", None);
    d.ok(&["pull", &name]);
    let out = d.ok(&["run", "--rm", &name, "cat", "/etc/platform"]);
    assert_eq!(out.trim(), arch);
    let d2 = Daemon::start();
    d2.ok(&["pull", "--platform", &format!("linux/{other}"), &name]);
    assert_eq!(d2.ok(&["image", "inspect", "-f", "{{.Architecture}}", &name]).trim(), other);
    // A platform the index does not have is an error.
    let out = d2.berth(&["pull", "--platform", "linux/s390x", &name]);
    assert!(!out.status.success());
}

#[test]
fn missing_tags_and_repositories_are_404s() {
    if !root_or_skip("missing_tags_and_repositories_are_404s") {
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let (status, body) = d.request("POST", &format!("/v1.41/images/create?fromImage={}/nope/none&tag=1", reg.addr), None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not found"), "{body}");
    assert_eq!(d.ok(&["images", "-q"]).trim(), "");
}

#[test]
fn save_and_load_round_trip() {
    if !root_or_skip("save_and_load_round_trip") {
        return;
    }
    let d = Daemon::start();
    let layout = d.root.join("layout");
    OciLayout::write(&layout, "1", &[TestImage::linux("amd64", tricky_image())], true);
    // An OCI layout archive loads.
    let oci = images::tar_dir(&layout);
    let out = d.berth_stdin(&["load", "-q"], &oci);
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded = stdout(&out);
    assert!(loaded.contains("Loaded image"), "{loaded}");
    let id = d.ok(&["images", "-q"]).trim().to_string();
    d.ok(&["tag", &id, "tricky:1"]);
    check_tricky_tree(&d, "tricky:1");
    // save → rmi → load gives the same image, the same tree.
    let archive = d.root.join("saved.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "tricky:1"]);
    d.ok(&["rmi", "-f", "tricky:1"]);
    let out = d.berth(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Loaded image: tricky:1"), "{}", stdout(&out));
    assert_eq!(d.ok(&["images", "-q"]).trim(), id, "the loaded image has the saved one's ID");
    check_tricky_tree(&d, "tricky:1");
    // An archive that is not one is refused and leaves nothing.
    let out = d.berth_stdin(&["load"], b"not an archive at all, definitely not a tar file............");
    assert!(!out.status.success());
}

#[test]
fn credentials_basic_auth() {
    if !root_or_skip("credentials_basic_auth") {
        return;
    }
    let reg = Registry::start_basic("alice", "s3cret");
    let d = Daemon::start();
    d.import_busybox("local:1");
    let name = format!("{}/private/bb:1", reg.addr);
    d.ok(&["tag", "local:1", &name]);
    let config = d.root.join("docker-config");
    let berth = |args: &[&str]| {
        Command::new(bin()).env("DOCKER_CONFIG", &config).arg("-H").arg(d.host()).args(args).output().unwrap()
    };
    let out = berth(&["push", &name]);
    assert!(!out.status.success(), "push without credentials succeeded");
    let out = berth(&["login", "-u", "alice", "-p", "wrong", &reg.addr]);
    assert!(!out.status.success(), "a wrong password was accepted");
    let out = berth(&["login", "-u", "alice", "-p", "s3cret", &reg.addr]);
    assert!(out.status.success(), "login: {}", stderr(&out));
    let out = berth(&["push", &name]);
    assert!(out.status.success(), "push: {}\n{}", stderr(&out), tail(&d.log(), 20));
    d.ok(&["rmi", &name, "local:1"]);
    let out = berth(&["pull", &name]);
    assert!(out.status.success(), "pull: {}", stderr(&out));
    let out = berth(&["logout", &reg.addr]);
    assert!(out.status.success());
}

#[test]
fn credentials_bearer_tokens() {
    if !root_or_skip("credentials_bearer_tokens") {
        return;
    }
    let reg = Registry::start_token(
        "berth-test-registry",
        common::registry::TokenUsers { user: "bob".into(), pass: "hunter2".into(), identity_token: String::new() },
    );
    let d = Daemon::start();
    d.import_busybox("local:1");
    let name = format!("{}/tok/bb:1", reg.addr);
    d.ok(&["tag", "local:1", &name]);
    let config = d.root.join("docker-config");
    let berth = |args: &[&str]| {
        Command::new(bin()).env("DOCKER_CONFIG", &config).arg("-H").arg(d.host()).args(args).output().unwrap()
    };
    assert!(!berth(&["push", &name]).status.success(), "anonymous push accepted");
    let out = berth(&["login", "-u", "bob", "-p", "hunter2", &reg.addr]);
    assert!(out.status.success(), "login: {}", stderr(&out));
    let out = berth(&["push", &name]);
    assert!(out.status.success(), "push: {}\n{}", stderr(&out), tail(&d.log(), 20));
    let d2 = Daemon::start();
    let out = Command::new(bin()).env("DOCKER_CONFIG", &config).arg("-H").arg(d2.host()).args(["pull", &name]).output().unwrap();
    assert!(out.status.success(), "pull: {}", stderr(&out));
}

#[test]
fn the_docker_cli_pulls_through_berth() {
    if !root_or_skip("the_docker_cli_pulls_through_berth") {
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped the_docker_cli_pulls_through_berth: no docker CLI on PATH");
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let layout = d.root.join("layout");
    let layout = OciLayout::write(&layout, "1", &[TestImage::linux("amd64", tricky_image())], true);
    let name = format!("{}/tests/viadocker:1", reg.addr);
    reg.push(&layout, "tests/viadocker:1", None);
    let out = Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.root.join("docker-config"))
        .args(["pull", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker pull: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Pull complete") && text.contains(&format!("Status: Downloaded newer image for {name}")), "{text}");
    check_tricky_tree(&d, &name);
}

#[test]
fn a_daemon_killed_mid_pull_leaves_no_half_image() {
    if !root_or_skip("a_daemon_killed_mid_pull_leaves_no_half_image") {
        return;
    }
    let reg = Registry::start();
    let mut d = Daemon::start();
    let layout = d.root.join("layout");
    let mut big = vec![0u8; 4 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut big)).unwrap();
    let layers = vec![images::busybox_layer(), images::layer(&[Entry::File("big.bin", &big, 0o644)])];
    let layout = OciLayout::write(&layout, "1", &[TestImage::linux("amd64", layers)], true);
    reg.push(&layout, "tests/big:1", None);
    // Through a slow proxy (1 MB/s), the pull is surely under way after a second.
    let slow = Proxy::start(&reg.addr, Fault::Slow(1 << 20));
    let name = format!("{}/tests/big:1", slow.addr);
    let mut pull = Command::new(bin()).args(["-H", &d.host(), "pull", &name]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    d.kill9();
    let _ = pull.wait();
    d.spawn();
    assert_eq!(d.ok(&["images", "-q"]).trim(), "", "a half image is visible");
    for sub in ["overlay", "vfs/dir", "blobs/tmp"] {
        if let Ok(rd) = std::fs::read_dir(d.data_root().join(sub)) {
            let left: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.len() == 64 || sub == "blobs/tmp").collect();
            assert!(left.is_empty(), "left in {sub}: {left:?}");
        }
    }
    // And the next pull (direct) works.
    let out = d.berth(&["pull", &format!("{}/tests/big:1", reg.addr)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn broken_and_corrupt_transfers() {
    if !root_or_skip("broken_and_corrupt_transfers") {
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let layout = d.root.join("layout");
    let mut big = vec![0u8; 3 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut big)).unwrap();
    let layers = vec![images::busybox_layer(), images::layer(&[Entry::File("big.bin", &big, 0o644)])];
    let layout = OciLayout::write(&layout, "1", &[TestImage::linux("amd64", layers)], true);
    reg.push(&layout, "tests/cut:1", None);
    // A connection cut in the middle of a blob: the pull resumes with a Range request.
    let cut = Proxy::start(&reg.addr, Fault::CutOnceAfter(2 << 20));
    let name = format!("{}/tests/cut:1", cut.addr);
    let out = d.berth(&["pull", &name]);
    assert!(out.status.success(), "pull after a cut: {}\n{}", stderr(&out), tail(&d.log(), 20));
    let out = d.berth(&["run", "--rm", &name, "sh", "-c", "stat -c %s /big.bin"]);
    assert_eq!(stdout(&out).trim(), (3 << 20).to_string());
}

#[test]
fn a_full_disk_fails_the_pull_cleanly() {
    if !root_or_skip("a_full_disk_fails_the_pull_cleanly") {
        return;
    }
    let reg = Registry::start();
    // The data root is a 6 MiB tmpfs, too small for the image's 8 MiB incompressible layer.
    let root = std::path::PathBuf::from(format!("/tmp/berth-it-full-{}", std::process::id()));
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"]).arg(&data).status().unwrap();
    assert!(st.success(), "mount the tmpfs");
    // From here on the daemon's Drop unmounts the tmpfs and removes the root.
    let mut d = Daemon::start_at(root.clone(), Some("vfs"));
    let mut big = vec![0u8; 8 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut big)).unwrap();
    let layers = vec![images::busybox_layer(), images::layer(&[Entry::File("big.bin", &big, 0o644)])];
    let layout = OciLayout::write(&std::env::temp_dir().join(format!("berth-full-layout-{}", std::process::id())), "1", &[TestImage::linux("amd64", layers)], true);
    reg.push(&layout, "tests/full:1", None);
    let _ = std::fs::remove_dir_all(&layout.dir);
    let name = format!("{}/tests/full:1", reg.addr);
    let out = d.berth(&["pull", &name]);
    assert!(!out.status.success(), "a pull onto a full disk succeeded");
    let err = stderr(&out) + &stdout(&out);
    assert!(err.contains("No space left on device") || err.contains("no space left on device"), "{err}");
    assert_eq!(d.ok(&["images", "-q"]).trim(), "", "a half image is visible");
    // No partial file stays; complete layers may (a retry reuses them) until start-up.
    let left = |d: &Daemon, sub: &str| -> Vec<String> {
        std::fs::read_dir(d.data_root().join(sub))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    for sub in ["vfs/staging", "blobs/tmp"] {
        assert!(left(&d, sub).is_empty(), "left in {sub} after the failed pull: {:?}", left(&d, sub));
    }
    d.stop();
    d.spawn();
    assert!(left(&d, "vfs/dir").is_empty(), "start-up kept layers no image uses: {:?}", left(&d, "vfs/dir"));
    // With room made, the same daemon pulls the image.
    mount_remount(&data, "size=64m");
    let out = d.berth(&["pull", &name]);
    assert!(out.status.success(), "pull after making room: {}", stderr(&out));
    let out = d.berth(&["run", "--rm", &name, "stat", "-c", "%s", "/big.bin"]);
    assert_eq!(stdout(&out).trim(), (8 << 20).to_string(), "{}", stderr(&out));
}

fn mount_remount(target: &std::path::Path, opts: &str) {
    let st = Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(target).status().unwrap();
    assert!(st.success(), "remount {opts}");
}

#[test]
fn corrupt_blobs_are_refused() {
    if !root_or_skip("corrupt_blobs_are_refused") {
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let mut big = vec![0u8; 2 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut big)).unwrap();
    let layout = OciLayout::write(&d.root.join("layout"), "1", &[TestImage::linux("amd64", vec![images::layer(&[Entry::File("big.bin", &big, 0o644)])])], true);
    reg.push(&layout, "tests/corrupt:1", None);
    // A byte flipped 1 MB into the blob: the digest check at its end fails the pull.
    let bad = Proxy::start(&reg.addr, Fault::CorruptOnceAt(1 << 20));
    let out = d.berth(&["pull", &format!("{}/tests/corrupt:1", bad.addr)]);
    assert!(!out.status.success(), "a corrupt blob was accepted");
    let err = stderr(&out) + &stdout(&out);
    assert!(err.contains("sha256:"), "the error names no blob: {err}");
    assert_eq!(d.ok(&["images", "-q"]).trim(), "");
    // The next pull (not corrupted) succeeds.
    d.ok(&["pull", &format!("{}/tests/corrupt:1", bad.addr)]);
}

#[test]
fn concurrent_pulls_share_a_layer_and_a_pull_stops_when_its_client_leaves() {
    if !root_or_skip("concurrent_pulls_share_a_layer_and_a_pull_stops_when_its_client_leaves") {
        return;
    }
    let reg = Registry::start();
    let d = Daemon::start();
    let mut big = vec![0u8; 3 << 20];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut big)).unwrap();
    let base = images::layer(&[Entry::File("big.bin", &big, 0o644)]);
    let a = images::layer(&[Entry::File("a", b"a\n", 0o644)]);
    let b = images::layer(&[Entry::File("b", b"b\n", 0o644)]);
    let la = OciLayout::write(&d.root.join("la"), "1", &[TestImage::linux("amd64", vec![base.clone(), a])], true);
    let lb = OciLayout::write(&d.root.join("lb"), "1", &[TestImage::linux("amd64", vec![base, b])], true);
    reg.push(&la, "tests/a:1", None);
    reg.push(&lb, "tests/b:1", None);
    // Both through one slow proxy (1.5 MB/s): the shared 3 MB layer crosses it once.
    let slow = Proxy::start(&reg.addr, Fault::Slow(3 << 19));
    let pull = |name: &str| {
        let (host, image) = (d.host(), format!("{}/tests/{name}", slow.addr));
        std::thread::spawn(move || Command::new(bin()).args(["-H", &host, "pull", &image]).output().unwrap())
    };
    let first = pull("a:1");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = pull("b:1");
    let (o1, o2) = (first.join().unwrap(), second.join().unwrap());
    assert!(o1.status.success() && o2.status.success(), "{}\n{}", stderr(&o1), stderr(&o2));
    let crossed = slow.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    assert!(crossed < (3 << 20) * 3 / 2, "the shared layer was downloaded twice ({crossed} bytes)");

    // A pull whose client goes away stops: no image, and the proxy goes quiet. At
    // 300 kB/s the layer would take ten seconds, so a quiet proxy after two means a stop.
    d.ok(&["rmi", &format!("{}/tests/a:1", slow.addr), &format!("{}/tests/b:1", slow.addr)]);
    let slow = Proxy::start(&reg.addr, Fault::Slow(300_000));
    let mut client = Command::new(bin())
        .args(["-H", &d.host(), "pull", &format!("{}/tests/a:1", slow.addr)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = client.kill();
    let _ = client.wait();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let before = slow.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let after = slow.forwarded.load(std::sync::atomic::Ordering::Relaxed);
    assert!(before > 100_000, "the pull never got going ({before} bytes)");
    assert!(after - before < 100_000, "the download went on after its client left ({} bytes)", after - before);
    assert_eq!(d.ok(&["images", "-q"]).trim(), "");
}
