//! Small pure helpers that every layer may use (time formats, IDs, the json-file log line
//! format, the daemon's log output). Nothing here touches the engine, the graph or HTTP.

#[macro_use]
pub mod log;
pub mod atomic;
pub mod base64;
pub mod id;
pub mod jsonlog;
pub mod pipe;
pub mod readbuf;
pub mod reference;
pub mod time;
