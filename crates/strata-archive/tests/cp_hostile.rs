//! Hostile container trees (CVE-2018-15664 class): whatever symlinks a
//! container holds — absolute (`etc -> /etc`), climbing (`../../../..`),
//! symlinked parent directories, dangling links, links as the final component
//! of the destination or the source — `docker cp` must never read or write a
//! host path through them. Reads return the container's own content.
//!
//! Layout: `<tmp>/ctr` is the container root, `<tmp>/host` the user's side,
//! `<tmp>/sentinel/{keep,sub/deep}` and `<tmp>/outside` are host files the
//! links aim at (by absolute path and by `..`); after each test they must be
//! untouched and `<tmp>` must hold nothing new.

mod cp_common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use cp_common::*;
use strata_archive::cp::{
    CpOpts, copy_host_to_root, copy_root_to_host, copy_root_to_root, tar_from_root, tar_into_root,
};

struct Arena {
    e: Env,
    sentinel: PathBuf,
    outside: PathBuf,
    before: String,
}

impl Arena {
    fn new() -> Arena {
        let e = Env::new();
        let sentinel = e.t.path().join("sentinel");
        write(&sentinel.join("keep"), "keep");
        write(&sentinel.join("sub/deep"), "deep");
        let outside = e.t.path().join("outside");
        write(&outside, "outside");
        write(&e.host.join("payload"), "payload");
        write(&e.host.join("tree/a/b"), "b");
        let before = dump_times(&sentinel);
        Arena { e, sentinel, outside, before }
    }

    fn s(&self) -> String {
        self.sentinel.to_string_lossy().into_owned()
    }

    fn o(&self) -> String {
        self.outside.to_string_lossy().into_owned()
    }

    /// `../` repeated enough to climb from anywhere in the container to `/`.
    fn climb(&self) -> String {
        "../".repeat(self.e.t.path().components().count() + 4)
    }

    /// The container's own copy of a host path (where confined resolution lands).
    fn inside(&self, host_abs: &Path) -> PathBuf {
        self.e.ctr.join(host_abs.strip_prefix("/").unwrap())
    }

    fn check(&self) {
        assert_eq!(dump_times(&self.sentinel), self.before, "sentinel changed");
        assert_eq!(read(&self.outside), "outside");
        assert_eq!(std::fs::metadata(&self.outside).unwrap().nlink(), 1);
        let mut names: Vec<String> = std::fs::read_dir(self.e.t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ctr", "host", "outside", "sentinel"]);
    }
}

fn o() -> CpOpts {
    CpOpts::default()
}

#[test]
fn absolute_link_to_host_etc_never_reaches_the_host() {
    let a = Arena::new();
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    symlink("/etc", &a.e.c("etc"));
    // Reading: the link re-roots onto itself (a loop), never the host's /etc.
    let r = copy_root_to_host(&a.e.root(), "/etc/passwd", &a.e.h("got"), &o());
    assert!(r.is_err());
    assert!(!a.e.host.join("got").exists());
    let mut out = Vec::new();
    assert!(tar_from_root(&a.e.root(), "/etc/passwd", &mut out, &o()).is_err());
    assert!(!String::from_utf8_lossy(&out).contains("root:"));
    // Writing: nothing lands in the host's /etc.
    assert!(copy_host_to_root(&a.e.h("payload"), &a.e.root(), "/etc/strata-cp-test", &o()).is_err());
    assert!(!Path::new("/etc/strata-cp-test").exists());
    assert!(copy_host_to_root(&a.e.h("payload"), &a.e.root(), "/etc", &o()).is_err());
    assert!(!Path::new("/etc/payload").exists());
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd_before);
    // With a real directory behind the link, the container's own files are used.
    std::fs::remove_file(a.e.c("etc")).unwrap();
    write(&a.e.c("etc2/passwd"), "container-passwd");
    symlink("/etc2", &a.e.c("etc"));
    copy_root_to_host(&a.e.root(), "/etc/passwd", &a.e.h("got"), &o()).unwrap();
    assert_eq!(read(&a.e.host.join("got")), "container-passwd");
    copy_host_to_root(&a.e.h("payload"), &a.e.root(), "/etc/", &o()).unwrap();
    assert_eq!(read(&a.e.c("etc2/payload")), "payload");
    a.check();
}

#[test]
fn climbing_links_and_dotdot_paths_stay_inside() {
    let a = Arena::new();
    symlink(&a.climb(), &a.e.c("up"));
    let rel_sentinel = a.s().trim_start_matches('/').to_string();
    // Write through `up/<host path of sentinel>/...`: the climb stops at the root.
    let dst = format!("/up/{rel_sentinel}/new");
    assert!(copy_host_to_root(&a.e.h("payload"), &a.e.root(), &dst, &o()).is_err());
    let dst = format!("/../../../../../..{}/new", a.s());
    assert!(copy_host_to_root(&a.e.h("payload"), &a.e.root(), &dst, &o()).is_err());
    // Once the container has those directories itself, that is where writes go.
    std::fs::create_dir_all(a.inside(&a.sentinel)).unwrap();
    copy_host_to_root(&a.e.h("payload"), &a.e.root(), &format!("/up/{rel_sentinel}/new"), &o()).unwrap();
    assert_eq!(read(&a.inside(&a.sentinel).join("new")), "payload");
    copy_host_to_root(&a.e.h("tree"), &a.e.root(), &format!("/up/{rel_sentinel}"), &o()).unwrap();
    assert_eq!(read(&a.inside(&a.sentinel).join("tree/a/b")), "b");
    // Reading through the climb reads the container's files.
    write(&a.inside(&a.sentinel).join("keep"), "container-keep");
    copy_root_to_host(&a.e.root(), &format!("/up/{rel_sentinel}/keep"), &a.e.h("got"), &o()).unwrap();
    assert_eq!(read(&a.e.host.join("got")), "container-keep");
    let err =
        copy_root_to_host(&a.e.root(), &format!("/up/{rel_sentinel}/sub/deep"), &a.e.h("got2"), &o()).unwrap_err();
    assert!(err.to_string().starts_with("Could not find the file"), "{err}");
    a.check();
}

#[test]
fn symlinked_parent_directories_pointing_at_host_dirs() {
    let a = Arena::new();
    symlink(&a.s(), &a.e.c("data"));
    let rel = format!("{}{}", a.climb(), a.s().trim_start_matches('/'));
    symlink(&rel, &a.e.c("rel"));
    for dst in ["/data/new", "/data/sub/new", "/data/", "/rel/new", "/rel/sub/"] {
        let r = copy_host_to_root(&a.e.h("payload"), &a.e.root(), dst, &o());
        assert!(r.is_err(), "{dst}: wrote somewhere");
    }
    for src in ["/data/keep", "/data/sub/deep", "/data/.", "/rel/keep"] {
        let r = copy_root_to_host(&a.e.root(), src, &a.e.h("got"), &o());
        assert!(r.is_err(), "{src}: read something");
        assert!(!a.e.host.join("got").exists());
    }
    // A tree copy into a parent that became a symlink: refused, nothing followed.
    std::fs::create_dir_all(a.e.c("existing/tree")).unwrap();
    symlink(&a.s(), &a.e.c("existing/tree/a"));
    let err = copy_host_to_root(&a.e.h("tree"), &a.e.root(), "/existing", &o()).unwrap_err();
    assert_eq!(err.to_string(), r#"cannot overwrite non-directory "/existing/tree/a" with directory "/existing""#);
    // A file over such a link replaces the link, never writes through it.
    write(&a.e.host.join("a"), "replaced");
    copy_host_to_root(&a.e.h("a"), &a.e.root(), "/existing/tree", &o()).unwrap();
    assert_eq!(read(&a.e.c("existing/tree/a")), "replaced");
    a.check();
}

#[test]
fn dangling_links_and_link_as_final_destination() {
    let a = Arena::new();
    let new_in_sentinel = a.sentinel.join("created-by-cp");
    symlink(&new_in_sentinel.to_string_lossy(), &a.e.c("dangling"));
    symlink(&a.o(), &a.e.c("to-outside"));
    symlink(&format!("{}{}", a.climb(), a.o().trim_start_matches('/')), &a.e.c("to-outside-rel"));
    for dst in ["/dangling", "/to-outside", "/to-outside-rel"] {
        assert!(copy_host_to_root(&a.e.h("payload"), &a.e.root(), dst, &o()).is_err(), "{dst}");
    }
    assert!(!new_in_sentinel.exists());
    // With the target's parent present inside, the link is followed inside.
    std::fs::create_dir_all(a.inside(&a.sentinel)).unwrap();
    std::fs::create_dir_all(a.inside(a.outside.parent().unwrap())).unwrap();
    for dst in ["/dangling", "/to-outside", "/to-outside-rel"] {
        copy_host_to_root(&a.e.h("payload"), &a.e.root(), dst, &o()).unwrap();
    }
    assert_eq!(read(&a.inside(&new_in_sentinel)), "payload");
    assert_eq!(read(&a.inside(&a.outside)), "payload");
    // A tar stream aimed at them the same way.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, "x", &b"tar"[..]).unwrap();
    let data = b.into_inner().unwrap();
    symlink(&a.s(), &a.e.c("dirlink"));
    tar_into_root(&data[..], &a.e.root(), "/dirlink", &o()).unwrap();
    assert_eq!(read(&a.inside(&a.sentinel).join("x")), "tar");
    a.check();
}

#[test]
fn link_as_final_source_component() {
    let a = Arena::new();
    symlink(&a.o(), &a.e.c("s"));
    symlink(&a.s(), &a.e.c("sd"));
    // Without -L the link itself is copied (its text, never the host file).
    copy_root_to_host(&a.e.root(), "/s", &a.e.h("got"), &o()).unwrap();
    assert_eq!(std::fs::read_link(a.e.host.join("got")).unwrap(), a.outside);
    // With -L, or `sd/`, it is resolved inside the container.
    let follow = CpOpts { follow_link: true, ..o() };
    assert!(copy_root_to_host(&a.e.root(), "/s", &a.e.h("got-l"), &follow).is_err());
    assert!(copy_root_to_host(&a.e.root(), "/sd/", &a.e.h("got-d"), &o()).is_err());
    assert!(copy_root_to_host(&a.e.root(), "/sd/.", &a.e.h("got-d"), &o()).is_err());
    let mut out = Vec::new();
    assert!(tar_from_root(&a.e.root(), "/s", &mut out, &follow).is_err());
    write(&a.inside(&a.outside), "container-outside");
    write(&a.inside(&a.sentinel).join("keep"), "container-keep");
    copy_root_to_host(&a.e.root(), "/s", &a.e.h("got-l"), &follow).unwrap();
    assert_eq!(read(&a.e.host.join("got-l")), "container-outside");
    copy_root_to_host(&a.e.root(), "/sd/", &a.e.h("got-d"), &o()).unwrap();
    assert_eq!(dump(&a.e.host.join("got-d")), dump(&a.inside(&a.sentinel)));
    let mut out = Vec::new();
    tar_from_root(&a.e.root(), "/sd/.", &mut out, &o()).unwrap();
    let l = tar_listing(&out);
    assert_eq!(l.iter().map(|x| x.split(' ').next().unwrap()).collect::<Vec<_>>(), ["./", "./keep"]);
    // container → container through the same links.
    let other = tempfile::tempdir().unwrap();
    let b = strata_sys::root::Root::new(other.path()).unwrap();
    copy_root_to_root(&a.e.root(), "/s", &b, "/x", &follow).unwrap();
    assert_eq!(read(&other.path().join("x")), "container-outside");
    a.check();
}

#[test]
fn trees_holding_hostile_links_are_copied_as_links() {
    let a = Arena::new();
    std::fs::create_dir_all(a.e.c("app")).unwrap();
    symlink(&a.s(), &a.e.c("app/abs"));
    symlink(&a.climb(), &a.e.c("app/up"));
    symlink(&a.o(), &a.e.c("app/file"));
    copy_root_to_host(&a.e.root(), "/app", &a.e.h("app"), &o()).unwrap();
    assert_eq!(dump(&a.e.host.join("app")), dump(&a.e.c("app")));
    let mut out = Vec::new();
    tar_from_root(&a.e.root(), "/app", &mut out, &o()).unwrap();
    let l = tar_listing(&out).join("\n");
    assert!(!l.contains("keep") && !l.contains("deep"), "{l}");
    // Only the links themselves travel: no file data at all.
    assert!(tar_listing(&out).iter().all(|l| l.contains(" dir ") || l.contains(" link ")), "{l}");
    a.check();
}

#[test]
fn hostile_tar_names_and_links_stay_inside() {
    let a = Arena::new();
    std::fs::create_dir_all(a.e.c("dst")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let entry = |b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        {
            let g = h.as_gnu_mut().unwrap();
            g.name[..name.len()].copy_from_slice(name.as_bytes());
            g.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    let climb_outside = format!("{}{}", a.climb(), a.o().trim_start_matches('/'));
    entry(&mut b, &climb_outside, tar::EntryType::Regular, "", b"escaped?");
    entry(&mut b, "l", tar::EntryType::Symlink, &a.s(), b"");
    entry(&mut b, "l/new", tar::EntryType::Regular, "", b"through link");
    entry(&mut b, "hard", tar::EntryType::Link, &a.o(), b"");
    let data = b.into_inner().unwrap();
    tar_into_root(&data[..], &a.e.root(), "/dst", &o()).unwrap();
    // The climbing name landed inside, and the hard link to the host path
    // linked that inside copy, never the host file.
    let inside_outside = a.e.c("dst").join(a.o().trim_start_matches('/'));
    assert_eq!(read(&inside_outside), "escaped?");
    assert_eq!(std::fs::metadata(a.e.c("dst/hard")).unwrap().ino(), std::fs::metadata(&inside_outside).unwrap().ino());
    // A hard link whose target exists nowhere inside fails.
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "hard2", tar::EntryType::Link, &a.s().replace("sentinel", "sentinel/keep"), b"");
    assert!(tar_into_root(&b.into_inner().unwrap()[..], &a.e.root(), "/dst", &o()).is_err());
    assert_eq!(read(&a.e.c("dst").join(a.s().trim_start_matches('/')).join("new")), "through link");
    a.check();
}

#[test]
fn fifos_and_devices_in_a_container_tree_are_never_opened() {
    let a = Arena::new();
    std::fs::create_dir_all(a.e.c("app")).unwrap();
    strata_sys::fs::mknod(&a.e.c("app/fifo"), strata_sys::fs::NodeKind::Fifo, 0o644, 0, 0).unwrap();
    write(&a.e.c("app/f"), "f");
    if is_root() {
        // /dev/zero's numbers: reading it would never end.
        strata_sys::fs::mknod(&a.e.c("app/zero"), strata_sys::fs::NodeKind::Char, 0o666, 1, 5).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let root_dir = a.e.ctr.clone();
    let out = a.e.h("app");
    std::thread::spawn(move || {
        let root = strata_sys::root::Root::new(&root_dir).unwrap();
        tx.send(copy_root_to_host(&root, "/app", &out, &CpOpts::default()).map(|_| ())).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).expect("copy blocked on a FIFO or device").unwrap();
    assert!(std::fs::symlink_metadata(a.e.host.join("app/fifo")).unwrap().file_type().is_fifo());
    // -L onto a FIFO copies the node, never reads it.
    symlink("/app/fifo", &a.e.c("fl"));
    let follow = CpOpts { follow_link: true, ..o() };
    let root_dir = a.e.ctr.clone();
    let out = a.e.h("fl");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let root = strata_sys::root::Root::new(&root_dir).unwrap();
        tx.send(copy_root_to_host(&root, "/fl", &out, &follow).map(|_| ())).unwrap();
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).expect("copy blocked on a FIFO").unwrap();
    a.check();
}
