//! `berth rmi` (each image's `Untagged:`/`Deleted:` lines, errors after the rest) and
//! `berth tag` (the target checked and split into repository and tag the way docker does).

use super::api::{self, query};
use super::args::FlagSpec;
use crate::util::reference::Reference as Named;
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
    let named = Named::parse(target).map_err(|why| {
        format!("Error parsing reference: {target:?} is not a valid repository/tag: {why}")
    })?;
    if named.digest.is_some() {
        return Err("refusing to create a tag with a digest reference".into());
    }
    let named = named.with_default_tag();
    Ok((named.familiar_repository(), named.tag.unwrap_or_default()))
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
        assert!(tag_target("upper/Case")
            .unwrap_err()
            .ends_with("repository name (upper/Case) must be lowercase"));
        assert!(tag_target("Foo")
            .unwrap_err()
            .ends_with("repository name (library/Foo) must be lowercase"));
        assert!(tag_target("bad name").is_err());
        assert!(tag_target("x:-bad").is_err());
        assert_eq!(
            tag_target("x@sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24")
                .unwrap_err(),
            "refusing to create a tag with a digest reference"
        );
    }
}
