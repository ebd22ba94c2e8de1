//! The berth client: docker's global options and commands (with the `container` and
//! `image` management forms), each parsed in two stages (docker's spellings normalised in
//! `args`, then argh), run against the daemon through `client`, printing what docker
//! prints and exiting with docker's statuses (125 for bad flags). `berth daemon` and
//! `berth monitor` never reach this module.

mod api;
pub mod args;
mod container;
mod create;
mod format;
mod images;
mod inspect;
mod json;
mod opts;
mod ps;
mod run;
mod session;
mod stream;
mod system;
mod table;
mod template;
mod template_funcs;
mod units;

use crate::client::{Addr, Client};
use args::FlagSpec;
use argh::{EarlyExit, FromArgs};

/// What every command works with: where the daemon is and a keep-alive client for calls
/// made one after another (calls that overlap make their own from `addr`).
pub struct Cli {
    pub addr: Addr,
    pub client: Client,
}

/// Stage one and two for a command. On `--help` prints the help and gives status 0; on a
/// bad flag prints argh's message with docker's hint and gives 125, as docker does.
pub fn parse<T: FromArgs>(path: &[&str], words: &[&str], spec: &FlagSpec) -> Result<T, i32> {
    let norm = args::normalize(words, spec);
    let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
    match T::from_args(path, &refs) {
        Ok(t) => Ok(t),
        Err(EarlyExit { output, status: Ok(()) }) => {
            println!("{output}");
            Err(0)
        }
        Err(EarlyExit { output, status: Err(()) }) => {
            let cmd = path.join(" ");
            if output.starts_with("Required positional") {
                eprintln!("\"{cmd}\" requires more arguments.\nSee '{cmd} --help'.\n\n{}", output.trim_end());
                return Err(1);
            }
            eprintln!("{}\nSee '{cmd} --help'.", output.trim_end());
            Err(125)
        }
    }
}

/// docker's message for too few arguments.
pub fn need_args(path: &[&str], got: &[String], min: usize, usage: &str) -> Result<(), i32> {
    if got.len() >= min {
        return Ok(());
    }
    let cmd = path.join(" ");
    let plural = if min == 1 { "" } else { "s" };
    eprintln!("\"{cmd}\" requires at least {min} argument{plural}.\nSee '{cmd} --help'.\n\nUsage:  {cmd} [OPTIONS] {usage}");
    Err(1)
}

/// The global options before the command.
#[derive(Debug, Default, PartialEq)]
struct Globals {
    host: Option<String>,
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
                _ if a.len() > 2 && !a.starts_with("--") && matches!(&a[..2], "-H" | "-l" | "-c") => {
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
            args.get(*i).cloned().ok_or_else(|| format!("flag needs an argument: {flag}"))
        };
        match flag {
            "-H" | "--host" => g.host = Some(value(&mut i)?),
            "-l" | "--log-level" | "-c" | "--context" | "--config" => {
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

const COMMANDS: &[(&str, &str)] = &[
    ("attach", "Attach local standard input, output, and error streams to a running container"),
    ("create", "Create a new container"),
    ("images", "List images"),
    ("import", "Import the contents from a tarball to create a filesystem image"),
    ("info", "Display system-wide information"),
    ("inspect", "Return low-level information on containers or images"),
    ("kill", "Kill one or more running containers"),
    ("logs", "Fetch the logs of a container"),
    ("ps", "List containers"),
    ("rename", "Rename a container"),
    ("restart", "Restart one or more containers"),
    ("rm", "Remove one or more containers"),
    ("rmi", "Remove one or more images"),
    ("run", "Create and run a new container from an image"),
    ("start", "Start one or more stopped containers"),
    ("stop", "Stop one or more running containers"),
    ("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    ("version", "Show the berth version information"),
    ("wait", "Block until one or more containers stop, then print their exit codes"),
];

const CONTAINER_SUBS: &[&str] =
    &["attach", "create", "inspect", "kill", "logs", "ls", "rename", "restart", "rm", "run", "start", "stop", "wait"];
const IMAGE_SUBS: &[&str] = &["import", "inspect", "ls", "rm", "tag"];

fn usage() -> String {
    let mut s = String::from(
        "Usage:  berth [OPTIONS] COMMAND\n\nA small, fast, Docker-compatible container engine\n\nOptions:\n  \
         -D, --debug              Enable debug mode (accepted, no effect)\n  \
         -H, --host string        Daemon socket to connect to (unix:///path or tcp://host:port)\n  \
         -l, --log-level string   Set the logging level (accepted, no effect)\n  \
         -v, --version            Print version information and quit\n\nManagement Commands:\n  \
         container   Manage containers\n  image       Manage images\n\nCommands:\n",
    );
    for (name, what) in COMMANDS {
        s.push_str(&format!("  {name:<11} {what}\n"));
    }
    s.push_str("\nRun 'berth COMMAND --help' for more information on a command.\n");
    s
}

fn management_usage(group: &str, subs: &[&str]) -> String {
    let mut s = format!("Usage:  berth {group} COMMAND\n\nManage {group}s\n\nCommands:\n");
    for sub in subs {
        s.push_str(&format!("  {sub}\n"));
    }
    s.push_str(&format!("\nRun 'berth {group} COMMAND --help' for more information on a command.\n"));
    s
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
        println!("berth version {}, build {}", crate::version::VERSION, crate::version::GIT_COMMIT);
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
            let subs = if cmd == "container" { CONTAINER_SUBS } else { IMAGE_SUBS };
            match rest.first() {
                None | Some(&"--help") | Some(&"help") => {
                    print!("{}", management_usage(cmd, subs));
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
                        (_, s) => s,
                    };
                    (classic, vec!["berth", cmd, sub], &rest[1..])
                }
                Some(sub) => {
                    eprintln!("berth: '{cmd} {sub}' is not a berth command.\nSee 'berth {cmd} --help'");
                    return 1;
                }
            }
        }
        "help" => {
            print!("{}", usage());
            return 0;
        }
        c => (c, vec!["berth", c], &rest[..]),
    };
    if !COMMANDS.iter().any(|(n, _)| *n == name) && !name.ends_with("-inspect") {
        eprintln!("berth: '{cmd}' is not a berth command.\nSee 'berth --help'");
        return 1;
    }
    let addr = match Addr::from_env(g.host.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth: {}", e.message);
            return 1;
        }
    };
    let mut cli = Cli { client: Client::new(addr.clone()), addr };
    let c = &mut cli;
    match name {
        "attach" => container::attach(c, &path, words),
        "create" => run::create(c, &path, words),
        "images" => images::images(c, &path, words),
        "import" => images::import(c, &path, words),
        "info" => system::info(c, &path, words),
        "inspect" => inspect::inspect(c, &path, words, None),
        "container-inspect" => inspect::inspect(c, &path, words, Some("container")),
        "image-inspect" => inspect::inspect(c, &path, words, Some("image")),
        "kill" => container::kill(c, &path, words),
        "logs" => container::logs(c, &path, words),
        "ps" => ps::ps(c, &path, words),
        "rename" => container::rename(c, &path, words),
        "restart" => container::restart(c, &path, words),
        "rm" => container::rm(c, &path, words),
        "rmi" => images::rmi(c, &path, words),
        "run" => run::run(c, &path, words),
        "start" => container::start(c, &path, words),
        "stop" => container::stop(c, &path, words),
        "tag" => images::tag(c, &path, words),
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
        assert_eq!(g(&["--host=tcp://1.2.3.4:5", "ps"]).unwrap().0.host.as_deref(), Some("tcp://1.2.3.4:5"));
        assert_eq!(g(&["-Hunix:///x", "ps"]).unwrap().0.host.as_deref(), Some("unix:///x"));
        assert_eq!(g(&["-D", "-l", "debug", "--log-level=info", "ps"]).unwrap().1, 4);
        assert!(g(&["-v"]).unwrap().0.version);
        assert!(g(&["--help"]).unwrap().0.help);
        assert_eq!(g(&["--bogus", "ps"]).unwrap_err(), "unknown flag: --bogus");
        assert_eq!(g(&["-H"]).unwrap_err(), "flag needs an argument: -H");
        assert_eq!(g(&[]).unwrap().1, 0);
    }

    #[test]
    fn every_command_has_help_and_rejects_bad_flags() {
        use container::{AttachArgs, KillArgs, LogsArgs, RenameArgs, RmArgs, StartArgs, StopArgs, WaitArgs};
        fn check<T: FromArgs>(name: &str) {
            let help = T::from_args(&["berth", name], &["--help"]).err().expect("help");
            assert!(help.status.is_ok() && help.output.contains("Usage: berth"), "{name}: {}", help.output);
            let bad = T::from_args(&["berth", name], &["--bogus"]).err().expect("bad flag");
            assert!(bad.status.is_err(), "{name}");
        }
        check::<create::RunArgs>("run");
        check::<ps::PsArgs>("ps");
        check::<images::ImagesArgs>("images");
        check::<images::ImportArgs>("import");
        check::<images::RmiArgs>("rmi");
        check::<images::TagArgs>("tag");
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
    }

    #[test]
    fn help_lists_every_command() {
        let u = usage();
        for (name, _) in COMMANDS {
            assert!(u.contains(&format!("  {name} ")), "{name}");
        }
    }
}
