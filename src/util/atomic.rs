//! Replacing a file whole: the bytes go to a temporary file next to it (mode 0600), which is
//! synced and renamed over the target, so a reader sees the old file or the new one, never
//! a half-written one, and a failure leaves the old file alone.

use crate::error::{Context, Result};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes `r` to `target` through a temporary file in the same directory. `adjust` runs on
/// the complete temporary file before the rename (to set its mode or owner).
pub fn replace_file(target: &Path, r: &mut dyn Read, adjust: &dyn Fn(&Path, &File) -> Result<()>) -> Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), crate::util::time::now_nanos()));
    let done = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .ctx(|| format!("create {}", tmp.display()))?;
        io::copy(r, &mut f).and_then(|_| f.sync_all()).ctx(|| format!("write {}", target.display()))?;
        adjust(&tmp, &f)?;
        std::fs::rename(&tmp, target).ctx(|| format!("rename {} to {}", tmp.display(), target.display()))
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_whole_and_private() {
        let d = scratch("ok");
        let t = d.join("f");
        std::fs::write(&t, b"old").unwrap();
        replace_file(&t, &mut &b"new"[..], &|_, _| Ok(())).unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&t).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "a temporary file stayed");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failure_keeps_the_old_file() {
        let d = scratch("fail");
        let t = d.join("f");
        std::fs::write(&t, b"old").unwrap();
        let e = replace_file(&t, &mut &b"new"[..], &|_, _| Err(crate::error::Error::system("no"))).unwrap_err();
        assert_eq!(e.message, "no");
        assert_eq!(std::fs::read(&t).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "a temporary file stayed");
        let _ = std::fs::remove_dir_all(&d);
    }
}
