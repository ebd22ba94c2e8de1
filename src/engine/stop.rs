//! `ContainerStop` (the stop signal, then SIGKILL after the timeout) and `ContainerKill`
//! (any signal; SIGKILL waits for the exit, so `kill` then `rm` works in scripts). Signals
//! are delivered by the container's monitor, which alone knows whether the init it spawned
//! is still unreaped — so a recycled PID can never be hit.

use super::{Ctr, Engine, Job};
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

pub struct ContainerStop {
    pub id: String,
    /// Seconds to wait after the stop signal; None = the container's StopTimeout or 10;
    /// negative = wait forever.
    pub timeout: Option<i64>,
}

pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// How long to wait for the exit once SIGKILL was sent; beyond it something is badly
/// wrong (a process stuck in the kernel) and the job reports it.
const KILL_GRACE: Duration = Duration::from_secs(30);

impl Job for ContainerStop {
    type Output = ();
    const NAME: &'static str = "ContainerStop";

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<()> {
        let ctr = e.lookup(&self.id)?;
        let (exits, signal, timeout) = {
            let g = ctr.lock();
            if !g.0.running() {
                return Err(Error::not_modified());
            }
            let sig = if g.0.spec.stop_signal.is_empty() {
                libc::SIGTERM
            } else {
                parse_signal(&g.0.spec.stop_signal)?
            };
            let t = self.timeout.or(g.0.spec.stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
            (g.1.exits, sig, t)
        };
        let _ = e.exec.kill(&ctr.id, signal);
        let grace = if timeout < 0 { None } else { Some(Duration::from_secs(timeout as u64)) };
        if wait_exit(&ctr, exits, grace) {
            return Ok(());
        }
        let _ = e.exec.kill(&ctr.id, libc::SIGKILL);
        if wait_exit(&ctr, exits, Some(KILL_GRACE)) {
            return Ok(());
        }
        Err(Error::system(format!("container {} did not exit after SIGKILL", ctr.id)))
    }
}

pub struct ContainerKill {
    pub id: String,
    /// A name ("KILL", "SIGTERM", "hup") or a number; empty means KILL.
    pub signal: String,
}

impl Job for ContainerKill {
    type Output = ();
    const NAME: &'static str = "ContainerKill";

    fn target(&self) -> String {
        format!("{} ({})", self.id, self.signal)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let signal = if self.signal.is_empty() { libc::SIGKILL } else { parse_signal(&self.signal)? };
        let ctr = e.lookup(&self.id)?;
        let exits = {
            let g = ctr.lock();
            if !g.0.running() {
                return Err(not_running(&ctr.id));
            }
            g.1.exits
        };
        e.exec.kill(&ctr.id, signal).map_err(|err| {
            if err.kind == crate::error::Kind::NotFound {
                not_running(&ctr.id)
            } else {
                err
            }
        })?;
        if signal == libc::SIGKILL && !wait_exit(&ctr, exits, Some(KILL_GRACE)) {
            return Err(Error::system(format!("container {} did not exit after SIGKILL", ctr.id)));
        }
        Ok(())
    }
}

pub fn not_running(id: &str) -> Error {
    Error::conflict(format!("Container {id} is not running"))
}

/// Waits until the container has exited (one more exit than `exits`, or not running), at
/// most `limit` (None = forever). True if it did.
pub fn wait_exit(ctr: &Ctr, exits: u64, limit: Option<Duration>) -> bool {
    let deadline = limit.map(|l| Instant::now() + l);
    let mut g = ctr.lock();
    loop {
        if g.1.exits > exits || !g.0.running() {
            return true;
        }
        let step = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return false;
                }
                (d - now).min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        g = ctr.wait_change(g, step);
    }
}

/// Linux signal names (x86_64 / generic numbering) for `kill -s` and StopSignal.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
    ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12),
    ("PIPE", 13), ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CONT", 18),
    ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24),
    ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("POLL", 29),
    ("PWR", 30), ("SYS", 31),
];

/// Parses "KILL", "SIGKILL", "kill", "9", "RTMIN+3" into a signal number; anything else is
/// Docker's 400 "Invalid signal: X".
pub fn parse_signal(s: &str) -> Result<i32> {
    let invalid = || Error::invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n) } else { Err(invalid()) };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str| -> Result<i32> {
        let off: i32 = if rest.is_empty() { 0 } else { rest.parse().map_err(|_| invalid())? };
        let n = base + off;
        if (34..=64).contains(&n) { Ok(n) } else { Err(invalid()) }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(34, rest.strip_prefix('+').unwrap_or(if rest.is_empty() { "" } else { "x" }));
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = match rest.strip_prefix('-') {
            Some(r) => -(r.parse::<i32>().map_err(|_| invalid())?),
            None if rest.is_empty() => 0,
            None => return Err(invalid()),
        };
        return rt(64 + off, "");
    }
    Err(invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signals_like_docker() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("WINCH").unwrap(), 28);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), 36);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), 63);
        for bad in ["NOSUCHSIG", "0", "65", "RTMIN+40", "SIG", ""] {
            let e = parse_signal(bad).unwrap_err();
            assert_eq!(e.message, format!("Invalid signal: {bad}"));
        }
    }
}
