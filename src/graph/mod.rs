//! Images and layers: the GraphDB (SQLite schema + migrations), references (names, tags,
//! digests), the image config document, and layer tar application (whiteouts, safe
//! extraction). The graph knows nothing of containers beyond the rows it stores for the
//! engine.

pub mod blobs;
pub mod db;
pub mod digest;
pub mod image;
pub mod layer;
