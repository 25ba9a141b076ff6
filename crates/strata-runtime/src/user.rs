//! Users, groups and commands as the container sees them: resolved from the
//! container's own `/etc/passwd`, `/etc/group` and `$PATH`, read through
//! [`strata_sys::root::Root`] (openat2 `RESOLVE_IN_ROOT`), never through the
//! host's NSS (CVE-2019-14271 loaded `libnss_*.so` from an image) and never by
//! joining paths (a symlinked `/etc` in the image must not reach the host).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use strata_store::container::{MountKind, MountPoint};
use strata_sys::root::Root;

use crate::error::{Result, RuntimeError};

/// The identity a container process runs as (moby/sys/user `ExecUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// `$HOME` when the image does not set it (`/` for unknown users).
    pub home: String,
}

impl Default for ExecUser {
    fn default() -> Self {
        ExecUser { uid: 0, gid: 0, additional_gids: Vec::new(), home: "/".into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// `name:passwd:uid:gid:gecos:home:shell` lines; malformed lines are skipped.
pub fn parse_passwd(s: &str) -> Vec<PasswdEntry> {
    s.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// `name:passwd:gid:member,member` lines; malformed lines are skipped.
pub fn parse_group(s: &str) -> Vec<GroupEntry> {
    s.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

const MAX_ID: u32 = i32::MAX as u32;

/// Docker's `USER` rules (moby/sys/user `GetExecUser`): `""` is root;
/// `name|uid[:group|gid]`; a name must exist in passwd, a number need not (it
/// then has gid 0 and home `/`); without an explicit group the user's
/// supplementary groups come from the group file.
pub fn resolve_user(spec: &str, passwd: &[PasswdEntry], groups: &[GroupEntry]) -> Result<ExecUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let id = |s: &str| -> Result<Option<u32>> {
        match s.parse::<u64>() {
            Ok(n) if n > MAX_ID as u64 => Err(RuntimeError::InvalidUser {
                spec: spec.to_string(),
                reason: format!("uids and gids must be in range 0-{MAX_ID}"),
            }),
            Ok(n) => Ok(Some(n as u32)),
            Err(_) => Ok(None),
        }
    };
    let mut u = ExecUser::default();
    let uid_num = id(user_part)?;
    let entry = if user_part.is_empty() {
        passwd.iter().find(|e| e.uid == 0)
    } else if let Some(n) = uid_num {
        passwd.iter().find(|e| e.uid == n)
    } else {
        passwd.iter().find(|e| e.name == user_part)
    };
    let name = match entry {
        Some(e) => {
            u.uid = e.uid;
            u.gid = e.gid;
            if !e.home.is_empty() {
                u.home = e.home.clone();
            }
            Some(e.name.clone())
        }
        None if uid_num.is_none() && !user_part.is_empty() => {
            return Err(RuntimeError::NoSuchUser { user: user_part.to_string() });
        }
        None => {
            u.uid = uid_num.unwrap_or(0);
            None
        }
    };
    match group_part.filter(|g| !g.is_empty()) {
        Some(g) => {
            let gid_num = id(g)?;
            let found = match gid_num {
                Some(n) => groups.iter().find(|e| e.gid == n),
                None => groups.iter().find(|e| e.name == g),
            };
            u.gid = match (found, gid_num) {
                (Some(e), _) => e.gid,
                (None, Some(n)) => n,
                (None, None) => return Err(RuntimeError::NoSuchGroup { group: g.to_string() }),
            };
        }
        None => {
            if let Some(name) = &name {
                for g in groups.iter().filter(|g| g.members.iter().any(|m| m == name)) {
                    if !u.additional_gids.contains(&g.gid) {
                        u.additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    // The primary group is also a supplementary one (Docker ≥ 20.10.24,
    // containerd CVE-2023-25173): a process that drops it with setgroups
    // must not keep access through the kernel's default list.
    u.additional_gids.retain(|&g| g != u.gid);
    u.additional_gids.insert(0, u.gid);
    Ok(u)
}

/// Read a small regular file inside the container (confined); `None` when it
/// is absent or not a regular file (a FIFO must not hang us).
pub fn read_container_file(root: &Root, path: &str) -> Option<String> {
    let fd = root.open(Path::new(path), OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY).ok()?;
    let f = std::fs::File::from(fd);
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.take(4 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// [`resolve_user`] against the container's own files.
pub fn resolve_user_in(root: &Root, spec: &str) -> Result<ExecUser> {
    let passwd = read_container_file(root, "/etc/passwd").map(|s| parse_passwd(&s)).unwrap_or_default();
    let groups = read_container_file(root, "/etc/group").map(|s| parse_group(&s)).unwrap_or_default();
    resolve_user(spec, &passwd, &groups)
}

enum Probe {
    Executable,
    NotFound,
    Directory,
    NotExecutable,
    /// Under a mount strata cannot see from the host (tmpfs, /proc, /dev):
    /// left to the OCI runtime.
    Unknown,
}

fn probe_in(root: &Root, path: &Path) -> Probe {
    let Ok(fd) = root.open(path, OFlags::PATH) else { return Probe::NotFound };
    match std::fs::File::from(fd).metadata() {
        Err(_) => Probe::NotFound,
        Ok(m) if m.is_dir() => Probe::Directory,
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Probe::Executable,
        Ok(_) => Probe::NotExecutable,
    }
}

/// Probe `path` as the container will see it: inside the mount that covers
/// it (volumes and binds are mounted only in the container's namespace, so
/// the host's view of the rootfs shows an empty directory there), else in
/// the rootfs.
fn probe(root: &Root, mounts: &[MountPoint], path: &Path) -> Probe {
    let covering = mounts
        .iter()
        .filter(|m| path.starts_with(&m.destination))
        .max_by_key(|m| Path::new(&m.destination).components().count());
    if let Some(m) = covering {
        if m.kind == MountKind::Tmpfs {
            return Probe::Unknown;
        }
        let rest = path.strip_prefix(&m.destination).unwrap_or(Path::new(""));
        return match Root::new(&m.source) {
            Ok(r) => probe_in(&r, rest),
            Err(_) => Probe::Unknown,
        };
    }
    if ["/proc", "/sys", "/dev"].iter().any(|p| path.starts_with(p)) {
        return Probe::Unknown;
    }
    probe_in(root, path)
}

/// Check, before starting, that `cmd` resolves to an executable in the
/// container as the OCI runtime will resolve it (Go's `exec.LookPath` in the
/// container's root with the process's `PATH`): a name with a `/` is taken as
/// is (relative to `cwd`), a bare name is searched in `path_env`. Gives
/// Docker's messages and codes: not found 127, not executable 126. Paths the
/// host cannot see (under a tmpfs, /proc, /dev) are left to the runtime.
pub fn lookup_command(root: &Root, mounts: &[MountPoint], cmd: &str, path_env: &str, cwd: &str) -> Result<()> {
    if cmd.is_empty() {
        return Err(RuntimeError::CommandNotFound { cmd: String::new() });
    }
    let cwd = if cwd.is_empty() { "/" } else { cwd };
    let abs = |p: &str| -> PathBuf { if p.starts_with('/') { PathBuf::from(p) } else { Path::new(cwd).join(p) } };
    if cmd.contains('/') {
        return match probe(root, mounts, &abs(cmd)) {
            Probe::Executable | Probe::Unknown => Ok(()),
            Probe::NotFound => Err(RuntimeError::CommandMissing { cmd: cmd.to_string() }),
            Probe::Directory => {
                Err(RuntimeError::CommandNotExecutable { cmd: cmd.to_string(), reason: "is a directory".into() })
            }
            Probe::NotExecutable => {
                Err(RuntimeError::CommandNotExecutable { cmd: cmd.to_string(), reason: "permission denied".into() })
            }
        };
    }
    let mut denied = false;
    for dir in path_env.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        match probe(root, mounts, &abs(dir).join(cmd)) {
            Probe::Executable | Probe::Unknown => return Ok(()),
            Probe::NotExecutable => denied = true,
            Probe::NotFound | Probe::Directory => {}
        }
    }
    if denied {
        Err(RuntimeError::CommandNotExecutable { cmd: cmd.to_string(), reason: "permission denied".into() })
    } else {
        Err(RuntimeError::CommandNotFound { cmd: cmd.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nwww:x:33:33:www:/var/www:/bin/false\nbad line\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:app,www\nwheel:x:10:app\n";

    fn r(spec: &str) -> Result<ExecUser> {
        resolve_user(spec, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[test]
    fn users_like_docker() {
        assert_eq!(r("").unwrap(), ExecUser { uid: 0, gid: 0, additional_gids: vec![0], home: "/root".into() });
        assert_eq!(
            r("app").unwrap(),
            ExecUser { uid: 1000, gid: 1000, additional_gids: vec![1000, 50, 10], home: "/home/app".into() }
        );
        assert_eq!(r("1000").unwrap().additional_gids, vec![1000, 50, 10]);
        assert_eq!(
            r("app:www").unwrap(),
            ExecUser { uid: 1000, gid: 33, additional_gids: vec![33], home: "/home/app".into() }
        );
        assert_eq!(r("4242").unwrap(), ExecUser { uid: 4242, gid: 0, additional_gids: vec![0], home: "/".into() });
        assert_eq!(
            r("4242:4343").unwrap(),
            ExecUser { uid: 4242, gid: 4343, additional_gids: vec![4343], home: "/".into() }
        );
        assert_eq!(r("www:50").unwrap().gid, 50);
        assert_eq!(
            r("nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            r("app:nogroup").unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(r("4294967295").is_err());
    }

    #[test]
    fn lookup_in_root() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("bin")).unwrap();
        std::fs::create_dir_all(d.join("usr/bin")).unwrap();
        std::fs::write(d.join("bin/busybox"), "x").unwrap();
        std::fs::set_permissions(d.join("bin/busybox"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("busybox", d.join("bin/sh")).unwrap();
        std::fs::write(d.join("usr/bin/data"), "x").unwrap();
        // An absolute link must stay inside: /bin/busybox of the root.
        std::os::unix::fs::symlink("/bin/busybox", d.join("usr/bin/abs")).unwrap();
        let root = Root::new(d).unwrap();
        let vol = t.path().join("vol");
        std::fs::create_dir_all(&vol).unwrap();
        std::fs::copy(d.join("bin/busybox"), vol.join("tool")).unwrap();
        let mounts = vec![MountPoint {
            kind: MountKind::Bind,
            name: String::new(),
            source: vol.clone(),
            destination: "/opt/bin".into(),
            mode: String::new(),
            rw: true,
            propagation: String::new(),
            nocopy: true,
            from: None,
        }];
        let look = |cmd: &str, cwd: &str| lookup_command(&root, &mounts, cmd, "/usr/bin:/bin:/opt/bin", cwd);
        look("sh", "/").unwrap();
        look("abs", "/").unwrap();
        look("tool", "/").unwrap();
        look("/opt/bin/tool", "/").unwrap();
        assert_eq!(look("/opt/bin/nope", "/").unwrap_err().exit_code(), 127);
        look("/proc/self/exe", "/").unwrap();
        let e = look("foo", "/").unwrap_err();
        assert_eq!((e.exit_code(), e.to_string().as_str()), (127, "exec: \"foo\": executable file not found in $PATH"));
        assert_eq!(look("data", "/").unwrap_err().exit_code(), 126);
        assert_eq!(look("/usr/bin/data", "/").unwrap_err().exit_code(), 126);
        assert_eq!(look("/bin", "/").unwrap_err().exit_code(), 126);
        let e = look("/nope", "/").unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (127, "exec: \"/nope\": stat /nope: no such file or directory")
        );
        look("./busybox", "/bin").unwrap();
    }
}
