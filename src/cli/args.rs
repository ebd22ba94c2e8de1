//! Stage one of argument parsing: turn what a user typed for `docker` into what argh
//! accepts, before argh validates it (stage two). Docker's parser (pflag) allows forms argh
//! does not: `--name=web`, combined short switches (`-it`, `-aq`), a value glued to a short
//! flag (`-p8080:80`), `--rm=true`, and for `run`/`create`/`exec` everything after the first
//! positional belongs to the container's command (`run img sh -c 'x' --help`).

/// What a command's flags look like, for stage one.
pub struct FlagSpec {
    /// Switches (no value), short and long: `["-d", "--detach", "--rm"]`.
    pub switches: &'static [&'static str],
    /// Options that take a value: `["-e", "--env", "--name"]`.
    pub options: &'static [&'static str],
    /// After the first positional, the rest is positional too (`run IMAGE [COMMAND...]`).
    pub stop_at_positional: bool,
    /// Other spellings of long flags, whole words first: `("--net", "--network")`,
    /// `("--sig-proxy=false", "--no-sig-proxy")`.
    pub aliases: &'static [(&'static str, &'static str)],
}

/// Splits `--flag=value` into two arguments (used where no FlagSpec is known, e.g. the
/// daemon's flags).
pub fn expand_equals(args: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut ended = false;
    for a in args {
        if ended {
            out.push(a.to_string());
            continue;
        }
        if *a == "--" {
            ended = true;
            out.push(a.to_string());
            continue;
        }
        match a.strip_prefix("--").and_then(|r| r.split_once('=')) {
            Some((name, value)) => {
                out.push(format!("--{name}"));
                out.push(value.to_string());
            }
            None => out.push(a.to_string()),
        }
    }
    out
}

/// Rewrites `args` (the words after the command name) into argh's forms.
pub fn normalize(args: &[&str], spec: &FlagSpec) -> Vec<String> {
    let is_switch = |f: &str| spec.switches.contains(&f);
    let is_option = |f: &str| spec.options.contains(&f);
    let mut out: Vec<String> = Vec::with_capacity(args.len() + 2);
    let mut positionals: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        i += 1;
        if a == "--" {
            out.push("--".to_string());
            out.append(&mut positionals);
            out.extend(args[i..].iter().map(|s| s.to_string()));
            return out;
        }
        if let Some(long) = a.strip_prefix("--") {
            if let Some((_, to)) = spec.aliases.iter().find(|(from, _)| *from == a) {
                out.push(to.to_string());
                if is_option(to) && i < args.len() {
                    out.push(args[i].to_string());
                    i += 1;
                }
                continue;
            }
            match long.split_once('=') {
                Some((name, value)) => {
                    let flag = format!("--{name}");
                    let flag = match spec.aliases.iter().find(|(from, _)| *from == flag) {
                        Some((_, to)) => to.to_string(),
                        None => flag,
                    };
                    if is_switch(&flag) {
                        // pflag's `--rm=true` / `--rm=false`.
                        if matches!(value, "true" | "1" | "True" | "TRUE") {
                            out.push(flag);
                        }
                    } else {
                        out.push(flag);
                        out.push(value.to_string());
                    }
                }
                None => {
                    out.push(a.to_string());
                    if is_option(a) && i < args.len() {
                        out.push(args[i].to_string());
                        i += 1;
                    }
                }
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            // A cluster of short flags: switches, possibly ending in an option whose value
            // is glued on (`-dp8080:80`) or is the next word (`-dp 8080:80`).
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            let mut expanded = Vec::new();
            let mut takes_next = false;
            let mut ok = true;
            while j < chars.len() {
                let f = format!("-{}", chars[j]);
                if is_switch(&f) {
                    expanded.push(f);
                    j += 1;
                } else if is_option(&f) {
                    expanded.push(f);
                    let rest: String = chars[j + 1..].iter().collect();
                    let rest = rest.strip_prefix('=').map(str::to_string).unwrap_or(rest);
                    if rest.is_empty() {
                        takes_next = true;
                    } else {
                        expanded.push(rest);
                    }
                    break;
                } else {
                    ok = false;
                    break;
                }
            }
            if ok && (chars.len() > 1 || takes_next || !expanded.is_empty()) {
                out.extend(expanded);
                if takes_next && i < args.len() {
                    out.push(args[i].to_string());
                    i += 1;
                }
            } else {
                // Unknown: let argh report it.
                out.push(a.to_string());
            }
            continue;
        }
        // A positional.
        if spec.stop_at_positional {
            out.push(a.to_string());
            if i < args.len() {
                out.push("--".to_string());
                out.extend(args[i..].iter().map(|s| s.to_string()));
            }
            return out;
        }
        // Flags may follow positionals (pflag's interspersed arguments); positionals go
        // last, after "--", so that "-" (stdin) and names starting with "-" stay positional.
        positionals.push(a.to_string());
    }
    if !positionals.is_empty() {
        out.push("--".to_string());
        out.append(&mut positionals);
    }
    out
}

/// How many positionals a normalized argument list holds.
pub fn positional_count(normalized: &[String], spec: &FlagSpec) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < normalized.len() {
        let a = normalized[i].as_str();
        if a == "--" {
            return n + normalized.len() - i - 1;
        }
        if spec.options.contains(&a) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            n += 1;
        }
        i += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: FlagSpec = FlagSpec {
        switches: &[
            "-d",
            "--detach",
            "-i",
            "--interactive",
            "-t",
            "--tty",
            "--rm",
            "-P",
        ],
        options: &[
            "-e",
            "--env",
            "--name",
            "-p",
            "--publish",
            "-w",
            "-u",
            "-h",
            "--network",
        ],
        stop_at_positional: true,
        aliases: &[
            ("--net", "--network"),
            ("--sig-proxy=false", "--no-sig-proxy"),
        ],
    };

    fn n(args: &[&str]) -> Vec<String> {
        normalize(args, &RUN)
    }

    #[test]
    fn docker_forms_become_argh_forms() {
        assert_eq!(n(&["-it", "img"]), ["-i", "-t", "img"]);
        assert_eq!(n(&["--name=web", "img"]), ["--name", "web", "img"]);
        assert_eq!(n(&["-p8080:80", "img"]), ["-p", "8080:80", "img"]);
        assert_eq!(
            n(&["-dp", "8080:80", "img"]),
            ["-d", "-p", "8080:80", "img"]
        );
        assert_eq!(n(&["--rm=true", "--detach=false", "img"]), ["--rm", "img"]);
        assert_eq!(n(&["-e", "-X=1", "img"]), ["-e", "-X=1", "img"]);
        assert_eq!(n(&["-e=A=1", "img"]), ["-e", "A=1", "img"]);
    }

    #[test]
    fn command_words_stay_with_the_command() {
        assert_eq!(
            n(&["--rm", "img", "sh", "-c", "echo --rm"]),
            ["--rm", "img", "--", "sh", "-c", "echo --rm"]
        );
        assert_eq!(n(&["img", "--help"]), ["img", "--", "--help"]);
        assert_eq!(n(&["img"]), ["img"]);
        assert_eq!(
            n(&["-h", "box", "img", "hostname"]),
            ["-h", "box", "img", "--", "hostname"]
        );
    }

    #[test]
    fn positionals_go_last_for_commands_without_a_command_line() {
        const IMPORT: FlagSpec = FlagSpec {
            switches: &["-q"],
            options: &["-m", "-c"],
            stop_at_positional: false,
            aliases: &[],
        };
        let n = |a: &[&str]| normalize(a, &IMPORT);
        assert_eq!(
            n(&["-", "repo", "-m", "msg"]),
            ["-m", "msg", "--", "-", "repo"]
        );
        assert_eq!(n(&["-q"]), ["-q"]);
        assert_eq!(n(&["a", "--", "-b"]), ["--", "a", "-b"]);
        assert_eq!(n(&["-aq"]), ["-aq"]);
    }

    #[test]
    fn positionals_are_counted() {
        let c = |a: &[&str]| positional_count(&normalize(a, &RUN), &RUN);
        assert_eq!(c(&["-d", "--name", "x", "img", "sh", "-c", "x"]), 4);
        assert_eq!(c(&["-d"]), 0);
        assert_eq!(c(&["-e", "A=1", "img"]), 1);
    }

    #[test]
    fn aliases_are_rewritten() {
        assert_eq!(n(&["--net", "host", "img"]), ["--network", "host", "img"]);
        assert_eq!(n(&["--net=host", "img"]), ["--network", "host", "img"]);
        assert_eq!(n(&["--sig-proxy=false", "img"]), ["--no-sig-proxy", "img"]);
        assert_eq!(n(&["img", "--net", "x"]), ["img", "--", "--net", "x"]);
    }

    #[test]
    fn unknown_flags_pass_through_for_argh_to_report() {
        assert_eq!(n(&["-z", "img"]), ["-z", "img"]);
        assert_eq!(n(&["--bogus", "img"]), ["--bogus", "img"]);
    }

    #[test]
    fn equals_expansion() {
        assert_eq!(
            expand_equals(&["--data-root=/x", "-H", "fd://", "--", "--a=b"]),
            ["--data-root", "/x", "-H", "fd://", "--", "--a=b"]
        );
    }
}
