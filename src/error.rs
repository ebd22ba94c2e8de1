//! The one error type of berth: a kind that says what went wrong for the caller, and a
//! message that says where. Exactly one function (`api::status_of`) turns a kind into an HTTP
//! status; the CLI prints the message. Nothing here knows about HTTP.

use std::fmt;

/// What kind of failure this is, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request itself is wrong (bad flag, bad JSON, bad name): 400.
    InvalidArgument,
    /// The object named does not exist: 404.
    NotFound,
    /// The object is in a state that forbids this (name taken, container running): 409.
    Conflict,
    /// Nothing to do (start of a running container, stop of a stopped one): 304.
    NotModified,
    /// Allowed for no one (removing a pre-defined network, or one still in use): 403.
    Forbidden,
    /// Anything else: the kernel, the disk, a bug: 500.
    System,
}

/// An error with its kind and a lowercase message naming the step and the object.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Kind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Kind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(Kind::Conflict, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(Kind::Forbidden, message)
    }
    pub fn not_modified() -> Error {
        Error::new(Kind::NotModified, "not modified")
    }
    pub fn system(message: impl Into<String>) -> Error {
        Error::new(Kind::System, message)
    }

    /// Prefixes the message with the step that failed, keeping the kind.
    pub fn context(self, step: impl fmt::Display) -> Error {
        Error { kind: self.kind, message: format!("{step}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The kernel's words for an errno, lowercased the way Go prints them
/// ("no such file or directory"): the docker CLI picks exit codes 126/127 by
/// searching start errors for these exact phrases.
pub fn errno_text(errno: i32) -> String {
    let text = nix::errno::Errno::from_raw(errno).desc();
    let mut s = text.to_string();
    if let Some(first) = s.get(0..1) {
        let lower = first.to_lowercase();
        s.replace_range(0..1, &lower);
    }
    s
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        let message = match e.raw_os_error() {
            Some(errno) => errno_text(errno),
            None => e.to_string(),
        };
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => Kind::NotFound,
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                Kind::InvalidArgument
            }
            _ => Kind::System,
        };
        Error { kind, message }
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Error {
        let kind = if e == nix::Error::ENOENT { Kind::NotFound } else { Kind::System };
        Error { kind, message: errno_text(e as i32) }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::invalid(e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::system(format!("graph database: {e}"))
    }
}

/// Adds the failing step to any error that converts into ours:
/// `fs::create_dir(&p).ctx(|| format!("create {}", p.display()))?`.
pub trait Context<T> {
    fn ctx<S: fmt::Display>(self, step: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn ctx<S: fmt::Display>(self, step: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().context(step()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_like_go() {
        let e: Error = std::io::Error::from_raw_os_error(libc::ENOENT).into();
        assert_eq!(e.message, "no such file or directory");
        assert_eq!(e.kind, Kind::NotFound);
        let e: Error = std::io::Error::from_raw_os_error(libc::EACCES).into();
        assert_eq!(e.message, "permission denied");
    }

    #[test]
    fn context_prefixes_and_keeps_kind() {
        let r: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::from_raw_os_error(libc::EEXIST));
        let e = r.ctx(|| "mkdir /x").unwrap_err();
        assert_eq!(e.message, "mkdir /x: file exists");
        assert_eq!(e.kind, Kind::System);
    }
}
