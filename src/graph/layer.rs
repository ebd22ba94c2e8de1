//! Applies a layer tar (untrusted) into a directory.
// placeholder until the storage branch lands
use crate::driver::storage::WhiteoutMode;
pub fn decompress<'a>(_r: Box<dyn std::io::Read + 'a>) -> crate::error::Result<Box<dyn std::io::Read + 'a>> { todo!() }
pub fn apply(_t: &mut dyn std::io::Read, _d: &std::path::Path, _w: WhiteoutMode) -> crate::error::Result<()> { todo!() }
