//! overlay graph driver (Docker's overlay2 layout). Each layer keeps only its own files in
//! `overlay/<id>/diff`, with whiteouts as 0:0 character devices and opaque dirs marked by
//! `trusted.overlay.opaque`; `overlay/l/<short>` symlinks to `../<id>/diff` keep the mount
//! data of a deep image under one page. A container layer is `overlay/<ctr>/{diff,work,
//! merged}`. This file lays out directories and writes mount options; it never mounts a
//! container's rootfs (the monitor does, in the container's namespace). The one mount here
//! is the start-up probe of `supported`.

use super::staging::{
    self, check_id, check_staging, clear_staging, ids_in, mkdir, new_staging, rename_noreplace,
    retire,
};
use super::tree::{remove_all, tree_size};
use super::{Staging, StorageDriver, WhiteoutMode};
use crate::error::{Context, Error, Result};
use crate::monitor::proto::RootfsMount;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs;
use std::path::{Path, PathBuf};

/// The directory of short links, relative to the home (also in mount data).
const LINKS: &str = "l";
/// Docker's length of a short link name: 26 base32 characters (128 bits and a bit).
const SHORT_LEN: usize = 26;
/// mount(2) copies at most one page of data (fs/namespace.c, copy_mount_options).
const MAX_MOUNT_DATA: usize = 4095;

pub struct Overlay {
    home: PathBuf,
}

fn short_name() -> String {
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    crate::util::id::random_bytes::<SHORT_LEN>()
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect()
}

fn write(path: &Path, data: &str) -> Result<()> {
    fs::write(path, data).ctx(|| format!("write {}", path.display()))
}

impl Overlay {
    pub fn new(home_base: &Path) -> Result<Overlay> {
        let home = home_base.join("overlay");
        mkdir(&home, 0o700)?;
        mkdir(&home.join(LINKS), 0o700)?;
        mkdir(&home.join(staging::STAGING), 0o700)?;
        Ok(Overlay { home })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.home.join(id)
    }

    /// The short link name of a committed layer.
    fn short(&self, id: &str) -> Result<String> {
        let p = self.dir(id).join("link");
        let s = fs::read_to_string(&p).ctx(|| format!("read short link of layer {id}"))?;
        Ok(s.trim().to_string())
    }

    /// `l/TOP:...:l/BASE` for layers given bottom first (overlayfs wants the top first).
    fn lower_chain(&self, layers: &[String]) -> Result<String> {
        let mut chain = Vec::with_capacity(layers.len());
        for id in layers.iter().rev() {
            check_id(id)?;
            chain.push(format!("{LINKS}/{}", self.short(id)?));
        }
        Ok(chain.join(":"))
    }

    /// Makes `l/<short>` point at `../<id>/diff` (dangling until the layer is renamed in).
    fn add_link(&self, id: &str) -> Result<String> {
        loop {
            let short = short_name();
            let link = self.home.join(LINKS).join(&short);
            match std::os::unix::fs::symlink(format!("../{id}/diff"), &link) {
                Ok(()) => return Ok(short),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::from(e).context(format!("create {}", link.display()))),
            }
        }
    }

    /// Removes `l/<short>` if it is the link of `id`.
    fn remove_link(&self, id: &str, short: &str) {
        let link = self.home.join(LINKS).join(short);
        if fs::read_link(&link).is_ok_and(|t| t == Path::new(&format!("../{id}/diff"))) {
            let _ = fs::remove_file(&link);
        }
    }

    /// Recreates missing short links of committed layers and drops links to nothing.
    fn repair_links(&self) -> Result<()> {
        for id in self.layers()? {
            let short = self.short(&id)?;
            let link = self.home.join(LINKS).join(&short);
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(format!("../{id}/diff"), &link)
                    .ctx(|| format!("create {}", link.display()))?;
            }
        }
        let links = self.home.join(LINKS);
        for e in fs::read_dir(&links).ctx(|| format!("read {}", links.display()))? {
            let p = e.ctx(|| format!("read {}", links.display()))?.path();
            if fs::metadata(&p).is_err() {
                let _ = fs::remove_file(&p);
            }
        }
        Ok(())
    }
}

/// True when overlayfs works under `home_base` (see `check`).
pub fn supported(home_base: &Path) -> bool {
    check(home_base).is_ok()
}

/// Checks that overlayfs works under `home_base`: the kernel has it, the filesystem gives
/// d_type (overlayfs needs it to see whiteouts), and a real mount with two lower layers
/// succeeds (an overlayfs or NFS data root fails here). Mounts and unmounts in a scratch
/// dir of the home, so it creates `<home_base>/overlay`.
pub fn check(home_base: &Path) -> Result<()> {
    let home = home_base.join("overlay");
    mkdir(&home.join(staging::STAGING), 0o700)?;
    let dir = new_staging(&home)?;
    let r = probe_in(&dir);
    let _ = remove_all(&dir);
    r
}

fn probe_in(dir: &Path) -> Result<()> {
    for d in ["lower1", "lower2", "upper", "work", "merged"] {
        mkdir(&dir.join(d), 0o755)?;
    }
    write(&dir.join("lower1/a"), "a")?;
    write(&dir.join("lower2/b"), "b")?;
    let flags =
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let mut d = nix::dir::Dir::open(&dir.join("lower1"), flags, nix::sys::stat::Mode::empty())
        .ctx(|| "read probe directory")?;
    for e in d.iter() {
        if e.ctx(|| "read probe directory")?.file_type().is_none() {
            return Err(Error::system("the filesystem does not report d_type"));
        }
    }
    let data = format!(
        "lowerdir={}:{},upperdir={},workdir={}",
        dir.join("lower1").display(),
        dir.join("lower2").display(),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    let merged = dir.join("merged");
    mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
        .ctx(|| format!("probe overlay mount on {}", merged.display()))?;
    let seen = merged.join("a").exists() && merged.join("b").exists();
    umount2(&merged, MntFlags::MNT_DETACH).ctx(|| format!("unmount {}", merged.display()))?;
    if seen {
        Ok(())
    } else {
        Err(Error::system("overlay probe mount does not show its lower layers"))
    }
}

impl StorageDriver for Overlay {
    fn name(&self) -> &'static str {
        "overlay"
    }

    fn home(&self) -> &Path {
        &self.home
    }

    fn independent_layers(&self) -> bool {
        true
    }

    fn whiteout_mode(&self) -> WhiteoutMode {
        WhiteoutMode::Overlay
    }

    fn begin_layer(&self, parent: Option<&str>) -> Result<Staging> {
        if let Some(p) = parent {
            check_id(p)?;
            if !self.layer_exists(p) {
                return Err(Error::not_found(format!("parent layer {p} not found")));
            }
        }
        let root = new_staging(&self.home)?;
        let dir = root.join("layer/diff");
        if let Err(e) = mkdir(&root.join("layer"), 0o700).and_then(|()| mkdir(&dir, 0o755)) {
            let _ = remove_all(&root);
            return Err(e);
        }
        Ok(Staging { dir, root })
    }

    fn commit_layer(&self, staging: Staging, id: &str, parent: Option<&str>) -> Result<bool> {
        check_id(id)?;
        check_staging(&self.home, &staging.root)?;
        let layer = staging.root.join("layer");
        let prepared = (|| {
            if let Some(p) = parent {
                check_id(p)?;
                // The chain of the parent's own parents, nearest first, as overlay2 keeps it.
                let mut lower = format!("{LINKS}/{}", self.short(p)?);
                if let Ok(up) = fs::read_to_string(self.dir(p).join("lower")) {
                    if !up.trim().is_empty() {
                        lower.push(':');
                        lower.push_str(up.trim());
                    }
                }
                write(&layer.join("lower"), &lower)?;
            }
            let short = self.add_link(id)?;
            write(&layer.join("link"), &short)?;
            Ok::<_, Error>(short)
        })();
        let short = match prepared {
            Ok(s) => s,
            Err(e) => {
                let _ = remove_all(&staging.root);
                return Err(e);
            }
        };
        let placed = rename_noreplace(&layer, &self.dir(id));
        if !matches!(placed, Ok(true)) {
            // Another pull committed this layer first (or the rename failed): our link
            // would point at their diff under a name nobody reads.
            let _ = fs::remove_file(self.home.join(LINKS).join(&short));
        }
        let _ = remove_all(&staging.root);
        placed
    }

    fn abort(&self, staging: Staging) {
        if check_staging(&self.home, &staging.root).is_ok() {
            let _ = remove_all(&staging.root);
        }
    }

    fn layer_exists(&self, id: &str) -> bool {
        check_id(id).is_ok() && self.dir(id).join("link").is_file()
    }

    fn remove_layer(&self, id: &str) -> Result<()> {
        check_id(id)?;
        if !self.layer_exists(id) && self.dir(id).exists() {
            return Err(Error::invalid(format!("{id} is not an image layer")));
        }
        let short = self.short(id).ok();
        retire(&self.home, &self.dir(id))?;
        if let Some(s) = short {
            self.remove_link(id, &s);
        }
        Ok(())
    }

    fn layers(&self) -> Result<Vec<String>> {
        ids_in(&self.home, |id| self.home.join(id).join("link").is_file())
    }

    fn layer_size(&self, id: &str) -> Result<u64> {
        check_id(id)?;
        tree_size(&self.dir(id).join("diff"))
    }

    fn create_rw(&self, container_id: &str, image_layers: &[String]) -> Result<()> {
        check_id(container_id)?;
        if self.dir(container_id).exists() {
            return Err(Error::conflict(format!(
                "read-write layer of container {container_id} exists"
            )));
        }
        let lower = self.lower_chain(image_layers)?;
        let root = new_staging(&self.home)?;
        let layer = root.join("layer");
        let r = (|| {
            mkdir(&layer, 0o700)?;
            mkdir(&layer.join("diff"), 0o755)?;
            mkdir(&layer.join("work"), 0o700)?;
            mkdir(&layer.join("merged"), 0o755)?;
            if image_layers.is_empty() {
                // overlayfs needs at least one lower layer.
                mkdir(&layer.join("empty"), 0o755)?;
            } else {
                write(&layer.join("lower"), &lower)?;
            }
            rename_noreplace(&layer, &self.dir(container_id))
        })();
        let _ = remove_all(&root);
        match r? {
            true => Ok(()),
            false => {
                Err(Error::conflict(format!("read-write layer of container {container_id} exists")))
            }
        }
    }

    fn remove_rw(&self, container_id: &str) -> Result<()> {
        check_id(container_id)?;
        if self.layer_exists(container_id) {
            return Err(Error::invalid(format!(
                "{container_id} is an image layer, not a container's"
            )));
        }
        retire(&self.home, &self.dir(container_id))
    }

    fn rw_layers(&self) -> Result<Vec<String>> {
        ids_in(&self.home, |id| self.home.join(id).join("work").is_dir())
    }

    fn rw_size(&self, container_id: &str) -> Result<u64> {
        check_id(container_id)?;
        tree_size(&self.dir(container_id).join("diff"))
    }

    fn rootfs_mount(&self, container_id: &str, image_layers: &[String]) -> Result<RootfsMount> {
        check_id(container_id)?;
        let lower = if image_layers.is_empty() {
            format!("{container_id}/empty")
        } else {
            self.lower_chain(image_layers)?
        };
        // Relative to the home (the monitor chdirs there first): the data must fit a page.
        let data =
            format!("lowerdir={lower},upperdir={container_id}/diff,workdir={container_id}/work");
        if data.len() > MAX_MOUNT_DATA {
            return Err(Error::invalid(format!(
                "image has too many layers ({}) for one overlay mount",
                image_layers.len()
            )));
        }
        Ok(RootfsMount {
            fstype: "overlay".into(),
            source: "overlay".into(),
            data,
            data_dir: Some(self.home.clone()),
            target: self.dir(container_id).join("merged"),
            readonly: false,
        })
    }

    fn graph_data(&self, container_id: &str, image_layers: &[String]) -> Vec<(String, String)> {
        let ctr = self.dir(container_id);
        let lower = if image_layers.is_empty() {
            ctr.join("empty").display().to_string()
        } else {
            let dirs: Vec<String> = image_layers
                .iter()
                .rev()
                .map(|id| self.dir(id).join("diff").display().to_string())
                .collect();
            dirs.join(":")
        };
        vec![
            ("LowerDir".into(), lower),
            ("MergedDir".into(), ctr.join("merged").display().to_string()),
            ("UpperDir".into(), ctr.join("diff").display().to_string()),
            ("WorkDir".into(), ctr.join("work").display().to_string()),
        ]
    }

    fn cleanup(&self) -> Result<()> {
        clear_staging(&self.home)?;
        self.repair_links()
    }
}
