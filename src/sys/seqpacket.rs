//! SOCK_SEQPACKET unix sockets: the transport between the daemon and container monitors.
//! One send is one packet, so message boundaries survive, and a file descriptor passed with
//! SCM_RIGHTS belongs to exactly one message. This file moves bytes and descriptors only; it
//! knows nothing about what the messages mean (that is monitor/channel.rs).

use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    self, AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, UnixAddr,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Most descriptors accepted with one packet; more are closed by the kernel (MSG_CTRUNC)
/// and the packet is refused.
const MAX_FDS: usize = 4;

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by accept4(2) or in an SCM_RIGHTS message received by
    // us; the kernel installed it in our table and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Largest packet the callers send; the send buffer must hold one whole packet.
const MAX_PACKET: usize = 256 * 1024;

/// A packet larger than the send buffer fails with EMSGSIZE, and the default buffer
/// (net.core.wmem_default, ~208 KiB) is smaller than MAX_PACKET. The kernel doubles the
/// value asked for (socket(7)), capped by wmem_max, which leaves room for a full packet.
fn grow_send_buffer(fd: &OwnedFd) -> Result<()> {
    socket::setsockopt(fd, socket::sockopt::SndBuf, &MAX_PACKET).ctx(|| "set SO_SNDBUF")
}

/// A connected pair, both ends close-on-exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .ctx(|| "socketpair(AF_UNIX, SOCK_SEQPACKET)")?;
    grow_send_buffer(&a)?;
    grow_send_buffer(&b)?;
    Ok((a, b))
}

/// sun_path holds 108 bytes including the NUL (unix(7)).
const SUN_PATH_MAX: usize = 107;

/// Calls `f` with a name for `path` that fits in sun_path: the path itself when short
/// enough, else `/proc/self/fd/N/<file name>` through an O_PATH descriptor of its
/// directory (the kernel follows the magic link like any other path component).
fn short_path<T>(path: &Path, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::invalid(format!("socket path {} is invalid", path.display())));
    };
    let dirfd = crate::sys::fs::open_root(dir)?;
    f(&crate::sys::fs::fd_path(std::os::fd::AsFd::as_fd(&dirfd)).join(name))
}

/// Binds a non-blocking listening socket at `path` (a stale socket file there is replaced)
/// and restricts the file to its owner.
pub fn listen(path: &Path) -> Result<OwnedFd> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .ctx(|| "socket(AF_UNIX, SOCK_SEQPACKET)")?;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::from(e).context(format!("remove {}", path.display()))),
    }
    short_path(path, |p| {
        let addr = UnixAddr::new(p).ctx(|| format!("socket address {}", path.display()))?;
        socket::bind(fd.as_raw_fd(), &addr).ctx(|| format!("bind {}", path.display()))
    })?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .ctx(|| format!("chmod {}", path.display()))?;
    socket::listen(&fd, Backlog::new(64).expect("64 is a valid backlog"))
        .ctx(|| format!("listen on {}", path.display()))?;
    Ok(fd)
}

/// Connects a blocking socket to the listener at `path`.
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
        .ctx(|| "socket(AF_UNIX, SOCK_SEQPACKET)")?;
    grow_send_buffer(&fd)?;
    short_path(path, |p| {
        let addr = UnixAddr::new(p).ctx(|| format!("socket address {}", path.display()))?;
        socket::connect(fd.as_raw_fd(), &addr).ctx(|| format!("connect to {}", path.display()))
    })?;
    Ok(fd)
}

/// Accepts one connection as a non-blocking, close-on-exec socket.
pub fn accept(listener: BorrowedFd<'_>) -> Result<OwnedFd> {
    socket::accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK)
        .map(owned)
        .ctx(|| "accept")
}

/// Sends `data` as one packet, with `pass` attached as SCM_RIGHTS. MSG_NOSIGNAL: a peer
/// that went away is an EPIPE error, never a SIGPIPE.
pub fn send(fd: BorrowedFd<'_>, data: &[u8], pass: Option<BorrowedFd<'_>>) -> Result<()> {
    let iov = [IoSlice::new(data)];
    let raw = pass.map(|p| [p.as_raw_fd()]);
    let cmsgs: Vec<ControlMessage<'_>> = raw.as_ref().map(|r| ControlMessage::ScmRights(r)).into_iter().collect();
    let n = socket::sendmsg::<()>(fd.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .ctx(|| "send message")?;
    if n != data.len() {
        return Err(Error::system(format!("send message: short write ({n} of {})", data.len())));
    }
    Ok(())
}

/// Receives one packet into `buf`: `None` at end of stream, else the length and the
/// descriptors that came with it (close-on-exec). A packet larger than `buf` is an error.
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = retry_reset(|| {
        socket::recvmsg::<()>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).map(|m| {
            let fds: Vec<RawFd> = match m.cmsgs() {
                Ok(c) => c
                    .filter_map(|c| match c {
                        ControlMessageOwned::ScmRights(raw) => Some(raw),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                Err(_) => Vec::new(),
            };
            (m.bytes, m.flags, fds)
        })
    })
    .ctx(|| "receive message")?;
    let (bytes, flags, raw) = msg;
    // Take ownership of every descriptor first, so they are closed on every error below.
    let fds: Vec<OwnedFd> = raw.into_iter().map(owned).collect();
    if flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(Error::invalid("receive message: too many descriptors"));
    }
    if flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(Error::invalid(format!("receive message: longer than {} bytes", buf_len(&iov))));
    }
    if bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    Ok(Some((bytes, fds)))
}

fn buf_len(iov: &[IoSliceMut<'_>]) -> usize {
    iov.iter().map(|b| b.len()).sum()
}

/// A unix socket whose peer closed with unread data in its own queue reports ECONNRESET
/// once (unix(7)), ahead of packets the peer had sent before: the next call delivers them
/// (or end of stream).
fn retry_reset<T>(mut f: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    match f() {
        Err(nix::Error::ECONNRESET) => f(),
        other => other,
    }
}

/// Receives one packet of at most `max` bytes into a buffer of its exact size (the size is
/// peeked first: MSG_PEEK|MSG_TRUNC returns a unix packet's full length), so a small
/// message costs no large buffer. `None` at end of stream.
pub fn recv_packet(fd: BorrowedFd<'_>, max: usize) -> Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let len = retry_reset(|| socket::recv(fd.as_raw_fd(), &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC))
        .ctx(|| "receive message")?;
    if len > max {
        // Take it off the queue (and close any descriptors with it) before refusing it.
        let _ = recv(fd, &mut [0u8; 1]);
        return Err(Error::invalid(format!("receive message: longer than {max} bytes")));
    }
    let mut buf = vec![0u8; len.max(1)];
    Ok(recv(fd, &mut buf)?.map(|(n, fds)| {
        buf.truncate(n);
        (buf, fds)
    }))
}

/// Shuts down the write side of a stream socket (the peer reads end of stream).
pub fn shutdown_write(fd: BorrowedFd<'_>) -> Result<()> {
    socket::shutdown(fd.as_raw_fd(), socket::Shutdown::Write).ctx(|| "shutdown(SHUT_WR)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn packets_keep_boundaries_and_carry_descriptors() {
        let (a, b) = pair().unwrap();
        let (mut x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        send(a.as_fd(), b"one", None).unwrap();
        send(a.as_fd(), b"two", Some(y.as_fd())).unwrap();
        drop(y);
        let mut buf = [0u8; 16];
        let (n, fds) = recv(b.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"one"[..], 0));
        let (n, mut fds) = recv(b.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"two"[..], 1));
        let mut passed = std::os::unix::net::UnixStream::from(fds.pop().unwrap());
        passed.write_all(b"hi").unwrap();
        let mut got = [0u8; 2];
        x.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
        drop(a);
        assert!(recv(b.as_fd(), &mut buf).unwrap().is_none());
    }

    #[test]
    fn large_packets_fit() {
        let (a, b) = pair().unwrap();
        let big = vec![9u8; MAX_PACKET];
        send(a.as_fd(), &big, None).unwrap();
        let mut buf = vec![0u8; MAX_PACKET];
        let (n, _) = recv(b.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!(n, MAX_PACKET);
    }

    #[test]
    fn packets_of_exact_size() {
        let (a, b) = pair().unwrap();
        send(a.as_fd(), b"hello", None).unwrap();
        send(a.as_fd(), &[1u8; 300], None).unwrap();
        send(a.as_fd(), b"after", None).unwrap();
        let (data, fds) = recv_packet(b.as_fd(), 100).unwrap().unwrap();
        assert_eq!((data.as_slice(), fds.len()), (&b"hello"[..], 0));
        assert!(recv_packet(b.as_fd(), 100).is_err());
        assert_eq!(recv_packet(b.as_fd(), 100).unwrap().unwrap().0, b"after");
        drop(a);
        assert!(recv_packet(b.as_fd(), 100).unwrap().is_none());
    }

    #[test]
    fn packets_survive_a_reset() {
        let (a, b) = pair().unwrap();
        send(b.as_fd(), b"unread by a", None).unwrap();
        send(a.as_fd(), b"last words", None).unwrap();
        drop(a);
        assert_eq!(recv_packet(b.as_fd(), 100).unwrap().unwrap().0, b"last words");
        assert!(recv_packet(b.as_fd(), 100).unwrap().is_none());
    }

    #[test]
    fn oversized_packets_are_refused() {
        let (a, b) = pair().unwrap();
        send(a.as_fd(), &[7u8; 100], None).unwrap();
        let mut buf = [0u8; 10];
        assert!(recv(b.as_fd(), &mut buf).is_err());
    }

    #[test]
    fn long_socket_paths_work() {
        let t = TempDir::new("seqpacket-long");
        let dir = t.path().join("d".repeat(100));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("monitor.sock");
        let l = listen(&path).unwrap();
        assert!(path.exists());
        let c = connect(&path).unwrap();
        let s = accept(l.as_fd()).unwrap();
        send(c.as_fd(), b"x", None).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(recv(s.as_fd(), &mut buf).unwrap().unwrap().0, 1);
    }

    #[test]
    fn listen_and_connect() {
        let t = TempDir::new("seqpacket");
        let path = t.path().join("s.sock");
        std::fs::write(&path, "stale").unwrap();
        let l = listen(&path).unwrap();
        let c = connect(&path).unwrap();
        let s = accept(l.as_fd()).unwrap();
        send(c.as_fd(), b"ping", None).unwrap();
        let mut buf = [0u8; 8];
        let (n, _) = recv(s.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"ping");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
