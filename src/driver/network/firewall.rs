//! berth's firewall: the nf_tables ruleset that publishes container ports (DNAT), lets
//! bridge networks reach out (masquerade) and keeps containers of an `icc=false` network
//! apart, built as data (a `Batch`) and committed through sys::nftables. It owns the
//! daemon's tables (`ip <T>` and `bridge <T>`, T from a daemon flag) and touches nothing
//! else in the ruleset; it never runs `nft`.
//!
//! Port maps are elements of four maps, not rules. The rules are fixed: one lookup per
//! (protocol, any address / one address) in chain `ports`, whose map answers with the
//! container's address and port. Publishing or unpublishing a container's ports is
//! therefore a handful of map elements in one small batch: the cost does not grow with
//! the number of containers, no rule handles have to be remembered to undo it, and a packet
//! pays one hash lookup instead of walking a rule per published port.
//!
//! `sync` rebuilds both tables at daemon start, in ONE batch that deletes and recreates
//! them: the previous daemon may have died with elements of containers that are gone, or
//! left an older ruleset, and a rebuild from the daemon's own state is the only way to
//! know exactly what is there. Because the batch is one transaction, packets see either
//! the old ruleset or the new one, never a half-built one, and connections already NATed
//! keep their conntrack entries across the swap. Running it twice gives the same ruleset.
//!
//! Besides NAT, two filter chains guard what NAT and forwarding open up: `guard` drops
//! packets for loopback addresses that arrive on other interfaces (`loopback_guard_rule`),
//! and `forward` drops new connections routed into a bridge from elsewhere unless they are
//! published ports (`forward_rule`).
//!
//! The ruleset (`nft list` of it is in tests_kernel.rs) leaves three things to the network
//! driver, which the rules rely on:
//! - route_localnet=1 on each bridge: DNAT of 127.0.0.1 sends a loopback-sourced packet
//!   into the bridge, which the kernel otherwise refuses to route (it is masqueraded on the
//!   way out);
//! - hairpin mode on each container's bridge port (IFLA_BRPORT_MODE): where br_netfilter is
//!   active (bridge-nf-call-iptables=1, on wherever the module is loaded), a container's
//!   packet to its own published port is DNATed and bridged back out of the port it came
//!   in, which the bridge only does in hairpin mode (Docker sets it for the same reason);
//! - net.ipv4.ip_forward=1.


use crate::error::{Error, Result};
use crate::sys::netlink;
use crate::sys::nftables::{
    reg32, BaseChain, Batch, ChainType, CmpOp, CtKey, DataType, Element, Expr, Family, FibResult, Hook,
    MetaKey, NatType, PayloadBase, Set, Table, Verdict, FIB_F_DADDR,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kernel;

/// IFNAMSIZ (include/uapi/linux/if.h): interface names are compared as 16 bytes, NUL-padded.
const IFNAMSIZ: usize = 16;
/// RTN_LOCAL (include/uapi/linux/rtnetlink.h), as `fib daddr type local` compares it.
const RTN_LOCAL: u32 = 2;
/// IPS_DST_NAT (include/uapi/linux/netfilter/nf_conntrack_common.h): `ct status dnat`.
const IPS_DST_NAT: u32 = 1 << 5;
/// ETH_P_IP (include/uapi/linux/if_ether.h), big-endian as skb->protocol holds it.
const ETH_P_IP: [u8; 2] = [0x08, 0x00];
/// NFPROTO_IPV4: the NAT family of a `dnat ip to` statement.
const NFPROTO_IPV4: u8 = 2;
/// IPPROTO_TCP / IPPROTO_UDP.
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// NAT priorities nft calls dstnat and srcnat (NF_IP_PRI_NAT_DST / _SRC).
const PRIO_DSTNAT: i32 = -100;
const PRIO_SRCNAT: i32 = 100;
/// NF_IP_PRI_RAW (nft's "raw"): before conntrack and NAT.
const PRIO_RAW: i32 = -300;
/// NF_CT_STATE_BIT(IP_CT_NEW) (include/uapi/linux/netfilter/nf_conntrack_common.h):
/// `ct state new`.
const CT_STATE_NEW: u32 = 1 << 3;
/// The regular chain holding the DNAT lookups.
const PORTS: &str = "ports";
/// At most this many port maps are spelled out in an error message.
const NAMED_IN_ERRORS: usize = 8;

/// A bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeNet {
    /// The bridge interface (at most 15 bytes).
    pub bridge: String,
    /// The network's subnet address (host bits are ignored).
    pub subnet: Ipv4Addr,
    /// The subnet's prefix length, 1 to 32.
    pub prefix: u8,
    /// NAT traffic leaving for other interfaces to their address; false for `--internal`.
    pub masquerade: bool,
    /// Inter-container communication: false keeps containers on this bridge from talking
    /// to each other directly (see `icc_drop_rule` for published ports).
    pub icc: bool,
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A published port: traffic to host_ip:host_port goes to ctr_ip:ctr_port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMap {
    pub proto: Proto,
    /// The host address it is published on; None (or 0.0.0.0) for every local address,
    /// 127.0.0.1 included.
    pub host_ip: Option<Ipv4Addr>,
    /// Host port, not 0 (the driver picks ephemeral ports before calling).
    pub host_port: u16,
    pub ctr_ip: Ipv4Addr,
    pub ctr_port: u16,
}

/// The daemon's firewall tables. Holds no socket: each call opens one in the caller's
/// network namespace, so a Firewall can be shared between threads.
#[derive(Debug, Clone)]
pub struct Firewall {
    ip: Table,
    bridge: Table,
}

impl Firewall {
    /// The tables `ip <table>` and `bridge <table>`; the name comes from a daemon flag
    /// (tests use unique names). Nothing is sent until a method is called.
    pub fn new(table: &str) -> Firewall {
        Firewall {
            ip: Table { family: Family::Ip, name: table.to_string() },
            bridge: Table { family: Family::Bridge, name: table.to_string() },
        }
    }

    /// Replaces the daemon's tables with exactly these networks and port maps, in one
    /// atomic batch (tables that do not exist yet are fine).
    pub fn sync(&self, nets: &[BridgeNet], ports: &[PortMap]) -> Result<()> {
        self.sync_batch(nets, ports)?.commit()
    }

    /// Adds port maps to the running ruleset: map elements only, no rule changes. A port
    /// map that is already there is fine; a host port already mapped to another container
    /// is an error (Conflict), and then nothing is added.
    pub fn add_ports(&self, ports: &[PortMap]) -> Result<()> {
        self.add_ports_batch(ports)?.commit().map_err(|e| e.context("publish ports"))
    }

    /// Removes port maps; ones that are not there are not an error. A host port mapped to
    /// another container than the one given is left alone and reported (Conflict), and
    /// then nothing is removed.
    pub fn remove_ports(&self, ports: &[PortMap]) -> Result<()> {
        self.remove_ports_batch(ports)?.commit().map_err(|e| {
            if netlink::is_errno(&e, libc::EEXIST) {
                e.context("unpublish ports (a host port maps to another container)")
            } else {
                e.context("unpublish ports")
            }
        })
    }

    #[cfg(test)]
    /// Deletes the daemon's tables; missing ones are fine.
    pub fn delete(&self) -> Result<()> {
        self.delete_batch().commit()
    }

    #[cfg(test)]
    fn delete_batch(&self) -> Batch {
        let mut b = Batch::new();
        self.delete_tables(&mut b);
        b
    }

    /// "Delete if present", as nft's `destroy` does on kernels before 6.3 (which lack
    /// NFT_MSG_DESTROYTABLE): adding an existing table is a no-op, so the delete that
    /// follows in the same batch always finds one.
    fn delete_tables(&self, b: &mut Batch) {
        for t in [&self.ip, &self.bridge] {
            b.add_table(t);
            b.del_table(t);
        }
    }

    fn sync_batch(&self, nets: &[BridgeNet], ports: &[PortMap]) -> Result<Batch> {
        for n in nets {
            check_net(n)?;
        }
        let elems = elements(ports)?;
        let mut b = Batch::new();
        self.delete_tables(&mut b);

        let ip = &self.ip;
        b.add_table(ip);
        b.add_chain(ip, PORTS, None);
        let nat = |hook, priority| BaseChain { ty: ChainType::Nat, hook, priority, policy: None };
        b.add_chain(ip, "prerouting", Some(&nat(Hook::Prerouting, PRIO_DSTNAT)));
        b.add_chain(ip, "output", Some(&nat(Hook::Output, PRIO_DSTNAT)));
        b.add_chain(ip, "postrouting", Some(&nat(Hook::Postrouting, PRIO_SRCNAT)));
        let filter = |hook, priority| BaseChain { ty: ChainType::Filter, hook, priority, policy: None };
        b.add_chain(ip, "guard", Some(&filter(Hook::Prerouting, PRIO_RAW)));
        b.add_chain(ip, "forward", Some(&filter(Hook::Forward, 0)));
        for m in MAPS {
            b.add_set(ip, &m.set());
        }
        for (m, group) in &elems {
            add_map_elements(&mut b, ip, *m, group);
        }
        for m in [Map::TcpAddr, Map::TcpAny, Map::UdpAddr, Map::UdpAny] {
            let (exprs, text) = dnat_rule(m);
            b.add_rule(ip, PORTS, &exprs, &text);
        }
        for chain in ["prerouting", "output"] {
            // Local destinations only: containers talking to the outside world or to each
            // other never enter the map lookups.
            let mut e = vec![Expr::Fib { flags: FIB_F_DADDR, result: FibResult::Addrtype, dreg: reg32(0) }];
            e.push(Expr::Cmp { sreg: reg32(0), op: CmpOp::Eq, data: RTN_LOCAL.to_ne_bytes().to_vec() });
            e.push(Expr::Verdict(Verdict::Jump(PORTS.into())));
            b.add_rule(ip, chain, &e, "fib daddr type local jump ports");
        }
        for n in nets {
            for (exprs, text) in postrouting_rules(n) {
                b.add_rule(ip, "postrouting", &exprs, &text);
            }
        }
        let (exprs, text) = loopback_guard_rule();
        b.add_rule(ip, "guard", &exprs, &text);
        for n in nets {
            let (exprs, text) = forward_rule(n);
            b.add_rule(ip, "forward", &exprs, &text);
        }

        let isolated: Vec<&BridgeNet> = nets.iter().filter(|n| !n.icc).collect();
        if !isolated.is_empty() {
            let br = &self.bridge;
            b.add_table(br);
            let forward = BaseChain {
                ty: ChainType::Filter,
                hook: Hook::Forward,
                priority: 0,
                policy: Some(Verdict::Accept),
            };
            b.add_chain(br, "forward", Some(&forward));
            for n in isolated {
                let (exprs, text) = icc_drop_rule(n);
                b.add_rule(br, "forward", &exprs, &text);
            }
        }
        Ok(b)
    }

    fn add_ports_batch(&self, ports: &[PortMap]) -> Result<Batch> {
        let mut b = Batch::new();
        for (m, group) in &elements(ports)? {
            add_map_elements(&mut b, &self.ip, *m, group);
        }
        Ok(b)
    }

    /// Adds then deletes each element in one batch. The add makes sure the delete finds
    /// it (a missing element would fail the batch with ENOENT), and it fails with EEXIST
    /// if the key maps to another container, which must not lose its port. Kernels from
    /// 6.3 have NFT_MSG_DESTROYSETELEM, but it would remove someone else's mapping.
    fn remove_ports_batch(&self, ports: &[PortMap]) -> Result<Batch> {
        let mut b = Batch::new();
        for (m, group) in &elements(ports)? {
            add_map_elements(&mut b, &self.ip, *m, group);
            let keys: Vec<Element> = group.iter().map(|p| Element { key: m.key(p), data: None }).collect();
            b.del_elements(&self.ip, &m.set(), &keys, &describe(group));
        }
        Ok(b)
    }
}

/// The four DNAT maps: data `ipv4_addr . inet_service` (container address and port), keyed
/// by the host port alone (published on every address) or by host address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Map {
    TcpAny,
    UdpAny,
    TcpAddr,
    UdpAddr,
}

/// In the order their NFTA_SET_IDs are numbered (1..=4), as nft numbers sets it creates.
const MAPS: [Map; 4] = [Map::TcpAny, Map::UdpAny, Map::TcpAddr, Map::UdpAddr];

impl Map {
    fn of(p: &PortMap) -> Map {
        match (p.proto, host_addr(p)) {
            (Proto::Tcp, None) => Map::TcpAny,
            (Proto::Udp, None) => Map::UdpAny,
            (Proto::Tcp, Some(_)) => Map::TcpAddr,
            (Proto::Udp, Some(_)) => Map::UdpAddr,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Map::TcpAny => "tcp_any",
            Map::UdpAny => "udp_any",
            Map::TcpAddr => "tcp_addr",
            Map::UdpAddr => "udp_addr",
        }
    }

    fn proto(self) -> (&'static str, u8) {
        match self {
            Map::TcpAny | Map::TcpAddr => ("tcp", IPPROTO_TCP),
            Map::UdpAny | Map::UdpAddr => ("udp", IPPROTO_UDP),
        }
    }

    fn by_addr(self) -> bool {
        matches!(self, Map::TcpAddr | Map::UdpAddr)
    }

    fn set(self) -> Set {
        let addr_port = DataType::concat(&[DataType::IPV4_ADDR, DataType::INET_SERVICE]);
        Set {
            name: self.name().into(),
            id: MAPS.iter().position(|m| *m == self).expect("every map is in MAPS") as u32 + 1,
            key: if self.by_addr() { addr_port } else { DataType::INET_SERVICE },
            data: Some(addr_port),
        }
    }

    /// The element key: the port (2 bytes, big-endian), or address . port with the port
    /// padded to its 32-bit register.
    fn key(self, p: &PortMap) -> Vec<u8> {
        match host_addr(p) {
            Some(a) if self.by_addr() => addr_port(a, p.host_port),
            _ => p.host_port.to_be_bytes().to_vec(),
        }
    }
}

/// The host address of a port map bound to one address; 0.0.0.0 means every address.
fn host_addr(p: &PortMap) -> Option<Ipv4Addr> {
    p.host_ip.filter(|a| !a.is_unspecified())
}

fn addr_port(a: Ipv4Addr, port: u16) -> Vec<u8> {
    let mut v = a.octets().to_vec();
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

/// Port maps grouped by map, without duplicates, in a stable order. Two different targets
/// for one host port are refused here rather than by the kernel's EEXIST, to name them.
fn elements(ports: &[PortMap]) -> Result<BTreeMap<Map, Vec<PortMap>>> {
    let mut seen: BTreeMap<(Map, Vec<u8>), &PortMap> = BTreeMap::new();
    let mut out: BTreeMap<Map, Vec<PortMap>> = BTreeMap::new();
    for p in ports.iter().collect::<BTreeSet<_>>() {
        if p.host_port == 0 || p.ctr_port == 0 {
            return Err(Error::invalid(format!(
                "publish {} to {}:{}: port 0 cannot be published",
                host_text(p),
                p.ctr_ip,
                p.ctr_port
            )));
        }
        let m = Map::of(p);
        if let Some(prev) = seen.insert((m, m.key(p)), p) {
            if (prev.ctr_ip, prev.ctr_port) != (p.ctr_ip, p.ctr_port) {
                return Err(Error::conflict(format!(
                    "publish {}: mapped to both {}:{} and {}:{}",
                    host_text(p),
                    prev.ctr_ip,
                    prev.ctr_port,
                    p.ctr_ip,
                    p.ctr_port
                )));
            }
            continue;
        }
        out.entry(m).or_default().push(p.clone());
    }
    Ok(out)
}

fn add_map_elements(b: &mut Batch, t: &Table, m: Map, ports: &[PortMap]) {
    let elems: Vec<Element> = ports
        .iter()
        .map(|p| Element { key: m.key(p), data: Some(addr_port(p.ctr_ip, p.ctr_port)) })
        .collect();
    b.add_elements(t, &m.set(), &elems, &describe(ports));
}

/// A port map as nft prints the map element: "127.0.0.1 . 8081 : 172.18.0.2 . 81".
fn text(p: &PortMap) -> String {
    let key = match host_addr(p) {
        Some(a) => format!("{a} . {}", p.host_port),
        None => p.host_port.to_string(),
    };
    format!("{key} : {} . {}", p.ctr_ip, p.ctr_port)
}

/// The host side of a port map the way docker prints it: "127.0.0.1:8081/tcp", "8080/tcp".
fn host_text(p: &PortMap) -> String {
    let proto = match p.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    match host_addr(p) {
        Some(a) => format!("{a}:{}/{proto}", p.host_port),
        None => format!("{}/{proto}", p.host_port),
    }
}

fn describe(ports: &[PortMap]) -> String {
    if ports.len() > NAMED_IN_ERRORS {
        return format!("{} elements", ports.len());
    }
    let items: Vec<String> = ports.iter().map(text).collect();
    format!("elements {{ {} }}", items.join(", "))
}

fn check_net(n: &BridgeNet) -> Result<()> {
    let bad_name = n.bridge.is_empty() || n.bridge.len() >= IFNAMSIZ || n.bridge.contains('\0');
    if bad_name {
        return Err(Error::invalid(format!("bridge name {:?} is not a valid interface name", n.bridge)));
    }
    if !(1..=32).contains(&n.prefix) {
        return Err(Error::invalid(format!(
            "subnet {}/{} of {}: bad prefix length",
            n.subnet, n.prefix, n.bridge
        )));
    }
    Ok(())
}

/// Matches a transport protocol, which a port load needs first (nft adds this dependency
/// to `tcp dport` itself).
fn l4proto(proto: u8) -> [Expr; 2] {
    [
        Expr::Meta { key: MetaKey::L4proto, dreg: reg32(0) },
        Expr::Cmp { sreg: reg32(0), op: CmpOp::Eq, data: vec![proto] },
    ]
}

/// `dnat ip to ip daddr . tcp dport map @tcp_addr` / `dnat ip to tcp dport map @tcp_any`:
/// the key is built in registers 1 (address) and 9 (port); the map writes the container's
/// address into register 1 and its port into register 9, where nat takes them. A miss ends
/// the rule without a verdict, so evaluation goes on with the next rule.
fn dnat_rule(m: Map) -> (Vec<Expr>, String) {
    let (proto_name, proto) = m.proto();
    let dport = |dreg| Expr::Payload { base: PayloadBase::Transport, offset: 2, len: 2, dreg };
    let mut e = l4proto(proto).to_vec();
    let key = if m.by_addr() {
        e.push(Expr::Payload { base: PayloadBase::Network, offset: 16, len: 4, dreg: reg32(0) });
        e.push(dport(reg32(1)));
        format!("ip daddr . {proto_name} dport")
    } else {
        e.push(dport(reg32(0)));
        format!("{proto_name} dport")
    };
    e.push(Expr::Lookup {
        set: m.name().into(),
        set_id: Some(m.set().id),
        sreg: reg32(0),
        dreg: Some(reg32(0)),
    });
    e.push(Expr::Nat {
        ty: NatType::Dnat,
        family: NFPROTO_IPV4,
        addr: Some(reg32(0)),
        proto: Some(reg32(1)),
        flags: None,
    });
    (e, format!("dnat ip to {key} map @{}", m.name()))
}

/// `ip saddr|daddr NET/PREFIX`, encoded as nft 1.0.6 does: a prefix on a byte boundary
/// loads and compares just the bytes it covers; any other loads the whole address and
/// masks it first.
fn addr_prefix(offset: u32, net: Ipv4Addr, prefix: u8) -> Vec<Expr> {
    let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0).to_be_bytes();
    let bytes = if prefix % 8 == 0 { prefix as usize / 8 } else { 4 };
    let net: Vec<u8> = net.octets().iter().zip(mask).map(|(a, m)| a & m).take(bytes).collect();
    let mut e = vec![Expr::Payload { base: PayloadBase::Network, offset, len: bytes as u32, dreg: reg32(0) }];
    if prefix % 8 != 0 {
        e.push(Expr::Bitwise { sreg: reg32(0), dreg: reg32(0), mask: mask.to_vec(), xor: vec![0; 4] });
    }
    e.push(Expr::Cmp { sreg: reg32(0), op: CmpOp::Eq, data: net });
    e
}

const SADDR: u32 = 12;
const DADDR: u32 = 16;

/// `iifname|oifname ==|!= "NAME"`.
fn ifname(key: MetaKey, op: CmpOp, name: &str) -> [Expr; 2] {
    let mut data = name.as_bytes().to_vec();
    data.resize(IFNAMSIZ, 0);
    [Expr::Meta { key, dreg: reg32(0) }, Expr::Cmp { sreg: reg32(0), op, data }]
}

fn postrouting_rules(n: &BridgeNet) -> Vec<(Vec<Expr>, String)> {
    let br = &n.bridge;
    let mut rules = Vec::new();
    if n.masquerade {
        // Leaving the bridge for any other interface: take that interface's address.
        let mut e = addr_prefix(SADDR, n.subnet, n.prefix);
        e.extend(ifname(MetaKey::Oifname, CmpOp::Neq, br));
        e.push(Expr::Masq);
        rules.push((e, format!("ip saddr {}/{} oifname != \"{br}\" masquerade", masked(n), n.prefix)));
    }
    // The host's loopback traffic DNATed into a container: a 127/8 source cannot leave
    // the host (the container could not answer it), so it takes the bridge's address.
    let mut e = ifname(MetaKey::Oifname, CmpOp::Eq, br).to_vec();
    e.extend(addr_prefix(SADDR, Ipv4Addr::new(127, 0, 0, 0), 8));
    e.push(Expr::Masq);
    rules.push((e, format!("oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade")));
    // Hairpin: a container reaching a published port of itself or of a neighbour through
    // a host address. Without SNAT the answer would go straight back over the bridge from
    // the wrong address (or, to itself, arrive from its own address and be dropped as a
    // martian). Not `iifname "BR" oifname "BR" ct status dnat`: where br_netfilter is
    // active (bridge-nf-call-iptables=1, the default wherever the module is loaded, and
    // built into this machine's kernel), a DNATed packet whose new route leads back into
    // its bridge is bridged, not routed, and br_nf_post_routing runs this hook without an
    // input device, so iifname never matches. The source subnet says "came from the
    // bridge" on both paths; `ct status dnat` keeps outside clients' addresses intact.
    let mut e = ifname(MetaKey::Oifname, CmpOp::Eq, br).to_vec();
    e.extend(addr_prefix(SADDR, n.subnet, n.prefix));
    e.extend(bits(CtKey::Status, IPS_DST_NAT, true));
    e.push(Expr::Masq);
    rules
        .push((e, format!("oifname \"{br}\" ip saddr {}/{} ct status dnat masquerade", masked(n), n.prefix)));
    rules
}

/// Packets for a loopback address that did not come from the loopback interface. The
/// kernel drops those itself as martians, except on an interface with route_localnet,
/// which berth turns on for its bridges (for DNAT of the host's 127.0.0.1): there a
/// container could reach every service the host binds to 127.0.0.1 (CVE-2020-8558). And the
/// `ports` lookup in prerouting runs before that check, so a neighbour on the LAN could
/// send to 127.0.0.1:PORT and be DNATed to a port published on 127.0.0.1 only. In a raw-
/// priority chain, before conntrack: the answers of the host's own 127.0.0.1 connections
/// into containers still carry the bridge's address here (they are masqueraded), and are
/// turned back into 127.0.0.1 only later, at the NAT hook.
fn loopback_guard_rule() -> (Vec<Expr>, String) {
    let mut e = ifname(MetaKey::Iifname, CmpOp::Neq, "lo").to_vec();
    e.extend(addr_prefix(DADDR, Ipv4Addr::new(127, 0, 0, 0), 8));
    e.push(Expr::Verdict(Verdict::Drop));
    (e, "iifname != \"lo\" ip daddr 127.0.0.0/8 drop".to_string())
}

/// `ct KEY & mask != 0` (`nonzero`: any of the bits is set) or `== 0` (none is), as nft
/// writes `ct status dnat` and `ct status ! dnat`.
fn bits(key: CtKey, mask: u32, nonzero: bool) -> [Expr; 3] {
    [
        Expr::Ct { key, dreg: reg32(0) },
        Expr::Bitwise { sreg: reg32(0), dreg: reg32(0), mask: mask.to_ne_bytes().to_vec(), xor: 0u32.to_ne_bytes().to_vec() },
        Expr::Cmp { sreg: reg32(0), op: if nonzero { CmpOp::Neq } else { CmpOp::Eq }, data: 0u32.to_ne_bytes().to_vec() },
    ]
}

/// New connections routed into the bridge from elsewhere (another interface or another
/// bridge network) are dropped unless they are DNATed published ports: with ip_forward on,
/// the host would otherwise route anyone who sets a route to the subnet straight to every
/// container port, and containers of one network to those of another. Docker gets the same
/// from its FORWARD policy DROP and isolation chains; berth leaves the host's own chains
/// and policies alone and filters only traffic into its bridges. Not affected: the host
/// itself (output, not forward), replies and related traffic (not new), containers of the
/// bridge (in and out through it), and traffic out of the bridge.
fn forward_rule(n: &BridgeNet) -> (Vec<Expr>, String) {
    let br = &n.bridge;
    let mut e = ifname(MetaKey::Oifname, CmpOp::Eq, br).to_vec();
    e.extend(ifname(MetaKey::Iifname, CmpOp::Neq, br));
    e.extend(bits(CtKey::State, CT_STATE_NEW, true));
    e.extend(bits(CtKey::Status, IPS_DST_NAT, false));
    e.push(Expr::Verdict(Verdict::Drop));
    (e, format!("oifname \"{br}\" iifname != \"{br}\" ct state new ct status ! dnat drop"))
}

/// icc=false: drop IPv4 between two addresses of the network's subnet in the bridge
/// family's forward hook, which only sees frames bridged from one port to another (traffic
/// to and from the host goes through the bridge's input/output hooks instead).
///
/// Why not `meta ibrname "BR" meta obrname "BR" drop`: those keys are NFT_META_BRI_IIFNAME
/// and _OIFNAME, implemented by nft_meta_bridge (CONFIG_NFT_BRIDGE_META), which kernels
/// may lack — this machine's 6.18 does, and the rule fails with EOPNOTSUPP. The subnet
/// match works wherever the bridge family does, and names the same traffic because every
/// container of the network has an address of its subnet and subnets do not overlap. Like
/// Docker's `-i br -o br -j DROP` (iptables, through br_netfilter), it covers IPv4 only.
///
/// Published ports between containers of such a network: without br_netfilter the DNATed
/// packet is routed by the host and passes. With it, the packet is bridged port to port
/// with its DNATed destination and its not yet masqueraded source, both in the subnet, so
/// it is dropped — as Docker drops it with --userland-proxy=false. Telling it apart would
/// take `ct status dnat` in the bridge family, which needs nf_conntrack_bridge
/// (CONFIG_NF_CONNTRACK_BRIDGE, absent here; nf_ct_netns_get fails with EPROTO).
fn icc_drop_rule(n: &BridgeNet) -> (Vec<Expr>, String) {
    // `ip saddr` in the bridge family: nft first checks the ethertype (meta protocol).
    let mut e = vec![
        Expr::Meta { key: MetaKey::Protocol, dreg: reg32(0) },
        Expr::Cmp { sreg: reg32(0), op: CmpOp::Eq, data: ETH_P_IP.to_vec() },
    ];
    e.extend(addr_prefix(SADDR, n.subnet, n.prefix));
    e.extend(addr_prefix(DADDR, n.subnet, n.prefix));
    e.push(Expr::Verdict(Verdict::Drop));
    let net = format!("{}/{}", masked(n), n.prefix);
    (e, format!("ip saddr {net} ip daddr {net} drop"))
}

fn masked(n: &BridgeNet) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - n.prefix as u32).unwrap_or(0);
    Ipv4Addr::from(u32::from(n.subnet) & mask)
}
