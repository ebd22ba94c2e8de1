//! Links, IPv4 addresses and routes over raw NETLINK_ROUTE (rtnetlink(7)): what the network
//! driver needs to build a bridge per network and a veth pair per container without ever
//! running `ip`. Each request is built as data in msg.rs (and tested there byte for byte
//! against iproute2); `Rtnl` only sends them on a netlink socket and parses the answers.
//! Policy (which names, which subnets, undo on failure) belongs to the driver, not here.
//!
//! A socket acts in the network namespace it was opened in: `Rtnl::open_in` reaches a
//! container's namespace without moving any daemon thread.


mod msg;

use crate::error::{Error, Result};
use crate::sys::netlink::{self, Protocol, Socket};
use std::net::Ipv4Addr;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// A network interface as an RTM_GETLINK answer describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The interface index (ifi_index), unique within its network namespace.
    pub index: u32,
    /// IFLA_IFNAME.
    pub name: String,
    /// IFLA_INFO_KIND: "bridge", "veth", ...; None for a physical device or lo.
    pub kind: Option<String>,
    /// IFLA_MASTER: the index of the bridge (or bond) this link is a port of.
    pub master: Option<u32>,
    /// IFF_UP: administratively up (carrier aside).
    pub up: bool,
    /// IFLA_ADDRESS when it is an Ethernet (6-byte) address.
    pub mac: Option<[u8; 6]>,
    /// IFLA_MTU.
    pub mtu: u32,
}

/// An IPv4 route as an RTM_GETROUTE dump describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Route4 {
    /// Destination network; 0.0.0.0 for a default route.
    pub dst: Ipv4Addr,
    /// Destination prefix length; 0 for a default route.
    pub prefix: u8,
    /// RTA_GATEWAY, when the route goes through a router.
    pub gateway: Option<Ipv4Addr>,
    /// RTA_OIF: the output interface's index (None for a multipath route).
    pub oif: Option<u32>,
    /// Routing table id: 254 main, 255 local, ...
    pub table: u32,
}

/// IFNAMSIZ (include/uapi/linux/if.h) less the terminating NUL.
const IFNAME_MAX: usize = libc::IFNAMSIZ - 1;

/// Refuses interface names the kernel would (dev_valid_name in net/core/dev.c): empty,
/// longer than 15 bytes, "." or "..", or containing '/', ':', NUL or a byte the kernel's
/// isspace() accepts. Checked before sending so the error names the argument rather than
/// an errno.
pub fn check_name(name: &str) -> Result<()> {
    // lib/ctype.c: besides ASCII whitespace (\t \n \v \f \r and space), 0xa0 (Latin-1
    // no-break space), which a UTF-8 name can contain as a continuation byte.
    let space = |b: u8| matches!(b, b' ' | b'\t'..=b'\r' | 0xa0);
    let bad = name.is_empty()
        || name.len() > IFNAME_MAX
        || name == "."
        || name == ".."
        || name.bytes().any(|b| b == b'/' || b == b':' || b == 0 || space(b));
    if bad {
        return Err(Error::invalid(format!(
            "interface name {name:?} is invalid: 1 to {IFNAME_MAX} bytes, not \".\" or \"..\", \
             without '/', ':' or whitespace"
        )));
    }
    Ok(())
}

/// An rtnetlink socket in one network namespace.
pub struct Rtnl {
    sock: Socket,
}

impl Rtnl {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Rtnl> {
        Ok(Rtnl { sock: Socket::open(Protocol::Route)? })
    }

    /// A socket in the network namespace at `netns` (e.g. /proc/PID/ns/net); every request
    /// on it acts there.
    pub fn open_in(netns: &Path) -> Result<Rtnl> {
        Ok(Rtnl { sock: Socket::open_in(Protocol::Route, netns)? })
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let answers = self.sock.dump(msg::dump_links(), "list links")?;
        Ok(answers.iter().filter_map(|p| msg::parse_link(p)).collect())
    }

    /// The link called `name`; Ok(None) when there is none (an invalid name is an error).
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let what = format!("get link {name}");
        match self.sock.get(msg::get_link(name)?, &what) {
            Ok(answer) => Ok(msg::parse_link(&answer)),
            Err(e) if netlink::is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates bridge `name` (down, no address). An existing link of that name fails with
    /// Kind::Conflict.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        self.sock.request(msg::new_bridge(name)?, &format!("add bridge {name}"))
    }

    /// Creates the veth pair `name` <-> `peer`. The peer is created directly in the
    /// namespace of `peer_netns` (an open namespace file such as /proc/PID/ns/net) when
    /// given, else next to `name`; `name` stays here, enslaved to the bridge with index
    /// `master` when given. Both ends start down. The kernel resolves `peer_netns` while
    /// handling the request, so the file need only stay open for the call.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<BorrowedFd<'_>>,
        master: Option<u32>,
    ) -> Result<()> {
        let m = msg::new_veth(name, peer, peer_netns, master)?;
        self.sock.request(m, &format!("add veth pair {name} <-> {peer}"))
    }

    /// Deletes link `name` (for a veth, both ends go). A missing link fails with
    /// Kind::NotFound.
    pub fn del_link(&mut self, name: &str) -> Result<()> {
        self.sock.request(msg::del_link(name)?, &format!("delete link {name}"))
    }

    /// Brings link `index` up (IFF_UP).
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.sock.request(msg::set_up(index), &format!("bring link {index} up"))
    }

    #[cfg(test)]
    /// Makes link `index` a port of the bridge with index `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        let what = format!("set master of link {index} to link {master}");
        self.sock.request(msg::set_master(index, master), &what)
    }

    /// Sets the hardware address of link `index`.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<()> {
        let text = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        self.sock.request(msg::set_mac(index, mac), &format!("set address of link {index} to {text}"))
    }

    /// Sets the MTU of link `index`.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.sock.request(msg::set_mtu(index, mtu), &format!("set mtu of link {index} to {mtu}"))
    }

    #[cfg(test)]
    /// Renames link `index` to `name`; the kernel refuses while the link is up.
    pub fn rename(&mut self, index: u32, name: &str) -> Result<()> {
        self.sock.request(msg::rename(index, name)?, &format!("rename link {index} to {name}"))
    }

    /// Turns hairpin mode of bridge port `index` on or off, so the bridge may send a frame
    /// back out of the port it came from (a container reaching itself through a published
    /// port).
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<()> {
        let state = if on { "on" } else { "off" };
        let what = format!("turn hairpin {state} for bridge port {index}");
        self.sock.request(msg::set_hairpin(index, on), &what)
    }

    /// Adds `addr`/`prefix` to link `index`, with the subnet's broadcast address; the
    /// kernel adds the subnet's route itself. An address already there fails with
    /// Kind::Conflict.
    pub fn add_addr4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let m = msg::add_addr4(index, addr, prefix)?;
        self.sock.request(m, &format!("add address {addr}/{prefix} to link {index}"))
    }

    /// Every IPv4 address of the namespace as (link index, address, prefix length).
    pub fn addrs4(&mut self) -> Result<Vec<(u32, Ipv4Addr, u8)>> {
        let answers = self.sock.dump(msg::dump_addrs4(), "list ipv4 addresses")?;
        Ok(answers.iter().filter_map(|p| msg::parse_addr4(p)).collect())
    }

    #[cfg(test)]
    /// Removes `addr`/`prefix` from link `index`.
    pub fn del_addr4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let m = msg::del_addr4(index, addr, prefix)?;
        self.sock.request(m, &format!("delete address {addr}/{prefix} from link {index}"))
    }

    /// Adds a route to `dst`/`prefix` in the main table, through `gateway` and/or out of
    /// link `oif` (at least one of them). 0.0.0.0/0 is the default route.
    pub fn add_route4(
        &mut self,
        dst: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> Result<()> {
        let m = msg::add_route4(dst, prefix, gateway, oif)?;
        let mut what = match prefix {
            0 => "add default route".to_string(),
            _ => format!("add route to {dst}/{prefix}"),
        };
        if let Some(gw) = gateway {
            what.push_str(&format!(" via {gw}"));
        }
        if let Some(oif) = oif {
            what.push_str(&format!(" out of link {oif}"));
        }
        self.sock.request(m, &what)
    }

    /// Every IPv4 route of every table, the local table's local and broadcast entries
    /// included, so callers see each subnet and address in use.
    pub fn routes4(&mut self) -> Result<Vec<Route4>> {
        let answers = self.sock.dump(msg::dump_routes4(), "list ipv4 routes")?;
        Ok(answers.iter().filter_map(|p| msg::parse_route4(p)).collect())
    }
}

#[cfg(test)]
mod tests;
