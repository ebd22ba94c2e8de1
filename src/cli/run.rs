//! `berth run` and `berth create`: build the create request from docker's flags, create
//! the container (printing "Unable to find image 'X' locally" and pulling on a 404, as
//! docker does), then for `run` either start it detached and print its ID, or hold an
//! attached session and exit with the container's status. Failures of `run` print
//! "berth: <error>" with docker's help hint and exit 125, 126 or 127 (README (h)).

use super::api::{self, query};
use super::create;
use super::endpoints;
use super::progress::{self, Output};
use super::pull;
use crate::util::reference::Reference as Named;
use super::run_args::{RunArgs, RUN_SPEC};
use super::session::{self, Attach, Failed, Then, Wait};
use super::{flag_error, parse, Cli};
use crate::client::Body;
use crate::error::{Context, Error, Kind, Result};
use serde_json::Value;
use std::io::{self, IsTerminal, Write};

/// How docker reports a failed `run` (and a bad `create` flag): on stderr, with a hint.
fn report(cmd: &str, e: &Error) {
    eprintln!(
        "berth: {}\n\nRun 'berth {cmd} --help' for more information",
        e.message
    );
}

/// A flag value docker refuses before calling the daemon: with the usage for bad values
/// (125), plain for conflicting flags (1), with the help hint otherwise (125).
fn refused(cmd: &str, path: &[&str], e: &Error) -> i32 {
    if e.message.starts_with("invalid argument ") {
        return flag_error(path, &e.message);
    }
    if e.kind == Kind::Conflict {
        eprintln!("{}", e.message);
        return 1;
    }
    report(cmd, e);
    125
}

fn run_failed(e: &Error) -> i32 {
    report("run", e);
    session::run_failure_status(&e.message)
}

/// The environment and files the create body is built from.
fn build(a: &RunArgs, run: bool) -> Result<(Value, Vec<(&'static str, String)>)> {
    let lookup = |k: &str| std::env::var(k).ok();
    let read_file = |p: &str| std::fs::read_to_string(p).ctx(|| format!("open {p}"));
    let env = create::Env {
        lookup: &lookup,
        read_file: &read_file,
        console: session::console_size(),
    };
    create::build(a, run, &env)
}

pub fn run(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: RunArgs = match parse(path, words, &RUN_SPEC) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (body, q) = match build(&a, true) {
        Ok(b) => b,
        Err(e) => return refused("run", path, &e),
    };
    if a.tty && body["AttachStdin"] == true && !io::stdin().is_terminal() {
        eprintln!("the input device is not a TTY");
        return 1;
    }
    let id = match create_container(cli, &a, &body, &q) {
        Ok(id) => id,
        Err(e) => return run_failed(&e),
    };
    if a.detach {
        println!("{id}");
        return match api::post(&mut cli.client, &format!("/containers/{id}/start")) {
            Ok(_) => 0,
            Err(e) => run_failed(&e),
        };
    }
    let attach = Attach {
        stdin: body["AttachStdin"].as_bool().unwrap_or(false),
        stdout: body["AttachStdout"].as_bool().unwrap_or(true),
        stderr: body["AttachStderr"].as_bool().unwrap_or(true),
        tty: a.tty,
        sig_proxy: !a.no_sig_proxy,
    };
    let condition = if a.rm { "removed" } else { "next-exit" };
    match session::session(
        &cli.addr,
        &id,
        &attach,
        Wait::Condition(Some(condition)),
        Then::Start,
    ) {
        Ok(code) => code,
        Err(Failed::Start(e)) => run_failed(&e),
        Err(Failed::Other(e)) => {
            eprintln!("{}", e.message);
            125
        }
    }
}

pub fn create(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: RunArgs = match parse(path, words, &RUN_SPEC) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if a.detach {
        eprintln!("unknown shorthand flag: 'd' in -d\nSee 'berth create --help'.");
        return 125;
    }
    let (body, q) = match build(&a, false) {
        Ok(b) => b,
        Err(e) => return refused("create", path, &e),
    };
    match create_container(cli, &a, &body, &q) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

/// `POST /containers/create`, pulling the image first when the daemon does not have it.
/// Prints the daemon's warnings; writes `--cidfile`.
fn create_container(
    cli: &mut Cli,
    a: &RunArgs,
    body: &Value,
    q: &[(&'static str, String)],
) -> Result<String> {
    if let Some(f) = &a.cidfile {
        if std::path::Path::new(f).exists() {
            return Err(Error::conflict(format!(
                "container ID file found, make sure the other container isn't running or delete {f}"
            )));
        }
    }
    let policy = a.pull.as_deref().unwrap_or("missing");
    if !matches!(policy, "missing" | "always" | "never") {
        return Err(Error::invalid(format!(
            "invalid pull option: '{policy}': must be one of \"always\", \"missing\" or \"never\""
        )));
    }
    if policy == "always" {
        let named = Named::parse(&a.image)?;
        pull(cli, a, &named)?;
    }
    // docker 28 refuses an endpoint MAC address below API 1.44, the version berth speaks.
    if endpoints::wants_mac(&body["NetworkingConfig"]["EndpointsConfig"]) {
        return Err(Error::invalid(endpoints::MAC_NEEDS_1_44));
    }
    let mut bytes = serde_json::to_vec(body)
        .map_err(|e| Error::system(format!("encode the create request: {e}")))?;
    bytes.push(b'\n');
    let path = format!("/containers/create{}", query(q));
    let created = api::call(
        &mut cli.client,
        "POST",
        &path,
        &[],
        Body::Json(bytes.clone()),
    );
    // Only a name is pulled (a full image ID is not), and only on a 404, whatever it says.
    let missing = match &created {
        Err(e) if e.kind == Kind::NotFound && policy == "missing" => Named::parse(&a.image).ok(),
        _ => None,
    };
    let resp = match missing {
        Some(named) => {
            if !a.quiet {
                eprintln!(
                    "Unable to find image '{}' locally",
                    named.clone().with_default_tag().familiar_string()
                );
            }
            pull(cli, a, &named)?;
            api::call(&mut cli.client, "POST", &path, &[], Body::Json(bytes))?
        }
        None => created?,
    };
    let answer: Value = serde_json::from_slice(&resp.bytes()?)
        .map_err(|e| Error::invalid(format!("decode the create answer: {e}")))?;
    for w in answer["Warnings"].as_array().into_iter().flatten() {
        if let Some(w) = w.as_str() {
            eprintln!("WARNING: {w}");
        }
    }
    if let Some(w) = localhost_dns_warning(&body["HostConfig"]["Dns"]) {
        eprintln!("WARNING: {w}");
    }
    let id = answer["Id"]
        .as_str()
        .ok_or_else(|| Error::invalid("the create answer has no Id"))?
        .to_string();
    if let Some(f) = &a.cidfile {
        std::fs::write(f, &id).ctx(|| format!("write the container ID file {f}"))?;
    }
    Ok(id)
}

/// docker's warning, added to the daemon's, when a `--dns` server is a loopback address.
fn localhost_dns_warning(dns: &Value) -> Option<String> {
    dns.as_array()?
        .iter()
        .filter_map(|d| d.as_str()?.parse::<std::net::IpAddr>().ok())
        .find(|ip| ip.is_loopback())
        .map(|ip| format!("Localhost DNS ({ip}) may fail in containers."))
}

/// The pull `run` and `create` do: its progress on stderr (nothing with `-q`), since
/// stdout is the container's.
fn pull(cli: &mut Cli, a: &RunArgs, named: &Named) -> Result<()> {
    let stderr = io::stderr();
    let (mut out, output): (Box<dyn Write>, Output) = if a.quiet {
        (Box::new(io::sink()), Output::Plain)
    } else {
        (Box::new(stderr.lock()), progress::output_of(&stderr))
    };
    pull::create_image(cli, named, false, a.platform.as_deref(), &mut out, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn localhost_dns_is_warned_about() {
        assert_eq!(
            localhost_dns_warning(&json!(["1.1.1.1", "127.0.0.1", "::1"])).as_deref(),
            Some("Localhost DNS (127.0.0.1) may fail in containers.")
        );
        assert_eq!(localhost_dns_warning(&json!(["1.1.1.1"])), None);
        assert_eq!(localhost_dns_warning(&json!([])), None);
    }
}
