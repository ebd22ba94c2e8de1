//! Reading one tar header with its PAX records into what the applier needs: owner, mode,
//! nanosecond times, xattrs and device numbers. Lenient where Go's archive/tar (and so
//! Docker) is lenient (blank numeric fields), strict elsewhere; it never touches files.

use crate::error::{Error, Result};
use nix::sys::stat::{makedev, Mode};
use nix::sys::time::TimeSpec;
use std::ffi::CString;
use std::io::{self, Read};

const XATTR_PAX_PREFIX: &str = "SCHILY.xattr.";

/// Metadata of one entry, from its header and PAX records.
pub(super) struct Meta {
    pub uid: u32,
    pub gid: u32,
    pub mode: Mode,
    pub atime: TimeSpec,
    pub mtime: TimeSpec,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

pub(super) fn bad_header(e: io::Error) -> Error {
    Error::invalid(format!("invalid tar archive: {e}"))
}

/// A PAX time ("1700000000.123456789", possibly negative) as a timespec.
pub(super) fn pax_time(v: &[u8]) -> Option<TimeSpec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || (int.is_empty() && frac.is_empty())
    {
        return None;
    }
    let secs: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nsec: i64 = 0;
    for i in 0..9 {
        nsec = nsec * 10 + frac.as_bytes().get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    Some(match (neg, nsec) {
        (false, _) => TimeSpec::new(secs, nsec),
        (true, 0) => TimeSpec::new(-secs, 0),
        (true, _) => TimeSpec::new(-secs - 1, 1_000_000_000 - nsec),
    })
}

fn later(a: TimeSpec, b: TimeSpec) -> bool {
    (a.tv_sec(), a.tv_nsec()) > (b.tv_sec(), b.tv_nsec())
}

/// A numeric header field; an empty one (all NULs or spaces) is 0, as Go's archive/tar
/// reads it: some tools leave uid, gid or mtime blank.
fn number<T: From<u8>>(value: io::Result<T>, raw: &[u8]) -> Result<T> {
    match value {
        Ok(v) => Ok(v),
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(T::from(0)),
        Err(e) => Err(bad_header(e)),
    }
}

pub(super) fn owner(h: &tar::Header) -> Result<(u32, u32)> {
    let old = h.as_old();
    let uid = number(h.uid(), &old.uid)?;
    let gid = number(h.gid(), &old.gid)?;
    match (u32::try_from(uid), u32::try_from(gid)) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        _ => Err(Error::invalid(format!("owner {uid}:{gid} is out of range"))),
    }
}

pub(super) fn meta<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = e.header();
    let (uid, gid) = owner(h)?;
    let mode = Mode::from_bits_truncate(number(h.mode(), &h.as_old().mode)? & 0o7777);
    let secs = number(h.mtime(), &h.as_old().mtime)?;
    let mut mtime = TimeSpec::new(i64::try_from(secs).unwrap_or(i64::MAX), 0);
    let mut atime = None;
    let mut xattrs = Vec::new();
    if let Some(exts) = e.pax_extensions().map_err(bad_header)? {
        for ext in exts {
            let ext = ext.map_err(bad_header)?;
            let Ok(key) = ext.key() else { continue };
            match key {
                "mtime" => mtime = pax_time(ext.value_bytes()).unwrap_or(mtime),
                "atime" => atime = pax_time(ext.value_bytes()),
                _ => {
                    // Overlay metadata comes from whiteout entries only: a layer must not
                    // forge redirects or origins for overlayfs to follow.
                    let Some(name) = key.strip_prefix(XATTR_PAX_PREFIX) else { continue };
                    if name.starts_with("trusted.overlay.") {
                        continue;
                    }
                    if let Ok(name) = CString::new(name) {
                        xattrs.push((name, ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    // As Docker: an access time before the modification time is taken as the latter.
    let atime = atime.filter(|a| later(*a, mtime)).unwrap_or(mtime);
    Ok(Meta { uid, gid, mode, atime, mtime, xattrs })
}

/// The device number of a character or block device entry.
pub(super) fn device(h: &tar::Header) -> Result<libc::dev_t> {
    let (raw_major, raw_minor): (&[u8], &[u8]) = match (h.as_ustar(), h.as_gnu()) {
        (Some(u), _) => (&u.dev_major, &u.dev_minor),
        (_, Some(g)) => (&g.dev_major, &g.dev_minor),
        // Pre-POSIX headers have no device numbers.
        _ => (&[], &[]),
    };
    let major = number(h.device_major().map(Option::unwrap_or_default), raw_major)?;
    let minor = number(h.device_minor().map(Option::unwrap_or_default), raw_minor)?;
    Ok(makedev(u64::from(major), u64::from(minor)))
}
