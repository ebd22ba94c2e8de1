//! Graph (storage) drivers: where image layers and container read-write layers live on disk,
//! behind one trait. `overlay` stacks layer directories with overlayfs; `vfs` keeps a full
//! copy of the tree per layer and works on any filesystem. Drivers know directories and
//! mount options only: which layers form an image is the GraphDB's business, and nothing
//! here mounts anything in the host's mount namespace for a container (the monitor mounts
//! the rootfs inside the container's own namespace from the `RootfsMount` we describe).
//!
//! Layer IDs are 64-hex chain IDs (without "sha256:"); container layers use the container ID.
//! Every change is staged in a temporary directory and renamed into place, so a daemon
//! killed at any instant leaves either nothing or a whole layer; `cleanup` removes leftovers.

pub mod overlay;
pub mod staging;
pub mod tree;
#[cfg(test)]
mod conformance;
pub mod vfs;

use crate::error::Result;
use crate::monitor::proto::RootfsMount;
use std::path::{Path, PathBuf};

/// How whiteout entries (`.wh.NAME`, `.wh..wh..opq`) in a layer tar are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// overlayfs format: a 0:0 character device for a removed file, the
    /// `trusted.overlay.opaque=y` xattr for an opaque directory.
    Overlay,
    /// The layer directory is a full copy of its parent: remove the named paths.
    Delete,
}

/// A layer being built: apply the tar into `dir`, then `commit_layer` or `abort`.
#[derive(Debug)]
pub struct Staging {
    /// The directory that becomes the layer's filesystem tree.
    pub dir: PathBuf,
    /// The private directory that holds `dir` (removed as a whole on abort).
    pub root: PathBuf,
}

pub trait StorageDriver: Send + Sync {
    /// "overlay" or "vfs".
    fn name(&self) -> &'static str;

    /// The driver's top directory (`<data-root>/<name>`).
    fn home(&self) -> &Path;

    /// How whiteouts must be applied into a staging dir of this driver.
    fn whiteout_mode(&self) -> WhiteoutMode;

    /// True when a layer's tree can be built before its parent exists (overlay: each layer
    /// holds only its own changes), so a pull may extract layers in parallel; false when a
    /// layer starts as a copy of its parent (vfs).
    fn independent_layers(&self) -> bool;

    /// Starts a new layer on top of `parent` (a committed layer ID, or None for a base
    /// layer). For vfs the staging dir starts as a copy of the parent's tree; for overlay it
    /// starts empty.
    fn begin_layer(&self, parent: Option<&str>) -> Result<Staging>;

    /// Makes the staged layer the committed layer `id` with one rename. If `id` already
    /// exists (another pull got there first), the staging is discarded and `false` returned.
    fn commit_layer(&self, staging: Staging, id: &str, parent: Option<&str>) -> Result<bool>;

    /// Throws away a staging dir.
    fn abort(&self, staging: Staging);

    fn layer_exists(&self, id: &str) -> bool;

    /// Removes a committed layer (no image may use it any more; the caller checks).
    fn remove_layer(&self, id: &str) -> Result<()>;

    /// All committed layer IDs on disk (for start-up garbage collection against the DB).
    fn layers(&self) -> Result<Vec<String>>;

    /// Disk usage of a committed layer's own tree, in bytes.
    fn layer_size(&self, id: &str) -> Result<u64>;

    /// Creates the container's read-write layer over `image_layers` (bottom first; empty
    /// for an image with no layers).
    fn create_rw(&self, container_id: &str, image_layers: &[String]) -> Result<()>;

    /// Removes the container's read-write layer; missing is not an error.
    fn remove_rw(&self, container_id: &str) -> Result<()>;

    /// All container read-write layers on disk (for start-up garbage collection).
    fn rw_layers(&self) -> Result<Vec<String>>;

    /// Disk usage of the container's own changes, in bytes.
    fn rw_size(&self, container_id: &str) -> Result<u64>;

    /// The mount the monitor performs to build the container's root filesystem.
    fn rootfs_mount(&self, container_id: &str, image_layers: &[String]) -> Result<RootfsMount>;

    /// `GraphDriver.Data` for inspect (LowerDir, UpperDir, WorkDir, MergedDir).
    fn graph_data(&self, container_id: &str, image_layers: &[String]) -> Vec<(String, String)>;

    /// Removes staging and other temporary leftovers of a daemon that died mid-operation.
    fn cleanup(&self) -> Result<()>;
}

/// Picks the driver: the `--storage-driver` flag, else `BERTH_DRIVER`, else overlay where
/// an overlay mount works under `home_base`, else vfs. An unknown name is an error, and so
/// is overlay asked for by name where it does not work.
pub fn choose(
    requested: Option<&str>,
    home_base: &Path,
) -> Result<Box<dyn StorageDriver>> {
    let env = std::env::var("BERTH_DRIVER").ok().filter(|s| !s.is_empty());
    let name = requested.map(str::to_string).or(env);
    match name.as_deref() {
        Some("overlay") | Some("overlay2") => {
            // Asked for by name: say now why it cannot work, not at the first container start.
            overlay::check(home_base)
                .map_err(|e| e.context("storage driver overlay is not supported here"))?;
            Ok(Box::new(overlay::Overlay::new(home_base)?))
        }
        Some("vfs") => Ok(Box::new(vfs::Vfs::new(home_base)?)),
        Some(other) => Err(crate::error::Error::invalid(format!(
            "unknown storage driver {other:?}: supported drivers are overlay and vfs"
        ))),
        None => {
            if overlay::supported(home_base) {
                Ok(Box::new(overlay::Overlay::new(home_base)?))
            } else {
                Ok(Box::new(vfs::Vfs::new(home_base)?))
            }
        }
    }
}
