//! The daemon's HTTP face: listeners, the route table, handlers per resource and the Docker
//! wire types. Handlers turn requests into engine jobs; nothing here touches SQLite or
//! syscalls.

pub mod http;
pub mod listen;
