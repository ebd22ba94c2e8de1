//! The engine: typed jobs run against the GraphDB and the drivers.
