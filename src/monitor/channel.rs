//! Messages of monitor/proto.rs on a SOCK_SEQPACKET socket: one JSON document per packet,
//! with at most one descriptor attached (SCM_RIGHTS). Used by both ends, the monitor and
//! driver/exec; it owns the encoding only, not what a message means.

use super::proto::MAX_MESSAGE;
use crate::error::{Error, Result};
use crate::sys::seqpacket;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::os::fd::{BorrowedFd, OwnedFd};

/// Sends `msg` as one packet, with `pass` attached.
pub fn send<T: Serialize>(fd: BorrowedFd<'_>, msg: &T, pass: Option<BorrowedFd<'_>>) -> Result<()> {
    let data = serde_json::to_vec(msg).map_err(|e| Error::system(format!("encode message: {e}")))?;
    if data.len() > MAX_MESSAGE {
        return Err(Error::invalid(format!("message of {} bytes exceeds {MAX_MESSAGE}", data.len())));
    }
    seqpacket::send(fd, &data, pass)
}

/// Receives one message: `None` at end of stream, else the message and the descriptor
/// that came with it. More than one descriptor is refused (they are all closed).
pub fn recv<T: DeserializeOwned>(fd: BorrowedFd<'_>) -> Result<Option<(T, Option<OwnedFd>)>> {
    let Some((buf, mut fds)) = seqpacket::recv_packet(fd, MAX_MESSAGE)? else { return Ok(None) };
    if fds.len() > 1 {
        return Err(Error::invalid(format!("message came with {} descriptors, expected one", fds.len())));
    }
    let msg = serde_json::from_slice(&buf).map_err(|e| Error::invalid(format!("decode message: {e}")))?;
    Ok(Some((msg, fds.pop())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::proto::{ExitStatus, FromMonitor, ToMonitor};
    use std::os::fd::AsFd;

    #[test]
    fn messages_round_trip_with_descriptors() {
        let (a, b) = seqpacket::pair().unwrap();
        let (x, _y) = std::os::unix::net::UnixStream::pair().unwrap();
        let attach = ToMonitor::Attach { stdin: true, stdout: true, stderr: false, preread: b"hi".to_vec() };
        send(a.as_fd(), &attach, Some(x.as_fd())).unwrap();
        send(a.as_fd(), &ToMonitor::Go, None).unwrap();
        let (m, fd) = recv::<ToMonitor>(b.as_fd()).unwrap().unwrap();
        assert_eq!(m, attach);
        assert!(fd.is_some());
        let (m, fd) = recv::<ToMonitor>(b.as_fd()).unwrap().unwrap();
        assert_eq!((m, fd.is_none()), (ToMonitor::Go, true));

        let exit = FromMonitor::Exit(ExitStatus { code: 137, finished_at: 5, oom_killed: false, error: String::new() });
        send(b.as_fd(), &exit, None).unwrap();
        assert_eq!(recv::<FromMonitor>(a.as_fd()).unwrap().unwrap().0, exit);
        drop(b);
        assert!(recv::<FromMonitor>(a.as_fd()).unwrap().is_none());
    }

    #[test]
    fn garbage_and_oversize_are_errors() {
        let (a, b) = seqpacket::pair().unwrap();
        seqpacket::send(a.as_fd(), b"{not json", None).unwrap();
        assert!(recv::<ToMonitor>(b.as_fd()).is_err());
        let huge = ToMonitor::Attach { stdin: false, stdout: true, stderr: true, preread: vec![1; MAX_MESSAGE] };
        assert!(send(a.as_fd(), &huge, None).is_err());
    }
}
