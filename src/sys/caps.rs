//! Linux capabilities (capabilities(7)): the kernel's names, Docker's default set, and the
//! two operations a container's init needs: shrinking the bounding set (so nothing it execs
//! can regain a dropped capability) and setting its own sets with capset(2).
//! The init never asks for a capability its monitor does not hold: a `--privileged`
//! container keeps what the daemon has, on hosts whose bounding set is already short
//! (this one lacks CAP_SYS_RESOURCE) as everywhere else.

use crate::error::{Context, Error, Result};

/// The kernel's capability names, indexed by number (include/uapi/linux/capability.h).
pub const NAMES: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capability set for containers.
pub const DOCKER_DEFAULT: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

/// The number of a capability by name ("NET_ADMIN", "CAP_NET_ADMIN", any case).
pub fn number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// Docker's rules for `--cap-add` / `--cap-drop` over the default set: "ALL" in add gives
/// every capability, "ALL" in drop starts from nothing; then adds, then drops.
pub fn compute(adds: &[String], drops: &[String]) -> Result<Vec<String>> {
    let check = |list: &[String]| -> Result<()> {
        for c in list {
            if !c.eq_ignore_ascii_case("ALL") && number(c).is_none() {
                return Err(Error::invalid(format!("invalid capability: {c:?}")));
            }
        }
        Ok(())
    };
    check(adds)?;
    check(drops)?;
    let is_all = |l: &[String]| l.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
    let mut set: Vec<u32> = if is_all(drops) {
        Vec::new()
    } else {
        DOCKER_DEFAULT.iter().filter_map(|n| number(n)).collect()
    };
    if is_all(adds) {
        set = (0..NAMES.len() as u32).collect();
    }
    for c in adds.iter().filter_map(|c| number(c)) {
        if !set.contains(&c) {
            set.push(c);
        }
    }
    for c in drops.iter().filter_map(|c| number(c)) {
        set.retain(|x| *x != c);
    }
    set.sort_unstable();
    Ok(set.into_iter().map(|n| NAMES[n as usize].to_string()).collect())
}

/// A capability set as a bit mask.
pub fn mask(names: &[String]) -> u64 {
    names.iter().filter_map(|n| number(n)).fold(0u64, |m, n| m | (1u64 << n))
}

/// The highest capability this kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// Our own permitted set (from /proc/self/status: what we may keep or pass on).
pub fn permitted() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapPrm:")).map(|v| v.trim().to_string()))
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// Drops every capability outside `keep` from the bounding set (prctl PR_CAPBSET_DROP).
pub fn drop_bounding(keep: u64) -> Result<()> {
    for cap in 0..=last_cap() {
        if keep & (1u64 << cap) != 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and no pointers.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            // EINVAL: a capability this kernel does not have.
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(Error::from(e).context(format!("drop {} from the bounding set", NAMES.get(cap as usize).unwrap_or(&"?"))));
            }
        }
    }
    Ok(())
}

/// capset(2)'s header (linux/capability.h, _LINUX_CAPABILITY_VERSION_3).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets our effective, permitted and inheritable sets to `caps`, and clears the ambient
/// set, so exactly `caps` survive execve for a root process.
pub fn set(caps: u64) -> Result<()> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let lo = caps as u32;
    let hi = (caps >> 32) as u32;
    let data = [
        CapData { effective: lo, permitted: lo, inheritable: lo },
        CapData { effective: hi, permitted: hi, inheritable: hi },
    ];
    // SAFETY: header and data are the repr(C) layouts capset(2) reads for version 3 (two
    // data elements); both outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(Error::from(std::io::Error::last_os_error())).ctx(|| "capset");
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers.
    let r = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(Error::from(e).context("clear ambient capabilities"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("net_admin"), Some(12));
        assert_eq!(number("NOPE"), None);
        assert_eq!(NAMES.len(), 41);
    }

    #[test]
    fn docker_rules_for_add_and_drop() {
        let d = compute(&[], &[]).unwrap();
        assert_eq!(d.len(), 14);
        assert!(!d.contains(&"CAP_SYS_ADMIN".to_string()));
        let d = compute(&s(&["NET_ADMIN"]), &s(&["MKNOD"])).unwrap();
        assert!(d.contains(&"CAP_NET_ADMIN".to_string()) && !d.contains(&"CAP_MKNOD".to_string()));
        assert_eq!(compute(&s(&["CHOWN"]), &s(&["ALL"])).unwrap(), ["CAP_CHOWN"]);
        assert_eq!(compute(&s(&["ALL"]), &[]).unwrap().len(), NAMES.len());
        assert!(compute(&s(&["FLY"]), &[]).is_err());
        assert_eq!(mask(&s(&["CAP_CHOWN", "CAP_KILL"])), 1 | (1 << 5));
    }
}
