//! `cp` through `Store::cp` with real containers, on every driver (vfs always;
//! overlay2 and btrfs on a loop device as root): host ↔ container both ways,
//! into image volumes, named volumes and `:ro` binds of stopped containers
//! (Docker's exact errors), `--read-only` containers, container → container,
//! `volume:NAME:PATH`, tar streams in and out, `-a`, and hostile mount points.
//!
//! Isolation: building a container view mounts things, which must happen in a
//! private mount namespace (as the CLI does with
//! `strata_sys::ns::private_mount_namespace()`). The kernel gives a new mount
//! namespace to the calling *thread* only, and libtest runs tests on threads of
//! a shared process, so each privileged scenario re-executes this test binary
//! as a child process (`NAME --exact --test-threads=1`, marked by an env var):
//! the child enters the namespace before doing anything, runs only that test,
//! and every mount it makes — leaked or not — dies with it, away from the
//! parent and the host. The parent asserts the child passed and actually ran
//! the test ("1 passed"). Unprivileged: skipped (failed under CI=true).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_archive::cp::CpOpts;
use strata_store::container::ContainerSpec;
use strata_store::container::cp::{CpEndpoint, CpError, parse_cp_arg};
use strata_store::{Reference, Store, StoreOpts};

const CHILD_ENV: &str = "STRATA_CP_TEST_CHILD";

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// True in the child that must run `name`'s body (now in a private mount
/// namespace); false in the parent, after the child passed.
fn isolated(name: &str) -> bool {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        strata_sys::ns::private_mount_namespace().expect("entering a private mount namespace");
        return true;
    }
    if !is_root() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name}: needs root (CI=true)");
        eprintln!("{name}: skipped, needs root");
        return false;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, name)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "{name} failed in its child process:\n{text}");
    false
}

fn drivers() -> Vec<&'static str> {
    vec!["vfs", "overlay2", "btrfs"]
}

struct Env {
    dir: tempfile::TempDir,
    root: PathBuf,
    loop_mount: Option<PathBuf>,
    store: Option<Store>,
}

impl Env {
    fn new(driver: &str) -> Env {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new().prefix("cp").tempdir_in(base).unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let mut loop_mount = None;
        if driver == "btrfs" {
            let img = dir.path().join("fs.img");
            std::fs::File::create(&img).unwrap().set_len(1 << 30).unwrap();
            assert!(Command::new("mkfs.btrfs").arg("-q").arg(&img).status().unwrap().success());
            assert!(Command::new("mount").args(["-o", "loop"]).arg(&img).arg(&root).status().unwrap().success());
            loop_mount = Some(root.clone());
        }
        let store = Store::open(&StoreOpts {
            root: root.clone(),
            run_root: dir.path().join("run"),
            driver: Some(driver.into()),
        })
        .unwrap();
        std::fs::create_dir_all(dir.path().join("host")).unwrap();
        Env { dir, root, loop_mount, store: Some(store) }
    }

    fn s(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    fn host(&self, rel: &str) -> PathBuf {
        self.dir.path().join("host").join(rel)
    }

    fn h(&self, rel: &str) -> String {
        self.host(rel).to_string_lossy().into_owned()
    }

    /// No cp view is left mounted or on disk.
    fn no_views_left(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let tmp = self.root.join("tmp");
        assert!(!mounts.contains(&format!("{}/cp-", tmp.display())), "a cp view is still mounted:\n{mounts}");
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.iter().all(|n| !n.to_string_lossy().starts_with("cp-")), "{left:?}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.store.take();
        if let Some(m) = &self.loop_mount {
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

fn entry(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    kind: tar::EntryType,
    data: &[u8],
    mode: u32,
    owner: (u64, u64),
    link: &str,
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(1_700_000_000);
    if !link.is_empty() {
        h.set_link_name(link).unwrap();
    }
    b.append_data(&mut h, path, data).unwrap();
}

/// The image of docker-behaviour.md §2 plus users: /data/f.txt (VOLUME
/// /data), /owned (app 1000:1000 0750), /etc/passwd and /etc/group with `app`,
/// and `/hostile -> <sentinel>` (an absolute link to a host directory).
fn base_image(s: &Store, sentinel: &Path) {
    use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/", D, b"", 0o755, (0, 0), "");
    entry(
        &mut b,
        "etc/passwd",
        F,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0o644,
        (0, 0),
        "",
    );
    entry(&mut b, "etc/group", F, b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n", 0o644, (0, 0), "");
    entry(&mut b, "data/", D, b"", 0o755, (0, 0), "");
    entry(&mut b, "data/f.txt", F, b"image-data\n", 0o644, (0, 0), "");
    entry(&mut b, "owned/", D, b"", 0o750, (1000, 1000), "");
    entry(&mut b, "owned/o.txt", F, b"o\n", 0o644, (1000, 1000), "");
    entry(&mut b, "hostile", L, b"", 0o777, (0, 0), &sentinel.to_string_lossy());
    let layer = s.put_layer(None, &b.into_inner().unwrap()[..], None).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Volumes": {"/data": {}}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"}]
    });
    s.create_image(&serde_json::to_vec(&config).unwrap(), &[Reference::parse("cp:base").unwrap()]).unwrap();
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec { name: Some(name.into()), image: "cp:base".into(), ..Default::default() }
}

fn ctr(name: &str, path: &str) -> CpEndpoint {
    CpEndpoint::Container { name: name.into(), path: path.into() }
}

fn host(p: &str) -> CpEndpoint {
    CpEndpoint::Host(p.into())
}

fn cp(s: &Store, src: &CpEndpoint, dst: &CpEndpoint, opts: &CpOpts) -> Result<strata_archive::cp::CpStats, CpError> {
    s.cp(src, dst, opts, &mut std::io::empty(), &mut std::io::sink())
}

fn root_opts() -> CpOpts {
    CpOpts { host_owner: Some((0, 0)), ..CpOpts::default() }
}

/// A sentinel host directory that hostile links aim at; must stay untouched.
fn sentinel(env: &Env) -> PathBuf {
    let p = env.dir.path().join("sentinel");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("keep"), "keep").unwrap();
    p
}

fn check_sentinel(p: &Path) {
    let names: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["keep"], "sentinel changed");
    assert_eq!(std::fs::read_to_string(p.join("keep")).unwrap(), "keep");
}

#[test]
fn parse_and_refusals_need_no_privileges() {
    assert_eq!(parse_cp_arg("web:/x"), ctr("web", "/x"));
    assert_eq!(parse_cp_arg("./a:b"), host("./a:b"));
    assert_eq!(parse_cp_arg("volume:v1:/p"), CpEndpoint::Volume { name: "v1".into(), path: "/p".into() });
    let t = tempfile::tempdir().unwrap();
    let s = Store::open(&StoreOpts {
        root: t.path().join("r"),
        run_root: t.path().join("run"),
        driver: Some("vfs".into()),
    })
    .unwrap();
    for (a, b) in [
        (host("/a"), host("/b")),
        (CpEndpoint::Stream, host("/b")),
        (host("/a"), CpEndpoint::Stream),
        (CpEndpoint::Stream, CpEndpoint::Stream),
    ] {
        let e = cp(&s, &a, &b, &CpOpts::default()).unwrap_err();
        assert_eq!(e.to_string(), "must specify at least one container source");
    }
    let e = cp(&s, &host("/etc/hostname"), &ctr("nope", "/"), &CpOpts::default()).unwrap_err();
    assert_eq!(e.to_string(), "No such container: nope");
    let e = cp(
        &s,
        &host("/etc/hostname"),
        &CpEndpoint::Volume { name: "nov".into(), path: "/".into() },
        &CpOpts::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "No such volume: nov");
}

#[test]
fn host_to_container_and_back_with_volumes() {
    if !isolated("host_to_container_and_back_with_volumes") {
        return;
    }
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        let sent = sentinel(&env);
        base_image(s, &sent);
        let c = s.create_container(&ContainerSpec { binds: vec!["named:/named".into()], ..spec("c1") }).unwrap();
        std::fs::create_dir_all(env.host("dir/sub")).unwrap();
        std::fs::write(env.host("f.txt"), "host-file").unwrap();
        std::fs::write(env.host("dir/sub/x"), "x").unwrap();
        std::os::unix::fs::lchown(env.host("f.txt"), Some(1234), Some(4321)).unwrap();

        // Into the image VOLUME (an anonymous volume): lands in the volume, not the layer.
        cp(s, &host(&env.h("f.txt")), &ctr("c1", "/data/"), &CpOpts::default()).unwrap();
        let anon = c.mounts.iter().find(|m| m.destination == "/data").unwrap();
        assert_eq!(std::fs::read_to_string(anon.source.join("f.txt")).unwrap(), "host-file", "{d}");
        let md = std::fs::metadata(anon.source.join("f.txt")).unwrap();
        assert_eq!((md.uid(), md.gid()), (1234, 4321), "{d}: ownership kept without -a");
        // The layer under the volume keeps the image's file (vfs) or nothing (overlay2's upper).
        let under = s.driver().diff_dir(&c.rw_id).join("data/f.txt");
        assert!(std::fs::read_to_string(&under).map_or(true, |t| t == "image-data\n"), "{d}");
        // Into a named volume, and into the rootfs.
        cp(s, &host(&env.h("dir")), &ctr("c1", "/named/dir"), &CpOpts::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(s.volume("named").unwrap().mountpoint.join("dir/sub/x")).unwrap(),
            "x",
            "{d}"
        );
        cp(s, &host(&env.h("dir")), &ctr("c1", "/"), &CpOpts::default()).unwrap();
        let st = cp(s, &ctr("c1", "/dir"), &host(&env.h("back")), &root_opts()).unwrap();
        assert_eq!(st.files, 1);
        assert_eq!(std::fs::read_to_string(env.host("back/sub/x")).unwrap(), "x", "{d}");
        // Container → host: the image's /owned (1000:1000) arrives as root's, as Docker.
        cp(s, &ctr("c1", "/owned"), &host(&env.h("")), &root_opts()).unwrap();
        let md = std::fs::metadata(env.host("owned/o.txt")).unwrap();
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (0, 0, 0o644), "{d}");
        assert_eq!(std::fs::metadata(env.host("owned")).unwrap().mode() & 0o777, 0o750);
        // Reading a volume's file through the container.
        cp(s, &ctr("c1", "/data/f.txt"), &host(&env.h("from-volume")), &root_opts()).unwrap();
        assert_eq!(std::fs::read_to_string(env.host("from-volume")).unwrap(), "host-file");
        // Reading from a volume whose mount point the image lacks (the read-only
        // view cannot create it: a writable one is built instead).
        s.create_container(&ContainerSpec { binds: vec!["late:/late/mnt".into()], ..spec("c3") }).unwrap();
        std::fs::write(s.volume("late").unwrap().mountpoint.join("v.txt"), "late").unwrap();
        cp(s, &ctr("c3", "/late/mnt/v.txt"), &host(&env.h("late.txt")), &root_opts()).unwrap();
        assert_eq!(std::fs::read_to_string(env.host("late.txt")).unwrap(), "late", "{d}");
        let mut tar = Vec::new();
        s.cp(&ctr("c3", "/late/mnt"), &CpEndpoint::Stream, &CpOpts::default(), &mut std::io::empty(), &mut tar)
            .unwrap();
        assert!(!tar.is_empty());
        // Docker's errors name the container.
        let e = cp(s, &ctr("c1", "/nope"), &host(&env.h("x")), &root_opts()).unwrap_err();
        assert_eq!(e.to_string(), "Could not find the file /nope in container c1");
        let e = cp(s, &host(&env.h("f.txt")), &ctr("c1", "/nope/deeper/f"), &root_opts()).unwrap_err();
        assert_eq!(e.to_string(), "Could not find the file /nope/deeper in container c1");
        let e = cp(s, &host(&env.h("f.txt")), &ctr("c1", "/nodir/"), &root_opts()).unwrap_err();
        assert_eq!(e.to_string(), "no such directory");
        // /proc of a stopped container is just an empty mount point.
        let e = cp(s, &ctr("c1", "/proc/self/status"), &host(&env.h("x")), &root_opts()).unwrap_err();
        assert_eq!(e.to_string(), "Could not find the file /proc/self/status in container c1");
        check_sentinel(&sent);
        env.no_views_left();
    }
}

#[test]
fn read_only_bind_and_read_only_rootfs() {
    if !isolated("read_only_bind_and_read_only_rootfs") {
        return;
    }
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        let sent = sentinel(&env);
        base_image(s, &sent);
        let ro = env.host("rodir");
        std::fs::create_dir_all(&ro).unwrap();
        std::fs::write(ro.join("inside"), "ro-content").unwrap();
        std::fs::write(env.host("f.txt"), "f").unwrap();
        s.create_container(&ContainerSpec { binds: vec![format!("{}:/rovol:ro", ro.display())], ..spec("c1") })
            .unwrap();
        for dst in ["/rovol", "/rovol/", "/rovol/new.txt"] {
            let e = cp(s, &host(&env.h("f.txt")), &ctr("c1", dst), &CpOpts::default()).unwrap_err();
            assert_eq!(e.to_string(), "mounted volume is marked read-only", "{d} {dst}");
        }
        let mut tar = tar::Builder::new(Vec::new());
        entry(&mut tar, "t.txt", tar::EntryType::Regular, b"t", 0o644, (0, 0), "");
        let data = tar.into_inner().unwrap();
        let e = s
            .cp(&CpEndpoint::Stream, &ctr("c1", "/rovol"), &CpOpts::default(), &mut &data[..], &mut std::io::sink())
            .unwrap_err();
        assert_eq!(e.to_string(), "mounted volume is marked read-only");
        // A copy into the rootfs that reaches the read-only volume below it.
        std::fs::create_dir_all(env.host("tree/rovol")).unwrap();
        std::fs::write(env.host("tree/rovol/deep"), "d").unwrap();
        let e = cp(s, &host(&env.h("tree/.")), &ctr("c1", "/"), &CpOpts::default()).unwrap_err();
        assert_eq!(e.to_string(), "mounted volume is marked read-only", "{d}");
        // Reading from it works, and the host dir was never written.
        cp(s, &ctr("c1", "/rovol/inside"), &host(&env.h("got")), &root_opts()).unwrap();
        assert_eq!(std::fs::read_to_string(env.host("got")).unwrap(), "ro-content");
        assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 1);

        // --read-only: the rootfs refuses, its volumes do not.
        s.create_container(&ContainerSpec { read_only: true, binds: vec!["rw:/rw".into()], ..spec("c2") }).unwrap();
        let e = cp(s, &host(&env.h("f.txt")), &ctr("c2", "/etc"), &CpOpts::default()).unwrap_err();
        assert_eq!(e.to_string(), "container rootfs is marked read-only", "{d}");
        let e = cp(s, &host(&env.h("f.txt")), &ctr("c2", "/new.txt"), &CpOpts::default()).unwrap_err();
        assert_eq!(e.to_string(), "container rootfs is marked read-only", "{d}");
        cp(s, &host(&env.h("f.txt")), &ctr("c2", "/rw"), &CpOpts::default()).unwrap();
        cp(s, &host(&env.h("f.txt")), &ctr("c2", "/data"), &CpOpts::default()).unwrap();
        assert_eq!(std::fs::read_to_string(s.volume("rw").unwrap().mountpoint.join("f.txt")).unwrap(), "f");
        cp(s, &ctr("c2", "/etc/passwd"), &host(&env.h("passwd")), &root_opts()).unwrap();
        check_sentinel(&sent);
        env.no_views_left();
    }
}

#[test]
fn container_to_container_volumes_and_streams() {
    if !isolated("container_to_container_volumes_and_streams") {
        return;
    }
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        let sent = sentinel(&env);
        base_image(s, &sent);
        s.create_container(&spec("ca")).unwrap();
        s.create_container(&ContainerSpec { binds: vec!["shared:/shared".into()], ..spec("cb") }).unwrap();
        // container → container (Docker lacks it; Podman has it).
        cp(s, &ctr("ca", "/owned"), &ctr("cb", "/shared"), &CpOpts::default()).unwrap();
        let shared = s.volume("shared").unwrap().mountpoint;
        let md = std::fs::metadata(shared.join("owned/o.txt")).unwrap();
        assert_eq!((md.uid(), md.gid()), (1000, 1000), "{d}: real ownership kept");
        // Within one container (one view serves both sides).
        cp(s, &ctr("ca", "/owned"), &ctr("ca", "/owned-copy"), &CpOpts::default()).unwrap();
        cp(s, &ctr("ca", "/owned-copy/o.txt"), &host(&env.h("same")), &root_opts()).unwrap();
        assert_eq!(std::fs::read_to_string(env.host("same")).unwrap(), "o\n", "{d}");
        let e = cp(s, &ctr("ca", "/owned"), &ctr("ca", "/owned/inner"), &CpOpts::default()).unwrap_err();
        assert!(e.to_string().starts_with("cannot copy a directory"), "{d}: {e}");
        // volume:NAME:PATH, without a container.
        let vol = |p: &str| CpEndpoint::Volume { name: "shared".into(), path: p.into() };
        cp(s, &vol("/owned/o.txt"), &host(&env.h("from-vol")), &root_opts()).unwrap();
        assert_eq!(std::fs::read_to_string(env.host("from-vol")).unwrap(), "o\n");
        cp(s, &host(&env.h("from-vol")), &vol("/copied"), &CpOpts::default()).unwrap();
        assert!(shared.join("copied").is_file());
        cp(s, &vol("/owned"), &ctr("ca", "/tmp-owned"), &CpOpts::default()).unwrap();
        cp(s, &ctr("ca", "/tmp-owned/o.txt"), &host(&env.h("roundtrip")), &root_opts()).unwrap();
        let e = cp(s, &vol("/nope"), &host(&env.h("x")), &root_opts()).unwrap_err();
        assert_eq!(e.to_string(), "Could not find the file /nope in container volume:shared");
        // Streams: `docker cp a:/owned -` with the container's names, then `-` back in.
        let mut out = Vec::new();
        s.cp(&ctr("ca", "/owned"), &CpEndpoint::Stream, &CpOpts::default(), &mut std::io::empty(), &mut out).unwrap();
        let mut listing = Vec::new();
        for e in tar::Archive::new(&out[..]).entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            listing.push(format!(
                "{} {}:{} {}/{}",
                String::from_utf8_lossy(&e.path_bytes()),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.username().unwrap().unwrap_or(""),
                h.groupname().unwrap().unwrap_or("")
            ));
        }
        assert_eq!(listing, ["owned/ 1000:1000 app/app", "owned/o.txt 1000:1000 app/app"], "{d}");
        s.cp(&CpEndpoint::Stream, &ctr("cb", "/data"), &CpOpts::default(), &mut &out[..], &mut std::io::sink())
            .unwrap();
        let anon = s.container("cb").unwrap().mounts.into_iter().find(|m| m.destination == "/data").unwrap();
        assert!(anon.source.join("owned/o.txt").is_file(), "{d}: extracted into b's /data volume");
        let e = s
            .cp(&CpEndpoint::Stream, &ctr("cb", "/data/x"), &CpOpts::default(), &mut &out[..], &mut std::io::sink())
            .unwrap_err();
        assert_eq!(e.to_string(), "destination \"cb:/data/x\" must be a directory");
        check_sentinel(&sent);
        env.no_views_left();
    }
}

#[test]
fn archive_mode_uses_the_containers_user() {
    if !isolated("archive_mode_uses_the_containers_user") {
        return;
    }
    let env = Env::new("vfs");
    let s = env.s();
    let sent = sentinel(&env);
    base_image(s, &sent);
    s.create_container(&ContainerSpec { user: Some("app:staff".into()), ..spec("cu") }).unwrap();
    s.create_container(&ContainerSpec { user: Some("ghost".into()), ..spec("cg") }).unwrap();
    s.create_container(&spec("nouser")).unwrap();
    std::fs::create_dir_all(env.host("")).unwrap();
    std::fs::write(env.host("f.txt"), "f").unwrap();
    std::os::unix::fs::lchown(env.host("f.txt"), Some(1234), Some(4321)).unwrap();
    assert_eq!(s.cp_user_owner("cu").unwrap(), Some((1000, 50)));
    assert_eq!(s.cp_user_owner("nouser").unwrap(), None);
    let io = |s: &Store, src: &CpEndpoint, dst: &CpEndpoint| {
        s.cp_archive(src, dst, &CpOpts::default(), &mut std::io::empty(), &mut std::io::sink())
    };
    io(s, &host(&env.h("f.txt")), &ctr("cu", "/a.txt")).unwrap();
    io(s, &host(&env.h("f.txt")), &ctr("nouser", "/a.txt")).unwrap();
    let e = io(s, &host(&env.h("f.txt")), &ctr("cg", "/a.txt")).unwrap_err();
    assert_eq!(e.to_string(), "unable to find user ghost: no matching entries in passwd file");
    let owner = |name: &str| {
        let mut out = Vec::new();
        s.cp(&ctr(name, "/a.txt"), &CpEndpoint::Stream, &CpOpts::default(), &mut std::io::empty(), &mut out).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        (e.header().uid().unwrap(), e.header().gid().unwrap())
    };
    assert_eq!(owner("cu"), (1000, 50));
    assert_eq!(owner("nouser"), (1234, 4321), "no Config.User: -a keeps the tar's owner, as Docker");
    // Without -a the host owner is kept even for a container with a user.
    cp(s, &host(&env.h("f.txt")), &ctr("cu", "/b.txt"), &CpOpts::default()).unwrap();
    let mut out = Vec::new();
    s.cp(&ctr("cu", "/b.txt"), &CpEndpoint::Stream, &CpOpts::default(), &mut std::io::empty(), &mut out).unwrap();
    let mut a = tar::Archive::new(&out[..]);
    assert_eq!(a.entries().unwrap().next().unwrap().unwrap().header().uid().unwrap(), 1234);
    env.no_views_left();
}

#[test]
fn hostile_mount_points_and_links_stay_in_the_container() {
    if !isolated("hostile_mount_points_and_links_stay_in_the_container") {
        return;
    }
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        let sent = sentinel(&env);
        base_image(s, &sent);
        // The image has `/hostile -> <host sentinel>`; a volume is mounted there.
        s.create_container(&ContainerSpec { binds: vec!["hv:/hostile".into()], ..spec("ch") }).unwrap();
        std::fs::create_dir_all(env.host("")).unwrap();
        std::fs::write(env.host("f.txt"), "f").unwrap();
        cp(s, &host(&env.h("f.txt")), &ctr("ch", "/hostile/"), &CpOpts::default()).unwrap();
        assert!(s.volume("hv").unwrap().mountpoint.join("f.txt").is_file(), "{d}: the volume took the write");
        // Without a volume there, the link resolves inside the container.
        s.create_container(&spec("ch2")).unwrap();
        let e = cp(s, &host(&env.h("f.txt")), &ctr("ch2", "/hostile/f.txt"), &CpOpts::default()).unwrap_err();
        assert!(e.to_string().starts_with("Could not find the file"), "{d}: {e}");
        let e = cp(s, &ctr("ch2", "/hostile/keep"), &host(&env.h("stolen")), &root_opts()).unwrap_err();
        assert!(e.to_string().starts_with("Could not find the file"), "{d}: {e}");
        assert!(!env.host("stolen").exists());
        check_sentinel(&sent);
        env.no_views_left();
    }
}

#[test]
fn tmpfs_mounts_are_invisible_to_cp() {
    if !isolated("tmpfs_mounts_are_invisible_to_cp") {
        return;
    }
    let env = Env::new("vfs");
    let s = env.s();
    let sent = sentinel(&env);
    base_image(s, &sent);
    let mut host_opts = strata_store::container::HostOptions {
        tmpfs: BTreeMap::from([("/tm".to_string(), String::new())]),
        ..Default::default()
    };
    let mut m = strata_store::container::MountRequest::new(strata_store::container::MountKind::Tmpfs);
    m.target = "/tm2".into();
    host_opts.mounts.push(m);
    s.create_container(&ContainerSpec { host: host_opts, ..spec("ct") }).unwrap();
    let e = cp(s, &ctr("ct", "/tm2/x"), &host(&env.h("x")), &root_opts()).unwrap_err();
    assert_eq!(e.to_string(), "Could not find the file /tm2/x in container ct");
    env.no_views_left();
}
