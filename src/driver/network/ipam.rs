//! IPv4 address management as arithmetic: subnets, gateways, the next free address, MAC
//! addresses derived from IPs, and the choice of a subnet for a new network from address
//! pools. Pure functions; which addresses are in use comes from the GraphDB (whose UNIQUE
//! constraint makes allocation safe under concurrent starts).

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// An IPv4 network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

impl Subnet {
    /// "172.18.0.0/16". Host bits must be zero, as Docker requires.
    pub fn parse(s: &str) -> Result<Subnet> {
        let (a, p) = s.split_once('/').ok_or_else(|| Error::invalid(format!("invalid subnet {s}: not in CIDR notation")))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| Error::invalid(format!("invalid subnet {s}: not an IPv4 address")))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| Error::invalid(format!("invalid subnet {s}: bad prefix length")))?;
        let net = Subnet::new(addr, prefix);
        if net.addr != addr {
            return Err(Error::invalid(format!("invalid subnet {s}: it should be {net}")));
        }
        Ok(net)
    }

    /// The subnet `addr` lies in (host bits cleared): 172.18.0.1/16 gives 172.18.0.0/16.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        Subnet { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix }
    }

    /// "172.18.0.1/16" (an address with its prefix, as `--bip` takes it).
    pub fn parse_host(s: &str) -> Result<(Ipv4Addr, Subnet)> {
        let (a, p) = s.split_once('/').ok_or_else(|| Error::invalid(format!("invalid address {s}: not in CIDR notation")))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| Error::invalid(format!("invalid address {s}: not an IPv4 address")))?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 30).ok_or_else(|| Error::invalid(format!("invalid address {s}: bad prefix length")))?;
        let net = Subnet::new(addr, prefix);
        if addr == net.addr || addr == net.broadcast() {
            return Err(Error::invalid(format!("invalid address {s}: not a host address of {net}")));
        }
        Ok((addr, net))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// The first host address: the gateway unless the user names another.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The next free host address of `range` (the pool a network hands out, inside its
/// subnet) after `last` (wrapping around), that is not `used`, the gateway, or the
/// subnet's network or broadcast address. Handing addresses out in turn rather than
/// lowest-first, as Docker does, keeps a just-released address (whose old interface may
/// still be in a namespace the kernel is tearing down) out of use for as long as possible.
pub fn next_free(subnet: &Subnet, range: &Subnet, gateway: Ipv4Addr, used: &HashSet<Ipv4Addr>, last: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    let lo = u32::from(range.addr).max(u32::from(subnet.addr) + 1);
    let hi = u32::from(range.broadcast()).min(u32::from(subnet.broadcast()).saturating_sub(1));
    if lo > hi {
        return None;
    }
    let start = match last.map(u32::from) {
        Some(l) if l >= lo && l < hi => l + 1,
        _ => lo,
    };
    let free = |n: u32| {
        let ip = Ipv4Addr::from(n);
        (ip != gateway && !used.contains(&ip)).then_some(ip)
    };
    (start..=hi).find_map(free).or_else(|| (lo..start).find_map(free))
}

/// Docker's MAC for an IPv4 endpoint: 02:42 followed by the address bytes.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<u8> = s.split(':').filter_map(|p| if p.len() == 2 { u8::from_str_radix(p, 16).ok() } else { None }).collect();
    if parts.len() != 6 || s.split(':').count() != 6 {
        return Err(Error::invalid(format!("invalid MAC address: {s}")));
    }
    if parts[0] & 1 == 1 {
        return Err(Error::invalid(format!("invalid MAC address: {s}: a multicast address")));
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&parts);
    Ok(mac)
}

/// Where new networks take their subnets from: a base network cut into subnets of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub base: Subnet,
    pub size: u8,
}

impl Pool {
    /// `--default-address-pool base=10.10.0.0/16,size=24`.
    pub fn parse(s: &str) -> Result<Pool> {
        let mut base = None;
        let mut size = None;
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("base", v)) => base = Some(Subnet::parse(v)?),
                Some(("size", v)) => size = v.parse::<u8>().ok(),
                _ => return Err(Error::invalid(format!("invalid address pool {s:?}: expected base=CIDR,size=N"))),
            }
        }
        match (base, size) {
            (Some(base), Some(size)) if size >= base.prefix && size <= 30 => Ok(Pool { base, size }),
            _ => Err(Error::invalid(format!("invalid address pool {s:?}: expected base=CIDR,size=N with N between the base's prefix and 30"))),
        }
    }

    fn subnets(&self) -> impl Iterator<Item = Subnet> + '_ {
        let step = 1u64 << (32 - self.size as u32);
        let count = 1u64 << (self.size - self.base.prefix) as u32;
        (0..count).map(move |i| Subnet { addr: Ipv4Addr::from((u32::from(self.base.addr) as u64 + i * step) as u32), prefix: self.size })
    }
}

/// Docker's default pools: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20.
pub fn default_pools() -> Vec<Pool> {
    let mut v: Vec<Pool> = (17..=31).map(|b| Pool { base: Subnet { addr: Ipv4Addr::new(172, b, 0, 0), prefix: 16 }, size: 16 }).collect();
    v.push(Pool { base: Subnet { addr: Ipv4Addr::new(192, 168, 0, 0), prefix: 16 }, size: 20 });
    v
}

/// The first subnet of the pools that overlaps nothing in `in_use` (the host's routes and
/// this daemon's networks).
pub fn choose_subnet(pools: &[Pool], in_use: &[Subnet]) -> Option<Subnet> {
    pools.iter().flat_map(|p| p.subnets()).find(|s| !in_use.iter().any(|u| u.overlaps(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_like_docker() {
        let s = Subnet::parse("172.18.0.0/16").unwrap();
        assert_eq!(s.to_string(), "172.18.0.0/16");
        assert_eq!(s.first_host(), ip("172.18.0.1"));
        assert_eq!(s.broadcast(), ip("172.18.255.255"));
        assert_eq!(Subnet::parse("172.18.0.1/16").unwrap_err().message, "invalid subnet 172.18.0.1/16: it should be 172.18.0.0/16");
        assert!(Subnet::parse("172.18.0.0").is_err());
        assert!(Subnet::parse("172.18.0.0/33").is_err());
        assert!(Subnet::parse("fd00::/64").is_err());
        let (gw, net) = Subnet::parse_host("10.9.0.1/24").unwrap();
        assert_eq!((gw, net.to_string()), (ip("10.9.0.1"), "10.9.0.0/24".to_string()));
        assert!(Subnet::parse_host("10.9.0.0/24").is_err());
        assert!(Subnet::parse_host("10.9.0.255/24").is_err());
    }

    #[test]
    fn overlap_and_contains() {
        let a = Subnet::parse("10.0.0.0/8").unwrap();
        let b = Subnet::parse("10.1.2.0/24").unwrap();
        let c = Subnet::parse("11.0.0.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains(ip("10.200.0.1")) && !b.contains(ip("10.1.3.1")));
        let any = Subnet::parse("0.0.0.0/0").unwrap();
        assert!(any.overlaps(&c), "a default route overlaps everything");
    }

    #[test]
    fn next_free_skips_network_gateway_broadcast_and_used() {
        let s = Subnet::parse("10.0.0.0/30").unwrap();
        let gw = s.first_host();
        let mut used = HashSet::new();
        assert_eq!(next_free(&s, &s, gw, &used, None), Some(ip("10.0.0.2")));
        used.insert(ip("10.0.0.2"));
        assert_eq!(next_free(&s, &s, gw, &used, None), None, "only .1 (gateway) and .2 are hosts");
        let big = Subnet::parse("10.0.0.0/24").unwrap();
        let range = Subnet::parse("10.0.0.128/25").unwrap();
        assert_eq!(next_free(&big, &range, gw, &HashSet::new(), None), Some(ip("10.0.0.128")));
        let full: HashSet<Ipv4Addr> = (128..=254).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect();
        assert_eq!(next_free(&big, &range, gw, &full, None), None, "the broadcast address is never handed out");
    }

    #[test]
    fn addresses_are_handed_out_in_turn() {
        let s = Subnet::parse("10.0.0.0/29").unwrap(); // hosts .1-.6, gateway .1
        let gw = s.first_host();
        let none = HashSet::new();
        assert_eq!(next_free(&s, &s, gw, &none, Some(ip("10.0.0.3"))), Some(ip("10.0.0.4")));
        // After the last host it wraps to the first free one.
        assert_eq!(next_free(&s, &s, gw, &none, Some(ip("10.0.0.6"))), Some(ip("10.0.0.2")));
        let used: HashSet<Ipv4Addr> = [ip("10.0.0.5"), ip("10.0.0.6")].into();
        assert_eq!(next_free(&s, &s, gw, &used, Some(ip("10.0.0.4"))), Some(ip("10.0.0.2")));
        // A `last` outside the range is ignored.
        assert_eq!(next_free(&s, &s, gw, &none, Some(ip("192.168.0.1"))), Some(ip("10.0.0.2")));
    }

    #[test]
    fn macs_follow_docker() {
        assert_eq!(format_mac(&mac_of(ip("172.17.0.2"))), "02:42:ac:11:00:02");
        assert_eq!(parse_mac("02:42:ac:11:00:02").unwrap(), mac_of(ip("172.17.0.2")));
        assert!(parse_mac("01:00:00:00:00:00").is_err());
        assert!(parse_mac("02:42:ac:11:00").is_err());
        assert!(parse_mac("02:42:ac:11:00:0g").is_err());
    }

    #[test]
    fn subnets_come_from_the_pools_avoiding_what_is_in_use() {
        let pools = default_pools();
        assert_eq!(choose_subnet(&pools, &[]).unwrap().to_string(), "172.17.0.0/16");
        let used = [Subnet::parse("172.17.0.0/16").unwrap(), Subnet::parse("172.18.5.0/24").unwrap()];
        assert_eq!(choose_subnet(&pools, &used).unwrap().to_string(), "172.19.0.0/16");
        let all172 = [Subnet::parse("172.16.0.0/12").unwrap()];
        assert_eq!(choose_subnet(&pools, &all172).unwrap().to_string(), "192.168.0.0/20");
        let p = Pool::parse("base=10.10.0.0/16,size=24").unwrap();
        assert_eq!(choose_subnet(&[p], &[Subnet::parse("10.10.0.0/24").unwrap()]).unwrap().to_string(), "10.10.1.0/24");
        assert!(Pool::parse("base=10.10.0.0/16,size=8").is_err());
        assert!(Pool::parse("10.10.0.0/16").is_err());
        assert!(choose_subnet(&pools, &[Subnet::parse("0.0.0.0/0").unwrap()]).is_none());
    }
}
