//! `berth version` and `berth info`: the client's own facts and the daemon's
//! (`GET /version`, `GET /info`) laid out as docker lays them out, or run through
//! `--format` (context `{Client, Server}` for version; the info document plus
//! `ClientInfo` for info).

use super::api;
use super::args::FlagSpec;
use super::json::Json;
use super::table::TabWriter;
use super::template::Template;
use super::units::{ansic, bytes_size};
use super::{parse, Cli};
use crate::version::{API_VERSION, GIT_COMMIT, VERSION};
use argh::FromArgs;
use serde_json::{json, Value};

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Show version information, or system-wide information (info).
pub struct FormatArgs {
    /// format the output using a Go template
    #[argh(option, short = 'f')]
    format: Option<String>,
}

const SPEC: FlagSpec = FlagSpec {
    switches: &[],
    options: &["-f", "--format"],
    stop_at_positional: false,
    aliases: &[],
};

/// Go's name for this machine's architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn client_info() -> Value {
    json!({
        "Platform": {"Name": ""},
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": GIT_COMMIT,
        "GoVersion": "",
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "BuildTime": "",
        "Context": "default",
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn run_format(format: &str, ctx: &Value) -> i32 {
    let r = Template::parse(format).and_then(|t| t.execute(&Json::from_serde(ctx)));
    match r {
        Ok(out) => {
            println!("{out}");
            0
        }
        Err(e) => {
            eprintln!("template parsing error: {}", e.message);
            1
        }
    }
}

/// docker's `version` text for the client facts and the daemon's answer.
pub fn version_text(client: &Value, server: Option<&Value>) -> String {
    let mut t = String::new();
    t.push_str("Client:\n");
    t.push_str(&format!(" Version:\t{}\n", text(&client["Version"])));
    t.push_str(&format!(" API version:\t{}\n", text(&client["ApiVersion"])));
    t.push_str(&format!(" Git commit:\t{}\n", text(&client["GitCommit"])));
    t.push_str(&format!(
        " OS/Arch:\t{}/{}\n",
        text(&client["Os"]),
        text(&client["Arch"])
    ));
    t.push_str(&format!(" Context:\t{}\n", text(&client["Context"])));
    if let Some(sv) = server {
        let platform = text(&sv["Platform"]["Name"]);
        t.push_str(&format!(
            "\nServer:{}\n",
            if platform.is_empty() {
                String::new()
            } else {
                format!(" {platform}")
            }
        ));
        let mut components: Vec<Value> = sv["Components"].as_array().cloned().unwrap_or_default();
        if !components.iter().any(|c| c["Name"] == "Engine") {
            components.push(json!({"Name": "Engine", "Version": sv["Version"], "Details": {
                "ApiVersion": sv["ApiVersion"], "MinAPIVersion": sv["MinAPIVersion"], "GitCommit": sv["GitCommit"],
                "GoVersion": sv["GoVersion"], "Os": sv["Os"], "Arch": sv["Arch"], "BuildTime": sv["BuildTime"],
                "Experimental": sv["Experimental"].as_bool().unwrap_or(false).to_string(),
            }}));
        }
        for c in &components {
            let d = &c["Details"];
            t.push_str(&format!(" {}:\n", text(&c["Name"])));
            if c["Name"] == "Engine" {
                t.push_str(&format!("  Version:\t{}\n", text(&c["Version"])));
                t.push_str(&format!(
                    "  API version:\t{} (minimum version {})\n",
                    text(&d["ApiVersion"]),
                    text(&d["MinAPIVersion"])
                ));
                t.push_str(&format!("  Go version:\t{}\n", text(&d["GoVersion"])));
                t.push_str(&format!("  Git commit:\t{}\n", text(&d["GitCommit"])));
                t.push_str(&format!("  Built:\t{}\n", ansic(&text(&d["BuildTime"]))));
                t.push_str(&format!(
                    "  OS/Arch:\t{}/{}\n",
                    text(&d["Os"]),
                    text(&d["Arch"])
                ));
                t.push_str(&format!("  Experimental:\t{}\n", text(&d["Experimental"])));
            } else {
                t.push_str(&format!("  Version:\t{}\n", text(&c["Version"])));
                let mut keys: Vec<&String> = d
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                keys.sort();
                for k in keys {
                    t.push_str(&format!("  {k}:\t{}\n", text(&d[k])));
                }
            }
        }
    }
    let mut tw = TabWriter::new(20, 1);
    tw.write(&t);
    tw.finish()
}

pub fn version(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: FormatArgs = match parse(path, words, &SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let client = client_info();
    let server = api::get_json(&mut cli.client, "/version");
    if let Some(f) = &a.format {
        return match server {
            Ok(sv) => run_format(f, &json!({"Client": client, "Server": sv})),
            Err(e) => {
                eprintln!("{}", e.message);
                1
            }
        };
    }
    match server {
        Ok(sv) => {
            super::out(&version_text(&client, Some(&sv)));
            0
        }
        Err(e) => {
            super::out(&version_text(&client, None));
            eprintln!("{}", e.message);
            1
        }
    }
}

/// docker's `info` text for a daemon's `/info` answer (the server part).
pub fn info_text(i: &Value) -> String {
    let mut o = String::from("Server:\n");
    let mut line = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    let non_empty = |label: &str, v: &Value| -> Option<String> {
        let t = text(v);
        (!t.is_empty()).then(|| format!(" {label}: {t}"))
    };
    line(format!(" Containers: {}", num(&i["Containers"])));
    line(format!("  Running: {}", num(&i["ContainersRunning"])));
    line(format!("  Paused: {}", num(&i["ContainersPaused"])));
    line(format!("  Stopped: {}", num(&i["ContainersStopped"])));
    line(format!(" Images: {}", num(&i["Images"])));
    let opt = |label: &str, v: &Value, line: &mut dyn FnMut(String)| {
        if let Some(s) = non_empty(label, v) {
            line(s);
        }
    };
    opt("Server Version", &i["ServerVersion"], &mut line);
    opt("Storage Driver", &i["Driver"], &mut line);
    for pair in i["DriverStatus"].as_array().into_iter().flatten() {
        line(format!("  {}: {}", text(&pair[0]), text(&pair[1])));
    }
    opt("Logging Driver", &i["LoggingDriver"], &mut line);
    opt("Cgroup Driver", &i["CgroupDriver"], &mut line);
    opt("Cgroup Version", &i["CgroupVersion"], &mut line);
    let words = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect::<Vec<_>>()
            .join(" ")
    };
    line(" Plugins:".into());
    line(format!("  Volume: {}", words(&i["Plugins"]["Volume"])));
    line(format!("  Network: {}", words(&i["Plugins"]["Network"])));
    if !words(&i["Plugins"]["Authorization"]).is_empty() {
        line(format!(
            "  Authorization: {}",
            words(&i["Plugins"]["Authorization"])
        ));
    }
    line(format!("  Log: {}", words(&i["Plugins"]["Log"])));
    line(format!(" Swarm: {}", text(&i["Swarm"]["LocalNodeState"])));
    if let Some(rt) = i["Runtimes"].as_object().filter(|r| !r.is_empty()) {
        let mut names: Vec<&String> = rt.keys().collect();
        names.sort();
        line(format!(
            " Runtimes: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
        line(format!(" Default Runtime: {}", text(&i["DefaultRuntime"])));
    }
    if i["OSType"] == "linux" {
        line(format!(" Init Binary: {}", text(&i["InitBinary"])));
        for (name, key) in [
            ("containerd", "ContainerdCommit"),
            ("runc", "RuncCommit"),
            ("init", "InitCommit"),
        ] {
            let (id, expected) = (text(&i[key]["ID"]), text(&i[key]["Expected"]));
            let mut s = format!(" {name} version: {id}");
            if id != expected {
                s.push_str(&format!(" (expected: {expected})"));
            }
            line(s);
        }
        let opts: Vec<String> = i["SecurityOptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        if !opts.is_empty() {
            line(" Security Options:".into());
            for so in opts {
                for kv in so.split(',') {
                    match kv.split_once('=') {
                        Some(("name", n)) => line(format!("  {n}")),
                        Some(("profile", p)) => line(format!("   Profile: {p}")),
                        _ => {}
                    }
                }
            }
        }
    }
    opt("Kernel Version", &i["KernelVersion"], &mut line);
    opt("Operating System", &i["OperatingSystem"], &mut line);
    opt("OSType", &i["OSType"], &mut line);
    opt("Architecture", &i["Architecture"], &mut line);
    line(format!(" CPUs: {}", num(&i["NCPU"])));
    line(format!(
        " Total Memory: {}",
        bytes_size(i["MemTotal"].as_i64().unwrap_or(0))
    ));
    opt("Name", &i["Name"], &mut line);
    opt("ID", &i["ID"], &mut line);
    line(format!(" Docker Root Dir: {}", text(&i["DockerRootDir"])));
    line(format!(
        " Debug Mode: {}",
        i["Debug"].as_bool().unwrap_or(false)
    ));
    opt("HTTP Proxy", &i["HttpProxy"], &mut line);
    opt("HTTPS Proxy", &i["HttpsProxy"], &mut line);
    opt("No Proxy", &i["NoProxy"], &mut line);
    let labels: Vec<String> = i["Labels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !labels.is_empty() {
        line(" Labels:".into());
        for l in labels {
            line(format!("  {l}"));
        }
    }
    line(format!(
        " Experimental: {}",
        i["ExperimentalBuild"].as_bool().unwrap_or(false)
    ));
    let reg = &i["RegistryConfig"];
    let mut insecure: Vec<String> = reg["IndexConfigs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, c)| c["Secure"] == false)
        .map(|(_, c)| text(&c["Name"]))
        .collect();
    insecure.extend(
        reg["InsecureRegistryCIDRs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text),
    );
    if !insecure.is_empty() {
        line(" Insecure Registries:".into());
        for r in insecure {
            line(format!("  {r}"));
        }
    }
    let mirrors: Vec<String> = reg["Mirrors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !mirrors.is_empty() {
        line(" Registry Mirrors:".into());
        for m in mirrors {
            line(format!("  {m}"));
        }
    }
    line(format!(
        " Live Restore Enabled: {}",
        i["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    ));
    o.push('\n');
    o
}

/// A number docker prints as a Go int: absent means 0.
fn num(v: &Value) -> String {
    match v {
        Value::Null => "0".into(),
        other => text(other),
    }
}

pub fn info(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: FormatArgs = match parse(path, words, &SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let server = api::get_json(&mut cli.client, "/info");
    if let Some(f) = &a.format {
        return match server {
            Ok(mut i) => {
                if let Value::Object(o) = &mut i {
                    o.insert(
                        "ClientInfo".into(),
                        json!({"Debug": false, "Context": "default", "Version": VERSION}),
                    );
                }
                run_format(f, &i)
            }
            Err(e) => {
                eprintln!("{}", e.message);
                1
            }
        };
    }
    print!("Client:\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n\n");
    match server {
        Ok(i) => {
            super::out(&info_text(&i));
            for w in i["Warnings"].as_array().into_iter().flatten() {
                eprintln!("{}", text(w));
            }
            0
        }
        Err(e) => {
            println!("Server:");
            eprintln!("ERROR: {}\nerrors pretty printing info", e.message);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_like_docker() {
        // transcripts/version.md (the server part, from dockerd's answer).
        let sv = json!({"Platform": {"Name": ""}, "Components": [
            {"Name": "Engine", "Version": "20.10.24+dfsg1", "Details": {"ApiVersion": "1.41", "Arch": "amd64",
             "BuildTime": "2026-05-07T21:09:36.000000000+00:00", "Experimental": "false", "GitCommit": "5d6db84",
             "GoVersion": "go1.19.8", "KernelVersion": "6.18.44-fc-v669", "MinAPIVersion": "1.12", "Os": "linux"}},
            {"Name": "containerd", "Version": "1.6.20~ds1", "Details": {"GitCommit": "1.6.20~ds1-1+deb12u3"}},
            {"Name": "docker-init", "Version": "0.19.0", "Details": {"GitCommit": ""}}]});
        let client = json!({"Version": "0.1.0", "ApiVersion": "1.41", "GitCommit": "abc", "Os": "linux", "Arch": "amd64", "Context": "default"});
        assert_eq!(
            version_text(&client, Some(&sv)),
            concat!(
                "Client:\n Version:           0.1.0\n API version:       1.41\n Git commit:        abc\n",
                " OS/Arch:           linux/amd64\n Context:           default\n\nServer:\n Engine:\n",
                "  Version:          20.10.24+dfsg1\n  API version:      1.41 (minimum version 1.12)\n",
                "  Go version:       go1.19.8\n  Git commit:       5d6db84\n  Built:            Thu May  7 21:09:36 2026\n",
                "  OS/Arch:          linux/amd64\n  Experimental:     false\n containerd:\n  Version:          1.6.20~ds1\n",
                "  GitCommit:        1.6.20~ds1-1+deb12u3\n docker-init:\n  Version:          0.19.0\n  GitCommit:        \n",
            )
        );
        // No Components: the Engine section comes from the top-level fields.
        let bare = json!({"Version": "0.1.0", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64"});
        assert!(version_text(&client, Some(&bare))
            .contains("  API version:      1.41 (minimum version 1.12)\n"));
    }

    #[test]
    fn info_like_docker() {
        // transcripts/info.md
        let i = json!({"ID": "EM7O:WQP2", "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0,
            "ContainersStopped": 0, "Images": 2, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host"], "Authorization": null, "Log": ["json-file", "local"]},
            "Debug": false, "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": "1",
            "KernelVersion": "6.18.44-fc-v669", "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSType": "linux",
            "Architecture": "x86_64", "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": true}}, "Mirrors": []},
            "NCPU": 2, "MemTotal": 25276502016i64, "DockerRootDir": "/var/lib/docker", "HttpProxy": "", "Name": "vm",
            "Labels": [], "ExperimentalBuild": false, "ServerVersion": "20.10.24+dfsg1",
            "Runtimes": {"runc": {"path": "runc"}, "io.containerd.runc.v2": {"path": "runc"}}, "DefaultRuntime": "runc",
            "Swarm": {"LocalNodeState": "inactive"}, "LiveRestoreEnabled": false, "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": "1.6.20", "Expected": "1.6.20"}, "RuncCommit": {"ID": "1.1.5", "Expected": "1.1.5"},
            "InitCommit": {"ID": "", "Expected": ""}, "SecurityOptions": ["name=seccomp,profile=default"]});
        assert_eq!(
            info_text(&i),
            concat!(
                "Server:\n Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 2\n",
                " Server Version: 20.10.24+dfsg1\n Storage Driver: overlay2\n  Backing Filesystem: extfs\n",
                "  Supports d_type: true\n Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: 1\n",
                " Plugins:\n  Volume: local\n  Network: bridge host\n  Log: json-file local\n Swarm: inactive\n",
                " Runtimes: io.containerd.runc.v2 runc\n Default Runtime: runc\n Init Binary: docker-init\n",
                " containerd version: 1.6.20\n runc version: 1.1.5\n init version: \n Security Options:\n  seccomp\n",
                "   Profile: default\n Kernel Version: 6.18.44-fc-v669\n Operating System: Debian GNU/Linux 12 (bookworm)\n",
                " OSType: linux\n Architecture: x86_64\n CPUs: 2\n Total Memory: 23.54GiB\n Name: vm\n ID: EM7O:WQP2\n",
                " Docker Root Dir: /var/lib/docker\n Debug Mode: false\n Experimental: false\n Insecure Registries:\n",
                "  127.0.0.0/8\n Live Restore Enabled: false\n\n",
            )
        );
    }
}
