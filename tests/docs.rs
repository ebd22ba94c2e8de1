//! Repository rules about documentation: every client command and flag the binary accepts
//! (management subcommands such as `network ls` included) has its place in man/berth.1,
//! every daemon flag in man/berth-daemon.8, and every command and management group is named
//! in the README.

mod common;
use std::process::Command;

fn help(args: &[&str]) -> String {
    let o = Command::new(common::BERTH).args(args).output().expect("run berth");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The long and short flags of an argh help text's "Options:" section.
fn flags(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        if line.starts_with("Options:") {
            in_options = true;
            continue;
        }
        if in_options && line.starts_with("  -") {
            for word in line.split_whitespace() {
                let w = word.trim_end_matches(',');
                if w.starts_with('-') && w != "--help" {
                    out.push(w.to_string());
                } else if !w.starts_with('-') {
                    break;
                }
            }
        }
    }
    out
}

fn commands() -> Vec<String> {
    listed(&help(&["--help"]), "Commands:")
}

/// The management groups (`container`, `image`, `network`, ...) `berth --help` lists.
fn groups() -> Vec<String> {
    listed(&help(&["--help"]), "Management Commands:")
}

/// The first word of each indented line of a help text's `section`.
fn listed(text: &str, section: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_commands = false;
    for line in text.lines() {
        if line.starts_with(section) {
            in_commands = true;
            continue;
        }
        if in_commands {
            match line.split_whitespace().next() {
                Some(c) if line.starts_with("  ") => out.push(c.to_string()),
                _ => in_commands = false,
            }
        }
    }
    out
}

#[test]
fn every_client_command_and_flag_is_in_the_man_page() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/berth.1")).unwrap().replace("\\-", "-");
    let cmds = commands();
    assert!(cmds.len() >= 19, "{cmds:?}");
    for c in cmds {
        assert!(man.contains(&format!(".SS \"berth {c}\"")), "berth {c} missing from man/berth.1");
        for f in flags(&help(&[&c, "--help"])) {
            assert!(man.contains(&f), "berth {c} {f} missing from man/berth.1");
        }
    }
}

/// A management subcommand is documented by its own section (`berth network ls`), by the
/// section of the command of the same name (`berth container rm` is `berth rm`), or by
/// the man page naming it where it says which command it is (`berth container ls`).
#[test]
fn every_management_subcommand_and_flag_is_in_the_man_page() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/berth.1")).unwrap().replace("\\-", "-");
    let gs = groups();
    assert!(gs.contains(&"network".to_string()), "{gs:?}");
    for g in gs {
        let subs = listed(&help(&[&g, "--help"]), "Commands:");
        assert!(!subs.is_empty(), "berth {g} --help lists no commands");
        for sub in subs {
            let named = format!("berth {g} {sub}");
            assert!(
                man.contains(&format!(".SS \"{named}\""))
                    || man.contains(&format!(".SS \"berth {sub}\""))
                    || man.contains(&named),
                "{named} missing from man/berth.1"
            );
            for f in flags(&help(&[&g, &sub, "--help"])) {
                assert!(man.contains(&f), "{named} {f} missing from man/berth.1");
            }
        }
    }
}

#[test]
fn every_daemon_flag_is_in_its_man_page() {
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/berth-daemon.8")).unwrap().replace("\\-", "-");
    let fl = flags(&help(&["daemon", "--help"]));
    assert!(fl.contains(&"--data-root".to_string()), "{fl:?}");
    for f in fl {
        assert!(man.contains(&f), "berth daemon {f} missing from man/berth-daemon.8");
    }
}

#[test]
fn every_command_is_named_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for c in commands().into_iter().chain(groups()) {
        assert!(readme.contains(&format!("`{c}`")), "`{c}` missing from README.md");
    }
}
