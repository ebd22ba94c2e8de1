//! Helpers for unit tests: self-removing temp directories and the root check for tests that
//! need the real kernel (mounts, namespaces). Compiled only for tests.

use std::path::{Path, PathBuf};

/// A directory under the system temp dir, removed (with everything in it) when dropped,
/// also when the test fails.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "berth-test-{prefix}-{}",
            &crate::util::id::random_id()[..12]
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// True when running as root; otherwise prints why the calling test is skipped.
pub fn is_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped {test}: needs root (real mounts/namespaces)");
        false
    }
}
