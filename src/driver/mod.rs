//! Drivers: storage (graph drivers), exec (container monitors), later network.

pub mod exec;
pub mod network;
pub mod storage;
