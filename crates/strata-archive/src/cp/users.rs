//! A container's users and groups, read from its own `/etc/passwd` and
//! `/etc/group` (confined to its root), never through the host's NSS: the
//! CVE-2019-14271 lesson is that nothing from a container may be loaded or run
//! on the host, and NSS modules would be exactly that.
//!
//! `resolve` follows runc's `GetExecUser`, which Docker uses for `cp -a`
//! (`Config.User` = `user[:group]`, each a name or a number).

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{FileType, OFlags};
use strata_sys::root::Root;

use super::walk::proc_path;

/// Bigger files are not a passwd file anyone uses; reading stops there.
const MAX_DB: u64 = 16 << 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    users: Vec<(String, u32, u32)>,
    groups: Vec<(String, u32)>,
}

/// Read a regular file inside `root`, following symlinks confined; anything
/// else (missing, a device, a FIFO, unreadable) reads as empty.
fn read_confined(root: &Root, rel: &str) -> String {
    let Ok(fd) = root.open(Path::new(rel), OFlags::PATH) else { return String::new() };
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        _ => return String::new(),
    }
    let Ok(f) = std::fs::File::open(proc_path(fd.as_fd(), None)) else { return String::new() };
    let mut buf = Vec::new();
    if f.take(MAX_DB).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

impl UserDb {
    /// The users and groups of the tree at `root` (empty when it has none).
    pub fn read(root: &Root) -> UserDb {
        UserDb::parse(&read_confined(root, "etc/passwd"), &read_confined(root, "etc/group"))
    }

    /// From the text of a passwd and a group file.
    pub fn parse(passwd: &str, group: &str) -> UserDb {
        let mut db = UserDb::default();
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if line.trim().is_empty() || line.starts_with('#') || f.len() < 4 {
                continue;
            }
            if let (Ok(uid), Ok(gid)) = (f[2].trim().parse(), f[3].trim().parse()) {
                db.users.push((f[0].to_string(), uid, gid));
            }
        }
        for line in group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if line.trim().is_empty() || line.starts_with('#') || f.len() < 3 {
                continue;
            }
            if let Ok(gid) = f[2].trim().parse() {
                db.groups.push((f[0].to_string(), gid));
            }
        }
        db
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.iter().find(|u| u.1 == uid).map(|u| u.0.as_str())
    }

    pub fn group_name(&self, gid: u32) -> Option<&str> {
        self.groups.iter().find(|g| g.1 == gid).map(|g| g.0.as_str())
    }

    /// uid and gid for a `Config.User` value; `None` for an empty one (Docker
    /// then keeps the tar's ownership even with `-a`). Errors are runc's texts.
    pub fn resolve(&self, spec: &str) -> Result<Option<(u32, u32)>, String> {
        if spec.is_empty() {
            return Ok(None);
        }
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let (mut uid, mut gid) = (0u32, 0u32);
        let numeric = user.parse::<u32>().ok();
        let found = self.users.iter().find(|u| match numeric {
            _ if user.is_empty() => u.1 == 0,
            Some(n) => u.1 == n,
            None => u.0 == user,
        });
        match (found, numeric) {
            (Some(u), _) => {
                uid = u.1;
                gid = u.2;
            }
            (None, Some(n)) => uid = n,
            (None, None) if user.is_empty() => {}
            (None, None) => return Err(format!("unable to find user {user}: no matching entries in passwd file")),
        }
        if let Some(group) = group.filter(|g| !g.is_empty()) {
            let numeric = group.parse::<u32>().ok();
            let found = self.groups.iter().find(|g| match numeric {
                Some(n) => g.1 == n,
                None => g.0 == group,
            });
            gid = match (found, numeric) {
                (Some(g), _) => g.1,
                (None, Some(n)) => n,
                (None, None) => return Err(format!("unable to find group {group}: no matching entries in group file")),
            };
        }
        Ok(Some((uid, gid)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_runc() {
        let db = UserDb::parse(
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
            "root:x:0:\napp:x:1001:\nstaff:x:50:app\n",
        );
        assert_eq!(db.resolve(""), Ok(None));
        assert_eq!(db.resolve("app"), Ok(Some((1000, 1001))));
        assert_eq!(db.resolve("1000"), Ok(Some((1000, 1001))));
        assert_eq!(db.resolve("4242"), Ok(Some((4242, 0))));
        assert_eq!(db.resolve("app:staff"), Ok(Some((1000, 50))));
        assert_eq!(db.resolve("app:77"), Ok(Some((1000, 77))));
        assert_eq!(db.resolve("5:6"), Ok(Some((5, 6))));
        assert!(db.resolve("nobody").unwrap_err().contains("unable to find user nobody"));
        assert!(db.resolve("app:nogroup").unwrap_err().contains("unable to find group nogroup"));
        assert_eq!(db.user_name(1000), Some("app"));
        assert_eq!(db.group_name(1001), Some("app"));
    }
}
