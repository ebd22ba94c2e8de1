//! Containers on networks: what a starting container's networks need (`wire`: addresses
//! from IPAM, interfaces in its namespace, published ports, hosts files), giving it all
//! back when it stops (`unwire`), and `network connect` / `disconnect` of created or
//! running containers.
//!
//! Order in `wire`: addresses first (GraphDB rows), then membership (under the membership
//! lock, which also proves the networks still exist), then interfaces and ports. Each step
//! is recorded in the `NetState` as it completes, so `unwire` of a half-wired container
//! gives back exactly what it got.

use super::container::{Container, EndpointSettings, EndpointState, NetState, PublishedPort};
use super::hosts::{HostsFile, Peer};
use super::network::{self, Network};
use super::{Engine, Job};
use crate::driver::exec::Network as NetnsMode;
use crate::driver::network::firewall::{PortMap, Proto};
use crate::driver::network::{ipam, ports, Endpoint, Forwarding, NetworkDriver};
use crate::error::{Error, Result};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The firewall's view of a published port.
pub fn port_map(p: &PublishedPort) -> Option<PortMap> {
    let proto = match p.proto.as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    let host_ip = if p.host_ip.is_empty() { None } else { Some(p.host_ip.parse().ok()?) };
    Some(PortMap { proto, host_ip, host_port: p.host_port, ctr_ip: p.ctr_ip.parse().ok()?, ctr_port: p.ctr_port })
}

fn published(m: &PortMap) -> PublishedPort {
    PublishedPort {
        proto: ports::proto_name(m.proto).to_string(),
        host_ip: m.host_ip.map(|i| i.to_string()).unwrap_or_default(),
        host_port: m.host_port,
        ctr_ip: m.ctr_ip.to_string(),
        ctr_port: m.ctr_port,
    }
}

/// The ports a container publishes (`-p`, and `-P` for its exposed ports).
pub fn port_requests(spec: &super::container::ContainerSpec) -> Result<Vec<ports::PortRequest>> {
    let bindings: Vec<(&str, &str, &str)> = spec
        .host
        .port_bindings
        .iter()
        .flat_map(|(k, list)| list.iter().map(move |b| (k.as_str(), b.host_ip.as_str(), b.host_port.as_str())))
        .collect();
    ports::requests(&bindings, spec.host.publish_all_ports, &spec.exposed_ports)
}

/// The networks a container joins, its first one (the network mode's) first.
pub fn ordered_networks(c: &Container) -> Vec<(String, EndpointSettings)> {
    let mode = c.spec.host.network_mode.as_str();
    let first = match mode {
        "" | "default" => network::BRIDGE,
        m => m,
    };
    let mut v: Vec<(String, EndpointSettings)> = c.spec.networks.iter().map(|(k, s)| (k.clone(), s.clone())).collect();
    v.sort_by_key(|(k, _)| k.as_str() != first);
    v
}

/// The container a `container:NAME` mode names.
pub fn joined_container(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

fn netns_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

impl Engine {
    /// Which network namespace the monitor gives the container.
    pub(super) fn netns_mode(&self, c: &Container) -> Result<NetnsMode> {
        let mode = c.spec.host.network_mode.as_str();
        if mode == network::HOST {
            return Ok(NetnsMode::Host);
        }
        if let Some(other) = joined_container(mode) {
            let o = self.lookup(other)?.snapshot();
            if !o.running() || o.state.pid <= 0 {
                return Err(Error::conflict(format!("cannot join network of a non running container: {}", o.id)));
            }
            return Ok(NetnsMode::Join(netns_path(o.state.pid)));
        }
        Ok(NetnsMode::Loopback)
    }

    /// Gives a starting container (init `pid`, waiting for "go") its networks and ports.
    /// What is done is recorded in `out`; on error, `unwire(out)` undoes it.
    pub(super) fn wire(&self, c: &Container, pid: i32, out: &mut NetState) -> Result<()> {
        let nets = ordered_networks(c);
        if nets.is_empty() {
            return Ok(());
        }
        let reqs = port_requests(&c.spec)?;
        let mut eps: Vec<(Network, EndpointState)> = Vec::with_capacity(nets.len());
        for (i, (name, settings)) in nets.iter().enumerate() {
            let net = self.network_for(name, settings)?;
            let mac = if i == 0 && !c.spec.mac_address.is_empty() { Some(ipam::parse_mac(&c.spec.mac_address)?) } else { None };
            let ep = self.allocate(c, &net, settings, format!("eth{i}"), mac)?;
            out.endpoints.insert(net.name.clone(), ep.clone());
            eps.push((net, ep));
        }
        let primary_ip: Ipv4Addr = eps[0].1.ip.parse().map_err(|_| Error::system("bad endpoint address"))?;
        let file = self.hosts_file(c, Some(primary_ip), &eps);
        let peers = eps.iter().filter(|(n, _)| !n.spec.builtin).map(|(n, ep)| (n.id.clone(), self.peer_of(c, ep))).collect();
        self.join_hosts(&c.id, file, peers)?;
        let hairpin = !reqs.is_empty() && self.net.forwarding() == Forwarding::Nftables;
        let netns = netns_path(pid);
        for (i, (net, ep)) in eps.iter().enumerate() {
            let gateway = (i == 0 && !net.spec.internal).then(|| net.gateway()).flatten();
            self.net.attach(&netns, &endpoint(net, ep, gateway, hairpin)?)?;
        }
        if !reqs.is_empty() {
            let (net, _) = &eps[0];
            let default_ip: Option<Ipv4Addr> = match net.spec.host_binding_ipv4.as_str() {
                "" | "0.0.0.0" => None,
                ip => ip.parse().ok(),
            };
            let reqs: Vec<ports::PortRequest> =
                reqs.into_iter().map(|r| ports::PortRequest { host_ip: r.host_ip.or(default_ip), ..r }).collect();
            let publish = || self.net.publish(&c.id, &reqs, primary_ip);
            let maps = match publish() {
                // The table went behind the daemon's back (`nft flush ruleset`, a firewall
                // reload): rebuild it, with every held port, and try once more.
                Err(e) if NetworkDriver::table_missing(&e) => {
                    log_warn!("the firewall table is gone ({}): rebuilding it", e.message);
                    // (Under network_changes: a network created or removed meanwhile must
                    // not be rebuilt away by a stale list of bridges.)
                    let rebuilt = {
                        let _one_at_a_time = self.network_changes();
                        self.sync_firewall()
                    };
                    rebuilt.and_then(|()| publish())
                }
                r => r,
            }
            .map_err(|e| {
                Error::new(e.kind, format!("driver failed programming external connectivity on endpoint {} ({}): {}", c.name, c.id, e.message))
            })?;
            out.ports = maps.iter().map(published).collect();
        }
        Ok(())
    }

    /// Gives back what `wire` (or a restored running container) holds.
    pub(super) fn unwire(&self, id: &str, ns: &NetState) {
        self.net.unpublish(id);
        self.leave_hosts(id);
        // The kernel deletes the interfaces with the namespace, unless other containers
        // share it (`--network container:`): then they must go now.
        let shared = self.all().iter().any(|o| {
            let s = o.snapshot();
            s.running() && joined_container(&s.spec.host.network_mode).is_some_and(|x| self.lookup(x).is_ok_and(|t| t.id == id))
        });
        for ep in ns.endpoints.values() {
            if shared {
                if let Err(e) = self.net.detach(&ep.veth) {
                    log_warn!("container {}: remove {}: {}", crate::util::id::short(id), ep.veth, e.message);
                }
            }
            if let Err(e) = self.db.release_ip(&ep.network_id, id) {
                log_warn!("container {}: release {}: {}", crate::util::id::short(id), ep.ip, e.message);
            }
        }
    }

    /// The network an endpoint setting names (by ID first: names can be reused).
    fn network_for(&self, name: &str, s: &EndpointSettings) -> Result<Network> {
        let net = if s.network_id.is_empty() {
            self.lookup_network(name)
        } else {
            self.lookup_network(&s.network_id).or_else(|_| self.lookup_network(name))
        }
        .map_err(|_| network::not_found(name))?;
        if !net.is_bridge() {
            return Err(Error::invalid(format!("container cannot be connected to network {}", net.name)));
        }
        Ok(net)
    }

    /// An address on `net` for `c` (the one asked for with `--ip`, or the next free).
    fn allocate(&self, c: &Container, net: &Network, s: &EndpointSettings, ifname: String, mac: Option<[u8; 6]>) -> Result<EndpointState> {
        let (Some(subnet), Some(range), Some(gw)) = (net.subnet(), net.range(), net.gateway()) else {
            return Err(Error::system(format!("network {} has no subnet", net.name)));
        };
        let wanted = if s.ipv4_address.is_empty() {
            None
        } else {
            if net.spec.builtin {
                return Err(Error::invalid("user specified IP address is supported on user defined networks only"));
            }
            if net.spec.user_subnet == Some(false) {
                return Err(Error::invalid("user specified IP address is supported only when connecting to networks with user configured subnets"));
            }
            let ip: Ipv4Addr = s.ipv4_address.parse().map_err(|_| Error::invalid(format!("invalid IPv4 address {}", s.ipv4_address)))?;
            if !subnet.contains(ip) || ip == gw || ip == subnet.addr || ip == subnet.broadcast() {
                return Err(Error::invalid(format!("no configured subnet or ip-range contain the IP address {ip}")));
            }
            Some(ip)
        };
        let last = self.last_ip.lock().unwrap_or_else(|p| p.into_inner()).get(&net.id).copied();
        let ip = self.db.allocate_ip(&net.id, &c.id, wanted, &|used| ipam::next_free(&subnet, &range, gw, used, last))?;
        self.last_ip.lock().unwrap_or_else(|p| p.into_inner()).insert(net.id.clone(), ip);
        Ok(EndpointState {
            network_id: net.id.clone(),
            endpoint_id: crate::util::id::random_id(),
            ip: ip.to_string(),
            prefix: subnet.prefix,
            gateway: gw.to_string(),
            mac: ipam::format_mac(&mac.unwrap_or_else(|| ipam::mac_of(ip))),
            veth: format!("veth{}", &crate::util::id::random_id()[..7]),
            ifname,
            aliases: s.aliases.clone(),
        })
    }

    fn hosts_file(&self, c: &Container, primary: Option<Ipv4Addr>, eps: &[(Network, EndpointState)]) -> HostsFile {
        HostsFile {
            path: self.container_dir(&c.id).join("hosts"),
            hostname: c.spec.hostname.clone(),
            domainname: c.spec.domainname.clone(),
            // (Checked at create; a gateway gone since only loses that line.)
            extra_hosts: self.resolve_extra_hosts(&c.spec.host.extra_hosts).unwrap_or_else(|e| {
                log_warn!("container {}: {}", crate::util::id::short(&c.id), e.message);
                Vec::new()
            }),
            primary,
            networks: eps.iter().filter(|(n, _)| !n.spec.builtin).map(|(n, _)| n.id.clone()).collect(),
        }
    }

    fn peer_of(&self, c: &Container, ep: &EndpointState) -> Peer {
        Peer {
            name: c.name.clone(),
            short_id: c.id[..12].to_string(),
            ip: ep.ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
            aliases: ep.aliases.clone(),
        }
    }

    /// Start-up: a container that kept running holds its ports and names again.
    pub(super) fn rewire_running(&self, c: &Container) {
        let ns = &c.state.network;
        let maps: Vec<PortMap> = ns.ports.iter().filter_map(port_map).collect();
        if let Err(e) = self.net.reclaim(&c.id, &maps) {
            log_error!("container {}: take its published ports again: {}", crate::util::id::short(&c.id), e.message);
        }
        let mut eps = Vec::new();
        for ep in ns.endpoints.values() {
            if let Ok(n) = self.lookup_network(&ep.network_id) {
                eps.push((n, ep.clone()));
            }
        }
        let primary = ordered_networks(c)
            .first()
            .and_then(|(name, _)| ns.endpoints.get(name))
            .and_then(|ep| ep.ip.parse().ok());
        let file = self.hosts_file(c, primary, &eps);
        let peers = eps.iter().filter(|(n, _)| !n.spec.builtin).map(|(n, ep)| (n.id.clone(), self.peer_of(c, ep))).collect();
        if let Err(e) = self.join_hosts(&c.id, file, peers) {
            log_warn!("container {}: hosts file: {}", crate::util::id::short(&c.id), e.message);
        }
    }
}

fn endpoint(net: &Network, ep: &EndpointState, default_via: Option<Ipv4Addr>, hairpin: bool) -> Result<Endpoint> {
    Ok(Endpoint {
        bridge: net.spec.bridge.clone(),
        veth: ep.veth.clone(),
        ifname: ep.ifname.clone(),
        ip: ep.ip.parse().map_err(|_| Error::system("bad endpoint address"))?,
        prefix: ep.prefix,
        default_via,
        mac: ipam::parse_mac(&ep.mac)?,
        mtu: net.spec.mtu,
        hairpin,
    })
}

/// `POST /networks/{id}/connect`.
pub struct NetworkConnect {
    pub network: String,
    pub container: String,
    pub settings: EndpointSettings,
}

impl Job for NetworkConnect {
    type Output = ();
    const NAME: &'static str = "NetworkConnect";

    fn target(&self) -> String {
        format!("{} to {}", self.container, self.network)
    }

    fn run(self, e: &Engine) -> Result<()> {
        // The network cannot be removed while a running container is wired into it.
        let _one_at_a_time = e.network_changes();
        let net = e.lookup_network(&self.network)?;
        let ctr = e.lookup(&self.container)?;
        let c = ctr.snapshot();
        // Docker's words; all are validation errors (400).
        let mode = c.spec.host.network_mode.as_str();
        const PRIVATE: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";
        if mode == network::HOST || joined_container(mode).is_some() {
            return Err(Error::invalid("container sharing network namespace with another container or host cannot be connected to any other network"));
        }
        if mode == network::NONE || net.name == network::NONE {
            return Err(Error::invalid(PRIVATE));
        }
        if net.name == network::HOST {
            return Err(Error::invalid("container cannot be disconnected from host network or connected to host network"));
        }
        if !net.is_bridge() {
            return Err(Error::invalid(format!("container cannot be connected to network {}", net.name)));
        }
        if net.spec.builtin && !self.settings.aliases.is_empty() {
            return Err(Error::invalid(super::create::ALIAS_ON_DEFAULT));
        }
        let running = c.running() && c.state.pid > 0;
        if running && c.state.network.endpoints.contains_key(&net.name) {
            return Err(Error::forbidden(format!("endpoint with name {} already exists in network {}", c.name, net.name)));
        }
        // (A stopped container connected again takes the new settings, as with Docker.)
        let settings = EndpointSettings { network_id: net.id.clone(), ..self.settings };
        let mut networks = c.spec.networks.clone();
        networks.insert(net.name.clone(), settings.clone());
        if running {
            let used: Vec<&str> = c.state.network.endpoints.values().map(|ep| ep.ifname.as_str()).collect();
            let ifname = (0..).map(|i| format!("eth{i}")).find(|n| !used.contains(&n.as_str())).expect("a free name");
            let ep = e.allocate(&c, &net, &settings, ifname, None)?;
            let attached = e.net.attach(&netns_path(c.state.pid), &endpoint(&net, &ep, None, false)?);
            if let Err(err) = attached {
                let _ = e.db.release_ip(&net.id, &c.id);
                return Err(err);
            }
            if !net.spec.builtin {
                e.change_hosts_network(&c.id, &net.id, Some(e.peer_of(&c, &ep)));
            }
            let mut g = ctr.lock();
            g.0.state.network.endpoints.insert(net.name.clone(), ep);
            e.persist(&g.0)?;
        }
        let mut g = ctr.lock();
        std::sync::Arc::make_mut(&mut g.0.spec).networks = networks;
        e.persist_spec(&g.0)
    }
}

/// `POST /networks/{id}/disconnect`.
pub struct NetworkDisconnect {
    pub network: String,
    pub container: String,
    pub force: bool,
}

impl Job for NetworkDisconnect {
    type Output = ();
    const NAME: &'static str = "NetworkDisconnect";

    fn target(&self) -> String {
        format!("{} from {}", self.container, self.network)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let net = e.lookup_network(&self.network)?;
        let ctr = match e.lookup(&self.container) {
            Ok(c) => c,
            // `--force` on a container that is gone: nothing is left to disconnect.
            Err(err) if self.force && err.kind == crate::error::Kind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        let c = ctr.snapshot();
        if c.spec.host.network_mode == network::HOST && net.name == network::HOST {
            return Err(Error::forbidden("container cannot be disconnected from host network or connected to host network"));
        }
        if !c.spec.networks.contains_key(&net.name) {
            return Err(Error::forbidden(format!("container {} is not connected to network {}", c.id, net.name)));
        }
        if let Some(ep) = c.state.network.endpoints.get(&net.name).cloned() {
            if let Err(err) = e.net.detach(&ep.veth) {
                if !self.force {
                    return Err(err);
                }
            }
            let _ = e.db.release_ip(&net.id, &c.id);
            if !net.spec.builtin {
                e.change_hosts_network(&c.id, &net.id, None);
            }
            // Ports forwarded to the address that just went away stop with it.
            if c.state.network.ports.iter().any(|p| p.ctr_ip == ep.ip) {
                e.net.unpublish(&c.id);
            }
            let mut g = ctr.lock();
            g.0.state.network.endpoints.remove(&net.name);
            g.0.state.network.ports.retain(|p| p.ctr_ip != ep.ip);
            e.persist(&g.0)?;
        }
        let mut g = ctr.lock();
        std::sync::Arc::make_mut(&mut g.0.spec).networks.remove(&net.name);
        e.persist_spec(&g.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::container::{ContainerSpec, State};

    #[test]
    fn the_network_mode_comes_first() {
        let mut spec = ContainerSpec::default();
        spec.host.network_mode = "zeta".into();
        for n in ["alpha", "zeta", "beta"] {
            spec.networks.insert(n.into(), EndpointSettings::default());
        }
        let c = Container { id: "x".repeat(64), name: "c".into(), image_id: String::new(), created: 0, spec: spec.into(), state: State::default() };
        let order: Vec<String> = ordered_networks(&c).into_iter().map(|(n, _)| n).collect();
        assert_eq!(order, ["zeta", "alpha", "beta"]);
    }

    #[test]
    fn published_ports_round_trip() {
        let m = PortMap { proto: Proto::Udp, host_ip: Some(Ipv4Addr::LOCALHOST), host_port: 5353, ctr_ip: Ipv4Addr::new(10, 0, 0, 2), ctr_port: 53 };
        assert_eq!(port_map(&published(&m)), Some(m));
        let any = PublishedPort { proto: "tcp".into(), host_ip: String::new(), host_port: 8080, ctr_ip: "10.0.0.2".into(), ctr_port: 80 };
        assert_eq!(port_map(&any).unwrap().host_ip, None);
        assert_eq!(port_map(&PublishedPort { proto: "sctp".into(), ..any }), None);
    }
}
