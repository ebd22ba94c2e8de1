//! The client's terminal: its window size (TIOCGWINSZ, see ioctl_tty(2)), raw mode for
//! `run -t`/`attach` (cfmakeraw(3)) and echo off for password prompts (termios(3) ECHO),
//! each restored when its guard drops. Nothing here talks to the daemon.

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// Rows and columns of the terminal on `fd`, or None when it is not a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is a valid open descriptor for the borrow's lifetime and `ws` is a
    // properly aligned, writable winsize that TIOCGWINSZ fills in.
    let r = unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) };
    match r {
        Ok(_) if ws.ws_row > 0 || ws.ws_col > 0 => Some((ws.ws_row, ws.ws_col)),
        _ => None,
    }
}

/// The client's stdin in raw mode until dropped (also on error paths and panics that
/// unwind), so keystrokes such as Ctrl-C reach the container's terminal.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn stdin() -> nix::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// The client's stdin with echo off until dropped, so a typed password stays off the
/// screen; the line discipline still hands over whole lines.
pub struct NoEcho {
    saved: Termios,
}

impl NoEcho {
    pub fn stdin() -> nix::Result<NoEcho> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &quiet)?;
        Ok(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_has_no_window_size() {
        let (r, _w) = nix::unistd::pipe().expect("pipe");
        assert_eq!(window_size(r.as_fd()), None);
    }
}
