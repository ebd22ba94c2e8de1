//! The bridge network driver: Linux bridges with an address (the containers' gateway),
//! a veth pair per container interface (host end on the bridge, the other end created
//! directly inside the container's network namespace), published ports held by sockets
//! (ports.rs) and forwarded by nf_tables DNAT (firewall.rs) or, where nf_tables is missing
//! or `--userland-proxy-only` is set, by the userland proxy (proxy.rs). It speaks to the
//! kernel over netlink (sys/rtnetlink, sys/nftables) and never runs `ip` or `nft`.
//!
//! The engine decides which networks, addresses and ports a container gets (IPAM lives in
//! the GraphDB); this driver only makes the kernel match. It keeps no state on disk: after
//! a daemon restart the engine hands it the running containers' ports again (`reclaim`) and
//! the whole firewall table is rebuilt in one atomic batch (`sync`).
//!
//! Lock order: `fw` before `held`; `held` is a leaf lock, and no netlink request is made
//! while holding it. `fw` makes every change of the firewall's port maps and of `held` one
//! step, so that a rebuild (`sync`, built from `held`) can never drop the elements of a
//! container whose start is adding them at the same moment.

pub mod firewall;
pub mod ipam;
pub mod ports;
pub mod proxy;

use crate::error::{Context, Error, Kind, Result};
use crate::sys::rtnetlink::Rtnl;
use firewall::{BridgeNet, Firewall, PortMap};
use ipam::Subnet;
use ports::{Held, PortRequest};
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Daemon flags that shape the driver.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// nf_tables table name (`--nft-table`); empty: no firewall at all (unit tests).
    pub table: String,
    /// Forward published ports with the userland proxy only (`--userland-proxy-only`).
    pub userland_proxy_only: bool,
    /// Turn on IPv4 forwarding when a bridge is set up (`--ip-forward`).
    pub ip_forward: bool,
}

/// A bridge as the driver sets it up.
#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    pub name: String,
    pub gateway: Ipv4Addr,
    pub subnet: Subnet,
    /// 0 leaves the kernel's default.
    pub mtu: u32,
    pub icc: bool,
    pub masquerade: bool,
}

impl Bridge {
    fn firewall_net(&self) -> BridgeNet {
        BridgeNet { bridge: self.name.clone(), subnet: self.subnet.addr, prefix: self.subnet.prefix, masquerade: self.masquerade, icc: self.icc }
    }
}

/// One container interface on a bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub bridge: String,
    /// Host end of the pair.
    pub veth: String,
    /// Name inside the container ("eth0").
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// Default route through this gateway (the container's first, non-internal network).
    pub default_via: Option<Ipv4Addr>,
    pub mac: [u8; 6],
    pub mtu: u32,
    /// Let traffic leave through the port it came in by (a container reaching its own
    /// published port through a host address).
    pub hairpin: bool,
}

/// What forwards published ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    Nftables,
    UserlandProxy,
}

/// A container's hold on one published port.
enum Hold {
    /// nf_tables forwards; the socket only keeps the port.
    Socket(Held),
    /// The proxy forwards (and owns the socket); dropping it stops the forwarding.
    Proxy { map: PortMap, _proxy: proxy::Proxy },
}

impl Hold {
    fn map(&self) -> &PortMap {
        match self {
            Hold::Socket(h) => &h.map,
            Hold::Proxy { map, .. } => map,
        }
    }
}

pub struct NetworkDriver {
    opts: Options,
    firewall: Option<Firewall>,
    /// Chosen at the first `sync`: nf_tables unless it failed or the proxy was asked for.
    forwarding: Mutex<Forwarding>,
    /// nf_tables turned out to be missing: no firewall request is made any more.
    nft_missing: AtomicBool,
    /// The first `sync` has run: the forwarding mode is decided for good.
    decided: AtomicBool,
    /// Held while the firewall's port maps and `held` change (see the lock order above).
    fw: Mutex<()>,
    /// Published ports by container ID.
    held: Mutex<HashMap<String, Vec<Hold>>>,
}

/// errnos with which nf_tables says it is not there (no module, no netlink family).
fn nftables_missing(e: &Error) -> bool {
    [libc::EPROTONOSUPPORT, libc::EAFNOSUPPORT, libc::EOPNOTSUPP, libc::ENOENT]
        .iter()
        .any(|n| crate::sys::netlink::is_errno(e, *n))
}

fn write_sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).ctx(|| format!("write {value} to {path}"))
}

impl NetworkDriver {
    pub fn new(opts: Options) -> NetworkDriver {
        let firewall = (!opts.table.is_empty()).then(|| Firewall::new(&opts.table));
        let forwarding = if opts.userland_proxy_only || firewall.is_none() { Forwarding::UserlandProxy } else { Forwarding::Nftables };
        NetworkDriver {
            opts,
            firewall,
            forwarding: Mutex::new(forwarding),
            nft_missing: AtomicBool::new(false),
            decided: AtomicBool::new(false),
            fw: Mutex::new(()),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The firewall, unless there is none (unit tests) or nf_tables is missing.
    fn firewall(&self) -> Option<&Firewall> {
        self.firewall.as_ref().filter(|_| !self.nft_missing.load(Ordering::Relaxed))
    }

    /// The firewall when it forwards published ports (not the userland proxy).
    fn port_firewall(&self) -> Option<&Firewall> {
        self.firewall().filter(|_| self.forwarding() == Forwarding::Nftables)
    }

    fn fw_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.fw.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `e` says the daemon's table (or one of its maps) is not there.
    pub fn table_missing(e: &Error) -> bool {
        crate::sys::netlink::is_errno(e, libc::ENOENT)
    }

    pub fn forwarding(&self) -> Forwarding {
        *self.forwarding.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Hold>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes bridge `b` exist with its gateway address, up. Idempotent: a daemon restart
    /// finds the bridge in place.
    pub fn setup_bridge(&self, b: &Bridge) -> Result<()> {
        let mut rt = Rtnl::open()?;
        let link = match rt.link(&b.name)? {
            Some(l) => l,
            None => {
                let made = match rt.add_bridge(&b.name) {
                    Ok(()) => true,
                    // Made by someone else between our look and our add.
                    Err(e) if e.kind == Kind::Conflict => false,
                    Err(e) => return Err(e),
                };
                let link = rt.link(&b.name)?.ok_or_else(|| Error::system(format!("bridge {} vanished after its creation", b.name)))?;
                if made {
                    // A MAC of its own (random, locally administered). Without one the
                    // bridge takes the lowest MAC of its ports, so the gateway's MAC would
                    // change as containers come and go, and their ARP caches go stale.
                    let mut mac = crate::util::id::random_bytes::<6>();
                    mac[0] = (mac[0] & 0xfe) | 0x02;
                    rt.set_mac(link.index, mac)?;
                }
                link
            }
        };
        if link.kind.as_deref().is_some_and(|k| k != "bridge") {
            return Err(Error::conflict(format!("{} exists and is not a bridge (it is a {} device)", b.name, link.kind.unwrap_or_default())));
        }
        let addrs = rt.addrs4()?;
        if !addrs.iter().any(|(i, a, p)| *i == link.index && *a == b.gateway && *p == b.subnet.prefix) {
            rt.add_addr4(link.index, b.gateway, b.subnet.prefix)?;
        }
        if b.mtu > 0 && link.mtu != b.mtu {
            rt.set_mtu(link.index, b.mtu)?;
        }
        if !link.up {
            rt.set_up(link.index)?;
        }
        if self.port_firewall().is_some() {
            // DNAT of the host's own 127.0.0.1 traffic into a container routes a loopback
            // source out of this bridge, which the kernel drops as martian unless
            // route_localnet is on (ip-sysctl.rst).
            write_sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", b.name), "1")?;
        }
        if self.opts.ip_forward {
            let on = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").map(|s| s.trim() == "1").unwrap_or(false);
            if !on {
                write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
            }
        }
        Ok(())
    }

    /// Deletes a bridge (gone already is fine).
    pub fn remove_bridge(&self, name: &str) -> Result<()> {
        match Rtnl::open()?.del_link(name) {
            Err(e) if e.kind != Kind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Subnets in use on the host (routes and addresses), except those of `ours`: a new
    /// network must not overlap them. Default routes are not "in use" for this purpose.
    pub fn host_subnets(&self, ours: &[String]) -> Result<Vec<Subnet>> {
        let mut rt = Rtnl::open()?;
        let links = rt.links()?;
        let mine: HashSet<u32> = links.iter().filter(|l| ours.contains(&l.name)).map(|l| l.index).collect();
        let mut out: Vec<Subnet> = rt
            .routes4()?
            .into_iter()
            .filter(|r| r.prefix > 0 && !r.oif.is_some_and(|o| mine.contains(&o)))
            .filter(|r| !r.dst.is_loopback() && !r.dst.is_multicast() && r.dst != Ipv4Addr::BROADCAST)
            .map(|r| Subnet::new(r.dst, r.prefix))
            .filter(|s| s.prefix < 32)
            .collect();
        for (i, a, p) in rt.addrs4()? {
            if !mine.contains(&i) && !a.is_loopback() {
                out.push(Subnet::new(a, p));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Wires an interface into the network namespace at `netns` (/proc/PID/ns/net).
    pub fn attach(&self, netns: &Path, ep: &Endpoint) -> Result<()> {
        let ns = std::fs::File::open(netns).ctx(|| format!("open network namespace {}", netns.display()))?;
        let mut host = Rtnl::open()?;
        let bridge = host.link(&ep.bridge)?.ok_or_else(|| Error::not_found(format!("bridge {} not found", ep.bridge)))?;
        host.add_veth(&ep.veth, &ep.ifname, Some(ns.as_fd()), Some(bridge.index))?;
        let made = (|| -> Result<()> {
            let hv = host.link(&ep.veth)?.ok_or_else(|| Error::system(format!("veth {} vanished", ep.veth)))?;
            if ep.mtu > 0 {
                host.set_mtu(hv.index, ep.mtu)?;
            }
            if ep.hairpin {
                host.set_hairpin(hv.index, true)?;
            }
            host.set_up(hv.index)?;
            let mut inside = Rtnl::open_in(netns)?;
            let cv = inside.link(&ep.ifname)?.ok_or_else(|| Error::system(format!("{} did not appear in the container", ep.ifname)))?;
            inside.set_mac(cv.index, ep.mac)?;
            if ep.mtu > 0 {
                inside.set_mtu(cv.index, ep.mtu)?;
            }
            inside.add_addr4(cv.index, ep.ip, ep.prefix)?;
            inside.set_up(cv.index)?;
            if let Some(gw) = ep.default_via {
                inside.add_route4(Ipv4Addr::UNSPECIFIED, 0, Some(gw), Some(cv.index))?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            let _ = host.del_link(&ep.veth);
            return Err(e.context(format!("connect {} to bridge {}", ep.ifname, ep.bridge)));
        }
        Ok(())
    }

    /// Removes an interface by its host end (the kernel deletes both ends); gone already
    /// is fine.
    pub fn detach(&self, veth: &str) -> Result<()> {
        match Rtnl::open()?.del_link(veth) {
            Err(e) if e.kind != Kind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes veths on `bridges` whose names are not in `keep` (ends of containers that
    /// died while the daemon was away, or of a start it did not finish).
    pub fn remove_stale_veths(&self, bridges: &[String], keep: &HashSet<String>) -> Result<()> {
        let mut rt = Rtnl::open()?;
        let links = rt.links()?;
        let ours: HashSet<u32> = links.iter().filter(|l| bridges.contains(&l.name)).map(|l| l.index).collect();
        for l in links {
            let on_ours = l.master.is_some_and(|m| ours.contains(&m));
            if on_ours && l.kind.as_deref() == Some("veth") && !keep.contains(&l.name) {
                log_info!("removing stale interface {} from bridge", l.name);
                if let Err(e) = rt.del_link(&l.name) {
                    if e.kind != Kind::NotFound {
                        log_warn!("remove stale interface {}: {}", l.name, e.message);
                    }
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the firewall for these bridges and the ports held now (daemon start,
    /// network create and remove). The first call decides the forwarding mode: nf_tables,
    /// unless it is missing, and then nothing more is asked of it (the daemon start-up
    /// calls this before it re-takes any port, so no port is held under the wrong mode).
    pub fn sync(&self, bridges: &[Bridge]) -> Result<()> {
        let _fw = self.fw_lock();
        let Some(fw) = self.firewall() else { return Ok(()) };
        let nets: Vec<BridgeNet> = bridges.iter().map(Bridge::firewall_net).collect();
        let ports: Vec<PortMap> = if self.forwarding() == Forwarding::Nftables {
            self.held().values().flatten().map(|h| h.map().clone()).collect()
        } else {
            Vec::new()
        };
        let first = !self.decided.swap(true, Ordering::Relaxed);
        match fw.sync(&nets, &ports) {
            // Only the first rebuild decides: a later ENOENT is a table someone removed.
            Err(e) if first && nftables_missing(&e) => {
                log_warn!(
                    "nf_tables is not available ({}): published ports use the userland proxy, and containers' traffic leaves unmasqueraded",
                    e.message
                );
                self.nft_missing.store(true, Ordering::Relaxed);
                *self.forwarding.lock().unwrap_or_else(|p| p.into_inner()) = Forwarding::UserlandProxy;
                // Without the guard chain, route_localnet would open the host's loopback
                // services to the containers.
                for b in bridges {
                    let _ = write_sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", b.name), "0");
                }
                Ok(())
            }
            r => r,
        }
    }

    /// Takes host ports for `reqs` and starts forwarding them to `ctr_ip`; all or nothing.
    pub fn publish(&self, owner: &str, reqs: &[PortRequest], ctr_ip: Ipv4Addr) -> Result<Vec<PortMap>> {
        let mut holds = Vec::with_capacity(reqs.len());
        let proxy = self.forwarding() == Forwarding::UserlandProxy;
        for r in reqs {
            holds.push(ports::hold(r, ctr_ip, proxy)?);
        }
        self.forward(owner, holds)
    }

    /// Re-takes the exact ports of a container that kept running across a daemon restart.
    pub fn reclaim(&self, owner: &str, maps: &[PortMap]) -> Result<()> {
        let mut holds = Vec::with_capacity(maps.len());
        let proxy = self.forwarding() == Forwarding::UserlandProxy;
        for m in maps {
            holds.push(ports::hold_again(m, proxy)?);
        }
        self.forward(owner, holds).map(drop)
    }

    fn forward(&self, owner: &str, holds: Vec<Held>) -> Result<Vec<PortMap>> {
        let maps: Vec<PortMap> = holds.iter().map(|h| h.map.clone()).collect();
        let mut kept = Vec::with_capacity(holds.len());
        let _fw = self.fw_lock();
        match self.port_firewall() {
            Some(fw) => {
                if !maps.is_empty() {
                    fw.add_ports(&maps)?;
                }
                kept.extend(holds.into_iter().map(Hold::Socket));
            }
            None => {
                for h in holds {
                    let target = SocketAddrV4::new(h.map.ctr_ip, h.map.ctr_port);
                    let p = proxy::Proxy::start(h.map.proto, h.sock, target)?;
                    kept.push(Hold::Proxy { map: h.map, _proxy: p });
                }
            }
        }
        self.held().entry(owner.to_string()).or_default().extend(kept);
        Ok(maps)
    }

    /// Stops forwarding `owner`'s ports and gives them back.
    pub fn unpublish(&self, owner: &str) {
        let _fw = self.fw_lock();
        let Some(holds) = self.held().remove(owner) else { return };
        let maps: Vec<PortMap> = holds.iter().map(|h| h.map().clone()).collect();
        if let Some(fw) = self.port_firewall() {
            if let Err(e) = fw.remove_ports(&maps) {
                log_warn!("container {}: remove port forwarding: {}", crate::util::id::short(owner), e.message);
            }
        }
        drop(holds);
    }
}
