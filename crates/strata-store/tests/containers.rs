//! Containers and their copy-on-write layer, over every driver: create (init
//! and rw layers), names and id prefixes, diff, commit with whiteouts, export,
//! refcounted mounts, and the volumes a container resolves (copy-up rules).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_store::container::{CommitOpts, ContainerSpec, MountKind};
use strata_store::{Reference, Store, StoreOpts};

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn drivers() -> Vec<&'static str> {
    if is_root() {
        vec!["vfs", "overlay2", "btrfs"]
    } else {
        let ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
        assert!(!ci, "CI=true but not root: overlay2 and btrfs container tests cannot run");
        vec!["vfs"]
    }
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    loop_mount: Option<PathBuf>,
    store: Option<Store>,
}

impl Env {
    fn new(driver: &str) -> Env {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new().prefix("ctr").tempdir_in(base).unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let mut loop_mount = None;
        if driver == "btrfs" {
            let img = dir.path().join("fs.img");
            std::fs::File::create(&img).unwrap().set_len(1 << 30).unwrap();
            assert!(Command::new("mkfs.btrfs").args(["-q"]).arg(&img).status().unwrap().success());
            assert!(Command::new("mount").args(["-o", "loop"]).arg(&img).arg(&root).status().unwrap().success());
            loop_mount = Some(root.clone());
        }
        let store = Store::open(&StoreOpts {
            root: root.clone(),
            run_root: dir.path().join("run"),
            driver: Some(driver.to_string()),
        })
        .unwrap();
        Env { _dir: dir, root, loop_mount, store: Some(store) }
    }

    fn s(&self) -> &Store {
        self.store.as_ref().unwrap()
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

fn entry(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, data: &[u8], mode: u32, owner: (u64, u64)) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(owner.0);
    h.set_gid(owner.1);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, path, data).unwrap();
}

/// The image of docker-behaviour.md §2: /data/f.txt, /owned (1000:1000 0750),
/// /emptyowned (1000:1000 0700), /notvol.txt, VOLUME /data.
fn base_image(s: &Store) -> strata_store::Image {
    use tar::EntryType::{Directory as D, Regular as F};
    let mut b = tar::Builder::new(Vec::new());
    entry(&mut b, "etc/", D, b"", 0o755, (0, 0));
    entry(&mut b, "etc/group", F, b"root:x:0:\n", 0o644, (0, 0));
    entry(&mut b, "data/", D, b"", 0o755, (0, 0));
    entry(&mut b, "data/f.txt", F, b"image-data\n", 0o644, (0, 0));
    entry(&mut b, "owned/", D, b"", 0o750, (1000, 1000));
    entry(&mut b, "owned/o.txt", F, b"o\n", 0o644, (1000, 1000));
    entry(&mut b, "emptyowned/", D, b"", 0o700, (1000, 1000));
    entry(&mut b, "notvol.txt", F, b"x\n", 0o644, (0, 0));
    let layer = s.put_layer(None, &b.into_inner().unwrap()[..], None).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "Volumes": {"/data": {}}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"}]
    });
    s.create_image(&serde_json::to_vec(&config).unwrap(), &[Reference::parse("test:base").unwrap()]).unwrap()
}

fn spec(image: &str) -> ContainerSpec {
    ContainerSpec { image: image.into(), ..Default::default() }
}

#[test]
fn create_names_lookup_rename_rm() {
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        base_image(s);
        let c = s.create_container(&ContainerSpec { name: Some("web1".into()), ..spec("test:base") }).unwrap();
        assert_eq!(c.id.len(), 64);
        assert_eq!(c.state.status, "created");
        assert_eq!(c.config.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(s.container("web1").unwrap().id, c.id);
        assert_eq!(s.container(&c.id[..6]).unwrap().id, c.id);
        assert_eq!(s.container("/web1").unwrap().id, c.id);
        let dup = s.create_container(&ContainerSpec { name: Some("web1".into()), ..spec("test:base") });
        let msg = dup.unwrap_err().to_string();
        assert!(msg.contains("The container name \"/web1\" is already in use"), "{msg}");
        assert!(s.create_container(&ContainerSpec { name: Some("-bad".into()), ..spec("test:base") }).is_err());
        let auto = s.create_container(&spec("test:base")).unwrap();
        assert!(auto.name.contains('_'), "generated name {}", auto.name);
        s.rename_container("web1", "web2").unwrap();
        assert!(s.find_container("web1").unwrap().is_none());
        assert!(s.rename_container("web2", &auto.name).is_err());
        // The image cannot go while containers use it.
        let err = s.remove_image("test:base", false).unwrap_err().to_string();
        assert!(err.contains("being used by stopped container"), "{err}");
        for c in s.containers().unwrap() {
            s.remove_container(&c.id, false, true).unwrap();
        }
        assert!(s.containers().unwrap().is_empty());
        // No layer directory of the containers is left behind.
        let report = strata_store::check::check(s, true, false).unwrap();
        assert!(report.problems.is_empty(), "{d}: {:?}", report.problems);
        assert!(s.volumes().unwrap().is_empty(), "{d}: anonymous volumes removed with -v");
    }
}

#[test]
fn init_layer_and_refcounted_mount() {
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        base_image(s);
        let c = s.create_container(&spec("test:base")).unwrap();
        let p1 = s.mount_container(&c).unwrap();
        let p2 = s.mount_container(&c).unwrap();
        assert_eq!(p1, p2);
        for f in ["etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"] {
            assert!(p1.join(f).is_file(), "{d}: init layer provides /{f}");
        }
        assert_eq!(std::fs::read_to_string(p1.join("data/f.txt")).unwrap(), "image-data\n");
        assert_eq!(std::fs::read_link(p1.join("etc/mtab")).unwrap(), PathBuf::from("/proc/mounts"));
        assert_eq!(s.unmount_container(&c).unwrap(), 1);
        assert!(p1.join("data/f.txt").exists(), "{d}: still mounted for the other user");
        assert_eq!(s.unmount_container(&c).unwrap(), 0);
        if d == "overlay2" {
            assert!(!p1.join("data/f.txt").exists(), "overlay2: unmounted by the last user");
        }
    }
}

/// docker-behaviour.md §2.5: the container's operations and Docker's diff output.
#[test]
fn diff_commit_export_match_docker() {
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        base_image(s);
        let c = s.create_container(&ContainerSpec { binds: vec!["/vol".into()], ..spec("test:base") }).unwrap();
        let root = s.mount_container(&c).unwrap();
        std::fs::remove_file(root.join("data/f.txt")).unwrap();
        let mut g = std::fs::OpenOptions::new().append(true).open(root.join("etc/group")).unwrap();
        std::io::Write::write_all(&mut g, b"x\n").unwrap();
        drop(g);
        std::fs::create_dir(root.join("newdir")).unwrap();
        std::fs::write(root.join("newdir/n"), "n\n").unwrap();
        std::fs::remove_dir_all(root.join("owned")).unwrap();
        std::fs::create_dir(root.join("owned")).unwrap();
        std::fs::write(root.join("owned/fresh"), "fresh\n").unwrap();
        std::fs::create_dir(root.join("vol")).unwrap(); // the runtime creates mount points
        s.unmount_container(&c).unwrap();

        let diff: Vec<String> =
            s.container_changes(&c).unwrap().iter().map(|ch| format!("{} {}", ch.kind.letter(), ch.path)).collect();
        let mut expected = vec![
            "C /data",
            "D /data/f.txt",
            "C /etc",
            "C /etc/group",
            "A /newdir",
            "A /newdir/n",
            "C /owned",
            "A /owned/fresh",
            "D /owned/o.txt",
            "A /vol",
        ];
        expected.sort();
        let mut got = diff.clone();
        got.sort();
        assert_eq!(got, expected, "{d}: diff");

        let img = s
            .commit_container(
                &c,
                &CommitOpts {
                    reference: Some(Reference::parse("committed:1").unwrap()),
                    message: Some("msg".into()),
                    author: Some("me".into()),
                    changes: vec!["ENV FOO=bar".into()],
                },
            )
            .unwrap();
        assert_eq!(img.config.rootfs.diff_ids.len(), 2);
        assert!(img.config.config.env.as_ref().unwrap().contains(&"FOO=bar".to_string()));
        assert_eq!(img.config.history.last().unwrap().comment.as_deref(), Some("msg"));
        let top = s.layer(img.top_layer.as_ref().unwrap()).unwrap();
        let mut tar_bytes = Vec::new();
        s.layer_tar(&top, &mut tar_bytes).unwrap();
        let names = tar_names(&tar_bytes);
        // overlay2 sees `rm -rf owned; mkdir owned` as an opaque directory; the
        // full-tree drivers see the files that went (Docker's naive differ too).
        let replaced = if d == "overlay2" { "owned/.wh..wh..opq" } else { "owned/.wh.o.txt" };
        for n in ["data/.wh.f.txt", "etc/group", "newdir/n", replaced, "owned/fresh", "vol"] {
            assert!(names.contains_key(n), "{d}: committed layer has {n}: {names:?}");
        }
        assert!(!names.keys().any(|n| n.starts_with("etc/hosts") || n == ".dockerenv"), "{d}: init layer excluded");
        assert_eq!(names["etc/group"], b"root:x:0:\nx\n");

        // The committed image shows the changes in a new container.
        let c2 = s.create_container(&spec("committed:1")).unwrap();
        let r2 = s.mount_container(&c2).unwrap();
        assert!(!r2.join("data/f.txt").exists(), "{d}");
        assert_eq!(std::fs::read_to_string(r2.join("owned/fresh")).unwrap(), "fresh\n");
        assert!(!r2.join("owned/o.txt").exists(), "{d}: opaque dir hides the old content");
        s.unmount_container(&c2).unwrap();

        let mut out = Vec::new();
        s.export_container(&c, &mut out).unwrap();
        let names = tar_names(&out);
        assert!(names.contains_key(".dockerenv"), "{d}: export has .dockerenv");
        assert!(names.contains_key("newdir/n"));
        assert!(!names.contains_key("data/f.txt"));
    }
}

#[test]
fn volumes_copy_up_like_docker() {
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        base_image(s);
        let host = tempfile::tempdir().unwrap();
        let bind_src = host.path().join("created-by-v");
        let c = s
            .create_container(&ContainerSpec {
                binds: vec![
                    "named:/owned".into(),
                    "empty:/emptyowned".into(),
                    format!("{}:/bind:ro", bind_src.display()),
                    "nc:/data2:nocopy".into(),
                ],
                ..spec("test:base")
            })
            .unwrap();
        // Image VOLUME /data → anonymous volume, populated.
        let anon = c.mounts.iter().find(|m| m.destination == "/data").unwrap();
        assert_eq!(anon.kind, MountKind::Volume);
        assert_eq!(anon.name.len(), 64);
        assert_eq!(std::fs::read_to_string(anon.source.join("f.txt")).unwrap(), "image-data\n");
        let v = s.volume(&anon.name).unwrap();
        assert!(v.anonymous);
        assert_eq!(v.labels.get("com.docker.volume.anonymous").map(String::as_str), Some(""));
        // Named volume gets the content and the mount point's owner and mode.
        let named = s.volume("named").unwrap();
        let md = std::fs::metadata(&named.mountpoint).unwrap();
        if is_root() {
            assert_eq!((md.uid(), md.gid(), md.permissions().mode() & 0o7777), (1000, 1000, 0o750), "{d}");
            let md = std::fs::metadata(s.volume("empty").unwrap().mountpoint).unwrap();
            assert_eq!((md.uid(), md.gid(), md.permissions().mode() & 0o7777), (1000, 1000, 0o700), "{d}");
        }
        assert_eq!(std::fs::read_to_string(named.mountpoint.join("o.txt")).unwrap(), "o\n");
        // Wrapper dir is 0701 as Docker's.
        let wrapper = std::fs::metadata(env.root.join("volumes/named")).unwrap();
        assert_eq!(wrapper.permissions().mode() & 0o7777, 0o701);
        // Bind source created; binds never copied into.
        assert!(bind_src.is_dir());
        assert_eq!(std::fs::read_dir(&bind_src).unwrap().count(), 0);
        let b = c.mounts.iter().find(|m| m.destination == "/bind").unwrap();
        assert_eq!((b.kind, b.rw, b.mode.as_str(), b.propagation.as_str()), (MountKind::Bind, false, "ro", "rprivate"));
        // nocopy
        assert_eq!(std::fs::read_dir(s.volume("nc").unwrap().mountpoint).unwrap().count(), 0);

        // In use: refused, naming the container.
        let err = s.remove_volume("named", true).unwrap_err().to_string();
        assert!(err.contains("volume is in use") && err.contains(&c.id), "{err}");

        // A non-empty volume is never merged into.
        std::fs::write(named.mountpoint.join("mine"), "keep").unwrap();
        std::fs::remove_file(named.mountpoint.join("o.txt")).unwrap();
        let c2 = s.create_container(&ContainerSpec { binds: vec!["named:/data".into()], ..spec("test:base") }).unwrap();
        assert!(!named.mountpoint.join("f.txt").exists());

        // --volumes-from shares by name, ro override.
        let c3 = s
            .create_container(&ContainerSpec { volumes_from: vec![format!("{}:ro", c.name)], ..spec("test:base") })
            .unwrap();
        let shared = c3.mounts.iter().find(|m| m.destination == "/owned").unwrap();
        assert_eq!((shared.name.as_str(), shared.rw), ("named", false));
        let anon_shared = c3.mounts.iter().find(|m| m.destination == "/data").unwrap();
        assert_eq!(anon_shared.name, anon.name, "{d}: anonymous volume shared by id");

        // rm -v of the volume container keeps the anonymous volume its consumer uses.
        s.remove_container(&c.id, false, true).unwrap();
        assert!(s.find_volume(&anon.name).unwrap().is_some(), "{d}: still used by c3");
        s.remove_container(&c3.id, false, true).unwrap();
        s.remove_container(&c2.id, false, true).unwrap();
        assert!(s.find_volume("named").unwrap().is_some(), "named volumes survive rm -v");
        // c3's rm -v does not remove c's anonymous volume (it was inherited), as Docker.
        s.remove_volume(&anon.name, false).unwrap();

        // A volume over an image file is an error, and leaves no container or volume behind.
        let before = s.volumes().unwrap().len();
        let err = s.create_container(&ContainerSpec { binds: vec!["/notvol.txt".into()], ..spec("test:base") });
        assert!(err.unwrap_err().to_string().contains("cannot mount volume over existing file"));
        assert_eq!(s.volumes().unwrap().len(), before, "{d}: no leaked volume");
        assert!(s.containers().unwrap().is_empty());
    }
}

/// `--mount` (bind, named and anonymous volume with options and labels, subpath,
/// tmpfs) and `--tmpfs`, resolved as Docker does (docker-behaviour.md §1.5, §2.4).
#[test]
fn mount_requests_and_tmpfs_like_docker() {
    use strata_store::container::spec::{
        BindOptions, DriverConfig, HostOptions, MountRequest, TmpfsOptions, VolumeOptions,
    };
    for d in drivers() {
        let env = Env::new(d);
        let s = env.s();
        base_image(s);
        let host = tempfile::tempdir().unwrap();
        let bind_src = host.path().to_str().unwrap().to_string();

        // A missing bind source is an error (no directory is created), and nothing leaks.
        let mut missing = MountRequest::new(MountKind::Bind);
        missing.source = format!("{bind_src}/nope");
        missing.target = "/x".into();
        let opts = HostOptions { mounts: vec![missing], ..Default::default() };
        let req = ContainerSpec { host: opts, ..spec("test:base") };
        let err = s.create_container(&req).unwrap_err().to_string();
        let want = format!("invalid mount config for type \"bind\": bind source path does not exist: {bind_src}/nope");
        assert_eq!(err, want);
        assert!(!host.path().join("nope").exists());
        assert!(s.volumes().unwrap().is_empty() && s.containers().unwrap().is_empty(), "{d}: nothing leaked");

        let mut bind = MountRequest::new(MountKind::Bind);
        bind.source = bind_src.clone();
        bind.target = "/bp".into();
        bind.read_only = true;
        bind.bind_options = Some(BindOptions { propagation: "rslave".into(), ..Default::default() });
        let mut named = MountRequest::new(MountKind::Volume);
        named.source = "optvol".into();
        named.target = "/ov".into();
        named.volume_options = Some(VolumeOptions {
            labels: [("k".to_string(), "v".to_string())].into(),
            driver_config: Some(DriverConfig {
                name: "local".into(),
                options: [("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=5m")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }),
            ..Default::default()
        });
        // An anonymous --mount volume over the image VOLUME /data replaces it.
        let mut anon = MountRequest::new(MountKind::Volume);
        anon.target = "/data".into();
        anon.volume_options = Some(VolumeOptions { no_copy: true, ..Default::default() });
        let mut tm = MountRequest::new(MountKind::Tmpfs);
        tm.target = "/tm".into();
        tm.tmpfs_options = Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o1770 });
        let req = ContainerSpec {
            host: HostOptions {
                mounts: vec![bind.clone(), named, anon, tm],
                tmpfs: [("/tm2".to_string(), "rw,size=2m".to_string())].into(),
                network_mode: "none".into(),
                auto_remove: true,
                init: Some(true),
                ..Default::default()
            },
            ..spec("test:base")
        };
        let c = s.create_container(&req).unwrap();
        let by = |dst: &str| c.mounts.iter().find(|m| m.destination == dst).unwrap().clone();
        let b = by("/bp");
        assert_eq!((b.kind, b.rw, b.mode.as_str(), b.propagation.as_str()), (MountKind::Bind, false, "", "rslave"));
        assert_eq!(b.source, host.path());
        let v = by("/ov");
        assert_eq!((v.kind, v.name.as_str(), v.mode.as_str(), v.rw), (MountKind::Volume, "optvol", "z", true));
        let vol = s.volume("optvol").unwrap();
        assert_eq!(vol.labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(vol.options.get("o").map(String::as_str), Some("size=5m"));
        let a = by("/data");
        assert_eq!((a.kind, a.mode.as_str(), a.name.len()), (MountKind::Volume, "z", 64));
        assert!(s.volume(&a.name).unwrap().anonymous);
        assert_eq!(std::fs::read_dir(&a.source).unwrap().count(), 0, "{d}: volume-nocopy");
        let t = by("/tm");
        assert_eq!(
            (t.kind, t.mode.as_str(), t.source.as_os_str().is_empty()),
            (MountKind::Tmpfs, "size=1m,mode=1770", true)
        );
        // --tmpfs is not a mount point, as in Docker.
        assert!(c.mounts.iter().all(|m| m.destination != "/tm2"));
        assert_eq!(c.mounts.len(), 4, "{d}: {:?}", c.mounts);
        // The request is kept as given for the runtime and inspect.
        let back = s.container(&c.id).unwrap();
        assert_eq!(back.host, req.host);
        assert_eq!(back.host.mounts[0], bind);
        // Two mounts at one destination are refused.
        let mut dup = MountRequest::new(MountKind::Tmpfs);
        dup.target = "/n".into();
        let req = ContainerSpec {
            binds: vec!["n1:/n".into()],
            host: HostOptions { mounts: vec![dup], ..Default::default() },
            ..spec("test:base")
        };
        assert_eq!(s.create_container(&req).unwrap_err().to_string(), "Duplicate mount point: /n");
        assert!(s.find_volume("n1").unwrap().is_none(), "{d}: the named volume of the failed create is gone");

        // A --tmpfs over the image VOLUME: no anonymous volume.
        let before = s.volumes().unwrap().len();
        let req = ContainerSpec {
            host: HostOptions { tmpfs: [("/data".to_string(), String::new())].into(), ..Default::default() },
            ..spec("test:base")
        };
        let c2 = s.create_container(&req).unwrap();
        assert!(c2.mounts.is_empty(), "{d}: {:?}", c2.mounts);
        assert_eq!(s.volumes().unwrap().len(), before);

        // volume-subpath: the subdirectory is the source; it must exist and be inside.
        std::fs::create_dir(vol.mountpoint.join("sub")).unwrap();
        let mut sp = MountRequest::new(MountKind::Volume);
        sp.source = "optvol".into();
        sp.target = "/sp".into();
        sp.volume_options = Some(VolumeOptions { subpath: "sub".into(), ..Default::default() });
        let opts = HostOptions { mounts: vec![sp.clone()], ..Default::default() };
        let req = ContainerSpec { host: opts, ..spec("test:base") };
        let c3 = s.create_container(&req).unwrap();
        assert_eq!(c3.mounts.iter().find(|m| m.destination == "/sp").unwrap().source, vol.mountpoint.join("sub"));
        std::os::unix::fs::symlink("/", vol.mountpoint.join("escape")).unwrap();
        for bad in ["escape", "../x", "missing"] {
            sp.volume_options = Some(VolumeOptions { subpath: bad.into(), ..Default::default() });
            let opts = HostOptions { mounts: vec![sp.clone()], ..Default::default() };
            let req = ContainerSpec { host: opts, ..spec("test:base") };
            assert!(s.create_container(&req).is_err(), "{d}: subpath {bad}");
        }
    }
}

fn tar_names(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_string();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.insert(name, buf);
    }
    out
}

#[allow(dead_code)]
fn unused(_: &Path) {}
