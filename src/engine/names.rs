//! Container names: validation (Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`) and generated names
//! for containers created without `--name`, in Docker's "adjective_surname" style (our own
//! word lists: adjectives about ships and harbours, surnames of navigators and engineers).

use crate::error::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "anchored", "brave", "breezy", "calm", "careful", "clever", "coastal", "daring", "deep",
    "eager", "fleet", "gentle", "gleaming", "hardy", "hearty", "humble", "keen", "lively",
    "loyal", "lucid", "merry", "mighty", "moored", "nimble", "noble", "patient", "plucky",
    "proud", "quick", "quiet", "rapid", "ready", "salty", "serene", "sharp", "shining",
    "sleek", "smooth", "snug", "spry", "stable", "staunch", "steady", "stout", "sturdy",
    "sunny", "swift", "tidal", "tidy", "trusty", "vivid", "wakeful", "windward", "wise",
];

const SURNAMES: &[&str] = &[
    "amundsen", "baffin", "bering", "bougainville", "brunel", "cabot", "cartier", "columbus",
    "cook", "dampier", "drake", "eriksson", "flinders", "franklin", "frobisher", "gama",
    "hamilton", "harrison", "hopper", "hudson", "ibnbattuta", "kepler", "lamarr", "lovelace",
    "magellan", "maury", "mercator", "nansen", "noether", "polo", "ptolemy", "raleigh",
    "ritchie", "ross", "shackleton", "tasman", "thompson", "torvalds", "turing", "vancouver",
    "vespucci", "zheng",
];

/// Checks a user-given name (a leading '/' is accepted and dropped) and returns it bare.
pub fn validate(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let b = bare.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !ok {
        return Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(bare.to_string())
}

/// A random "adjective_surname"; after a few collisions a digit is appended, as Docker does.
pub fn generate(taken: &dyn Fn(&str) -> bool) -> String {
    for attempt in 0..64 {
        let r = crate::util::id::random_bytes::<4>();
        let a = ADJECTIVES[(u16::from_le_bytes([r[0], r[1]]) as usize) % ADJECTIVES.len()];
        let s = SURNAMES[(u16::from_le_bytes([r[2], r[3]]) as usize) % SURNAMES.len()];
        let name = if attempt < 8 {
            format!("{a}_{s}")
        } else {
            format!("{a}_{s}{}", r[0] % 10)
        };
        if !taken(&name) {
            return name;
        }
    }
    // Every short form is taken: fall back to something certainly free.
    format!("berth_{}", &crate::util::id::random_id()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_docker() {
        assert_eq!(validate("/web").unwrap(), "web");
        assert_eq!(validate("a.b-c_d").unwrap(), "a.b-c_d");
        for bad in ["a", "bad/name", "-x", "_x", "x y", ""] {
            let e = validate(bad).unwrap_err();
            assert!(e.message.starts_with("Invalid container name"), "{bad}");
        }
    }

    #[test]
    fn generated_names_are_valid_and_free() {
        let n = generate(&|_| false);
        assert!(validate(&n).is_ok());
        assert!(n.contains('_'));
        let taken_all_short = |s: &str| !s.chars().last().unwrap().is_ascii_digit() && !s.starts_with("berth_");
        let n = generate(&taken_all_short);
        assert!(!taken_all_short(&n));
    }
}
