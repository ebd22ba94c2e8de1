//! `berth network create`: docker's flags turned into the `POST /networks/create` body
//! docker 28 sends at API 1.41 (transcripts/network-create.md, and the docker CLI itself for
//! the other flags): the IPAM configuration consolidated per subnet with docker's checks
//! and error words (`createIPAMConfig`), labels and options as maps, `CheckDuplicate: true`.
//! Building the body is pure; `create` sends it and prints the new network's ID.

use super::api;
use super::args::FlagSpec;
use super::opts::csv_values;
use super::{flag_error, parse, Cli};
use crate::client::Body;
use crate::error::{Error, Result};
use argh::FromArgs;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

#[derive(FromArgs, Debug)]
#[argh(help_triggers("--help"))]
/// Create a network.
pub struct CreateArgs {
    /// driver to manage the network (default "bridge")
    #[argh(option, short = 'd')]
    driver: Option<String>,
    /// subnet in CIDR format that represents a network segment
    #[argh(option)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 gateway for the master subnet
    #[argh(option)]
    gateway: Vec<String>,
    /// allocate container IPs from a sub-range
    #[argh(option)]
    ip_range: Vec<String>,
    /// auxiliary IPv4 or IPv6 addresses used by the network driver (NAME=IP)
    #[argh(option)]
    aux_address: Vec<String>,
    /// IP address management driver (default "default")
    #[argh(option)]
    ipam_driver: Option<String>,
    /// set IPAM driver specific options (KEY=VALUE)
    #[argh(option)]
    ipam_opt: Vec<String>,
    /// restrict external access to the network
    #[argh(switch)]
    internal: bool,
    /// enable manual container attachment
    #[argh(switch)]
    attachable: bool,
    /// enable IPv6 networking (sent; berth's daemon refuses it)
    #[argh(switch)]
    ipv6: bool,
    /// set driver specific options (KEY=VALUE)
    #[argh(option, short = 'o')]
    opt: Vec<String>,
    /// set metadata on a network (KEY=VALUE)
    #[argh(option)]
    label: Vec<String>,
    /// the network's name
    #[argh(positional)]
    name: String,
}

pub const CREATE_SPEC: FlagSpec = FlagSpec {
    switches: &["--internal", "--attachable", "--ipv6"],
    options: &[
        "-d",
        "--driver",
        "--subnet",
        "--gateway",
        "--ip-range",
        "--aux-address",
        "--ipam-driver",
        "--ipam-opt",
        "-o",
        "--opt",
        "--label",
    ],
    stop_at_positional: false,
    aliases: &[],
};

/// docker's `ValidateLabel` (a flag error when it fails).
fn validate_label(v: &str) -> std::result::Result<(), String> {
    let key = v.split_once('=').map_or(v, |(k, _)| k);
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{v}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(())
}

/// `KEY=VALUE` strings as a map (a bare key maps to ""), the last value of a key winning.
fn kv_map(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|i| {
            let (k, v) = i.split_once('=').unwrap_or((i.as_str(), ""));
            (k.to_string(), json!(v))
        })
        .collect()
}

/// Go's `net.ParseCIDR`: the address and prefix length.
fn parse_cidr(s: &str) -> std::result::Result<(IpAddr, u32), String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return Err(bad());
    }
    let n: u32 = len.parse().map_err(|_| bad())?;
    if n > max {
        return Err(bad());
    }
    Ok((ip, n))
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), 32),
            None => (u128::from(a), 128),
        },
    }
}

/// docker's `subnetMatches`: whether `data` (an address, or a CIDR whose address is
/// taken) lies in `subnet`.
fn subnet_matches(subnet: &str, data: &str) -> std::result::Result<bool, String> {
    let (net, len) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        parse_cidr(data)?.0
    } else {
        match data.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return Ok(false),
        }
    };
    let ((n, nw), (a, aw)) = (bits(net), bits(ip));
    if nw != aw {
        return Ok(false);
    }
    let shift = nw - len.min(nw);
    Ok(shift >= nw || (n >> shift) == (a >> shift))
}

/// docker's `createIPAMConfig` (the string-typed one of docker 28): one config per subnet,
/// in the order given, with its range, gateway and auxiliary addresses.
pub fn ipam_configs(a: &CreateArgs) -> std::result::Result<Vec<Value>, String> {
    let subnets: Vec<String> = a.subnet.iter().flat_map(|s| csv_values(s)).collect();
    let ranges: Vec<String> = a.ip_range.iter().flat_map(|s| csv_values(s)).collect();
    let gateways: Vec<String> = a.gateway.iter().flat_map(|s| csv_values(s)).collect();
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    // (subnet, range, gateway, aux addresses)
    type Entry = (String, String, String, Map<String, Value>);
    let mut data: Vec<Entry> = Vec::new();
    for s in &subnets {
        for (k, ..) in &data {
            if subnet_matches(s, k)? || subnet_matches(k, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        data.push((s.clone(), String::new(), String::new(), Map::new()));
    }
    for r in &ranges {
        let mut matched = false;
        for s in &subnets {
            if !subnet_matches(s, r)? {
                continue;
            }
            let e = data
                .iter_mut()
                .find(|(k, ..)| k == s)
                .expect("every subnet has an entry");
            if !e.1.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({s})",
                    e.1
                ));
            }
            e.1 = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in &gateways {
        let mut matched = false;
        for s in &subnets {
            if !subnet_matches(s, g)? {
                continue;
            }
            let e = data
                .iter_mut()
                .find(|(k, ..)| k == s)
                .expect("every subnet has an entry");
            if !e.2.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({s})",
                    e.2
                ));
            }
            e.2 = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (name, addr) in kv_map(&a.aux_address) {
        let addr = addr.as_str().unwrap_or("").to_string();
        let mut matched = false;
        for s in &subnets {
            if !subnet_matches(s, &addr)? {
                continue;
            }
            let e = data
                .iter_mut()
                .find(|(k, ..)| k == s)
                .expect("every subnet has an entry");
            e.3.insert(name.clone(), json!(addr));
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {addr}"));
        }
    }
    Ok(data
        .into_iter()
        .map(|(subnet, range, gateway, aux)| {
            let mut m = Map::new();
            m.insert("Subnet".into(), json!(subnet));
            if !range.is_empty() {
                m.insert("IPRange".into(), json!(range));
            }
            if !gateway.is_empty() {
                m.insert("Gateway".into(), json!(gateway));
            }
            if !aux.is_empty() {
                m.insert("AuxiliaryAddresses".into(), Value::Object(aux));
            }
            Value::Object(m)
        })
        .collect())
}

/// The create body, or the refusal docker prints before sending anything.
pub fn create_body(a: &CreateArgs) -> std::result::Result<Value, String> {
    let config = ipam_configs(a)?;
    let mut body = json!({
        "Name": a.name,
        "CheckDuplicate": true,
        "Driver": a.driver.as_deref().unwrap_or("bridge"),
        "Scope": "",
        "IPAM": {
            "Driver": a.ipam_driver.as_deref().unwrap_or("default"),
            "Options": kv_map(&a.ipam_opt),
            "Config": config,
        },
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Ingress": false,
        "ConfigOnly": false,
        "ConfigFrom": null,
        "Options": kv_map(&a.opt),
        "Labels": kv_map(&a.label),
    });
    if a.ipv6 {
        body["EnableIPv6"] = json!(true);
    }
    Ok(body)
}

pub fn create(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: CreateArgs = match parse(path, words, &CREATE_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if let Some((l, why)) = a
        .label
        .iter()
        .find_map(|l| validate_label(l).err().map(|why| (l, why)))
    {
        return flag_error(
            path,
            &format!("invalid argument {l:?} for \"--label\" flag: {why}"),
        );
    }
    let body = match create_body(&a) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let r = (|| -> Result<String> {
        let mut bytes = serde_json::to_vec(&body)
            .map_err(|e| Error::system(format!("encode the network create request: {e}")))?;
        bytes.push(b'\n');
        let resp = api::call(
            &mut cli.client,
            "POST",
            "/networks/create",
            &[],
            Body::Json(bytes),
        )?;
        let answer: Value = serde_json::from_slice(&resp.bytes()?)
            .map_err(|e| Error::invalid(format!("decode the network create answer: {e}")))?;
        Ok(format!("{}\n", answer["Id"].as_str().unwrap_or("")))
    })();
    super::print_or_fail(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> CreateArgs {
        let norm = super::super::args::normalize(words, &CREATE_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        CreateArgs::from_args(&["berth", "network", "create"], &refs)
            .unwrap_or_else(|e| panic!("{}", e.output))
    }

    fn body(words: &[&str]) -> std::result::Result<Value, String> {
        create_body(&args(words))
    }

    #[test]
    fn body_like_docker_network_create() {
        // transcripts/network-create.md
        assert_eq!(
            body(&[
                "--label",
                "cap.test=1",
                "--subnet",
                "172.31.250.0/24",
                "cap-net1"
            ])
            .unwrap(),
            json!({
                "Driver": "bridge", "Scope": "",
                "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.31.250.0/24"}]},
                "Internal": false, "Attachable": false, "Ingress": false, "ConfigOnly": false,
                "ConfigFrom": null, "Options": {}, "Labels": {"cap.test": "1"},
                "Name": "cap-net1", "CheckDuplicate": true
            })
        );
        // The body docker 28.2.2 sent for every flag at once.
        assert_eq!(
            body(&[
                "-d",
                "macvlan",
                "--subnet",
                "10.1.0.0/24",
                "--gateway",
                "10.1.0.1",
                "--ip-range",
                "10.1.0.128/25",
                "--internal",
                "--attachable",
                "-o",
                "a=b",
                "-o",
                "c",
                "--label",
                "x",
                "--label",
                "y=z",
                "--ipv6",
                "--aux-address",
                "h1=10.1.0.5",
                "--ipam-opt",
                "q=r",
                "n1",
            ])
            .unwrap(),
            json!({
                "Driver": "macvlan", "Scope": "", "EnableIPv6": true,
                "IPAM": {"Driver": "default", "Options": {"q": "r"}, "Config": [{
                    "Subnet": "10.1.0.0/24", "IPRange": "10.1.0.128/25", "Gateway": "10.1.0.1",
                    "AuxiliaryAddresses": {"h1": "10.1.0.5"}
                }]},
                "Internal": true, "Attachable": true, "Ingress": false, "ConfigOnly": false,
                "ConfigFrom": null, "Options": {"a": "b", "c": ""}, "Labels": {"x": "", "y": "z"},
                "Name": "n1", "CheckDuplicate": true
            })
        );
        assert_eq!(body(&["n1"]).unwrap()["IPAM"]["Config"], json!([]));
        // docker does not check a lone subnet; the daemon does.
        assert_eq!(
            body(&["--subnet", "foo", "n1"]).unwrap()["IPAM"]["Config"],
            json!([{"Subnet": "foo"}])
        );
        assert_eq!(
            body(&[
                "--subnet",
                "10.0.0.0/24,10.1.0.0/24",
                "--gateway",
                "10.1.0.1",
                "n1"
            ])
            .unwrap()["IPAM"]["Config"],
            json!([{"Subnet": "10.0.0.0/24"}, {"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}])
        );
    }

    #[test]
    fn ipam_refusals_in_docker_words() {
        let err = |w: &[&str]| body(w).unwrap_err();
        assert_eq!(
            err(&["--gateway", "10.1.0.1", "n1"]),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            err(&["--subnet", "foo", "--gateway", "10.1.0.1", "n1"]),
            "invalid subnet: invalid CIDR address: foo"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/16", "--subnet", "10.0.1.0/24", "n1"]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--gateway", "10.9.0.1", "n1"]),
            "no matching subnet for gateway 10.9.0.1"
        );
        assert_eq!(
            err(&["--subnet", "10.0.0.0/24", "--ip-range", "10.9.0.0/25", "n1"]),
            "no matching subnet for range 10.9.0.0/25"
        );
        assert_eq!(
            err(&[
                "--subnet",
                "10.0.0.0/24",
                "--aux-address",
                "a=10.9.0.1",
                "n1"
            ]),
            "no matching subnet for aux-address 10.9.0.1"
        );
        assert_eq!(
            err(&[
                "--subnet", "10.0.0.0/24,10.1.0.0/24", "--gateway", "10.0.0.1,10.0.0.2", "n1"
            ]),
            "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)"
        );
        assert_eq!(
            validate_label("=x").unwrap_err(),
            "invalid label '=x': empty name"
        );
        assert_eq!(
            validate_label("a b=1").unwrap_err(),
            "label 'a b' contains whitespaces"
        );
        assert!(validate_label("x").is_ok());
    }

    #[test]
    fn cidr_matching_like_go() {
        assert!(subnet_matches("10.1.0.0/24", "10.1.0.1").unwrap());
        assert!(subnet_matches("10.1.0.0/24", "10.1.0.128/25").unwrap());
        assert!(!subnet_matches("10.1.0.0/24", "10.1.1.1").unwrap());
        assert!(subnet_matches("0.0.0.0/0", "1.2.3.4").unwrap());
        assert!(subnet_matches("fd00::/64", "fd00::5").unwrap());
        assert!(!subnet_matches("fd00::/64", "10.0.0.1").unwrap());
        assert!(!subnet_matches("10.1.0.0/24", "nope").unwrap());
        assert_eq!(
            subnet_matches("10.1.0.0/33", "10.1.0.1").unwrap_err(),
            "invalid subnet: invalid CIDR address: 10.1.0.0/33"
        );
    }
}
