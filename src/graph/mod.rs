//! Images and layers: the GraphDB, references, image configs, layer tar application.

pub mod layer;
