//! `berth login` and `berth logout`. login checks credentials through the daemon
//! (`POST /auth` with docker's AuthConfig; the daemon asks the registry) and stores them in
//! the docker config file (see `auth`); with no user or password given it tries the stored
//! ones first, then prompts on the terminal (the password without echo). logout removes
//! the stored entry, under each spelling docker may have written.

use super::api;
use super::args::FlagSpec;
use super::auth::{self, AuthConfig, ConfigFile, INDEX_SERVER};
use super::{parse, Cli};
use crate::client::Body;
use crate::error::{Error, Result};
use crate::sys::tty::NoEcho;
use argh::FromArgs;
use serde_json::Value;
use std::io::{self, BufRead, IsTerminal, Read, Write};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Log in to a registry (Docker Hub when no server is given).
pub struct LoginArgs {
    /// username
    #[argh(option, short = 'u')]
    username: Option<String>,
    /// password or personal access token
    #[argh(option, short = 'p')]
    password: Option<String>,
    /// take the password from stdin
    #[argh(switch)]
    password_stdin: bool,
    /// the registry server
    #[argh(positional)]
    server: Option<String>,
}

const LOGIN_SPEC: FlagSpec = FlagSpec {
    switches: &["--password-stdin"],
    options: &["-u", "--username", "-p", "--password"],
    stop_at_positional: false,
    aliases: &[],
};

/// The server a login is about: Docker Hub's index URL when none (or "docker.io") is
/// given, else the host of what was given.
pub fn server_address(given: Option<&str>) -> String {
    match given.filter(|s| !s.is_empty() && *s != crate::util::reference::DEFAULT_DOMAIN) {
        Some(s) if s != INDEX_SERVER => auth::hostname(s).to_string(),
        _ => INDEX_SERVER.to_string(),
    }
}

/// docker's `verifyLoginOptions`: the password from stdin (one trailing newline cut) and
/// the warning for one given on the command line.
fn password_from_flags(a: &LoginArgs, stdin: &mut dyn Read) -> Result<Option<String>> {
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        if a.password_stdin {
            return Err(Error::invalid(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
    }
    if !a.password_stdin {
        return Ok(a.password.clone());
    }
    if a.username.as_deref().unwrap_or("").is_empty() {
        return Err(Error::invalid(
            "Must provide --username with --password-stdin",
        ));
    }
    let mut raw = String::new();
    stdin
        .read_to_string(&mut raw)
        .map_err(|e| Error::system(format!("read the password from stdin: {e}")))?;
    let p = raw.strip_suffix('\n').unwrap_or(&raw);
    Ok(Some(p.strip_suffix('\r').unwrap_or(p).to_string()))
}

/// One line typed at a prompt, trimmed.
fn prompt(question: &str) -> Result<String> {
    print!("{question}");
    let _ = io::stdout().flush();
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::system(format!("read from the terminal: {e}")))?;
    Ok(line.trim().to_string())
}

/// docker's `PromptUserForCredentials`: asks for what is missing.
fn ask(user: &str, password: &str, stored_user: &str, server: &str) -> Result<AuthConfig> {
    let mut user = user.trim().to_string();
    if user.is_empty() {
        let question = match stored_user.trim() {
            "" => "Username: ".to_string(),
            d => format!("Username ({d}): "),
        };
        user = prompt(&question)?;
        if user.is_empty() {
            user = stored_user.trim().to_string();
        }
        if user.is_empty() {
            return Err(Error::invalid("Error: Non-null Username Required"));
        }
    }
    let mut password = password.trim().to_string();
    if password.is_empty() {
        let echo_off = NoEcho::stdin().map_err(|e| Error::system(format!("turn off echo: {e}")))?;
        let typed = prompt("Password: ");
        drop(echo_off);
        println!();
        password = typed?;
        if password.is_empty() {
            return Err(Error::invalid("Error: Password Required"));
        }
    }
    Ok(AuthConfig {
        username: user,
        password,
        server_address: server.to_string(),
        ..Default::default()
    })
}

/// `POST /auth`: the daemon's status text ("Login Succeeded"); an identity token the
/// registry handed out replaces the password.
fn check(cli: &mut Cli, a: &mut AuthConfig) -> Result<String> {
    let mut body = serde_json::to_vec(&*a)
        .map_err(|e| Error::system(format!("encode the login request: {e}")))?;
    body.push(b'\n');
    let resp = api::call(&mut cli.client, "POST", "/auth", &[], Body::Json(body))?;
    let answer: Value = serde_json::from_slice(&resp.bytes()?).unwrap_or(Value::Null);
    if let Some(token) = answer["IdentityToken"].as_str().filter(|t| !t.is_empty()) {
        a.password.clear();
        a.identity_token = token.to_string();
    }
    Ok(answer["Status"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("Login Succeeded")
        .to_string())
}

fn store(config: &mut ConfigFile, a: &AuthConfig) -> Result<()> {
    config.store(a);
    config
        .save()
        .map_err(|e| Error::system(format!("Error saving credentials: {}", e.message)))?;
    if !a.password.is_empty() {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\n",
            config.path.display()
        );
    }
    Ok(())
}

pub fn login(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: LoginArgs = match parse(path, words, &LOGIN_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let password = password_from_flags(&a, &mut io::stdin())?.unwrap_or_default();
        let user = a.username.clone().unwrap_or_default();
        let server = server_address(a.server.as_deref());
        let mut config = ConfigFile::load(&cli.config_dir())?;
        let stored = config.get(&server).unwrap_or_default();
        if user.is_empty()
            && password.is_empty()
            && !stored.username.is_empty()
            && !stored.password.is_empty()
        {
            eprintln!(
                "Authenticating with existing credentials... [Username: {}]",
                stored.username
            );
            let mut known = AuthConfig {
                server_address: server.clone(),
                ..stored.clone()
            };
            match check(cli, &mut known) {
                Ok(status) => {
                    // The registry may have swapped the password for an identity token.
                    if known.identity_token != stored.identity_token {
                        store(&mut config, &known)?;
                    }
                    eprintln!("\n Info -> To login with a different account, run 'berth logout' followed by 'berth login'\n\n");
                    println!("{status}");
                    return Ok(());
                }
                Err(e) => eprintln!("Login did not succeed, error: {}", e.message),
            }
        }
        if (user.is_empty() || password.is_empty()) && !io::stdin().is_terminal() {
            return Err(Error::invalid(
                "Error: Cannot perform an interactive login from a non TTY device",
            ));
        }
        let mut creds = ask(&user, &password, &stored.username, &server)?;
        let status = check(cli, &mut creds)?;
        store(&mut config, &creds)?;
        println!("{status}");
        Ok(())
    })();
    super::status(r)
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Log out from a registry (Docker Hub when no server is given).
pub struct LogoutArgs {
    /// the registry server
    #[argh(positional)]
    server: Option<String>,
}

/// The `auths` keys logout removes: the address, and for other registries than Docker Hub
/// the host with and without a scheme, as older clients wrote them.
pub fn logout_keys(given: Option<&str>) -> (String, Vec<String>) {
    let Some(server) = given.filter(|s| !s.is_empty()) else {
        return (INDEX_SERVER.to_string(), vec![INDEX_SERVER.to_string()]);
    };
    let host = auth::hostname(server).to_string();
    let keys = vec![
        server.to_string(),
        host.clone(),
        format!("http://{host}"),
        format!("https://{host}"),
    ];
    (host, keys)
}

pub fn logout(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let spec = FlagSpec {
        switches: &[],
        options: &[],
        stop_at_positional: false,
        aliases: &[],
    };
    let a: LogoutArgs = match parse(path, words, &spec) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        let (shown, keys) = logout_keys(a.server.as_deref());
        println!("Removing login credentials for {shown}");
        let mut config = ConfigFile::load(&cli.config_dir())?;
        let mut removed = false;
        for k in &keys {
            removed |= config.erase(k);
        }
        if removed {
            if let Err(e) = config.save() {
                eprintln!(
                    "WARNING: could not erase credentials:\n{}: {}",
                    keys[0], e.message
                );
            }
        }
        Ok(())
    })();
    super::status(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_args(words: &[&str]) -> LoginArgs {
        let norm = super::super::args::normalize(words, &LOGIN_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        LoginArgs::from_args(&["berth", "login"], &refs).unwrap_or_else(|e| panic!("{}", e.output))
    }

    #[test]
    fn servers_like_docker() {
        assert_eq!(server_address(None), INDEX_SERVER);
        assert_eq!(server_address(Some("docker.io")), INDEX_SERVER);
        assert_eq!(server_address(Some(INDEX_SERVER)), INDEX_SERVER);
        assert_eq!(
            server_address(Some("https://127.0.0.1:5000/v2/")),
            "127.0.0.1:5000"
        );
        assert_eq!(server_address(Some("ghcr.io")), "ghcr.io");
        let (shown, keys) = logout_keys(Some("https://r.io:5000"));
        assert_eq!(shown, "r.io:5000");
        assert_eq!(
            keys,
            [
                "https://r.io:5000",
                "r.io:5000",
                "http://r.io:5000",
                "https://r.io:5000"
            ]
        );
        assert_eq!(logout_keys(None).0, INDEX_SERVER);
    }

    #[test]
    fn password_flags() {
        let a = login_args(&["-u", "me", "--password-stdin", "reg"]);
        assert_eq!(
            password_from_flags(&a, &mut &b"s3cret\r\n"[..])
                .unwrap()
                .as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            password_from_flags(&a, &mut &b"two\n\n"[..])
                .unwrap()
                .as_deref(),
            Some("two\n")
        );
        let a = login_args(&["--password-stdin"]);
        assert_eq!(
            password_from_flags(&a, &mut &b""[..]).unwrap_err().message,
            "Must provide --username with --password-stdin"
        );
        let a = login_args(&["-u", "me", "-p", "x", "--password-stdin"]);
        assert_eq!(
            password_from_flags(&a, &mut &b""[..]).unwrap_err().message,
            "--password and --password-stdin are mutually exclusive"
        );
        let a = login_args(&["-u=me", "--password=x"]);
        assert_eq!(
            password_from_flags(&a, &mut &b""[..]).unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(a.server, None);
    }
}
