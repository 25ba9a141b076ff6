//! Shared test fixtures: a store on a temp dir per driver, a busybox image
//! made from the host's static `/bin/busybox` (or a stand-in file where
//! there is none and nothing is run), contexts, and readers for layers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use strata_build::{BuildOpts, ContextSource};
use strata_store::{Image, Reference, Store, StoreOpts};

pub const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "true", "false", "mkdir", "touch", "rm", "id", "test", "[", "env", "printf", "sleep",
    "stat", "wc", "chmod", "chown",
];

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// vfs always; overlay2 too as root (CI must be root for it).
pub fn drivers() -> Vec<&'static str> {
    if strata_sys::probe::is_root() {
        vec!["vfs", "overlay2"]
    } else {
        assert!(!in_ci(), "CI=true but not root: the overlay2 build tests cannot run");
        eprintln!("note: not root: overlay2 build tests skipped");
        vec!["vfs"]
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub driver: &'static str,
}

impl Env {
    pub fn new(driver: &'static str) -> Env {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new().prefix("build").tempdir_in(base).unwrap();
        let store = Store::open(&StoreOpts {
            root: dir.path().join("root"),
            run_root: dir.path().join("run"),
            driver: Some(driver.to_string()),
        })
        .unwrap();
        busybox_image(&store);
        Env { dir, store, driver }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A context directory `name` with `files` (path, content, mode).
    pub fn context(&self, name: &str, dockerfile: &str, files: &[(&str, &str, u32)]) -> PathBuf {
        let ctx = self.path(name);
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        for (p, data, mode) in files {
            write_file(&ctx.join(p), data, *mode);
        }
        ctx
    }

    /// Build; the image and the output.
    pub fn build(&self, opts: &BuildOpts) -> Result<(Image, String), (strata_build::BuildError, String)> {
        let mut out = Vec::new();
        let r = strata_build::build(&self.store, opts, &mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        match r {
            Ok(img) => Ok((img, text)),
            Err(e) => Err((e, text)),
        }
    }

    pub fn build_ok(&self, opts: &BuildOpts) -> (Image, String) {
        match self.build(opts) {
            Ok(v) => v,
            Err((e, out)) => panic!("build failed: {e}\n--- output ---\n{out}"),
        }
    }

    /// Containers left in the store.
    pub fn containers(&self) -> usize {
        self.store.containers().unwrap().len()
    }
}

pub fn opts(ctx: &Path) -> BuildOpts {
    BuildOpts::new(ContextSource::Dir(ctx.to_path_buf()))
}

pub fn tagged(ctx: &Path, tag: &str) -> BuildOpts {
    BuildOpts { tags: vec![Reference::parse(tag).unwrap()], ..opts(ctx) }
}

pub fn write_file(p: &Path, data: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A busybox image `busybox:latest`: /bin/busybox plus applet links,
/// /etc/passwd (root, app 1000:1000) and /etc/group (root, app, staff 50).
pub fn busybox_image(s: &Store) -> Image {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, data: &[u8], mode: u32, link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    };
    use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
    let busybox = std::fs::read("/bin/busybox").unwrap_or_else(|_| b"not busybox".to_vec());
    add("bin/", D, b"", 0o755, None);
    add("bin/busybox", F, &busybox, 0o755, None);
    for a in APPLETS {
        add(&format!("bin/{a}"), L, b"", 0o777, Some("busybox"));
    }
    add("etc/", D, b"", 0o755, None);
    add("etc/passwd", F, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n", 0o644, None);
    add("etc/group", F, b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n", 0o644, None);
    add("tmp/", D, b"", 0o1777, None);
    add("root/", D, b"", 0o700, None);
    let layer = s.put_layer(None, &b.into_inner().unwrap()[..], None).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:busybox in / "}]
    });
    s.create_image(&serde_json::to_vec(&config).unwrap(), &[Reference::parse("busybox:latest").unwrap()]).unwrap()
}

/// One entry of a layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub kind: char,
    pub data: String,
}

/// The entries of the image's top layer.
pub fn top_layer(store: &Store, img: &Image) -> BTreeMap<String, Entry> {
    let top = img.top_layer.as_ref().expect("image has layers");
    layer_entries(store, &store.layer(top).unwrap())
}

pub fn layer_entries(store: &Store, layer: &strata_store::Layer) -> BTreeMap<String, Entry> {
    let mut buf = Vec::new();
    store.layer_tar(layer, &mut buf).unwrap();
    let mut a = tar::Archive::new(&buf[..]);
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let h = e.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Regular => 'f',
            _ => '?',
        };
        let mut bytes = Vec::new();
        if kind == 'f' {
            e.read_to_end(&mut bytes).unwrap();
        }
        let data = String::from_utf8_lossy(&bytes).into_owned();
        out.insert(
            path.clone(),
            Entry { path, mode: h.mode().unwrap() & 0o7777, uid: h.uid().unwrap(), gid: h.gid().unwrap(), kind, data },
        );
    }
    out
}

/// The history `created_by` texts of an image.
pub fn history(img: &Image) -> Vec<(String, bool)> {
    img.config.history.iter().map(|h| (h.created_by.clone().unwrap_or_default(), h.empty_layer)).collect()
}
