//! `berth image prune`: docker's confirmation prompt (unless `-f`), then
//! `POST /images/prune?filters=..` with `dangling=true` (`false` with `-a`) added to the
//! `--filter`s, and docker's report: "Deleted Images:" with one `untagged:`/`deleted:` line
//! per entry, then "Total reclaimed space: X".

use super::api::{self, query};
use super::args::FlagSpec;
use super::ps::filters_json;
use super::units::human_size_precision;
use super::{parse, Cli};
use crate::client::Body;
use crate::error::{Error, Result};
use argh::FromArgs;
use serde_json::Value;
use std::io::{self, BufRead, Write};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove unused images.
pub struct PruneArgs {
    /// remove all unused images, not just dangling ones
    #[argh(switch, short = 'a')]
    all: bool,
    /// do not prompt for confirmation
    #[argh(switch, short = 'f')]
    force: bool,
    /// provide filter values (e.g. "until=<timestamp>")
    #[argh(option)]
    filter: Vec<String>,
}

const PRUNE_SPEC: FlagSpec = FlagSpec {
    switches: &["-a", "--all", "-f", "--force"],
    options: &["--filter"],
    stop_at_positional: false,
    aliases: &[],
};

const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";

/// The prune request path: the filters with docker's `dangling` entry.
pub fn prune_path(a: &PruneArgs) -> std::result::Result<String, String> {
    let mut filters = a.filter.clone();
    filters.push(format!("dangling={}", !a.all));
    let f = filters_json(&filters)?.unwrap_or_default();
    Ok(format!("/images/prune{}", query(&[("filters", f)])))
}

/// docker's `PromptForConfirmation`: the question, " [y/N] ", and a "y" or "Y" answer.
pub fn confirm(question: &str, input: &mut dyn BufRead, out: &mut dyn Write) -> bool {
    let _ = write!(out, "{question} [y/N] ").and_then(|_| out.flush());
    let mut answer = String::new();
    if input.read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim().eq_ignore_ascii_case("y")
}

/// The report docker prints for a prune answer.
pub fn report(answer: &Value) -> String {
    let mut out = String::new();
    let deleted = answer["ImagesDeleted"].as_array().filter(|d| !d.is_empty());
    if let Some(list) = deleted {
        out.push_str("Deleted Images:\n");
        for item in list {
            match item["Untagged"].as_str().filter(|u| !u.is_empty()) {
                Some(u) => out.push_str(&format!("untagged: {u}\n")),
                None => out.push_str(&format!(
                    "deleted: {}\n",
                    item["Deleted"].as_str().unwrap_or("")
                )),
            }
        }
        out.push('\n');
    }
    let reclaimed = if deleted.is_some() {
        answer["SpaceReclaimed"].as_i64().unwrap_or(0)
    } else {
        0
    };
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size_precision(reclaimed, 4)
    ));
    out
}

pub fn prune(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PruneArgs = match parse(path, words, &PRUNE_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let target = match prune_path(&a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    if !a.force {
        let question = if a.all { ALL_WARNING } else { DANGLING_WARNING };
        // A refusal is no failure (docker exits 0 without a word more).
        if !confirm(question, &mut io::stdin().lock(), &mut io::stdout()) {
            return 0;
        }
    }
    let r = (|| -> Result<String> {
        let resp = api::call(&mut cli.client, "POST", &target, &[], Body::Empty)?;
        let answer: Value = serde_json::from_slice(&resp.bytes()?)
            .map_err(|e| Error::invalid(format!("decode the prune answer: {e}")))?;
        Ok(report(&answer))
    })();
    super::print_or_fail(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prune_args(words: &[&str]) -> PruneArgs {
        let norm = super::super::args::normalize(words, &PRUNE_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        PruneArgs::from_args(&["berth", "image", "prune"], &refs)
            .unwrap_or_else(|e| panic!("{}", e.output))
    }

    #[test]
    fn filters_like_docker() {
        assert_eq!(
            prune_path(&prune_args(&["-f"])).unwrap(),
            "/images/prune?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D"
        );
        assert_eq!(
            prune_path(&prune_args(&["-af", "--filter", "until=24h"])).unwrap(),
            "/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%2C%22until%22%3A%7B%2224h%22%3Atrue%7D%7D"
        );
        assert!(prune_path(&prune_args(&["--filter", "nonsense"])).is_err());
    }

    #[test]
    fn prompt_and_report() {
        let mut out = Vec::new();
        assert!(confirm(DANGLING_WARNING, &mut &b"Y\n"[..], &mut out));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
        );
        assert!(!confirm(DANGLING_WARNING, &mut &b"\n"[..], &mut Vec::new()));
        assert!(!confirm(DANGLING_WARNING, &mut &b""[..], &mut Vec::new()));
        assert!(!confirm(
            DANGLING_WARNING,
            &mut &b"yes\n"[..],
            &mut Vec::new()
        ));
        let answer = json!({"ImagesDeleted": [
            {"Untagged": "capture/busybox:latest"},
            {"Deleted": "sha256:909a"}
        ], "SpaceReclaimed": 1984189});
        assert_eq!(
            report(&answer),
            "Deleted Images:\nuntagged: capture/busybox:latest\ndeleted: sha256:909a\n\nTotal reclaimed space: 1.984MB\n"
        );
        assert_eq!(
            report(&json!({"ImagesDeleted": null, "SpaceReclaimed": 0})),
            "Total reclaimed space: 0B\n"
        );
    }
}
