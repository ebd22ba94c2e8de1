//! Pseudo-terminals for `tty: true` containers: allocating a pair from the /dev/ptmx the
//! caller sees (inside the container, its own devpts instance), making the slave a
//! controlling terminal, and setting the window size. The caller decides who holds which end.

use crate::error::{Context, Error, Result};
use nix::fcntl::OFlag;
use nix::pty::{posix_openpt, unlockpt};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful call that created it; nothing else
    // owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Opens a new pty pair from /dev/ptmx: (master, slave), both close-on-exec, the slave
/// opened without becoming anyone's controlling terminal.
pub fn open() -> Result<(OwnedFd, OwnedFd)> {
    let m = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).ctx(|| "open /dev/ptmx")?;
    unlockpt(&m).ctx(|| "unlockpt")?;
    let master = owned(m.into_raw_fd());
    // TIOCGPTPEER (Linux >= 4.13) opens the slave through the master, with no path lookup
    // that a process sharing /dev/pts could race.
    let flags = (OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).bits();
    // SAFETY: TIOCGPTPEER takes an int argument and returns a new descriptor or -1.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context("open the pty slave (TIOCGPTPEER)"));
    }
    Ok((master, owned(rc)))
}

/// Makes `fd` (a pty slave) the controlling terminal of the calling session leader.
pub fn set_controlling_tty(fd: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal from another session).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context("set controlling terminal (TIOCSCTTY)"));
    }
    Ok(())
}

/// Sets the window size of the pty behind `fd` (master or slave).
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one struct winsize from the pointer, which is valid for the
    // duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(Error::from(nix::Error::last()).context(format!("resize the pty to {rows}x{cols}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn pair_passes_bytes() {
        let (master, slave) = open().unwrap();
        set_size(master.as_fd(), 30, 100).unwrap();
        let mut s = std::fs::File::from(slave);
        s.write_all(b"x\n").unwrap();
        let mut m = std::fs::File::from(master);
        let mut buf = [0u8; 8];
        let n = m.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"x\r\n");
    }
}
