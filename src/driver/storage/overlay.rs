//! overlay graph driver.
use crate::error::Result;
use crate::monitor::proto::RootfsMount;
use super::{Staging, WhiteoutMode};
use std::path::PathBuf;
use std::path::Path;

pub struct Overlay {}

impl Overlay {
    pub fn new(_home_base: &Path) -> Result<Overlay> {
        todo!()
    }
}

pub fn supported(_home_base: &Path) -> bool {
    todo!()
}

impl super::StorageDriver for Overlay {
    fn name(&self) -> &'static str {
        todo!()
    }
    fn home(&self) -> &Path {
        todo!()
    }
    fn whiteout_mode(&self) -> WhiteoutMode {
        todo!()
    }
    fn begin_layer(&self, parent: Option<&str>) -> Result<Staging> {
        todo!()
    }
    fn commit_layer(&self, staging: Staging, id: &str, parent: Option<&str>) -> Result<bool> {
        todo!()
    }
    fn abort(&self, staging: Staging) {
        todo!()
    }
    fn layer_exists(&self, id: &str) -> bool {
        todo!()
    }
    fn remove_layer(&self, id: &str) -> Result<()> {
        todo!()
    }
    fn layers(&self) -> Result<Vec<String>> {
        todo!()
    }
    fn layer_size(&self, id: &str) -> Result<u64> {
        todo!()
    }
    fn create_rw(&self, container_id: &str, image_layers: &[String]) -> Result<()> {
        todo!()
    }
    fn remove_rw(&self, container_id: &str) -> Result<()> {
        todo!()
    }
    fn rw_layers(&self) -> Result<Vec<String>> {
        todo!()
    }
    fn rw_size(&self, container_id: &str) -> Result<u64> {
        todo!()
    }
    fn rootfs_mount(&self, container_id: &str, image_layers: &[String]) -> Result<RootfsMount> {
        todo!()
    }
    fn graph_data(&self, container_id: &str, image_layers: &[String]) -> Vec<(String, String)> {
        todo!()
    }
    fn cleanup(&self) -> Result<()> {
        todo!()
    }
}
