//! `berth import`: a tar from a file or stdin streamed as the chunked body of
//! `POST /images/create?fromSrc=-` (with docker's `repo`, `message`, `changes` query), the
//! answer's `{"status":"sha256:..."}` printed as docker prints it.

use super::api::{self, query};
use super::args::FlagSpec;
use super::progress;
use super::{parse, Cli};
use crate::client::Body;
use crate::error::{Context, Error, Result};
use argh::FromArgs;
use std::io::{self, Read};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Import the contents from a tarball to create a filesystem image.
pub struct ImportArgs {
    /// apply a Dockerfile instruction to the created image
    #[argh(option, short = 'c')]
    change: Vec<String>,
    /// set a commit message for the imported image
    #[argh(option, short = 'm')]
    message: Option<String>,
    /// set the platform (accepted, sent to the daemon)
    #[argh(option)]
    platform: Option<String>,
    /// a tar file, or - for stdin
    #[argh(positional)]
    source: String,
    /// the image name (REPOSITORY[:TAG])
    #[argh(positional)]
    reference: Option<String>,
}

/// The import query docker sends.
pub fn import_query(a: &ImportArgs) -> String {
    let mut q = vec![("fromSrc", "-".to_string())];
    if let Some(r) = &a.reference {
        q.push(("repo", r.clone()));
    }
    if let Some(m) = a.message.as_ref().filter(|m| !m.is_empty()) {
        q.push(("message", m.clone()));
    }
    if let Some(p) = &a.platform {
        q.push(("platform", p.clone()));
    }
    for c in &a.change {
        q.push(("changes", c.clone()));
    }
    query(&q)
}

const IMPORT_SPEC: FlagSpec = FlagSpec {
    switches: &[],
    options: &["-c", "--change", "-m", "--message", "--platform"],
    stop_at_positional: false,
    aliases: &[],
};

pub fn import(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: ImportArgs = match parse(path, words, &IMPORT_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        if a.source.starts_with("http://") || a.source.starts_with("https://") {
            return Err(Error::invalid("importing from a URL is not supported"));
        }
        let mut input: Box<dyn Read> = if a.source == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(std::fs::File::open(&a.source).ctx(|| format!("open {}", a.source))?)
        };
        let path = format!("/images/create{}", import_query(&a));
        let resp = api::call(
            &mut cli.client,
            "POST",
            &path,
            &[],
            Body::Stream(&mut input, "text/plain"),
        )?;
        let stdout = io::stdout();
        progress::show(
            resp,
            stdout.lock(),
            progress::output_of(&stdout),
            &mut |_| {},
        )
    })();
    super::status(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import_args(words: &[&str]) -> ImportArgs {
        let norm = super::super::args::normalize(words, &IMPORT_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        ImportArgs::from_args(&["berth", "import"], &refs)
            .unwrap_or_else(|e| panic!("{}", e.output))
    }

    #[test]
    fn import_query_like_docker() {
        // transcripts/import.md
        let a = import_args(&[
            "-c",
            "CMD [\"sh\"]",
            "-c",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin",
            "-m",
            "capture busybox",
            "-",
            "capture/busybox:latest",
        ]);
        assert_eq!(
            import_query(&a),
            "?changes=CMD%20%5B%22sh%22%5D&changes=ENV%20PATH%3D%2Fusr%2Flocal%2Fbin%3A%2Fusr%2Fbin%3A%2Fbin%3A%2Fsbin&fromSrc=-&message=capture%20busybox&repo=capture%2Fbusybox%3Alatest"
        );
        assert_eq!(import_query(&import_args(&["rootfs.tar"])), "?fromSrc=-");
    }
}
