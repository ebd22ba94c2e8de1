//! Stream sockets as the HTTP server and client use them: one `Stream` type over unix and
//! tcp connections (timeouts, half-close, duplication, giving the descriptor away), and the
//! adoption of listening sockets inherited from systemd (sd_listen_fds(3)). It must not
//! know HTTP; the one `unsafe` here is the adoption of an inherited descriptor.

use crate::error::{Context, Error, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{getsockname, getsockopt, sockopt, AddressFamily, SockType};
use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected stream socket, unix or tcp.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tcp(s) => s.set_write_timeout(t),
        }
    }

    /// Puts the descriptor in (non)blocking mode; the timeouts above need blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    /// Disables Nagle on tcp (a small response must leave at once); no-op on unix.
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Unix(_) => Ok(()),
            Stream::Tcp(s) => s.set_nodelay(true),
        }
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tcp(s) => s.shutdown(how),
        }
    }

    /// A second descriptor for the same socket (dup(2)): socket options, timeouts and
    /// shutdown are shared, closing one descriptor is not.
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tcp(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Unix(s) => (&*s).write(buf),
            Stream::Tcp(s) => (&*s).write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match *self {
            Stream::Unix(s) => (&*s).write_vectored(bufs),
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

impl From<Stream> for OwnedFd {
    fn from(s: Stream) -> OwnedFd {
        match s {
            Stream::Unix(s) => s.into(),
            Stream::Tcp(s) => s.into(),
        }
    }
}

/// Takes ownership of descriptor `fd` that this process inherited open (systemd socket
/// activation), after checking that it is open, and marks it close-on-exec so that the
/// monitors the daemon spawns do not inherit the daemon's listening sockets.
///
/// Call it at most once per descriptor, before anything else could have opened or closed
/// that number: `api::listen` does so at start-up and unsets LISTEN_FDS right after, as
/// sd_listen_fds(3) asks, so no second caller can adopt the same descriptors.
pub fn adopt_inherited(fd: RawFd) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(Error::invalid(format!("adopt inherited descriptor {fd}: not a descriptor")));
    }
    fcntl(fd, FcntlArg::F_GETFD).ctx(|| format!("adopt inherited descriptor {fd}"))?;
    // SAFETY: F_GETFD just succeeded, so `fd` is open; it was handed to this process by its
    // parent under the socket-activation protocol and, per this function's contract, no other
    // owner exists in this process, so the OwnedFd is its only owner and closes it once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .ctx(|| format!("set close-on-exec on inherited descriptor {fd}"))?;
    Ok(owned)
}

/// The address family of a listening stream socket; an error names what else it is.
pub fn listening_family(fd: BorrowedFd<'_>) -> Result<AddressFamily> {
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let ty =
        getsockopt(&fd, sockopt::SockType).ctx(|| format!("descriptor {raw} is not a socket"))?;
    if ty != SockType::Stream {
        return Err(Error::invalid(format!("descriptor {raw} is not a stream socket")));
    }
    let listening =
        getsockopt(&fd, sockopt::AcceptConn).ctx(|| format!("query descriptor {raw}"))?;
    if !listening {
        return Err(Error::invalid(format!("descriptor {raw} is not a listening socket")));
    }
    let addr: SockaddrStorage =
        getsockname(raw).ctx(|| format!("getsockname of descriptor {raw}"))?;
    addr.family().ok_or_else(|| Error::invalid(format!("descriptor {raw} has no address family")))
}

/// A connection taken over after an HTTP head (a hijacked attach stream, on either end):
/// bytes that were already read past the head are delivered before the socket's own.
pub struct Upgraded {
    stream: Stream,
    buffered: Vec<u8>,
    offset: usize,
}

impl Upgraded {
    pub fn new(stream: Stream, buffered: Vec<u8>) -> Upgraded {
        Upgraded { stream, buffered, offset: 0 }
    }

    /// A second handle on the same socket (dup(2)), e.g. one thread copying stdin in while
    /// another copies output out. Already-read bytes stay with this handle.
    pub fn try_clone(&self) -> io::Result<Upgraded> {
        Ok(Upgraded::new(self.stream.try_clone()?, Vec::new()))
    }

    /// Half-close: the peer reads EOF, and may still send.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)
    }

    /// The bytes read past the head and not yet delivered; `read` gives them first unless
    /// they are taken here. Take them before `into_fd`, which would lose them.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buffered.split_off(self.offset);
        self.buffered = Vec::new();
        self.offset = 0;
        rest
    }

    /// The socket's descriptor, e.g. to pass to a container monitor with SCM_RIGHTS.
    pub fn into_fd(self) -> OwnedFd {
        self.stream.into()
    }
}

impl Read for Upgraded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset < self.buffered.len() {
            let n = buf.len().min(self.buffered.len() - self.offset);
            buf[..n].copy_from_slice(&self.buffered[self.offset..self.offset + n]);
            self.offset += n;
            return Ok(n);
        }
        (&self.stream).read(buf)
    }
}

impl Write for Upgraded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.stream).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::fd::{AsRawFd, IntoRawFd};
    use std::os::unix::net::UnixListener;

    #[test]
    fn adopts_and_classifies_listening_sockets() {
        let dir = TempDir::new("socket-adopt");
        let unix = UnixListener::bind(dir.path().join("s")).unwrap();
        let fd = adopt_inherited(unix.into_raw_fd()).unwrap();
        assert_eq!(listening_family(fd.as_fd()).unwrap(), AddressFamily::Unix);
        let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);

        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = adopt_inherited(tcp.into_raw_fd()).unwrap();
        assert_eq!(listening_family(fd.as_fd()).unwrap(), AddressFamily::Inet);
    }

    #[test]
    fn refuses_what_is_not_a_listening_stream_socket() {
        let (a, _b) = UnixStream::pair().unwrap();
        let e = listening_family(a.as_fd()).unwrap_err();
        assert!(e.message.contains("not a listening socket"), "{}", e.message);
        let dir = TempDir::new("socket-file");
        let f = std::fs::File::create(dir.path().join("f")).unwrap();
        assert!(listening_family(f.as_fd()).is_err());
        assert!(adopt_inherited(-1).is_err());
    }
}
