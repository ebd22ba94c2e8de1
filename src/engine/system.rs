//! `SystemInfo`: the counts and host facts behind `info` and `version`.

use super::container::Status;
use super::{Engine, Job};
use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct SystemInfo {
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
    pub driver: String,
    /// (label, value) lines about the storage driver.
    pub driver_status: Vec<(String, String)>,
    pub data_root: String,
    pub cgroup_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub os_version: String,
    pub hostname: String,
    pub ncpu: usize,
    pub mem_total: u64,
    pub architecture: String,
}

pub struct SystemInfoJob;

impl Job for SystemInfoJob {
    type Output = SystemInfo;
    const NAME: &'static str = "SystemInfo";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        String::new()
    }

    fn run(self, e: &Engine) -> Result<SystemInfo> {
        let mut info = host_facts();
        for c in e.all() {
            let s = c.lock().0.state.status;
            info.containers += 1;
            match s {
                Status::Running | Status::Restarting => info.running += 1,
                Status::Paused => info.paused += 1,
                _ => info.stopped += 1,
            }
        }
        info.images = e.db.all_images()?.len();
        info.driver = e.storage.name().to_string();
        info.driver_status = vec![("Root Dir".to_string(), e.storage.home().display().to_string())];
        info.data_root = e.config.data_root.display().to_string();
        Ok(info)
    }
}

/// Facts about the host that do not depend on the engine.
pub fn host_facts() -> SystemInfo {
    let uts = nix::sys::utsname::uname().ok();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    SystemInfo {
        cgroup_version: if crate::sys::cgroup::is_v2() { "2".into() } else { "1".into() },
        kernel_version: uts.as_ref().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default(),
        architecture: uts.as_ref().map(|u| u.machine().to_string_lossy().into_owned()).unwrap_or_default(),
        hostname: uts.as_ref().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default(),
        operating_system: field("PRETTY_NAME"),
        os_version: field("VERSION_ID"),
        ncpu: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        mem_total,
        ..SystemInfo::default()
    }
}
