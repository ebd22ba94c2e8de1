//! Networking against the real kernel: each daemon has its own bridge, subnet and
//! nf_tables table (see common::Daemon). Traffic goes only to 127.0.0.0/8 and to addresses
//! on the test's own bridge. Covered: host → container by bridge IP and through published
//! ports on 127.0.0.1 (TCP and UDP, nf_tables and the userland proxy), `-P`, port
//! conflicts, container ↔ container by IP and by name/alias on a user network (both ways,
//! including a container started later), the `none`, `host` and `container:` modes, a
//! daemon restart keeping published ports without duplicate rules, stale interfaces
//! removed at start-up, the container's /etc/hosts, /etc/resolv.conf, address, MAC and
//! route, addresses under concurrent starts, stop and rm (IPAM rows in the GraphDB), and
//! user networks kept apart except through published ports.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// A container serving "hello from NAME" over HTTP on port 80.
const WEB: &str = "mkdir -p /www && echo hello from $HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www";

fn get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().expect("address"), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Retries until the server answers (the container needs a moment to listen).
fn get_eventually(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(addr) {
            Ok(body) if body.contains("hello") => return body,
            other if Instant::now() > deadline => panic!("{addr} did not answer: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn inspect(d: &Daemon, what: &str, template: &str) -> String {
    d.ok(&["inspect", "-f", template, what]).trim().to_string()
}

fn ip_of(d: &Daemon, ctr: &str) -> String {
    inspect(d, ctr, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
}

fn published_port(d: &Daemon, ctr: &str, key: &str) -> u16 {
    let t = format!("{{{{(index (index .NetworkSettings.Ports \"{key}\") 0).HostPort}}}}");
    inspect(d, ctr, &t).parse().expect("a host port")
}

fn nft_list(d: &Daemon) -> String {
    let out = Command::new("nft").args(["list", "table", "ip", &d.nft_table]).output().expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn published_ports_and_the_bridge_reach_containers() {
    if !root_or_skip("published_ports_and_the_bridge_reach_containers") {
        return;
    }
    let mut d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["run", "-d", "--name", "web", "-h", "web", "-p", "127.0.0.1::80", "--expose", "81", "-P", "bb", "sh", "-c", WEB]);
    let ip = ip_of(&d, "web");
    assert!(ip.starts_with(d.bip.rsplit_once('.').unwrap().0), "{ip} is not on {}", d.bip);
    // Host → container through the bridge.
    assert!(get_eventually(&format!("{ip}:80")).contains("hello from web"));
    // Host → container through the published port on 127.0.0.1 (nf_tables DNAT).
    let port = published_port(&d, "web", "80/tcp");
    assert!(get_eventually(&format!("127.0.0.1:{port}")).contains("hello from web"));
    // -P published the exposed 81 on a random port too.
    let p81 = published_port(&d, "web", "81/tcp");
    assert!(p81 > 0 && p81 != port);
    let lines = d.ok(&["port", "web"]);
    assert!(lines.contains(&format!("80/tcp -> 127.0.0.1:{port}")), "{lines}");
    // The same host port again is refused with Docker's words.
    let out = d.berth(&["run", "-d", "-p", &format!("127.0.0.1:{port}:80"), "bb", "sleep", "5"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("port is already allocated"), "{}", stderr(&out));

    // A daemon restart keeps the forwarding, without duplicating it.
    let before = nft_list(&d);
    d.kill9();
    d.spawn();
    assert!(get_eventually(&format!("127.0.0.1:{port}")).contains("hello from web"));
    let after = nft_list(&d);
    assert_eq!(before.matches(&format!(": {ip} . 80")).count(), 1, "{before}");
    assert_eq!(after.matches(&format!(": {ip} . 80")).count(), 1, "{after}");
    // Another program cannot take the port while the container has it.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
    // The table removed behind the daemon's back: the next start rebuilds it, with the
    // ports already held.
    assert!(Command::new("nft").args(["delete", "table", "ip", &d.nft_table]).status().unwrap().success());
    d.ok(&["run", "-d", "--name", "web2", "-h", "web2", "-p", "127.0.0.1::80", "bb", "sh", "-c", WEB]);
    let port2 = published_port(&d, "web2", "80/tcp");
    assert!(get_eventually(&format!("127.0.0.1:{port2}")).contains("hello from web2"));
    assert!(get_eventually(&format!("127.0.0.1:{port}")).contains("hello from web"));
    d.ok(&["rm", "-f", "web2"]);
    d.ok(&["rm", "-f", "web"]);
    // Released: no element left, and the port is free.
    assert!(!nft_list(&d).contains(&format!(": {ip} . 80")));
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

/// A UDP echo server ("udpecho PORT": answers every datagram with "re:" and the datagram,
/// and prints it), built static because Debian's busybox has no UDP server applet.
const UDPECHO_C: &str = r#"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    for (;;) {
        char buf[1500], out[1504] = "re:";
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n < 0) return 1;
        memcpy(out + 3, buf, n);
        sendto(s, out, n + 3, 0, (struct sockaddr *)&from, len);
        fwrite(buf, 1, n, stdout);
        fflush(stdout);
    }
}
"#;

/// Imports busybox plus /bin/udpecho as `name`.
fn import_with_udpecho(d: &Daemon, name: &str) {
    let dir = d.root.join("udpecho-root");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar").arg("-C").arg(&dir).arg("-xf").arg(busybox_tar(&d.root)).status().unwrap().success());
    let src = d.root.join("udpecho.c");
    std::fs::write(&src, UDPECHO_C).unwrap();
    let out = Command::new("gcc").args(["-static", "-O2", "-o"]).arg(dir.join("bin/udpecho")).arg(&src).output().expect("gcc");
    assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
    let tar = d.root.join("udpecho.tar");
    assert!(Command::new("tar").arg("-C").arg(&dir).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    d.ok(&["import", tar.to_str().unwrap(), name]);
}

#[test]
fn udp_and_the_userland_proxy() {
    if !root_or_skip("udp_and_the_userland_proxy") {
        return;
    }
    let udp_echo = |d: &Daemon, udp: u16, proxy: bool| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 64];
        loop {
            s.send_to(b"ping-over-udp\n", ("127.0.0.1", udp)).unwrap();
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                assert_eq!(&buf[..n], b"re:ping-over-udp\n", "proxy={proxy}");
                break;
            }
            assert!(Instant::now() < deadline, "no answer over UDP (proxy={proxy}): {}", d.ok(&["logs", "echo"]));
        }
    };
    for proxy in [false, true] {
        let mut d = if proxy { Daemon::start_flags(&["--userland-proxy-only"]) } else { Daemon::start() };
        import_with_udpecho(&d, "bb");
        d.ok(&["run", "-d", "--name", "echo", "-p", "127.0.0.1::5353/udp", "-p", "127.0.0.1::80", "bb", "sh", "-c", &format!("udpecho 5353 & {WEB}")]);
        let udp = published_port(&d, "echo", "5353/udp");
        let tcp = published_port(&d, "echo", "80/tcp");
        assert!(get_eventually(&format!("127.0.0.1:{tcp}")).contains("hello"), "proxy={proxy}");
        udp_echo(&d, udp, proxy);
        assert!(d.ok(&["logs", "echo"]).contains("ping-over-udp"));
        // A restarted daemon forwards both again (the proxy re-binds a port whose served
        // connections left TIME_WAIT entries behind).
        d.kill9();
        d.spawn();
        assert!(get_eventually(&format!("127.0.0.1:{tcp}")).contains("hello"), "after a restart, proxy={proxy}: {}", d.log());
        udp_echo(&d, udp, proxy);
    }
}

#[test]
fn containers_reach_each_other_by_ip_and_by_name() {
    if !root_or_skip("containers_reach_each_other_by_ip_and_by_name") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    // Default bridge: by IP.
    d.ok(&["run", "-d", "--name", "ca", "-h", "ca", "bb", "sh", "-c", WEB]);
    let ip_a = ip_of(&d, "ca");
    get_eventually(&format!("{ip_a}:80"));
    let out = d.ok(&["run", "--rm", "bb", "wget", "-qO-", &format!("http://{ip_a}/index.html")]);
    assert!(out.contains("hello from ca"), "{out}");

    // A user network: by name and alias, both ways, a later container included. Names
    // not in /etc/hosts go to DNS: the test's own gateway, where nothing answers, so no
    // query leaves the test's addresses and a miss fails at once.
    let dns = d.bip.split('/').next().unwrap().to_string();
    d.ok(&["network", "create", "app"]);
    d.ok(&["run", "-d", "--name", "first", "-h", "first", "--network", "app", "--network-alias", "svc", "--dns", &dns, "bb", "sh", "-c",
        &format!("{WEB} & until wget -qO- http://second/index.html; do sleep 0.1; done; sleep 600")]);
    d.ok(&["run", "-d", "--name", "second", "-h", "second", "--network", "app", "--dns", &dns, "bb", "sh", "-c", WEB]);
    get_eventually(&format!("{}:80", ip_of(&d, "second")));
    for target in ["first", "svc", "second"] {
        let out = d.berth(&["run", "--rm", "--network", "app", "--dns", &dns, "bb", "wget", "-qO-", &format!("http://{target}/index.html")]);
        assert!(stdout(&out).contains("hello from"), "{target}: {}{}", stdout(&out), stderr(&out));
    }
    // A container finds its own name and alias too.
    for me in ["selfie", "me"] {
        let out = d.berth(&["run", "--rm", "--name", "selfie", "--network", "app", "--network-alias", "me", "--dns", &dns, "bb", "ping", "-c", "1", "-W", "2", me]);
        assert!(out.status.success(), "{me}: {}{}", stdout(&out), stderr(&out));
    }
    // The first container found the second, which started after it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.ok(&["logs", "first"]).contains("hello from second") {
        assert!(Instant::now() < deadline, "first never reached second: {}", d.ok(&["logs", "first"]));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Names do not leak onto the default bridge.
    // (busybox's `wget -T` crashes in this build: lookups are checked with ping.)
    let out = d.berth(&["run", "--rm", "--dns", &dns, "bb", "ping", "-c", "1", "-W", "1", "first"]);
    assert!(!out.status.success() && stderr(&out).contains("bad address"), "{}{}", stdout(&out), stderr(&out));
    // The network cannot go while used; it goes once empty, with its bridge.
    let bridge = inspect(&d, "app", "{{index .Options \"com.docker.network.bridge.name\"}}");
    let bridge = if bridge.is_empty() || bridge == "<no value>" {
        format!("br-{}", &inspect(&d, "app", "{{.Id}}")[..12])
    } else {
        bridge
    };
    assert!(!d.berth(&["network", "rm", "app"]).status.success());
    d.ok(&["rm", "-f", "first", "second"]);
    d.ok(&["network", "rm", "app"]);
    let links = Command::new("ip").args(["link", "show", &bridge]).output().unwrap();
    assert!(!links.status.success(), "bridge {bridge} is still there");
}

#[test]
fn none_host_and_container_modes() {
    if !root_or_skip("none_host_and_container_modes") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let none = d.ok(&["run", "--rm", "--network", "none", "bb", "ip", "-o", "link"]);
    assert_eq!(none.lines().count(), 1, "{none}");
    assert!(none.contains("lo:"), "{none}");
    let host = d.ok(&["run", "--rm", "--network", "host", "bb", "ip", "-o", "link"]);
    assert!(host.contains(&format!("{}:", d.bridge)), "the host's links: {host}");
    d.ok(&["run", "-d", "--name", "owner", "bb", "sleep", "600"]);
    let ip = ip_of(&d, "owner");
    let shared = d.ok(&["run", "--rm", "--network", "container:owner", "bb", "ip", "-o", "addr"]);
    assert!(shared.contains(&format!("inet {ip}/")), "{shared}");
    // What the joined container decides cannot be set: Docker's refusals.
    for (flag, value, words) in [("--dns", "10.9.9.9", "dns"), ("--add-host", "x:10.1.1.1", "custom host-to-IP mapping"), ("-p", "80", "port publishing")] {
        let out = d.berth(&["run", "--rm", "--network", "container:owner", flag, value, "bb", "true"]);
        assert!(!out.status.success() && stderr(&out).contains(&format!("conflicting options: {words}")), "{flag}: {}", stderr(&out));
    }
}

#[test]
fn start_up_removes_interfaces_of_dead_containers() {
    if !root_or_skip("start_up_removes_interfaces_of_dead_containers") {
        return;
    }
    let mut d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["run", "-d", "--name", "keep", "bb", "sleep", "600"]);
    // Starts in flight when the daemon dies.
    let kills: Vec<std::process::Child> = (0..4)
        .map(|_| Command::new(bin()).args(["-H", &d.host(), "run", "-d", "bb", "sleep", "600"]).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    d.kill9();
    for mut k in kills {
        let _ = k.wait();
    }
    // And an interface nobody owns, as a crash between two steps would leave it.
    let stray = format!("vstray{}", &d.nft_table[9..13]);
    let made = Command::new("ip").args(["link", "add", &stray, "master", &d.bridge, "type", "veth", "peer", "name", &format!("{stray}p")]).status().unwrap();
    assert!(made.success());
    d.spawn();
    let running = d.ok(&["ps", "-q", "--no-trunc"]);
    let mut want: Vec<String> = running
        .split_whitespace()
        .map(|id| inspect(&d, id, "{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}"))
        .collect();
    want.retain(|e| !e.is_empty());
    let ports = Command::new("ip").args(["-o", "link", "show", "master", &d.bridge]).output().unwrap();
    let ports = String::from_utf8_lossy(&ports.stdout).into_owned();
    assert!(!ports.contains(&stray), "the stray interface survived: {ports}");
    assert_eq!(ports.lines().count(), want.len(), "one interface per running container: {ports}\nrunning: {running}");
    // Every running container still has its network.
    for id in running.split_whitespace() {
        let out = d.ok(&["run", "--rm", "bb", "ping", "-c", "1", "-W", "2", &ip_of(&d, id)]);
        assert!(out.contains("1 packets received"), "{out}");
    }
}

#[test]
fn hairpin_and_icc() {
    if !root_or_skip("hairpin_and_icc") {
        return;
    }
    let gateway = |d: &Daemon| d.bip.split('/').next().unwrap().to_string();
    // A container reaches its own published port through a host address (the gateway).
    let d = Daemon::start();
    d.import_busybox("bb");
    // (A second container in its network namespace asks: same interface, same address.)
    d.ok(&["run", "-d", "--name", "self", "-h", "self", "-p", "80", "bb", "sh", "-c", WEB]);
    let port = published_port(&d, "self", "80/tcp");
    get_eventually(&format!("{}:80", ip_of(&d, "self")));
    let url = format!("http://{}:{port}/index.html", gateway(&d));
    let out = d.ok(&["run", "--rm", "--network", "container:self", "bb", "wget", "-qO-", &url]);
    assert!(out.contains("hello from self"), "{out}");
    drop(d);
    // --icc false: containers on the default bridge cannot talk directly; the host can.
    let d = Daemon::start_flags(&["--icc", "false"]);
    d.import_busybox("bb");
    d.ok(&["run", "-d", "--name", "quiet", "-h", "quiet", "bb", "sh", "-c", WEB]);
    let ip = ip_of(&d, "quiet");
    assert!(get_eventually(&format!("{ip}:80")).contains("hello from quiet"));
    let out = d.berth(&["run", "--rm", "bb", "ping", "-c", "1", "-W", "2", &ip]);
    assert!(stdout(&out).contains("0 packets received"), "a neighbour got through with --icc false: {}", stdout(&out));
}

#[test]
fn connect_disconnect_and_prune() {
    if !root_or_skip("connect_disconnect_and_prune") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["network", "create", "--subnet", &subnet_of(&d, 1), "back"]);
    d.ok(&["network", "create", "spare"]);
    d.ok(&["run", "-d", "--name", "svc", "bb", "sleep", "600"]);
    d.ok(&["network", "connect", "--alias", "db", "back", "svc"]);
    let links = d.ok(&["run", "--rm", "--network", "container:svc", "bb", "ip", "-o", "addr"]);
    let back_ip = inspect(&d, "svc", "{{(index .NetworkSettings.Networks \"back\").IPAddress}}");
    assert!(links.contains(&format!("eth1    inet {back_ip}/")) || links.contains(&format!("inet {back_ip}/")), "{links}");
    let members = inspect(&d, "back", "{{range .Containers}}{{.Name}}{{end}}");
    assert_eq!(members, "svc");
    // A container on `back` finds it by the alias given at connect.
    let out = d.ok(&["run", "--rm", "--network", "back", "bb", "ping", "-c", "1", "-W", "2", "db"]);
    assert!(out.contains(&back_ip), "{out}");
    d.ok(&["network", "disconnect", "back", "svc"]);
    let links = d.ok(&["run", "--rm", "--network", "container:svc", "bb", "ip", "-o", "addr"]);
    assert!(!links.contains(&back_ip), "{links}");
    // Prune removes the unused networks only.
    d.ok(&["network", "connect", "back", "svc"]);
    let pruned = d.ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("spare") && !pruned.contains("back"), "{pruned}");
    let names = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(names.contains("back") && !names.contains("spare") && names.contains("bridge"), "{names}");
    // Pre-defined networks stay.
    let out = d.berth(&["network", "rm", "bridge"]);
    assert!(stderr(&out).contains("pre-defined network"), "{}", stderr(&out));
}

/// The `n`th /28 of the daemon's address pool.
fn subnet_of(d: &Daemon, n: u32) -> String {
    let base = d.pool.trim_start_matches("base=").split('/').next().unwrap().to_string();
    let mut o: Vec<u32> = base.split('.').map(|x| x.parse().unwrap()).collect();
    o[3] = n * 16;
    format!("{}.{}.{}.{}/28", o[0], o[1], o[2], o[3])
}

#[test]
fn the_docker_cli_drives_networks() {
    if !root_or_skip("the_docker_cli_drives_networks") {
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped the_docker_cli_drives_networks: no docker CLI on PATH");
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let docker = |args: &[&str]| {
        let o = Command::new("docker").env("DOCKER_HOST", d.host()).env("DOCKER_CONFIG", d.root.join("docker-config")).args(args).output().unwrap();
        assert!(o.status.success(), "docker {args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    let id = docker(&["network", "create", "--label", "t=1", "web"]);
    assert_eq!(id.trim().len(), 64);
    let ls = docker(&["network", "ls"]);
    assert!(ls.starts_with("NETWORK ID     NAME      DRIVER    SCOPE"), "{ls}");
    assert!(ls.contains(" web ") && ls.contains(" bridge ") && ls.contains(" host ") && ls.contains(" none "), "{ls}");
    docker(&["run", "-d", "--name", "site", "--network", "web", "-p", "127.0.0.1::80", "bb", "sh", "-c", WEB]);
    let port = docker(&["port", "site", "80"]);
    let addr = port.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{port}");
    assert!(get_eventually(&addr).contains("hello"));
    let subnet = docker(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "web"]);
    assert!(subnet.trim().ends_with("/28"), "{subnet}");
    // ps filters by network and published port.
    assert_eq!(docker(&["ps", "-q", "--filter", "network=web", "--filter", "publish=80"]).trim().len(), 12);
    assert!(docker(&["ps", "-q", "--filter", "network=bridge"]).trim().is_empty());
    // Docker's refusals, with its status codes (the CLI prints them as they come).
    let fails = |args: &[&str], words: &str| {
        let o = Command::new("docker").env("DOCKER_HOST", d.host()).env("DOCKER_CONFIG", d.root.join("docker-config")).args(args).output().unwrap();
        assert!(!o.status.success() && stderr(&o).contains(words), "docker {args:?}: {}{}", stdout(&o), stderr(&o));
        stderr(&o)
    };
    fails(&["network", "create", "default"], "default is a pre-defined network and cannot be created");
    fails(&["network", "connect", "--alias", "x1", "bridge", "site"], "network-scoped alias is supported only for containers in user defined networks");
    fails(&["network", "connect", "host", "site"], "container cannot be disconnected from host network or connected to host network");
    // An unknown network is found missing at start: the CLI must not go pulling the image.
    let err = fails(&["run", "--rm", "--network", "nosuch", "bb", "true"], "network nosuch not found");
    assert!(!err.contains("Unable to find image"), "{err}");
    docker(&["rm", "-f", "site"]);
    assert_eq!(docker(&["network", "rm", "web"]).trim(), "web");
}

/// Addresses in the test's GraphDB (IPAM rows): what a stopped or removed container must
/// have given back.
fn allocated(d: &Daemon) -> Vec<String> {
    let db = rusqlite::Connection::open(d.data_root().join("berth.db")).expect("berth.db");
    let mut st = db.prepare("SELECT ip FROM endpoints ORDER BY ip").unwrap();
    let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.flatten().collect()
}

#[test]
fn container_files_and_addresses() {
    if !root_or_skip("container_files_and_addresses") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    let gw = d.bip.split('/').next().unwrap().to_string();

    // /etc/hosts and /etc/resolv.conf as Docker writes them, the flags included.
    d.ok(&["run", "-d", "--name", "box", "-h", "box", "--add-host", "db.test:10.1.2.3", "--add-host", "host.docker.internal:host-gateway", "--dns", "10.9.9.9",
        "--dns-search", "example.test", "--dns-option", "ndots:2", "bb", "sh", "-c",
        "cat /etc/hosts; echo ==; cat /etc/resolv.conf; exec sleep 600"]);
    let ip = ip_of(&d, "box");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut files = d.ok(&["logs", "box"]);
    while !files.contains("nameserver") {
        assert!(Instant::now() < deadline, "{files}");
        std::thread::sleep(Duration::from_millis(50));
        files = d.ok(&["logs", "box"]);
    }
    let (hosts, resolv) = files.split_once("==\n").unwrap();
    let gw_line = format!("{gw}\thost.docker.internal");
    for line in ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "10.1.2.3\tdb.test", &gw_line, &format!("{ip}\tbox")] {
        assert!(hosts.lines().any(|l| l == line), "no {line:?} in\n{hosts}");
    }
    for line in ["nameserver 10.9.9.9", "search example.test", "options ndots:2"] {
        assert!(resolv.lines().any(|l| l == line), "no {line:?} in\n{resolv}");
    }
    // Without --dns: the host's servers, minus the loopback ones the container cannot reach.
    let resolv = d.ok(&["run", "--rm", "bb", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver ") && !resolv.contains("nameserver 127."), "{resolv}");

    // Inside: eth0 with the inspected address and MAC, lo up, the default route via the gateway.
    let mac = inspect(&d, "box", "{{.NetworkSettings.MacAddress}}");
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap()).collect();
    assert_eq!(mac, format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", octets[0], octets[1], octets[2], octets[3]));
    assert_eq!(inspect(&d, "box", "{{.NetworkSettings.Gateway}}"), gw);
    let links = d.ok(&["run", "--rm", "--network", "container:box", "bb", "ip", "addr"]);
    assert!(links.contains(&format!("inet {ip}/")) && links.contains(&format!("link/ether {mac}")), "{links}");
    assert!(links.contains("inet 127.0.0.1/8"), "{links}");
    let routes = d.ok(&["run", "--rm", "--network", "container:box", "bb", "ip", "route"]);
    assert!(routes.contains(&format!("default via {gw} dev eth0")), "{routes}");

    // Concurrent starts never share an address; stopping gives it back, starting takes one.
    let names: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let d = &d;
            s.spawn(move || d.ok(&["run", "-d", "--name", n, "bb", "sleep", "600"]));
        }
    });
    let mut ips: Vec<String> = names.iter().map(|n| ip_of(&d, n)).collect();
    ips.push(ip.clone());
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 9, "{ips:?}");
    assert_eq!(allocated(&d), ips);
    d.ok(&["stop", "-t", "0", "c0"]);
    assert_eq!(inspect(&d, "c0", "{{.NetworkSettings.IPAddress}}"), "");
    assert_eq!(allocated(&d).len(), 8);
    d.ok(&["start", "c0"]);
    assert_eq!(allocated(&d).len(), 9);
    let mut all = names.clone();
    all.push("box".into());
    let mut args = vec!["rm", "-f"];
    args.extend(all.iter().map(String::as_str));
    d.ok(&args);
    assert!(allocated(&d).is_empty(), "{:?}", allocated(&d));
}

#[test]
fn networks_are_kept_apart() {
    if !root_or_skip("networks_are_kept_apart") {
        return;
    }
    let d = Daemon::start();
    d.import_busybox("bb");
    d.ok(&["network", "create", "--subnet", &subnet_of(&d, 1), "n1"]);
    d.ok(&["network", "create", "--subnet", &subnet_of(&d, 2), "n2"]);
    d.ok(&["run", "-d", "--name", "srv", "-h", "srv", "--network", "n2", "-p", "80", "bb", "sh", "-c", WEB]);
    let ip_b = inspect(&d, "srv", "{{(index .NetworkSettings.Networks \"n2\").IPAddress}}");
    // The host reaches it directly.
    assert!(get_eventually(&format!("{ip_b}:80")).contains("hello from srv"));
    // A container of another network does not, by address...
    let out = d.berth(&["run", "--rm", "--network", "n1", "bb", "ping", "-c", "1", "-W", "2", &ip_b]);
    assert!(stdout(&out).contains("0 packets received"), "n1 reached n2 directly: {}", stdout(&out));
    // ...but does through its published port, on its own gateway (a host address).
    let port = published_port(&d, "srv", "80/tcp");
    // (The first address of the subnet, which the gateway takes when none is given.)
    let gw1 = subnet_of(&d, 1).replace(".16/28", ".17");
    let out = d.ok(&["run", "--rm", "--network", "n1", "bb", "wget", "-qO-", &format!("http://{gw1}:{port}/index.html")]);
    assert!(out.contains("hello from srv"), "{out}");
}
