//! The storage driver conformance suite: one scenario run against every driver.
//!
//! vfs runs everywhere. overlay2 (mounts) and btrfs (a loop-backed btrfs made
//! here) need root: without it they print a note and return, except under
//! `CI=true`, where they fail. Run them in a private mount namespace
//! (`unshare -m --propagation private`) so a leaked mount dies with it; they
//! clean up after themselves anyway.
//!
//! The scenario: a base layer is populated directly in its diff dir (modes,
//! owners, xattrs, symlink, hard link, nested dirs); a child is changed through
//! the driver's *view* (the overlay mount for overlay2, the tree itself for
//! vfs/btrfs); then `changes()` and the `diff()` tar must match exactly, with
//! Docker's semantics: a parent of a changed path appears as `C`, a deleted
//! directory appears once as `D`. Change lists are identical for every driver;
//! layer tars differ only where overlay records a directory that was deleted
//! and re-created as opaque (`dir/.wh..wh..opq`) and full-tree drivers write a
//! whiteout per deleted entry.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_archive::{Change, ChangeKind};
use strata_store::driver::{self, Driver, DriverOpts};

// ---------------------------------------------------------------------------
// tiers and fixtures

fn is_root() -> bool {
    strata_sys::probe::is_root()
}

/// Gate for privileged tests: see the module docs.
fn privileged(test: &str) -> bool {
    strata_sys::probe::require_root(test)
}

/// A scratch filesystem: `btrfs` or `xfs` (with reflinks) on a sparse file
/// mounted through a loop device, or a `tmpfs`. Dropping it unmounts (mount's
/// autoclear frees the loop device) and detaches any loop device still backed
/// by the image.
struct LoopFs {
    mnt: PathBuf,
    img: PathBuf,
}

impl LoopFs {
    fn new(dir: &Path, fstype: &str) -> LoopFs {
        let img = dir.join(format!("{fstype}.img"));
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        if fstype == "tmpfs" {
            let spec = strata_sys::mount::MountSpec::Tmpfs { options: "size=256m".into() };
            strata_sys::mount::mount_all(&[spec], &mnt).unwrap().leak();
            return LoopFs { mnt, img };
        }
        std::fs::File::create(&img).unwrap().set_len(512 << 20).unwrap();
        let (mkfs, args): (&str, &[&str]) = match fstype {
            "btrfs" => ("mkfs.btrfs", &["-q"]),
            "xfs" => ("mkfs.xfs", &["-q", "-m", "reflink=1"]),
            _ => unreachable!(),
        };
        let out = Command::new(mkfs)
            .args(args)
            .arg(&img)
            .output()
            .unwrap_or_else(|e| panic!("run {mkfs} (apt-get install btrfs-progs xfsprogs): {e}"));
        assert!(out.status.success(), "{mkfs}: {}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new("mount").args(["-t", fstype, "-o", "loop"]).arg(&img).arg(&mnt).output().unwrap();
        assert!(out.status.success(), "mount -o loop: {}", String::from_utf8_lossy(&out.stderr));
        LoopFs { mnt, img }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if strata_sys::mount::unmount(&self.mnt, false).is_err() {
            let _ = strata_sys::mount::unmount(&self.mnt, true);
        }
        if let Ok(out) = Command::new("losetup").arg("-j").arg(&self.img).output() {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some(dev) = line.split(':').next() {
                    let _ = Command::new("losetup").arg("-d").arg(dev).status();
                }
            }
        }
    }
}

/// A driver in a fresh data root. Field order matters: the driver goes first,
/// then the loop filesystem is unmounted, then the temp dir is deleted.
struct Env {
    driver: Box<dyn Driver>,
    home: PathBuf,
    tmp: PathBuf,
    _fs: Option<LoopFs>,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new(name: &str) -> Env {
        Env::on(name, if name == "btrfs" { Some("btrfs") } else { None })
    }

    /// Driver `name` with its data root in a temp dir, or on a fresh loop-backed `fstype`.
    fn on(name: &str, fstype: Option<&str>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let (fs, root) = match fstype {
            Some(t) => {
                let fs = LoopFs::new(dir.path(), t);
                let root = fs.mnt.join("root");
                (Some(fs), root)
            }
            None => (None, dir.path().join("root")),
        };
        let opts = DriverOpts { home: root.join(name), tmp: root.join("tmp"), rootless: false };
        let driver = driver::open(name, opts.clone()).unwrap_or_else(|e| panic!("open {name}: {e}"));
        Env { driver, home: opts.home, tmp: opts.tmp, _fs: fs, _dir: dir }
    }

    /// Run `f` on the writable merged view of `id`: the driver's mounts at its
    /// merged dir, or the diff dir itself when it describes none.
    fn with_view(&self, id: &str, f: impl FnOnce(&Path)) {
        let specs = self.driver.mounts(id).unwrap();
        if specs.is_empty() {
            return f(&self.driver.diff_dir(id));
        }
        let merged = self.driver.merged_dir(id).expect("a driver with mounts has a merged dir");
        let guard = strata_sys::mount::mount_all(&specs, &merged).unwrap();
        f(&merged);
        drop(guard);
        assert!(!strata_sys::mount::is_mountpoint(&merged));
    }

    /// Everything under the driver home and staging dir, relative, sorted.
    fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for base in [&self.home, &self.tmp] {
            for e in walkdir::WalkDir::new(base).min_depth(1) {
                let e = e.unwrap();
                out.push(e.path().strip_prefix(self.home.parent().unwrap()).unwrap().display().to_string());
            }
        }
        out.sort();
        out
    }
}

/// How a driver's layer tars represent a re-created directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    /// overlay upper dir as it is: whiteouts and opaque directories.
    Upper,
    /// A change list over a full tree (vfs, btrfs): one whiteout per deletion.
    Tree,
}

fn flavor(d: &dyn Driver) -> Flavor {
    if d.name() == "overlay2" { Flavor::Upper } else { Flavor::Tree }
}

const BASE: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const CHILD: &str = "0000000000000000000000000000000000000000000000000000000000000002";

fn write_mode(p: &Path, data: &[u8], mode: u32) {
    std::fs::write(p, data).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// The base layer, written straight into its diff dir as an extraction would.
fn populate_base(d: &Path, root: bool) {
    for dir in ["etc", "bin", "usr/lib", "usr/bin", "keep", "gone/sub", "opq", "data"] {
        std::fs::create_dir_all(d.join(dir)).unwrap();
    }
    write_mode(&d.join("etc/passwd"), b"root:x:0:0:root:/root:/bin/sh\n", 0o644);
    strata_sys::fs::set_xattr(&d.join("etc/passwd"), "user.strata", b"base").unwrap();
    write_mode(&d.join("etc/shadow"), b"root:*::0:::::\n", 0o640);
    write_mode(&d.join("bin/sh"), b"#!binary", 0o755);
    std::os::unix::fs::symlink("/bin/sh", d.join("usr/bin/sh")).unwrap();
    write_mode(&d.join("usr/lib/libx.so"), b"ELF", 0o644);
    std::fs::hard_link(d.join("usr/lib/libx.so"), d.join("usr/lib/libx.so.1")).unwrap();
    std::fs::write(d.join("keep/a"), b"a").unwrap();
    std::fs::write(d.join("gone/sub/f"), b"f").unwrap();
    std::fs::write(d.join("opq/old1"), b"1").unwrap();
    std::fs::write(d.join("opq/old2"), b"2").unwrap();
    std::fs::write(d.join("rmfile"), b"rm").unwrap();
    std::fs::write(d.join("modme"), b"original").unwrap();
    write_mode(&d.join("data/owned"), b"secret", 0o600);
    if root {
        chown(&d.join("etc/shadow"), 0, 42);
        chown(&d.join("data/owned"), 1000, 1000);
        chown(&d.join("data"), 1000, 1000);
    }
}

/// The child's changes, made through the merged view.
fn modify_child(v: &Path, root: bool) {
    std::fs::write(v.join("etc/passwd"), b"root:x:0:0:changed:/root:/bin/sh\n").unwrap();
    strata_sys::fs::set_xattr(&v.join("etc/passwd"), "user.strata", b"child").unwrap();
    write_mode(&v.join("etc/newfile"), b"new", 0o600);
    strata_sys::fs::set_xattr(&v.join("etc/newfile"), "user.k", b"v").unwrap();
    if root {
        chown(&v.join("etc/newfile"), 1000, 1001);
    }
    std::os::unix::fs::symlink("passwd", v.join("etc/link")).unwrap();
    std::fs::set_permissions(v.join("etc/shadow"), std::fs::Permissions::from_mode(0o600)).unwrap();
    // A different size: full-tree scans (like Docker's naive diff) see content
    // changes through size and mtime only, and a snapshot taken in the same
    // coarse clock tick as the write keeps the mtime equal.
    std::fs::write(v.join("modme"), b"modified!").unwrap();
    std::fs::remove_file(v.join("rmfile")).unwrap();
    std::fs::remove_dir_all(v.join("gone")).unwrap();
    std::fs::remove_dir_all(v.join("opq")).unwrap();
    std::fs::create_dir(v.join("opq")).unwrap();
    std::fs::write(v.join("opq/new"), b"n").unwrap();
    std::fs::create_dir_all(v.join("newdir/sub")).unwrap();
    std::fs::write(v.join("newdir/sub/file"), b"deep").unwrap();
}

fn c(kind: char, path: &str) -> Change {
    let kind = match kind {
        'A' => ChangeKind::Added,
        'C' => ChangeKind::Modified,
        'D' => ChangeKind::Deleted,
        _ => unreachable!(),
    };
    Change { path: path.into(), kind }
}

/// The same for every driver: overlay2 scans its upper dir but reports what
/// Docker's naive `ChangesDirs` reports for full trees (strata_archive::changes).
/// The deleted and re-created `/opq` is therefore `C`, with its old entries `D`
/// and the new one `A`.
fn expected_changes() -> Vec<Change> {
    let mut v = vec![
        c('C', "/etc"),
        c('A', "/etc/link"),
        c('A', "/etc/newfile"),
        c('C', "/etc/passwd"),
        c('C', "/etc/shadow"),
        c('D', "/gone"),
        c('C', "/modme"),
        c('A', "/newdir"),
        c('A', "/newdir/sub"),
        c('A', "/newdir/sub/file"),
        c('C', "/opq"),
        c('A', "/opq/new"),
        c('D', "/opq/old1"),
        c('D', "/opq/old2"),
        c('D', "/rmfile"),
    ];
    v.sort();
    v
}

/// Layer tars do differ: overlay2 writes its upper dir as it is, so the
/// re-created directory is an opaque marker, while full-tree drivers write one
/// whiteout per deleted entry. Both extract to the same tree.
fn expected_tar_names(f: Flavor) -> BTreeSet<String> {
    let mut v = vec![
        "etc",
        "etc/link",
        "etc/newfile",
        "etc/passwd",
        "etc/shadow",
        ".wh.gone",
        "modme",
        "newdir",
        "newdir/sub",
        "newdir/sub/file",
        ".wh.rmfile",
        "opq",
        "opq/new",
    ];
    match f {
        Flavor::Upper => v.push("opq/.wh..wh..opq"),
        Flavor::Tree => v.extend(["opq/.wh.old1", "opq/.wh.old2"]),
    }
    v.into_iter().map(String::from).collect()
}

// ---------------------------------------------------------------------------
// tar inspection

#[derive(Debug)]
struct TarEntry {
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    link: Option<String>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// Entries by name (`./` prefix and trailing `/` removed).
fn read_tar(data: &[u8]) -> BTreeMap<String, TarEntry> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let raw = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let name = raw.trim_start_matches("./").trim_end_matches('/').to_string();
        let mut xattrs = BTreeMap::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                if let Some(k) = ext.key().unwrap().strip_prefix("SCHILY.xattr.") {
                    xattrs.insert(k.to_string(), ext.value_bytes().to_vec());
                }
            }
        }
        let h = e.header();
        let entry = TarEntry {
            kind: h.entry_type(),
            mode: h.mode().unwrap() & 0o7777,
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            size: h.size().unwrap(),
            link: e.link_name().unwrap().map(|l| l.display().to_string()),
            xattrs,
        };
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        assert!(out.insert(name.clone(), entry).is_none(), "duplicate tar entry {name}");
    }
    out
}

// ---------------------------------------------------------------------------
// the suite

fn conformance(env: &Env) {
    let d = &*env.driver;
    let root = is_root();
    let fl = flavor(d);

    // Base layer, populated directly.
    d.create(BASE, None).unwrap();
    assert!(d.exists(BASE));
    let base_dir = d.diff_dir(BASE);
    assert_eq!(std::fs::metadata(&base_dir).unwrap().mode() & 0o7777, 0o755);
    populate_base(&base_dir, root);

    // Changes of a base layer: everything is added.
    let base_changes = d.changes(BASE, None).unwrap();
    assert!(base_changes.iter().all(|c| c.kind == ChangeKind::Added), "{base_changes:?}");
    assert!(base_changes.contains(&c('A', "/usr/lib/libx.so.1")));
    assert!(base_changes.contains(&c('A', "/gone/sub/f")));

    // Child layer, changed through the view.
    d.create(CHILD, Some(BASE)).unwrap();
    assert_eq!(d.list().unwrap(), vec![BASE.to_string(), CHILD.to_string()]);
    env.with_view(CHILD, |v| {
        // The view starts as the parent's tree.
        assert_eq!(std::fs::read(v.join("keep/a")).unwrap(), b"a");
        assert_eq!(std::fs::read_link(v.join("usr/bin/sh")).unwrap(), Path::new("/bin/sh"));
        let a = std::fs::symlink_metadata(v.join("usr/lib/libx.so")).unwrap();
        let b = std::fs::symlink_metadata(v.join("usr/lib/libx.so.1")).unwrap();
        assert_eq!(a.ino(), b.ino(), "hard link kept in the child's view");
        if root {
            let o = std::fs::metadata(v.join("data/owned")).unwrap();
            assert_eq!((o.uid(), o.gid(), o.mode() & 0o7777), (1000, 1000, 0o600));
        }
        assert_eq!(
            strata_sys::fs::get_xattr(&v.join("etc/passwd"), "user.strata").unwrap().as_deref(),
            Some(&b"base"[..])
        );
        modify_child(v, root);
    });
    // The parent is untouched.
    assert_eq!(std::fs::read(base_dir.join("modme")).unwrap(), b"original");
    assert!(base_dir.join("opq/old1").exists() && base_dir.join("gone/sub/f").exists());

    // changes(): exact, sorted.
    assert_eq!(d.changes(CHILD, Some(BASE)).unwrap(), expected_changes(), "{} changes", d.name());

    // diff(): names, types, modes, owners, xattrs.
    let mut buf = Vec::new();
    let n = d.diff(CHILD, Some(BASE), &mut buf).unwrap();
    assert_eq!(n, buf.len() as u64);
    let tar = read_tar(&buf);
    assert_eq!(tar.keys().cloned().collect::<BTreeSet<_>>(), expected_tar_names(fl), "{} diff tar", d.name());
    for (name, e) in &tar {
        if name.rsplit('/').next().unwrap().starts_with(".wh.") {
            assert_eq!((e.kind, e.size), (tar::EntryType::Regular, 0), "{name} is an empty whiteout file");
        }
    }
    let dir_entry = &tar["etc"];
    assert_eq!((dir_entry.kind, dir_entry.mode), (tar::EntryType::Directory, 0o755));
    let newfile = &tar["etc/newfile"];
    assert_eq!((newfile.kind, newfile.mode, newfile.size), (tar::EntryType::Regular, 0o600, 3));
    if root {
        assert_eq!((newfile.uid, newfile.gid), (1000, 1001));
    }
    assert_eq!(newfile.xattrs, BTreeMap::from([("user.k".to_string(), b"v".to_vec())]));
    let passwd = &tar["etc/passwd"];
    assert_eq!(passwd.xattrs, BTreeMap::from([("user.strata".to_string(), b"child".to_vec())]));
    assert_eq!(passwd.mode, 0o644);
    let shadow = &tar["etc/shadow"];
    assert_eq!(shadow.mode, 0o600);
    if root {
        assert_eq!((shadow.uid, shadow.gid), (0, 42));
    }
    let link = &tar["etc/link"];
    assert_eq!((link.kind, link.link.as_deref()), (tar::EntryType::Symlink, Some("passwd")));
    assert_eq!(tar["newdir/sub"].kind, tar::EntryType::Directory);
    assert_eq!(tar["newdir/sub/file"].size, 4);
    assert!(tar.values().all(|e| !e.xattrs.keys().any(|k| k.contains("overlay."))), "overlay xattrs leaked");

    // The base layer's own diff holds the hard link as a link entry.
    let mut base_tar = Vec::new();
    d.diff(BASE, None, &mut base_tar).unwrap();
    let base_tar = read_tar(&base_tar);
    let pair = (&base_tar["usr/lib/libx.so"], &base_tar["usr/lib/libx.so.1"]);
    assert!(
        matches!(
            (pair.0.kind, pair.1.kind),
            (tar::EntryType::Regular, tar::EntryType::Link) | (tar::EntryType::Link, tar::EntryType::Regular)
        ),
        "hard link in base tar: {pair:?}"
    );
    if root {
        assert_eq!((base_tar["data/owned"].uid, base_tar["data/owned"].mode), (1000, 0o600));
    }

    // Metadata.
    let md = d.metadata(CHILD).unwrap();
    match d.name() {
        "overlay2" => {
            let keys: Vec<_> = md.keys().map(String::as_str).collect();
            assert_eq!(keys, ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
            assert_eq!(md["LowerDir"], base_dir.display().to_string());
            assert_eq!(md["UpperDir"], d.diff_dir(CHILD).display().to_string());
            let bmd = d.metadata(BASE).unwrap();
            assert!(!bmd.contains_key("LowerDir"));
        }
        _ => assert!(md.is_empty(), "Docker reports no GraphDriver data for {}", d.name()),
    }
    assert!(d.disk_usage(CHILD).unwrap() > 0);

    // Staging: failures leave nothing of the id behind.
    let before = env.leftovers();
    let ghost = "00000000000000000000000000000000000000000000000000000000000000ff";
    assert!(matches!(d.create(ghost, Some("no-such-parent")), Err(strata_store::StoreError::NoSuchLayer(_))));
    assert!(d.create(CHILD, Some(BASE)).is_err(), "create over an existing layer");
    assert!(d.create("../escape", None).is_err());
    assert!(!d.exists(ghost));
    assert_eq!(env.leftovers(), before);
    assert!(d.diff_dir(CHILD).join("modme").exists(), "failed create must not touch the existing layer");
    assert!(matches!(d.changes(ghost, None), Err(strata_store::StoreError::NoSuchLayer(_))));
    assert!(matches!(d.metadata(ghost), Err(strata_store::StoreError::NoSuchLayer(_))));

    // Remove: child, then base; removing twice is fine; nothing left.
    d.remove(CHILD).unwrap();
    assert!(!d.exists(CHILD));
    d.remove(CHILD).unwrap();
    d.remove(BASE).unwrap();
    assert!(d.list().unwrap().is_empty());
    let expect_left: Vec<String> = match d.name() {
        "overlay2" => vec!["overlay2/.native-diff".into(), "overlay2/l".into()],
        "vfs" => vec!["vfs/dir".into()],
        "btrfs" => vec!["btrfs/subvolumes".into()],
        _ => unreachable!(),
    };
    assert_eq!(env.leftovers(), expect_left);
}

#[test]
fn vfs_conformance() {
    let env = Env::new("vfs");
    let st: BTreeMap<_, _> = env.driver.status().into_iter().collect();
    assert_eq!(st["Backing Filesystem"], strata_sys::probe::fs_type(&env.home).unwrap());
    assert!(st.contains_key("Reflink"));
    assert_eq!(env.driver.whiteout_mode(), strata_archive::WhiteoutMode::Remove);
    assert_eq!(env.driver.merged_dir(BASE), None);
    conformance(&env);
}

/// vfs on xfs with `reflink=1`: child layers share file data with their parent.
#[test]
fn vfs_on_xfs_reflinks() {
    if !privileged("vfs_on_xfs_reflinks") {
        return;
    }
    let env = Env::on("vfs", Some("xfs"));
    let st: BTreeMap<_, _> = env.driver.status().into_iter().collect();
    assert_eq!((st["Backing Filesystem"].as_str(), st["Reflink"].as_str()), ("xfs", "true"));
    conformance(&env);
}

#[test]
fn overlay2_conformance() {
    if !privileged("overlay2_conformance") {
        return;
    }
    let env = Env::new("overlay2");
    let st = env.driver.status();
    let keys: Vec<_> = st.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["Backing Filesystem", "Supports d_type", "Native Overlay Diff", "userxattr"]);
    assert_eq!(st[1].1, "true");
    assert_eq!(st[2].1, "true");
    assert_eq!(st[3].1, "false");
    assert_eq!(env.driver.whiteout_mode(), strata_archive::WhiteoutMode::Overlay { userxattr: false });
    conformance(&env);
}

#[test]
fn btrfs_conformance() {
    if !privileged("btrfs_conformance") {
        return;
    }
    let env = Env::new("btrfs");
    assert_eq!(env.driver.status(), vec![("Backing Filesystem".to_string(), "btrfs".to_string())]);
    conformance(&env);
}

// ---------------------------------------------------------------------------
// driver-specific

#[test]
fn removed_drivers_name_the_alternative() {
    let t = tempfile::tempdir().unwrap();
    let opts = DriverOpts { home: t.path().join("x"), tmp: t.path().join("tmp"), rootless: false };
    let aufs = driver::open("aufs", opts.clone()).err().expect("aufs must be refused").to_string();
    assert!(aufs.contains("overlay2"), "{aufs}");
    let dm = driver::open("devicemapper", opts.clone()).err().expect("devicemapper must be refused").to_string();
    assert!(dm.contains("overlay2"), "{dm}");
    let other = driver::open("nope", opts).err().expect("unknown driver").to_string();
    assert!(other.contains("overlay2, btrfs, vfs"), "{other}");
}

#[test]
fn btrfs_refuses_other_filesystems() {
    let t = tempfile::tempdir().unwrap();
    let fs = strata_sys::probe::fs_type(t.path()).unwrap();
    if fs == "btrfs" {
        eprintln!("note: temp dir is on btrfs; nothing to refuse");
        return;
    }
    let root = t.path().join("root");
    let opts = DriverOpts { home: root.join("btrfs"), tmp: root.join("tmp"), rootless: false };
    let err = driver::open("btrfs", opts).err().expect("btrfs on a non-btrfs root").to_string();
    let want = format!("btrfs driver requires the data root on a btrfs filesystem; {} is on {fs}", root.display());
    assert!(err.contains(&want), "{err}");
    assert!(!root.exists(), "a refused driver creates nothing");
}

#[test]
fn overlay2_refuses_overlay_backing() {
    if !privileged("overlay2_refuses_overlay_backing") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["l1", "l2", "m"].iter().map(|n| t.path().join(n)).collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let spec = strata_sys::mount::MountSpec::Overlay {
        lower: vec![dirs[0].clone(), dirs[1].clone()],
        upper: None,
        work: None,
        userxattr: false,
    };
    let _g = strata_sys::mount::mount_all(&[spec], &dirs[2]).unwrap();
    let opts = DriverOpts { home: dirs[2].join("overlay2"), tmp: dirs[2].join("tmp"), rootless: false };
    let err = driver::open("overlay2", opts).err().expect("overlay on overlay");
    assert_eq!(err.kind(), strata_store::ErrorKind::Unsupported);
    assert!(err.to_string().contains("overlayfs"), "{err}");
}

#[test]
fn overlay2_layout_matches_docker() {
    if !privileged("overlay2_layout_matches_docker") {
        return;
    }
    let env = Env::new("overlay2");
    let d = &*env.driver;
    let ids = ["a1", "b2", "c3"];
    d.create(ids[0], None).unwrap();
    d.create(ids[1], Some(ids[0])).unwrap();
    d.create(ids[2], Some(ids[1])).unwrap();
    let short = |id: &str| std::fs::read_to_string(env.home.join(id).join("link")).unwrap();
    for id in ids {
        let s = short(id);
        assert_eq!(s.len(), 26);
        assert_eq!(std::fs::read_link(env.home.join("l").join(&s)).unwrap(), Path::new(&format!("../{id}/diff")));
        assert!(env.home.join(id).join("diff").is_dir());
    }
    assert!(!env.home.join("a1/lower").exists() && !env.home.join("a1/work").exists());
    assert_eq!(std::fs::read_to_string(env.home.join("b2/lower")).unwrap(), format!("l/{}", short("a1")));
    assert_eq!(
        std::fs::read_to_string(env.home.join("c3/lower")).unwrap(),
        format!("l/{}:l/{}", short("b2"), short("a1"))
    );
    assert!(env.home.join("c3/work").is_dir() && env.home.join("c3/merged").is_dir());
    assert_eq!(d.merged_dir("c3"), Some(env.home.join("c3/merged")));
    assert_eq!(
        d.mounts("a1").unwrap(),
        vec![strata_sys::mount::MountSpec::Bind { source: env.home.join("a1/diff"), readonly: true, recursive: false }]
    );
    assert_eq!(
        d.mounts("c3").unwrap(),
        vec![strata_sys::mount::MountSpec::Overlay {
            lower: vec![env.home.join("b2/diff"), env.home.join("a1/diff")],
            upper: Some(env.home.join("c3/diff")),
            work: Some(env.home.join("c3/work")),
            userxattr: false,
        }]
    );
    assert_eq!(
        d.metadata("c3").unwrap()["LowerDir"],
        format!("{}:{}", env.home.join("b2/diff").display(), env.home.join("a1/diff").display())
    );
    // overlay2 diffs only against the recorded parent.
    assert!(d.changes("c3", Some("a1")).is_err());

    // remove() unmounts a mounted merged dir instead of deleting through it.
    let merged = d.merged_dir("c3").unwrap();
    strata_sys::mount::mount_all(&d.mounts("c3").unwrap(), &merged).unwrap().leak();
    std::fs::write(merged.join("through-mount"), b"x").unwrap();
    d.remove("c3").unwrap();
    assert!(!strata_sys::mount::is_mountpoint(&merged));
    assert!(!env.home.join("b2/diff/through-mount").exists());
    d.remove("b2").unwrap();
    d.remove("a1").unwrap();
    assert_eq!(env.leftovers(), vec!["overlay2/.native-diff".to_string(), "overlay2/l".to_string()]);
}

/// 200 lower layers need ~7 KB of legacy mount options (past mount(2)'s one
/// page); `lowerdir+` mounts them. The kernel's cap is 500 lowers: a layer that
/// would need 501 is refused at create time, leaving nothing behind.
/// (On a tmpfs: 500 layers' worth of mkdir/unlink is slow on a VM disk.)
#[test]
fn overlay2_deep_stacks() {
    if !privileged("overlay2_deep_stacks") {
        return;
    }
    let env = Env::on("overlay2", Some("tmpfs"));
    let d = &*env.driver;
    let id = |i: usize| format!("{i:064x}");
    d.create(&id(0), None).unwrap();
    std::fs::write(d.diff_dir(&id(0)).join("shadow"), "0").unwrap();
    for i in 1..=500 {
        d.create(&id(i), Some(&id(i - 1))).unwrap();
        if i <= 200 || i == 500 {
            std::fs::write(d.diff_dir(&id(i)).join(format!("f{i}")), "").unwrap();
            std::fs::write(d.diff_dir(&id(i)).join("shadow"), i.to_string()).unwrap();
        }
    }
    let check = |top: usize, lowers: usize, shadow: &str| {
        let specs = d.mounts(&id(top)).unwrap();
        let strata_sys::mount::MountSpec::Overlay { lower, .. } = &specs[0] else { panic!("{specs:?}") };
        assert_eq!(lower.len(), lowers);
        let merged = d.merged_dir(&id(top)).unwrap();
        let g = strata_sys::mount::mount_all(&specs, &merged).unwrap();
        assert_eq!(std::fs::read_to_string(merged.join("shadow")).unwrap(), shadow);
        assert!(merged.join("f1").exists() && merged.join("f200").exists());
        drop(g);
    };
    // Layer 201 is a rw layer over 200 lowers.
    check(201, 201, "200");
    check(500, 500, "500");
    let before = env.leftovers();
    let err = d.create(&id(501), Some(&id(500))).unwrap_err().to_string();
    assert!(err.contains("max depth exceeded") && err.contains("501"), "{err}");
    assert_eq!(env.leftovers(), before);
}
