//! nf_tables over raw netlink (NETLINK_NETFILTER): tables, chains, sets and maps, rules and
//! set elements, encoded as nft 1.0.6 encodes them and committed as one atomic batch. This
//! file owns the messages and the batch protocol; `expr` owns the rule expressions. What
//! the rules say (berth's ruleset) belongs to driver::network::firewall, not here, and
//! nothing here shells out to `nft`.
//!
//! A batch is NFNL_MSG_BATCH_BEGIN, the operations, NFNL_MSG_BATCH_END, sent in ONE
//! sendmsg: the kernel applies all of it or none of it (nfnetlink_rcv_batch). Every
//! operation asks for an ack (NLM_F_ACK), so a failure names the operation that failed,
//! not just the batch; nft itself does not ask for acks and only hears about errors.
//!
//! Numbers come from include/uapi/linux/netfilter/nfnetlink.h and nf_tables.h.

// The vocabulary the network driver draws on (all the expressions and chain kinds it may
// need); berth's own ruleset uses most of it, not all.
#![allow(dead_code)]

pub mod expr;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

pub use expr::{reg32, CmpOp, CtKey, Expr, FibResult, MetaKey, NatType, PayloadBase, Verdict, FIB_F_DADDR};

use crate::error::{Context, Error, Result};
use crate::sys::netlink::{
    self, Message, Protocol, Socket, NLA_F_NESTED, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE,
};
use std::fmt;

// include/uapi/linux/netfilter/nfnetlink.h
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10; // NLMSG_MIN_TYPE
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNETLINK_V0: u8 = 0;
// enum nf_tables_msg_types
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
// enum nft_table_attributes
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_FLAGS: u16 = 2;
// enum nft_chain_attributes, nft_hook_attributes
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
// enum nft_rule_attributes
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
// enum nft_set_attributes, nft_set_flags
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_TYPE: u16 = 4;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_TYPE: u16 = 6;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_ID: u16 = 10;
const NFT_SET_MAP: u32 = 0x8;
// enum nft_set_elem_list_attributes, nft_set_elem_attributes
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;

/// Bytes of set elements per message: the elements sit in one nested attribute, whose
/// length field is a u16; further elements go into the next message of the batch.
const ELEMENTS_PER_MESSAGE_BYTES: usize = 60_000;
/// What one queued ack costs the receive buffer (skb truesize of a small netlink message,
/// rounded up generously).
const ACK_TRUESIZE: usize = 2048;

/// The address family a table belongs to (NFPROTO_*, include/uapi/linux/netfilter.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// NFPROTO_INET: `table inet`, IPv4 and IPv6 together.
    Inet,
    /// NFPROTO_IPV4: `table ip`.
    Ip,
    /// NFPROTO_BRIDGE: `table bridge`, frames crossing a Linux bridge.
    Bridge,
}

impl Family {
    fn nfproto(self) -> u8 {
        match self {
            Family::Inet => 1,
            Family::Ip => 2,
            Family::Bridge => 7,
        }
    }
}

/// A table: family and name. Displays the way nft names it ("ip berth").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family {
            Family::Inet => "inet",
            Family::Ip => "ip",
            Family::Bridge => "bridge",
        };
        write!(f, "{family} {}", self.name)
    }
}

/// Netfilter hooks. The bridge family's NF_BR_* hooks have the same numbers as the
/// NF_INET_* ones (include/uapi/linux/netfilter_bridge.h, netfilter.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Prerouting = 0,
    Input = 1,
    Forward = 2,
    Output = 3,
    Postrouting = 4,
}

/// The type of a base chain: which expressions it may hold and how it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    /// Only the first packet of a connection passes through; NAT expressions allowed.
    Nat,
}

/// What makes a chain a base chain: it is attached to a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    pub ty: ChainType,
    pub hook: Hook,
    pub priority: i32,
    /// Accept or Drop; None leaves the kernel's default (accept).
    pub policy: Option<Verdict>,
}

/// A set element data type: nft's own type number (from nft's src/datatype.h, meaningful only
/// to nft, which prints elements by it) and the length in bytes the kernel checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataType {
    pub nft_type: u32,
    pub len: u32,
}

impl DataType {
    /// TYPE_IPADDR: `ipv4_addr`.
    pub const IPV4_ADDR: DataType = DataType { nft_type: 7, len: 4 };
    /// TYPE_INETSERVICE: `inet_service` (a port, big-endian u16).
    pub const INET_SERVICE: DataType = DataType { nft_type: 13, len: 2 };

    /// `a . b . ...`: nft packs the part types 6 bits apiece (TYPE_BITS, concat_subtype_add)
    /// and pads every part to a 32-bit register (NFT_REG32_SIZE), which is what the kernel
    /// compares.
    pub fn concat(parts: &[DataType]) -> DataType {
        DataType {
            nft_type: parts.iter().fold(0, |t, p| (t << 6) | p.nft_type),
            len: parts.iter().map(|p| netlink::align(p.len as usize) as u32).sum(),
        }
    }
}

/// A named set, or a map when it has data. The id lets rules and elements in the same
/// batch find it before it is committed (NFTA_SET_ID / NFTA_LOOKUP_SET_ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    pub id: u32,
    pub key: DataType,
    pub data: Option<DataType>,
}

impl Set {
    fn kind(&self) -> &'static str {
        if self.data.is_some() {
            "map"
        } else {
            "set"
        }
    }
}

/// A set element: key bytes and, in a map, data bytes (each concatenated part padded to 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    pub data: Option<Vec<u8>>,
}

impl Element {
    fn encoded_len(&self) -> usize {
        let value = |n: usize| 8 + netlink::align(n);
        4 + value(self.key.len()) + self.data.as_ref().map_or(0, |d| value(d.len()))
    }
}

/// Operations to commit together, each with the words an error will use for it.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Message, String)>,
}

/// A message of the nftables subsystem: nlmsghdr with type (subsys << 8 | msg), then
/// struct nfgenmsg { u8 nfgen_family; u8 version; __be16 res_id; }.
fn nft_message(msg: u16, flags: u16, family: Family) -> Message {
    let mut m = Message::new((NFNL_SUBSYS_NFTABLES << 8) | msg, flags);
    m.raw(&[family.nfproto(), NFNETLINK_V0, 0, 0]);
    m
}

/// BATCH_BEGIN / BATCH_END: family AF_UNSPEC, res_id = the subsystem the batch is for.
fn batch_marker(ty: u16) -> Message {
    let mut m = Message::new(ty, 0);
    let res_id = NFNL_SUBSYS_NFTABLES.to_be_bytes();
    m.raw(&[0, NFNETLINK_V0, res_id[0], res_id[1]]);
    m
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Number of operations (batch markers not counted).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds the table, or does nothing if it exists (the kernel creates a table whether or
    /// not NLM_F_CREATE is set; nft 1.0.6 sends neither CREATE nor EXCL).
    pub fn add_table(&mut self, t: &Table) {
        let mut m = nft_message(NFT_MSG_NEWTABLE, 0, t.family);
        m.attr_str(NFTA_TABLE_NAME, &t.name).attr_be32(NFTA_TABLE_FLAGS, 0);
        self.ops.push((m, format!("add table {t}")));
    }

    /// Deletes the table with everything in it; fails (ENOENT) if it does not exist, so
    /// `add_table` first for "delete if present".
    pub fn del_table(&mut self, t: &Table) {
        let mut m = nft_message(NFT_MSG_DELTABLE, 0, t.family);
        m.attr_str(NFTA_TABLE_NAME, &t.name);
        self.ops.push((m, format!("delete table {t}")));
    }

    /// Adds a regular chain (`base` None: reached only by jump/goto) or a base chain.
    pub fn add_chain(&mut self, t: &Table, name: &str, base: Option<&BaseChain>) {
        let mut m = nft_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE, t.family);
        m.attr_str(NFTA_CHAIN_TABLE, &t.name).attr_str(NFTA_CHAIN_NAME, name);
        if let Some(b) = base {
            m.attr_str(
                NFTA_CHAIN_TYPE,
                match b.ty {
                    ChainType::Filter => "filter",
                    ChainType::Nat => "nat",
                },
            );
            if let Some(p) = &b.policy {
                m.attr(NFTA_CHAIN_POLICY, &p.code().to_be_bytes());
            }
            m.nest(NFTA_CHAIN_HOOK | NLA_F_NESTED)
                .attr_be32(NFTA_HOOK_HOOKNUM, b.hook as u32)
                .attr(NFTA_HOOK_PRIORITY, &b.priority.to_be_bytes())
                .end_nest();
        }
        self.ops.push((m, format!("add chain {name} to table {t}")));
    }

    /// Adds a set or map. nft 1.0.6 sets NFT_SET_CONCAT only on interval sets (it selects
    /// the pipapo backend); a concatenated key of a plain map is just its bytes to the
    /// kernel's hash, so neither does this. NFTA_SET_USERDATA (nft's notes on byte order
    /// and typeof, for its own printing) is left out: the kernel does not read it.
    pub fn add_set(&mut self, t: &Table, s: &Set) {
        let mut m = nft_message(NFT_MSG_NEWSET, NLM_F_CREATE, t.family);
        m.attr_str(NFTA_SET_TABLE, &t.name)
            .attr_str(NFTA_SET_NAME, &s.name)
            .attr_be32(NFTA_SET_FLAGS, if s.data.is_some() { NFT_SET_MAP } else { 0 })
            .attr_be32(NFTA_SET_KEY_TYPE, s.key.nft_type)
            .attr_be32(NFTA_SET_KEY_LEN, s.key.len);
        if let Some(d) = &s.data {
            m.attr_be32(NFTA_SET_DATA_TYPE, d.nft_type).attr_be32(NFTA_SET_DATA_LEN, d.len);
        }
        m.attr_be32(NFTA_SET_ID, s.id);
        self.ops.push((m, format!("add {} {} to table {t}", s.kind(), s.name)));
    }

    /// Appends a rule to a chain. `text` is the rule in nft syntax, for error messages.
    pub fn add_rule(&mut self, t: &Table, chain: &str, exprs: &[Expr], text: &str) {
        let mut m = nft_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, t.family);
        m.attr_str(NFTA_RULE_TABLE, &t.name).attr_str(NFTA_RULE_CHAIN, chain);
        m.nest(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
        for e in exprs {
            e.encode(&mut m);
        }
        m.end_nest();
        self.ops.push((m, format!("add rule \"{text}\" to chain {chain} of table {t}")));
    }

    /// Adds elements to set `s`, naming it by name and by its NFTA_SET_ID (nft 1.0.6 always
    /// sends the id; the kernel only uses it when no committed set has that name, i.e. for
    /// a set created earlier in the same batch). An element that is there with the same
    /// data is not an error; with other data it is (EEXIST). `what` describes the elements
    /// for error messages.
    pub fn add_elements(&mut self, t: &Table, s: &Set, elems: &[Element], what: &str) {
        self.elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, t, s, Some(s.id), elems, || {
            format!("add {what} to {} {} of table {t}", s.kind(), s.name)
        });
    }

    /// Deletes elements (by key; data is not needed) from set `s`; a missing one fails the
    /// batch (ENOENT).
    pub fn del_elements(&mut self, t: &Table, s: &Set, elems: &[Element], what: &str) {
        self.elements(NFT_MSG_DELSETELEM, 0, t, s, None, elems, || {
            format!("delete {what} from {} {} of table {t}", s.kind(), s.name)
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn elements(
        &mut self,
        msg: u16,
        flags: u16,
        t: &Table,
        s: &Set,
        set_id: Option<u32>,
        elems: &[Element],
        what: impl Fn() -> String,
    ) {
        let mut rest = elems;
        while !rest.is_empty() {
            let mut bytes = 0;
            let n = rest
                .iter()
                .take_while(|e| {
                    bytes += e.encoded_len();
                    bytes <= ELEMENTS_PER_MESSAGE_BYTES
                })
                .count()
                .max(1);
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let mut m = nft_message(msg, flags, t.family);
            m.attr_str(NFTA_SET_ELEM_LIST_TABLE, &t.name).attr_str(NFTA_SET_ELEM_LIST_SET, &s.name);
            if let Some(id) = set_id {
                m.attr_be32(NFTA_SET_ELEM_LIST_SET_ID, id);
            }
            m.nest(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
            // libnftnl numbers the list entries 1, 2, 3... instead of using NFTA_LIST_ELEM
            // for each; the kernel does not look at the type (nla_for_each_nested).
            for (i, e) in chunk.iter().enumerate() {
                m.nest((i as u16 + 1) | NLA_F_NESTED);
                expr::value(&mut m, NFTA_SET_ELEM_KEY, &e.key);
                if let Some(d) = &e.data {
                    expr::value(&mut m, NFTA_SET_ELEM_DATA, d);
                }
                m.end_nest();
            }
            m.end_nest();
            self.ops.push((m, what()));
        }
    }

    /// The batch on the wire: BEGIN with seqs[0], operation i with seqs[i + 1] and NLM_F_ACK,
    /// END with the last seq. `seqs` holds len() + 2 numbers.
    pub fn encode(&self, seqs: &[u32]) -> Vec<u8> {
        assert_eq!(seqs.len(), self.ops.len() + 2, "one sequence number per message");
        let mut out = batch_marker(NFNL_MSG_BATCH_BEGIN).finish(seqs[0]);
        for ((m, _), seq) in self.ops.iter().zip(&seqs[1..]) {
            let mut m = m.clone();
            m.add_flags(NLM_F_ACK);
            out.extend_from_slice(&m.finish(*seq));
        }
        out.extend_from_slice(&batch_marker(NFNL_MSG_BATCH_END).finish(seqs[seqs.len() - 1]));
        out
    }

    /// Commits the batch in the caller's network namespace.
    pub fn commit(&self) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let mut sock = Socket::open(Protocol::Netfilter)?;
        self.commit_on(&mut sock)
    }

    /// Sends the batch in one sendmsg and reads every operation's ack. On failure the
    /// kernel has applied nothing, and the error is that of the first operation that
    /// failed (later ones usually fail because of it).
    pub fn commit_on(&self, sock: &mut Socket) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let seqs: Vec<u32> = (0..self.ops.len() + 2).map(|_| sock.next_seq()).collect();
        let wire = self.encode(&seqs);
        sock.reserve(wire.len() + 4096, self.ops.len() * ACK_TRUESIZE)?;
        sock.send_raw(&wire)
            .map_err(|e| e.context(format!("send nf_tables batch of {} operations", self.ops.len())))?;
        let mut left: Vec<(u32, &str)> =
            seqs[1..=self.ops.len()].iter().copied().zip(self.ops.iter().map(|(_, w)| w.as_str())).collect();
        let mut first_err: Option<Error> = None;
        while !left.is_empty() {
            let buf = sock.recv_raw().ctx(|| "read nf_tables batch acknowledgements")?.to_vec();
            for m in netlink::messages(&buf) {
                let m = m?;
                if m.ty != netlink::NLMSG_ERROR {
                    continue;
                }
                // An error on BEGIN (EPERM, nf_tables missing) refuses the whole batch
                // before any operation runs; no per-operation acks follow it.
                if m.seq == seqs[0] || m.seq == seqs[seqs.len() - 1] {
                    netlink::decode_error(&m, "commit nf_tables batch")?;
                    continue;
                }
                if let Some(pos) = left.iter().position(|(s, _)| *s == m.seq) {
                    let (_, what) = left.remove(pos);
                    if let Err(e) = netlink::decode_error(&m, what) {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
