//! The berth client: docker's global options and commands (with the `container`,
//! `image` and `network` management forms), each parsed in two stages (docker's spellings
//! normalised in `args`, then argh), run against the daemon through `client`, printing what
//! docker prints and exiting with docker's statuses (125 for bad flags). `berth daemon` and
//! `berth monitor` never reach this module.

mod api;
mod archive;
pub mod args;
mod auth;
mod container;
mod create;
mod endpoints;
mod format;
mod history;
mod images;
mod import;
mod inspect;
mod json;
mod login;
mod network;
mod network_create;
mod network_ls;
mod opts;
mod port;
mod portspec;
mod progress;
mod prune;
mod ps;
mod pull;
mod rmi;
mod run;
mod run_args;
mod session;
mod stream;
mod system;
mod table;
mod template;
mod template_funcs;
mod template_parse;
mod units;
mod usage;

use crate::client::{Addr, Client};
use argh::{EarlyExit, FromArgs};
use args::FlagSpec;
use usage::{
    count_error, management_usage, usage, usage_line, COMMANDS, CONTAINER_SUBS, IMAGE_SUBS,
    NETWORK_SUBS,
};

/// What every command works with: where the daemon is, a keep-alive client for calls
/// made one after another (calls that overlap make their own from `addr`), and the
/// `--config` directory if one was given.
pub struct Cli {
    pub addr: Addr,
    pub client: Client,
    pub config: Option<std::path::PathBuf>,
}

impl Cli {
    /// Where the docker config file (registry credentials) lives.
    pub fn config_dir(&self) -> std::path::PathBuf {
        auth::config_dir(self.config.as_deref())
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
/// The exit status of a command that printed its own output: 0, or 1 after printing the
/// error's message.
pub fn status(r: crate::error::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

/// Prints a command's rendered output, or its error; the exit status.
pub fn print_or_fail(r: crate::error::Result<String>) -> i32 {
    status(r.map(|text| out(&text)))
}

pub fn out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
}

/// docker's words for a flag argh refused.
fn flag_message(argh_output: &str) -> String {
    let first = argh_output.lines().next().unwrap_or("").trim();
    let arg_of = |rest: &str| -> String {
        let r = rest.split(". Did you mean").next().unwrap_or(rest);
        r.trim_matches(|c| c == '"' || c == '\'' || c == '.')
            .to_string()
    };
    let flag_words = |f: &str| match f.strip_prefix("--") {
        Some(_) => f.to_string(),
        None => format!("'{}' in {f}", f.trim_start_matches('-')),
    };
    if let Some(rest) = first.strip_prefix("Unrecognized argument: ") {
        let f = arg_of(rest);
        return match f.strip_prefix("--") {
            Some(_) => format!("unknown flag: {f}"),
            None => format!("unknown shorthand flag: {}", flag_words(&f)),
        };
    }
    // Every option argh parses is an integer: the other options are strings.
    if let Some((flag, value)) = first
        .strip_prefix("Error parsing option '")
        .and_then(|r| r.split_once("' with value '"))
        .and_then(|(f, r)| r.split_once("':").map(|(v, _)| (f, v)))
    {
        return format!("invalid argument \"{value}\" for \"{flag}\" flag: strconv.ParseInt: parsing \"{value}\": invalid syntax");
    }
    if let Some(rest) = first.strip_prefix("No value provided for option ") {
        return format!("flag needs an argument: {}", flag_words(&arg_of(rest)));
    }
    first.to_string()
}

/// Prints a flag error the way docker does (with the usage line) and gives 125.
pub fn flag_error(path: &[&str], message: &str) -> i32 {
    let cmd = path.join(" ");
    eprintln!(
        "{message}\n\n{}\n\nRun '{cmd} --help' for more information",
        usage_line(path)
    );
    125
}

/// Stage one and two for a command, with docker's argument count and flag errors: on
/// `--help` prints the help and gives status 0; a wrong number of arguments gives 1, a bad
/// flag 125, as docker does.
pub fn parse<T: FromArgs>(path: &[&str], words: &[&str], spec: &FlagSpec) -> Result<T, i32> {
    let norm = args::normalize(words, spec);
    let flags: Vec<&String> = norm.iter().take_while(|w| *w != "--").collect();
    let help = flags.iter().any(|w| *w == "--help");
    // An option missing its value is argh's to report ("flag needs an argument").
    let dangling = flags.len() == norm.len()
        && flags
            .last()
            .is_some_and(|w| spec.options.contains(&w.as_str()));
    if !help && !dangling {
        if let Some(msg) = count_error(path, args::positional_count(&norm, spec)) {
            eprintln!("{msg}");
            return Err(1);
        }
    }
    let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    match T::from_args(path, &refs) {
        Ok(t) => Ok(t),
        Err(EarlyExit {
            output,
            status: Ok(()),
        }) => {
            println!("{output}");
            Err(0)
        }
        Err(EarlyExit {
            output,
            status: Err(()),
        }) => Err(flag_error(path, &flag_message(&output))),
    }
}

/// The global options before the command.
#[derive(Debug, Default, PartialEq)]
struct Globals {
    host: Option<String>,
    config: Option<String>,
    version: bool,
    help: bool,
}

/// Parses docker's global options; returns them and the index of the command word.
fn parse_globals(args: &[String]) -> Result<(Globals, usize), String> {
    let mut g = Globals::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
            _ => match a {
                _ if a.len() > 2
                    && !a.starts_with("--")
                    && matches!(&a[..2], "-H" | "-l" | "-c") =>
                {
                    (&a[..2], Some(a[2..].trim_start_matches('=').to_string()))
                }
                _ => (a, None),
            },
        };
        let value = |i: &mut usize| -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: {flag}"))
        };
        match flag {
            "-H" | "--host" => g.host = Some(value(&mut i)?),
            "--config" => g.config = Some(value(&mut i)?),
            "-l" | "--log-level" | "-c" | "--context" => {
                value(&mut i)?;
            }
            "-v" | "--version" => g.version = true,
            "-h" | "--help" => g.help = true,
            "-D" | "--debug" | "--tls" | "--tlsverify" => {}
            other => return Err(format!("unknown flag: {other}")),
        }
        i += 1;
    }
    Ok((g, i))
}

/// The dispatch name of a `network` subcommand.
fn network_command(sub: &str) -> &'static str {
    match sub {
        "connect" => "network-connect",
        "create" => "network-create",
        "disconnect" => "network-disconnect",
        "inspect" => "network-inspect",
        "ls" => "network-ls",
        "prune" => "network-prune",
        _ => "network-rm",
    }
}

pub fn main(argv: &[String]) -> i32 {
    let args = argv.get(1..).unwrap_or(&[]);
    let (g, at) = match parse_globals(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}\nSee 'berth --help'.");
            return 125;
        }
    };
    if g.version {
        println!(
            "berth version {}, build {}",
            crate::version::VERSION,
            crate::version::GIT_COMMIT
        );
        return 0;
    }
    let Some(cmd) = args.get(at).map(String::as_str).filter(|_| !g.help) else {
        print!("{}", usage());
        return 0;
    };
    let rest: Vec<&str> = args[at + 1..].iter().map(String::as_str).collect();
    // The management forms map onto the classic commands.
    let (name, path, words): (&str, Vec<&str>, &[&str]) = match cmd {
        "container" | "image" => {
            let subs = if cmd == "container" {
                CONTAINER_SUBS
            } else {
                IMAGE_SUBS
            };
            match rest.first() {
                None | Some(&"--help") | Some(&"help") => {
                    let subs: Vec<(&str, &str)> = subs.iter().map(|s| (*s, "")).collect();
                    print!("{}", management_usage(cmd, &subs));
                    return 0;
                }
                Some(sub) if subs.contains(sub) || matches!(*sub, "ps" | "list" | "remove") => {
                    let classic = match (cmd, *sub) {
                        ("container", "ls" | "ps" | "list") => "ps",
                        ("image", "ls" | "list") => "images",
                        ("image", "rm" | "remove") => "rmi",
                        ("container", "remove") => "rm",
                        ("container", "inspect") => "container-inspect",
                        ("image", "inspect") => "image-inspect",
                        ("image", "prune") => "image-prune",
                        (_, s) => s,
                    };
                    (classic, vec!["berth", cmd, sub], &rest[1..])
                }
                Some(sub) => {
                    eprintln!("berth: unknown command: berth {cmd} {sub}\n\nUsage:  berth {cmd}\n\nRun 'berth {cmd} --help' for more information");
                    return 1;
                }
            }
        }
        "network" => match rest.first() {
            // Asked for, the help goes to stdout; without a subcommand, to stderr (docker's).
            Some(&"--help") | Some(&"help") => {
                print!("{}", management_usage(cmd, NETWORK_SUBS));
                return 0;
            }
            None => {
                eprint!("{}", management_usage(cmd, NETWORK_SUBS));
                return 0;
            }
            Some(sub) => {
                // docker names a subcommand by its name, not the alias typed.
                let sub = match *sub {
                    "list" => "ls",
                    "remove" => "rm",
                    s => s,
                };
                match NETWORK_SUBS.iter().find(|(n, _)| *n == sub) {
                    Some((n, _)) => (network_command(n), vec!["berth", "network", *n], &rest[1..]),
                    None => {
                        eprintln!("berth: unknown command: berth network {sub}\n\nUsage:  berth network\n\nRun 'berth network --help' for more information");
                        return 1;
                    }
                }
            }
        },
        // `berth help CMD` is `berth CMD --help`.
        "help" => match rest.first() {
            Some(c) if COMMANDS.iter().any(|(n, _)| n == c) => {
                (*c, vec!["berth", *c], &["--help"][..])
            }
            _ => {
                print!("{}", usage());
                return 0;
            }
        },
        c => (c, vec!["berth", c], &rest[..]),
    };
    let management_only =
        name.ends_with("-inspect") || name == "image-prune" || name.starts_with("network-");
    if !COMMANDS.iter().any(|(n, _)| *n == name) && !management_only {
        eprintln!("berth: unknown command: berth {cmd}\n\nRun 'berth --help' for more information");
        return 1;
    }
    let addr = match Addr::from_env(g.host.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth: {}", e.message);
            return 1;
        }
    };
    let mut cli = Cli {
        client: Client::new(addr.clone()),
        addr,
        config: g.config.map(std::path::PathBuf::from),
    };
    let c = &mut cli;
    match name {
        "attach" => container::attach(c, &path, words),
        "create" => run::create(c, &path, words),
        "history" => history::history(c, &path, words),
        "images" => images::images(c, &path, words),
        "import" => import::import(c, &path, words),
        "info" => system::info(c, &path, words),
        "inspect" => inspect::inspect(c, &path, words, None),
        "container-inspect" => inspect::inspect(c, &path, words, Some("container")),
        "image-inspect" => inspect::inspect(c, &path, words, Some("image")),
        "image-prune" => prune::prune(c, &path, words),
        "kill" => container::kill(c, &path, words),
        "load" => archive::load(c, &path, words),
        "login" => login::login(c, &path, words),
        "logout" => login::logout(c, &path, words),
        "logs" => container::logs(c, &path, words),
        "network-connect" => network::connect(c, &path, words),
        "network-create" => network_create::create(c, &path, words),
        "network-disconnect" => network::disconnect(c, &path, words),
        "network-inspect" => network::inspect(c, &path, words),
        "network-ls" => network_ls::ls(c, &path, words),
        "network-prune" => network::prune(c, &path, words),
        "network-rm" => network::rm(c, &path, words),
        "port" => port::port(c, &path, words),
        "ps" => ps::ps(c, &path, words),
        "pull" => pull::pull(c, &path, words),
        "push" => pull::push(c, &path, words),
        "rename" => container::rename(c, &path, words),
        "restart" => container::restart(c, &path, words),
        "rm" => container::rm(c, &path, words),
        "rmi" => rmi::rmi(c, &path, words),
        "run" => run::run(c, &path, words),
        "save" => archive::save(c, &path, words),
        "start" => container::start(c, &path, words),
        "stop" => container::stop(c, &path, words),
        "tag" => rmi::tag(c, &path, words),
        "version" => system::version(c, &path, words),
        "wait" => container::wait(c, &path, words),
        _ => unreachable!("checked against COMMANDS above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(words: &[&str]) -> Result<(Globals, usize), String> {
        parse_globals(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn global_options() {
        let (gl, at) = g(&["-H", "unix:///tmp/b.sock", "ps", "-a"]).unwrap();
        assert_eq!((gl.host.as_deref(), at), (Some("unix:///tmp/b.sock"), 2));
        assert_eq!(
            g(&["--host=tcp://1.2.3.4:5", "ps"])
                .unwrap()
                .0
                .host
                .as_deref(),
            Some("tcp://1.2.3.4:5")
        );
        assert_eq!(
            g(&["-Hunix:///x", "ps"]).unwrap().0.host.as_deref(),
            Some("unix:///x")
        );
        assert_eq!(
            g(&["-D", "-l", "debug", "--log-level=info", "ps"])
                .unwrap()
                .1,
            4
        );
        assert!(g(&["-v"]).unwrap().0.version);
        assert!(g(&["--help"]).unwrap().0.help);
        assert_eq!(g(&["--bogus", "ps"]).unwrap_err(), "unknown flag: --bogus");
        assert_eq!(g(&["-H"]).unwrap_err(), "flag needs an argument: -H");
        assert_eq!(g(&[]).unwrap().1, 0);
    }

    #[test]
    fn every_command_has_help_and_rejects_bad_flags() {
        use container::{
            AttachArgs, KillArgs, LogsArgs, RenameArgs, RmArgs, StartArgs, StopArgs, WaitArgs,
        };
        fn check<T: FromArgs>(name: &str) {
            let help = T::from_args(&["berth", name], &["--help"])
                .err()
                .expect("help");
            assert!(
                help.status.is_ok() && help.output.contains("Usage: berth"),
                "{name}: {}",
                help.output
            );
            let bad = T::from_args(&["berth", name], &["--bogus"])
                .err()
                .expect("bad flag");
            assert!(bad.status.is_err(), "{name}");
        }
        check::<run_args::RunArgs>("run");
        check::<ps::PsArgs>("ps");
        check::<images::ImagesArgs>("images");
        check::<import::ImportArgs>("import");
        check::<rmi::RmiArgs>("rmi");
        check::<rmi::TagArgs>("tag");
        check::<inspect::InspectArgs>("inspect");
        check::<system::FormatArgs>("version");
        check::<StartArgs>("start");
        check::<StopArgs>("stop");
        check::<KillArgs>("kill");
        check::<RmArgs>("rm");
        check::<WaitArgs>("wait");
        check::<RenameArgs>("rename");
        check::<AttachArgs>("attach");
        check::<LogsArgs>("logs");
        check::<pull::PullArgs>("pull");
        check::<pull::PushArgs>("push");
        check::<archive::SaveArgs>("save");
        check::<archive::LoadArgs>("load");
        check::<login::LoginArgs>("login");
        check::<login::LogoutArgs>("logout");
        check::<history::HistoryArgs>("history");
        check::<prune::PruneArgs>("prune");
        check::<port::PortArgs>("port");
        check::<network_create::CreateArgs>("network create");
        check::<network_ls::LsArgs>("network ls");
        check::<network::InspectArgs>("network inspect");
        check::<network::RmArgs>("network rm");
        check::<network::ConnectArgs>("network connect");
        check::<network::DisconnectArgs>("network disconnect");
        check::<network::PruneArgs>("network prune");
    }

    #[test]
    fn flag_errors_in_docker_words() {
        assert_eq!(
            flag_message("Unrecognized argument: --bogus\n"),
            "unknown flag: --bogus"
        );
        assert_eq!(
            flag_message("Unrecognized argument: -z\n"),
            "unknown shorthand flag: 'z' in -z"
        );
        assert_eq!(
            flag_message("Unrecognized argument: \"-z\"\n"),
            "unknown shorthand flag: 'z' in -z"
        );
        assert_eq!(
            flag_message("No value provided for option '-n'.\n"),
            "flag needs an argument: 'n' in -n"
        );
        assert_eq!(
            flag_message("No value provided for option '--name'.\n"),
            "flag needs an argument: --name"
        );
        assert_eq!(
            flag_message("Error parsing option '-t' with value 'x': invalid digit found in string\n"),
            "invalid argument \"x\" for \"-t\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
    }
}
