//! Random identifiers: container IDs (64 lower-case hex characters, like Docker's) and the
//! short forms the CLI prints.

use std::fs::File;
use std::io::Read;

/// 32 random bytes from the kernel, as 64 hex characters. Like Docker, an all-digit ID is
/// rejected so that a short prefix can never be mistaken for a number.
pub fn random_id() -> String {
    loop {
        let id = hex(&random_bytes::<32>());
        if id.bytes().take(12).any(|c| c.is_ascii_alphabetic()) {
            return id;
        }
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom(2) would do as well; /dev/urandom keeps this free of unsafe code.
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom is readable on every Linux host");
    buf
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The first 12 characters of an ID, with any "sha256:" prefix removed.
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// True for 64 lower-case hex characters.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert!(is_full_id(&a) && is_full_id(&b));
        assert_ne!(a, b);
        assert_eq!(short(&a).len(), 12);
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
