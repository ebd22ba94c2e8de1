//! `berth rmi` (each image's `Untagged:`/`Deleted:` lines, errors after the rest) and
//! `berth tag` (the target checked and split into repository and tag the way docker does).

use super::api::{self, query};
use super::args::FlagSpec;
use super::ps::familiar;
use super::{parse, Cli};
use crate::client::Body;
use crate::error::Error;
use argh::FromArgs;
use serde_json::Value;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove one or more images.
pub struct RmiArgs {
    /// force removal of the image
    #[argh(switch, short = 'f')]
    force: bool,
    /// do not delete untagged parents
    #[argh(switch)]
    no_prune: bool,
    /// the images
    #[argh(positional)]
    images: Vec<String>,
}

pub fn rmi(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let spec = FlagSpec {
        switches: &["-f", "--force", "--no-prune"],
        options: &[],
        stop_at_positional: false,
        aliases: &[],
    };
    let a: RmiArgs = match parse(path, words, &spec) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut q = Vec::new();
    if a.force {
        q.push(("force", "1".to_string()));
    }
    if a.no_prune {
        q.push(("noprune", "1".to_string()));
    }
    let q = query(&q);
    let mut errors = Vec::new();
    for img in &a.images {
        let r = api::call(
            &mut cli.client,
            "DELETE",
            &format!("/images/{img}{q}"),
            &[],
            Body::Empty,
        )
        .and_then(|resp| resp.bytes())
        .and_then(|b| {
            serde_json::from_slice::<Value>(&b)
                .map_err(|e| Error::invalid(format!("decode the rmi answer: {e}")))
        });
        match r {
            Ok(list) => {
                for item in list.as_array().into_iter().flatten() {
                    match (
                        item["Deleted"].as_str().filter(|s| !s.is_empty()),
                        item["Untagged"].as_str(),
                    ) {
                        (Some(d), _) => println!("Deleted: {d}"),
                        (None, Some(u)) => println!("Untagged: {u}"),
                        _ => {}
                    }
                }
            }
            Err(e) => errors.push(e.message),
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
pub struct TagArgs {
    /// the source image (IMAGE[:TAG])
    #[argh(positional)]
    source: String,
    /// the new name (IMAGE[:TAG])
    #[argh(positional)]
    target: String,
}

/// The target of `tag` as docker sends it: (familiar repository, tag), after docker's
/// checks of the reference.
pub fn tag_target(target: &str) -> std::result::Result<(String, String), String> {
    let bad = |why: &str| {
        format!("Error parsing reference: {target:?} is not a valid repository/tag: {why}")
    };
    if target.contains('@') {
        return Err("refusing to create a tag with a digest reference".into());
    }
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (target, "latest"),
    };
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let (domain, path) = match repo.split_once('/') {
        Some((d, p)) if d.contains('.') || d.contains(':') || d == "localhost" => (Some(d), p),
        _ => (None, repo),
    };
    let comp_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    };
    if repo.is_empty()
        || !tag_ok
        || !path.split('/').all(comp_ok)
        || domain.is_some_and(|d| d.contains(char::is_whitespace))
    {
        return Err(bad("invalid reference format"));
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        let full = if domain.is_none() && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        return Err(bad(&format!(
            "invalid reference format: repository name ({full}) must be lowercase"
        )));
    }
    Ok((familiar(repo).to_string(), tag.to_string()))
}

pub fn tag(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let spec = FlagSpec {
        switches: &[],
        options: &[],
        stop_at_positional: false,
        aliases: &[],
    };
    let a: TagArgs = match parse(path, words, &spec) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (repo, tag) = match tag_target(&a.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let q = query(&[("repo", repo), ("tag", tag)]);
    match api::post(&mut cli.client, &format!("/images/{}/tag{q}", a.source)) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_targets() {
        assert_eq!(
            tag_target("127.0.0.1:5066/capture/busybox:v1").unwrap(),
            ("127.0.0.1:5066/capture/busybox".into(), "v1".into())
        );
        assert_eq!(
            tag_target("dk/busybox").unwrap(),
            ("dk/busybox".into(), "latest".into())
        );
        assert_eq!(
            tag_target("docker.io/library/bb:2").unwrap(),
            ("bb".into(), "2".into())
        );
        assert!(tag_target("Upper/case")
            .unwrap_err()
            .ends_with("repository name (Upper/case) must be lowercase"));
        assert!(tag_target("Foo")
            .unwrap_err()
            .ends_with("repository name (library/Foo) must be lowercase"));
        assert!(tag_target("bad name").is_err());
        assert!(tag_target("x:-bad").is_err());
        assert_eq!(
            tag_target("x@sha256:00").unwrap_err(),
            "refusing to create a tag with a digest reference"
        );
    }
}
