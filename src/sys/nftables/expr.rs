//! nf_tables expressions: the instructions of a rule's little register machine (meta,
//! payload, cmp, bitwise, immediate, lookup, nat, masq, ct, fib), encoded the way nft 1.0.6
//! encodes them, attribute for attribute and in the same order. Each variant holds exactly
//! what the kernel needs; choosing registers and building match sequences is the caller's.
//!
//! Numbers come from include/uapi/linux/netfilter/nf_tables.h. Integer attributes of
//! nf_tables are big-endian (NLA_BE32); the data compared or loaded is raw packet/meta bytes.

use crate::sys::netlink::{Message, NLA_F_NESTED};

// enum nft_registers: the verdict register, four 128-bit registers, and (since 4.1) the same
// storage addressed as sixteen 32-bit registers NFT_REG32_00..15. nft 1.0.6 names the first
// 32-bit slot by its old 128-bit number (NFT_REG_1) and the next ones as NFT_REG32_01..,
// which is what `reg32` returns.
/// NFT_REG_VERDICT: where immediate verdicts go.
pub const REG_VERDICT: u32 = 0;
/// NFT_REG_1: the first data register (same storage as NFT_REG32_00).
pub const REG_1: u32 = 1;
/// NFT_REG32_00.
const REG32_00: u32 = 8;

/// The register holding bytes 4*n.. of the data area, numbered the way nft 1.0.6 numbers it:
/// NFT_REG_1 for the first slot, NFT_REG32_0n after that (concatenations put each part in
/// the next 32-bit slot).
pub fn reg32(n: u32) -> u32 {
    if n == 0 {
        REG_1
    } else {
        REG32_00 + n
    }
}

// enum nft_list_attributes / nft_expr_attributes
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
// enum nft_data_attributes, nft_verdict_attributes
pub(super) const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
// enum nft_immediate_attributes
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
// enum nft_cmp_attributes
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
// enum nft_bitwise_attributes
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
// enum nft_payload_attributes
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
// enum nft_meta_attributes
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
// enum nft_lookup_attributes
const NFTA_LOOKUP_SET: u16 = 1;
const NFTA_LOOKUP_SREG: u16 = 2;
const NFTA_LOOKUP_DREG: u16 = 3;
const NFTA_LOOKUP_SET_ID: u16 = 4;
// enum nft_nat_attributes
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFTA_NAT_FLAGS: u16 = 7;
// enum nft_ct_attributes
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
// enum nft_fib_attributes
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;

// Verdict codes: include/uapi/linux/netfilter.h (NF_DROP, NF_ACCEPT) and nf_tables.h
// (enum nft_verdicts).
const NF_DROP: i32 = 0;
const NF_ACCEPT: i32 = 1;
const NFT_JUMP: i32 = -3;
const NFT_GOTO: i32 = -4;
const NFT_RETURN: i32 = -5;

/// enum nft_fib_flags: look the route up by destination address.
pub const FIB_F_DADDR: u32 = 1 << 1;
/// enum nf_nat_range_flags (include/uapi/linux/netfilter/nf_nat.h): an address is given.
pub const NAT_RANGE_MAP_IPS: u32 = 1 << 0;
/// A port is given.
pub const NAT_RANGE_PROTO_SPECIFIED: u32 = 1 << 1;

/// Where a rule goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    /// Evaluate the named chain, then come back.
    Jump(String),
    /// Evaluate the named chain and do not come back.
    Goto(String),
    Return,
}

impl Verdict {
    pub(super) fn code(&self) -> i32 {
        match self {
            Verdict::Accept => NF_ACCEPT,
            Verdict::Drop => NF_DROP,
            Verdict::Jump(_) => NFT_JUMP,
            Verdict::Goto(_) => NFT_GOTO,
            Verdict::Return => NFT_RETURN,
        }
    }
}

/// enum nft_meta_keys: packet metadata a rule can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// NFT_META_PROTOCOL: the ethertype (skb->protocol), big-endian u16.
    Protocol = 1,
    /// NFT_META_IIFNAME: input interface name, IFNAMSIZ bytes.
    Iifname = 6,
    /// NFT_META_OIFNAME: output interface name, IFNAMSIZ bytes.
    Oifname = 7,
    /// NFT_META_NFPROTO: the hook family (only differs from the table's in inet tables).
    Nfproto = 15,
    /// NFT_META_L4PROTO: the transport protocol number, one byte.
    L4proto = 16,
    /// NFT_META_BRI_IIFNAME: the bridge an input port belongs to (bridge family only;
    /// needs CONFIG_NFT_BRIDGE_META).
    BriIifname = 17,
    /// NFT_META_BRI_OIFNAME: the bridge an output port belongs to (as above).
    BriOifname = 18,
}

/// enum nft_payload_bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    Link = 0,
    Network = 1,
    Transport = 2,
}

/// enum nft_cmp_ops (the two berth uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq = 0,
    Neq = 1,
}

/// enum nft_nat_types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatType {
    Snat = 0,
    Dnat = 1,
}

/// enum nft_ct_keys (the ones berth uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtKey {
    /// NFT_CT_STATE: the ct state bits (new, established, ...).
    State = 0,
    /// NFT_CT_STATUS: the IPS_* status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
    Status = 2,
}

/// enum nft_fib_result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FibResult {
    Oif = 1,
    Oifname = 2,
    /// The route type (RTN_LOCAL, RTN_UNICAST, ...) as a host-endian u32.
    Addrtype = 3,
}

/// One expression of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Loads metadata into `dreg`.
    Meta { key: MetaKey, dreg: u32 },
    /// Loads `len` bytes at `offset` from the start of header `base` into `dreg`.
    Payload { base: PayloadBase, offset: u32, len: u32, dreg: u32 },
    /// Compares the register with `data`; a mismatch ends the rule.
    Cmp { sreg: u32, op: CmpOp, data: Vec<u8> },
    /// dreg = (sreg & mask) ^ xor, over mask.len() bytes.
    Bitwise { sreg: u32, dreg: u32, mask: Vec<u8>, xor: Vec<u8> },
    /// Puts constant data into a data register (NAT addresses and ports).
    Immediate { dreg: u32, data: Vec<u8> },
    /// Sets the verdict register (an immediate into NFT_REG_VERDICT).
    Verdict(Verdict),
    /// Looks the bytes from `sreg` up in a set; with `dreg`, a map, whose data goes there.
    /// `set_id` names a set created earlier in the same batch (NFTA_SET_ID).
    Lookup { set: String, set_id: Option<u32>, sreg: u32, dreg: Option<u32> },
    /// Source or destination NAT to the address (and port) held in registers.
    Nat { ty: NatType, family: u8, addr: Option<u32>, proto: Option<u32>, flags: Option<u32> },
    /// Source NAT to the output interface's address.
    Masq,
    /// Loads conntrack data into `dreg`.
    Ct { key: CtKey, dreg: u32 },
    /// Route lookup: with FIB_F_DADDR and FibResult::Addrtype, the type of the destination.
    Fib { flags: u32, result: FibResult, dreg: u32 },
}

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Expr::Meta { .. } => "meta",
            Expr::Payload { .. } => "payload",
            Expr::Cmp { .. } => "cmp",
            Expr::Bitwise { .. } => "bitwise",
            Expr::Immediate { .. } | Expr::Verdict(_) => "immediate",
            Expr::Lookup { .. } => "lookup",
            Expr::Nat { .. } => "nat",
            Expr::Masq => "masq",
            Expr::Ct { .. } => "ct",
            Expr::Fib { .. } => "fib",
        }
    }

    /// Appends this expression as one NFTA_LIST_ELEM of NFTA_RULE_EXPRESSIONS.
    pub(super) fn encode(&self, m: &mut Message) {
        m.nest(NFTA_LIST_ELEM | NLA_F_NESTED);
        m.attr_str(NFTA_EXPR_NAME, self.name());
        m.nest(NFTA_EXPR_DATA | NLA_F_NESTED);
        match self {
            Expr::Meta { key, dreg } => {
                m.attr_be32(NFTA_META_KEY, *key as u32).attr_be32(NFTA_META_DREG, *dreg);
            }
            Expr::Payload { base, offset, len, dreg } => {
                m.attr_be32(NFTA_PAYLOAD_DREG, *dreg)
                    .attr_be32(NFTA_PAYLOAD_BASE, *base as u32)
                    .attr_be32(NFTA_PAYLOAD_OFFSET, *offset)
                    .attr_be32(NFTA_PAYLOAD_LEN, *len);
            }
            Expr::Cmp { sreg, op, data } => {
                m.attr_be32(NFTA_CMP_SREG, *sreg).attr_be32(NFTA_CMP_OP, *op as u32);
                value(m, NFTA_CMP_DATA, data);
            }
            Expr::Bitwise { sreg, dreg, mask, xor } => {
                m.attr_be32(NFTA_BITWISE_SREG, *sreg)
                    .attr_be32(NFTA_BITWISE_DREG, *dreg)
                    .attr_be32(NFTA_BITWISE_LEN, mask.len() as u32);
                value(m, NFTA_BITWISE_MASK, mask);
                value(m, NFTA_BITWISE_XOR, xor);
            }
            Expr::Immediate { dreg, data } => {
                m.attr_be32(NFTA_IMMEDIATE_DREG, *dreg);
                value(m, NFTA_IMMEDIATE_DATA, data);
            }
            Expr::Verdict(v) => {
                m.attr_be32(NFTA_IMMEDIATE_DREG, REG_VERDICT);
                m.nest(NFTA_IMMEDIATE_DATA | NLA_F_NESTED);
                verdict(m, v);
                m.end_nest();
            }
            Expr::Lookup { set, set_id, sreg, dreg } => {
                m.attr_be32(NFTA_LOOKUP_SREG, *sreg);
                if let Some(d) = dreg {
                    m.attr_be32(NFTA_LOOKUP_DREG, *d);
                }
                m.attr_str(NFTA_LOOKUP_SET, set);
                if let Some(id) = set_id {
                    m.attr_be32(NFTA_LOOKUP_SET_ID, *id);
                }
            }
            Expr::Nat { ty, family, addr, proto, flags } => {
                m.attr_be32(NFTA_NAT_TYPE, *ty as u32).attr_be32(NFTA_NAT_FAMILY, *family as u32);
                // Only the MIN registers: the kernel takes MAX = MIN when MAX is absent
                // (nft_nat_init), which is how nft 1.0.6 sends a single address and port.
                if let Some(r) = addr {
                    m.attr_be32(NFTA_NAT_REG_ADDR_MIN, *r);
                }
                if let Some(r) = proto {
                    m.attr_be32(NFTA_NAT_REG_PROTO_MIN, *r);
                }
                // Without NFTA_NAT_FLAGS the kernel derives MAP_IPS / PROTO_SPECIFIED from
                // the registers given; flags are only needed for random/persistent.
                if let Some(f) = flags {
                    m.attr_be32(NFTA_NAT_FLAGS, *f);
                }
            }
            Expr::Masq => {}
            Expr::Ct { key, dreg } => {
                m.attr_be32(NFTA_CT_KEY, *key as u32).attr_be32(NFTA_CT_DREG, *dreg);
            }
            Expr::Fib { flags, result, dreg } => {
                m.attr_be32(NFTA_FIB_FLAGS, *flags)
                    .attr_be32(NFTA_FIB_RESULT, *result as u32)
                    .attr_be32(NFTA_FIB_DREG, *dreg);
            }
        }
        m.end_nest();
        m.end_nest();
    }
}

/// A nested NFTA_DATA_VALUE (struct nft_data as the kernel parses it).
pub(super) fn value(m: &mut Message, ty: u16, data: &[u8]) {
    m.nest(ty | NLA_F_NESTED).attr(NFTA_DATA_VALUE, data).end_nest();
}

/// NFTA_DATA_VERDICT { NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN }.
fn verdict(m: &mut Message, v: &Verdict) {
    m.nest(NFTA_DATA_VERDICT | NLA_F_NESTED);
    m.attr(NFTA_VERDICT_CODE, &v.code().to_be_bytes());
    if let Verdict::Jump(chain) | Verdict::Goto(chain) = v {
        m.attr_str(NFTA_VERDICT_CHAIN, chain);
    }
    m.end_nest();
}
