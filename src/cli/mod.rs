//! The berth client: parses docker's commands and flags (stage one in `args`, stage two in
//! argh), calls the daemon's API through `client`, and prints what docker prints.

pub mod args;

pub fn main(_args: &[String]) -> i32 {
    eprintln!("berth: the client is not built yet");
    1
}
