//! Networks: the pre-defined `bridge`, `host` and `none`, and user-defined bridge
//! networks (`network create`). Each is a GraphDB row (write-through) and an entry in the
//! engine's network table (reads never touch SQLite). Jobs: `NetworkCreate`,
//! `NetworkRemove`, `NetworkPrune`; lookups and lists are plain reads of the table.
//! Attaching containers is in connect.rs, name resolution in hosts.rs.

use super::container::Container;
use super::{Engine, Job};
use crate::driver::network::ipam::{self, Subnet};
use crate::driver::network::Bridge;
use crate::error::{Error, Result};
use crate::graph::db::NetworkRow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const BRIDGE: &str = "bridge";
/// The special address of `--add-host` (see `resolve_extra_hosts`).
pub const HOST_GATEWAY: &str = "host-gateway";
pub const HOST: &str = "host";
pub const NONE: &str = "none";

/// Docker's option names for bridge networks.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const OPT_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const OPT_HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";
pub const OPT_DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";

/// A network's settings, stored as JSON in its row (the engine owns the format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSpec {
    /// "bridge", "host" or "null".
    pub driver: String,
    /// Linux bridge name ("" for host and null).
    pub bridge: String,
    /// "172.18.0.0/16" ("" for host and null).
    pub subnet: String,
    pub gateway: String,
    /// The part of the subnet containers get addresses from ("" = all of it).
    pub ip_range: String,
    /// IPAM.Config as the user gave it (shown by inspect as given).
    pub ipam_config: Vec<BTreeMap<String, String>>,
    pub ipam_options: BTreeMap<String, String>,
    pub internal: bool,
    pub attachable: bool,
    pub icc: bool,
    pub masquerade: bool,
    /// Default host address for published ports ("" = all).
    pub host_binding_ipv4: String,
    pub mtu: u32,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `bridge`, `host`, `none`: cannot be removed.
    pub builtin: bool,
    /// The user chose the subnet (`--subnet`): only then may containers ask for an
    /// address (`--ip`), as with Docker. None: a network stored before berth recorded
    /// it, given the benefit of the doubt.
    pub user_subnet: Option<bool>,
}

/// A network as the engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub spec: NetworkSpec,
}

impl Network {
    pub fn is_bridge(&self) -> bool {
        self.spec.driver == "bridge"
    }

    pub fn subnet(&self) -> Option<Subnet> {
        Subnet::parse(&self.spec.subnet).ok()
    }

    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.spec.gateway.parse().ok()
    }

    /// The pool addresses are handed out from.
    pub fn range(&self) -> Option<Subnet> {
        if self.spec.ip_range.is_empty() {
            self.subnet()
        } else {
            Subnet::parse(&self.spec.ip_range).ok()
        }
    }

    /// The driver's view of a bridge network.
    pub fn bridge(&self) -> Option<Bridge> {
        if !self.is_bridge() {
            return None;
        }
        Some(Bridge {
            name: self.spec.bridge.clone(),
            gateway: self.gateway()?,
            subnet: self.subnet()?,
            mtu: self.spec.mtu,
            icc: self.spec.icc,
            masquerade: self.spec.masquerade && !self.spec.internal,
        })
    }

    fn row(&self) -> Result<NetworkRow> {
        Ok(NetworkRow {
            id: self.id.clone(),
            name: self.name.clone(),
            created: self.created,
            spec: serde_json::to_string(&self.spec).map_err(|e| Error::system(e.to_string()))?,
        })
    }

    fn from_row(r: NetworkRow) -> Result<Network> {
        let spec = serde_json::from_str(&r.spec)
            .map_err(|e| Error::system(format!("network {}: bad spec in graph database: {e}", r.name)))?;
        Ok(Network { id: r.id, name: r.name, created: r.created, spec })
    }
}

pub fn not_found(name: &str) -> Error {
    Error::not_found(format!("network {name} not found"))
}

fn bool_opt(opts: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool> {
    match opts.get(key).map(String::as_str) {
        None | Some("") => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(Error::invalid(format!("invalid value {v:?} for option {key}: expected true or false"))),
    }
}

impl Engine {
    pub(super) fn net_table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Network>> {
        self.networks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// All networks, oldest first.
    pub fn networks(&self) -> Vec<Network> {
        let mut v: Vec<Network> = self.net_table().values().cloned().collect();
        v.sort_by_key(|n| n.created);
        v
    }

    /// `--add-host NAME:host-gateway` entries with the address Docker gives them: the
    /// daemon's `--host-gateway-ip`, else the default bridge's gateway (the host as the
    /// containers see it). Other entries are returned as they are.
    pub(super) fn resolve_extra_hosts(&self, list: &[String]) -> Result<Vec<String>> {
        list.iter()
            .map(|extra| match extra.split_once(':') {
                Some((name, HOST_GATEWAY)) => {
                    let gw = self.config.network.host_gateway_ip.or_else(|| self.lookup_network(BRIDGE).ok()?.gateway());
                    let gw = gw.ok_or_else(|| Error::invalid("unable to derive the IP value for host-gateway"))?;
                    Ok(format!("{name}:{gw}"))
                }
                _ => Ok(extra.clone()),
            })
            .collect()
    }

    /// A network by full ID, name, or unique ID prefix.
    pub fn lookup_network(&self, reference: &str) -> Result<Network> {
        let t = self.net_table();
        if let Some(n) = t.get(reference) {
            return Ok(n.clone());
        }
        if let Some(n) = t.values().find(|n| n.name == reference) {
            return Ok(n.clone());
        }
        let hits: Vec<&Network> = t.values().filter(|n| !reference.is_empty() && n.id.starts_with(reference)).collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(not_found(reference)),
            _ => Err(Error::invalid(format!("network {reference} is ambiguous ({} matches found based on ID prefix)", hits.len()))),
        }
    }

    /// Bridges of every bridge network, for the firewall.
    pub(super) fn bridges(&self) -> Vec<Bridge> {
        self.networks().iter().filter_map(Network::bridge).collect()
    }

    /// Running containers with an endpoint on network `id`, with the endpoint's state.
    pub fn network_members(&self, id: &str) -> Vec<(Container, super::container::EndpointState)> {
        let mut out = Vec::new();
        for ctr in self.all() {
            let c = ctr.snapshot();
            if let Some(ep) = c.state.network.endpoints.values().find(|e| e.network_id == id) {
                let ep = ep.clone();
                out.push((c, ep));
            }
        }
        out
    }

    /// Subnets a new network must not overlap: the host's and every bridge network's.
    fn subnets_in_use(&self) -> Result<Vec<Subnet>> {
        let ours: Vec<String> = self.bridges().into_iter().map(|b| b.name).collect();
        let mut used = self.net.host_subnets(&ours)?;
        used.extend(self.networks().iter().filter_map(Network::subnet));
        Ok(used)
    }

    /// Rebuilds the firewall from the bridge networks and the ports the driver holds.
    pub(super) fn sync_firewall(&self) -> Result<()> {
        self.net.sync(&self.bridges())
    }

    fn store_network(&self, n: &Network) -> Result<()> {
        self.db.insert_network(&n.row()?)?;
        self.net_table().insert(n.id.clone(), n.clone());
        Ok(())
    }

    /// Start-up: load networks, make the pre-defined ones exist, bring every bridge up.
    pub(super) fn restore_networks(&self) -> Result<()> {
        for row in self.db.networks()? {
            match Network::from_row(row) {
                Ok(n) => {
                    self.net_table().insert(n.id.clone(), n);
                }
                Err(e) => log_error!("restore: {}", e.message),
            }
        }
        for (name, driver) in [(NONE, "null"), (HOST, "host")] {
            if self.lookup_network(name).is_err() {
                let spec = NetworkSpec { driver: driver.into(), builtin: true, ..NetworkSpec::default() };
                self.store_network(&Network { id: crate::util::id::random_id(), name: name.into(), created: crate::util::time::now_nanos(), spec })?;
            }
        }
        self.restore_default_bridge()?;
        for n in self.networks() {
            if let Some(b) = n.bridge() {
                if let Err(e) = self.net.setup_bridge(&b) {
                    log_error!("network {}: set up bridge {}: {}", n.name, b.name, e.message);
                }
            }
        }
        Ok(())
    }

    /// The `bridge` network follows the daemon's flags: `--bridge` names the Linux bridge
    /// ("none" disables the network), `--bip` fixes its address, else it keeps the subnet
    /// it had or takes the first free one from the address pools.
    fn restore_default_bridge(&self) -> Result<()> {
        let cfg = &self.config.network;
        let existing = self.lookup_network(BRIDGE).ok();
        if cfg.bridge.is_empty() || cfg.bridge == "none" {
            if let Some(n) = existing {
                self.db.delete_network(&n.id)?;
                self.net_table().remove(&n.id);
            }
            return Ok(());
        }
        let (gateway, subnet) = match &cfg.bip {
            Some(bip) => Subnet::parse_host(bip)?,
            None => match existing.as_ref().and_then(|n| Some((n.gateway()?, n.subnet()?))) {
                Some((g, s)) if existing.as_ref().is_some_and(|n| n.spec.bridge == cfg.bridge) => (g, s),
                _ => {
                    let mut used = self.net.host_subnets(std::slice::from_ref(&cfg.bridge))?;
                    used.extend(self.networks().iter().filter(|n| n.name != BRIDGE).filter_map(Network::subnet));
                    let s = ipam::choose_subnet(&cfg.address_pools, &used).ok_or_else(|| {
                        Error::system("no free subnet for the default bridge: set one with --bip")
                    })?;
                    (s.first_host(), s)
                }
            },
        };
        let mut options = BTreeMap::new();
        options.insert(OPT_DEFAULT_BRIDGE.to_string(), "true".to_string());
        options.insert(OPT_ICC.to_string(), cfg.icc.to_string());
        options.insert(OPT_MASQUERADE.to_string(), "true".to_string());
        options.insert(OPT_HOST_BINDING.to_string(), "0.0.0.0".to_string());
        options.insert(OPT_BRIDGE_NAME.to_string(), cfg.bridge.clone());
        options.insert(OPT_MTU.to_string(), if cfg.mtu > 0 { cfg.mtu } else { 1500 }.to_string());
        let mut ipam = BTreeMap::new();
        ipam.insert("Subnet".to_string(), subnet.to_string());
        // (dockerd shows the gateway only when --bip chose it.)
        if cfg.bip.is_some() {
            ipam.insert("Gateway".to_string(), gateway.to_string());
        }
        let spec = NetworkSpec {
            driver: "bridge".into(),
            bridge: cfg.bridge.clone(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            ipam_config: vec![ipam],
            icc: cfg.icc,
            masquerade: true,
            mtu: cfg.mtu,
            options,
            builtin: true,
            ..NetworkSpec::default()
        };
        match existing {
            Some(mut n) if n.spec != spec => {
                if !self.network_members(&n.id).is_empty() && n.spec.subnet != spec.subnet {
                    log_warn!("the default bridge keeps {} while containers use it", n.spec.subnet);
                    return Ok(());
                }
                n.spec = spec;
                self.db.update_network_spec(&n.id, &n.row()?.spec)?;
                self.net_table().insert(n.id.clone(), n);
            }
            Some(_) => {}
            None => {
                let n = Network { id: crate::util::id::random_id(), name: BRIDGE.into(), created: crate::util::time::now_nanos(), spec };
                self.store_network(&n)?;
            }
        }
        Ok(())
    }
}

/// `POST /networks/create`.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    /// (subnet, gateway, ip range), each "" when not given.
    pub ipam: Vec<(String, String, String)>,
    pub ipam_driver: String,
    pub ipam_options: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl Job for NetworkCreate {
    type Output = String;
    const NAME: &'static str = "NetworkCreate";

    fn target(&self) -> String {
        self.name.clone()
    }

    fn run(self, e: &Engine) -> Result<String> {
        let _one_at_a_time = e.network_changes();
        if self.name.is_empty() {
            return Err(Error::invalid("network name cannot be empty"));
        }
        super::names::validate(&self.name)
            .map_err(|_| Error::invalid(format!("invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", self.name)))?;
        match self.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(Error::forbidden(format!("only one instance of \"{}\" network is allowed", self.driver)))
            }
            d => return Err(Error::not_found(format!("plugin \"{d}\" not found"))),
        }
        if !self.ipam_driver.is_empty() && self.ipam_driver != "default" {
            return Err(Error::not_found(format!("plugin \"{}\" not found", self.ipam_driver)));
        }
        if self.ipv6 {
            return Err(Error::invalid("IPv6 networks are not supported by berth"));
        }
        if self.ipam.len() > 1 {
            return Err(Error::invalid("berth supports one IPv4 IPAM config per network"));
        }
        if [BRIDGE, HOST, NONE, "default"].contains(&self.name.as_str()) {
            return Err(Error::forbidden(format!("{} is a pre-defined network and cannot be created", self.name)));
        }
        if e.lookup_network(&self.name).is_ok_and(|n| n.name == self.name) {
            return Err(Error::conflict(format!("network with name {} already exists", self.name)));
        }
        let (subnet, gateway, ip_range, ipam_config) = plan_ipam(e, self.ipam.first())?;
        let user_subnet = self.ipam.first().is_some_and(|(s, _, _)| !s.is_empty());
        let id = crate::util::id::random_id();
        let bridge = match self.options.get(OPT_BRIDGE_NAME) {
            Some(b) if !b.is_empty() => {
                crate::sys::rtnetlink::check_name(b)?;
                if e.bridges().iter().any(|x| &x.name == b) {
                    return Err(Error::conflict(format!("bridge name {b} is used by another network")));
                }
                b.clone()
            }
            _ => format!("br-{}", &id[..12]),
        };
        let mtu = match self.options.get(OPT_MTU) {
            Some(m) if !m.is_empty() => m.parse::<u32>().ok().filter(|m| (68..=65535).contains(m)).ok_or_else(|| Error::invalid(format!("invalid MTU {m:?}")))?,
            _ => e.config.network.mtu,
        };
        let host_binding = self.options.get(OPT_HOST_BINDING).cloned().unwrap_or_default();
        if !host_binding.is_empty() {
            host_binding.parse::<Ipv4Addr>().map_err(|_| Error::invalid(format!("invalid {OPT_HOST_BINDING} {host_binding:?}")))?;
        }
        let spec = NetworkSpec {
            driver: "bridge".into(),
            bridge,
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            ip_range: ip_range.map(|r| r.to_string()).unwrap_or_default(),
            ipam_config,
            ipam_options: self.ipam_options,
            internal: self.internal,
            attachable: self.attachable,
            icc: bool_opt(&self.options, OPT_ICC, true)?,
            masquerade: bool_opt(&self.options, OPT_MASQUERADE, true)?,
            host_binding_ipv4: host_binding,
            mtu,
            options: self.options,
            labels: self.labels,
            builtin: false,
            user_subnet: Some(user_subnet),
        };
        let n = Network { id: id.clone(), name: self.name, created: crate::util::time::now_nanos(), spec };
        let b = n.bridge().ok_or_else(|| Error::system("network without a bridge"))?;
        e.store_network(&n)?;
        let wired = e.net.setup_bridge(&b).and_then(|()| e.sync_firewall());
        if let Err(err) = wired {
            let _ = e.db.delete_network(&id);
            e.net_table().remove(&id);
            let _ = e.net.remove_bridge(&b.name);
            let _ = e.sync_firewall();
            return Err(err);
        }
        Ok(id)
    }
}

/// Subnet, gateway, address range and the IPAM config to show, from what the user gave
/// (or a free subnet of the pools).
type IpamPlan = (Subnet, Ipv4Addr, Option<Subnet>, Vec<BTreeMap<String, String>>);

fn plan_ipam(e: &Engine, given: Option<&(String, String, String)>) -> Result<IpamPlan> {
    let in_use = e.subnets_in_use()?;
    let (sub, gw, range) = given.cloned().unwrap_or_default();
    let subnet = if sub.is_empty() {
        if !gw.is_empty() || !range.is_empty() {
            return Err(Error::invalid("a gateway or an IP range needs a subnet"));
        }
        ipam::choose_subnet(&e.config.network.address_pools, &in_use)
            .ok_or_else(|| Error::forbidden("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"))?
    } else {
        let s = Subnet::parse(&sub)?;
        if s.prefix > 30 {
            return Err(Error::invalid(format!("subnet {s} is too small")));
        }
        let theirs = e.networks().iter().filter_map(Network::subnet).find(|o| o.overlaps(&s));
        if let Some(o) = theirs {
            return Err(Error::forbidden(format!("Pool overlaps with other one on this address space ({o})")));
        }
        s
    };
    let gateway = if gw.is_empty() {
        subnet.first_host()
    } else {
        let g: Ipv4Addr = gw.parse().map_err(|_| Error::invalid(format!("invalid gateway {gw:?}")))?;
        if !subnet.contains(g) || g == subnet.addr || g == subnet.broadcast() {
            return Err(Error::invalid(format!("gateway {g} is not a host address of subnet {subnet}")));
        }
        g
    };
    let ip_range = if range.is_empty() {
        None
    } else {
        let r = Subnet::parse(&range)?;
        if !subnet.contains(r.addr) || r.prefix < subnet.prefix {
            return Err(Error::invalid(format!("IP range {r} is not inside subnet {subnet}")));
        }
        Some(r)
    };
    let mut shown = BTreeMap::new();
    shown.insert("Subnet".to_string(), subnet.to_string());
    if !gw.is_empty() || sub.is_empty() {
        shown.insert("Gateway".to_string(), gateway.to_string());
    }
    if let Some(r) = ip_range {
        shown.insert("IPRange".to_string(), r.to_string());
    }
    Ok((subnet, gateway, ip_range, vec![shown]))
}

/// `DELETE /networks/{id}`.
pub struct NetworkRemove {
    pub name: String,
}

impl Job for NetworkRemove {
    type Output = ();
    const NAME: &'static str = "NetworkRemove";

    fn target(&self) -> String {
        self.name.clone()
    }

    fn run(self, e: &Engine) -> Result<()> {
        let n = e.lookup_network(&self.name)?;
        e.remove_network(&n)
    }
}

impl Engine {
    pub(super) fn network_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.network_changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remove_network(&self, n: &Network) -> Result<()> {
        if n.spec.builtin {
            return Err(Error::forbidden(format!("{} is a pre-defined network and cannot be removed", n.name)));
        }
        let _one_at_a_time = self.network_changes();
        // The membership lock: no container joins while the network goes away (joining
        // checks under the same lock that the network still exists).
        let members = self.members();
        if members.in_use(&n.id) {
            return Err(Error::forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        // The bridge first: if it cannot go, the network stays, and a retry can finish; a
        // row deleted first would leave a bridge nothing knows of.
        if let Some(b) = n.bridge() {
            self.net.remove_bridge(&b.name)?;
        }
        self.db.delete_network(&n.id)?;
        self.net_table().remove(&n.id);
        drop(members);
        self.sync_firewall()
    }
}

/// `POST /networks/prune`: removes user networks no running container uses.
pub struct NetworkPrune {
    /// `label=` / `label!=` filters (key or key=value).
    pub labels: Vec<(String, bool)>,
    /// `until`: only networks created before this time (Unix nanoseconds).
    pub until: Option<i64>,
}

impl Job for NetworkPrune {
    type Output = Vec<String>;
    const NAME: &'static str = "NetworkPrune";

    fn target(&self) -> String {
        "unused".into()
    }

    fn run(self, e: &Engine) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for n in e.networks() {
            if n.spec.builtin || !labels_match(&n.spec.labels, &self.labels) || self.until.is_some_and(|t| n.created >= t) {
                continue;
            }
            match e.remove_network(&n) {
                Ok(()) => removed.push(n.name),
                Err(err) if err.kind == crate::error::Kind::Forbidden => {}
                Err(err) => log_warn!("prune network {}: {}", n.name, err.message),
            }
        }
        Ok(removed)
    }
}

/// `label=k`, `label=k=v` (want true) and `label!=...` (want false) filters.
pub fn labels_match(labels: &BTreeMap<String, String>, filters: &[(String, bool)]) -> bool {
    filters.iter().all(|(f, want)| {
        let has = match f.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(f),
        };
        has == *want
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters() {
        let l: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(labels_match(&l, &[("a".into(), true)]));
        assert!(labels_match(&l, &[("a=1".into(), true)]));
        assert!(!labels_match(&l, &[("a=2".into(), true)]));
        assert!(labels_match(&l, &[("b".into(), false)]));
        assert!(!labels_match(&l, &[("a".into(), false)]));
    }

    #[test]
    fn bool_options() {
        let mut o = BTreeMap::new();
        assert!(bool_opt(&o, OPT_ICC, true).unwrap());
        o.insert(OPT_ICC.to_string(), "false".to_string());
        assert!(!bool_opt(&o, OPT_ICC, true).unwrap());
        o.insert(OPT_ICC.to_string(), "maybe".to_string());
        assert!(bool_opt(&o, OPT_ICC, true).is_err());
    }
}
