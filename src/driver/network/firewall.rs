//! TEMPORARY STUB (replaced by the net-nft branch).
use crate::error::Result;
use std::net::Ipv4Addr;
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeNet { pub bridge: String, pub subnet: Ipv4Addr, pub prefix: u8, pub masquerade: bool, pub icc: bool }
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto { Tcp, Udp }
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMap { pub proto: Proto, pub host_ip: Option<Ipv4Addr>, pub host_port: u16, pub ctr_ip: Ipv4Addr, pub ctr_port: u16 }
pub struct Firewall { table: String }
impl Firewall {
    pub fn new(table: &str) -> Firewall { Firewall { table: table.into() } }
    pub fn sync(&self, _nets: &[BridgeNet], _ports: &[PortMap]) -> Result<()> { let _ = &self.table; Ok(()) }
    pub fn add_ports(&self, _ports: &[PortMap]) -> Result<()> { Ok(()) }
    pub fn remove_ports(&self, _ports: &[PortMap]) -> Result<()> { Ok(()) }
    pub fn delete(&self) -> Result<()> { Ok(()) }
}
