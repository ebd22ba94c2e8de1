//! Applies a layer tar (untrusted) into a directory.
