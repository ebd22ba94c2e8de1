//! `berth pull` and `berth push`: the reference normalised as docker does ("Using default
//! tag: latest"), `POST /images/create?fromImage=..&tag=..` or `POST /images/{name}/push`
//! with the registry's `X-Registry-Auth`, the progress stream shown by `progress`, and
//! the reference printed at the end. `create_image` is also the pull `run` and `create`
//! do for a missing image.

use super::api::{self, query};
use super::args::FlagSpec;
use super::progress::{self, Output};
use crate::util::reference::Reference as Named;
use super::{auth, parse, Cli};
use crate::client::Body;
use crate::error::{Error, Result};
use argh::FromArgs;
use std::io::{self, Write};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Download an image from a registry.
pub struct PullArgs {
    /// download all tagged images in the repository
    #[argh(switch, short = 'a')]
    all_tags: bool,
    /// set platform if server is multi-platform capable (os[/arch[/variant]])
    #[argh(option)]
    platform: Option<String>,
    /// suppress verbose output
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// the image (NAME[:TAG|@DIGEST])
    #[argh(positional)]
    image: String,
}

const PULL_SPEC: FlagSpec = FlagSpec {
    switches: &["-a", "--all-tags", "-q", "--quiet"],
    options: &["--platform"],
    stop_at_positional: false,
    aliases: &[],
};

/// The pull query docker sends: the full name, the tag or digest (none for `-a`), the
/// platform in lower case.
pub fn pull_query(named: &Named, all_tags: bool, platform: Option<&str>) -> String {
    let mut q = vec![("fromImage", named.repository())];
    if !all_tags {
        q.push(("tag", named.api_tag()));
    }
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        q.push(("platform", p.to_lowercase()));
    }
    query(&q)
}

/// Pulls `named`, showing the progress on `out`; an error in the stream is the error.
pub fn create_image(
    cli: &mut Cli,
    named: &Named,
    all_tags: bool,
    platform: Option<&str>,
    out: &mut dyn Write,
    output: Output,
) -> Result<()> {
    let auth = auth::registry_auth(&cli.config_dir(), &named.domain);
    let resp = api::call(
        &mut cli.client,
        "POST",
        &format!("/images/create{}", pull_query(named, all_tags, platform)),
        &[("X-Registry-Auth", &auth)],
        Body::Empty,
    )?;
    progress::show(resp, out, output, &mut |_| {})
}

/// Normalises what was typed for `pull`/`push` the way both do: "tag can't be used with
/// --all-tags/-a", else the default tag added (announced unless quiet).
fn target(image: &str, all_tags: bool, quiet: bool) -> Result<Named> {
    let named = Named::parse(image)?;
    if all_tags && !named.name_only() {
        return Err(Error::invalid("tag can't be used with --all-tags/-a"));
    }
    if !all_tags && named.name_only() {
        if !quiet {
            println!("Using default tag: latest");
        }
        return Ok(named.with_default_tag());
    }
    Ok(named)
}

pub fn pull(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PullArgs = match parse(path, words, &PULL_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let named = target(&a.image, a.all_tags, a.quiet)?;
        let stdout = io::stdout();
        let (mut out, output): (Box<dyn Write>, Output) = if a.quiet {
            (Box::new(io::sink()), Output::Plain)
        } else {
            (Box::new(stdout.lock()), progress::output_of(&stdout))
        };
        create_image(
            cli,
            &named,
            a.all_tags,
            a.platform.as_deref(),
            &mut out,
            output,
        )?;
        drop(out);
        println!("{}", named.full_string());
        Ok(())
    })();
    super::status(r)
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Upload an image to a registry.
pub struct PushArgs {
    /// push all tags of an image to the repository
    #[argh(switch, short = 'a')]
    all_tags: bool,
    /// suppress verbose output
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// the image (NAME[:TAG])
    #[argh(positional)]
    image: String,
}

const PUSH_SPEC: FlagSpec = FlagSpec {
    switches: &["-a", "--all-tags", "-q", "--quiet"],
    options: &[],
    stop_at_positional: false,
    aliases: &[],
};

/// The push request path docker (28) sends: the full name, unescaped, and the tag.
pub fn push_path(named: &Named, all_tags: bool) -> String {
    let q = match (&named.tag, all_tags) {
        (Some(t), false) => query(&[("tag", t.clone())]),
        _ => String::new(),
    };
    format!("/images/{}/push{q}", named.repository())
}

pub fn push(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PushArgs = match parse(path, words, &PUSH_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let named = target(&a.image, a.all_tags, a.quiet)?;
        if named.digest.is_some() {
            return Err(Error::invalid("cannot push a digest reference"));
        }
        let auth = auth::registry_auth(&cli.config_dir(), &named.domain);
        let resp = api::call(
            &mut cli.client,
            "POST",
            &push_path(&named, a.all_tags),
            &[("X-Registry-Auth", &auth)],
            Body::Empty,
        )?;
        let stdout = io::stdout();
        if a.quiet {
            progress::show(resp, io::sink(), Output::Plain, &mut |_| {})?;
            println!("{}", named.full_string());
            return Ok(());
        }
        let output = progress::output_of(&stdout);
        progress::show(resp, stdout.lock(), output, &mut |_| {})
    })();
    super::status(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_queries_like_docker() {
        // transcripts/pull.md
        let n = Named::parse("127.0.0.1:5066/capture/busybox:v1").unwrap();
        assert_eq!(
            pull_query(&n, false, None),
            "?fromImage=127.0.0.1%3A5066%2Fcapture%2Fbusybox&tag=v1"
        );
        let n = Named::parse("busybox").unwrap();
        assert_eq!(
            pull_query(&n, true, Some("Linux/ARM64")),
            "?fromImage=docker.io%2Flibrary%2Fbusybox&platform=linux%2Farm64"
        );
        let d = "sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24";
        let n = Named::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(
            pull_query(&n, false, None),
            format!(
                "?fromImage=docker.io%2Flibrary%2Fbusybox&tag=sha256%3A{}",
                &d[7..]
            )
        );
    }

    #[test]
    fn push_paths_like_docker() {
        // transcripts/push.md
        let n = target("127.0.0.1:5066/capture/busybox:v1", false, true).unwrap();
        assert_eq!(
            push_path(&n, false),
            "/images/127.0.0.1:5066/capture/busybox/push?tag=v1"
        );
        let n = target("docker.io/library/busybox", false, true).unwrap();
        assert_eq!(
            push_path(&n, false),
            "/images/docker.io/library/busybox/push?tag=latest"
        );
        let n = target("me/app", true, true).unwrap();
        assert_eq!(push_path(&n, true), "/images/docker.io/me/app/push");
    }

    #[test]
    fn all_tags_takes_no_tag() {
        assert_eq!(
            target("busybox:1", true, true).unwrap_err().message,
            "tag can't be used with --all-tags/-a"
        );
        assert_eq!(target("busybox", true, true).unwrap().tag, None);
        assert_eq!(
            target("busybox", false, true).unwrap().full_string(),
            "docker.io/library/busybox:latest"
        );
        assert!(target("Bad", false, true)
            .unwrap_err()
            .message
            .contains("must be lowercase"));
    }
}
