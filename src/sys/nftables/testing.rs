//! Test helpers: compare a Batch with the bytes nft 1.0.6 sent for the same operations
//! (captured with `strace -e trace=sendmsg -e write=3 nft -f FILE` inside `unshare -n`, so
//! the host's ruleset was never touched). Compiled only for tests.
//!
//! What is ignored, and why:
//! - nlmsg_seq and nlmsg_pid: per-socket bookkeeping.
//! - NLM_F_ACK: berth asks for an ack on every operation, nft 1.0.6 on none (it still hears
//!   about errors, which the kernel always reports); the flag changes nothing else.
//! - NFTA_SET_USERDATA (and NFTA_TABLE/RULE_USERDATA, which nft did not send here): nft's
//!   own notes (byte order, typeof, comments) that the kernel stores without reading.

use super::Batch;
use crate::sys::netlink::{self, NLM_F_ACK};

const NFT_MSG_NEWSET: u16 = (10 << 8) | 9;
const NFTA_SET_USERDATA: u16 = 13;
/// nlmsghdr + nfgenmsg.
const HEADERS: usize = 20;

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Splits a batch into its messages, headers included.
pub fn split(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = wire;
    while rest.len() >= netlink::HEADER_LEN {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        assert!(len >= netlink::HEADER_LEN && len <= rest.len(), "malformed message in batch");
        out.push(rest[..len].to_vec());
        rest = &rest[netlink::align(len).min(rest.len())..];
    }
    out
}

/// A message with the fields that carry no meaning for the comparison neutralised.
pub fn normalize(msg: &[u8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[8..16].fill(0);
    let flags = u16::from_ne_bytes([m[6], m[7]]) & !NLM_F_ACK;
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    let ty = u16::from_ne_bytes([m[4], m[5]]);
    if ty == NFT_MSG_NEWSET {
        let mut out = m[..HEADERS].to_vec();
        let mut rest = &m[HEADERS..];
        while rest.len() >= 4 {
            let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
            let at = netlink::align(len).min(rest.len());
            if u16::from_ne_bytes([rest[2], rest[3]]) != NFTA_SET_USERDATA {
                out.extend_from_slice(&rest[..at]);
            }
            rest = &rest[at..];
        }
        let len = out.len() as u32;
        out[0..4].copy_from_slice(&len.to_ne_bytes());
        m = out;
    }
    m
}

/// Asserts that `batch` encodes to `captured` (hex of each message nft sent, BEGIN and END
/// included), message by message.
pub fn assert_batch(batch: &Batch, captured: &[&str]) {
    let seqs: Vec<u32> = (0..batch.len() as u32 + 2).collect();
    let ours: Vec<String> = split(&batch.encode(&seqs)).iter().map(|m| hex(&normalize(m))).collect();
    let theirs: Vec<String> = captured.iter().map(|h| hex(&normalize(&unhex(h)))).collect();
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o, t, "message {i} differs (ours, then nft's)");
    }
    assert_eq!(ours.len(), theirs.len(), "number of messages");
}

/// Asserts that one operation of `batch` (index `op`, BEGIN not counted) is `captured`.
pub fn assert_op(batch: &Batch, op: usize, captured: &str) {
    let seqs: Vec<u32> = (0..batch.len() as u32 + 2).collect();
    let msgs = split(&batch.encode(&seqs));
    assert_eq!(hex(&normalize(&msgs[op + 1])), hex(&normalize(&unhex(captured))), "operation {op}");
}
