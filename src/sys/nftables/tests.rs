//! Byte-for-byte tests of the encoding against what nft 1.0.6 sent on this machine for the
//! same operations (see `testing` for how the bytes were captured and what is ignored).
//! berth's own ruleset is checked the same way in driver::network::firewall.

use super::testing::{assert_batch, split, unhex};
use super::*;

const X_IP: fn() -> Table = || Table { family: Family::Ip, name: "X".into() };

/// `nft -f` of:
///   add table ip T ; delete table ip T ; add table bridge T ; delete table bridge T
const DELETE_TABLES: &[&str] = &[
    "140000001000010000000000000000000000000a",
    "24000000000a010001000000000000000200000006000100540000000800020000000000",
    "1c000000020a01000200000000000000020000000600010054000000",
    "24000000000a010003000000000000000700000006000100540000000800020000000000",
    "1c000000020a01000400000000000000070000000600010054000000",
    "140000001100010005000000000000000000000a",
];

#[test]
fn tables_and_batch_markers_match_nft() {
    let mut b = Batch::new();
    for family in [Family::Ip, Family::Bridge] {
        let t = Table { family, name: "T".into() };
        b.add_table(&t);
        b.del_table(&t);
    }
    assert_batch(&b, DELETE_TABLES);
}

/// `nft -f` of (the last rule is refused by this kernel, see firewall's icc rule, but nft
/// sent it all the same):
///   add table inet X
///   add chain inet X c
///   add chain inet X d
///   add rule inet X c meta nfproto ipv4 goto d
///   add table ip X
///   add chain ip X c
///   add chain ip X n { type nat hook postrouting priority 100; }
///   add set ip X s { type ipv4_addr; }
///   add rule ip X c ct status dnat return
///   add rule ip X c ip daddr @s accept
///   add rule ip X n meta l4proto tcp snat ip to 10.0.0.1:5000
///   add rule ip X n meta l4proto udp dnat ip to 10.0.0.2
///   add table bridge X
///   add chain bridge X f { type filter hook forward priority 0; policy drop; }
///   add rule bridge X f meta ibrname "br0" meta obrname "br0" drop
const EXPRESSIONS: &[&str] = &[
    "140000001000010000000000000000000000000a",
    "24000000000a010001000000000000000100000006000100580000000800020000000000",
    "24000000030a010402000000000000000100000006000100580000000600030063000000",
    "24000000030a010403000000000000000100000006000100580000000600030064000000",
    "b0000000060a010c040000000000000001000000060001005800000006000200630000008c00048024000180090001006d6574610000000014000280080002000000000f08000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800500010002000000380001800e000100696d6d656469617465000000240002800800010000000000180002801400028008000100fffffffc0600020064000000",
    "24000000000a010005000000000000000200000006000100580000000800020000000000",
    "24000000030a010406000000000000000200000006000100580000000600030063000000",
    "40000000030a01040700000000000000020000000600010058000000060003006e000000080007006e6174001400048008000100000000040800020000000064",
    "50000000090a01040800000000000000020000000600010058000000060002007300000008000300000000000800040000000007080005000000000408000a00000000010a000d000004020000000000",
    "e8000000060a010c09000000000000000200000006000100580000000600020063000000c40004802000018007000100637400001400028008000200000000020800010000000001440001800c0001006269747769736500340002800800010000000001080002000000000108000300000000040c00048008000100200000000c00058008000100000000002c00018008000100636d700020000280080001000000000108000200000000010c0003800800010000000000300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c00028008000100fffffffb",
    "b8000000060a010c0a00000000000000020000000600010058000000060002006300000094000480340001800c0001007061796c6f6164002400028008000100000000010800020000000001080003000000001008000400000000042c0001800b0001006c6f6f6b757000001c000280080002000000000106000100730000000800040000000001300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c0002800800010000000001",
    "08010000060a010c0b00000000000000020000000600010058000000060002006e000000e400048024000180090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200000000000c00038005000100060000002c0001800e000100696d6d6564696174650000001800028008000100000000010c000280080001000a0000012c0001800e000100696d6d6564696174650000001800028008000100000000020c000280060001001388000038000180080001006e6174002c00028008000100000000000800020000000002080003000000000108000500000000020800070000000002",
    "cc000000060a010c0c00000000000000020000000600010058000000060002006e000000a800048024000180090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200000000000c00038005000100110000002c0001800e000100696d6d6564696174650000001800028008000100000000010c000280080001000a00000228000180080001006e6174001c000280080001000000000108000200000000020800030000000001",
    "24000000000a01000d000000000000000700000006000100580000000800020000000000",
    "4c000000030a01040e0000000000000007000000060001005800000006000300660000000b00070066696c746572000008000500000000001400048008000100000000020800020000000000",
    "10010000060a010c0f000000000000000700000006000100580000000600020066000000ec00048024000180090001006d6574610000000014000280080002000000001108000100000000013800018008000100636d70002c0002800800010000000001080002000000000018000380140001006272300000000000000000000000000024000180090001006d6574610000000014000280080002000000001208000100000000013800018008000100636d70002c00028008000100000000010800020000000000180003801400010062723000000000000000000000000000300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c0002800800010000000000",
    "140000001100010010000000000000000000000a",
];

fn ifname(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(16, 0);
    v
}

fn cmp(op: CmpOp, data: &[u8]) -> Expr {
    Expr::Cmp { sreg: reg32(0), op, data: data.to_vec() }
}

#[test]
fn chains_sets_and_expressions_match_nft() {
    let r1 = reg32(0);
    let mut b = Batch::new();
    let inet = Table { family: Family::Inet, name: "X".into() };
    b.add_table(&inet);
    b.add_chain(&inet, "c", None);
    b.add_chain(&inet, "d", None);
    let goto = [
        Expr::Meta { key: MetaKey::Nfproto, dreg: r1 },
        cmp(CmpOp::Eq, &[2]),
        Expr::Verdict(Verdict::Goto("d".into())),
    ];
    b.add_rule(&inet, "c", &goto, "meta nfproto ipv4 goto d");

    let ip = X_IP();
    b.add_table(&ip);
    b.add_chain(&ip, "c", None);
    let nat = BaseChain { ty: ChainType::Nat, hook: Hook::Postrouting, priority: 100, policy: None };
    b.add_chain(&ip, "n", Some(&nat));
    let s = Set { name: "s".into(), id: 1, key: DataType::IPV4_ADDR, data: None };
    b.add_set(&ip, &s);
    let ret = [
        Expr::Ct { key: CtKey::Status, dreg: r1 },
        Expr::Bitwise { sreg: r1, dreg: r1, mask: 0x20u32.to_ne_bytes().to_vec(), xor: vec![0; 4] },
        cmp(CmpOp::Neq, &[0; 4]),
        Expr::Verdict(Verdict::Return),
    ];
    b.add_rule(&ip, "c", &ret, "ct status dnat return");
    let lookup = [
        Expr::Payload { base: PayloadBase::Network, offset: 16, len: 4, dreg: r1 },
        Expr::Lookup { set: "s".into(), set_id: Some(1), sreg: r1, dreg: None },
        Expr::Verdict(Verdict::Accept),
    ];
    b.add_rule(&ip, "c", &lookup, "ip daddr @s accept");
    // nft puts a constant port in NFT_REG_2, the second 128-bit register.
    let snat = [
        Expr::Meta { key: MetaKey::L4proto, dreg: r1 },
        cmp(CmpOp::Eq, &[6]),
        Expr::Immediate { dreg: r1, data: vec![10, 0, 0, 1] },
        Expr::Immediate { dreg: 2, data: 5000u16.to_be_bytes().to_vec() },
        Expr::Nat {
            ty: NatType::Snat,
            family: 2,
            addr: Some(r1),
            proto: Some(2),
            flags: Some(expr::NAT_RANGE_PROTO_SPECIFIED),
        },
    ];
    b.add_rule(&ip, "n", &snat, "meta l4proto tcp snat ip to 10.0.0.1:5000");
    let dnat = [
        Expr::Meta { key: MetaKey::L4proto, dreg: r1 },
        cmp(CmpOp::Eq, &[17]),
        Expr::Immediate { dreg: r1, data: vec![10, 0, 0, 2] },
        Expr::Nat { ty: NatType::Dnat, family: 2, addr: Some(r1), proto: None, flags: None },
    ];
    b.add_rule(&ip, "n", &dnat, "meta l4proto udp dnat ip to 10.0.0.2");

    let br = Table { family: Family::Bridge, name: "X".into() };
    b.add_table(&br);
    let fwd =
        BaseChain { ty: ChainType::Filter, hook: Hook::Forward, priority: 0, policy: Some(Verdict::Drop) };
    b.add_chain(&br, "f", Some(&fwd));
    let drop = [
        Expr::Meta { key: MetaKey::BriIifname, dreg: r1 },
        cmp(CmpOp::Eq, &ifname("br0")),
        Expr::Meta { key: MetaKey::BriOifname, dreg: r1 },
        cmp(CmpOp::Eq, &ifname("br0")),
        Expr::Verdict(Verdict::Drop),
    ];
    b.add_rule(&br, "f", &drop, "meta ibrname \"br0\" meta obrname \"br0\" drop");
    assert_batch(&b, EXPRESSIONS);
}

/// With the ruleset of firewall's SYNC loaded, `nft -f` of:
///   add element ip T tcp_any { 8080 : 172.18.0.2 . 80 }
///   add element ip T udp_addr { 127.0.0.1 . 8081 : 172.18.0.2 . 81 }
///   delete element ip T tcp_any { 8080 }
const ELEMENTS: &[&str] = &[
    "140000001000010000000000000000000000000a",
    "540000000c0a010401000000000000000200000006000100540000000c0002007463705f616e7900080004000000000124000380200001800c000180060001001f900000100002800c000100ac12000200500000",
    "5c0000000c0a010402000000000000000200000006000100540000000d0002007564705f616464720000000008000400000000042800038024000180100001800c0001007f0000011f910000100002800c000100ac12000200510000",
    "3c0000000e0a010003000000000000000200000006000100540000000c0002007463705f616e790014000380100001800c000180060001001f900000",
    "140000001100010004000000000000000000000a",
];

fn maps() -> (Set, Set) {
    let addr_port = DataType::concat(&[DataType::IPV4_ADDR, DataType::INET_SERVICE]);
    let tcp_any = Set { name: "tcp_any".into(), id: 1, key: DataType::INET_SERVICE, data: Some(addr_port) };
    let udp_addr = Set { name: "udp_addr".into(), id: 4, key: addr_port, data: Some(addr_port) };
    (tcp_any, udp_addr)
}

#[test]
fn elements_match_nft() {
    let t = Table { family: Family::Ip, name: "T".into() };
    let (tcp_any, udp_addr) = maps();
    let mut b = Batch::new();
    let e = Element { key: vec![0x1f, 0x90], data: Some(vec![172, 18, 0, 2, 0, 80, 0, 0]) };
    b.add_elements(&t, &tcp_any, &[e], "8080");
    let e =
        Element { key: vec![127, 0, 0, 1, 0x1f, 0x91, 0, 0], data: Some(vec![172, 18, 0, 2, 0, 81, 0, 0]) };
    b.add_elements(&t, &udp_addr, &[e], "127.0.0.1 . 8081");
    b.del_elements(&t, &tcp_any, &[Element { key: vec![0x1f, 0x90], data: None }], "8080");
    assert_batch(&b, ELEMENTS);
}

#[test]
fn concatenations_are_padded_per_register() {
    let c = DataType::concat(&[DataType::IPV4_ADDR, DataType::INET_SERVICE]);
    assert_eq!(c, DataType { nft_type: (7 << 6) | 13, len: 8 });
    assert_eq!((reg32(0), reg32(1), reg32(15)), (1, 9, 23));
}

#[test]
fn many_elements_are_split_across_messages() {
    let t = Table { family: Family::Ip, name: "T".into() };
    let (_, udp_addr) = maps();
    let elems: Vec<Element> = (0..5000u32)
        .map(|i| Element { key: i.to_be_bytes().repeat(2), data: Some(i.to_ne_bytes().repeat(2)) })
        .collect();
    let mut b = Batch::new();
    b.add_elements(&t, &udp_addr, &elems, "5000 elements");
    assert!(b.len() > 1, "one message cannot hold 5000 elements");
    let seqs: Vec<u32> = (0..b.len() as u32 + 2).collect();
    let mut keys = Vec::new();
    for m in &split(&b.encode(&seqs))[1..=b.len()] {
        assert!(m.len() < 65_536);
        let list = netlink::attr(&m[20..], NFTA_SET_ELEM_LIST_ELEMENTS).expect("elements");
        for (_, elem) in netlink::attrs(list) {
            let key = netlink::attr(elem, NFTA_SET_ELEM_KEY).expect("key");
            keys.push(netlink::attr(key, expr::NFTA_DATA_VALUE).expect("value").to_vec());
        }
    }
    let want: Vec<Vec<u8>> = elems.into_iter().map(|e| e.key).collect();
    assert_eq!(keys, want, "every element once, in order");
}

#[test]
fn every_operation_asks_for_an_ack_and_markers_do_not() {
    let mut b = Batch::new();
    b.add_table(&X_IP());
    b.add_chain(&X_IP(), "c", None);
    let wire = b.encode(&[7, 8, 9, 10]);
    let msgs = split(&wire);
    let flags: Vec<u16> = msgs.iter().map(|m| u16::from_ne_bytes([m[6], m[7]])).collect();
    assert_eq!(flags, vec![1, 1 | NLM_F_ACK, 1 | NLM_F_ACK | NLM_F_CREATE, 1]);
    let seqs: Vec<u32> = msgs.iter().map(|m| u32::from_ne_bytes(m[8..12].try_into().unwrap())).collect();
    assert_eq!(seqs, vec![7, 8, 9, 10]);
    assert_eq!(unhex("0a0b"), vec![10, 11]);
}
