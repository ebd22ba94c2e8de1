//! `berth daemon`: parses the daemon's flags, builds the engine (GraphDB, storage driver,
//! exec driver), restores containers that outlived the previous daemon, and serves the API
//! until SIGTERM or SIGINT. Running containers keep running when the daemon stops.

pub fn main(_args: &[String]) -> i32 {
    todo!()
}
