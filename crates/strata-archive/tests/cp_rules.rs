//! `docker cp` path rules, every row of docker-behaviour.md §2.6, against a
//! Root on a tempdir: exact resulting trees and Docker's error texts; then
//! what a copy preserves (ownership with and without `-a`, modes, mtimes,
//! xattrs, hard links, devices, symlinks with and without `-L`).

mod cp_common;

use std::os::unix::fs::MetadataExt;

use cp_common::*;
use strata_archive::cp::{
    CpError, CpOpts, copy_host_to_root, copy_root_to_host, copy_root_to_root, tar_from_root, tar_into_root,
};

fn opts() -> CpOpts {
    CpOpts::default()
}

/// A host tree: f.txt, dir/{a.txt, sub/b.txt}.
fn host_tree(e: &Env) {
    write(&e.host.join("f.txt"), "file");
    write(&e.host.join("dir/a.txt"), "a");
    write(&e.host.join("dir/sub/b.txt"), "b");
}

/// A container tree: data/f.txt, existing/ (dir), plain.txt.
fn ctr_tree(e: &Env) {
    write(&e.c("data/f.txt"), "image-data");
    std::fs::create_dir_all(e.c("existing")).unwrap();
    write(&e.c("plain.txt"), "plain");
}

#[test]
fn file_to_missing_name_with_existing_parent_creates_it() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    copy_host_to_root(&e.h("f.txt"), &e.root(), "/data/new.txt", &opts()).unwrap();
    assert_eq!(read(&e.c("data/new.txt")), "file");
    assert_eq!(dump(&e.c("data")).lines().count(), 2);
}

#[test]
fn file_to_missing_dir_with_trailing_slash_is_no_such_directory() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    let before = dump(&e.ctr);
    for dst in ["/nodir/", "/nodir/.", "/data/nodir/"] {
        let err = copy_host_to_root(&e.h("f.txt"), &e.root(), dst, &opts()).unwrap_err();
        assert!(matches!(err, CpError::NoSuchDirectory { .. }), "{dst}: {err:?}");
        assert_eq!(err.to_string(), "no such directory");
    }
    // ctr file → missing host `out4/`
    let err = copy_root_to_host(&e.root(), "/plain.txt", &e.h("out4/"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "no such directory");
    assert!(!e.host.join("out4").exists());
    assert_eq!(dump(&e.ctr), before);
}

#[test]
fn file_to_missing_parent_could_not_find_the_file() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    let err = copy_host_to_root(&e.h("f.txt"), &e.root(), "/nope/deeper/f", &opts()).unwrap_err();
    assert_eq!(err.to_string(), "Could not find the file /nope/deeper in container");
    assert!(matches!(err, CpError::NotFound { ref path, dest: true } if path == "/nope/deeper"));
    assert!(!e.c("nope").exists());
    // Missing host parent: Go's stat error.
    let err = copy_root_to_host(&e.root(), "/plain.txt", &e.h("nope/deeper/f"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), format!("stat {}: no such file or directory", e.h("nope/deeper")));
}

#[test]
fn file_to_existing_dir_goes_inside_with_its_basename() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    for dst in ["/existing", "/existing/", "/existing/."] {
        copy_host_to_root(&e.h("f.txt"), &e.root(), dst, &opts()).unwrap();
        assert_eq!(read(&e.c("existing/f.txt")), "file", "{dst}");
        std::fs::remove_file(e.c("existing/f.txt")).unwrap();
    }
}

#[test]
fn file_with_trailing_slash_as_source_is_not_a_directory() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    let err = copy_host_to_root(&e.h("f.txt/"), &e.root(), "/existing", &opts()).unwrap_err();
    assert_eq!(err.to_string(), "not a directory");
    let err = copy_root_to_host(&e.root(), "/plain.txt/", &e.h("out"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "not a directory");
    assert!(!e.host.join("out").exists());
}

#[test]
fn missing_sources() {
    let e = Env::new();
    ctr_tree(&e);
    let err = copy_root_to_host(&e.root(), "/nope", &e.h("x"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "Could not find the file /nope in container");
    let err = copy_root_to_host(&e.root(), "/plain.txt/x", &e.h("x"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "Could not find the file /plain.txt/x in container");
    let err = copy_host_to_root(&e.h("nope"), &e.root(), "/", &opts()).unwrap_err();
    assert_eq!(err.to_string(), format!("lstat {}: no such file or directory", e.h("nope")));
}

#[test]
fn dir_to_missing_is_created_with_its_contents() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    for (src, dst) in [("dir", "/newdir"), ("dir/", "/newdir2"), ("dir/.", "/newdir3"), ("dir", "/newdir4/")] {
        copy_host_to_root(&e.h(src), &e.root(), dst, &opts()).unwrap();
        let d = dst.trim_end_matches('/');
        assert_eq!(dump(&e.c(d)), dump(&e.host.join("dir")), "{src} -> {dst}");
    }
    // ctr `dir/.` → missing host dir: created with contents.
    copy_root_to_host(&e.root(), "/data/.", &e.h("out"), &opts()).unwrap();
    assert_eq!(dump(&e.host.join("out")), dump(&e.c("data")));
}

#[test]
fn dir_to_existing_dir_nests_it_even_with_trailing_slash() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    copy_host_to_root(&e.h("dir"), &e.root(), "/existing", &opts()).unwrap();
    assert_eq!(dump(&e.c("existing/dir")), dump(&e.host.join("dir")));
    std::fs::remove_dir_all(e.c("existing/dir")).unwrap();
    copy_host_to_root(&e.h("dir/"), &e.root(), "/existing/", &opts()).unwrap();
    assert_eq!(dump(&e.c("existing/dir")), dump(&e.host.join("dir")));
    let names: Vec<_> = std::fs::read_dir(e.c("existing")).unwrap().map(|d| d.unwrap().file_name()).collect();
    assert_eq!(names, ["dir"]);
    // The other direction too.
    std::fs::create_dir(e.host.join("outdir")).unwrap();
    copy_root_to_host(&e.root(), "/data", &e.h("outdir"), &opts()).unwrap();
    assert_eq!(dump(&e.host.join("outdir/data")), dump(&e.c("data")));
}

#[test]
fn dir_dot_merges_into_existing_dir_keeping_its_metadata() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    mkdir(&e.c("existing"), 0o700);
    write(&e.c("existing/keep.txt"), "keep");
    write(&e.c("existing/a.txt"), "old");
    set_mtime(&e.c("existing"), 1_000_000, 0);
    mkdir(&e.host.join("dir"), 0o755);
    if is_root() {
        chown(&e.c("existing"), 1000, 1000);
        chown(&e.host.join("dir"), 1234, 4321);
    }
    let before = std::fs::metadata(e.c("existing")).unwrap();
    copy_host_to_root(&e.h("dir/."), &e.root(), "/existing", &opts()).unwrap();
    let after = std::fs::metadata(e.c("existing")).unwrap();
    assert_eq!((after.mode(), after.uid(), after.gid()), (before.mode(), before.uid(), before.gid()));
    assert_eq!(read(&e.c("existing/keep.txt")), "keep");
    assert_eq!(read(&e.c("existing/a.txt")), "a");
    assert_eq!(read(&e.c("existing/sub/b.txt")), "b");
}

#[test]
fn dir_to_existing_file_cannot_copy_directory() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    for src in ["dir", "dir/", "dir/."] {
        let err = copy_host_to_root(&e.h(src), &e.root(), "/plain.txt", &opts()).unwrap_err();
        assert_eq!(err.to_string(), "cannot copy directory", "{src}");
    }
    let err = copy_root_to_host(&e.root(), "/data", &e.h("f.txt"), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "cannot copy directory");
    assert_eq!(read(&e.c("plain.txt")), "plain");
}

#[test]
fn file_onto_existing_file_replaces_it() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    write_mode(&e.host.join("f.txt"), "new", 0o600);
    std::fs::hard_link(e.c("plain.txt"), e.c("other-name")).unwrap();
    copy_host_to_root(&e.h("f.txt"), &e.root(), "/plain.txt", &opts()).unwrap();
    assert_eq!(read(&e.c("plain.txt")), "new");
    assert_eq!(std::fs::metadata(e.c("plain.txt")).unwrap().mode() & 0o7777, 0o600);
    // A new inode, as Docker's untar (remove, then create): other links keep the old data.
    assert_eq!(read(&e.c("other-name")), "plain");
}

#[test]
fn overwrite_dir_with_non_dir_and_back_are_refused() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    // A file over an existing dir of the same name.
    std::fs::create_dir_all(e.c("data/x")).unwrap();
    write(&e.host.join("x"), "file x");
    let err = copy_host_to_root(&e.h("x"), &e.root(), "/data", &opts()).unwrap_err();
    assert_eq!(err.to_string(), r#"cannot overwrite directory "/data/x" with non-directory "/data""#);
    assert!(e.c("data/x").is_dir());
    // A dir over an existing file of the same name.
    write(&e.c("data/dir"), "file dir");
    let err = copy_host_to_root(&e.h("dir"), &e.root(), "/data", &opts()).unwrap_err();
    assert_eq!(err.to_string(), r#"cannot overwrite non-directory "/data/dir" with directory "/data""#);
    assert_eq!(read(&e.c("data/dir")), "file dir");
    // ...deeper in a merged tree, and a symlink counts as a non-directory.
    std::fs::create_dir_all(e.c("existing/dir")).unwrap();
    symlink("/data", &e.c("existing/dir/sub"));
    let err = copy_host_to_root(&e.h("dir"), &e.root(), "/existing", &opts()).unwrap_err();
    assert_eq!(err.to_string(), r#"cannot overwrite non-directory "/existing/dir/sub" with directory "/existing""#);
    assert!(!e.c("data/b.txt").exists());
    // Host side names host paths.
    std::fs::create_dir_all(e.host.join("plain.txt")).unwrap();
    let err = copy_root_to_host(&e.root(), "/plain.txt", &e.h(""), &opts()).unwrap_err();
    assert!(matches!(err, CpError::OverwriteDirWithNonDir { .. }), "{err}");
}

#[test]
fn tar_stream_into_existing_dir_only() {
    let e = Env::new();
    ctr_tree(&e);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o640);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h.clone(), "in/x.txt", &b"xx"[..]).unwrap();
    b.append_data(&mut h, ".wh.y", &b"yy"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let st = tar_into_root(&data[..], &e.root(), "/data", &opts()).unwrap();
    assert_eq!(st.files, 2);
    assert_eq!(read(&e.c("data/in/x.txt")), "xx");
    // No whiteout conversion in docker cp.
    assert_eq!(read(&e.c("data/.wh.y")), "yy");
    assert_eq!(std::fs::metadata(e.c("data/in/x.txt")).unwrap().mode() & 0o7777, 0o640);
    for dst in ["/data/x", "/plain.txt"] {
        let err = tar_into_root(&data[..], &e.root(), dst, &opts()).unwrap_err();
        assert_eq!(err.to_string(), format!("destination \"{dst}\" must be a directory"));
    }
    // Through a symlink to a directory.
    symlink("data", &e.c("dlink"));
    tar_into_root(&data[..], &e.root(), "/dlink", &opts()).unwrap();
}

#[test]
fn tar_stream_out_names_entries_like_docker() {
    let e = Env::new();
    ctr_tree(&e);
    write(&e.c("owned/o.txt"), "o");
    write(&e.c("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    write(&e.c("etc/group"), "root:x:0:\napp:x:1000:\n");
    chmod(&e.c("owned"), 0o750);
    chmod(&e.c("owned/o.txt"), 0o644);
    if is_root() {
        chown(&e.c("owned"), 1000, 1000);
        chown(&e.c("owned/o.txt"), 1000, 1000);
    }
    let mut out = Vec::new();
    tar_from_root(&e.root(), "/owned", &mut out, &opts()).unwrap();
    let l = tar_listing(&out);
    if is_root() {
        assert_eq!(l, ["owned/ dir 750 1000:1000 app/app", "owned/o.txt file 644 1000:1000 app/app size=1"]);
    } else {
        assert_eq!(l.len(), 2);
        assert!(l[0].starts_with("owned/ dir 750"), "{l:?}");
    }
    let mut out = Vec::new();
    tar_from_root(&e.root(), "/owned/.", &mut out, &opts()).unwrap();
    let names: Vec<String> = tar_listing(&out).iter().map(|l| l.split(' ').next().unwrap().to_string()).collect();
    assert_eq!(names, ["./", "./o.txt"]);
    let mut out = Vec::new();
    tar_from_root(&e.root(), "/data/f.txt", &mut out, &opts()).unwrap();
    assert_eq!(tar_listing(&out)[0].split(' ').next().unwrap(), "f.txt");
    let err = tar_from_root(&e.root(), "/nope", &mut Vec::new(), &opts()).unwrap_err();
    assert_eq!(err.to_string(), "Could not find the file /nope in container");
    // The tar round-trips through `tar_into_root`.
    let mut out = Vec::new();
    tar_from_root(&e.root(), "/owned", &mut out, &opts()).unwrap();
    std::fs::create_dir(e.c("again")).unwrap();
    tar_into_root(&out[..], &e.root(), "/again", &opts()).unwrap();
    assert_eq!(dump(&e.c("again/owned")), dump(&e.c("owned")));
}

#[test]
fn symlink_source_is_copied_as_link_unless_follow() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    symlink("f.txt", &e.host.join("lnk"));
    symlink("dir", &e.host.join("dlnk"));
    copy_host_to_root(&e.h("lnk"), &e.root(), "/existing", &opts()).unwrap();
    assert_eq!(std::fs::read_link(e.c("existing/lnk")).unwrap().to_str(), Some("f.txt"));
    let follow = CpOpts { follow_link: true, ..opts() };
    copy_host_to_root(&e.h("lnk"), &e.root(), "/data", &follow).unwrap();
    // -L copies the target's content under the link's name.
    assert!(std::fs::symlink_metadata(e.c("data/lnk")).unwrap().is_file());
    assert_eq!(read(&e.c("data/lnk")), "file");
    // A link to a directory: as a link; with -L (or `dlnk/`) as the directory named after the link.
    copy_host_to_root(&e.h("dlnk"), &e.root(), "/existing", &opts()).unwrap();
    assert!(std::fs::symlink_metadata(e.c("existing/dlnk")).unwrap().is_symlink());
    copy_host_to_root(&e.h("dlnk"), &e.root(), "/data", &follow).unwrap();
    assert_eq!(dump(&e.c("data/dlnk")), dump(&e.host.join("dir")));
    copy_host_to_root(&e.h("dlnk/"), &e.root(), "/plainish", &opts()).unwrap();
    assert_eq!(dump(&e.c("plainish")), dump(&e.host.join("dir")));
    // Container side: `-L` resolves inside the container.
    symlink("/data/f.txt", &e.c("clink"));
    copy_root_to_host(&e.root(), "/clink", &e.h("got"), &opts()).unwrap();
    assert_eq!(std::fs::read_link(e.host.join("got")).unwrap().to_str(), Some("/data/f.txt"));
    copy_root_to_host(&e.root(), "/clink", &e.h("got2"), &follow).unwrap();
    assert_eq!(read(&e.host.join("got2")), "image-data");
    std::fs::create_dir(e.host.join("gotdir")).unwrap();
    copy_root_to_host(&e.root(), "/clink", &e.h("gotdir"), &follow).unwrap();
    assert_eq!(read(&e.host.join("gotdir/clink")), "image-data");
}

#[test]
fn symlinks_inside_trees_are_copied_never_followed() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    symlink("/etc/passwd", &e.host.join("dir/abs"));
    symlink("../../../../etc", &e.host.join("dir/up"));
    symlink("sub", &e.host.join("dir/rel"));
    symlink("missing", &e.host.join("dir/dangling"));
    copy_host_to_root(&e.h("dir"), &e.root(), "/copy", &opts()).unwrap();
    assert_eq!(dump(&e.c("copy")), dump(&e.host.join("dir")));
    assert_eq!(std::fs::read_link(e.c("copy/abs")).unwrap().to_str(), Some("/etc/passwd"));
}

#[test]
fn destination_symlink_is_followed_inside_the_root() {
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    symlink("/existing", &e.c("to-dir"));
    symlink("plain.txt", &e.c("to-file"));
    symlink("/data/new-by-link", &e.c("dangling"));
    copy_host_to_root(&e.h("f.txt"), &e.root(), "/to-dir", &opts()).unwrap();
    assert_eq!(read(&e.c("existing/f.txt")), "file");
    copy_host_to_root(&e.h("f.txt"), &e.root(), "/to-file", &opts()).unwrap();
    assert_eq!(read(&e.c("plain.txt")), "file");
    assert!(std::fs::symlink_metadata(e.c("to-file")).unwrap().is_symlink());
    copy_host_to_root(&e.h("f.txt"), &e.root(), "/dangling", &opts()).unwrap();
    assert_eq!(read(&e.c("data/new-by-link")), "file");
    // A loop of links.
    symlink("loop2", &e.c("loop1"));
    symlink("loop1", &e.c("loop2"));
    let err = copy_host_to_root(&e.h("f.txt"), &e.root(), "/loop1", &opts()).unwrap_err();
    assert_eq!(err.to_string(), "too many symlinks in /loop1");
}

#[test]
fn container_to_container_and_into_itself() {
    let e = Env::new();
    ctr_tree(&e);
    let other = tempfile::tempdir().unwrap();
    let b = strata_sys::root::Root::new(other.path()).unwrap();
    copy_root_to_root(&e.root(), "/data", &b, "/", &opts()).unwrap();
    assert_eq!(read(&other.path().join("data/f.txt")), "image-data");
    copy_root_to_root(&e.root(), "/data/f.txt", &b, "/renamed", &opts()).unwrap();
    assert_eq!(read(&other.path().join("renamed")), "image-data");
    let err = copy_root_to_root(&e.root(), "/data", &e.root(), "/data/deeper", &opts()).unwrap_err();
    assert!(matches!(err, CpError::IntoItself { .. }), "{err}");
}

#[test]
fn ownership_without_and_with_chown_and_to_host() {
    if !require_root("ownership_without_and_with_chown_and_to_host") {
        return;
    }
    let e = Env::new();
    host_tree(&e);
    ctr_tree(&e);
    for p in ["dir", "dir/a.txt", "dir/sub", "dir/sub/b.txt", "f.txt"] {
        chown(&e.host.join(p), 1234, 4321);
    }
    symlink("a.txt", &e.host.join("dir/l"));
    chown(&e.host.join("dir/l"), 1234, 4321);
    // Without -a: the host's uid/gid are kept (Docker's real behaviour).
    copy_host_to_root(&e.h("dir"), &e.root(), "/keep", &opts()).unwrap();
    for l in dump(&e.c("keep")).lines() {
        assert!(l.contains(" 1234:4321"), "{l}");
    }
    assert_eq!(std::fs::metadata(e.c("keep")).unwrap().uid(), 1234);
    // -a: everything to the container user.
    let a = CpOpts { chown: Some((1000, 1001)), ..opts() };
    copy_host_to_root(&e.h("dir"), &e.root(), "/archived", &a).unwrap();
    for l in dump(&e.c("archived")).lines() {
        assert!(l.contains(" 1000:1001"), "{l}");
    }
    assert_eq!(std::fs::metadata(e.c("archived")).unwrap().gid(), 1001);
    // container → host: the invoking user (root: 0:0), or kept with None.
    copy_root_to_host(&e.root(), "/keep", &e.h("back0"), &CpOpts { host_owner: Some((0, 0)), ..opts() }).unwrap();
    for l in dump(&e.host.join("back0")).lines() {
        assert!(l.contains(" 0:0"), "{l}");
    }
    copy_root_to_host(&e.root(), "/keep", &e.h("back1"), &opts()).unwrap();
    assert_eq!(dump(&e.host.join("back1")), dump(&e.c("keep")));
    // -a does not apply in that direction.
    copy_root_to_host(
        &e.root(),
        "/keep",
        &e.h("back2"),
        &CpOpts { chown: Some((7, 7)), host_owner: Some((0, 0)), ..opts() },
    )
    .unwrap();
    assert!(!dump(&e.host.join("back2")).contains(" 7:7"));
}

#[test]
fn modes_times_xattrs_hardlinks_preserved() {
    let e = Env::new();
    write_mode(&e.host.join("t/exec"), "#!/bin/sh\n", 0o755);
    write_mode(&e.host.join("t/secret"), "s", 0o600);
    write_mode(&e.host.join("t/sticky/x"), "x", 0o444);
    chmod(&e.host.join("t/sticky"), 0o1777);
    mkdir(&e.host.join("t/ro"), 0o555);
    std::fs::hard_link(e.host.join("t/secret"), e.host.join("t/hard")).unwrap();
    std::fs::hard_link(e.host.join("t/secret"), e.host.join("t/sticky/hard2")).unwrap();
    symlink("exec", &e.host.join("t/lnk"));
    let user_xattrs = strata_sys::fs::set_xattr(&e.host.join("t/exec"), "user.k", b"v").is_ok();
    if user_xattrs {
        strata_sys::fs::set_xattr(&e.host.join("t/sticky"), "user.dir", b"d").unwrap();
    }
    for (i, p) in ["t/exec", "t/secret", "t/sticky/x", "t/sticky", "t/ro", "t", "t/lnk"].iter().enumerate() {
        set_mtime(&e.host.join(p), 1_600_000_000 + i as i64, 123_456_789);
    }
    let r = e.root();
    let st = copy_host_to_root(&e.h("t"), &r, "/t", &opts()).unwrap();
    assert_eq!(dump_times(&e.c("t")), dump_times(&e.host.join("t")));
    assert_eq!((st.files, st.hardlinks, st.symlinks, st.dirs), (3, 2, 1, 3));
    let a = std::fs::metadata(e.c("t/secret")).unwrap();
    let b = std::fs::metadata(e.c("t/sticky/hard2")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 3));
    if user_xattrs {
        assert!(dump(&e.c("t")).contains("user.k=v"));
    }
    // And back out, and through a tar.
    copy_root_to_host(&r, "/t", &e.h("back"), &opts()).unwrap();
    assert_eq!(dump_times(&e.host.join("back")), dump_times(&e.host.join("t")));
    let mut tar = Vec::new();
    tar_from_root(&r, "/t/.", &mut tar, &opts()).unwrap();
    std::fs::create_dir(e.c("fromtar")).unwrap();
    tar_into_root(&tar[..], &r, "/fromtar", &opts()).unwrap();
    // Tars carry whole seconds, as Docker's; `dir/.` into an existing dir
    // keeps the target's own metadata, and the dump lists the contents only.
    assert_eq!(whole_seconds(&dump_times(&e.c("fromtar"))), whole_seconds(&dump_times(&e.host.join("t"))));
}

fn whole_seconds(dump: &str) -> String {
    dump.split(' ')
        .map(|w| match w.strip_prefix("mtime=") {
            Some(t) => format!("mtime={}", t.split('.').next().unwrap()),
            None => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn devices_fifos_trusted_xattrs_and_setuid_as_root() {
    if !require_root("devices_fifos_trusted_xattrs_and_setuid_as_root") {
        return;
    }
    let e = Env::new();
    std::fs::create_dir_all(e.host.join("d")).unwrap();
    strata_sys::fs::mknod(&e.host.join("d/null"), strata_sys::fs::NodeKind::Char, 0o666, 1, 3).unwrap();
    strata_sys::fs::mknod(&e.host.join("d/fifo"), strata_sys::fs::NodeKind::Fifo, 0o640, 0, 0).unwrap();
    strata_sys::fs::mknod(&e.host.join("d/blk"), strata_sys::fs::NodeKind::Block, 0o600, 7, 0).unwrap();
    write_mode(&e.host.join("d/suid"), "s", 0o755);
    chown(&e.host.join("d/suid"), 1000, 1000);
    chmod(&e.host.join("d/suid"), 0o4755);
    strata_sys::fs::set_xattr(&e.host.join("d/suid"), "trusted.t", b"1").unwrap();
    strata_sys::fs::set_xattr(&e.host.join("d/null"), "trusted.n", b"2").unwrap();
    strata_sys::fs::set_xattr(&e.host.join("d/suid"), "trusted.overlay.opaque", b"y").unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(e.host.join("d/sock")).unwrap();
    let st = copy_host_to_root(&e.h("d"), &e.root(), "/d", &opts()).unwrap();
    assert_eq!((st.specials, st.sockets_skipped), (3, 1));
    let want = dump(&e.host.join("d"))
        .lines()
        .filter(|l| !l.starts_with("sock"))
        .map(|l| l.replace(" trusted.overlay.opaque=y", ""))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_eq!(dump(&e.c("d")), want);
    assert!(dump(&e.c("d")).contains("suid file 4755 1000:1000"));
    // The same through a tar.
    let mut tar = Vec::new();
    tar_from_root(&e.root(), "/d", &mut tar, &opts()).unwrap();
    let other = tempfile::tempdir().unwrap();
    tar_into_root(&tar[..], &strata_sys::root::Root::new(other.path()).unwrap(), "/", &opts()).unwrap();
    assert_eq!(dump(&other.path().join("d")), dump(&e.c("d")));
}

#[test]
fn sparse_and_large_files_keep_data_and_holes() {
    let e = Env::new();
    let f = std::fs::File::create(e.host.join("sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"head", 0).unwrap();
    f.write_all_at(b"tail", 64 << 20).unwrap();
    drop(f);
    copy_host_to_root(&e.h("sparse"), &e.root(), "/sparse", &opts()).unwrap();
    let got = std::fs::read(e.c("sparse")).unwrap();
    assert!(got == std::fs::read(e.host.join("sparse")).unwrap());
    assert!(std::fs::metadata(e.c("sparse")).unwrap().blocks() * 512 < 8 << 20);
}

#[test]
fn cross_filesystem_copies_keep_data_and_holes() {
    // tmpfs → the tempdir's filesystem: copy_file_range refuses (EXDEV), the
    // first file goes through user space, the rest through sendfile(2).
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir()
        || strata_sys::probe::fs_type(shm).ok().as_deref()
            == strata_sys::probe::fs_type(std::env::temp_dir().as_path()).ok().as_deref()
    {
        eprintln!("cross_filesystem_copies_keep_data_and_holes: skipped, no second filesystem");
        return;
    }
    let e = Env::new();
    let src = tempfile::tempdir_in(shm).unwrap();
    for i in 0..5u8 {
        let data: Vec<u8> = (0..(100_000 + u32::from(i) * 7)).map(|j| (j % 251) as u8 ^ i).collect();
        std::fs::write(src.path().join(format!("f{i}")), data).unwrap();
    }
    let f = std::fs::File::create(src.path().join("sparse")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"tail", 16 << 20).unwrap();
    drop(f);
    let st = copy_host_to_root(src.path().to_str().unwrap(), &e.root(), "/x", &opts()).unwrap();
    assert_eq!(st.files, 6);
    for i in 0..5u8 {
        let n = format!("f{i}");
        assert!(std::fs::read(e.c("x").join(&n)).unwrap() == std::fs::read(src.path().join(&n)).unwrap(), "{n}");
    }
    assert!(std::fs::read(e.c("x/sparse")).unwrap() == std::fs::read(src.path().join("sparse")).unwrap());
    assert!(std::fs::metadata(e.c("x/sparse")).unwrap().blocks() * 512 < 4 << 20);
    // And back.
    let out = tempfile::tempdir_in(shm).unwrap();
    copy_root_to_host(&e.root(), "/x", out.path().join("y").to_str().unwrap(), &opts()).unwrap();
    assert_eq!(dump(&out.path().join("y")), dump(&e.c("x")));
}
