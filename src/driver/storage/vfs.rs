//! vfs graph driver: every layer is a full copy of its tree in `vfs/dir/<id>`, built by
//! copying the parent and applying the layer's tar with whiteouts deleted; a container
//! layer is a copy of its image's top layer, bind-mounted onto itself as the rootfs. Slow
//! and big, but it works on any filesystem. `vfs/rw/<ctr>` marks which trees are container
//! layers. This file lays out directories only; it mounts nothing.

use super::staging::{
    self, check_id, check_staging, clear_staging, ids_in, mkdir, new_staging, rename_noreplace,
    retire,
};
use super::tree::{copy_tree, remove_all, tree_size};
use super::{Staging, WhiteoutMode};
use crate::error::{Context, Error, Result};
use crate::monitor::proto::RootfsMount;
use std::fs;
use std::path::{Path, PathBuf};

pub struct Vfs {
    home: PathBuf,
}

impl Vfs {
    pub fn new(home_base: &Path) -> Result<Vfs> {
        let home = home_base.join("vfs");
        for d in ["dir", "rw", staging::STAGING] {
            mkdir(&home.join(d), 0o700)?;
        }
        Ok(Vfs { home })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.home.join("dir").join(id)
    }

    fn marker(&self, id: &str) -> PathBuf {
        self.home.join("rw").join(id)
    }

    /// A fresh staging root with `tree` in it: a copy of `from`, or empty.
    fn stage(&self, from: Option<&str>) -> Result<Staging> {
        let root = new_staging(&self.home)?;
        let dir = root.join("tree");
        let r = match from {
            Some(id) => copy_tree(&self.dir(id), &dir),
            None => mkdir(&dir, 0o755),
        };
        match r {
            Ok(()) => Ok(Staging { dir, root }),
            Err(e) => {
                let _ = remove_all(&root);
                Err(e)
            }
        }
    }
}

impl super::StorageDriver for Vfs {
    fn name(&self) -> &'static str {
        "vfs"
    }

    fn home(&self) -> &Path {
        &self.home
    }

    fn independent_layers(&self) -> bool {
        false
    }

    fn whiteout_mode(&self) -> WhiteoutMode {
        WhiteoutMode::Delete
    }

    fn begin_layer(&self, parent: Option<&str>) -> Result<Staging> {
        if let Some(p) = parent {
            check_id(p)?;
            if !self.layer_exists(p) {
                return Err(Error::not_found(format!("parent layer {p} not found")));
            }
        }
        self.stage(parent)
    }

    fn commit_layer(&self, staging: Staging, id: &str, _parent: Option<&str>) -> Result<bool> {
        check_id(id)?;
        check_staging(&self.home, &staging.root)?;
        let placed = rename_noreplace(&staging.dir, &self.dir(id));
        let _ = remove_all(&staging.root);
        placed
    }

    fn abort(&self, staging: Staging) {
        if check_staging(&self.home, &staging.root).is_ok() {
            let _ = remove_all(&staging.root);
        }
    }

    fn layer_exists(&self, id: &str) -> bool {
        check_id(id).is_ok() && self.dir(id).is_dir() && self.marker(id).symlink_metadata().is_err()
    }

    fn remove_layer(&self, id: &str) -> Result<()> {
        check_id(id)?;
        if self.marker(id).symlink_metadata().is_ok() {
            return Err(Error::invalid(format!("{id} is not an image layer")));
        }
        retire(&self.home, &self.dir(id))
    }

    fn layers(&self) -> Result<Vec<String>> {
        ids_in(&self.home.join("dir"), |id| self.marker(id).symlink_metadata().is_err())
    }

    fn layer_size(&self, id: &str) -> Result<u64> {
        check_id(id)?;
        tree_size(&self.dir(id))
    }

    fn create_rw(&self, container_id: &str, image_layers: &[String]) -> Result<()> {
        check_id(container_id)?;
        let exists =
            || Error::conflict(format!("read-write layer of container {container_id} exists"));
        if self.dir(container_id).exists() {
            return Err(exists());
        }
        let top = image_layers.last().map(String::as_str);
        if let Some(id) = top {
            check_id(id)?;
            if !self.layer_exists(id) {
                return Err(Error::not_found(format!("layer {id} not found")));
            }
        }
        let staging = self.stage(top)?;
        // The marker goes first: a tree in dir/ never shows up as an image layer, even if
        // we die between the two steps (cleanup drops markers without a tree).
        let marker = self.marker(container_id);
        let placed = fs::write(&marker, top.unwrap_or(""))
            .ctx(|| format!("write {}", marker.display()))
            .and_then(|()| rename_noreplace(&staging.dir, &self.dir(container_id)));
        let _ = remove_all(&staging.root);
        if placed? {
            Ok(())
        } else {
            Err(exists())
        }
    }

    fn remove_rw(&self, container_id: &str) -> Result<()> {
        check_id(container_id)?;
        let marker = self.marker(container_id);
        if marker.symlink_metadata().is_err() {
            if self.dir(container_id).exists() {
                return Err(Error::invalid(format!(
                    "{container_id} is an image layer, not a container's"
                )));
            }
            return Ok(());
        }
        retire(&self.home, &self.dir(container_id))?;
        fs::remove_file(&marker).ctx(|| format!("remove {}", marker.display()))
    }

    fn rw_layers(&self) -> Result<Vec<String>> {
        ids_in(&self.home.join("rw"), |id| self.dir(id).is_dir())
    }

    /// The whole tree: vfs keeps no record of what the container changed.
    fn rw_size(&self, container_id: &str) -> Result<u64> {
        check_id(container_id)?;
        tree_size(&self.dir(container_id))
    }

    fn rootfs_mount(&self, container_id: &str, _image_layers: &[String]) -> Result<RootfsMount> {
        check_id(container_id)?;
        let dir = self.dir(container_id);
        Ok(RootfsMount {
            fstype: "bind".into(),
            source: dir.clone(),
            data: String::new(),
            data_dir: None,
            target: dir,
            readonly: false,
        })
    }

    /// Docker shows no data for vfs (`"Data": null`).
    fn graph_data(&self, _container_id: &str, _image_layers: &[String]) -> Vec<(String, String)> {
        Vec::new()
    }

    fn cleanup(&self) -> Result<()> {
        clear_staging(&self.home)?;
        let rw = self.home.join("rw");
        for e in fs::read_dir(&rw).ctx(|| format!("read {}", rw.display()))? {
            let e = e.ctx(|| format!("read {}", rw.display()))?;
            if let Some(id) = e.file_name().to_str() {
                if !self.dir(id).exists() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }
}
