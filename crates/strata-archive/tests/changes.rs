//! overlay_changes / tree_changes against Docker's `docker diff` output
//! (docker-behaviour.md §2.5), plus multi-layer overlay lookups.

mod common;

use std::path::Path;

use common::{require_root, sh};
use strata_archive::changes::{overlay_changes, tree_changes};
use strata_archive::{Change, ChangeKind};

fn c(list: &[(&str, char)]) -> Vec<Change> {
    list.iter()
        .map(|(p, k)| Change {
            path: p.to_string(),
            kind: match k {
                'A' => ChangeKind::Added,
                'C' => ChangeKind::Modified,
                'D' => ChangeKind::Deleted,
                _ => unreachable!(),
            },
        })
        .collect()
}

fn show(list: &[Change]) -> String {
    list.iter().map(|c| format!("{} {}\n", c.kind.letter(), c.path)).collect()
}

fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    sh(&format!("chmod 755 '{}'", p.display()));
}

fn write(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

/// The image of §2.5, as one lower layer.
fn image(lower: &Path) {
    for d in ["data", "etc", "owned", "usr/bin"] {
        mkdir(&lower.join(d));
    }
    write(&lower.join("data/f.txt"), "f");
    write(&lower.join("etc/group"), "root:x:0:\n");
    write(&lower.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    write(&lower.join("owned/o.txt"), "o");
    write(&lower.join("usr/bin/tool"), "tool");
}

/// The upper dir overlayfs leaves after
/// `rm /data/f.txt; echo x>>/etc/group; mkdir /newdir; echo n>/newdir/n;
///  rm -rf /owned; mkdir /owned; echo fresh>/owned/fresh` and the /vol mount point.
fn upper_after_ops(upper: &Path, userxattr: bool) {
    for d in ["data", "etc", "newdir", "owned", "vol"] {
        mkdir(&upper.join(d));
    }
    strata_sys::fs::mknod_whiteout(&upper.join("data/f.txt")).unwrap();
    write(&upper.join("etc/group"), "root:x:0:\nx\n");
    write(&upper.join("newdir/n"), "n\n");
    write(&upper.join("owned/fresh"), "fresh\n");
    let name = if userxattr { "user.overlay.opaque" } else { "trusted.overlay.opaque" };
    strata_sys::fs::set_xattr(&upper.join("owned"), name, b"y").unwrap();
}

const DOCKER_2_5: &[(&str, char)] = &[
    ("/data", 'C'),
    ("/data/f.txt", 'D'),
    ("/etc", 'C'),
    ("/etc/group", 'C'),
    ("/newdir", 'A'),
    ("/newdir/n", 'A'),
    ("/owned", 'C'),
    ("/owned/fresh", 'A'),
    ("/owned/o.txt", 'D'),
    ("/vol", 'A'),
];

#[test]
fn overlay_changes_match_docker_diff_userxattr() {
    let t = tempfile::tempdir().unwrap();
    let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
    image(&lower);
    upper_after_ops(&upper, true);
    let got = overlay_changes(&upper, &[lower], true).unwrap();
    assert_eq!(show(&got), show(&c(DOCKER_2_5)));
}

#[test]
fn overlay_changes_match_docker_diff_trusted() {
    if !require_root("overlay_changes_match_docker_diff_trusted") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
    image(&lower);
    upper_after_ops(&upper, false);
    let got = overlay_changes(&upper, std::slice::from_ref(&lower), false).unwrap();
    assert_eq!(show(&got), show(&c(DOCKER_2_5)));
    // With the wrong xattr namespace the opaque dir is just a copied-up dir.
    let got = overlay_changes(&upper, &[lower], true).unwrap();
    assert!(!got.iter().any(|c| c.path == "/owned/o.txt"));
}

#[test]
fn overlay_changes_through_several_lowers() {
    let t = tempfile::tempdir().unwrap();
    let (l1, l2, upper) = (t.path().join("l1"), t.path().join("l2"), t.path().join("upper"));
    // l2 (bottom): a/{x,y} b/z c/old keep unchanged-dir/f
    for d in ["a", "b", "c", "unchanged-dir"] {
        mkdir(&l2.join(d));
    }
    for f in ["a/x", "a/y", "b/z", "c/old", "keep", "unchanged-dir/f"] {
        write(&l2.join(f), f);
    }
    // l1 (top): deletes a/x, makes b opaque (with b/w), deletes c.
    for d in ["a", "b"] {
        mkdir(&l1.join(d));
    }
    strata_sys::fs::mknod_whiteout(&l1.join("a/x")).unwrap();
    strata_sys::fs::set_xattr(&l1.join("b"), "user.overlay.opaque", b"y").unwrap();
    write(&l1.join("b/w"), "w");
    strata_sys::fs::mknod_whiteout(&l1.join("c")).unwrap();
    // upper: a opaque with a/new; b/z (new: l1 hid it); c/old (c is new); keep deleted;
    // unchanged-dir copied up without changes (only a temp file came and went).
    for d in ["a", "b", "c", "unchanged-dir"] {
        mkdir(&upper.join(d));
    }
    strata_sys::fs::set_xattr(&upper.join("a"), "user.overlay.opaque", b"y").unwrap();
    write(&upper.join("a/new"), "new");
    write(&upper.join("b/z"), "z2");
    write(&upper.join("c/old"), "old2");
    strata_sys::fs::mknod_whiteout(&upper.join("keep")).unwrap();
    strata_sys::fs::mknod_whiteout(&upper.join("never-existed")).unwrap();
    let got = overlay_changes(&upper, &[l1, l2], true).unwrap();
    let want = c(&[
        ("/a", 'C'),
        ("/a/new", 'A'),
        ("/a/y", 'D'),
        ("/b", 'C'),
        ("/b/z", 'A'),
        ("/c", 'A'),
        ("/c/old", 'A'),
        ("/keep", 'D'),
    ]);
    assert_eq!(show(&got), show(&want));
}

#[test]
fn overlay_changes_metadata_only_dir_and_type_change() {
    let t = tempfile::tempdir().unwrap();
    let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
    for d in ["chmodded", "was-dir/sub", "plain"] {
        mkdir(&lower.join(d));
    }
    write(&lower.join("was-file"), "f");
    write(&lower.join("was-dir/sub/x"), "x");
    mkdir(&upper.join("chmodded"));
    sh(&format!("chmod 700 '{}'", upper.join("chmodded").display()));
    write(&upper.join("was-dir"), "now a file");
    mkdir(&upper.join("was-file"));
    mkdir(&upper.join("plain"));
    let got = overlay_changes(&upper, &[lower], true).unwrap();
    assert_eq!(show(&got), show(&c(&[("/chmodded", 'C'), ("/was-dir", 'C'), ("/was-file", 'C')])));
}

#[test]
fn tree_changes_match_docker_diff() {
    let t = tempfile::tempdir().unwrap();
    let (parent, child) = (t.path().join("parent"), t.path().join("child"));
    image(&parent);
    sh(&format!("cp -a '{}' '{}'", parent.display(), child.display()));
    assert_eq!(tree_changes(Some(&parent), &child).unwrap(), vec![]);
    sh(&format!(
        "cd '{}' && rm data/f.txt && echo x >> etc/group && mkdir newdir && echo n > newdir/n \
         && rm -rf owned && mkdir owned && echo fresh > owned/fresh && mkdir vol",
        child.display()
    ));
    let got = tree_changes(Some(&parent), &child).unwrap();
    assert_eq!(show(&got), show(&c(DOCKER_2_5)));

    let all = tree_changes(None, &child).unwrap();
    assert!(all.iter().all(|c| c.kind == ChangeKind::Added));
    assert_eq!(all.len(), 12, "{}", show(&all));
}

#[test]
fn tree_changes_metadata() {
    let t = tempfile::tempdir().unwrap();
    let (parent, child) = (t.path().join("parent"), t.path().join("child"));
    mkdir(&parent.join("d"));
    write(&parent.join("d/mode"), "m");
    write(&parent.join("d/xattr"), "x");
    write(&parent.join("d/touched"), "t");
    std::os::unix::fs::symlink("aaaa", parent.join("link")).unwrap();
    sh(&format!("cp -a '{}' '{}'", parent.display(), child.display()));
    sh(&format!("chmod 600 '{}'", child.join("d/mode").display()));
    strata_sys::fs::set_xattr(&child.join("d/xattr"), "user.k", b"v").unwrap();
    sh(&format!("touch -d @1 '{}'", child.join("d/touched").display()));
    // Same length, same mtime: only the target differs.
    std::fs::remove_file(child.join("link")).unwrap();
    std::os::unix::fs::symlink("bbbb", child.join("link")).unwrap();
    sh(&format!("touch -h -r '{}' '{}'", parent.join("link").display(), child.join("link").display()));
    // A directory touched without any change inside is not a change (moby#9874).
    sh(&format!("mkdir '{0}/tmpdir' && rmdir '{0}/tmpdir'", child.join("d").display()));
    let got = tree_changes(Some(&parent), &child).unwrap();
    let want = c(&[("/d", 'C'), ("/d/mode", 'C'), ("/d/touched", 'C'), ("/d/xattr", 'C'), ("/link", 'C')]);
    assert_eq!(show(&got), show(&want));

    let t2 = tempfile::tempdir().unwrap();
    let (p2, c2) = (t2.path().join("p"), t2.path().join("c"));
    mkdir(&p2.join("d"));
    sh(&format!("cp -a '{}' '{}'", p2.display(), c2.display()));
    sh(&format!("mkdir '{0}/tmpdir' && rmdir '{0}/tmpdir'", c2.join("d").display()));
    assert_eq!(tree_changes(Some(&p2), &c2).unwrap(), vec![]);
}
