//! Version numbers shown by `version`, `info`, the `Server` header and image configs.

/// berth's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Engine API version berth speaks: the one the captured docker CLI traffic used
/// (../shared/reference/docker-api), so every request shape berth receives is known.
pub const API_VERSION: &str = "1.41";
/// The oldest API version accepted in a `/vX.Y/` path prefix.
pub const MIN_API_VERSION: &str = "1.12";
/// The commit berth was built from, when the build passed it in (`make` does).
pub const GIT_COMMIT: &str = match option_env!("BERTH_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
