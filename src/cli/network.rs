//! `berth network`: the subcommands docker has for networks and the requests docker 28
//! sends for them (transcripts/network-*.md): `inspect` (`GET /networks/N`), `rm` (a
//! `GET` then a `DELETE` per network, as docker does), `connect`/`disconnect` (their JSON
//! bodies), `prune` (docker's prompt, `POST /networks/prune`). `create` and `ls` live in
//! their own files. Bodies and paths are built by pure functions; the commands send them.

use super::api::{self, query};
use super::args::FlagSpec;
use super::endpoints::{endpoint_json, ipam_json};
use super::inspect::{as_array, formatted};
use super::opts::{csv_values, validate_link};
use super::prune::confirm;
use super::ps::filters_json;
use super::template::Template;
use super::{flag_error, parse, Cli};
use crate::client::Body;
use crate::error::{Error, Kind, Result};
use argh::FromArgs;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Display detailed information on one or more networks.
pub struct InspectArgs {
    /// format the output using a Go template
    #[argh(option, short = 'f')]
    format: Option<String>,
    /// verbose output for diagnostics
    #[argh(switch, short = 'v')]
    verbose: bool,
    /// the networks
    #[argh(positional)]
    names: Vec<String>,
}

const INSPECT_SPEC: FlagSpec = FlagSpec {
    switches: &["-v", "--verbose"],
    options: &["-f", "--format"],
    stop_at_positional: false,
    aliases: &[],
};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove one or more networks.
pub struct RmArgs {
    /// do not error if the network does not exist
    #[argh(switch, short = 'f')]
    force: bool,
    /// the networks
    #[argh(positional)]
    names: Vec<String>,
}

const RM_SPEC: FlagSpec = FlagSpec {
    switches: &["-f", "--force"],
    options: &[],
    stop_at_positional: false,
    aliases: &[],
};

#[derive(FromArgs, Debug)]
#[argh(help_triggers("--help"))]
/// Connect a container to a network.
pub struct ConnectArgs {
    /// add a network-scoped alias for the container
    #[argh(option)]
    alias: Vec<String>,
    /// IPv4 address (e.g. "172.30.100.104")
    #[argh(option)]
    ip: Option<String>,
    /// IPv6 address (e.g. "2001:db8::33")
    #[argh(option)]
    ip6: Option<String>,
    /// add a link to another container (NAME[:ALIAS])
    #[argh(option)]
    link: Vec<String>,
    /// add a link-local address for the container
    #[argh(option)]
    link_local_ip: Vec<String>,
    /// driver options for the network (KEY=VALUE)
    #[argh(option)]
    driver_opt: Vec<String>,
    /// highest gw-priority provides the default gateway
    #[argh(option, default = "0")]
    gw_priority: i64,
    /// the network
    #[argh(positional)]
    network: String,
    /// the container
    #[argh(positional)]
    container: String,
}

const CONNECT_SPEC: FlagSpec = FlagSpec {
    switches: &[],
    options: &[
        "--alias",
        "--ip",
        "--ip6",
        "--link",
        "--link-local-ip",
        "--driver-opt",
        "--gw-priority",
    ],
    stop_at_positional: false,
    aliases: &[],
};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Disconnect a container from a network.
pub struct DisconnectArgs {
    /// force the container to disconnect from a network
    #[argh(switch, short = 'f')]
    force: bool,
    /// the network
    #[argh(positional)]
    network: String,
    /// the container
    #[argh(positional)]
    container: String,
}

const DISCONNECT_SPEC: FlagSpec = FlagSpec {
    switches: &["-f", "--force"],
    options: &[],
    stop_at_positional: false,
    aliases: &[],
};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove all unused networks.
pub struct PruneArgs {
    /// do not prompt for confirmation
    #[argh(switch, short = 'f')]
    force: bool,
    /// provide filter values (e.g. "until=<timestamp>", "label=KEY=VALUE")
    #[argh(option)]
    filter: Vec<String>,
}

const PRUNE_SPEC: FlagSpec = FlagSpec {
    switches: &["-f", "--force"],
    options: &["--filter"],
    stop_at_positional: false,
    aliases: &[],
};

const PRUNE_WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";
const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same berth engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?";

/// `GET /networks/{name}`, with `verbose=true` for `-v`.
pub fn inspect_path(name: &str, verbose: bool) -> String {
    let q = if verbose {
        query(&[("verbose", "true".into())])
    } else {
        String::new()
    };
    format!("/networks/{name}{q}")
}

/// The connect body: docker 28 sends a full endpoint, its IPAM part and driver options as
/// (possibly empty) objects and the aliases as a (possibly empty) list.
pub fn connect_body(a: &ConnectArgs) -> std::result::Result<Value, String> {
    let aliases: Vec<String> = a.alias.iter().flat_map(|v| csv_values(v)).collect();
    let link_local: Vec<String> = a.link_local_ip.iter().flat_map(|v| csv_values(v)).collect();
    let mut opts = BTreeMap::new();
    for o in a.driver_opt.iter().flat_map(|v| csv_values(v)) {
        match o.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => return Err("invalid key/value pair format in driver options".into()),
        }
    }
    let links = if a.link.is_empty() {
        Value::Null
    } else {
        json!(a.link)
    };
    let ipam = ipam_json(
        a.ip.as_deref().unwrap_or(""),
        a.ip6.as_deref().unwrap_or(""),
        &link_local,
    );
    Ok(json!({
        "Container": a.container,
        "EndpointConfig": endpoint_json(ipam, links, json!(aliases), "", json!(opts), a.gw_priority),
    }))
}

pub fn disconnect_body(container: &str, force: bool) -> Value {
    json!({"Container": container, "Force": force})
}

/// `POST /networks/prune`, with the filters docker encodes, or docker's complaint.
pub fn prune_path(filters: &[String]) -> std::result::Result<String, String> {
    if let Some(f) = filters.iter().find(|f| !f.contains('=')) {
        return Err(format!(
            "invalid argument {f:?} for \"--filter\" flag: bad format of filter (expected name=value)"
        ));
    }
    let f = filters_json(filters)?;
    Ok(format!(
        "/networks/prune{}",
        query(&f.map(|f| vec![("filters", f)]).unwrap_or_default())
    ))
}

/// docker's report of a prune answer: nothing when nothing went.
pub fn prune_report(answer: &Value) -> String {
    let deleted: Vec<&str> = answer["NetworksDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if deleted.is_empty() {
        return String::new();
    }
    let mut out = String::from("Deleted Networks:\n");
    for d in deleted {
        out.push_str(d);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn post_json(cli: &mut Cli, path: &str, body: &Value) -> Result<()> {
    let mut bytes = serde_json::to_vec(body)
        .map_err(|e| Error::system(format!("encode the request to {path}: {e}")))?;
    bytes.push(b'\n');
    api::call(&mut cli.client, "POST", path, &[], Body::Json(bytes))?.bytes()?;
    Ok(())
}

pub fn inspect(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: InspectArgs = match parse(path, words, &INSPECT_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if let Some(Err(e)) = a.format.as_deref().map(Template::parse) {
        eprintln!("template parsing error: {}", e.message);
        return 64;
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        let r = api::call(
            &mut cli.client,
            "GET",
            &inspect_path(n, a.verbose),
            &[],
            Body::Empty,
        )
        .and_then(|resp| resp.bytes());
        match r {
            Ok(b) => docs.push(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => errors.push(e.message),
        }
    }
    let out = match &a.format {
        Some(f) => formatted(f, &docs),
        None => Ok(as_array(&docs)),
    };
    match out {
        Ok(o) => super::out(&o),
        Err(e) => errors.push(e.message),
    }
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}

pub fn rm(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: RmArgs = match parse(path, words, &RM_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut status = 0;
    for name in &a.names {
        let target = format!("/networks/{name}");
        // docker looks first, to ask before removing a swarm's routing-mesh network.
        let ingress = api::get_json(&mut cli.client, &target)
            .map(|n| n["Ingress"] == true)
            .unwrap_or(false);
        if ingress && !confirm(INGRESS_WARNING, &mut io::stdin().lock(), &mut io::stdout()) {
            continue;
        }
        let r = api::call(&mut cli.client, "DELETE", &target, &[], Body::Empty)
            .and_then(|resp| resp.bytes());
        match r {
            Ok(_) => super::out(&format!("{name}\n")),
            Err(e) if a.force && e.kind == Kind::NotFound => {}
            Err(e) => {
                eprintln!("{}", e.message);
                status = 1;
            }
        }
    }
    if status != 0 {
        eprintln!("exit status {status}");
    }
    status
}

pub fn connect(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: ConnectArgs = match parse(path, words, &CONNECT_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if let Some((l, why)) = a
        .link
        .iter()
        .find_map(|l| validate_link(l).err().map(|why| (l, why)))
    {
        return flag_error(
            path,
            &format!("invalid argument {l:?} for \"--link\" flag: {why}"),
        );
    }
    let body = match connect_body(&a) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    super::status(post_json(
        cli,
        &format!("/networks/{}/connect", a.network),
        &body,
    ))
}

pub fn disconnect(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: DisconnectArgs = match parse(path, words, &DISCONNECT_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let body = disconnect_body(&a.container, a.force);
    super::status(post_json(
        cli,
        &format!("/networks/{}/disconnect", a.network),
        &body,
    ))
}

pub fn prune(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PruneArgs = match parse(path, words, &PRUNE_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let target = match prune_path(&a.filter) {
        Ok(p) => p,
        Err(e) => return flag_error(path, &e),
    };
    // A refusal is no failure: docker exits 0 without a word more.
    if !a.force && !confirm(PRUNE_WARNING, &mut io::stdin().lock(), &mut io::stdout()) {
        return 0;
    }
    let r = (|| -> Result<String> {
        let resp = api::call(&mut cli.client, "POST", &target, &[], Body::Empty)?;
        let answer: Value = serde_json::from_slice(&resp.bytes()?)
            .map_err(|e| Error::invalid(format!("decode the prune answer: {e}")))?;
        Ok(prune_report(&answer))
    })();
    let _ = io::stdout().flush();
    super::print_or_fail(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_args(words: &[&str]) -> ConnectArgs {
        let norm = super::super::args::normalize(words, &CONNECT_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        ConnectArgs::from_args(&["berth", "network", "connect"], &refs)
            .unwrap_or_else(|e| panic!("{}", e.output))
    }

    fn endpoint(ipam: Value, links: Value, aliases: Value, opts: Value, gw: i64) -> Value {
        json!({
            "IPAMConfig": ipam, "Links": links, "Aliases": aliases, "MacAddress": "",
            "DriverOpts": opts, "GwPriority": gw, "NetworkID": "", "EndpointID": "",
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
        })
    }

    #[test]
    fn connect_bodies_like_docker() {
        // transcripts/network-connect.md
        assert_eq!(
            connect_body(&connect_args(&[
                "--alias",
                "capalias",
                "cap-net1",
                "cap-net-c"
            ]))
            .unwrap(),
            json!({"Container": "cap-net-c", "EndpointConfig": endpoint(json!({}), Value::Null, json!(["capalias"]), json!({}), 0)})
        );
        // What docker 28.2.2 sent for every flag at once.
        let a = connect_args(&[
            "--alias",
            "a,b",
            "--alias",
            "c",
            "--ip",
            "10.0.0.5",
            "--ip6",
            "fd00::5",
            "--link",
            "web:w",
            "--link",
            "db",
            "--link-local-ip",
            "169.254.1.1",
            "--driver-opt",
            "k=v",
            "--gw-priority",
            "3",
            "cap-net1",
            "c1",
        ]);
        assert_eq!(
            connect_body(&a).unwrap(),
            json!({"Container": "c1", "EndpointConfig": endpoint(
                json!({"IPv4Address": "10.0.0.5", "IPv6Address": "fd00::5", "LinkLocalIPs": ["169.254.1.1"]}),
                json!(["web:w", "db"]),
                json!(["a", "b", "c"]),
                json!({"k": "v"}),
                3
            )})
        );
        assert_eq!(a.network, "cap-net1");
        // Addresses are the daemon's to judge, as in docker.
        assert_eq!(
            connect_body(&connect_args(&["--ip", "bogus", "n", "c"])).unwrap()["EndpointConfig"]
                ["IPAMConfig"],
            json!({"IPv4Address": "bogus"})
        );
        assert_eq!(
            connect_body(&connect_args(&["n", "c"])).unwrap()["EndpointConfig"]["Aliases"],
            json!([])
        );
        assert_eq!(
            connect_body(&connect_args(&["--driver-opt", "kv", "n", "c"])).unwrap_err(),
            "invalid key/value pair format in driver options"
        );
    }

    #[test]
    fn other_requests_like_docker() {
        // transcripts/network-disconnect.md, network-inspect.md
        assert_eq!(
            disconnect_body("cap-net-c", false),
            json!({"Container": "cap-net-c", "Force": false})
        );
        assert_eq!(inspect_path("cap-net1", false), "/networks/cap-net1");
        assert_eq!(
            inspect_path("cap-net1", true),
            "/networks/cap-net1?verbose=true"
        );
        assert_eq!(prune_path(&[]).unwrap(), "/networks/prune");
        assert_eq!(
            prune_path(&["until=24h".into(), "label=a".into()]).unwrap(),
            "/networks/prune?filters=%7B%22label%22%3A%7B%22a%22%3Atrue%7D%2C%22until%22%3A%7B%2224h%22%3Atrue%7D%7D"
        );
        assert!(prune_path(&["x".into()])
            .unwrap_err()
            .contains("bad format of filter"));
    }

    #[test]
    fn prune_prompt_and_report_like_docker() {
        let mut out = Vec::new();
        assert!(confirm(PRUNE_WARNING, &mut &b"y\n"[..], &mut out));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        assert_eq!(
            prune_report(&json!({"NetworksDeleted": ["cap-net1", "other"]})),
            "Deleted Networks:\ncap-net1\nother\n\n"
        );
        assert_eq!(prune_report(&json!({"NetworksDeleted": null})), "");
        assert_eq!(prune_report(&json!({"NetworksDeleted": []})), "");
    }

    #[test]
    fn inspect_output_like_docker() {
        // transcripts/network-inspect.md: the daemon's document, indented inside an array.
        let doc = include_str!("testdata/network-cap-net1.json").to_string();
        assert_eq!(
            as_array(std::slice::from_ref(&doc)),
            include_str!("testdata/network-inspect.out")
        );
        assert_eq!(
            formatted("{{.Name}} {{.Driver}}", &[doc]).unwrap(),
            "cap-net1 bridge\n"
        );
    }
}
