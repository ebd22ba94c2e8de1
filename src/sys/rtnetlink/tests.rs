//! Root tests of `Rtnl` against the real kernel. Each runs on a thread of its own that
//! first unshares its network namespace (a namespace is per thread), so nothing reaches
//! the host's interfaces and the kernel removes every link, address and route the test
//! made when the thread and the namespace files it opened are gone. Without root they say
//! so and skip; the request bytes are tested without root in msg/tests.rs.

use super::*;
use crate::error::Kind;
use crate::sys::netlink::{Message, Socket};
use crate::testutil::is_root;
use nix::sched::{unshare, CloneFlags};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

/// Runs `f` on a new thread inside a new, empty network namespace; panics propagate.
fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Another new network namespace, alive while the returned file is open.
fn another_netns() -> File {
    in_new_netns(|| File::open("/proc/thread-self/ns/net").expect("open /proc/thread-self/ns/net"))
}

/// A path that opens the namespace `ns` refers to, for `Rtnl::open_in`.
fn path_of(ns: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", ns.as_raw_fd()))
}

fn find<'a>(links: &'a [Link], name: &str) -> &'a Link {
    links.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no link {name} in {links:?}"))
}

/// The hairpin flag of bridge port `index`, read back from an AF_BRIDGE link dump (the
/// bridge reports its ports' flags in IFLA_PROTINFO), in the caller's namespace.
fn hairpin_of(index: u32) -> Option<bool> {
    let mut sock = Socket::open(netlink::Protocol::Route).unwrap();
    let mut m = Message::new(libc::RTM_GETLINK, 0);
    let mut h = [0u8; 16];
    h[0] = libc::AF_BRIDGE as u8;
    m.raw(&h);
    let ports = sock.dump(m, "list bridge ports").unwrap();
    let port = ports.iter().find(|p| p.get(4..8) == Some(&index.to_ne_bytes()[..]))?;
    let info = netlink::attr(&port[16..], libc::IFLA_PROTINFO)?;
    netlink::attr(info, msg::IFLA_BRPORT_MODE).map(|mode| mode == [1])
}

#[test]
fn bridge_addresses_and_routes() {
    if !is_root("bridge_addresses_and_routes") {
        return;
    }
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        assert_eq!(rt.link("br-t0").unwrap(), None);
        rt.add_bridge("br-t0").unwrap();
        let br = rt.link("br-t0").unwrap().expect("the new bridge");
        assert_eq!((br.kind.as_deref(), br.up, br.master), (Some("bridge"), false, None));
        assert_eq!(find(&rt.links().unwrap(), "br-t0"), &br);
        assert!(find(&rt.links().unwrap(), "lo").kind.is_none());

        rt.set_mac(br.index, [0x02, 0x42, 0xac, 0x1f, 0, 1]).unwrap();
        rt.set_mtu(br.index, 1400).unwrap();
        rt.set_up(br.index).unwrap();
        let br = rt.link("br-t0").unwrap().unwrap();
        assert_eq!((br.up, br.mac, br.mtu), (true, Some([0x02, 0x42, 0xac, 0x1f, 0, 1]), 1400));

        let addr = Ipv4Addr::new(10, 77, 0, 1);
        rt.add_addr4(br.index, addr, 16).unwrap();
        assert!(rt.addrs4().unwrap().contains(&(br.index, addr, 16)));
        let e = rt.add_addr4(br.index, addr, 16).unwrap_err();
        assert_eq!(e.kind, Kind::Conflict, "{e}");
        assert!(e.message.starts_with("add address 10.77.0.1/16 to link"), "{e}");

        let net = Ipv4Addr::new(10, 78, 0, 0);
        rt.add_route4(net, 16, Some(Ipv4Addr::new(10, 77, 0, 254)), None).unwrap();
        rt.add_route4(Ipv4Addr::new(10, 79, 0, 0), 16, None, Some(br.index)).unwrap();
        let routes = rt.routes4().unwrap();
        let main = |dst: [u8; 4], prefix, gateway| Route4 {
            dst: Ipv4Addr::from(dst),
            prefix,
            gateway,
            oif: Some(br.index),
            table: libc::RT_TABLE_MAIN as u32,
        };
        // The kernel's own route for the address's subnet, then the two added.
        for want in [
            main([10, 77, 0, 0], 16, None),
            main([10, 78, 0, 0], 16, Some(Ipv4Addr::new(10, 77, 0, 254))),
            main([10, 79, 0, 0], 16, None),
        ] {
            assert!(routes.contains(&want), "{want:?} not in {routes:?}");
        }
        // The local table is listed too.
        assert!(routes.iter().any(|r| r.table == libc::RT_TABLE_LOCAL as u32 && r.dst == addr));

        rt.del_addr4(br.index, addr, 16).unwrap();
        assert!(!rt.addrs4().unwrap().iter().any(|a| a.1 == addr));
        assert!(!rt.routes4().unwrap().iter().any(|r| r.dst == net), "routes via the address go with it");

        // A pair with both ends here, one end enslaved after the fact.
        rt.add_veth("va-t0", "vb-t0", None, None).unwrap();
        let va = rt.link("va-t0").unwrap().unwrap();
        assert_eq!(va.master, None);
        assert_eq!(rt.link("vb-t0").unwrap().unwrap().kind.as_deref(), Some("veth"));
        rt.set_master(va.index, br.index).unwrap();
        assert_eq!(rt.link("va-t0").unwrap().unwrap().master, Some(br.index));

        rt.del_link("br-t0").unwrap();
        assert_eq!(rt.link("br-t0").unwrap(), None);
        assert_eq!(rt.link("va-t0").unwrap().unwrap().master, None, "a deleted bridge frees its ports");
    });
}

#[test]
fn errors_name_the_operation() {
    if !is_root("errors_name_the_operation") {
        return;
    }
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        rt.add_bridge("br-t2").unwrap();
        let e = rt.add_bridge("br-t2").unwrap_err();
        assert_eq!(e.kind, Kind::Conflict);
        assert!(e.message.starts_with("add bridge br-t2: file exists (EEXIST)"), "{e}");

        let e = rt.del_link("nope0").unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.message.starts_with("delete link nope0: no such device (ENODEV)"), "{e}");

        let e = rt.add_bridge("no/slash").unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument);
        assert!(rt.link("no/slash").is_err());
        assert_eq!(rt.link("nope0").unwrap(), None);

        // Hairpin is a bridge port's flag: the bridge itself has none to set.
        let br = rt.link("br-t2").unwrap().unwrap();
        let e = rt.set_hairpin(br.index, true).unwrap_err();
        assert!(e.message.starts_with(&format!("turn hairpin on for bridge port {}", br.index)), "{e}");
    });
}

#[test]
fn veth_peer_in_a_second_namespace() {
    if !is_root("veth_peer_in_a_second_namespace") {
        return;
    }
    in_new_netns(|| {
        let mut host = Rtnl::open().unwrap();
        host.add_bridge("br-t1").unwrap();
        let br = host.link("br-t1").unwrap().unwrap();
        host.set_up(br.index).unwrap();
        let gw = Ipv4Addr::new(10, 66, 0, 1);
        host.add_addr4(br.index, gw, 24).unwrap();

        let ns = another_netns();
        host.add_veth("veth-t1", "vpeer-t1", Some(ns.as_fd()), Some(br.index)).unwrap();
        let end = host.link("veth-t1").unwrap().expect("the host end");
        assert_eq!((end.kind.as_deref(), end.master), (Some("veth"), Some(br.index)));
        assert_eq!(host.link("vpeer-t1").unwrap(), None, "the peer went straight to the other netns");
        host.set_up(end.index).unwrap();
        host.set_hairpin(end.index, true).unwrap();
        assert_eq!(hairpin_of(end.index), Some(true));
        host.set_hairpin(end.index, false).unwrap();
        assert_eq!(hairpin_of(end.index), Some(false));

        let mut ctr = Rtnl::open_in(&path_of(&ns)).unwrap();
        let peer = ctr.link("vpeer-t1").unwrap().expect("the peer in the second netns");
        let mac = [0x02, 0x42, 0x0a, 0x42, 0x00, 0x02];
        ctr.rename(peer.index, "eth0").unwrap();
        ctr.set_mac(peer.index, mac).unwrap();
        ctr.set_mtu(peer.index, 1450).unwrap();
        let addr = Ipv4Addr::new(10, 66, 0, 2);
        ctr.add_addr4(peer.index, addr, 24).unwrap();
        ctr.set_up(peer.index).unwrap();
        ctr.add_route4(Ipv4Addr::UNSPECIFIED, 0, Some(gw), None).unwrap();

        let links = ctr.links().unwrap();
        let eth0 = find(&links, "eth0");
        assert_eq!(eth0.index, peer.index);
        let seen = (eth0.kind.as_deref(), eth0.up, eth0.mac, eth0.mtu);
        assert_eq!(seen, (Some("veth"), true, Some(mac), 1450));
        assert_eq!(links.len(), 2, "lo and eth0 only: {links:?}");
        assert_eq!(ctr.addrs4().unwrap(), vec![(peer.index, addr, 24)], "lo is down, so only eth0's");
        let default = Route4 {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
            gateway: Some(gw),
            oif: Some(peer.index),
            table: libc::RT_TABLE_MAIN as u32,
        };
        assert!(ctr.routes4().unwrap().contains(&default));

        // From the first namespace: the host end and the bridge's address, nothing of eth0.
        assert!(!host.links().unwrap().iter().any(|l| l.name == "eth0"));
        assert!(!host.addrs4().unwrap().iter().any(|a| a.1 == addr));
        assert!(!host.routes4().unwrap().iter().any(|r| r.prefix == 0));

        // Deleting one end removes the pair.
        host.del_link("veth-t1").unwrap();
        assert_eq!(ctr.link("eth0").unwrap(), None);
    });
}
