//! `berth save` and `berth load`: image archives. `save` streams `GET /images/get?names=..`
//! to a file (written beside it under a temporary name and renamed into place, so a
//! failed save leaves no half archive) or to stdout, which must not be a terminal; `load`
//! streams a tar from a file or stdin as the chunked body of `POST /images/load` and
//! shows the answer, asking for `quiet=1` unless stdout is a terminal, as docker does.

use super::api::{self, query};
use super::args::FlagSpec;
use super::progress;
use super::{parse, Cli};
use crate::client::{Body, Response};
use crate::error::{Context, Error, Result};
use argh::FromArgs;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Save one or more images to a tar archive (streamed to STDOUT by default).
pub struct SaveArgs {
    /// write to a file, instead of STDOUT
    #[argh(option, short = 'o')]
    output: Option<String>,
    /// the images
    #[argh(positional)]
    images: Vec<String>,
}

const SAVE_SPEC: FlagSpec = FlagSpec {
    switches: &[],
    options: &["-o", "--output"],
    stop_at_positional: false,
    aliases: &[],
};

/// docker's `ValidateOutputPath`: the directory must exist, and an existing path must be
/// a directory or a regular file.
fn check_output_path(path: &str) -> std::result::Result<(), String> {
    let p = Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            return Err(format!(
                "invalid output path: directory {:?} does not exist",
                dir.display().to_string()
            ));
        }
    }
    match std::fs::metadata(p) {
        Ok(m) if m.file_type().is_block_device() || m.file_type().is_char_device() => Err(format!(
            "invalid output path: {path:?} must be a directory or a regular file: got a device"
        )),
        _ => Ok(()),
    }
}

/// Copies `r` to `path` through a temporary file in the same directory, renamed over
/// `path` once complete (mode 0600, like docker's `CopyToFile`).
fn copy_to_file(path: &Path, r: &mut dyn Read) -> Result<()> {
    crate::util::atomic::replace_file(path, r, &|_, _| Ok(()))
}

/// The save request path: one `names` per image, in order.
pub fn save_path(images: &[String]) -> String {
    let q: Vec<(&str, String)> = images.iter().map(|i| ("names", i.clone())).collect();
    format!("/images/get{}", query(&q))
}

pub fn save(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: SaveArgs = match parse(path, words, &SAVE_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let output = a.output.as_deref().filter(|o| !o.is_empty());
        if output.is_none() && io::stdout().is_terminal() {
            return Err(Error::invalid(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect",
            ));
        }
        if let Some(o) = output {
            check_output_path(o)
                .map_err(|e| Error::invalid(format!("failed to save image: {e}")))?;
        }
        let mut resp = api::call(
            &mut cli.client,
            "GET",
            &save_path(&a.images),
            &[],
            Body::Empty,
        )?;
        match output {
            Some(o) => copy_to_file(Path::new(o), &mut resp),
            None => {
                let mut out = io::stdout().lock();
                io::copy(&mut resp, &mut out)
                    .and_then(|_| out.flush())
                    .map(|_| ())
                    .ctx(|| "write the archive to stdout")
            }
        }
    })();
    super::status(r)
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Load an image from a tar archive or STDIN.
pub struct LoadArgs {
    /// read from tar archive file, instead of STDIN
    #[argh(option, short = 'i')]
    input: Option<String>,
    /// suppress the load output
    #[argh(switch, short = 'q')]
    quiet: bool,
}

const LOAD_SPEC: FlagSpec = FlagSpec {
    switches: &["-q", "--quiet"],
    options: &["-i", "--input"],
    stop_at_positional: false,
    aliases: &[],
};

/// The load request path; `quiet=1` leaves the progress out of the answer.
pub fn load_path(quiet: bool) -> String {
    format!("/images/load?quiet={}", u8::from(quiet))
}

fn is_json(resp: &Response) -> bool {
    resp.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.trim_start().starts_with("application/json")
    })
}

pub fn load(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: LoadArgs = match parse(path, words, &LOAD_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let mut input: Box<dyn Read> = match a.input.as_deref().filter(|i| !i.is_empty()) {
            Some(f) => Box::new(std::fs::File::open(f).ctx(|| format!("open {f}"))?),
            None if io::stdin().is_terminal() => {
                return Err(Error::invalid(
                    "requested load from stdin, but stdin is empty",
                ))
            }
            None => Box::new(io::stdin()),
        };
        let stdout = io::stdout();
        let quiet = a.quiet || !stdout.is_terminal();
        let mut resp = api::call(
            &mut cli.client,
            "POST",
            &load_path(quiet),
            &[],
            Body::Stream(&mut input, "application/x-tar"),
        )?;
        if is_json(&resp) {
            return progress::show(
                resp,
                stdout.lock(),
                progress::output_of(&stdout),
                &mut |_| {},
            );
        }
        io::copy(&mut resp, &mut stdout.lock())
            .map(|_| ())
            .ctx(|| "write the load answer")
    })();
    super::status(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn requests_like_docker() {
        // transcripts/save.md, load.md, load-tty.md
        assert_eq!(
            save_path(&["capture/committed:v1".into()]),
            "/images/get?names=capture%2Fcommitted%3Av1"
        );
        assert_eq!(
            save_path(&["b:1".into(), "a".into()]),
            "/images/get?names=b%3A1&names=a"
        );
        assert_eq!(load_path(true), "/images/load?quiet=1");
        assert_eq!(load_path(false), "/images/load?quiet=0");
    }

    #[test]
    fn output_paths_are_checked() {
        assert_eq!(
            check_output_path("/nonexistent-berth-dir/x.tar").unwrap_err(),
            "invalid output path: directory \"/nonexistent-berth-dir\" does not exist"
        );
        assert!(check_output_path("x.tar").is_ok());
        assert!(check_output_path("/tmp").is_ok());
        assert_eq!(
            check_output_path("/dev/null").unwrap_err(),
            "invalid output path: \"/dev/null\" must be a directory or a regular file: got a device"
        );
    }

    /// A reader that fails after some bytes, like a daemon that went away mid-archive.
    struct Broken(usize);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset",
                ));
            }
            let n = self.0.min(buf.len());
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn files_appear_whole_or_not_at_all() {
        let dir = TempDir::new("cli-save");
        let target = dir.path().join("out.tar");
        std::fs::write(&target, b"old").unwrap();
        assert!(copy_to_file(&target, &mut Broken(10)).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
        copy_to_file(&target, &mut &b"new archive"[..]).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new archive");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
