//! `ContainerWait`: block until a container reaches a condition, Docker's three:
//! `not-running` (return at once if it is not running), `next-exit` (the next exit from
//! now, even if it has not started yet: `run` waits before it starts) and `removed`. The job
//! resolves the container up front (so a 404 can still be an HTTP status); the returned
//! `Waiter` does the blocking, checking between waits whether the client went away.

use super::{Ctr, Engine, Job};
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

impl Condition {
    pub fn parse(s: &str) -> Result<Condition> {
        match s {
            "" | "not-running" => Ok(Condition::NotRunning),
            "next-exit" => Ok(Condition::NextExit),
            "removed" => Ok(Condition::Removed),
            other => Err(Error::invalid(format!("invalid condition: {other:?}"))),
        }
    }
}

pub struct ContainerWait {
    pub id: String,
    pub condition: Condition,
}

pub struct Waiter {
    ctr: Arc<Ctr>,
    condition: Condition,
    exits: u64,
}

impl Job for ContainerWait {
    type Output = Waiter;
    const NAME: &'static str = "ContainerWait";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        format!("{} ({:?})", self.id, self.condition)
    }

    fn run(self, e: &Engine) -> Result<Waiter> {
        let ctr = e.lookup(&self.id)?;
        let exits = ctr.lock().1.exits;
        Ok(Waiter { ctr, condition: self.condition, exits })
    }
}

impl Waiter {
    /// Blocks until the condition holds and returns the exit code, or None once `gone()`
    /// says the client left (checked every `poll`).
    pub fn wait(&self, gone: &dyn Fn() -> bool, poll: Duration) -> Option<i32> {
        let mut g = self.ctr.lock();
        loop {
            let done = match self.condition {
                Condition::NotRunning => !g.0.running() && g.1.busy.is_none(),
                Condition::NextExit => g.1.exits > self.exits,
                Condition::Removed => g.1.removed,
            };
            if done {
                return Some(g.0.state.exit_code);
            }
            g = self.ctr.wait_change(g, poll);
            if gone() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        assert_eq!(Condition::parse("").unwrap(), Condition::NotRunning);
        assert_eq!(Condition::parse("removed").unwrap(), Condition::Removed);
        assert!(Condition::parse("soon").is_err());
    }
}
