//! Thin safe wrappers over syscalls; all of berth's unsafe code lives under here.
pub mod caps;
pub mod cgroup;
pub mod file;
pub mod fs;
pub mod memfd;
pub mod netif;
pub mod netlink;
pub mod nftables;
pub mod proc;
pub mod pty;
pub mod rtnetlink;
pub mod seqpacket;
pub mod socket;
pub mod tty;
