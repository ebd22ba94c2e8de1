//! Network interface flags through the classic ioctl interface (netdevice(7)): just enough
//! to bring `lo` up in a fresh network namespace, where one ioctl beats a netlink exchange.
//! Addresses, routes and links belong to the network driver (rtnetlink), not here.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use std::os::fd::AsRawFd;

/// Sets IFF_UP on interface `name` in the caller's network namespace.
pub fn link_up(name: &str) -> Result<()> {
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .ctx(|| "socket(AF_INET) for interface ioctls")?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(Error::invalid(format!("interface name {name:?} is invalid")));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into `req`, which is
    // valid and writable for the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as libc::Ioctl, &mut req) };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context(format!("read flags of {name}")));
    }
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the initialised one.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads `req`, valid for the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as libc::Ioctl, &req) };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context(format!("bring {name} up")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_names() {
        assert!(link_up("").is_err());
        assert!(link_up("a-name-that-is-far-too-long").is_err());
    }
}
