//! Layer tars built from scratch for test images: busybox from Debian's busybox-static,
//! and layers with whiteouts, opaque directories, hardlinks and symlinks. registry.rs turns
//! them into OCI layouts and pushes them.

#![allow(dead_code)]

use std::path::Path;

pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// Removes NAME from lower layers (`.wh.NAME`).
    Whiteout(&'a str),
    /// Hides everything lower layers had in DIR (`DIR/.wh..wh..opq`).
    Opaque(&'a str),
}

/// An uncompressed layer tar.
pub fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Whiteout(p) => {
                let path = Path::new(p);
                let name = format!(".wh.{}", path.file_name().unwrap().to_string_lossy());
                let full = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(d) => format!("{}/{name}", d.display()),
                    None => name,
                };
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, full, std::io::empty()).unwrap();
            }
            Entry::Opaque(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, format!("{d}/.wh..wh..opq"), std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A layer with busybox and the applets the tests use.
pub fn busybox_layer() -> Vec<u8> {
    busybox_layer_with(&[])
}

/// The busybox layer plus `extra` entries.
pub fn busybox_layer_with(extra: &[Entry<'_>]) -> Vec<u8> {
    let bb = std::fs::read("/usr/bin/busybox").expect("/usr/bin/busybox (install busybox-static)");
    let applets: Vec<String> = ["sh", "ls", "cat", "echo", "true", "find", "stat", "readlink", "test", "sleep", "uname"]
        .iter()
        .map(|a| format!("bin/{a}"))
        .collect();
    let mut entries = vec![
        Entry::Dir("bin"),
        Entry::Dir("etc"),
        Entry::Dir("tmp"),
        Entry::File("bin/busybox", &bb, 0o755),
        Entry::File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
    ];
    for a in &applets {
        entries.push(Entry::Symlink(a, "busybox"));
    }
    let mut all = layer(&entries);
    if !extra.is_empty() {
        // The tar crate ends an archive with exactly two zero blocks: cut them off the
        // first so the second's entries follow on.
        all.truncate(all.len() - 1024);
        all.extend_from_slice(&layer(extra));
    }
    all
}

/// A tar of a directory (an OCI layout to `berth load`).
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}
