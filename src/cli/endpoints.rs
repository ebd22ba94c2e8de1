//! The networks a `run`/`create` request attaches to: docker's `--network` values (a name,
//! or the long form `name=N,alias=A,ip=...`), combined with `--network-alias`, `--ip`,
//! `--ip6`, `--mac-address`, `--link` and `--link-local-ip` on the first network, into
//! `HostConfig.NetworkMode` and `NetworkingConfig.EndpointsConfig` exactly as docker 28
//! sends them at API 1.41 (checked against the docker CLI; see the tests). It also builds
//! the endpoint document `network connect` sends. Pure: it sends nothing.

use super::opts;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One network to attach to, as docker's `NetworkAttachmentOpts` holds it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Attachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub ipv4: String,
    pub ipv6: String,
    pub mac: String,
    pub link_local: Vec<String>,
    pub links: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub gw_priority: i64,
}

/// The flags that apply to the first network (docker's "legacy" per-container options).
#[derive(Default)]
pub struct Legacy<'a> {
    pub aliases: &'a [String],
    pub links: &'a [String],
    pub ip: Option<&'a str>,
    pub ip6: Option<&'a str>,
    pub mac: Option<&'a str>,
    pub link_local: &'a [String],
}

/// Why a network setting was refused: a bad `--network` value (docker reports it as a
/// flag error, with the usage) or a combination the CLI refuses after parsing.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The `--network` value and why.
    Flag(String, String),
    Invalid(String),
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// docker's `NetworkOpt.Set`: the long form when the value holds `\w=\w` anywhere.
pub fn parse_network(value: &str) -> Result<Attachment, String> {
    let b = value.as_bytes();
    let long =
        (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]));
    if !long {
        return Ok(Attachment {
            target: value.to_string(),
            ..Attachment::default()
        });
    }
    let mut a = Attachment::default();
    for field in opts::csv_values(value) {
        // docker lowers the whole field, values included.
        let lower = field.to_lowercase();
        let (key, val) = match lower.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k.trim(), v.trim()),
            _ => return Err(format!("invalid field {field}")),
        };
        match key {
            "name" => a.target = val.to_string(),
            "alias" => a.aliases.push(val.to_string()),
            "ip" => a.ipv4 = val.to_string(),
            "ip6" => a.ipv6 = val.to_string(),
            "mac-address" => a.mac = val.to_string(),
            "link-local-ip" => a.link_local.push(val.to_string()),
            "driver-opt" => match val.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    a.driver_opts
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
                _ => return Err("invalid key value pair format in driver options".into()),
            },
            "gw-priority" => {
                a.gw_priority = val.parse().map_err(|_| {
                    format!("invalid gw-priority: strconv.Atoi: parsing {val:?}: invalid syntax")
                })?
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if a.target.is_empty() {
        return Err("network name/id is not specified".into());
    }
    Ok(a)
}

/// docker's `NetworkMode.IsUserDefined` on Linux.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// docker's `applyContainerOptions`: the legacy flags onto the first network.
fn apply_legacy(n: &mut Attachment, l: &Legacy<'_>) -> Result<(), String> {
    let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
    if !n.aliases.is_empty() && !l.aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !n.links.is_empty() && !l.links.is_empty() {
        return conflict("--link and per-network links");
    }
    if !n.ipv4.is_empty() && l.ip.is_some_and(|v| !v.is_empty()) {
        return conflict("--ip and per-network IPv4 address");
    }
    if !n.ipv6.is_empty() && l.ip6.is_some_and(|v| !v.is_empty()) {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !n.mac.is_empty() && l.mac.is_some_and(|v| !v.is_empty()) {
        return conflict("--mac-address and per-network MAC address");
    }
    if !n.link_local.is_empty() && !l.link_local.is_empty() {
        return conflict("--link-local-ip and per-network link-local IP addresses");
    }
    if !l.aliases.is_empty() {
        n.aliases = l.aliases.to_vec();
    }
    // On a user-defined network --link is an endpoint alias; on the default bridge it is
    // a legacy link, which stays in HostConfig.Links only.
    if is_user_defined(&n.target) && !l.links.is_empty() {
        n.links = l.links.to_vec();
    }
    for (flag, dst) in [
        (l.ip, &mut n.ipv4),
        (l.ip6, &mut n.ipv6),
        (l.mac, &mut n.mac),
    ] {
        if let Some(v) = flag.filter(|v| !v.is_empty()) {
            *dst = v.to_string();
        }
    }
    if !l.link_local.is_empty() {
        n.link_local = l.link_local.to_vec();
    }
    Ok(())
}

/// An `EndpointSettings` document as docker 28 marshals it (its output-only fields empty).
pub fn endpoint_json(
    ipam: Value,
    links: Value,
    aliases: Value,
    mac: &str,
    driver_opts: Value,
    gw_priority: i64,
) -> Value {
    json!({
        "IPAMConfig": ipam, "Links": links, "Aliases": aliases, "MacAddress": mac,
        "DriverOpts": driver_opts, "GwPriority": gw_priority, "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null
    })
}

/// `EndpointIPAMConfig` with its empty fields left out (they are `omitempty`).
pub fn ipam_json(ipv4: &str, ipv6: &str, link_local: &[String]) -> Value {
    let mut m = Map::new();
    if !ipv4.is_empty() {
        m.insert("IPv4Address".into(), json!(ipv4));
    }
    if !ipv6.is_empty() {
        m.insert("IPv6Address".into(), json!(ipv6));
    }
    if !link_local.is_empty() {
        m.insert("LinkLocalIPs".into(), json!(link_local));
    }
    Value::Object(m)
}

/// docker's `parseNetworkAttachmentOpt`: the endpoint for one network, and whether it is
/// all zero values (docker then leaves a lone network out of the request).
fn endpoint(a: &Attachment) -> Result<(Value, bool), String> {
    if a.target.trim().is_empty() {
        return Err("no name set for network".into());
    }
    if !is_user_defined(&a.target) {
        if !a.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".into(),
            );
        }
        if !a.links.is_empty() {
            return Err("links are only supported for user-defined networks".into());
        }
    }
    let has_ipam = !a.ipv4.is_empty() || !a.ipv6.is_empty() || !a.link_local.is_empty();
    if !a.mac.is_empty() && !opts::is_mac(a.mac.trim()) {
        return Err(format!("{} is not a valid mac address", a.mac));
    }
    let list = |v: &[String]| if v.is_empty() { Value::Null } else { json!(v) };
    let empty = !has_ipam
        && a.aliases.is_empty()
        && a.links.is_empty()
        && a.mac.is_empty()
        && a.driver_opts.is_empty()
        && a.gw_priority == 0;
    let ep = endpoint_json(
        if has_ipam {
            ipam_json(&a.ipv4, &a.ipv6, &a.link_local)
        } else {
            Value::Null
        },
        list(&a.links),
        list(&a.aliases),
        &a.mac,
        if a.driver_opts.is_empty() {
            Value::Null
        } else {
            json!(a.driver_opts)
        },
        a.gw_priority,
    );
    Ok((ep, empty))
}

/// docker's `parseNetworkOpts`: `HostConfig.NetworkMode` and the `EndpointsConfig` map for
/// the `--network` values and the legacy flags.
pub fn networking(networks: &[String], legacy: &Legacy<'_>) -> Result<(String, Value), Refusal> {
    let mut attachments = Vec::new();
    for v in networks {
        attachments.push(parse_network(v).map_err(|why| Refusal::Flag(v.clone(), why))?);
    }
    if let Some(mac) = legacy.mac.filter(|m| !m.is_empty()) {
        if !opts::is_mac(mac.trim()) {
            return Err(Refusal::Invalid(format!(
                "{mac} is not a valid mac address"
            )));
        }
    }
    let mut endpoints = Map::new();
    if attachments.is_empty() {
        let mut n = Attachment {
            target: "default".into(),
            ..Attachment::default()
        };
        apply_legacy(&mut n, legacy).map_err(Refusal::Invalid)?;
        let (ep, _) = endpoint(&n).map_err(Refusal::Invalid)?;
        endpoints.insert("default".into(), ep);
        return Ok(("default".into(), Value::Object(endpoints)));
    }
    let mode = attachments[0].target.clone();
    let (mut user, mut builtin) = (false, false);
    let only = attachments.len() == 1;
    for (i, mut n) in attachments.into_iter().enumerate() {
        if is_user_defined(&n.target) {
            user = true;
        } else {
            builtin = true;
        }
        if i == 0 {
            apply_legacy(&mut n, legacy).map_err(Refusal::Invalid)?;
        }
        let (ep, empty) = endpoint(&n).map_err(Refusal::Invalid)?;
        if endpoints.contains_key(&n.target) {
            return Err(Refusal::Invalid(format!(
                "network {:?} is specified multiple times",
                n.target
            )));
        }
        // One network without options is left to the daemon, as docker does.
        if i == 0 && only && empty {
            continue;
        }
        endpoints.insert(n.target, ep);
    }
    if user && builtin {
        return Err(Refusal::Invalid(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
                .into(),
        ));
    }
    Ok((mode, Value::Object(endpoints)))
}

/// Whether an endpoint asks for a MAC address: docker 28 refuses that below API 1.44,
/// which is the version berth speaks.
pub fn wants_mac(endpoints: &Value) -> bool {
    endpoints
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, ep)| ep["MacAddress"].as_str().is_some_and(|m| !m.is_empty()))
}

/// docker's words for the refusal above.
pub const MAC_NEEDS_1_44: &str = "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is 1.41";

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ipam: Value, links: Value, aliases: Value) -> Value {
        endpoint_json(ipam, links, aliases, "", Value::Null, 0)
    }

    fn nets(words: &[&str], l: &Legacy<'_>) -> Result<(String, Value), Refusal> {
        let v: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        networking(&v, l)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_network_like_docker() {
        // transcripts/run-d.md: no --network gives a "default" endpoint of zero values.
        let (mode, eps) = nets(&[], &Legacy::default()).unwrap();
        assert_eq!(mode, "default");
        assert_eq!(
            eps,
            json!({"default": ep(Value::Null, Value::Null, Value::Null)})
        );
        // docker create --ip 10.0.0.9 img
        let (_, eps) = nets(
            &[],
            &Legacy {
                ip: Some("10.0.0.9"),
                ..Legacy::default()
            },
        )
        .unwrap();
        assert_eq!(
            eps["default"]["IPAMConfig"],
            json!({"IPv4Address": "10.0.0.9"})
        );
        // docker create --link web:w img: a legacy link, not an endpoint one.
        let links = strings(&["web:w"]);
        let (_, eps) = nets(
            &[],
            &Legacy {
                links: &links,
                ..Legacy::default()
            },
        )
        .unwrap();
        assert_eq!(eps["default"]["Links"], Value::Null);
    }

    #[test]
    fn one_network_like_docker() {
        // transcripts/create.md: --network cap-net1 alone sends no endpoint.
        assert_eq!(
            nets(&["cap-net1"], &Legacy::default()).unwrap(),
            ("cap-net1".into(), json!({}))
        );
        assert_eq!(
            nets(&["name=app"], &Legacy::default()).unwrap(),
            ("app".into(), json!({}))
        );
        assert_eq!(
            nets(&["container:abc"], &Legacy::default()).unwrap(),
            ("container:abc".into(), json!({}))
        );
        // docker create --network app --network-alias db --network-alias x --ip 10.0.0.9 img
        let aliases = strings(&["db", "x"]);
        let l = Legacy {
            aliases: &aliases,
            ip: Some("10.0.0.9"),
            ..Legacy::default()
        };
        assert_eq!(
            nets(&["app"], &l).unwrap().1,
            json!({"app": ep(json!({"IPv4Address": "10.0.0.9"}), Value::Null, json!(["db", "x"]))})
        );
        // docker create --network app --ip6 fd00::1 --link-local-ip 169.254.0.3 --link web:w img
        let (ll, links) = (strings(&["169.254.0.3"]), strings(&["web:w"]));
        let l = Legacy {
            ip6: Some("fd00::1"),
            link_local: &ll,
            links: &links,
            ..Legacy::default()
        };
        assert_eq!(
            nets(&["app"], &l).unwrap().1,
            json!({"app": ep(
                json!({"IPv6Address": "fd00::1", "LinkLocalIPs": ["169.254.0.3"]}),
                json!(["web:w"]),
                Value::Null
            )})
        );
        // docker create --network name=App,alias=A1,driver-opt=k=v img: lowered, as docker does.
        let (mode, eps) = nets(&["name=App,alias=A1,driver-opt=k=v"], &Legacy::default()).unwrap();
        assert_eq!(mode, "app");
        assert_eq!(
            eps,
            json!({"app": endpoint_json(Value::Null, Value::Null, json!(["a1"]), "", json!({"k": "v"}), 0)})
        );
    }

    #[test]
    fn several_networks_like_docker() {
        // docker create --network-alias a --network app --network other img
        let aliases = strings(&["a"]);
        let l = Legacy {
            aliases: &aliases,
            ..Legacy::default()
        };
        let (mode, eps) = nets(&["app", "other"], &l).unwrap();
        assert_eq!(mode, "app");
        assert_eq!(
            eps,
            json!({
                "app": ep(Value::Null, Value::Null, json!(["a"])),
                "other": ep(Value::Null, Value::Null, Value::Null)
            })
        );
    }

    #[test]
    fn refusals_in_docker_words() {
        let inv = |m: &str| Err(Refusal::Invalid(m.into()));
        let aliases = strings(&["x"]);
        let alias = Legacy {
            aliases: &aliases,
            ..Legacy::default()
        };
        assert_eq!(
            nets(&[], &alias),
            inv("network-scoped aliases are only supported for user-defined networks")
        );
        assert_eq!(
            nets(&["host"], &alias),
            inv("network-scoped aliases are only supported for user-defined networks")
        );
        assert_eq!(
            nets(&["host", "app"], &Legacy::default()),
            inv("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
        );
        assert_eq!(
            nets(&["app", "name=app"], &Legacy::default()),
            inv("network \"app\" is specified multiple times")
        );
        assert_eq!(
            nets(&["name=app,alias=y"], &alias),
            inv("conflicting options: cannot specify both --network-alias and per-network alias")
        );
        assert_eq!(
            nets(
                &[],
                &Legacy {
                    mac: Some("zz"),
                    ..Legacy::default()
                }
            ),
            inv("zz is not a valid mac address")
        );
        assert_eq!(
            nets(&["name=app,foo=bar"], &Legacy::default()),
            Err(Refusal::Flag(
                "name=app,foo=bar".into(),
                "invalid field key foo".into()
            ))
        );
        assert_eq!(
            nets(&["alias=x"], &Legacy::default()),
            Err(Refusal::Flag(
                "alias=x".into(),
                "network name/id is not specified".into()
            ))
        );
        // A MAC address is kept on the endpoint, where the create step refuses it at 1.41.
        let (_, eps) = nets(
            &["app"],
            &Legacy {
                mac: Some("02:42:ac:11:00:02"),
                ..Legacy::default()
            },
        )
        .unwrap();
        assert!(wants_mac(&eps));
        assert!(!wants_mac(&nets(&["app"], &Legacy::default()).unwrap().1));
    }
}
