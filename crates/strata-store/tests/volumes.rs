//! Volume lifecycle in the engine: backup (export) → restore (import) into a
//! second data root gives identical files, owners, modes, xattrs, hardlinks;
//! plain tars (Podman's format) import too; clone, rename, labels, prune.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_archive::compress::Compression;
use strata_store::progress::NoProgress;
use strata_store::volume::{ImportOpts, VolumeFilter, VolumeSpec};
use strata_store::{Store, StoreOpts};

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn store(dir: &Path, name: &str) -> Store {
    Store::open(&StoreOpts {
        root: dir.join(name),
        run_root: dir.join(format!("{name}-run")),
        driver: Some("vfs".into()),
    })
    .unwrap()
}

fn tmp() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new().prefix("vol").tempdir_in(base).unwrap()
}

/// One line per inode: path, type, mode, owner, size, link target, xattrs, content digest.
fn dump(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let p = e.path();
        let md = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let kind = if md.is_dir() {
            "d"
        } else if md.file_type().is_symlink() {
            "l"
        } else {
            "f"
        };
        let content = if md.is_file() {
            strata_archive::digest::sha256_hex(&std::fs::read(p).unwrap())[..12].to_string()
        } else {
            String::new()
        };
        let link = if kind == "l" { std::fs::read_link(p).unwrap().display().to_string() } else { String::new() };
        let xattrs: Vec<String> = if kind == "l" {
            Vec::new()
        } else {
            strata_sys::fs::list_xattrs(p)
                .unwrap()
                .into_iter()
                .map(|(k, v)| format!("{}={}", k.to_string_lossy(), String::from_utf8_lossy(&v)))
                .collect()
        };
        let mtime = if md.is_dir() { 0 } else { md.mtime() };
        out.push(format!(
            "{rel} {kind} {:o} {}:{} {} {link} {content} n{} t{mtime} [{}]",
            md.permissions().mode() & 0o7777,
            md.uid(),
            md.gid(),
            if md.is_file() { md.len() } else { 0 },
            if md.is_file() { md.nlink() } else { 0 },
            xattrs.join(",")
        ));
    }
    out
}

fn fill(data: &Path) {
    std::fs::create_dir_all(data.join("sub/deeper")).unwrap();
    std::fs::write(data.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(data.join("sub/b.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::hard_link(data.join("a.txt"), data.join("sub/a-link")).unwrap();
    std::os::unix::fs::symlink("../a.txt", data.join("sub/sym")).unwrap();
    std::fs::set_permissions(data.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    strata_sys::fs::set_xattr(&data.join("a.txt"), "user.comment", b"hello").unwrap();
    if is_root() {
        strata_sys::fs::lchown(&data.join("sub/b.bin"), 1234, 4321).unwrap();
        strata_sys::fs::lchown(data, 1000, 1000).unwrap();
        strata_sys::fs::set_xattr(
            &data.join("sub/b.bin"),
            "security.capability",
            &[1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    }
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o770)).unwrap();
}

#[test]
fn export_import_into_a_second_root_is_identical() {
    let t = tmp();
    let a = store(t.path(), "a");
    let b = store(t.path(), "b");
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    let v = a
        .create_volume(&VolumeSpec { name: Some("data".into()), labels: labels.clone(), ..Default::default() })
        .unwrap();
    fill(&v.mountpoint);
    for (c, name) in [(Compression::None, "plain"), (Compression::Gzip, "gz"), (Compression::Zstd, "zst")] {
        let mut archive = Vec::new();
        a.export_volume("data", &mut archive, c).unwrap();
        let restored = b.import_volume(name, &archive[..], &ImportOpts::default(), &NoProgress).unwrap();
        assert_eq!(dump(&v.mountpoint), dump(&restored.mountpoint), "{name}");
        assert_eq!(restored.labels, labels, "labels travel in the manifest");
        let root = std::fs::metadata(&restored.mountpoint).unwrap();
        assert_eq!(root.permissions().mode() & 0o7777, 0o770);
    }
    // Importing over a non-empty volume needs --replace, which swaps the data.
    let mut archive = Vec::new();
    a.export_volume("data", &mut archive, Compression::None).unwrap();
    let err = b.import_volume("plain", &archive[..], &ImportOpts::default(), &NoProgress).unwrap_err().to_string();
    assert!(err.contains("--replace"), "{err}");
    std::fs::write(b.volume("plain").unwrap().mountpoint.join("stale"), "x").unwrap();
    let r = b.import_volume("plain", &archive[..], &ImportOpts { replace: true }, &NoProgress).unwrap();
    assert!(!r.mountpoint.join("stale").exists());
    assert_eq!(dump(&v.mountpoint), dump(&r.mountpoint));
    // Nothing left in staging.
    assert_eq!(std::fs::read_dir(t.path().join("b/tmp")).unwrap().count(), 0);
    // The export is a plain tar for GNU tar (the manifest is a `comment` record it ignores).
    let f = t.path().join("x.tar");
    std::fs::write(&f, &archive).unwrap();
    let out = Command::new("tar").arg("-tvf").arg(&f).output().unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "tar warns: {}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("sub/b.bin") && listing.contains("a.txt"), "{listing}");
}

#[test]
fn imports_plain_tars_and_rejects_escapes() {
    let t = tmp();
    let s = store(t.path(), "s");
    // Podman's export format: contents without a ./ prefix, no manifest.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o600);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "dir/file", &b"abc"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "escape", "/etc").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    b.append_data(&mut h, "escape/passwd-owned", &b"evil"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let v = s.import_volume("podman", &data[..], &ImportOpts::default(), &NoProgress).unwrap();
    assert_eq!(std::fs::read_to_string(v.mountpoint.join("dir/file")).unwrap(), "abc");
    assert!(!Path::new("/etc/passwd-owned").exists(), "the host is untouched");
    assert_eq!(std::fs::read_to_string(v.mountpoint.join("etc/passwd-owned")).unwrap(), "evil");
    assert!(v.labels.is_empty());
}

#[test]
fn clone_rename_labels_prune() {
    let t = tmp();
    let s = store(t.path(), "s");
    let v = s
        .create_volume(&VolumeSpec {
            name: Some("src".into()),
            labels: [("k".into(), "v".into())].into(),
            ..Default::default()
        })
        .unwrap();
    fill(&v.mountpoint);
    let c = s.clone_volume("src", "copy").unwrap();
    assert_eq!(dump(&v.mountpoint), dump(&c.mountpoint));
    assert_eq!(c.labels.get("k").map(String::as_str), Some("v"));
    assert!(s.clone_volume("src", "copy").is_err(), "existing destination refused");
    s.rename_volume("copy", "renamed").unwrap();
    assert!(s.find_volume("copy").unwrap().is_none());
    assert_eq!(dump(&v.mountpoint), dump(&s.volume("renamed").unwrap().mountpoint));
    let u = s.update_volume_labels("renamed", &[("x".into(), "1".into())].into(), &["k".into()]).unwrap();
    assert_eq!(u.labels, [("x".to_string(), "1".to_string())].into());
    // Prune: anonymous only unless all; never volumes with options; dry run removes nothing.
    s.create_volume(&VolumeSpec { anonymous: true, ..Default::default() }).unwrap();
    s.create_volume(&VolumeSpec {
        name: Some("opt".into()),
        options: [("type".into(), "tmpfs".into()), ("device".into(), "tmpfs".into())].into(),
        ..Default::default()
    })
    .unwrap();
    let none = VolumeFilter::default();
    let dry = s.prune_volumes(&none, false, true).unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!(s.volumes().unwrap().len(), 4);
    assert_eq!(s.prune_volumes(&none, false, false).unwrap().len(), 1);
    let (f, _) = VolumeFilter::parse(&["label=x=1".into()], true).unwrap();
    let pruned: Vec<String> = s.prune_volumes(&f, true, false).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(pruned, ["renamed"]);
    let names: Vec<String> = s.volumes().unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["opt", "src"]);
    // Docker's option validation.
    assert!(
        s.create_volume(&VolumeSpec {
            name: Some("bad".into()),
            options: [("type".into(), "tmpfs".into())].into(),
            ..Default::default()
        })
        .is_err()
    );
    assert!(s.create_volume(&VolumeSpec { name: Some("a/b".into()), ..Default::default() }).is_err());
    // Same name, different options: an error (Docker silently ignores them).
    assert!(
        s.create_volume(&VolumeSpec {
            name: Some("src".into()),
            options: [("type".into(), "none".into()), ("device".into(), "/x".into())].into(),
            ..Default::default()
        })
        .is_err()
    );
}
