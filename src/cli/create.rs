//! The create request that the flags of `run` and `create` make: docker's full body shape
//! (transcripts/create.md) with `Env: null`, `Volumes: {}`, `Dns: []` and the rest exactly
//! as the docker CLI sends them (ports from `portspec`, networks and endpoints from
//! `endpoints`). Building the body is a pure function of the flags, the CLI's environment,
//! the files named by flags and the terminal size; it sends nothing.

use super::endpoints;
use super::opts;
use super::portspec;
use super::run_args::RunArgs;
use super::units::ram_in_bytes;
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

/// What the build needs from outside: the CLI's environment and the files flags name.
pub struct Env<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&str) -> Result<String>,
    /// Rows and columns of the terminal, for `-t` (docker's ConsoleSize).
    pub console: (u16, u16),
}

/// docker's error for a flag value pflag refuses (printed with the usage, status 125).
fn bad_value(value: &str, flag: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "invalid argument {value:?} for \"{flag}\" flag: {why}"
    ))
}

fn size(flag: &str, v: &Option<String>) -> Result<i64> {
    match v {
        None => Ok(0),
        Some(s) if flag == "--memory-swap" && s == "-1" => Ok(-1),
        Some(s) => ram_in_bytes(s).map_err(|why| bad_value(s, flag, why)),
    }
}

fn list(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

fn kv_map(items: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for item in items {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// Capabilities as docker sends them: upper case, with the `CAP_` prefix (except ALL).
fn caps(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|c| {
            let c = c.trim().to_uppercase();
            if c == "ALL" || c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect()
}

/// The create body and query for the flags; `run` is false for `berth create`.
pub fn build(
    a: &RunArgs,
    run: bool,
    env: &Env<'_>,
) -> Result<(Value, Vec<(&'static str, String)>)> {
    let (att_in, att_out, att_err) = if a.attach.is_empty() {
        (a.interactive, true, true)
    } else {
        if run && a.detach {
            return Err(Error::conflict(
                "conflicting options: cannot specify both --attach and --detach",
            ));
        }
        opts::parse_attach(&a.attach).map_err(|(v, why)| bad_value(&v, "-a, --attach", why))?
    };
    let detached = run && a.detach;
    let (att_in, att_out, att_err) = if detached {
        (false, false, false)
    } else {
        (att_in, att_out, att_err)
    };

    let mut envs = Vec::new();
    for f in &a.env_file {
        let text = (env.read_file)(f)?;
        envs.extend(opts::parse_kv_file(f, &text, Some(env.lookup))?);
    }
    for e in &a.env {
        envs.push(opts::expand_env(e, env.lookup)?);
    }
    let mut labels = Vec::new();
    for f in &a.label_file {
        let text = (env.read_file)(f)?;
        labels.extend(opts::parse_kv_file(f, &text, None)?);
    }
    labels.extend(a.label.iter().cloned());

    let mut exposed = Map::new();
    let mut bindings = Map::new();
    for p in &a.publish {
        for m in portspec::parse_port_spec(&portspec::standard_port_notation(p)?)? {
            exposed.insert(m.port.clone(), json!({}));
            let entry = bindings.entry(m.port).or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(json!({"HostIp": m.host_ip, "HostPort": m.host_port}));
            }
        }
    }
    for e in &a.expose {
        for port in portspec::parse_expose(e)? {
            exposed.insert(port, json!({}));
        }
    }
    let (restart, retries) = opts::parse_restart(a.restart.as_deref().unwrap_or(""))?;
    if a.rm && restart != "no" {
        return Err(Error::invalid(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    let mut extra_hosts = Vec::new();
    for h in &a.add_host {
        extra_hosts
            .push(opts::parse_extra_host(h).map_err(|e| bad_value(h, "--add-host", e.message))?);
    }
    let mut dns = Vec::new();
    for d in &a.dns {
        dns.push(opts::canonical_ip(d).ok_or_else(|| {
            bad_value(
                d,
                "--dns",
                format!("IP address is not correctly formatted: {d}"),
            )
        })?);
    }
    let mut dns_search = Vec::new();
    for d in &a.dns_search {
        dns_search
            .push(opts::validate_dns_search(d).map_err(|why| bad_value(d, "--dns-search", why))?);
    }
    for l in &a.link {
        opts::validate_link(l).map_err(|why| bad_value(l, "--link", why))?;
    }
    let legacy = endpoints::Legacy {
        aliases: &a.network_alias,
        links: &a.link,
        ip: a.ip.as_deref(),
        ip6: a.ip6.as_deref(),
        mac: a.mac_address.as_deref(),
        link_local: &a.link_local_ip,
    };
    let (network, endpoints) = endpoints::networking(&a.network, &legacy).map_err(|r| match r {
        endpoints::Refusal::Flag(v, why) => bad_value(&v, "--network", why),
        endpoints::Refusal::Invalid(why) => Error::invalid(why),
    })?;
    let (binds, anon): (Vec<String>, Vec<String>) =
        a.volume.iter().cloned().partition(|v| opts::is_bind(v));
    let volumes: Map<String, Value> = anon.into_iter().map(|v| (v, json!({}))).collect();
    let nano_cpus = match &a.cpus {
        Some(c) => opts::parse_cpus(c).map_err(|e| bad_value(c, "--cpus", e.message))?,
        None => 0,
    };
    let console = if a.tty { env.console } else { (0, 0) };

    let mut host = json!({
        "Binds": list(&binds),
        "ContainerIDFile": a.cidfile.clone().unwrap_or_default(),
        "LogConfig": {"Type": a.log_driver.clone().unwrap_or_default(), "Config": kv_map(&a.log_opt)},
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": {"Name": restart, "MaximumRetryCount": retries},
        "AutoRemove": a.rm,
        "VolumeDriver": "",
        "VolumesFrom": null,
        "ConsoleSize": [console.0, console.1],
        "CapAdd": list(&caps(&a.cap_add)),
        "CapDrop": list(&caps(&a.cap_drop)),
        "CgroupnsMode": "",
        "Dns": dns,
        "DnsOptions": a.dns_option,
        "DnsSearch": dns_search,
        "ExtraHosts": list(&extra_hosts),
        "GroupAdd": list(&a.group_add),
        "IpcMode": a.ipc.clone().unwrap_or_default(),
        "Cgroup": "",
        "Links": list(&a.link),
        "OomScoreAdj": a.oom_score_adj.unwrap_or(0),
        "PidMode": a.pid.clone().unwrap_or_default(),
        "Privileged": a.privileged,
        "PublishAllPorts": a.publish_all,
        "ReadonlyRootfs": a.read_only,
        "SecurityOpt": list(&a.security_opt),
        "UTSMode": a.uts.clone().unwrap_or_default(),
        "UsernsMode": "",
        "ShmSize": size("--shm-size", &a.shm_size)?,
        "Isolation": "",
        "CpuShares": a.cpu_shares.unwrap_or(0),
        "Memory": size("-m, --memory", &a.memory)?,
        "NanoCpus": nano_cpus,
        "CgroupParent": a.cgroup_parent.clone().unwrap_or_default(),
    });
    let rest = json!({
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": a.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": null,
        "DeviceRequests": null,
        "MemoryReservation": size("--memory-reservation", &a.memory_reservation)?,
        "MemorySwap": size("--memory-swap", &a.memory_swap)?,
        "MemorySwappiness": -1,
        "OomKillDisable": false,
        "PidsLimit": a.pids_limit.unwrap_or(0),
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": null,
        "ReadonlyPaths": null,
    });
    if let (Value::Object(h), Value::Object(r)) = (&mut host, rest) {
        h.extend(r);
        if a.init {
            h.insert("Init".into(), json!(true));
        }
        if !a.tmpfs.is_empty() {
            let t: Map<String, Value> = a
                .tmpfs
                .iter()
                .map(|t| {
                    let (p, o) = t.split_once(':').unwrap_or((t.as_str(), ""));
                    (p.to_string(), json!(o))
                })
                .collect();
            h.insert("Tmpfs".into(), Value::Object(t));
        }
    }

    let mut body = json!({
        "Hostname": a.hostname.clone().unwrap_or_default(),
        "Domainname": a.domainname.clone().unwrap_or_default(),
        "User": a.user.clone().unwrap_or_default(),
        "AttachStdin": att_in,
        "AttachStdout": att_out,
        "AttachStderr": att_err,
        "Tty": a.tty,
        "OpenStdin": a.interactive,
        "StdinOnce": a.interactive && att_in,
        "Env": list(&envs),
        "Cmd": list(&a.command),
        "Image": a.image,
        "Volumes": volumes,
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Entrypoint": a.entrypoint.as_ref().map(|e| json!([e])).unwrap_or(Value::Null),
        "OnBuild": null,
        "Labels": kv_map(&labels),
        "HostConfig": host,
        "NetworkingConfig": {"EndpointsConfig": endpoints},
    });
    if let Value::Object(b) = &mut body {
        if !exposed.is_empty() {
            b.insert("ExposedPorts".into(), Value::Object(exposed));
        }
        if let Some(s) = &a.stop_signal {
            b.insert("StopSignal".into(), json!(s));
        }
        if let Some(t) = a.stop_timeout {
            b.insert("StopTimeout".into(), json!(t));
        }
    }
    let mut query = Vec::new();
    if let Some(n) = &a.name {
        query.push(("name", n.clone()));
    }
    if let Some(p) = &a.platform {
        query.push(("platform", p.clone()));
    }
    Ok((body, query))
}

#[cfg(test)]
mod tests {
    use super::super::run_args::RUN_SPEC;
    use super::*;
    use argh::FromArgs;

    fn parse(words: &[&str]) -> RunArgs {
        let norm = super::super::args::normalize(words, &RUN_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        RunArgs::from_args(&["berth", "run"], &refs).unwrap_or_else(|e| panic!("{}", e.output))
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn build_for(words: &[&str], run: bool) -> Value {
        let files = |p: &str| -> Result<String> {
            match p {
                "env.list" => Ok("# c\nA=1\nHOME\n".into()),
                "labels" => Ok("x=y\n".into()),
                _ => Err(Error::not_found(format!(
                    "open {p}: no such file or directory"
                ))),
            }
        };
        let lookup = |k: &str| {
            if k == "HOME" {
                Some("/root".into())
            } else {
                None
            }
        };
        let env = Env {
            lookup: &lookup,
            read_file: &files,
            console: (30, 100),
        };
        build(&parse(words), run, &env).unwrap().0
    }

    /// The create bodies the docker CLI sent in the transcripts (create.md, run-*.md).
    fn transcript_body(name: &str) -> Value {
        let all: Value =
            serde_json::from_str(include_str!("testdata/create-bodies.json")).expect("json");
        all[name.trim_end_matches(".md")].clone()
    }

    #[test]
    fn create_body_matches_docker_create() {
        let words = [
            "--name",
            "cap-web",
            "-p",
            "127.0.0.1:18080:80",
            "-e",
            "FOO=bar",
            "-v",
            "cap-vol1:/data",
            "--label",
            "cap.test=1",
            "--network",
            "cap-net1",
            "-w",
            "/tmp",
            "--restart",
            "on-failure:2",
            "capture/busybox",
            "sh",
            "-c",
            "echo started",
        ];
        let mut want = transcript_body("create.md");
        want["Cmd"] = json!(["sh", "-c", "echo started"]);
        assert_eq!(build_for(&words, false), want);
    }

    #[test]
    fn run_bodies_match_docker_run() {
        let mut want = transcript_body("run-fg.md");
        want["Cmd"] = json!(["true"]);
        assert_eq!(
            build_for(&["--name", "cap-run-fg", "capture/busybox", "true"], true),
            want
        );
        let mut want = transcript_body("run-d.md");
        want["Cmd"] = json!(["true"]);
        assert_eq!(
            build_for(
                &["-d", "--name", "cap-run-d", "capture/busybox", "true"],
                true
            ),
            want
        );
        let mut want = transcript_body("run-i.md");
        want["Cmd"] = json!(["cat"]);
        assert_eq!(
            build_for(
                &["-i", "--name", "cap-run-i", "capture/busybox", "cat"],
                true
            ),
            want
        );
        let mut want = transcript_body("run-it.md");
        want["Cmd"] = json!(["sh"]);
        assert_eq!(
            build_for(
                &["-it", "--name", "cap-run-it", "capture/busybox", "sh"],
                true
            ),
            want
        );
        let mut want = transcript_body("run-rm.md");
        want["Cmd"] = json!(["echo", "bye"]);
        assert_eq!(
            build_for(
                &[
                    "--rm",
                    "--name",
                    "cap-run-rm",
                    "capture/busybox",
                    "echo",
                    "bye"
                ],
                true
            ),
            want
        );
    }

    #[test]
    fn stdin_once_follows_attached_stdin() {
        assert_eq!(build_for(&["-i", "img"], false)["StdinOnce"], json!(true));
        assert_eq!(
            build_for(&["-d", "-i", "img"], true)["StdinOnce"],
            json!(false)
        );
        assert_eq!(
            build_for(&["-i", "-a", "stdout", "img"], true)["StdinOnce"],
            json!(false)
        );
    }

    #[test]
    fn flags_land_in_the_body() {
        let b = build_for(
            &[
                "--env-file",
                "env.list",
                "-e",
                "B=2",
                "--label-file",
                "labels",
                "-l",
                "k",
                "--entrypoint",
                "",
                "-u",
                "1:2",
                "-h",
                "box",
                "--shm-size",
                "64m",
                "-m",
                "1g",
                "--cpus",
                "1.5",
                "--pids-limit",
                "10",
                "--privileged",
                "--read-only",
                "--cap-add",
                "net_admin",
                "--add-host",
                "db:10.0.0.2",
                "--dns",
                "1.1.1.1",
                "--expose",
                "90",
                "-P",
                "--stop-signal",
                "SIGINT",
                "--stop-timeout",
                "3",
                "-v",
                "/anon",
                "--init",
                "--tmpfs",
                "/run:size=1m",
                "img",
            ],
            true,
        );
        assert_eq!(b["Env"], json!(["A=1", "HOME=/root", "B=2"]));
        assert_eq!(b["Labels"], json!({"x": "y", "k": ""}));
        assert_eq!(b["Entrypoint"], json!([""]));
        assert_eq!(
            (b["User"].as_str(), b["Hostname"].as_str()),
            (Some("1:2"), Some("box"))
        );
        assert_eq!(b["Cmd"], Value::Null);
        let h = &b["HostConfig"];
        assert_eq!(h["ShmSize"], 64 << 20);
        assert_eq!(h["Memory"], 1 << 30);
        assert_eq!(h["NanoCpus"], 1_500_000_000i64);
        assert_eq!(h["PidsLimit"], 10);
        assert_eq!(
            (h["Privileged"].as_bool(), h["ReadonlyRootfs"].as_bool()),
            (Some(true), Some(true))
        );
        assert_eq!(h["CapAdd"], json!(["CAP_NET_ADMIN"]));
        assert_eq!(h["ExtraHosts"], json!(["db:10.0.0.2"]));
        assert_eq!(h["Dns"], json!(["1.1.1.1"]));
        assert_eq!(h["PublishAllPorts"], json!(true));
        assert_eq!(h["Init"], json!(true));
        assert_eq!(h["Tmpfs"], json!({"/run": "size=1m"}));
        assert_eq!(b["ExposedPorts"], json!({"90/tcp": {}}));
        assert_eq!(b["Volumes"], json!({"/anon": {}}));
        assert_eq!(
            (b["StopSignal"].as_str(), b["StopTimeout"].as_i64()),
            (Some("SIGINT"), Some(3))
        );
    }

    #[test]
    fn network_flags_like_docker() {
        // The bodies docker 28.2.2 sent for these flags.
        let words = "--network app --network-alias db --ip 10.0.0.9 --link web:w \
            --dns ::ffff:1.2.3.4 --dns-search example.com. --add-host v6:[::2] \
            -p published=8080,target=80 -p 127.0.0.1::81 -p 8000-8001:90-91/udp img";
        let b = build_for(&words.split_whitespace().collect::<Vec<_>>(), true);
        let h = &b["HostConfig"];
        assert_eq!(h["NetworkMode"], "app");
        assert_eq!(h["Links"], json!(["web:w"]));
        assert_eq!(h["Dns"], json!(["1.2.3.4"]));
        assert_eq!(h["DnsSearch"], json!(["example.com"]));
        assert_eq!(h["ExtraHosts"], json!(["v6:::2"]));
        assert_eq!(
            h["PortBindings"],
            json!({
                "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                "81/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                "90/udp": [{"HostIp": "", "HostPort": "8000"}],
                "91/udp": [{"HostIp": "", "HostPort": "8001"}]
            })
        );
        assert_eq!(
            b["ExposedPorts"],
            json!({"80/tcp": {}, "81/tcp": {}, "90/udp": {}, "91/udp": {}})
        );
        let ep = &b["NetworkingConfig"]["EndpointsConfig"]["app"];
        assert_eq!(ep["Aliases"], json!(["db"]));
        assert_eq!(ep["Links"], json!(["web:w"]));
        assert_eq!(ep["IPAMConfig"], json!({"IPv4Address": "10.0.0.9"}));
        assert_eq!(
            build_for(&["--network", "host", "img"], true)["NetworkingConfig"],
            json!({"EndpointsConfig": {}})
        );
    }

    #[test]
    fn bad_flag_values_are_refused() {
        let files = |p: &str| -> Result<String> {
            Err(Error::not_found(format!(
                "open {p}: no such file or directory"
            )))
        };
        let env = Env {
            lookup: &no_env,
            read_file: &files,
            console: (0, 0),
        };
        let err = |w: &[&str]| build(&parse(w), true, &env).unwrap_err().message;
        assert_eq!(
            err(&["--env-file", "nope", "img"]),
            "open nope: no such file or directory"
        );
        assert!(err(&["--restart", "always", "--rm", "img"]).contains("--restart and --rm"));
        assert!(err(&["-d", "-a", "stdout", "img"]).contains("--attach and --detach"));
        assert_eq!(
            err(&["--shm-size", "lots", "img"]),
            "invalid argument \"lots\" for \"--shm-size\" flag: invalid size: 'lots'"
        );
        assert_eq!(
            err(&["-m", "1x", "img"]),
            "invalid argument \"1x\" for \"-m, --memory\" flag: invalid suffix: 'x'"
        );
        assert_eq!(err(&["--dns", "nope", "img"]), "invalid argument \"nope\" for \"--dns\" flag: IP address is not correctly formatted: nope");
        assert_eq!(
            err(&["-a", "foo", "img"]),
            "invalid argument \"foo\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
        assert_eq!(
            err(&["--add-host", "bad", "img"]),
            "invalid argument \"bad\" for \"--add-host\" flag: bad format for add-host: \"bad\""
        );
        assert!(err(&["-p", "99999:80", "img"]).contains("invalid hostPort"));
        assert_eq!(
            err(&["--dns-search", "bad..x", "img"]),
            "invalid argument \"bad..x\" for \"--dns-search\" flag: bad..x is not a valid domain"
        );
        assert_eq!(
            err(&["--link", "a:b:c", "img"]),
            "invalid argument \"a:b:c\" for \"--link\" flag: bad format for links: a:b:c"
        );
        assert_eq!(
            err(&["--network", "alias=x", "img"]),
            "invalid argument \"alias=x\" for \"--network\" flag: network name/id is not specified"
        );
    }
}
