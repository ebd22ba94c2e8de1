//! The bridge network driver: bridges, veth pairs, addresses and published ports.
pub mod firewall;
