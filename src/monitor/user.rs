//! Who the container's process runs as: parsing the image's /etc/passwd and /etc/group and
//! resolving Docker's `--user` forms ("", "uid", "uid:gid", "name", "name:group") the way
//! runc's libcontainer/user.GetExecUser does, including its error wording. Pure functions
//! over file contents; reading the files and calling setgroups/setgid/setuid is init.rs.

/// The resolved identity of the container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (only for the implicit-group forms, as in runc).
    pub groups: Vec<u32>,
    /// Home directory from passwd, or "/".
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Largest id runc accepts (ids are signed 32-bit in its Go code).
const MAX_ID: u64 = i32::MAX as u64;

fn parse_id(s: &str) -> Option<Result<u32, String>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match s.parse::<u64>() {
        Ok(n) if n <= MAX_ID => Ok(n as u32),
        _ => Err(format!("uids and gids must be in range 0-{MAX_ID}")),
    })
}

fn passwd_entries(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0],
                uid: f[2].trim().parse().ok()?,
                gid: f[3].trim().parse().ok()?,
                home: f.get(5).copied().unwrap_or(""),
            })
        })
        .collect()
}

fn group_entries(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            let members = f.get(3).map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).collect());
            Some(GroupEntry { name: f[0], gid: f[2].trim().parse().ok()?, members: members.unwrap_or_default() })
        })
        .collect()
}

/// Resolves `spec` against the contents of /etc/passwd and /etc/group (None: the file is
/// missing). Errors read like Docker's ("unable to find user bob: no matching entries in
/// passwd file").
pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<ExecUser, String> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = passwd.map(passwd_entries).unwrap_or_default();
    let uid_arg = parse_id(user_arg).transpose()?;

    let mut out = ExecUser { uid: 0, gid: 0, groups: Vec::new(), home: "/".to_string() };
    let matched = users.iter().find(|u| match uid_arg {
        _ if user_arg.is_empty() => u.uid == 0,
        Some(uid) => u.uid == uid,
        None => u.name == user_arg,
    });
    let mut user_name = "";
    match (matched, uid_arg) {
        (Some(u), _) => {
            out.uid = u.uid;
            out.gid = u.gid;
            if !u.home.is_empty() {
                out.home = u.home.to_string();
            }
            user_name = u.name;
        }
        (None, Some(uid)) => out.uid = uid,
        (None, None) if user_arg.is_empty() => {}
        (None, None) => return Err(format!("unable to find user {user_arg}: no matching entries in passwd file")),
    }

    let groups = group.map(group_entries).unwrap_or_default();
    match group_arg {
        Some(g) if !g.is_empty() => {
            let gid_arg = parse_id(g).transpose()?;
            let found = groups.iter().find(|e| match gid_arg {
                Some(gid) => e.gid == gid,
                None => e.name == g,
            });
            out.gid = match (found, gid_arg) {
                (Some(e), _) => e.gid,
                (None, Some(gid)) => gid,
                (None, None) => return Err(format!("unable to find group {g}: no matching entries in group file")),
            };
        }
        _ => {
            if !user_name.is_empty() {
                out.groups = groups.iter().filter(|e| e.members.contains(&user_name)).map(|e| e.gid).collect();
            }
        }
    }
    Ok(out)
}

/// Adds Docker's defaults to a container environment: PATH when missing (dockerd sets it
/// for every container without one) and HOME from the resolved user.
pub fn default_env(env: &mut Vec<String>, home: &str) {
    let has = |env: &Vec<String>, key: &str| env.iter().any(|e| e.split_once('=').map(|(k, _)| k) == Some(key));
    if !has(env, "PATH") {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string());
    }
    if !has(env, "HOME") {
        env.push(format!("HOME={home}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
broken line
bob:x:1000:1000:Bob:/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";
    const GROUP: &str = "\
root:x:0:
wheel:x:10:root,bob
staff:x:50:bob
users:x:100:
nogroup:x:65534:
";

    fn r(spec: &str) -> Result<ExecUser, String> {
        resolve(spec, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn default_is_root_with_its_groups() {
        let u = r("").unwrap();
        assert_eq!(u, ExecUser { uid: 0, gid: 0, groups: vec![10], home: "/root".into() });
        let u = resolve("", None, None).unwrap();
        assert_eq!(u, ExecUser { uid: 0, gid: 0, groups: vec![], home: "/".into() });
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(r("bob").unwrap(), ExecUser { uid: 1000, gid: 1000, groups: vec![10, 50], home: "/home/bob".into() });
        assert_eq!(r("1000").unwrap().groups, vec![10, 50]);
        assert_eq!(r("nobody").unwrap().uid, 65534);
        // A uid without an entry runs with gid 0 and home "/".
        assert_eq!(r("4242").unwrap(), ExecUser { uid: 4242, gid: 0, groups: vec![], home: "/".into() });
        assert_eq!(resolve("7", None, None).unwrap().uid, 7);
    }

    #[test]
    fn explicit_groups_replace_supplementary_ones() {
        assert_eq!(r("bob:users").unwrap(), ExecUser { uid: 1000, gid: 100, groups: vec![], home: "/home/bob".into() });
        assert_eq!(r("1000:4000").unwrap().gid, 4000);
        assert_eq!(r("4242:staff").unwrap().gid, 50);
        assert_eq!(r("bob:").unwrap().groups, vec![10, 50]);
    }

    #[test]
    fn docker_wording_for_unknown_names() {
        assert_eq!(r("alice").unwrap_err(), "unable to find user alice: no matching entries in passwd file");
        assert_eq!(
            resolve("alice", None, None).unwrap_err(),
            "unable to find user alice: no matching entries in passwd file"
        );
        assert_eq!(r("bob:nope").unwrap_err(), "unable to find group nope: no matching entries in group file");
        assert!(r("99999999999").unwrap_err().contains("range"));
    }

    #[test]
    fn env_defaults() {
        let mut env = vec!["A=1".to_string()];
        default_env(&mut env, "/root");
        assert_eq!(env, ["A=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]);
        let mut env = vec!["PATH=/x".to_string(), "HOME=/h".to_string()];
        default_env(&mut env, "/root");
        assert_eq!(env, ["PATH=/x", "HOME=/h"]);
    }
}
