//! apply_layer: entry kinds, metadata, replacements, whiteouts, sparse files,
//! rejected formats, DiffID.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use common::{E, RawTar, apply, dump, is_root, require_root, sh};
use strata_archive::apply::{ApplyOptions, apply_layer};
use strata_archive::digest::sha256_hex;
use strata_archive::{ArchiveError, WhiteoutMode};

const REMOVE: WhiteoutMode = WhiteoutMode::Remove;

#[test]
fn kinds_metadata_and_diff_id() {
    let t = tempfile::tempdir().unwrap();
    let mut tar = RawTar::new();
    let mut d = E::new("d/", b'5');
    d.mode = 0o555;
    d.mtime = 1_000_000_000;
    tar.raw(&d);
    tar.pax(&[("mtime", b"1234567890.25"), ("atime", b"1234567000.5"), ("SCHILY.xattr.user.note", b"hello")]);
    let mut f = E::new("d/suid", b'0');
    f.mode = 0o4755;
    f.uid = 1000;
    f.gid = 1001;
    f.data = b"#!/bin/sh\n";
    tar.raw(&f);
    tar.hardlink("d/hard", "d/suid");
    tar.pax(&[("SCHILY.xattr.user.skipped", b"x")]);
    tar.symlink("d/sym", "../nowhere");
    let mut fifo = E::new("d/fifo", b'6');
    fifo.mode = 0o640;
    tar.raw(&fifo);
    tar.file("d/empty", b"");
    let mut sticky = E::new("tmp/", b'5');
    sticky.mode = 0o1777;
    tar.raw(&sticky);
    let mut bytes = tar.finish();
    // GNU tar pads to 10 KiB records; the DiffID covers those bytes too.
    bytes.resize(10240, 0);

    let stats = apply(&bytes, t.path(), REMOVE).unwrap();
    assert_eq!(stats.diff_id_hex, sha256_hex(&bytes));
    assert_eq!(stats.tar_size, 10240);
    assert_eq!(stats.entries, 7);

    let p = t.path();
    let md = std::fs::symlink_metadata(p.join("d/suid")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o4755, "setuid survives chown");
    assert_eq!((md.mtime(), md.mtime_nsec()), (1234567890, 250_000_000));
    assert_eq!((md.atime(), md.atime_nsec()), (1234567000, 500_000_000));
    if is_root() {
        assert_eq!((md.uid(), md.gid()), (1000, 1001));
    }
    assert_eq!(strata_sys::fs::get_xattr(&p.join("d/suid"), "user.note").unwrap().as_deref(), Some(&b"hello"[..]));
    assert_eq!(std::fs::read(p.join("d/suid")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(std::fs::symlink_metadata(p.join("d/hard")).unwrap().ino(), md.ino());
    assert_eq!(std::fs::read_link(p.join("d/sym")).unwrap(), Path::new("../nowhere"));
    let fifo = std::fs::symlink_metadata(p.join("d/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o640);
    let dmd = std::fs::metadata(p.join("d")).unwrap();
    assert_eq!(dmd.mode() & 0o7777, 0o555);
    assert_eq!(dmd.mtime(), 1_000_000_000, "dir mtime set after its contents");
    assert_eq!(std::fs::metadata(p.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
}

#[test]
fn devices_and_capabilities_as_root() {
    if !require_root("devices_and_capabilities_as_root") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // security.capability v2 for cap_net_bind_service (bit 10), permitted+effective.
    let mut cap = vec![0u8; 20];
    cap[..4].copy_from_slice(&0x0200_0001u32.to_le_bytes());
    cap[4..8].copy_from_slice(&(1u32 << 10).to_le_bytes());
    let mut tar = RawTar::new();
    let mut null = E::new("dev/null", b'3');
    null.mode = 0o666;
    null.dev = (1, 3);
    tar.raw(&null);
    let mut loop0 = E::new("dev/loop9", b'4');
    loop0.mode = 0o660;
    loop0.gid = 6;
    loop0.dev = (7, 9);
    tar.raw(&loop0);
    tar.pax(&[("SCHILY.xattr.security.capability", &cap)]);
    let mut ping = E::new("bin/ping", b'0');
    ping.mode = 0o755;
    ping.data = b"ELF";
    tar.raw(&ping);
    let bytes = tar.finish();
    apply(&bytes, t.path(), REMOVE).unwrap();
    let null = std::fs::symlink_metadata(t.path().join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(strata_sys::fs::dev_major_minor(null.rdev()), (1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let lp = std::fs::symlink_metadata(t.path().join("dev/loop9")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert_eq!((strata_sys::fs::dev_major_minor(lp.rdev()), lp.gid()), ((7, 9), 6));
    let got = strata_sys::fs::get_xattr(&t.path().join("bin/ping"), "security.capability").unwrap();
    assert_eq!(got.as_deref(), Some(&cap[..]), "capability set after chown and data");
}

#[test]
fn existing_entries_are_replaced_and_dirs_kept() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    std::fs::create_dir_all(p.join("keep")).unwrap();
    std::fs::write(p.join("keep/old"), "old").unwrap();
    std::fs::create_dir_all(p.join("was_dir/sub")).unwrap();
    std::fs::write(p.join("was_dir/sub/x"), "x").unwrap();
    std::fs::write(p.join("was_file"), "f").unwrap();
    std::os::unix::fs::symlink("keep", p.join("was_link")).unwrap();
    std::fs::write(p.join("replace_me"), "old contents").unwrap();

    let mut tar = RawTar::new();
    tar.dir("keep/", 0o700)
        .file("was_dir", b"now a file")
        .dir("was_file/", 0o755)
        .file("was_link", b"not a link")
        .file("replace_me", b"new")
        .symlink("keep/old", "elsewhere");
    let bytes = tar.finish();
    apply(&bytes, p, REMOVE).unwrap();
    let expected = "\
keep dir 700 U
keep/old link 777 U -> elsewhere
replace_me file 644 U size=3
was_dir file 644 U size=10
was_file dir 755 U
was_link file 644 U size=10
";
    let uid = if is_root() { "0:0".to_string() } else { format!("{}:{}", me().0, me().1) };
    let got: String = dump(p, false)
        .lines()
        .map(|l| {
            let l = l.replace(&uid, "U");
            let l = match l.find(" sha=") {
                Some(i) => l[..i].to_string(),
                None => l,
            };
            l + "\n"
        })
        .collect();
    assert_eq!(got, expected);
    assert!(std::fs::symlink_metadata(p.join("keep")).unwrap().is_dir(), "existing dir kept, not a symlink");
}

fn me() -> (u32, u32) {
    let md = std::fs::metadata("/proc/self").unwrap();
    (md.uid(), md.gid())
}

#[test]
fn whiteouts_remove_mode() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    for d in ["b", "c/sub"] {
        std::fs::create_dir_all(p.join(d)).unwrap();
    }
    for f in ["a", "b/x", "b/y", "c/keep", "c/old", "c/sub/z"] {
        std::fs::write(p.join(f), f).unwrap();
    }
    let mut tar = RawTar::new();
    tar.file(".wh.a", b"")
        .file("b/.wh.x", b"")
        .file(".wh.never-existed", b"")
        .dir("c/", 0o755)
        .file("c/new", b"n")
        .dir("c/newdir/", 0o755)
        .file("c/newdir/f", b"f")
        .file("c/.wh..wh..opq", b"");
    let bytes = tar.finish();
    apply(&bytes, p, REMOVE).unwrap();
    let names: Vec<String> = walkdir::WalkDir::new(p)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().path().strip_prefix(p).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["b", "b/y", "c", "c/new", "c/newdir", "c/newdir/f"]);
}

#[test]
fn whiteouts_overlay_userxattr() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    std::fs::create_dir(p.join("gone")).unwrap();
    std::fs::write(p.join("gone/inner"), "x").unwrap();
    let mut tar = RawTar::new();
    tar.file(".wh.gone", b"")
        .file("deep/er/.wh.file", b"")
        .dir("opq/", 0o750)
        .file("opq/.wh..wh..opq", b"")
        .file("opq/child", b"c")
        .file("implicit/.wh..wh..opq", b"");
    let bytes = tar.finish();
    apply(&bytes, p, WhiteoutMode::Overlay { userxattr: true }).unwrap();
    for w in ["gone", "deep/er/file"] {
        let md = std::fs::symlink_metadata(p.join(w)).unwrap();
        assert!(strata_sys::fs::is_whiteout(&md), "{w} is a 0/0 char device");
    }
    for d in ["opq", "implicit"] {
        assert_eq!(
            strata_sys::fs::get_xattr(&p.join(d), "user.overlay.opaque").unwrap().as_deref(),
            Some(&b"y"[..]),
            "{d}"
        );
    }
    assert_eq!(std::fs::read(p.join("opq/child")).unwrap(), b"c");
    assert!(!p.join(".wh.gone").exists());
}

#[test]
fn whiteouts_overlay_trusted() {
    if !require_root("whiteouts_overlay_trusted") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mut tar = RawTar::new();
    let mut wh = E::new("dir/.wh.f", b'0');
    wh.uid = 33;
    wh.gid = 33;
    tar.raw(&wh);
    tar.file("dir/.wh..wh..opq", b"");
    // A layer must not be able to plant overlay metadata through PAX xattrs.
    tar.pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc"), ("SCHILY.xattr.trusted.other", b"ok")]);
    tar.dir("sneaky/", 0o755);
    let bytes = tar.finish();
    apply(&bytes, t.path(), WhiteoutMode::Overlay { userxattr: false }).unwrap();
    let md = std::fs::symlink_metadata(t.path().join("dir/f")).unwrap();
    assert!(strata_sys::fs::is_whiteout(&md));
    assert_eq!((md.uid(), md.gid()), (33, 33));
    let get = |p: &str, n: &str| strata_sys::fs::get_xattr(&t.path().join(p), n).unwrap();
    assert_eq!(get("dir", "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(get("sneaky", "trusted.overlay.redirect"), None);
    assert_eq!(get("sneaky", "trusted.other").as_deref(), Some(&b"ok"[..]));
}

fn have_tar() -> bool {
    std::process::Command::new("tar").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn gnu_sparse_is_extracted_sparse() {
    if !have_tar() {
        eprintln!("no tar binary");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    sh(&format!(
        "cd {0} && truncate -s 64M sparse.img && printf middle | dd of=sparse.img bs=1 seek=33554432 conv=notrunc status=none \
         && printf end | dd of=sparse.img bs=1 seek=67108861 conv=notrunc status=none \
         && tar --sparse --format=gnu -cf ../sparse.tar sparse.img",
        src.display()
    ));
    let bytes = std::fs::read(t.path().join("sparse.tar")).unwrap();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let stats = apply(&bytes, &dest, REMOVE).unwrap();
    let md = std::fs::metadata(dest.join("sparse.img")).unwrap();
    assert_eq!(md.len(), 64 << 20);
    assert!(md.blocks() * 512 < 1 << 20, "holes kept: {} blocks", md.blocks());
    assert_eq!(std::fs::read(dest.join("sparse.img")).unwrap(), std::fs::read(src.join("sparse.img")).unwrap());
    // The tar-split keeps the sparse data inline and rebuilds the same bytes.
    let mut out = Vec::new();
    strata_archive::tarsplit::reassemble(stats.tar_split.as_deref().unwrap(), &dest, &mut out).unwrap();
    assert!(out == bytes, "sparse tar reassembled byte-identical");
}

#[test]
fn pax_sparse_and_unknown_types_are_rejected() {
    let t = tempfile::tempdir().unwrap();
    let mut tar = RawTar::new();
    tar.pax(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0"), ("GNU.sparse.name", b"big")]);
    tar.file("GNUSparseFile.123/big", b"0\n");
    let err = apply(&tar.finish(), t.path(), REMOVE).unwrap_err();
    assert!(matches!(err, ArchiveError::Unsupported { .. }), "{err}");

    let mut tar = RawTar::new();
    tar.file("GNUSparseFile.77/x", b"");
    assert!(matches!(apply(&tar.finish(), t.path(), REMOVE), Err(ArchiveError::Unsupported { .. })));

    let mut tar = RawTar::new();
    tar.raw(&E::new("label", b'V'));
    assert!(matches!(apply(&tar.finish(), t.path(), REMOVE), Err(ArchiveError::Unsupported { .. })));

    // Global PAX headers are ignored.
    let mut tar = RawTar::new();
    let data = b"21 comment=whatever\n";
    let mut g = E::new("pax_global_header", b'g');
    g.data = data;
    tar.raw(&g).file("ok", b"fine");
    apply(&tar.finish(), t.path(), REMOVE).unwrap();
    assert_eq!(std::fs::read(t.path().join("ok")).unwrap(), b"fine");
}

#[test]
fn bad_streams_are_invalid() {
    let t = tempfile::tempdir().unwrap();
    let mut bytes = RawTar::new().file("f", &[7u8; 2000]).finish();
    bytes[148] ^= 1; // checksum
    let err = apply(&bytes, t.path(), REMOVE).unwrap_err();
    assert_eq!(err.kind(), strata_archive::ArchiveErrorKind::Invalid, "{err}");
    let bytes = RawTar::new().file("f", &[7u8; 2000]).finish();
    let err = apply(&bytes[..1024], t.path(), REMOVE).unwrap_err();
    assert_eq!(err.kind(), strata_archive::ArchiveErrorKind::Invalid, "{err}");
}

#[test]
fn empty_stream_and_without_tar_split() {
    let t = tempfile::tempdir().unwrap();
    let opts = ApplyOptions { whiteouts: REMOVE, same_owner: false, tar_split: false };
    let stats = apply_layer(&b""[..], t.path(), &opts).unwrap();
    assert_eq!((stats.entries, stats.tar_size, stats.tar_split), (0, 0, None));
    assert_eq!(stats.diff_id_hex, sha256_hex(b""));
}

#[test]
fn root_entry_updates_dest_metadata() {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    let mut tar = RawTar::new();
    let mut r = E::new("./", b'5');
    r.mode = 0o711;
    r.mtime = 42;
    tar.raw(&r).file("./x", b"x");
    apply(&tar.finish(), &dest, REMOVE).unwrap();
    let md = std::fs::metadata(&dest).unwrap();
    assert_eq!((md.mode() & 0o7777, md.mtime()), (0o711, 42));
}
