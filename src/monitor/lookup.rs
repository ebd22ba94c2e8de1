//! Finding the container's command the way runc does (Go's exec.LookPath) and describing a
//! failure in its words. The docker CLI turns a start error into exit status 127 when the
//! message contains "executable file not found" or "no such file or directory", and into
//! 126 for "permission denied", so the phrases below are part of the interface.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Go's findExecutable: exists, is not a directory, has an execute bit.
fn check(root: &Path, path: &str) -> Result<(), String> {
    // Inside the container the root is "/" and relative paths resolve against the cwd.
    let on_host = if root == Path::new("/") { PathBuf::from(path) } else { root.join(path.trim_start_matches('/')) };
    match std::fs::metadata(&on_host) {
        Err(e) => Err(format!("stat {path}: {}", crate::error::Error::from(e))),
        Ok(m) if !m.is_dir() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err("permission denied".to_string()),
    }
}

/// Resolves `name` (args[0]) with `path_var` (the container's $PATH) under `root` ("/"
/// inside the container; a directory in tests). Returns the path to execve as the
/// container sees it, or the error text Docker shows:
/// `exec: "nope": executable file not found in $PATH`,
/// `exec: "/x": stat /x: no such file or directory`, `exec: "/etc": permission denied`.
pub fn find(root: &Path, name: &str, path_var: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("exec: \"\": executable file not found in $PATH".to_string());
    }
    if name.contains('/') {
        return check(root, name).map(|()| name.to_string()).map_err(|e| format!("exec: \"{name}\": {e}"));
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
        if check(root, &candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(format!("exec: \"{name}\": executable file not found in $PATH"))
}

/// The message for an execve(2) that failed with `errno` after the lookup succeeded
/// (a noexec mount, a missing ELF interpreter, a bad binary).
pub fn exec_error(name: &str, errno: nix::Error) -> String {
    format!("exec: \"{name}\": {}", crate::error::errno_text(errno as i32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn tree() -> TempDir {
        let t = TempDir::new("lookup");
        let r = t.path();
        for d in ["bin", "usr/bin", "etc"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        let exe = |p: &str, mode: u32| {
            std::fs::write(r.join(p), "x").unwrap();
            std::fs::set_permissions(r.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        };
        exe("bin/sh", 0o755);
        exe("usr/bin/env", 0o755);
        exe("bin/data", 0o644);
        exe("usr/bin/data", 0o700);
        std::fs::create_dir_all(r.join("bin/dir")).unwrap();
        t
    }

    #[test]
    fn searches_path_in_order() {
        let t = tree();
        let p = "/usr/local/bin:/bin:/usr/bin";
        assert_eq!(find(t.path(), "sh", p).unwrap(), "/bin/sh");
        assert_eq!(find(t.path(), "env", p).unwrap(), "/usr/bin/env");
        // Not executable in /bin: skipped, found later.
        assert_eq!(find(t.path(), "data", p).unwrap(), "/usr/bin/data");
        assert_eq!(find(t.path(), "dir", "/bin").unwrap_err(), "exec: \"dir\": executable file not found in $PATH");
        assert_eq!(find(t.path(), "nope", p).unwrap_err(), "exec: \"nope\": executable file not found in $PATH");
    }

    #[test]
    fn explicit_paths_keep_runc_wording() {
        let t = tree();
        assert_eq!(find(t.path(), "/bin/sh", "").unwrap(), "/bin/sh");
        assert_eq!(
            find(t.path(), "/nonexistent", "").unwrap_err(),
            "exec: \"/nonexistent\": stat /nonexistent: no such file or directory"
        );
        assert_eq!(find(t.path(), "/etc", "").unwrap_err(), "exec: \"/etc\": permission denied");
        assert_eq!(find(t.path(), "/bin/data", "").unwrap_err(), "exec: \"/bin/data\": permission denied");
        assert_eq!(exec_error("/x", nix::Error::ENOEXEC), "exec: \"/x\": exec format error");
    }
}
