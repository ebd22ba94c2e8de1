//! Drivers: storage (graph drivers), exec (container monitors), network (bridges, veths,
//! published ports).

pub mod exec;
pub mod network;
pub mod storage;
