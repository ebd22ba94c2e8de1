//! The client's command table and usage texts: docker's usage line and argument counts
//! for each command (and docker's message when the count is wrong), the commands `berth
//! --help` lists, and the `container`/`image`/`network` management groups. Text only;
//! parsing and dispatch are `mod.rs`'s.

/// docker's usage line for each command and how many arguments it takes (min, max).
pub const USAGE: &[(&str, &str, usize, Option<usize>)] = &[
    ("attach", "[OPTIONS] CONTAINER", 1, Some(1)),
    ("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", 1, None),
    ("history", "[OPTIONS] IMAGE", 1, Some(1)),
    ("images", "[OPTIONS] [REPOSITORY[:TAG]]", 0, Some(1)),
    (
        "import",
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        1,
        Some(2),
    ),
    ("info", "[OPTIONS]", 0, Some(0)),
    ("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", 1, None),
    ("kill", "[OPTIONS] CONTAINER [CONTAINER...]", 1, None),
    ("load", "[OPTIONS]", 0, Some(0)),
    ("login", "[OPTIONS] [SERVER]", 0, Some(1)),
    ("logout", "[SERVER]", 0, Some(1)),
    ("logs", "[OPTIONS] CONTAINER", 1, Some(1)),
    ("prune", "[OPTIONS]", 0, Some(0)),
    ("port", "CONTAINER [PRIVATE_PORT[/PROTO]]", 1, Some(2)),
    ("ps", "[OPTIONS]", 0, Some(0)),
    ("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", 1, Some(1)),
    ("push", "[OPTIONS] NAME[:TAG]", 1, Some(1)),
    ("rename", "CONTAINER NEW_NAME", 2, Some(2)),
    ("restart", "[OPTIONS] CONTAINER [CONTAINER...]", 1, None),
    ("rm", "[OPTIONS] CONTAINER [CONTAINER...]", 1, None),
    ("rmi", "[OPTIONS] IMAGE [IMAGE...]", 1, None),
    ("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", 1, None),
    ("save", "[OPTIONS] IMAGE [IMAGE...]", 1, None),
    ("start", "[OPTIONS] CONTAINER [CONTAINER...]", 1, None),
    ("stop", "[OPTIONS] CONTAINER [CONTAINER...]", 1, None),
    ("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", 2, Some(2)),
    ("version", "[OPTIONS]", 0, Some(0)),
    ("wait", "CONTAINER [CONTAINER...]", 1, None),
];

/// docker's usage lines and argument counts for `network` subcommands.
pub const NETWORK_USAGE: &[(&str, &str, usize, Option<usize>)] = &[
    ("connect", "[OPTIONS] NETWORK CONTAINER", 2, Some(2)),
    ("create", "[OPTIONS] NETWORK", 1, Some(1)),
    ("disconnect", "[OPTIONS] NETWORK CONTAINER", 2, Some(2)),
    ("inspect", "[OPTIONS] NETWORK [NETWORK...]", 1, None),
    ("ls", "[OPTIONS]", 0, Some(0)),
    ("prune", "[OPTIONS]", 0, Some(0)),
    ("rm", "NETWORK [NETWORK...]", 1, None),
];

/// The usage entry for a command path.
fn entry(path: &[&str]) -> Option<&'static (&'static str, &'static str, usize, Option<usize>)> {
    match (path.get(1).copied(), path.get(2).copied()) {
        (Some("network"), Some(sub)) => {
            let sub = match sub {
                "list" => "ls",
                "remove" => "rm",
                s => s,
            };
            NETWORK_USAGE.iter().find(|u| u.0 == sub)
        }
        _ => USAGE.iter().find(|u| u.0 == classic(path)),
    }
}

/// The classic command a path names (`berth container ls` is `ps`).
pub fn classic<'a>(path: &[&'a str]) -> &'a str {
    match (path.get(1).copied(), path.get(2).copied()) {
        (Some("container"), Some("ls" | "ps" | "list")) => "ps",
        (Some("image"), Some("ls" | "list")) => "images",
        (Some("image"), Some("rm" | "remove")) => "rmi",
        (Some("container"), Some("remove")) => "rm",
        (_, Some(sub)) => sub,
        (Some(c), None) => c,
        (None, _) => "",
    }
}

pub fn usage_line(path: &[&str]) -> String {
    let usage = entry(path).map(|u| u.1).unwrap_or("[OPTIONS]");
    format!("Usage:  {} {usage}", path.join(" "))
}

/// docker's message for a wrong number of arguments, if `n` is one.
pub fn count_error(path: &[&str], n: usize) -> Option<String> {
    let &(_, _, min, max) = entry(path)?;
    let cmd = path.join(" ");
    let args = |k: usize| if k == 1 { "argument" } else { "arguments" };
    let (what, see) = match max {
        Some(0) if n > 0 => ("accepts no arguments".to_string(), "Run"),
        Some(m) if m == min && n != m => (format!("requires {m} {}", args(m)), "Run"),
        // docker's RequiresRangeArgs.
        Some(m) if min > 0 && (n < min || n > m) => (
            format!("requires at least {min} and at most {m} {}", args(m)),
            "Run",
        ),
        _ if n < min => (format!("requires at least {min} {}", args(min)), "See"),
        Some(m) if n > m => (format!("requires at most {m} {}", args(m)), "See"),
        _ => return None,
    };
    Some(format!(
        "berth: '{cmd}' {what}\n\n{}\n\n{see} '{cmd} --help' for more information",
        usage_line(path)
    ))
}

pub const COMMANDS: &[(&str, &str)] = &[
    (
        "attach",
        "Attach local standard input, output, and error streams to a running container",
    ),
    ("create", "Create a new container"),
    ("history", "Show the history of an image"),
    ("images", "List images"),
    (
        "import",
        "Import the contents from a tarball to create a filesystem image",
    ),
    ("info", "Display system-wide information"),
    (
        "inspect",
        "Return low-level information on containers or images",
    ),
    ("kill", "Kill one or more running containers"),
    ("load", "Load an image from a tar archive or STDIN"),
    ("login", "Authenticate to a registry"),
    ("logout", "Log out from a registry"),
    ("logs", "Fetch the logs of a container"),
    (
        "port",
        "List port mappings or a specific mapping for the container",
    ),
    ("ps", "List containers"),
    ("pull", "Download an image from a registry"),
    ("push", "Upload an image to a registry"),
    ("rename", "Rename a container"),
    ("restart", "Restart one or more containers"),
    ("rm", "Remove one or more containers"),
    ("rmi", "Remove one or more images"),
    ("run", "Create and run a new container from an image"),
    (
        "save",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    ("start", "Start one or more stopped containers"),
    ("stop", "Stop one or more running containers"),
    (
        "tag",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    ),
    ("version", "Show the berth version information"),
    (
        "wait",
        "Block until one or more containers stop, then print their exit codes",
    ),
];

pub const CONTAINER_SUBS: &[&str] = &[
    "attach", "create", "inspect", "kill", "logs", "ls", "port", "rename", "restart", "rm", "run",
    "start", "stop", "wait",
];
/// `network` subcommands and what `berth network --help` says of them.
pub const NETWORK_SUBS: &[(&str, &str)] = &[
    ("connect", "Connect a container to a network"),
    ("create", "Create a network"),
    ("disconnect", "Disconnect a container from a network"),
    (
        "inspect",
        "Display detailed information on one or more networks",
    ),
    ("ls", "List networks"),
    ("prune", "Remove all unused networks"),
    ("rm", "Remove one or more networks"),
];
pub const IMAGE_SUBS: &[&str] = &[
    "history", "import", "inspect", "load", "ls", "prune", "pull", "push", "rm", "save", "tag",
];

pub fn usage() -> String {
    let mut s = String::from(
        "Usage:  berth [OPTIONS] COMMAND\n\nA small, fast, Docker-compatible container engine\n\nOptions:\n      \
         --config string      Location of client config files (default ~/.docker)\n  \
         -D, --debug              Enable debug mode (accepted, no effect)\n  \
         -H, --host string        Daemon socket to connect to (unix:///path or tcp://host:port)\n  \
         -l, --log-level string   Set the logging level (accepted, no effect)\n  \
         -v, --version            Print version information and quit\n\nManagement Commands:\n  \
         container   Manage containers\n  image       Manage images\n  network     Manage networks\n\nCommands:\n",
    );
    for (name, what) in COMMANDS {
        s.push_str(&format!("  {name:<11} {what}\n"));
    }
    s.push_str("\nRun 'berth COMMAND --help' for more information on a command.\n");
    s
}

/// The help of a management group; subcommands with what they do, where that is known.
pub fn management_usage(group: &str, subs: &[(&str, &str)]) -> String {
    let mut s = format!("Usage:  berth {group} COMMAND\n\nManage {group}s\n\nCommands:\n");
    for (sub, what) in subs {
        if what.is_empty() {
            s.push_str(&format!("  {sub}\n"));
        } else {
            s.push_str(&format!("  {sub:<11} {what}\n"));
        }
    }
    s.push_str(&format!(
        "\nRun 'berth {group} COMMAND --help' for more information on a command.\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_counts_like_docker() {
        assert_eq!(count_error(&["berth", "ps"], 0), None);
        assert_eq!(
            count_error(&["berth", "ps"], 1).unwrap(),
            "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information"
        );
        assert_eq!(
            count_error(&["berth", "start"], 0).unwrap(),
            "berth: 'berth start' requires at least 1 argument\n\nUsage:  berth start [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth start --help' for more information"
        );
        assert!(count_error(&["berth", "rename"], 1)
            .unwrap()
            .starts_with("berth: 'berth rename' requires 2 arguments\n"));
        assert!(count_error(&["berth", "logs"], 2)
            .unwrap()
            .starts_with("berth: 'berth logs' requires 1 argument\n"));
        assert!(count_error(&["berth", "container", "ls"], 1)
            .unwrap()
            .contains("Usage:  berth container ls [OPTIONS]"));
        assert_eq!(count_error(&["berth", "import"], 2), None);
        assert!(count_error(&["berth", "import"], 3).is_some());
        // Checked against docker 28.2.2.
        assert_eq!(
            count_error(&["berth", "port"], 3).unwrap(),
            "berth: 'berth port' requires at least 1 and at most 2 arguments\n\nUsage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nRun 'berth port --help' for more information"
        );
        assert_eq!(count_error(&["berth", "port"], 2), None);
        assert_eq!(
            count_error(&["berth", "network", "create"], 2).unwrap(),
            "berth: 'berth network create' requires 1 argument\n\nUsage:  berth network create [OPTIONS] NETWORK\n\nRun 'berth network create --help' for more information"
        );
        assert_eq!(
            count_error(&["berth", "network", "rm"], 0).unwrap(),
            "berth: 'berth network rm' requires at least 1 argument\n\nUsage:  berth network rm NETWORK [NETWORK...]\n\nSee 'berth network rm --help' for more information"
        );
        assert!(count_error(&["berth", "network", "ls"], 1)
            .unwrap()
            .starts_with("berth: 'berth network ls' accepts no arguments\n\nUsage:  berth network ls [OPTIONS]\n"));
        assert!(count_error(&["berth", "network", "connect"], 1)
            .unwrap()
            .starts_with("berth: 'berth network connect' requires 2 arguments\n"));
    }

    #[test]
    fn help_lists_every_command() {
        let u = usage();
        for (name, _) in COMMANDS {
            assert!(u.contains(&format!("  {name} ")), "{name}");
        }
    }
}
