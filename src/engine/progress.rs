//! How long jobs (pull, push, load) say what they are doing while they do it: Docker's
//! progress messages as plain data ("abc123: Downloading 1.2 of 3.4 MB"), reported from any
//! thread, and the one question going the other way — is anybody still listening. The API
//! turns reports into Docker's JSON progress stream; the engine never sees that format.

use std::time::{Duration, Instant};

/// One progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The line it belongs to (a short layer ID, or the tag); None for a general message.
    pub id: Option<String>,
    pub status: String,
    /// Bytes done and, when known, the total.
    pub bytes: Option<(u64, Option<u64>)>,
    /// A layer's line (Docker gives those an empty progress detail, which terminals use
    /// to redraw the line in place) rather than a heading.
    pub layer: bool,
}

impl Report {
    /// A layer's status.
    pub fn line(id: &str, status: impl Into<String>) -> Report {
        Report { id: Some(id.to_string()), status: status.into(), bytes: None, layer: true }
    }

    /// A layer's byte count.
    pub fn bytes(id: &str, status: &str, done: u64, total: Option<u64>) -> Report {
        Report { id: Some(id.to_string()), status: status.into(), bytes: Some((done, total)), layer: true }
    }

    /// A heading that names what follows ("Pulling from library/busybox", id = the tag).
    pub fn heading(id: &str, status: impl Into<String>) -> Report {
        Report { id: Some(id.to_string()), status: status.into(), bytes: None, layer: false }
    }

    pub fn general(status: impl Into<String>) -> Report {
        Report { id: None, status: status.into(), bytes: None, layer: false }
    }
}

/// Where reports go. Implementations are called from worker threads.
pub trait Progress: Sync {
    fn report(&self, r: Report);

    /// True once the client is gone: the job should stop unless others wait on its work.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A sink that drops everything (jobs run without a client, e.g. an automatic pull).
pub struct Silent;

impl Progress for Silent {
    fn report(&self, _: Report) {}
}

/// Rate limit for byte counts: at most one report per `every`, plus the last one.
pub struct Throttle {
    last: Option<Instant>,
    every: Duration,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle { last: None, every }
    }

    /// True when a report is due now.
    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        match self.last {
            Some(t) if now.duration_since(t) < self.every => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// "sha256:0123456789abcdef..." → "0123456789ab": how progress lines name layers.
pub fn short(digest: &str) -> String {
    crate::util::id::short(digest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_the_first_through_then_waits() {
        let mut t = Throttle::new(Duration::from_secs(60));
        assert!(t.due());
        assert!(!t.due());
        assert_eq!(short(&format!("sha256:{}", "ab".repeat(32))), "abababababab");
    }
}
