//! Container commands that name containers: `start` (and `start -a`), `stop`, `kill`,
//! `restart`, `rm`, `wait`, `rename`, `attach`, `logs`. Commands taking several names
//! handle each in turn, print each name as given on success, print the daemon's errors
//! after the others, and exit 1 if any failed, as docker does.

use super::api::{self, query};
use super::args::FlagSpec;
use super::session::{self, Attach, Failed, Then, Wait};
use super::stream;
use super::units::api_timestamp;
use super::{parse, Cli};
use crate::client::{Addr, Body, Client};
use crate::error::{Error, Result};
use argh::FromArgs;
use std::io;

fn spec(switches: &'static [&'static str], options: &'static [&'static str]) -> FlagSpec {
    FlagSpec {
        switches,
        options,
        stop_at_positional: false,
        aliases: &[],
    }
}

/// Runs `f` for each name at once, each on its own connection (docker's parallel
/// operations: `stop a b` waits one grace period, not two); prints each result in the
/// order the names were given, as soon as it and those before it are done, and the
/// errors after all of them.
fn each(
    addr: &Addr,
    names: &[String],
    f: impl Fn(&mut Client, &str) -> Result<String> + Sync,
) -> i32 {
    let mut errors = Vec::new();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = names
            .iter()
            .map(|n| s.spawn(move || f(&mut Client::new(addr.clone()), n)))
            .collect();
        for h in handles {
            match h.join() {
                Ok(Ok(line)) => println!("{line}"),
                Ok(Err(e)) => errors.push(e.message),
                Err(_) => errors.push("berth: a worker thread failed".to_string()),
            }
        }
    });
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Start one or more stopped containers.
pub struct StartArgs {
    /// attach STDOUT/STDERR and forward signals
    #[argh(switch, short = 'a')]
    attach: bool,
    /// attach the container's STDIN
    #[argh(switch, short = 'i')]
    interactive: bool,
    /// key sequence for detaching (accepted, not used)
    #[argh(option, long = "detach-keys")]
    _detach_keys: Option<String>,
    /// the containers
    #[argh(positional)]
    containers: Vec<String>,
}

pub fn start(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: StartArgs = match parse(
        path,
        words,
        &spec(
            &["-a", "--attach", "-i", "--interactive"],
            &["--detach-keys"],
        ),
    ) {
        Ok(a) => a,
        Err(c) => return c,
    };
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            eprintln!("you cannot start and attach multiple containers at once");
            return 1;
        }
        return start_attached(cli, &a.containers[0], a.interactive);
    }
    let mut failed = Vec::new();
    for n in &a.containers {
        match api::post(&mut cli.client, &format!("/containers/{n}/start")) {
            Ok(_) => println!("{n}"),
            Err(e) => {
                eprintln!("{}", e.message);
                failed.push(n.as_str());
            }
        }
    }
    if failed.is_empty() {
        return 0;
    }
    eprintln!("Error: failed to start containers: {}", failed.join(", "));
    1
}

/// The container's inspect document, for the fields the CLI needs (`Id`, `Config.Tty`,
/// `Config.OpenStdin`, `State`).
fn inspect(cli: &mut Cli, name: &str) -> Result<serde_json::Value> {
    api::get_json(&mut cli.client, &format!("/containers/{name}/json"))
}

fn start_attached(cli: &mut Cli, name: &str, interactive: bool) -> i32 {
    let c = match inspect(cli, name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let id = c["Id"].as_str().unwrap_or(name).to_string();
    let a = Attach {
        stdin: interactive && c["Config"]["OpenStdin"].as_bool().unwrap_or(false),
        stdout: true,
        stderr: true,
        tty: c["Config"]["Tty"].as_bool().unwrap_or(false),
        sig_proxy: true,
    };
    match session::session(
        &cli.addr,
        &id,
        &a,
        Wait::Condition(Some("next-exit")),
        Then::Start,
    ) {
        Ok(code) => code,
        Err(Failed::Start(e) | Failed::Other(e)) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Attach local standard input, output, and error streams to a running container.
pub struct AttachArgs {
    /// do not attach STDIN
    #[argh(switch)]
    no_stdin: bool,
    /// proxy received signals to the container (the default)
    #[argh(switch, long = "sig-proxy")]
    _sig_proxy: bool,
    /// do not proxy signals (--sig-proxy=false)
    #[argh(switch)]
    no_sig_proxy: bool,
    /// key sequence for detaching (accepted, not used)
    #[argh(option, long = "detach-keys")]
    _detach_keys: Option<String>,
    /// the container
    #[argh(positional)]
    container: String,
}

const ATTACH_SPEC: FlagSpec = FlagSpec {
    switches: &["--no-stdin", "--sig-proxy", "--no-sig-proxy"],
    options: &["--detach-keys"],
    stop_at_positional: false,
    aliases: &[
        ("--sig-proxy=false", "--no-sig-proxy"),
        ("--sig-proxy=0", "--no-sig-proxy"),
    ],
};

pub fn attach(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: AttachArgs = match parse(path, words, &ATTACH_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let name = a.container.as_str();
    let wait = match session::wait_head(&cli.addr, name, None) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let c = match inspect(cli, name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let state = &c["State"];
    let refusal = if !state["Running"].as_bool().unwrap_or(false) {
        Some("You cannot attach to a stopped container, start it first")
    } else if state["Paused"].as_bool().unwrap_or(false) {
        Some("You cannot attach to a paused container, unpause it first")
    } else if state["Restarting"].as_bool().unwrap_or(false) {
        Some("You cannot attach to a restarting container, wait until it is running")
    } else {
        None
    };
    if let Some(r) = refusal {
        eprintln!("{r}");
        return 1;
    }
    let at = Attach {
        stdin: !a.no_stdin && c["Config"]["OpenStdin"].as_bool().unwrap_or(false),
        stdout: true,
        stderr: true,
        tty: c["Config"]["Tty"].as_bool().unwrap_or(false),
        sig_proxy: !a.no_sig_proxy,
    };
    match session::session(
        &cli.addr,
        name,
        &at,
        Wait::Opened(wait),
        Then::AlreadyRunning,
    ) {
        Ok(code) => code,
        Err(Failed::Start(e) | Failed::Other(e)) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Stop one or more running containers (restart: restart them).
pub struct StopArgs {
    /// seconds to wait before killing the container
    #[argh(option, short = 't')]
    time: Option<i64>,
    /// signal to send to the container
    #[argh(option, short = 's')]
    signal: Option<String>,
    /// the containers
    #[argh(positional)]
    containers: Vec<String>,
}

const STOP_SPEC: FlagSpec = FlagSpec {
    switches: &[],
    options: &["-t", "--time", "-s", "--signal"],
    stop_at_positional: false,
    aliases: &[("--timeout", "--time")],
};

fn stop_like(cli: &mut Cli, path: &[&str], words: &[&str], verb: &str) -> i32 {
    let a: StopArgs = match parse(path, words, &STOP_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut q = Vec::new();
    if let Some(s) = &a.signal {
        q.push(("signal", s.clone()));
    }
    if let Some(t) = a.time {
        q.push(("t", t.to_string()));
    }
    let q = query(&q);
    each(&cli.addr, &a.containers, |c, n| {
        api::post(c, &format!("/containers/{n}/{verb}{q}"))?;
        Ok(n.to_string())
    })
}

pub fn stop(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    stop_like(cli, path, words, "stop")
}

pub fn restart(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    stop_like(cli, path, words, "restart")
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Kill one or more running containers.
pub struct KillArgs {
    /// signal to send to the container (default KILL)
    #[argh(option, short = 's')]
    signal: Option<String>,
    /// the containers
    #[argh(positional)]
    containers: Vec<String>,
}

pub fn kill(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: KillArgs = match parse(path, words, &spec(&[], &["-s", "--signal"])) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let q = query(
        &a.signal
            .iter()
            .map(|s| ("signal", s.clone()))
            .collect::<Vec<_>>(),
    );
    each(&cli.addr, &a.containers, |c, n| {
        api::post(c, &format!("/containers/{n}/kill{q}"))?;
        Ok(n.to_string())
    })
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove one or more containers.
pub struct RmArgs {
    /// force the removal of a running container (uses SIGKILL)
    #[argh(switch, short = 'f')]
    force: bool,
    /// remove anonymous volumes associated with the container
    #[argh(switch, short = 'v')]
    volumes: bool,
    /// remove the specified link
    #[argh(switch, short = 'l')]
    link: bool,
    /// the containers
    #[argh(positional)]
    containers: Vec<String>,
}

pub fn rm(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let sw = &["-f", "--force", "-v", "--volumes", "-l", "--link"];
    let a: RmArgs = match parse(path, words, &spec(sw, &[])) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut q = Vec::new();
    for (on, key) in [(a.force, "force"), (a.link, "link"), (a.volumes, "v")] {
        if on {
            q.push((key, "1".to_string()));
        }
    }
    let q = query(&q);
    each(&cli.addr, &a.containers, |c, n| {
        let resp = api::call(
            c,
            "DELETE",
            &format!("/containers/{n}{q}"),
            &[],
            Body::Empty,
        )?;
        resp.bytes()?;
        Ok(n.to_string())
    })
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Block until one or more containers stop, then print their exit codes.
pub struct WaitArgs {
    /// the containers
    #[argh(positional)]
    containers: Vec<String>,
}

pub fn wait(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: WaitArgs = match parse(path, words, &spec(&[], &[])) {
        Ok(a) => a,
        Err(c) => return c,
    };
    each(&cli.addr, &a.containers, |c, n| {
        let resp = api::call(
            c,
            "POST",
            &format!("/containers/{n}/wait"),
            &[],
            Body::Empty,
        )?;
        Ok(session::wait_result(resp)?.to_string())
    })
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Rename a container.
pub struct RenameArgs {
    /// the container
    #[argh(positional)]
    container: String,
    /// its new name
    #[argh(positional)]
    new_name: String,
}

pub fn rename(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: RenameArgs = match parse(path, words, &spec(&[], &[])) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (old, new) = (a.container.trim(), a.new_name.trim());
    if old.is_empty() || new.is_empty() {
        eprintln!("Error: Neither old nor new names may be empty");
        return 1;
    }
    let q = query(&[("name", new.to_string())]);
    match api::post(&mut cli.client, &format!("/containers/{old}/rename{q}")) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!(
                "{}\nError: failed to rename container named {old}",
                e.message
            );
            1
        }
    }
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Fetch the logs of a container.
pub struct LogsArgs {
    /// follow log output
    #[argh(switch, short = 'f')]
    follow: bool,
    /// number of lines to show from the end of the logs, or "all"
    #[argh(option, short = 'n', default = "String::from(\"all\")")]
    tail: String,
    /// show timestamps
    #[argh(switch, short = 't')]
    timestamps: bool,
    /// show logs since a time (2013-01-02T13:23:37Z) or a relative time (42m)
    #[argh(option)]
    since: Option<String>,
    /// show logs before a time (2013-01-02T13:23:37Z) or a relative time (42m)
    #[argh(option)]
    until: Option<String>,
    /// show extra details provided to logs
    #[argh(switch)]
    details: bool,
    /// the container
    #[argh(positional)]
    container: String,
}

/// The logs query docker sends for these flags, times converted against `now`.
pub fn logs_query(a: &LogsArgs, now_nanos: i64) -> std::result::Result<String, String> {
    let mut q = vec![
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
        ("tail", a.tail.clone()),
    ];
    if let Some(s) = &a.since {
        q.push(("since", api_timestamp(s, now_nanos)?));
    }
    if let Some(u) = &a.until {
        q.push(("until", api_timestamp(u, now_nanos)?));
    }
    for (on, key) in [
        (a.follow, "follow"),
        (a.timestamps, "timestamps"),
        (a.details, "details"),
    ] {
        if on {
            q.push((key, "1".into()));
        }
    }
    Ok(query(&q))
}

pub const LOGS_SPEC: FlagSpec = FlagSpec {
    switches: &["-f", "--follow", "-t", "--timestamps", "--details"],
    options: &["--tail", "-n", "--since", "--until"],
    stop_at_positional: false,
    aliases: &[],
};

pub fn logs(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: LogsArgs = match parse(path, words, &LOGS_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let q = match logs_query(&a, crate::util::time::now_nanos()) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("invalid value for \"since\"/\"until\": {e}");
            return 1;
        }
    };
    let r = (|| -> Result<()> {
        let c = inspect(cli, &a.container)?;
        let id = c["Id"].as_str().unwrap_or(&a.container).to_string();
        let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
        let mut resp = api::call(
            &mut cli.client,
            "GET",
            &format!("/containers/{id}/logs{q}"),
            &[],
            Body::Empty,
        )?;
        let (mut out, mut err) = (io::stdout(), io::stderr());
        let copied = if tty {
            stream::copy_raw(&mut resp, &mut out)
        } else {
            stream::demux(&mut resp, &mut out, &mut err)
        };
        match copied {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::invalid(e.to_string())),
            Err(e) => Err(Error::system(format!("read the logs: {e}"))),
            Ok(()) => Ok(()),
        }
    })();
    super::status(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs_args(words: &[&str]) -> LogsArgs {
        let norm = super::super::args::normalize(words, &LOGS_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        LogsArgs::from_args(&["berth", "logs"], &refs).unwrap_or_else(|e| panic!("{}", e.output))
    }

    #[test]
    fn logs_queries_like_docker() {
        let now = 1_795_893_137 * 1_000_000_000;
        assert_eq!(
            logs_query(&logs_args(&["c"]), now).unwrap(),
            "?stderr=1&stdout=1&tail=all"
        );
        assert_eq!(
            logs_query(&logs_args(&["-f", "c"]), now).unwrap(),
            "?follow=1&stderr=1&stdout=1&tail=all"
        );
        assert_eq!(
            logs_query(&logs_args(&["--tail", "3", "-t", "c"]), now).unwrap(),
            "?stderr=1&stdout=1&tail=3&timestamps=1"
        );
        // transcripts/logs-since-until.md
        assert_eq!(
            logs_query(
                &logs_args(&[
                    "--since",
                    "10m",
                    "--until",
                    "2026-12-31T00:00:00Z",
                    "--tail",
                    "2",
                    "c"
                ]),
                now
            )
            .unwrap(),
            "?since=1795892537&stderr=1&stdout=1&tail=2&until=1798675200.000000000"
        );
        assert!(logs_query(&logs_args(&["--since", "soon", "c"]), now).is_err());
        assert_eq!(
            logs_query(&logs_args(&["-ft", "--tail=1", "c"]), now).unwrap(),
            "?follow=1&stderr=1&stdout=1&tail=1&timestamps=1"
        );
    }
}
