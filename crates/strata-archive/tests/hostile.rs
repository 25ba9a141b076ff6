//! Hostile layer tars: nothing may be written, linked or deleted outside `dest`.
//!
//! Layout of each test: `<tmp>/dest` is extracted into; `<tmp>/sentinel/` is a
//! sibling holding files whose absence/presence/contents are checked afterwards,
//! and `<tmp>` itself must end up with exactly those two entries. Escapes are
//! aimed at the sentinel (by absolute path or `..`), so a regression damages
//! only the test's own tempdir — except the `/etc/passwd` hardlink, which is
//! checked by inode number.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{E, RawTar, dump};
use strata_archive::WhiteoutMode;
use strata_archive::apply::{ApplyOptions, apply_layer};

struct Arena {
    _t: tempfile::TempDir,
    top: PathBuf,
    dest: PathBuf,
    sentinel: PathBuf,
    before: String,
}

impl Arena {
    fn new() -> Arena {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().to_path_buf();
        let dest = top.join("dest");
        let sentinel = top.join("sentinel");
        std::fs::create_dir(&dest).unwrap();
        std::fs::create_dir_all(sentinel.join("sub")).unwrap();
        std::fs::write(sentinel.join("keep"), "keep").unwrap();
        std::fs::write(sentinel.join("sub/deep"), "deep").unwrap();
        std::fs::write(top.join("outside"), "outside").unwrap();
        let before = dump(&top.join("sentinel"), true);
        Arena { _t: t, top, dest, sentinel, before }
    }

    fn apply(&self, tar: &[u8], mode: WhiteoutMode) -> strata_archive::Result<()> {
        let opts = ApplyOptions { whiteouts: mode, same_owner: common::is_root(), tar_split: true };
        apply_layer(tar, &self.dest, &opts).map(|_| ())
    }

    /// The sentinel is untouched and nothing new appeared next to dest.
    fn check(&self) {
        assert_eq!(dump(&self.sentinel, true), self.before, "sentinel changed");
        let mut names: Vec<String> = std::fs::read_dir(&self.top)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["dest", "outside", "sentinel"]);
        assert_eq!(std::fs::read_to_string(self.top.join("outside")).unwrap(), "outside");
        assert_eq!(std::fs::metadata(self.top.join("outside")).unwrap().nlink(), 1);
    }

    fn inside(&self, rel: &str) -> PathBuf {
        self.dest.join(rel.trim_start_matches('/'))
    }

    fn sentinel_abs(&self) -> String {
        self.sentinel.display().to_string()
    }
}

fn modes() -> [WhiteoutMode; 2] {
    [WhiteoutMode::Remove, WhiteoutMode::Overlay { userxattr: true }]
}

#[test]
fn dotdot_and_absolute_names_land_inside() {
    for mode in modes() {
        let a = Arena::new();
        let mut tar = RawTar::new();
        tar.file("../../x", b"1")
            .file("../sentinel/keep", b"overwritten?")
            .file("/abs", b"2")
            .file("a/../../../../sentinel/sub/deep", b"3")
            .dir("../../newdir/", 0o755)
            .file("./././../y", b"4");
        a.apply(&tar.finish(), mode).unwrap();
        a.check();
        assert_eq!(std::fs::read(a.inside("x")).unwrap(), b"1");
        assert_eq!(std::fs::read(a.inside("sentinel/keep")).unwrap(), b"overwritten?");
        assert_eq!(std::fs::read(a.inside("abs")).unwrap(), b"2");
        assert_eq!(std::fs::read(a.inside("sentinel/sub/deep")).unwrap(), b"3");
        assert!(a.inside("newdir").is_dir());
        assert_eq!(std::fs::read(a.inside("y")).unwrap(), b"4");
    }
}

#[test]
fn symlink_to_root_then_write_through_it() {
    for mode in modes() {
        let a = Arena::new();
        let through = format!("evil{}/pwned", a.sentinel_abs());
        let mut tar = RawTar::new();
        tar.symlink("evil", "/").file(&through, b"pwned").file("evil/keep", b"root-relative");
        a.apply(&tar.finish(), mode).unwrap();
        a.check();
        assert_eq!(std::fs::read(a.inside(&format!("{}/pwned", a.sentinel_abs()))).unwrap(), b"pwned");
        assert_eq!(std::fs::read(a.inside("keep")).unwrap(), b"root-relative");
    }
}

#[test]
fn dotdot_symlinks_and_symlinked_parents() {
    for mode in modes() {
        let a = Arena::new();
        let mut tar = RawTar::new();
        tar.symlink("up", "../../..")
            .file("up/escaped", b"1")
            .symlink("sib", "../sentinel")
            .file("sib/keep", b"clobber")
            .file("sib/new", b"2")
            .symlink("abs", &a.sentinel_abs())
            .file("abs/sub/deep", b"clobber")
            .dir("abs/sub/made/", 0o755)
            .symlink("chain1", "chain2")
            .symlink("chain2", "../../sentinel")
            .file("chain1/viachain", b"3");
        a.apply(&tar.finish(), mode).unwrap();
        a.check();
        assert_eq!(std::fs::read(a.inside("escaped")).unwrap(), b"1");
        assert_eq!(std::fs::read(a.inside("sentinel/keep")).unwrap(), b"clobber");
        assert_eq!(std::fs::read(a.inside("sentinel/new")).unwrap(), b"2");
        assert_eq!(std::fs::read(a.inside(&format!("{}/sub/deep", a.sentinel_abs()))).unwrap(), b"clobber");
        assert!(a.inside(&format!("{}/sub/made", a.sentinel_abs())).is_dir());
        assert_eq!(std::fs::read(a.inside("sentinel/viachain")).unwrap(), b"3");
        // The links themselves are stored verbatim.
        assert_eq!(std::fs::read_link(a.inside("up")).unwrap(), Path::new("../../.."));
    }
}

#[test]
fn final_symlink_is_replaced_not_followed() {
    for mode in modes() {
        let a = Arena::new();
        let mut tar = RawTar::new();
        tar.symlink("f", &format!("{}/keep", a.sentinel_abs()))
            .file("f", b"replaces the link")
            .symlink("d", &a.sentinel_abs())
            .dir("d/", 0o700)
            .symlink("h", "../outside");
        let mut m = E::new("h", b'0');
        m.mode = 0o600;
        m.data = b"x";
        tar.raw(&m);
        a.apply(&tar.finish(), mode).unwrap();
        a.check();
        assert_eq!(std::fs::read(a.inside("f")).unwrap(), b"replaces the link");
        assert!(std::fs::symlink_metadata(a.inside("d")).unwrap().is_dir());
        assert!(std::fs::symlink_metadata(a.inside("h")).unwrap().is_file());
    }
}

#[test]
fn hardlinks_are_confined() {
    for mode in modes() {
        // Targets that do not exist inside the layer are errors, never host files.
        for target in ["/etc/passwd", "../../outside", "../outside", "evil/outside"] {
            let a = Arena::new();
            let mut tar = RawTar::new();
            tar.symlink("evil", "..").hardlink("hl", target);
            let err = a.apply(&tar.finish(), mode).unwrap_err();
            assert_eq!(err.kind(), strata_archive::ArchiveErrorKind::Invalid, "{target}: {err}");
            a.check();
            assert!(!a.inside("hl").exists());
        }
        // With the target inside, the link is to the layer's own copy.
        let a = Arena::new();
        let host_passwd = std::fs::metadata("/etc/passwd").unwrap();
        let mut tar = RawTar::new();
        tar.file("etc/passwd", b"root:x:0:0::/:/bin/sh\n")
            .file("outside", b"inner")
            .hardlink("hl", "/etc/passwd")
            .hardlink("hl2", "../../outside")
            .symlink("lnk", "/etc")
            .hardlink("hl3", "lnk/passwd");
        let err = a.apply(&tar.finish(), mode);
        // hl3: the target's parent `lnk` resolves (confined) to etc, so the link works.
        err.unwrap();
        a.check();
        let inner = std::fs::metadata(a.inside("etc/passwd")).unwrap();
        assert_ne!(inner.ino(), host_passwd.ino());
        assert_eq!(std::fs::metadata(a.inside("hl")).unwrap().ino(), inner.ino());
        assert_eq!(std::fs::metadata(a.inside("hl3")).unwrap().ino(), inner.ino());
        assert_eq!(std::fs::metadata("/etc/passwd").unwrap().nlink(), host_passwd.nlink());
        assert_eq!(std::fs::read(a.inside("hl2")).unwrap(), b"inner");
    }
}

#[test]
fn whiteouts_cannot_delete_outside() {
    for mode in modes() {
        let a = Arena::new();
        let abs = a.sentinel_abs();
        let through_root = format!("root{abs}/.wh.keep");
        let attempts: Vec<Vec<(&str, &str)>> = vec![
            vec![("sib", "../sentinel"), ("sib/.wh.keep", "")],
            vec![("../sentinel/.wh.keep", "")],
            vec![("../.wh.outside", ""), ("../../.wh.sentinel", "")],
            vec![("abs", &abs), ("abs/.wh..wh..opq", "")],
            vec![("sib2", "../sentinel"), ("sib2/sub/.wh..wh..opq", ""), ("sib2/.wh..wh..opq", "")],
            vec![("../.wh..wh..opq", "")],
            vec![("root", "/"), ("root/.wh..wh..opq", ""), (&through_root, "")],
        ];
        for entries in attempts {
            let mut tar = RawTar::new();
            for (name, link) in entries {
                if name.contains(".wh.") {
                    tar.file(name, b"");
                } else {
                    tar.symlink(name, link);
                }
            }
            // Conflicting hostile entries may fail (e.g. ENOTDIR); what matters
            // is that nothing outside dest changed either way.
            let _ = a.apply(&tar.finish(), mode);
            a.check();
        }
    }
}

#[test]
fn deleting_a_symlinked_dir_removes_the_link_only() {
    let a = Arena::new();
    std::os::unix::fs::symlink(&a.sentinel, a.dest.join("link")).unwrap();
    let mut tar = RawTar::new();
    tar.file(".wh.link", b"");
    a.apply(&tar.finish(), WhiteoutMode::Remove).unwrap();
    a.check();
    assert!(std::fs::symlink_metadata(a.dest.join("link")).is_err());

    // Replacing a symlinked dir with a file must not recurse into the target.
    std::os::unix::fs::symlink(&a.sentinel, a.dest.join("link2")).unwrap();
    let mut tar = RawTar::new();
    tar.file("link2", b"file now");
    a.apply(&tar.finish(), WhiteoutMode::Overlay { userxattr: true }).unwrap();
    a.check();
}

#[test]
fn huge_and_odd_names() {
    let a = Arena::new();
    let long = format!("{}/{}", "d".repeat(200), "f".repeat(250));
    let mut tar = RawTar::new();
    tar.pax(&[("path", long.as_bytes())]);
    tar.file("ignored-short-name", b"long");
    tar.pax(&[("path", b"../../../sentinel/keep")]);
    tar.file("ignored", b"pax escape");
    a.apply(&tar.finish(), WhiteoutMode::Remove).unwrap();
    a.check();
    assert_eq!(std::fs::read(a.inside(&long)).unwrap(), b"long");
    assert_eq!(std::fs::read(a.inside("sentinel/keep")).unwrap(), b"pax escape");
}
