//! Byte-for-byte checks of every request against what iproute2 6.1 sends for the same
//! command. The hex strings were captured in a throwaway namespace with
//! `unshare -n sh -c 'strace -f -e trace=sendmsg,sendto -e write=all ip ...'` (x86_64,
//! so native byte order is little-endian); nlmsg_seq and nlmsg_pid differ per run and are
//! zeroed before comparing. Where berth deliberately sends something else, the expected
//! bytes are patched and the test says why.

use super::*;
use crate::sys::netlink::{NLM_F_ACK, NLM_F_DUMP};
use std::os::fd::AsFd;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The captured message with its sequence number and port id zeroed.
fn captured(s: &str) -> Vec<u8> {
    let mut b = unhex(s);
    assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize, b.len(), "capture length");
    b[8..16].fill(0);
    b
}

fn set_len(b: &mut [u8]) {
    let n = b.len() as u32;
    b[0..4].copy_from_slice(&n.to_ne_bytes());
}

/// Our message as `Socket::request` sends it (NLM_F_ACK added), with seq 0.
fn as_request(mut m: Message) -> Vec<u8> {
    m.add_flags(NLM_F_ACK);
    m.finish(0)
}

/// Our message as `Socket::dump` sends it.
fn as_dump(mut m: Message) -> Vec<u8> {
    m.add_flags(NLM_F_DUMP);
    m.finish(0)
}

#[track_caller]
fn assert_bytes(ours: Vec<u8>, expected: Vec<u8>) {
    assert_eq!(hex(&ours), hex(&expected));
}

#[test]
fn bridge_add() {
    // ip link add brtest0 type bridge
    let ip = "3c00000010000506be600b6b00000000000000000000000000000000000000000c000300627274657374\
              3000100012000a0001006272696467650000";
    assert_bytes(as_request(new_bridge("brtest0").unwrap()), captured(ip));
}

#[test]
fn veth_add() {
    // ip link add vtest0 type veth peer name vtest1
    let ip = "5c00000010000506be600b6b00000000000000000000000000000000000000000b0003007674657374\
              3000003000120008000100766574682400020020000100000000000000000000000000000000000b00\
              03007674657374310000";
    assert_bytes(as_request(new_veth("vtest0", "vtest1", None, None).unwrap()), captured(ip));
}

#[test]
fn veth_add_with_master() {
    // ip link add vtest4 master brtest0 type veth peer name vtest5 (brtest0 is index 2)
    let ip = "6400000010000506e7600b6b000000000000000000000000000000000000000008000a0002000000\
              0b00030076746573743400003000120008000100766574682400020020000100000000000000000000\
              000000000000000b0003007674657374350000";
    assert_bytes(as_request(new_veth("vtest4", "vtest5", None, Some(2)).unwrap()), captured(ip));
}

#[test]
fn veth_add_with_peer_in_another_netns() {
    // ip link add vtest2 type veth peer name vtest3 netns /proc/PID/ns/net: ip opened the
    // namespace file as fd 4. Any open fd serves here; its number replaces ip's.
    let ip = "6400000010000506bf600b6b00000000000000000000000000000000000000000b0003007674657374\
              3200003800120008000100766574682c000200280001000000000000000000000000000000000008001c\
              00040000000b0003007674657374330000";
    let file = std::fs::File::open("/dev/null").unwrap();
    let fd = file.as_fd();
    let mut expected = captured(ip);
    let at = hex(&expected).find("08001c00").unwrap() / 2 + 4;
    expected[at..at + 4].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
    assert_bytes(as_request(new_veth("vtest2", "vtest3", Some(fd), None).unwrap()), expected);
}

#[test]
fn link_changes() {
    // ip link set dev brtest0 up (index 2)
    let ip = "2000000010000500be600b6b0000000000000000020000000100000001000000";
    assert_bytes(as_request(set_up(2)), captured(ip));
    // ip link set dev vtest0 master brtest0 (4 into 2)
    let ip = "2800000010000500be600b6b000000000000000004000000000000000000000008000a0002000000";
    assert_bytes(as_request(set_master(4, 2)), captured(ip));
    // ip link set dev vtest0 address 02:42:ac:11:00:02
    let ip = "2c00000010000500bf600b6b00000000000000000400000000000000000000000a0001000242ac110002\
              0000";
    assert_bytes(as_request(set_mac(4, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02])), captured(ip));
    // ip link set dev vtest0 mtu 1400
    let ip = "2800000010000500be600b6b00000000000000000400000000000000000000000800040078050000";
    assert_bytes(as_request(set_mtu(4, 1400)), captured(ip));
    // ip link set dev vtest1 name eth0 (index 3)
    let ip = "2c00000010000500be600b6b0000000000000000030000000000000000000000090003006574683000\
              000000";
    assert_bytes(as_request(rename(3, "eth0").unwrap()), captured(ip));
}

#[test]
fn hairpin() {
    // `bridge link set dev vtest0 hairpin on|off`: the AF_BRIDGE/IFLA_PROTINFO form (see
    // set_hairpin for why not `ip link set ... type bridge_slave hairpin on`).
    let on = "2c00000013000500bf600b6b00000000070000000400000000000000000000000c000c8005000400\
              01000000";
    let off = "2c00000013000500bf600b6b00000000070000000400000000000000000000000c000c8005000400\
               00000000";
    assert_bytes(as_request(set_hairpin(4, true)), captured(on));
    assert_bytes(as_request(set_hairpin(4, false)), captured(off));
}

#[test]
fn link_delete_by_name() {
    // ip link del vtest0: ip resolves the name first (RTM_GETLINK with IFLA_IFNAME), then
    // deletes index 4. berth sends the name in the delete itself: the expected message is
    // ip's delete with index 0 plus the IFLA_IFNAME attribute of ip's lookup.
    let lookup = captured(
        "3400000012000100be600b6b000000000000000000000000000000000000000008001d00090000000b00\
         03007674657374300000",
    );
    let mut expected = captured("2000000011000500be600b6b0000000000000000040000000000000000000000");
    expected[20..24].fill(0);
    expected.extend_from_slice(&lookup[40..]);
    set_len(&mut expected);
    assert_bytes(as_request(del_link("vtest0").unwrap()), expected);
}

#[test]
fn link_get_and_dump() {
    // ip link show dev brtest0 (the lookup, sent without NLM_F_ACK): berth's IFLA_EXT_MASK is
    // RTEXT_FILTER_SKIP_STATS (8) where ip asks for RTEXT_FILTER_VF too (9); see EXT_MASK.
    let mut expected = captured(
        "3400000012000100be600b6b000000000000000000000000000000000000000008001d00090000000c00\
         03006272746573743000",
    );
    expected[36] = 8;
    assert_bytes(get_link("brtest0").unwrap().finish(0), expected);

    // ip link show: family AF_PACKET (17) and mask RTEXT_FILTER_VF in ip's; AF_UNSPEC and
    // RTEXT_FILTER_SKIP_STATS in berth's (see dump_links and EXT_MASK).
    let mut expected =
        captured("2800000012000103e7600b6b000000001100000000000000000000000000000008001d0001000000");
    expected[16] = 0;
    expected[36] = 8;
    assert_bytes(as_dump(dump_links()), expected);
}

#[test]
fn address_add_and_delete() {
    // ip addr add 10.89.0.1/16 brd + dev brtest0
    let ip = "3000000014000506be600b6b000000000210000002000000080002000a590001080001000a5900010800\
              04000a59ffff";
    let addr = Ipv4Addr::new(10, 89, 0, 1);
    let ours = as_request(add_addr4(2, addr, 16).unwrap());
    assert_bytes(ours.clone(), captured(ip));
    // ip addr add 10.89.0.1/16 dev brtest0 (no brd): the same without IFA_BROADCAST.
    let plain = "2800000014000506be600b6b000000000210000002000000080002000a590001080001000a590001";
    let mut cut = ours[..ours.len() - 8].to_vec();
    set_len(&mut cut);
    assert_bytes(cut, captured(plain));
    // ip addr del 10.89.0.1/16 dev brtest0
    let ip = "2800000015000500be600b6b000000000210000002000000080002000a590001080001000a590001";
    assert_bytes(as_request(del_addr4(2, addr, 16).unwrap()), captured(ip));
}

#[test]
fn broadcast_only_where_a_subnet_has_one() {
    let brd = |p| broadcast(Ipv4Addr::new(172, 18, 5, 9), p);
    assert_eq!(brd(16), Some(Ipv4Addr::new(172, 18, 255, 255)));
    assert_eq!(brd(30), Some(Ipv4Addr::new(172, 18, 5, 11)));
    assert_eq!(brd(0), Some(Ipv4Addr::BROADCAST));
    assert_eq!(brd(31), None);
    assert_eq!(brd(32), None);
    let m = add_addr4(1, Ipv4Addr::new(10, 0, 0, 1), 32).unwrap().finish(0);
    assert_eq!(m.len(), 16 + 8 + 8 + 8, "no IFA_BROADCAST for a /32");
}

#[test]
fn routes() {
    // ip route add default via 10.88.0.1
    let ip = "2400000018000506be600b6b0000000002000000fe03000100000000080005000a580001";
    let gw = Ipv4Addr::new(10, 88, 0, 1);
    assert_bytes(as_request(add_route4(Ipv4Addr::UNSPECIFIED, 0, Some(gw), None).unwrap()), captured(ip));
    // ip route add 10.99.0.0/16 dev brtest0 (index 2): scope link
    let ip = "2c00000018000506be600b6b0000000002100000fe03fd0100000000080001000a6300000800040002\
              000000";
    let dst = Ipv4Addr::new(10, 99, 0, 0);
    assert_bytes(as_request(add_route4(dst, 16, None, Some(2)).unwrap()), captured(ip));
    // ip route add 10.99.0.0/16 via 10.88.0.2 dev brtest0
    let ip = "3400000018000506e7600b6b0000000002100000fe03000100000000080001000a630000080005000a\
              5800020800040002000000";
    let gw = Ipv4Addr::new(10, 88, 0, 2);
    assert_bytes(as_request(add_route4(dst, 16, Some(gw), Some(2)).unwrap()), captured(ip));
}

#[test]
fn address_and_route_dumps() {
    // ip -4 addr show (its address dump; the link dump before it aside)
    let ip = "1800000016000103e8600b6b000000000200000000000000";
    assert_bytes(as_dump(dump_addrs4()), captured(ip));
    // ip -4 route show table all
    let ip = "1c0000001a000103e7600b6b00000000020000000000000000000000";
    assert_bytes(as_dump(dump_routes4()), captured(ip));
}

#[test]
fn bad_arguments_are_refused_before_sending() {
    let bad_names =
        ["", ".", "..", "a/b", "a b", "a\tb", "eth0:1", "a\0b", "a\x0bb", "à", "sixteen-bytes-xx"];
    for bad in bad_names {
        let e = new_bridge(bad).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::InvalidArgument, "{bad:?}");
        assert!(e.message.contains("interface name"), "{}", e.message);
    }
    for good in ["br0", "berth-0123456ab", "x", "...", "é"] {
        assert!(check_name(good).is_ok(), "{good:?}");
    }
    assert!(new_veth("ok0", "bad name", None, None).is_err());
    assert!(rename(1, "").is_err());
    assert!(del_link("..").is_err());
    assert!(get_link("a/b").is_err());
    assert!(add_addr4(1, Ipv4Addr::LOCALHOST, 33).is_err());
    assert!(add_route4(Ipv4Addr::UNSPECIFIED, 0, None, None).is_err());
}

/// A reply payload: the request's bytes after nlmsghdr (RTM_NEW* answers share the
/// request layout).
fn payload(m: Message) -> Vec<u8> {
    m.finish(0)[netlink::HEADER_LEN..].to_vec()
}

#[test]
fn answers_are_parsed() {
    let mut m = new_bridge("br7").unwrap();
    m.attr_u32(libc::IFLA_MTU, 1500)
        .attr_u32(libc::IFLA_MASTER, 3)
        .attr(libc::IFLA_ADDRESS, &[2, 0, 0, 0, 0, 9]);
    let mut p = payload(m);
    p[4..8].copy_from_slice(&7u32.to_ne_bytes());
    p[8..12].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    let link = parse_link(&p).unwrap();
    let want = Link {
        index: 7,
        name: "br7".into(),
        kind: Some("bridge".into()),
        master: Some(3),
        up: true,
        mac: Some([2, 0, 0, 0, 0, 9]),
        mtu: 1500,
    };
    assert_eq!(link, want);
    assert_eq!(parse_link(&p[..10]), None);

    let p = payload(add_addr4(5, Ipv4Addr::new(10, 1, 2, 3), 24).unwrap());
    assert_eq!(parse_addr4(&p), Some((5, Ipv4Addr::new(10, 1, 2, 3), 24)));

    let gw = Ipv4Addr::new(10, 1, 0, 1);
    let p = payload(add_route4(Ipv4Addr::UNSPECIFIED, 0, Some(gw), Some(5)).unwrap());
    let want =
        Route4 { dst: Ipv4Addr::UNSPECIFIED, prefix: 0, gateway: Some(gw), oif: Some(5), table: 254 };
    assert_eq!(parse_route4(&p), Some(want));
    let mut m = add_route4(Ipv4Addr::new(10, 2, 0, 0), 16, None, Some(5)).unwrap();
    m.attr_u32(libc::RTA_TABLE, 1000);
    let r = parse_route4(&payload(m)).unwrap();
    assert_eq!((r.dst, r.prefix, r.gateway, r.table), (Ipv4Addr::new(10, 2, 0, 0), 16, None, 1000));
    assert_eq!(parse_route4(&[2, 0, 0]), None);
}
