//! Published ports: what a container asks for (`-p`, `-P`) turned into concrete host
//! ports, and the sockets that hold them. Every published host port is held by a socket
//! bound to it in the daemon, as Docker does since 25.0: the kernel then refuses the port to
//! any other program (and to a second container) with EADDRINUSE, which is the "port is
//! already allocated" error, and a random port (`-P`, `-p 80`) is whatever free port the
//! kernel hands out for port 0. With nf_tables the socket only holds the port (DNAT sends
//! the traffic to the container before it could reach the socket; a TCP socket is bound,
//! never listening); the userland proxy listens on it instead.

use super::firewall::{PortMap, Proto};
use crate::error::{Error, Result};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

/// One port a container wants published, before a host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub ctr_port: u16,
    /// None: every host address.
    pub host_ip: Option<Ipv4Addr>,
    /// First and last acceptable host port; (0, 0) lets the kernel pick one.
    pub host_ports: (u16, u16),
}

pub fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// "80/tcp", "53/udp" or "80" (tcp).
pub fn parse_port_key(key: &str) -> Result<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        other => return Err(Error::invalid(format!("invalid port {key}: protocol {other} is not supported"))),
    };
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| Error::invalid(format!("invalid port {key}")))?;
    Ok((port, proto))
}

fn parse_host_ports(s: &str) -> Result<(u16, u16)> {
    let bad = || Error::invalid(format!("invalid port specification: {s:?}"));
    if s.is_empty() {
        return Ok((0, 0));
    }
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a > b || (a == 0) != (b == 0) {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_host_ip(s: &str) -> Result<Option<Ipv4Addr>> {
    match s {
        "" | "0.0.0.0" => Ok(None),
        s => match s.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => Ok(Some(ip)),
            Ok(std::net::IpAddr::V6(_)) => Err(Error::invalid(format!("host address {s}: IPv6 port bindings are not supported"))),
            Err(_) => Err(Error::invalid(format!("invalid host address {s:?}"))),
        },
    }
}

/// The ports a container publishes: its bindings, plus every exposed port not bound yet
/// when `publish_all` (`-P`), on a random host port. Sorted by container port, as Docker
/// lists them.
/// `bindings` are (container port "80/tcp", host address, host port or range), as in
/// Docker's PortBindings.
pub fn requests(bindings: &[(&str, &str, &str)], publish_all: bool, exposed: &[String]) -> Result<Vec<PortRequest>> {
    let mut out = Vec::new();
    for (key, host_ip, host_port) in bindings {
        let (ctr_port, proto) = parse_port_key(key)?;
        out.push(PortRequest { proto, ctr_port, host_ip: parse_host_ip(host_ip)?, host_ports: parse_host_ports(host_port)? });
    }
    if publish_all {
        for key in exposed {
            let (ctr_port, proto) = parse_port_key(key)?;
            if !out.iter().any(|r| r.ctr_port == ctr_port && r.proto == proto) {
                out.push(PortRequest { proto, ctr_port, host_ip: None, host_ports: (0, 0) });
            }
        }
    }
    out.sort_by_key(|r| (r.ctr_port, r.proto, r.host_ip));
    Ok(out)
}

/// A host port held for a container.
#[derive(Debug)]
pub struct Held {
    pub map: PortMap,
    pub sock: OwnedFd,
}

fn bind(proto: Proto, addr: SocketAddrV4, listen: bool) -> nix::Result<OwnedFd> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket::socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, None)?;
    let listen = listen && proto == Proto::Tcp;
    if listen {
        // A proxy's listening socket: connections it served leave TIME_WAIT entries on the
        // host port, which without SO_REUSEADDR make a restart (or a daemon re-taking the
        // port) fail with EADDRINUSE for a minute. Only here: two sockets that both set it
        // may share a port unless one listens, so the bind-only holds of the nf_tables path
        // and UDP sockets go without, and a conflict stays a conflict.
        socket::setsockopt(&fd, socket::sockopt::ReuseAddr, &true)?;
    }
    socket::bind(fd.as_raw_fd(), &SockaddrIn::from(addr))?;
    if listen {
        // At once, so that no second bind slips in before the proxy starts.
        socket::listen(&fd, socket::Backlog::MAXCONN)?;
    }
    Ok(fd)
}

fn local_port(fd: &OwnedFd) -> Result<u16> {
    let a: SockaddrIn = socket::getsockname(fd.as_raw_fd()).map_err(|e| Error::from(e).context("getsockname"))?;
    Ok(a.port())
}

/// Docker's words for a taken port (scripts match "port is already allocated").
fn taken(addr: SocketAddrV4) -> Error {
    Error::system(format!("Bind for {addr} failed: port is already allocated"))
}

/// Binds a host port for `req`, forwarding to `ctr_ip`: the first free port of its range,
/// or one the kernel picks. `listen`: the socket is for the userland proxy, and a TCP one
/// listens at once.
pub fn hold(req: &PortRequest, ctr_ip: Ipv4Addr, listen: bool) -> Result<Held> {
    let ip = req.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let (lo, hi) = req.host_ports;
    let mut last = None;
    for port in lo..=hi {
        let addr = SocketAddrV4::new(ip, port);
        match bind(req.proto, addr, listen) {
            Ok(sock) => {
                let host_port = local_port(&sock)?;
                let map = PortMap { proto: req.proto, host_ip: req.host_ip, host_port, ctr_ip, ctr_port: req.ctr_port };
                return Ok(Held { map, sock });
            }
            Err(nix::errno::Errno::EADDRINUSE) => last = Some(taken(addr)),
            Err(nix::errno::Errno::EADDRNOTAVAIL) => {
                return Err(Error::invalid(format!("Bind for {addr} failed: {ip} is not an address of this host")))
            }
            Err(e) => return Err(Error::from(e).context(format!("bind {}/{}", addr, proto_name(req.proto)))),
        }
    }
    Err(last.unwrap_or_else(|| taken(SocketAddrV4::new(ip, lo))))
}

/// Binds exactly the port of `map` again (a restarted daemon re-taking the ports of
/// containers that kept running).
pub fn hold_again(map: &PortMap, listen: bool) -> Result<Held> {
    let req = PortRequest { proto: map.proto, ctr_port: map.ctr_port, host_ip: map.host_ip, host_ports: (map.host_port, map.host_port) };
    hold(&req, map.ctr_ip, listen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_bindings_and_exposed_ports() {
        let m = [("80/tcp", "", "8080"), ("80/tcp", "127.0.0.1", ""), ("53/udp", "0.0.0.0", "5300-5310")];
        let r = requests(&m, true, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        assert_eq!(
            r,
            vec![
                PortRequest { proto: Proto::Udp, ctr_port: 53, host_ip: None, host_ports: (5300, 5310) },
                PortRequest { proto: Proto::Tcp, ctr_port: 80, host_ip: None, host_ports: (8080, 8080) },
                PortRequest { proto: Proto::Tcp, ctr_port: 80, host_ip: Some(Ipv4Addr::LOCALHOST), host_ports: (0, 0) },
                PortRequest { proto: Proto::Tcp, ctr_port: 443, host_ip: None, host_ports: (0, 0) },
            ]
        );
        assert!(requests(&m, false, &["443/tcp".into()]).unwrap().iter().all(|r| r.ctr_port != 443));
    }

    #[test]
    fn bad_bindings_are_refused() {
        for b in [("80/sctp", "", ""), ("x/tcp", "", ""), ("80", "::1", "80"), ("80", "nope", ""), ("80", "", "9-8"), ("80", "", "70000")] {
            assert!(requests(&[b], false, &[]).is_err(), "{b:?}");
        }
    }

    #[test]
    fn a_held_port_is_refused_to_the_next_taker() {
        // Loopback only, port chosen by the kernel: safe to run anywhere.
        let req = PortRequest { proto: Proto::Tcp, ctr_port: 80, host_ip: Some(Ipv4Addr::LOCALHOST), host_ports: (0, 0) };
        let h = hold(&req, Ipv4Addr::new(10, 0, 0, 2), false).unwrap();
        assert!(h.map.host_port > 0);
        let again = PortRequest { host_ports: (h.map.host_port, h.map.host_port), ..req.clone() };
        let e = hold(&again, Ipv4Addr::new(10, 0, 0, 3), false).unwrap_err();
        assert_eq!(e.message, format!("Bind for 127.0.0.1:{} failed: port is already allocated", h.map.host_port));
        // Another program cannot take it either.
        assert!(std::net::TcpListener::bind(("127.0.0.1", h.map.host_port)).is_err());
        drop(h);
        assert!(hold(&again, Ipv4Addr::new(10, 0, 0, 3), false).is_ok(), "released with its socket");
        // A range skips the taken port.
        let first = hold(&req, Ipv4Addr::new(10, 0, 0, 2), false).unwrap();
        let p = first.map.host_port;
        if p < u16::MAX {
            let range = PortRequest { host_ports: (p, p + 1), ..req.clone() };
            match hold(&range, Ipv4Addr::new(10, 0, 0, 2), false) {
                Ok(h) => assert_eq!(h.map.host_port, p + 1),
                Err(e) => assert!(e.message.contains("already allocated"), "{}", e.message),
            }
        }
        let udp = PortRequest { proto: Proto::Udp, ..req };
        assert!(hold(&udp, Ipv4Addr::new(10, 0, 0, 2), false).is_ok());
    }

    #[test]
    fn a_proxy_port_listens_and_still_conflicts() {
        let req = PortRequest { proto: Proto::Tcp, ctr_port: 80, host_ip: Some(Ipv4Addr::LOCALHOST), host_ports: (0, 0) };
        let h = hold(&req, Ipv4Addr::new(10, 0, 0, 2), true).unwrap();
        let port = h.map.host_port;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "listening");
        let again = PortRequest { host_ports: (port, port), ..req };
        for listen in [true, false] {
            let e = hold(&again, Ipv4Addr::new(10, 0, 0, 3), listen).unwrap_err();
            assert!(e.message.contains("already allocated"), "{}", e.message);
        }
    }

    #[test]
    fn a_foreign_address_is_a_clear_error() {
        let req = PortRequest { proto: Proto::Tcp, ctr_port: 80, host_ip: Some(Ipv4Addr::new(203, 0, 113, 250)), host_ports: (0, 0) };
        let e = hold(&req, Ipv4Addr::new(10, 0, 0, 2), false).unwrap_err();
        assert!(e.message.contains("is not an address of this host"), "{}", e.message);
    }
}
