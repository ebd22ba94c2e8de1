//! Thin safe wrappers over syscalls; all of berth's unsafe code lives under here.
pub mod cgroup;
pub mod file;
pub mod fs;
pub mod socket;
