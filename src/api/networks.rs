//! Network endpoints (`/networks/...`): parse each request into an engine job or read,
//! render networks in Docker's shape (transcripts/network-*.md).

use super::http::Request;
use super::types::EndpointConfigWire;
use super::{json_body, Out, Query};
use crate::engine::connect::{NetworkConnect, NetworkDisconnect};
use crate::engine::network::{labels_match, Network, NetworkCreate, NetworkPrune, NetworkRemove};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::util::time::rfc3339_nanos;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A network as `GET /networks` and `GET /networks/{id}` show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkWire {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: &'static str,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: IpamShown,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: Value,
    pub config_only: bool,
    pub containers: BTreeMap<String, MemberWire>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

// Typed rather than `json!`, whose maps sort their keys: the docker CLI prints inspect
// output in the order it arrives, and these follow dockerd's.

/// A member of a network in its inspect output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberWire {
    name: String,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    mac_address: String,
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamShown {
    driver: &'static str,
    options: Option<BTreeMap<String, String>>,
    config: Vec<IpamConfigWire>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfigWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    subnet: Option<String>,
    #[serde(rename = "IPRange", skip_serializing_if = "Option::is_none")]
    ip_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

impl From<&BTreeMap<String, String>> for IpamConfigWire {
    fn from(m: &BTreeMap<String, String>) -> Self {
        IpamConfigWire { subnet: m.get("Subnet").cloned(), ip_range: m.get("IPRange").cloned(), gateway: m.get("Gateway").cloned() }
    }
}

impl NetworkWire {
    /// `with_containers`: inspect lists the running members; the list does not.
    pub fn from(e: &Engine, n: &Network, with_containers: bool) -> NetworkWire {
        let mut containers = BTreeMap::new();
        if with_containers {
            for (c, ep) in e.network_members(&n.id) {
                containers.insert(
                    c.id.clone(),
                    MemberWire {
                        name: c.name.clone(),
                        endpoint_id: ep.endpoint_id.clone(),
                        mac_address: ep.mac.clone(),
                        ipv4_address: format!("{}/{}", ep.ip, ep.prefix),
                        ipv6_address: String::new(),
                    },
                );
            }
        }
        let s = &n.spec;
        NetworkWire {
            name: n.name.clone(),
            id: n.id.clone(),
            created: rfc3339_nanos(n.created),
            scope: "local",
            driver: s.driver.clone(),
            enable_ipv6: false,
            ipam: IpamShown {
                driver: "default",
                options: (!s.builtin).then(|| s.ipam_options.clone()),
                config: s.ipam_config.iter().map(IpamConfigWire::from).collect(),
            },
            internal: s.internal,
            attachable: s.attachable,
            ingress: false,
            config_from: serde_json::json!({"Network": ""}),
            config_only: false,
            containers,
            options: s.options.clone(),
            labels: s.labels.clone(),
        }
    }
}

/// Whether `n` passes `GET /networks` filters.
fn matches(n: &Network, filters: &BTreeMap<String, Vec<String>>, in_use: &dyn Fn(&str) -> bool) -> Result<bool> {
    for (key, values) in filters {
        let ok = match key.as_str() {
            "driver" => values.contains(&n.spec.driver),
            "id" => values.iter().any(|v| n.id.starts_with(v.as_str())),
            "name" => values.iter().any(|v| n.name.contains(v.as_str())),
            "scope" => values.iter().any(|v| v == "local"),
            "type" => values.iter().try_fold(false, |any, v| match v.as_str() {
                "builtin" => Ok(any || n.spec.builtin),
                "custom" => Ok(any || !n.spec.builtin),
                other => Err(Error::invalid(format!("invalid filter: 'type'='{other}'"))),
            })?,
            "label" => labels_match(&n.spec.labels, &values.iter().map(|v| (v.clone(), true)).collect::<Vec<_>>()),
            "dangling" => values.iter().try_fold(false, |any, v| match v.as_str() {
                "true" | "1" => Ok(any || (!n.spec.builtin && !in_use(&n.id))),
                "false" | "0" => Ok(any || n.spec.builtin || in_use(&n.id)),
                other => Err(Error::invalid(format!("invalid filter 'dangling={other}'"))),
            })?,
            other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn list(e: &Engine, req: &Request, out: &mut Out) -> Result<()> {
    let filters = Query::of(req).filters()?;
    let in_use = |id: &str| !e.network_members(id).is_empty();
    let mut list = Vec::new();
    for n in e.networks() {
        if matches(&n, &filters, &in_use)? {
            list.push(NetworkWire::from(e, &n, false));
        }
    }
    out.json(200, &list)
}

pub fn inspect(e: &Engine, name: &str, out: &mut Out) -> Result<()> {
    let n = e.lookup_network(name)?;
    out.json(200, &NetworkWire::from(e, &n, true))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfigEntry {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
    auxiliary_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamWire {
    driver: String,
    config: Option<Vec<IpamConfigEntry>>,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    attachable: bool,
    ingress: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamWire>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    config_only: bool,
}

pub fn create(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let b: CreateBody = json_body(req)?;
    if b.ingress || b.config_only {
        return Err(Error::invalid("ingress and config-only networks are swarm features berth does not have"));
    }
    let ipam = b.ipam.unwrap_or_default();
    let mut configs = Vec::new();
    for c in ipam.config.unwrap_or_default() {
        if c.auxiliary_addresses.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(Error::invalid("auxiliary addresses are not supported"));
        }
        configs.push((c.subnet, c.gateway, c.ip_range));
    }
    let id = e.run(NetworkCreate {
        name: b.name,
        driver: b.driver,
        internal: b.internal,
        attachable: b.attachable,
        ipv6: b.enable_ipv6,
        ipam: configs,
        ipam_driver: ipam.driver,
        ipam_options: ipam.options.unwrap_or_default(),
        options: b.options.unwrap_or_default(),
        labels: b.labels.unwrap_or_default(),
    })?;
    out.json(201, &serde_json::json!({"Id": id, "Warning": ""}))
}

pub fn remove(e: &Engine, name: &str, out: &mut Out) -> Result<()> {
    e.run(NetworkRemove { name: name.to_string() })?;
    out.empty(204)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointConfigWire>,
}

pub fn connect(e: &Engine, name: &str, req: &mut Request, out: &mut Out) -> Result<()> {
    let b: ConnectBody = json_body(req)?;
    if b.container.is_empty() {
        return Err(Error::invalid("no container given"));
    }
    let settings = b.endpoint_config.unwrap_or_default().into_settings();
    e.run(NetworkConnect { network: name.to_string(), container: b.container, settings })?;
    out.empty(200)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DisconnectBody {
    container: String,
    force: bool,
}

pub fn disconnect(e: &Engine, name: &str, req: &mut Request, out: &mut Out) -> Result<()> {
    let b: DisconnectBody = json_body(req)?;
    if b.container.is_empty() {
        return Err(Error::invalid("no container given"));
    }
    e.run(NetworkDisconnect { network: name.to_string(), container: b.container, force: b.force })?;
    out.empty(200)
}

pub fn prune(e: &Engine, req: &Request, out: &mut Out) -> Result<()> {
    let filters = Query::of(req).filters()?;
    let mut labels = Vec::new();
    let mut until = None;
    for (key, values) in &filters {
        match key.as_str() {
            "label" => labels.extend(values.iter().map(|v| (v.clone(), true))),
            "label!" => labels.extend(values.iter().map(|v| (v.clone(), false))),
            // A time, or a duration before now, as dockerd reads it.
            "until" => {
                for v in values {
                    let t = match crate::util::time::parse_duration(v) {
                        Some(d) => Some((crate::util::time::now_nanos() as i128 - d) as i64),
                        None => crate::util::time::parse_timestamp(v),
                    };
                    until = Some(t.ok_or_else(|| Error::invalid(format!("failed to parse value as time or duration: {v:?}")))?);
                }
            }
            other => return Err(Error::invalid(format!("invalid filter '{other}'"))),
        }
    }
    let removed = e.run(NetworkPrune { labels, until })?;
    // null, not [], when nothing went: dockerd's shape.
    let removed = if removed.is_empty() { Value::Null } else { serde_json::json!(removed) };
    out.json(200, &serde_json::json!({"NetworksDeleted": removed}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::NetworkSpec;

    fn net(name: &str, builtin: bool) -> Network {
        let labels: BTreeMap<String, String> = [("team".to_string(), "a".to_string())].into();
        Network { id: format!("{name:0>64}"), name: name.into(), created: 0, spec: NetworkSpec { driver: "bridge".into(), builtin, labels, ..NetworkSpec::default() } }
    }

    fn f(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    #[test]
    fn list_filters_follow_docker() {
        let idle = |_: &str| false;
        let app = net("app", false);
        let bridge = net("bridge", true);
        assert!(matches(&app, &f(&[("name", "pp")]), &idle).unwrap());
        assert!(!matches(&app, &f(&[("name", "web")]), &idle).unwrap());
        assert!(matches(&app, &f(&[("type", "custom")]), &idle).unwrap());
        assert!(!matches(&bridge, &f(&[("type", "custom")]), &idle).unwrap());
        assert!(matches(&app, &f(&[("label", "team=a"), ("driver", "bridge")]), &idle).unwrap());
        assert!(matches(&app, &f(&[("dangling", "true")]), &idle).unwrap());
        assert!(!matches(&app, &f(&[("dangling", "true")]), &|_| true).unwrap());
        assert!(!matches(&bridge, &f(&[("dangling", "true")]), &idle).unwrap());
        assert!(matches(&app, &f(&[("id", "000")]), &idle).unwrap());
        assert!(matches(&app, &f(&[("type", "bogus")]), &idle).is_err());
        assert!(matches(&app, &f(&[("bogus", "x")]), &idle).is_err());
    }
}
