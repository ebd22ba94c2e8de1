//! Name resolution between containers: every running container's `/etc/hosts` lists the
//! other containers of each user-defined network it is on, by name, aliases and short ID,
//! and berth rewrites the files of a network's members whenever one joins, leaves or is
//! renamed.
//!
//! Why files and not an embedded DNS server (Docker's choice): no resolver thread or socket
//! per container namespace, no DNAT rule to 127.0.0.11, nothing to restart with the daemon
//! (the files live on in the containers), and every libc and busybox tool reads
//! /etc/hosts. The price: names are only those of the networks' members (no forwarding of
//! other queries is needed: resolv.conf keeps the host's servers), and a program that
//! caches lookups forever will not see a later container.
//!
//! The file is bind-mounted into the container, so it is rewritten in place (same inode),
//! never replaced. The membership table and the file writes sit under one lock, so two
//! containers joining at once cannot lose each other's lines.
//!
//! Lock order: `members` before the network table.

use super::Engine;
use crate::error::{Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A container as the hosts files of its peers name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub name: String,
    pub short_id: String,
    pub ip: Ipv4Addr,
    pub aliases: Vec<String>,
}

/// What a running container's own hosts file is made of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostsFile {
    pub path: PathBuf,
    pub hostname: String,
    pub domainname: String,
    /// `--add-host` entries ("name:ip").
    pub extra_hosts: Vec<String>,
    /// The address of its first network, named by its hostname.
    pub primary: Option<Ipv4Addr>,
    /// User-defined networks whose members it lists.
    pub networks: Vec<String>,
}

/// Running containers and the user-defined networks they are on.
#[derive(Default)]
pub struct Members {
    files: HashMap<String, HostsFile>,
    /// network ID → container ID → how the container is named there.
    by_net: HashMap<String, BTreeMap<String, Peer>>,
}

impl Members {
    /// Whether any container holds an endpoint on `net`.
    pub fn in_use(&self, net: &str) -> bool {
        self.by_net.get(net).is_some_and(|m| !m.is_empty())
    }
}

const BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The text of one container's /etc/hosts.
pub fn render(f: &HostsFile, m: &Members) -> String {
    let mut s = String::from(BASE);
    for extra in &f.extra_hosts {
        // "name:ip" (the ip may be IPv6 and contain colons).
        if let Some((name, ip)) = extra.split_once(':') {
            s.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    if let Some(ip) = f.primary {
        if f.domainname.is_empty() {
            s.push_str(&format!("{ip}\t{}\n", f.hostname));
        } else {
            s.push_str(&format!("{ip}\t{}.{} {}\n", f.hostname, f.domainname, f.hostname));
        }
    }
    for net in &f.networks {
        // The container itself too: it finds its own name and aliases on the network, as
        // Docker's DNS answers them.
        for (_, p) in m.by_net.get(net).into_iter().flatten() {
            let mut names = vec![p.name.clone()];
            names.extend(p.aliases.iter().filter(|a| **a != p.name).cloned());
            names.push(p.short_id.clone());
            s.push_str(&format!("{}\t{}\n", p.ip, names.join(" ")));
        }
    }
    s
}

/// Rewrites the file's own inode (the container's bind mount shows that inode, so a new
/// file renamed over it would not be seen): the new text over the old from offset 0, then
/// the length cut. Not truncate-then-write, which would let a lookup in the container
/// meet an empty file; the first lines (localhost, the container's own) never change.
fn write_in_place(path: &PathBuf, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path).ctx(|| format!("open {}", path.display()))?;
    f.write_all(text.as_bytes()).and_then(|()| f.set_len(text.len() as u64)).ctx(|| format!("write {}", path.display()))
}

impl Engine {
    pub(super) fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a starting container and rewrites its hosts file and those of its peers.
    /// `peers` maps network ID → how it is named there (user-defined networks only).
    pub(super) fn join_hosts(&self, id: &str, file: HostsFile, peers: Vec<(String, Peer)>) -> Result<()> {
        let mut m = self.members();
        // Under the membership lock a network cannot be removed: check it is still here.
        if let Some((gone, _)) = peers.iter().find(|(net, _)| !self.net_table().contains_key(net)) {
            return Err(crate::error::Error::not_found(format!("network {gone} not found")));
        }
        for (net, p) in peers {
            m.by_net.entry(net).or_default().insert(id.to_string(), p);
        }
        m.files.insert(id.to_string(), file.clone());
        write_in_place(&file.path, &render(&file, &m))?;
        self.rewrite_peers(&m, id, &file.networks);
        Ok(())
    }

    /// Forgets a container that stopped and rewrites its former peers' files.
    pub(super) fn leave_hosts(&self, id: &str) {
        let mut m = self.members();
        let Some(file) = m.files.remove(id) else { return };
        for net in &file.networks {
            if let Some(members) = m.by_net.get_mut(net) {
                members.remove(id);
                if members.is_empty() {
                    m.by_net.remove(net);
                }
            }
        }
        self.rewrite_peers(&m, id, &file.networks);
    }

    /// A running container changed name: its peers list the new one.
    pub(super) fn rename_in_hosts(&self, id: &str, name: &str) {
        let mut m = self.members();
        let nets: Vec<String> = m.files.get(id).map(|f| f.networks.clone()).unwrap_or_default();
        for net in &nets {
            if let Some(p) = m.by_net.get_mut(net).and_then(|ms| ms.get_mut(id)) {
                p.name = name.to_string();
            }
        }
        self.rewrite_peers(&m, id, &nets);
    }

    /// Adds or drops one network of a running container (connect/disconnect).
    pub(super) fn change_hosts_network(&self, id: &str, net: &str, peer: Option<Peer>) {
        let mut m = self.members();
        match peer {
            Some(p) => {
                m.by_net.entry(net.to_string()).or_default().insert(id.to_string(), p);
                if let Some(f) = m.files.get_mut(id) {
                    if !f.networks.iter().any(|n| n == net) {
                        f.networks.push(net.to_string());
                    }
                }
            }
            None => {
                if let Some(ms) = m.by_net.get_mut(net) {
                    ms.remove(id);
                }
                if let Some(f) = m.files.get_mut(id) {
                    f.networks.retain(|n| n != net);
                }
            }
        }
        if let Some(f) = m.files.get(id) {
            if let Err(e) = write_in_place(&f.path, &render(f, &m)) {
                log_warn!("container {}: {}", crate::util::id::short(id), e.message);
            }
        }
        self.rewrite_peers(&m, id, &[net.to_string()]);
    }

    /// Rewrites the files of every other member of `nets`.
    fn rewrite_peers(&self, m: &Members, id: &str, nets: &[String]) {
        let mut done = std::collections::HashSet::new();
        for net in nets {
            for pid in m.by_net.get(net).into_iter().flat_map(|ms| ms.keys()) {
                if pid == id || !done.insert(pid.clone()) {
                    continue;
                }
                if let Some(f) = m.files.get(pid) {
                    if let Err(e) = write_in_place(&f.path, &render(f, m)) {
                        log_warn!("container {}: {}", crate::util::id::short(pid), e.message);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, ip: [u8; 4], aliases: &[&str]) -> Peer {
        Peer { name: name.into(), short_id: format!("{name}-id"), ip: Ipv4Addr::from(ip), aliases: aliases.iter().map(|a| a.to_string()).collect() }
    }

    #[test]
    fn a_hosts_file_lists_its_peers_on_user_networks() {
        let mut m = Members::default();
        m.by_net.entry("n1".into()).or_default().insert("a".into(), peer("web", [10, 0, 0, 2], &["www"]));
        m.by_net.entry("n1".into()).or_default().insert("b".into(), peer("db", [10, 0, 0, 3], &["db", "pg"]));
        m.by_net.entry("n2".into()).or_default().insert("c".into(), peer("other", [10, 1, 0, 2], &[]));
        let f = HostsFile {
            hostname: "abc".into(),
            extra_hosts: vec!["gw:10.9.9.9".into(), "v6:::1".into()],
            primary: Some(Ipv4Addr::new(10, 0, 0, 2)),
            networks: vec!["n1".into()],
            ..HostsFile::default()
        };
        let text = render(&f, &m);
        assert!(text.starts_with(BASE));
        let tail = &text[BASE.len()..];
        assert_eq!(tail, "10.9.9.9\tgw\n::1\tv6\n10.0.0.2\tabc\n10.0.0.2\tweb www web-id\n10.0.0.3\tdb pg db-id\n");
        let f = HostsFile { domainname: "example.org".into(), networks: vec![], ..f };
        assert!(render(&f, &m).ends_with("10.0.0.2\tabc.example.org abc\n"));
        assert!(m.in_use("n1") && !m.in_use("n3"));
    }
}
