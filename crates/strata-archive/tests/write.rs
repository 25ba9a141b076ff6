//! write_upper_tar / write_changes_tar / write_dir_tar: entry lists, formats,
//! determinism, and round trips through apply_layer and GNU tar.

mod common;

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{apply, dump, is_root, require_root, sh};
use strata_archive::WhiteoutMode;
use strata_archive::changes::tree_changes;
use strata_archive::write::{WriteOptions, write_changes_tar, write_dir_tar, write_upper_tar};

/// (name, typeflag, mode, size, link, pax keys) of every entry.
fn entries(tar: &[u8]) -> Vec<(String, char, u32, u64, String, Vec<String>)> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut keys = Vec::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                keys.push(x.unwrap().key().unwrap().to_string());
            }
        }
        let h = e.header();
        let link = e.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
        out.push((
            String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            h.entry_type().as_byte() as char,
            h.mode().unwrap(),
            e.size(),
            link,
            keys,
        ));
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
    }
    out
}

fn names(tar: &[u8]) -> Vec<String> {
    entries(tar).into_iter().map(|e| e.0).collect()
}

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    sh(&format!("chmod 755 '{}'", p.display()));
}

fn upper_2_5(upper: &Path, opaque_xattr: &str) {
    for d in ["data", "etc", "newdir", "owned", "vol"] {
        mkdir(&upper.join(d));
    }
    strata_sys::fs::mknod_whiteout(&upper.join("data/f.txt")).unwrap();
    std::fs::write(upper.join("etc/group"), "root:x:0:\nx\n").unwrap();
    std::fs::write(upper.join("newdir/n"), "n\n").unwrap();
    std::fs::write(upper.join("owned/fresh"), "fresh\n").unwrap();
    strata_sys::fs::set_xattr(&upper.join("owned"), opaque_xattr, b"y").unwrap();
}

#[test]
fn upper_tar_matches_docker_commit() {
    for (userxattr, xattr) in [(true, "user.overlay.opaque"), (false, "trusted.overlay.opaque")] {
        if !userxattr && !require_root("upper_tar_matches_docker_commit(trusted)") {
            continue;
        }
        let t = tempfile::tempdir().unwrap();
        let upper = t.path().join("upper");
        upper_2_5(&upper, xattr);
        let mut tar = Vec::new();
        let n = write_upper_tar(&upper, userxattr, &mut tar).unwrap();
        assert_eq!(n, tar.len() as u64);
        let es = entries(&tar);
        let got: Vec<&str> = es.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            got,
            [
                "data/",
                "data/.wh.f.txt",
                "etc/",
                "etc/group",
                "newdir/",
                "newdir/n",
                "owned/",
                "owned/.wh..wh..opq",
                "owned/fresh",
                "vol/"
            ]
        );
        let wh = &es[1];
        assert_eq!((wh.1, wh.2, wh.3), ('0', 0, 0), "whiteout: empty regular file, mode 0");
        assert!(es.iter().all(|e| e.5.is_empty()), "no overlay xattrs in the tar: {es:?}");

        // Determinism.
        let mut again = Vec::new();
        write_upper_tar(&upper, userxattr, &mut again).unwrap();
        assert!(again == tar);

        // Applying it back in overlay mode rebuilds the same upper dir.
        let back = t.path().join("back");
        std::fs::create_dir(&back).unwrap();
        sh(&format!("chmod 755 '{}'", back.display()));
        apply(&tar, &back, WhiteoutMode::Overlay { userxattr }).unwrap();
        assert_eq!(dump(&back, true), dump(&upper, true));
    }
}

#[test]
fn refuses_redirect_and_metacopy() {
    let t = tempfile::tempdir().unwrap();
    mkdir(&t.path().join("moved"));
    strata_sys::fs::set_xattr(&t.path().join("moved"), "user.overlay.redirect", b"/old").unwrap();
    let err = write_upper_tar(t.path(), true, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, strata_archive::ArchiveError::Unsupported { .. }), "{err}");
}

#[test]
fn changes_tar_over_full_trees() {
    let t = tempfile::tempdir().unwrap();
    let (parent, child) = (t.path().join("parent"), t.path().join("child"));
    for d in ["data", "etc", "owned"] {
        mkdir(&parent.join(d));
    }
    for f in ["data/f.txt", "etc/group", "etc/passwd", "owned/o.txt"] {
        std::fs::write(parent.join(f), f).unwrap();
    }
    sh(&format!("cp -a '{}' '{}'", parent.display(), child.display()));
    sh(&format!(
        "cd '{}' && rm data/f.txt && echo x >> etc/group && mkdir newdir && echo n > newdir/n \
         && rm -rf owned && mkdir owned && echo fresh > owned/fresh && mkdir vol && ln etc/passwd pw-link",
        child.display()
    ));
    let changes = tree_changes(Some(&parent), &child).unwrap();
    let mut tar = Vec::new();
    write_changes_tar(&child, &changes, &mut tar).unwrap();
    let es = entries(&tar);
    let got: Vec<(&str, char)> = es.iter().map(|e| (e.0.as_str(), e.1)).collect();
    assert_eq!(
        got,
        [
            ("data/", '5'),
            ("data/.wh.f.txt", '0'),
            ("etc/", '5'),
            ("etc/group", '0'),
            ("newdir/", '5'),
            ("newdir/n", '0'),
            ("owned/", '5'),
            ("owned/fresh", '0'),
            ("owned/.wh.o.txt", '0'),
            ("pw-link", '0'),
            ("vol/", '5'),
        ]
    );
    // The layer applied on a copy of the parent gives the child.
    let rebuilt = t.path().join("rebuilt");
    sh(&format!("cp -a '{}' '{}'", parent.display(), rebuilt.display()));
    apply(&tar, &rebuilt, WhiteoutMode::Remove).unwrap();
    let strip_dirs = |s: String| s.lines().filter(|l| !l.contains(" dir ")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip_dirs(dump(&rebuilt, true)), strip_dirs(dump(&child, true)));

    // Parents absent from the list are still written first.
    let only = vec![strata_archive::Change { path: "/newdir/n".into(), kind: strata_archive::ChangeKind::Added }];
    let mut tar = Vec::new();
    write_changes_tar(&child, &only, &mut tar).unwrap();
    assert_eq!(names(&tar), ["newdir/", "newdir/n"]);
}

fn tree(src: &Path) {
    mkdir(&src.join("a/b"));
    std::fs::write(src.join("a/b/file"), vec![b'z'; 100_000]).unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    std::fs::hard_link(src.join("a/b/file"), src.join("hard")).unwrap();
    std::os::unix::fs::symlink("a/b/file", src.join("sym")).unwrap();
    std::os::unix::fs::symlink("t".repeat(200), src.join("longsym")).unwrap();
    let long_dir = src.join("d".repeat(120));
    mkdir(&long_dir);
    std::fs::write(long_dir.join("f".repeat(120)), b"unsplittable").unwrap();
    std::fs::write(src.join("ünïcödé"), b"utf8").unwrap();
    strata_sys::fs::set_xattr(&src.join("a/b/file"), "user.k", b"v").unwrap();
    sh(&format!("mkfifo '{}' && chmod 4755 '{}'", src.join("fifo").display(), src.join("empty").display()));
    mkdir(&src.join("volume/inside"));
    std::fs::write(src.join("volume/inside/data"), b"volume data").unwrap();
    sh(&format!("touch -h -d @1000000000 '{}'/* '{}'/a/b/*", src.display(), src.display()));
}

#[test]
fn dir_tar_roundtrips_through_apply_and_gnu_tar() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    tree(&src);
    if is_root() {
        // Beyond the 7 octal digits of a USTAR uid field: needs a PAX record.
        sh(&format!("chown -h 3000000:3000001 '{}'", src.join("sym").display()));
    }
    let opts = WriteOptions { skip: vec!["/volume".into()] };
    let mut tar = Vec::new();
    write_dir_tar(&src, &mut tar, &opts).unwrap();
    let mut again = Vec::new();
    write_dir_tar(&src, &mut again, &opts).unwrap();
    assert!(again == tar, "deterministic");

    let es = entries(&tar);
    let hard = es.iter().find(|e| e.0 == "hard").unwrap();
    assert_eq!((hard.1, hard.4.as_str()), ('1', "a/b/file"), "second name of an inode is a link entry");
    assert!(es.iter().any(|e| e.0 == "volume/"));
    assert!(!es.iter().any(|e| e.0.starts_with("volume/inside")));
    let file = es.iter().find(|e| e.0 == "a/b/file").unwrap();
    assert_eq!(file.5, ["SCHILY.xattr.user.k"]);
    assert!(es.iter().find(|e| e.0 == "ünïcödé").unwrap().5.contains(&"path".to_string()));

    // Ours.
    let ours = t.path().join("ours");
    std::fs::create_dir(&ours).unwrap();
    apply(&tar, &ours, WhiteoutMode::Remove).unwrap();
    // GNU tar's.
    let gnu = t.path().join("gnu");
    std::fs::create_dir(&gnu).unwrap();
    std::fs::write(t.path().join("out.tar"), &tar).unwrap();
    sh(&format!("cd '{}' && tar --xattrs --xattrs-include='*' -xpf ../out.tar", gnu.display()));
    sh(&format!("rm -rf '{}'/volume/inside", src.display()));
    let expect = dump(&src, false);
    assert_eq!(dump(&ours, false), expect);
    assert_eq!(dump(&gnu, false), expect);
    let mtime = |p: &Path| std::fs::symlink_metadata(p).unwrap().mtime();
    assert_eq!(mtime(&ours.join("sym")), 1_000_000_000);
    assert_eq!(mtime(&gnu.join("a/b/file")), 1_000_000_000);
}
