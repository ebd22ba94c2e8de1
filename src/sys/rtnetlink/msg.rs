//! The rtnetlink requests berth sends, built as data (one pure function per message) so
//! their bytes can be compared with what iproute2 sends for the same command, and the
//! parsers for the kernel's answers to dumps. Nothing here touches a socket.
//!
//! Layouts follow include/uapi/linux/rtnetlink.h (struct ifinfomsg, struct rtmsg) and
//! include/uapi/linux/if_addr.h (struct ifaddrmsg); headers are written field by field in
//! native byte order, addresses in network byte order, as the kernel reads them.

use super::{check_name, Link, Route4};
use crate::error::{Error, Result};
use crate::sys::netlink::{self, Message, NLA_F_NESTED, NLM_F_CREATE, NLM_F_EXCL};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// include/uapi/linux/if_link.h, enum IFLA_BRPORT_*: a bridge port's hairpin mode (the
/// bridge may send a frame back out of the port it came in on).
pub(super) const IFLA_BRPORT_MODE: u16 = 4;
/// include/uapi/linux/veth.h, enum VETH_INFO_*: the peer's ifinfomsg and attributes.
const VETH_INFO_PEER: u16 = 1;

/// RTEXT_FILTER_SKIP_STATS in IFLA_EXT_MASK: berth reads no counters, so the kernel need
/// not send them. iproute2 also sets RTEXT_FILTER_VF; berth leaves it out on purpose,
/// because the per-VF list of an SR-IOV card is what once made link messages outgrow the
/// dump buffer, and berth has no use for it.
const EXT_MASK: u32 = libc::RTEXT_FILTER_SKIP_STATS as u32;

fn check_prefix(prefix: u8) -> Result<()> {
    if prefix > 32 {
        return Err(Error::invalid(format!("IPv4 prefix length {prefix} is invalid: at most 32")));
    }
    Ok(())
}

/// struct ifinfomsg: family, pad, type (0: any), index, flags, change mask.
fn ifinfomsg(family: u8, index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// struct ifaddrmsg for AF_INET: family, prefix length, flags, scope (universe), index.
fn ifaddrmsg(index: u32, prefix: u8) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = libc::AF_INET as u8;
    h[1] = prefix;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// struct rtmsg for AF_INET: family, dst_len, src_len, tos, table, protocol, scope, type,
/// then a u32 of flags.
fn rtmsg(dst_len: u8, table: u8, protocol: u8, scope: u8, ty: u8) -> [u8; 12] {
    [libc::AF_INET as u8, dst_len, 0, 0, table, protocol, scope, ty, 0, 0, 0, 0]
}

/// `ip link add NAME type bridge`.
pub fn new_bridge(name: &str) -> Result<Message> {
    check_name(name)?;
    let mut m = Message::new(libc::RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    m.raw(&ifinfomsg(0, 0, 0, 0)).attr_str(libc::IFLA_IFNAME, name);
    // The kind goes without a NUL, as iproute2 sends it; the kernel copies it with
    // nla_strscpy, which takes either.
    m.nest(libc::IFLA_LINKINFO).attr(libc::IFLA_INFO_KIND, b"bridge").end_nest();
    Ok(m)
}

/// `ip link add NAME [master M] type veth peer name PEER [netns FILE]`: the peer's own
/// ifinfomsg and attributes sit in VETH_INFO_PEER. IFLA_NET_NS_FD there makes veth_newlink
/// (drivers/net/veth.c) create the peer in that namespace while the first end stays here,
/// so the peer never shows up in the caller's namespace and needs no move afterwards.
pub fn new_veth(
    name: &str,
    peer: &str,
    peer_netns: Option<BorrowedFd<'_>>,
    master: Option<u32>,
) -> Result<Message> {
    check_name(name)?;
    check_name(peer)?;
    let mut m = Message::new(libc::RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    m.raw(&ifinfomsg(0, 0, 0, 0));
    if let Some(master) = master {
        m.attr_u32(libc::IFLA_MASTER, master);
    }
    m.attr_str(libc::IFLA_IFNAME, name);
    m.nest(libc::IFLA_LINKINFO).attr(libc::IFLA_INFO_KIND, b"veth");
    m.nest(libc::IFLA_INFO_DATA).nest(VETH_INFO_PEER).raw(&ifinfomsg(0, 0, 0, 0));
    if let Some(ns) = peer_netns {
        m.attr_u32(libc::IFLA_NET_NS_FD, ns.as_raw_fd() as u32);
    }
    m.attr_str(libc::IFLA_IFNAME, peer);
    m.end_nest().end_nest().end_nest();
    Ok(m)
}

/// Deletes a link by name. iproute2 first looks the name up and deletes by index; the
/// kernel's rtnl_dellink takes IFLA_IFNAME as well, which saves the round trip and the
/// window in which the index could go stale.
pub fn del_link(name: &str) -> Result<Message> {
    check_name(name)?;
    let mut m = Message::new(libc::RTM_DELLINK, 0);
    m.raw(&ifinfomsg(0, 0, 0, 0)).attr_str(libc::IFLA_IFNAME, name);
    Ok(m)
}

/// One link by name, as iproute2 resolves a name (its IFLA_EXT_MASK aside, see EXT_MASK).
pub fn get_link(name: &str) -> Result<Message> {
    check_name(name)?;
    let mut m = Message::new(libc::RTM_GETLINK, 0);
    m.raw(&ifinfomsg(0, 0, 0, 0))
        .attr_u32(libc::IFLA_EXT_MASK, EXT_MASK)
        .attr_str(libc::IFLA_IFNAME, name);
    Ok(m)
}

/// All links. iproute2 asks with family AF_PACKET, which registers no RTM_GETLINK handler
/// of its own, so the kernel answers with AF_UNSPEC's; berth says AF_UNSPEC.
pub fn dump_links() -> Message {
    let mut m = Message::new(libc::RTM_GETLINK, 0);
    m.raw(&ifinfomsg(0, 0, 0, 0)).attr_u32(libc::IFLA_EXT_MASK, EXT_MASK);
    m
}

/// A change to an existing link: RTM_NEWLINK without NLM_F_CREATE, as iproute2's
/// `ip link set` sends it.
fn change_link(index: u32, flags: u32, change: u32) -> Message {
    let mut m = Message::new(libc::RTM_NEWLINK, 0);
    m.raw(&ifinfomsg(0, index, flags, change));
    m
}

/// `ip link set dev X up`: IFF_UP in both the flags and the change mask.
pub fn set_up(index: u32) -> Message {
    let up = libc::IFF_UP as u32;
    change_link(index, up, up)
}

#[cfg(test)]
/// `ip link set dev X master M`.
pub fn set_master(index: u32, master: u32) -> Message {
    let mut m = change_link(index, 0, 0);
    m.attr_u32(libc::IFLA_MASTER, master);
    m
}

/// `ip link set dev X address MAC`.
pub fn set_mac(index: u32, mac: [u8; 6]) -> Message {
    let mut m = change_link(index, 0, 0);
    m.attr(libc::IFLA_ADDRESS, &mac);
    m
}

/// `ip link set dev X mtu N`.
pub fn set_mtu(index: u32, mtu: u32) -> Message {
    let mut m = change_link(index, 0, 0);
    m.attr_u32(libc::IFLA_MTU, mtu);
    m
}

#[cfg(test)]
/// `ip link set dev X name NAME`.
pub fn rename(index: u32, name: &str) -> Result<Message> {
    check_name(name)?;
    let mut m = change_link(index, 0, 0);
    m.attr_str(libc::IFLA_IFNAME, name);
    Ok(m)
}

/// `bridge link set dev X hairpin on|off`: RTM_SETLINK for family AF_BRIDGE, handled by
/// the bridge's own br_setlink, with the port flags nested in IFLA_PROTINFO. NLA_F_NESTED
/// is required there: without it br_setlink reads IFLA_PROTINFO as the old single-byte
/// port state. (`ip link set dev X type bridge_slave hairpin on` reaches the same flag
/// through IFLA_LINKINFO/IFLA_INFO_SLAVE_DATA; berth uses the AF_BRIDGE form, which is
/// also the one Docker's netlink library sends.)
pub fn set_hairpin(index: u32, on: bool) -> Message {
    let mut m = Message::new(libc::RTM_SETLINK, 0);
    m.raw(&ifinfomsg(libc::AF_BRIDGE as u8, index, 0, 0));
    m.nest(libc::IFLA_PROTINFO | NLA_F_NESTED).attr_u8(IFLA_BRPORT_MODE, on as u8).end_nest();
    m
}

/// The subnet's broadcast address, as `ip addr add ... brd +` computes it: only for
/// prefixes up to /30, because a /31 (RFC 3021) or /32 has no broadcast address.
fn broadcast(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix <= 30).then(|| Ipv4Addr::from(u32::from(addr) | (u32::MAX >> prefix)))
}

/// `ip addr add A/P brd + dev X`: IFA_LOCAL and IFA_ADDRESS both A (no peer), scope
/// universe. The broadcast address is set because Docker sets it too (its netlink library
/// fills it in for IPv4), so `ip addr` in a berth container shows the same "brd" line as in
/// a Docker one, and programs that read the interface's broadcast address
/// (SIOCGIFBRDADDR, e.g. DHCP or service discovery) find one.
pub fn add_addr4(index: u32, addr: Ipv4Addr, prefix: u8) -> Result<Message> {
    check_prefix(prefix)?;
    let mut m = Message::new(libc::RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    m.raw(&ifaddrmsg(index, prefix))
        .attr(libc::IFA_LOCAL, &addr.octets())
        .attr(libc::IFA_ADDRESS, &addr.octets());
    if let Some(brd) = broadcast(addr, prefix) {
        m.attr(libc::IFA_BROADCAST, &brd.octets());
    }
    Ok(m)
}

#[cfg(test)]
/// `ip addr del A/P dev X`.
pub fn del_addr4(index: u32, addr: Ipv4Addr, prefix: u8) -> Result<Message> {
    check_prefix(prefix)?;
    let mut m = Message::new(libc::RTM_DELADDR, 0);
    m.raw(&ifaddrmsg(index, prefix))
        .attr(libc::IFA_LOCAL, &addr.octets())
        .attr(libc::IFA_ADDRESS, &addr.octets());
    Ok(m)
}

/// All IPv4 addresses (`ip -4 addr show`).
pub fn dump_addrs4() -> Message {
    let mut m = Message::new(libc::RTM_GETADDR, 0);
    m.raw(&ifaddrmsg(0, 0));
    m
}

/// `ip route add DST/P [via GW] [dev X]`: main table, protocol boot, unicast; scope link
/// when there is no gateway (the destination is on the link), else universe. RTA_DST is
/// left out for a default route (dst_len 0 says it all), as iproute2 does.
pub fn add_route4(
    dst: Ipv4Addr,
    prefix: u8,
    gateway: Option<Ipv4Addr>,
    oif: Option<u32>,
) -> Result<Message> {
    check_prefix(prefix)?;
    if gateway.is_none() && oif.is_none() {
        return Err(Error::invalid(format!("route to {dst}/{prefix} needs a gateway or an interface")));
    }
    let scope = if gateway.is_some() { libc::RT_SCOPE_UNIVERSE } else { libc::RT_SCOPE_LINK };
    let mut m = Message::new(libc::RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    m.raw(&rtmsg(prefix, libc::RT_TABLE_MAIN, libc::RTPROT_BOOT, scope, libc::RTN_UNICAST));
    if prefix > 0 {
        m.attr(libc::RTA_DST, &dst.octets());
    }
    if let Some(gw) = gateway {
        m.attr(libc::RTA_GATEWAY, &gw.octets());
    }
    if let Some(oif) = oif {
        m.attr_u32(libc::RTA_OIF, oif);
    }
    Ok(m)
}

/// IPv4 routes of every table (`ip -4 route show table all`): table 0 in the request
/// filters nothing.
pub fn dump_routes4() -> Message {
    let mut m = Message::new(libc::RTM_GETROUTE, 0);
    m.raw(&rtmsg(0, 0, 0, 0, 0));
    m
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|d| u32::from_ne_bytes([d[0], d[1], d[2], d[3]]))
}

fn ipv4(d: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(d).ok().map(Ipv4Addr::from)
}

/// A link from an RTM_NEWLINK payload; None when it is too short to be one.
pub fn parse_link(payload: &[u8]) -> Option<Link> {
    let index = u32_at(payload, 4)?;
    let flags = u32_at(payload, 8)?;
    let attrs = payload.get(16..)?;
    Some(Link {
        index,
        name: netlink::attr_str(attrs, libc::IFLA_IFNAME)?,
        kind: netlink::attr(attrs, libc::IFLA_LINKINFO)
            .and_then(|info| netlink::attr_str(info, libc::IFLA_INFO_KIND)),
        master: netlink::attr_u32(attrs, libc::IFLA_MASTER).filter(|m| *m != 0),
        up: flags & libc::IFF_UP as u32 != 0,
        mac: netlink::attr(attrs, libc::IFLA_ADDRESS).and_then(|d| <[u8; 6]>::try_from(d).ok()),
        mtu: netlink::attr_u32(attrs, libc::IFLA_MTU).unwrap_or(0),
    })
}

/// (index, address, prefix) from an RTM_NEWADDR payload of family AF_INET. IFA_LOCAL is
/// the interface's own address; IFA_ADDRESS is the peer's on point-to-point links, so it
/// is only the fallback.
pub fn parse_addr4(payload: &[u8]) -> Option<(u32, Ipv4Addr, u8)> {
    if *payload.first()? != libc::AF_INET as u8 {
        return None;
    }
    let prefix = *payload.get(1)?;
    let index = u32_at(payload, 4)?;
    let attrs = payload.get(8..)?;
    let addr = netlink::attr(attrs, libc::IFA_LOCAL).or_else(|| netlink::attr(attrs, libc::IFA_ADDRESS))?;
    Some((index, ipv4(addr)?, prefix))
}

/// A route from an RTM_NEWROUTE payload of family AF_INET. RTA_TABLE, when present, holds
/// the full table id (rtm_table is only 8 bits).
pub fn parse_route4(payload: &[u8]) -> Option<Route4> {
    let h = payload.get(..12)?;
    if h[0] != libc::AF_INET as u8 {
        return None;
    }
    let attrs = &payload[12..];
    Some(Route4 {
        dst: netlink::attr(attrs, libc::RTA_DST).and_then(ipv4).unwrap_or(Ipv4Addr::UNSPECIFIED),
        prefix: h[1],
        gateway: netlink::attr(attrs, libc::RTA_GATEWAY).and_then(ipv4),
        oif: netlink::attr_u32(attrs, libc::RTA_OIF),
        table: netlink::attr_u32(attrs, libc::RTA_TABLE).unwrap_or(h[4] as u32),
    })
}

#[cfg(test)]
mod tests;
