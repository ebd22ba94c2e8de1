//! The userland proxy: plain threads that forward a published port to a container when
//! nf_tables cannot (no kernel support, or `--userland-proxy-only`). TCP: the held socket
//! listens; each connection gets a thread per direction. UDP: one thread reads the held
//! socket and keeps a flow (a socket connected to the container, with its own reply thread)
//! per client address until it has been idle for `UDP_IDLE`.
//!
//! Stopping shuts the sockets down, which wakes every blocked thread; nothing is joined, so
//! a stop never waits on a slow peer.

use super::firewall::Proto;
use crate::error::{Context, Result};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a UDP flow lives without traffic (Docker's proxy uses 90 s).
const UDP_IDLE: Duration = Duration::from_secs(90);
/// Copy buffer per direction: big enough that a bulk transfer costs few syscalls.
const BUF: usize = 64 * 1024;
const STACK: usize = 64 * 1024 + BUF;
/// Sockets of live connections (two each) and UDP flows (one each) per published port:
/// each costs a thread or two, and a flood of connections, or of datagrams from spoofed
/// sources, must not use up the daemon's threads. Past it, new connections are closed at
/// once and datagrams from new sources dropped until some end.
const MAX_LIVE: usize = 2048;

fn full(live: &Mutex<HashMap<u64, OwnedFd>>) -> bool {
    live.lock().unwrap_or_else(|p| p.into_inner()).len() >= MAX_LIVE
}

/// A running proxy for one published port.
pub struct Proxy {
    /// The listening (TCP) or receiving (UDP) socket, to shut down on stop.
    front: OwnedFd,
    /// Sockets of live connections and flows, shut down on stop.
    live: Arc<Mutex<HashMap<u64, OwnedFd>>>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new().name(name.into()).stack_size(STACK).spawn(f).map(drop).ctx(|| format!("spawn {name} thread"))
}

fn dup(fd: &impl AsFd) -> Option<OwnedFd> {
    fd.as_fd().try_clone_to_owned().ok()
}

impl Proxy {
    /// Starts forwarding `sock` (bound to the host port) to `target`.
    pub fn start(proto: Proto, sock: OwnedFd, target: SocketAddrV4) -> Result<Proxy> {
        let front = dup(&sock).ok_or_else(|| crate::error::Error::system("dup proxy socket"))?;
        let live: Arc<Mutex<HashMap<u64, OwnedFd>>> = Arc::default();
        match proto {
            Proto::Tcp => {
                // (Listening already when held for the proxy; a second listen only sets the
                // backlog. MAXCONN: libc's SOMAXCONN is 128 on musl, and nix refuses more.)
                nix::sys::socket::listen(&sock, nix::sys::socket::Backlog::MAXCONN).ctx(|| "listen on the published port")?;
                let listener = TcpListener::from(sock);
                let l = live.clone();
                spawn("proxy-tcp", move || accept_loop(listener, target, l))?;
            }
            Proto::Udp => {
                let s = UdpSocket::from(sock);
                let l = live.clone();
                spawn("proxy-udp", move || udp_loop(s, target, l))?;
            }
        }
        Ok(Proxy { front, live })
    }

    /// Stops accepting and cuts every connection.
    pub fn stop(&self) {
        let _ = nix::sys::socket::shutdown(self.front.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        for fd in self.live.lock().unwrap_or_else(|p| p.into_inner()).values() {
            let _ = nix::sys::socket::shutdown(fd.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn next_id() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn accept_loop(listener: TcpListener, target: SocketAddrV4, live: Arc<Mutex<HashMap<u64, OwnedFd>>>) {
    loop {
        let client = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EMFILE and friends: back off instead of spinning.
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(_) => return, // shut down
        };
        if full(&live) {
            continue; // (dropping `client` closes it)
        }
        let live = live.clone();
        let _ = spawn("proxy-conn", move || serve_conn(client, target, live));
    }
}

fn serve_conn(client: TcpStream, target: SocketAddrV4, live: Arc<Mutex<HashMap<u64, OwnedFd>>>) {
    let Ok(upstream) = TcpStream::connect_timeout(&SocketAddr::V4(target), Duration::from_secs(10)) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (id_c, id_u) = (next_id(), next_id());
    {
        let mut l = live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fd) = dup(&client) {
            l.insert(id_c, fd);
        }
        if let Some(fd) = dup(&upstream) {
            l.insert(id_u, fd);
        }
    }
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else { return };
    let back = spawn("proxy-conn", move || pump(u2, c2));
    if back.is_ok() {
        pump(client, upstream);
    }
    let mut l = live.lock().unwrap_or_else(|p| p.into_inner());
    l.remove(&id_c);
    l.remove(&id_u);
}

/// Copies `from` to `to` until end of stream, then half-closes `to` so the other side
/// sees the end too.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn udp_loop(front: UdpSocket, target: SocketAddrV4, live: Arc<Mutex<HashMap<u64, OwnedFd>>>) {
    let flows: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; BUF];
    loop {
        let (n, from) = match front.recv_from(&mut buf) {
            Ok((0, _)) if front.take_error().is_ok() => continue,
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let upstream = {
            let mut f = flows.lock().unwrap_or_else(|p| p.into_inner());
            match f.get(&from).and_then(|u| u.try_clone().ok()) {
                Some(u) => u,
                None if full(&live) => continue,
                None => {
                    let Some(u) = new_flow(&front, from, target, &flows, &live) else { continue };
                    f.insert(from, u.try_clone().expect("clone udp socket"));
                    u
                }
            }
        };
        let _ = upstream.send(&buf[..n]);
    }
}

/// A socket connected to the container for client `from`, and its reply thread.
fn new_flow(
    front: &UdpSocket,
    from: SocketAddr,
    target: SocketAddrV4,
    flows: &Arc<Mutex<HashMap<SocketAddr, UdpSocket>>>,
    live: &Arc<Mutex<HashMap<u64, OwnedFd>>>,
) -> Option<UdpSocket> {
    let up = UdpSocket::bind("0.0.0.0:0").ok()?;
    up.connect(target).ok()?;
    up.set_read_timeout(Some(UDP_IDLE)).ok()?;
    let (reply_up, reply_front) = (up.try_clone().ok()?, front.try_clone().ok()?);
    let id = next_id();
    if let Some(fd) = dup(&up) {
        live.lock().unwrap_or_else(|p| p.into_inner()).insert(id, fd);
    }
    let (flows, live) = (flows.clone(), live.clone());
    spawn("proxy-udp-flow", move || {
        let mut buf = vec![0u8; BUF];
        while let Ok(n) = reply_up.recv(&mut buf) {
            if n == 0 && reply_up.take_error().map(|e| e.is_none()).unwrap_or(false) {
                // Zero bytes after a shutdown: the proxy is stopping.
                break;
            }
            let _ = reply_front.send_to(&buf[..n], from);
        }
        flows.lock().unwrap_or_else(|p| p.into_inner()).remove(&from);
        live.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    })
    .ok()?;
    Some(up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn bound(proto: Proto) -> (OwnedFd, u16) {
        let req = super::super::ports::PortRequest { proto, ctr_port: 1, host_ip: Some(Ipv4Addr::LOCALHOST), host_ports: (0, 0) };
        let h = super::super::ports::hold(&req, Ipv4Addr::LOCALHOST, true).unwrap();
        (h.sock, h.map.host_port)
    }

    #[test]
    fn tcp_is_forwarded_both_ways_and_stop_cuts_it() {
        let backend = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = match backend.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            _ => unreachable!(),
        };
        std::thread::spawn(move || {
            for conn in backend.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut c = conn;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let (sock, port) = bound(Proto::Tcp);
        let p = Proxy::start(Proto::Tcp, sock, target).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let data = vec![7u8; 300_000];
        let mut w = c.try_clone().unwrap();
        let sent = data.clone();
        let writer = std::thread::spawn(move || w.write_all(&sent).unwrap());
        let mut got = vec![0u8; data.len()];
        c.read_exact(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got, data);
        p.stop();
        let mut one = [0u8; 1];
        assert!(matches!(c.read(&mut one), Ok(0) | Err(_)), "the connection was cut at stop");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err() || {
            // The listener is shut down: a connect may still complete in the backlog but
            // gets no data.
            true
        });
    }

    #[test]
    fn udp_is_forwarded_both_ways() {
        let backend = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = match backend.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            _ => unreachable!(),
        };
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = backend.recv_from(&mut buf) {
                let mut reply = b"re:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = backend.send_to(&reply, from);
            }
        });
        let (sock, port) = bound(Proto::Udp);
        let p = Proxy::start(Proto::Udp, sock, target).unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.connect(("127.0.0.1", port)).unwrap();
        for msg in [&b"one"[..], b"two"] {
            c.send(msg).unwrap();
            let mut buf = [0u8; 64];
            let n = c.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], [b"re:", msg].concat().as_slice());
        }
        p.stop();
    }
}
