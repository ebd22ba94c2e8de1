//! A TCP proxy on 127.0.0.1 in front of a real registry, for fault tests: it forwards
//! bytes as they are, or slowly, or cuts the connection after a number of response bytes
//! (once), so pulls can be interrupted, stalled or resumed against the real thing.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy)]
pub enum Fault {
    None,
    /// Forward at most this many bytes per second from the registry.
    Slow(u64),
    /// Close the first connection that has sent this many response bytes.
    CutOnceAfter(u64),
    /// Flip one byte at this offset of the first connection's response that gets there.
    CorruptOnceAt(u64),
}

pub struct Proxy {
    pub addr: String,
    stop: Arc<AtomicBool>,
    /// Response bytes forwarded, over all connections.
    pub forwarded: Arc<AtomicU64>,
}

impl Proxy {
    pub fn start(upstream: &str, fault: Fault) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicU64::new(0));
        let cut_done = Arc::new(AtomicBool::new(false));
        let (s2, f2, up) = (stop.clone(), forwarded.clone(), upstream.to_string());
        std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(&up) else { continue };
                        let (f3, cut) = (f2.clone(), cut_done.clone());
                        let (c2, s3) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        std::thread::spawn(move || pipe(c2, s3, None, None, None));
                        std::thread::spawn(move || pipe(server, client, Some(fault), Some(f3), Some(cut)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { addr, stop, forwarded }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, fault: Option<Fault>, count: Option<Arc<AtomicU64>>, cut: Option<Arc<AtomicBool>>) {
    let mut buf = [0u8; 16 * 1024];
    let mut sent = 0u64;
    'outer: loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let (Some(Fault::CutOnceAfter(limit)), Some(c)) = (fault, &cut) {
            if !c.load(Ordering::Relaxed) && sent + n as u64 >= limit {
                c.store(true, Ordering::Relaxed);
                let _ = to.write_all(&buf[..(limit - sent) as usize]);
                let _ = to.shutdown(std::net::Shutdown::Both);
                let _ = from.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
        if let (Some(Fault::CorruptOnceAt(at)), Some(c)) = (fault, &cut) {
            if !c.load(Ordering::Relaxed) && sent + n as u64 > at {
                c.store(true, Ordering::Relaxed);
                buf[(at - sent) as usize] ^= 0xff;
            }
        }
        // Slow: a tenth of the rate every 100 ms.
        let step = match fault {
            Some(Fault::Slow(rate)) => ((rate / 10).max(1) as usize).min(n),
            _ => n,
        };
        for piece in buf[..n].chunks(step) {
            if matches!(fault, Some(Fault::Slow(_))) {
                std::thread::sleep(Duration::from_millis(100));
            }
            if to.write_all(piece).is_err() {
                break 'outer;
            }
        }
        sent += n as u64;
        if let Some(c) = &count {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
