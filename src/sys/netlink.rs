//! Raw netlink (netlink(7)): the message and attribute encoding every netlink family
//! shares, and a socket that sends requests and reads acknowledgements and dumps. The
//! families on top (rtnetlink.rs for links, addresses and routes; nftables.rs for
//! firewall rules) build their messages with `Message` and parse answers with `attrs`.
//! Nothing here knows what a link or a rule is.
//!
//! Errors come back decoded: the errno in the kernel's words, the operation the caller named,
//! and the kernel's extended-ack text when it sends one (NETLINK_EXT_ACK).

use crate::error::{Context, Error, Kind, Result};
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

// include/uapi/linux/netlink.h
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
/// In an NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK).
const NLM_F_CAPPED: u16 = 0x100;
/// In an NLMSG_ERROR: extended-ack attributes follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
const SOL_NETLINK: i32 = 270;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;
/// enum nlmsgerr_attrs: NLMSGERR_ATTR_MSG, a NUL-terminated string.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Length of struct nlmsghdr.
pub const HEADER_LEN: usize = 16;
/// Largest datagram read: the kernel fills dump replies up to 32 KiB (netlink_dump's
/// max_recvmsg_len); twice that leaves room.
const RECV_BUF: usize = 64 * 1024;

pub fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// One netlink message under construction: nlmsghdr, the family's fixed header, then
/// attributes (nested ones through `nest`/`end_nest`). Sequence numbers are set by the
/// socket that sends it (or by `finish` for batches).
#[derive(Debug, Clone)]
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    pub fn new(ty: u16, flags: u16) -> Message {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
        Message { buf, nests: Vec::new() }
    }


    pub fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.buf[6], self.buf[7]])
    }

    pub fn add_flags(&mut self, flags: u16) {
        let f = self.flags() | flags;
        self.buf[6..8].copy_from_slice(&f.to_ne_bytes());
    }

    /// Appends raw bytes (a family header such as struct ifinfomsg), padded to 4.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Message {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn pad(&mut self) {
        let n = align(self.buf.len());
        self.buf.resize(n, 0);
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Message {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    pub fn attr_u8(&mut self, ty: u16, v: u8) -> &mut Message {
        self.attr(ty, &[v])
    }


    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Message {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// A u32 in network byte order (nf_tables numbers are big-endian).
    pub fn attr_be32(&mut self, ty: u16, v: u32) -> &mut Message {
        self.attr(ty, &v.to_be_bytes())
    }


    /// A NUL-terminated string.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Message {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v)
    }

    /// Opens a nested attribute; `end_nest` closes the innermost one. `ty` is used as
    /// given (families differ on whether NLA_F_NESTED must be set: add it where needed).
    pub fn nest(&mut self, ty: u16) -> &mut Message {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self
    }

    /// Closes the innermost nested attribute. Panics if it outgrew nla_len (u16): a caller
    /// that nests many items (nf_tables set elements) splits them across messages.
    pub fn end_nest(&mut self) -> &mut Message {
        let start = self.nests.pop().expect("end_nest without nest");
        let len = u16::try_from(self.buf.len() - start).expect("nested attribute longer than 64 KiB");
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The wire bytes with the length and sequence number filled in.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        assert!(self.nests.is_empty(), "unclosed nested attribute");
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// One message read from the kernel.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    /// Everything after nlmsghdr.
    pub payload: &'a [u8],
}

/// Splits a datagram into messages; a truncated or malformed one ends the iteration with
/// an error.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Reply<'_>>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < HEADER_LEN {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        if len < HEADER_LEN || len > rest.len() {
            rest = &[];
            return Some(Err(Error::system("netlink: malformed message from the kernel")));
        }
        let r = Reply {
            ty: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes(rest[8..12].try_into().ok()?),
            payload: &rest[HEADER_LEN..len],
        };
        rest = &rest[align(len).min(rest.len())..];
        Some(Ok(r))
    })
}

/// Iterates over the attributes in `buf`: (type without the NESTED/BYTEORDER flags, data).
/// Stops at the first malformed attribute.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            return None;
        }
        let data = &rest[4..len];
        rest = &rest[align(len).min(rest.len())..];
        Some((ty, data))
    })
}

/// The first attribute of type `ty` in `buf`.
pub fn attr(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf).find(|(t, _)| *t == ty).map(|(_, d)| d)
}

pub fn attr_u32(buf: &[u8], ty: u16) -> Option<u32> {
    attr(buf, ty).and_then(|d| d.get(0..4)).map(|d| u32::from_ne_bytes([d[0], d[1], d[2], d[3]]))
}

/// A NUL-terminated string attribute.
pub fn attr_str(buf: &[u8], ty: u16) -> Option<String> {
    attr(buf, ty).map(|d| String::from_utf8_lossy(d.split(|b| *b == 0).next().unwrap_or(d)).into_owned())
}

/// Decodes an NLMSG_ERROR payload: Ok(()) for an ack (error 0), else the error with the
/// kernel's extended-ack message when present.
pub fn decode_error(r: &Reply<'_>, what: &str) -> Result<()> {
    if r.payload.len() < 4 {
        return Err(Error::system(format!("{what}: short netlink error message")));
    }
    let code = i32::from_ne_bytes(r.payload[0..4].try_into().expect("4 bytes"));
    if code == 0 {
        return Ok(());
    }
    let errno = -code;
    let mut message = format!("{what}: {} ({})", crate::error::errno_text(errno), errno_name(errno));
    if r.flags & NLM_F_ACK_TLVS != 0 {
        // The echoed request: its header only when capped, else all of it.
        let echoed = if r.flags & NLM_F_CAPPED != 0 {
            HEADER_LEN
        } else {
            r.payload
                .get(4..8)
                .map(|l| u32::from_ne_bytes(l.try_into().expect("4 bytes")) as usize)
                .unwrap_or(HEADER_LEN)
        };
        if let Some(tlvs) = r.payload.get(4 + align(echoed)..) {
            if let Some(text) = attr_str(tlvs, NLMSGERR_ATTR_MSG).filter(|t| !t.is_empty()) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
    }
    let kind = match errno {
        libc::ENOENT | libc::ENODEV => Kind::NotFound,
        libc::EEXIST | libc::EBUSY | libc::EADDRINUSE => Kind::Conflict,
        libc::EINVAL | libc::ERANGE => Kind::InvalidArgument,
        _ => Kind::System,
    };
    Err(Error::new(kind, message))
}

/// The errno a netlink error carries, recovered from its message (for callers that
/// tolerate one, e.g. EEXIST on create).
pub fn is_errno(e: &Error, errno: i32) -> bool {
    e.message.contains(&format!("({})", errno_name(errno)))
}

/// "EEXIST" for EEXIST.
fn errno_name(errno: i32) -> String {
    format!("{:?}", nix::errno::Errno::from_raw(errno))
}

/// Which netlink family a socket talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// NETLINK_ROUTE: links, addresses, routes.
    Route,
    /// NETLINK_NETFILTER: nf_tables.
    Netfilter,
}

/// A netlink socket bound to the kernel, in the network namespace it was opened in.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// A socket in the caller's network namespace.
    pub fn open(protocol: Protocol) -> Result<Socket> {
        let proto = match protocol {
            Protocol::Route => SockProtocol::NetlinkRoute,
            Protocol::Netfilter => SockProtocol::NetlinkNetFilter,
        };
        let fd = socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, proto)
            .ctx(|| format!("socket(AF_NETLINK, {protocol:?})"))?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).ctx(|| "bind netlink socket")?;
        // Best effort: older kernels lack these, and errors are still decoded without them.
        let _ = setsockopt_int(&fd, NETLINK_EXT_ACK, 1);
        let _ = setsockopt_int(&fd, NETLINK_CAP_ACK, 1);
        // Sequence numbers start somewhere unpredictable, so a stale reply to an earlier
        // socket's request can never be taken for ours.
        let seq = (crate::util::time::now_nanos() as u32) & 0x7fff_ffff;
        Ok(Socket { fd, seq, buf: vec![0; RECV_BUF] })
    }

    /// A socket in the network namespace at `netns` (e.g. /proc/PID/ns/net). A netlink
    /// socket stays in the namespace it was created in, so a short-lived thread joins the
    /// namespace, creates the socket and ends: the daemon's other threads never move.
    pub fn open_in(protocol: Protocol, netns: &Path) -> Result<Socket> {
        let ns = std::fs::File::open(netns).ctx(|| format!("open network namespace {}", netns.display()))?;
        let joined = std::thread::Builder::new()
            .name("netns".into())
            .stack_size(64 * 1024)
            .spawn(move || -> Result<Socket> {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .ctx(|| "setns into the container's network namespace")?;
                Socket::open(protocol)
            })
            .ctx(|| "spawn a thread to enter a network namespace")?;
        joined.join().map_err(|_| Error::system("netns thread panicked"))?
    }

    /// Makes room for one datagram of `send` bytes and for `recv` bytes of answers queued
    /// before the first read. The kernel refuses a datagram larger than the send buffer
    /// (netlink_sendmsg: EMSGSIZE), and an nfnetlink batch queues all its acks before
    /// sendmsg returns, dropping those that do not fit (ENOBUFS). The *FORCE options pass
    /// the wmem_max/rmem_max caps with CAP_NET_ADMIN; without it, the capped ones are tried.
    /// Buffers never shrink below the kernel's default.
    pub fn reserve(&self, send: usize, recv: usize) -> Result<()> {
        use nix::sys::socket::sockopt::{RcvBuf, RcvBufForce, SndBuf, SndBufForce};
        // net.core.wmem_default / rmem_default on a stock kernel.
        const DEFAULT: usize = 212_992;
        let send = send.max(DEFAULT);
        let recv = recv.max(DEFAULT);
        socket::setsockopt(&self.fd, SndBufForce, &send)
            .or_else(|_| socket::setsockopt(&self.fd, SndBuf, &send))
            .ctx(|| format!("set netlink send buffer to {send} bytes"))?;
        socket::setsockopt(&self.fd, RcvBufForce, &recv)
            .or_else(|_| socket::setsockopt(&self.fd, RcvBuf, &recv))
            .ctx(|| format!("set netlink receive buffer to {recv} bytes"))?;
        Ok(())
    }

    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends bytes holding one or more finished messages.
    pub fn send_raw(&self, bytes: &[u8]) -> Result<()> {
        let n = socket::sendto(self.fd.as_raw_fd(), bytes, &NetlinkAddr::new(0, 0), MsgFlags::empty())
            .ctx(|| "send netlink message")?;
        if n != bytes.len() {
            return Err(Error::system("netlink: short send"));
        }
        Ok(())
    }

    /// Reads one datagram; the returned slice is valid until the next call.
    pub fn recv_raw(&mut self) -> Result<&[u8]> {
        loop {
            match socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(n) => return Ok(&self.buf[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::from(e).context("receive netlink message")),
            }
        }
    }

    /// Sends `msg` with NLM_F_ACK and waits for its acknowledgement. `what` names the
    /// operation in the error ("add bridge berth0").
    pub fn request(&mut self, mut msg: Message, what: &str) -> Result<()> {
        msg.add_flags(NLM_F_ACK);
        let seq = self.next_seq();
        self.send_raw(&msg.finish(seq))?;
        self.wait_acks(&[(seq, what.to_string())])
    }

    /// Waits for the acknowledgement of every (seq, what) given; returns the first error
    /// (after reading all of them, so the socket stays in step).
    pub fn wait_acks(&mut self, pending: &[(u32, String)]) -> Result<()> {
        let mut left: Vec<&(u32, String)> = pending.iter().collect();
        let mut first_err: Option<Error> = None;
        while !left.is_empty() {
            let buf = self.recv_raw()?.to_vec();
            for m in messages(&buf) {
                let m = m?;
                if m.ty != NLMSG_ERROR {
                    continue;
                }
                if let Some(pos) = left.iter().position(|(s, _)| *s == m.seq) {
                    let (_, what) = left.remove(pos);
                    if let Err(e) = decode_error(&m, what) {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends a request the kernel answers with one message (a get of one object, e.g.
    /// RTM_GETLINK by name) and returns that message's payload. An NLMSG_ERROR in its place
    /// is decoded; no NLM_F_ACK is set, so nothing else follows the answer.
    pub fn get(&mut self, msg: Message, what: &str) -> Result<Vec<u8>> {
        let seq = self.next_seq();
        self.send_raw(&msg.finish(seq))?;
        loop {
            let buf = self.recv_raw()?;
            for m in messages(buf) {
                let m = m?;
                if m.seq != seq || m.ty == NLMSG_NOOP {
                    continue;
                }
                return match m.ty {
                    NLMSG_ERROR => match decode_error(&m, what) {
                        Err(e) => Err(e),
                        Ok(()) => Err(Error::system(format!("{what}: acknowledged without an answer"))),
                    },
                    _ => Ok(m.payload.to_vec()),
                };
            }
        }
    }

    /// Sends a dump request and returns the payload of every message in the answer.
    pub fn dump(&mut self, mut msg: Message, what: &str) -> Result<Vec<Vec<u8>>> {
        msg.add_flags(NLM_F_DUMP);
        let seq = self.next_seq();
        self.send_raw(&msg.finish(seq))?;
        let mut out = Vec::new();
        loop {
            let buf = self.recv_raw()?.to_vec();
            for m in messages(&buf) {
                let m = m?;
                if m.seq != seq {
                    continue;
                }
                match m.ty {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        decode_error(&m, what)?;
                        return Ok(out);
                    }
                    NLMSG_NOOP => {}
                    _ => out.push(m.payload.to_vec()),
                }
            }
        }
    }
}

fn setsockopt_int(fd: &OwnedFd, opt: i32, value: i32) -> Result<()> {
    // SAFETY: setsockopt reads size_of::<i32>() bytes from a valid i32 on our stack; `fd` is
    // an open socket we own.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_NETLINK,
            opt,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context(format!("setsockopt(SOL_NETLINK, {opt})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_padded_and_nested() {
        let mut m = Message::new(16, NLM_F_CREATE);
        m.raw(&[1, 2, 3]); // padded to 4
        m.nest(5 | NLA_F_NESTED).attr_str(1, "ab").attr_u32(2, 7).end_nest();
        let b = m.finish(9);
        assert_eq!(b.len() % 4, 0);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize, b.len());
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), NLM_F_CREATE | NLM_F_REQUEST);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 9);
        assert_eq!(&b[16..20], &[1, 2, 3, 0]);
        // nest header: len = 4 + (4+3 padded to 8) + (4+4) = 20
        assert_eq!(u16::from_ne_bytes([b[20], b[21]]), 20);
        let inner: Vec<(u16, Vec<u8>)> =
            attrs(&b[24..]).map(|(t, d)| (t, d.to_vec())).collect();
        assert_eq!(inner, vec![(1, b"ab\0".to_vec()), (2, 7u32.to_ne_bytes().to_vec())]);
        let outer: Vec<u16> = attrs(&b[20..]).map(|(t, _)| t).collect();
        assert_eq!(outer, vec![5], "NLA_F_NESTED is masked off when parsing");
    }

    fn error_reply(code: i32, flags: u16, ext: Option<&str>) -> Vec<u8> {
        let mut payload = code.to_ne_bytes().to_vec();
        // The echoed request header (capped).
        let mut echoed = Message::new(16, 0).finish(4);
        echoed.truncate(HEADER_LEN);
        payload.extend_from_slice(&echoed);
        if let Some(t) = ext {
            let mut m = Message::new(0, 0);
            m.attr_str(NLMSGERR_ATTR_MSG, t);
            payload.extend_from_slice(&m.finish(0)[HEADER_LEN..]);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((HEADER_LEN + payload.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&4u32.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn errors_are_decoded_with_the_operation_and_the_kernels_text() {
        let ack = error_reply(0, NLM_F_CAPPED, None);
        let r = messages(&ack).next().unwrap().unwrap();
        assert!(decode_error(&r, "x").is_ok());

        let e = error_reply(-libc::EEXIST, NLM_F_CAPPED | NLM_F_ACK_TLVS, Some("Link already exists"));
        let r = messages(&e).next().unwrap().unwrap();
        let err = decode_error(&r, "add bridge br0").unwrap_err();
        assert_eq!(err.message, "add bridge br0: file exists (EEXIST): Link already exists");
        assert_eq!(err.kind, Kind::Conflict);
        assert!(is_errno(&err, libc::EEXIST));

        let e = error_reply(-libc::EPERM, NLM_F_CAPPED, None);
        let r = messages(&e).next().unwrap().unwrap();
        assert_eq!(decode_error(&r, "op").unwrap_err().message, "op: operation not permitted (EPERM)");
    }

    #[test]
    fn malformed_input_does_not_panic() {
        assert!(messages(&[1, 2, 3]).next().is_none());
        let mut bad = error_reply(0, 0, None);
        bad[0] = 200; // longer than the buffer
        assert!(messages(&bad).next().unwrap().is_err());
        assert_eq!(attrs(&[8, 0, 1, 0, 1]).count(), 0);
    }
}
