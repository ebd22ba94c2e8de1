//! The moves both drivers share: IDs as directory names, private staging dirs under
//! `<home>/staging`, rename into place without replacing, and retiring a committed dir
//! through staging before deleting it. Each step that makes a layer visible or invisible
//! is one rename(2), so a daemon killed at any instant leaves either the whole layer or
//! nothing under its name, plus staging leftovers that `clear_staging` removes. Nothing here
//! knows about overlayfs or tar.

use super::tree::remove_all;
use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// The staging directory's name under a driver home.
pub const STAGING: &str = "staging";

/// Refuses anything but a 64-hex ID: IDs become directory names under the driver home.
pub fn check_id(id: &str) -> Result<()> {
    if crate::util::id::is_full_id(id) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid layer id {id:?}: want 64 hex characters")))
    }
}

/// Creates `dir` (and its parents) with `mode` if it is missing.
pub fn mkdir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().recursive(true).mode(mode).create(dir) {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::from(e).context(format!("mkdir {}", dir.display()))),
    }
}

/// A new private staging directory under `home`.
pub fn new_staging(home: &Path) -> Result<PathBuf> {
    let dir = home.join(STAGING).join(&crate::util::id::random_id()[..32]);
    mkdir(&dir, 0o700)?;
    Ok(dir)
}

/// Checks that `root` is a staging directory of `home` before anything deletes it.
pub fn check_staging(home: &Path, root: &Path) -> Result<()> {
    if root.parent() == Some(home.join(STAGING).as_path()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{} is not a staging directory of {}",
            root.display(),
            home.display()
        )))
    }
}

/// Moves `from` to `to` in one rename(2) unless `to` exists: `false` then (another writer
/// got there first) and `from` is left as it was.
pub fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    match crate::sys::file::rename_noreplace(from, to) {
        Ok(()) => Ok(true),
        Err(Errno::EEXIST | Errno::ENOTEMPTY) => Ok(false),
        // Filesystems without RENAME_NOREPLACE: check, then rename. Only one daemon
        // writes a home, and the engine orders writers of one ID.
        Err(Errno::EINVAL) if to.symlink_metadata().is_ok() => Ok(false),
        Err(Errno::EINVAL) => std::fs::rename(from, to)
            .map(|()| true)
            .ctx(|| format!("rename {} to {}", from.display(), to.display())),
        Err(e) => {
            Err(Error::from(e).context(format!("rename {} to {}", from.display(), to.display())))
        }
    }
}

/// Removes a committed directory safely: renamed into staging first (so a crash mid-way
/// never leaves half a layer under its real name), then deleted. Missing is fine.
pub fn retire(home: &Path, dir: &Path) -> Result<()> {
    let grave = new_staging(home)?;
    let moved = grave.join("x");
    match std::fs::rename(dir, &moved) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            let _ = std::fs::remove_dir(&grave);
            return Err(Error::from(e).context(format!("move {} to staging", dir.display())));
        }
    }
    remove_all(&grave)
}

/// Empties `<home>/staging`: what a killed daemon left behind.
pub fn clear_staging(home: &Path) -> Result<()> {
    let staging = home.join(STAGING);
    let entries = match std::fs::read_dir(&staging) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from(e).context(format!("read {}", staging.display()))),
    };
    for e in entries {
        let e = e.ctx(|| format!("read {}", staging.display()))?;
        remove_all(&e.path())?;
    }
    Ok(())
}

/// The names in `dir` that are layer IDs and pass `keep`, sorted.
pub fn ids_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).ctx(|| format!("read {}", dir.display()))? {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        if let Some(name) = e.file_name().to_str() {
            if crate::util::id::is_full_id(name) && keep(name) {
                ids.push(name.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::fs;

    #[test]
    fn staging_moves() {
        let t = TempDir::new("tree-staging");
        let home = t.path();
        let s = new_staging(home).unwrap();
        check_staging(home, &s).unwrap();
        assert!(check_staging(home, t.path()).is_err());
        let a = s.join("a");
        fs::create_dir(&a).unwrap();
        let to = home.join("placed");
        assert!(rename_noreplace(&a, &to).unwrap());
        fs::create_dir(&a).unwrap();
        assert!(!rename_noreplace(&a, &to).unwrap());
        assert!(a.exists());
        retire(home, &to).unwrap();
        assert!(!to.exists());
        retire(home, &to).unwrap();
        clear_staging(home).unwrap();
        assert_eq!(fs::read_dir(home.join(STAGING)).unwrap().count(), 0);
        assert!(check_id("../etc").is_err());
        check_id(&crate::util::id::random_id()).unwrap();
    }
}
