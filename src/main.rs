//! berth: one binary that is the daemon (`berth daemon`), the container monitor it spawns
//! (`berth monitor`, internal), and the docker-compatible client (every other command).
//! main only dispatches on argv[1]; each mode lives in its own module.
#![recursion_limit = "256"]

// First, so that its logging macros are visible in every module below.
#[macro_use]
mod util;

mod api;
mod cli;
mod client;
mod daemon;
mod driver;
mod engine;
mod error;
mod graph;
mod monitor;
mod registry;
mod sys;
#[cfg(test)]
mod testutil;
mod version;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("daemon") => daemon::main(&args[2..]),
        Some("monitor") => monitor::main(&args[2..]),
        _ => cli::main(&args),
    };
    std::process::exit(code);
}
