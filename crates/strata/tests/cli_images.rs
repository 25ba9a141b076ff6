//! The image commands through the real binary, on a vfs store in a temporary
//! root (unprivileged): `import`, `images`, `tag`, `rmi`, `history`, `inspect`,
//! `image prune`, `save`/`load`. Output is compared exactly, except the
//! CREATED column, which depends on the clock.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod support;
use support::{Env, add_file, layer_tar, sha256_hex, strata_bin};

/// Run with `input` on stdin.
fn run_in(t: &Env, args: &[&str], input: &[u8]) -> Output {
    let mut child =
        t.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Assert success and return stdout, untrimmed.
fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed ({:?}): {}{}", o.status.code(), stdout(&o), stderr(&o));
    stdout(&o)
}

/// A rootfs tar with one file of `size` bytes.
fn rootfs(name: &str, size: usize) -> Vec<u8> {
    layer_tar(|b| add_file(b, name, &vec![b'x'; size], 0o755))
}

/// `import - REF` from an in-memory tar; returns the image id.
fn import(t: &Env, tar: &[u8], reference: Option<&str>) -> String {
    let mut args = vec!["import", "-"];
    args.extend(reference);
    let out = ok(run_in(t, &args, tar));
    let id = out.trim_end().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "import printed {out:?}");
    assert_eq!(out, format!("{id}\n"));
    id
}

fn short(id: &str) -> &str {
    &id[7..19]
}

/// go-units' human size for the test's small numbers (no rounding up to the
/// next unit): `human(2048, 3)` = `2.05kB`, `human(2048, 4)` = `2.048kB`.
fn human(n: usize, precision: usize) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let (mut v, mut i) = (n as f64, 0);
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v < 1.0 { 1 } else { v.log10().floor() as usize + 1 };
    let s = format!("{:.*}", precision.saturating_sub(int_digits), v);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{}", units[i])
}

/// Table rows split into cells (cells are separated by 3+ spaces).
fn cells(line: &str) -> Vec<String> {
    line.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

#[test]
fn import_then_images_lists_one_row_per_tag() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/busybox", 4_250_000);
    let id = import(&t, &tar, Some("busybox:latest"));
    ok(t.run(&["tag", "busybox", "foo/bar:1.0"]));
    let dangling = import(&t, &rootfs("etc/hostname", 10), None);

    let out = ok(t.run(&["images"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED "), "{out}");
    assert!(lines[0].ends_with("   SIZE"), "{out}");
    let mut rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
    rows.sort();
    let size = human(tar.len(), 3);
    assert_eq!(rows[0][..3], ["<none>", "<none>", short(&dangling)]);
    assert_eq!(rows[0][4], "2.05kB");
    assert_eq!(rows[1][..3], ["busybox", "latest", short(&id)]);
    assert_eq!(rows[1][4], size);
    assert_eq!(rows[2][..3], ["foo/bar", "1.0", short(&id)]);
    assert!(rows[2][3].ends_with(" ago"), "{:?}", rows[2]);

    // -q: each image once.
    let mut q: Vec<String> = ok(t.run(&["images", "-q"])).lines().map(String::from).collect();
    q.sort();
    let mut want = vec![short(&id).to_string(), short(&dangling).to_string()];
    want.sort();
    assert_eq!(q, want);

    let mut names: Vec<String> =
        ok(t.run(&["images", "--format", "{{.Repository}}:{{.Tag}}"])).lines().map(String::from).collect();
    names.sort();
    assert_eq!(names, ["<none>:<none>", "busybox:latest", "foo/bar:1.0"]);

    // --no-trunc shows the full id.
    assert!(ok(t.run(&["images", "--no-trunc", "busybox"])).contains(&id));
}

#[test]
fn images_format_json_has_dockers_keys() {
    let t = Env::new("vfs");
    let id = import(&t, &rootfs("a", 100), Some("busybox:latest"));
    let out = ok(t.run(&["images", "--format", "json"]));
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(out.trim_end()).unwrap();
    let keys: Vec<&str> = v.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Containers",
            "CreatedAt",
            "CreatedSince",
            "Digest",
            "ID",
            "Repository",
            "SharedSize",
            "Size",
            "Tag",
            "UniqueSize",
            "VirtualSize"
        ]
    );
    assert_eq!(v["ID"], short(&id));
    assert_eq!(v["Repository"], "busybox");
    assert_eq!(v["Tag"], "latest");
    assert_eq!(v["Containers"], "N/A");
    assert_eq!(v["Size"], "2.05kB");
    assert_eq!(v["VirtualSize"], "2.048kB");
    // `<none>` is HTML-escaped, exactly as the docker CLI prints it.
    assert!(out.contains(r#""Digest":"\u003cnone\u003e""#), "{out}");
}

#[test]
fn images_filters_and_table_formats() {
    let t = Env::new("vfs");
    import(&t, &rootfs("a", 1), Some("busybox:latest"));
    import(&t, &rootfs("b", 2), Some("alpine:3"));
    let none = import(&t, &rootfs("c", 3), None);

    let only = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ok(t.run(args)).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(only(&["images", "-q", "-f", "dangling=true"]), [short(&none)]);
    assert_eq!(only(&["images", "--format", "{{.Repository}}", "-f", "dangling=false"]), ["alpine", "busybox"]);
    assert_eq!(only(&["images", "--format", "{{.Repository}}", "busy*"]), ["busybox"]);
    assert_eq!(only(&["images", "--format", "{{.Repository}}", "--filter", "reference=alpine:3"]), ["alpine"]);
    assert_eq!(
        ok(t.run(&["images", "--format", "table {{.Repository}}\\t{{.Tag}}", "busybox"])),
        "REPOSITORY   TAG\nbusybox      latest\n"
    );
    assert_eq!(
        ok(t.run(&["images", "--digests", "--format", "table {{.Repository}}\\t{{.Tag}}", "alpine"])),
        "REPOSITORY   TAG       DIGEST\nalpine       3         <none>\n"
    );
    let bad = t.run(&["images", "-f", "color=blue"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr(&bad), "Error: invalid filter 'color'\n");
    let bad = t.run(&["images", "-f", "dangling"]);
    assert_eq!(bad.status.code(), Some(125), "{}", stderr(&bad));
    let bad = t.run(&["images", "--format", "{{.Nope}}"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).starts_with("Error: template parsing error: "), "{}", stderr(&bad));
}

#[test]
fn tag_and_rmi_print_dockers_lines() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/sh", 1000);
    let id = import(&t, &tar, Some("busybox:latest"));
    assert_eq!(ok(t.run(&["tag", "busybox", "foo/bar:1.0"])), "");
    assert_eq!(ok(t.run(&["image", "tag", short(&id), "localhost:5000/x/y"])), "");

    // A tag of an image with other tags is only untagged.
    assert_eq!(ok(t.run(&["rmi", "foo/bar:1.0"])), "Untagged: foo/bar:1.0\n");
    assert_eq!(ok(t.run(&["image", "rm", "localhost:5000/x/y:latest"])), "Untagged: localhost:5000/x/y:latest\n");
    // The last tag deletes the image and its layer (the layer's ChainID = DiffID).
    let layer = format!("sha256:{}", sha256_hex(&tar));
    assert_eq!(ok(t.run(&["rmi", "busybox"])), format!("Untagged: busybox:latest\nDeleted: {id}\nDeleted: {layer}\n"));
    assert_eq!(ok(t.run(&["images", "-q"])), "");

    // Missing images: reported, exit 1; the others are still removed.
    let missing = t.run(&["rmi", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stdout(&missing), "");
    assert_eq!(stderr(&missing), "Error: No such image: nope\n");
    import(&t, &tar, Some("busybox:latest"));
    let mixed = t.run(&["rmi", "nope", "busybox:latest"]);
    assert_eq!(mixed.status.code(), Some(1));
    assert!(stdout(&mixed).starts_with("Untagged: busybox:latest\nDeleted: sha256:"), "{}", stdout(&mixed));
    assert_eq!(stderr(&mixed), "Error: No such image: nope\n");
    // -f forgives names that do not exist.
    let forced = t.run(&["rmi", "-f", "nope"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(stderr(&forced), "Error: No such image: nope\n");

    // tag: missing source, bad target.
    let o = t.run(&["tag", "nope", "x:1"]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: No such image: nope\n".to_string()));
    import(&t, &tar, Some("busybox:latest"));
    let o = t.run(&["tag", "busybox", "Bad:Name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Error: invalid reference format"), "{}", stderr(&o));
}

#[test]
fn history_shows_dockers_columns() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/sh", 3000);
    let id = import(&t, &tar, Some("busybox:latest"));
    let out = ok(t.run(&["history", "busybox"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header = cells(lines[0]);
    assert_eq!(header, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    let row = cells(lines[1]);
    assert_eq!(row[0], short(&id));
    assert!(row[1].ends_with(" ago"), "{row:?}");
    // CREATED BY is empty for an imported layer.
    assert_eq!(row[2..], [human(tar.len(), 3), "Imported from -".to_string()]);

    let out = ok(t.run(&["history", "-H=false", "--format", "{{.Size}}|{{.CreatedBy}}|{{.Comment}}", "busybox"]));
    assert_eq!(out, format!("{}||Imported from -\n", tar.len()));
    assert_eq!(ok(t.run(&["history", "-q", "busybox"])), format!("{}\n", short(&id)));
    assert_eq!(ok(t.run(&["image", "history", "-q", "--no-trunc", "busybox"])), format!("{id}\n"));
    let json = ok(t.run(&["history", "--format", "json", "busybox"]));
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(
        v.keys().map(String::as_str).collect::<Vec<_>>(),
        ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]
    );

    // -m sets the comment.
    let out = ok(run_in(&t, &["import", "-m", "my message", "-", "msg:1"], &tar));
    assert!(out.starts_with("sha256:"));
    assert_eq!(ok(t.run(&["history", "--format", "{{.Comment}}", "msg:1"])), "my message\n");
}

/// Members of a tar archive in memory.
fn tar_members(data: &[u8]) -> std::collections::HashMap<String, Vec<u8>> {
    use std::io::Read;
    let mut out = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        out.insert(name, buf);
    }
    out
}

#[test]
fn inspect_prints_dockers_document() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/sh", 2000);
    let id = import(&t, &tar, Some("busybox:latest"));
    let out = ok(t.run(&["image", "inspect", "busybox"]));
    // Indented by four spaces, as `docker inspect`.
    assert!(out.starts_with("[\n    {\n        \"Id\": \""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let doc = v.as_array().unwrap()[0].as_object().unwrap();
    let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ]
    );
    assert_eq!(doc["Id"], id);
    assert_eq!(doc["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(doc["RepoDigests"], serde_json::json!([]));
    assert_eq!(doc["Size"], tar.len());
    assert_eq!(doc["GraphDriver"]["Name"], "vfs");
    assert_eq!(
        doc["RootFS"],
        serde_json::json!({"Type": "layers", "Layers": [format!("sha256:{}", sha256_hex(&tar))]})
    );
    assert_eq!(doc["Config"]["Cmd"], serde_json::Value::Null);
    assert_eq!(doc["Comment"], "Imported from -");

    // The Id is the digest of the config, as `save` writes it.
    let saved = Command::new(strata_bin()).args(t.global()).args(["save", "busybox"]).output().unwrap();
    assert!(saved.status.success(), "{}", String::from_utf8_lossy(&saved.stderr));
    let members = tar_members(&saved.stdout);
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let config = &members[manifest[0]["Config"].as_str().unwrap()];
    assert_eq!(id, format!("sha256:{}", sha256_hex(config)));

    // Templates, `json`, and the top-level command.
    assert_eq!(ok(t.run(&["inspect", "-f", "{{.Id}} {{.GraphDriver.Name}}", "busybox"])), format!("{id} vfs\n"));
    let compact = ok(t.run(&["inspect", "--format", "json", short(&id)]));
    assert!(compact.starts_with("[{\"Id\":"), "{compact}");
    assert_eq!(
        ok(t.run(&["inspect", "--type", "image", "-f", "{{json .RepoTags}}", "busybox"])),
        "[\"busybox:latest\"]\n"
    );

    // Not found: `[]` on stdout, the error on stderr, exit 1.
    let o = t.run(&["image", "inspect", "nope"]);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (Some(1), "[]\n".into(), "Error: No such image: nope\n".into())
    );
    let o = t.run(&["inspect", "nope"]);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (Some(1), "[]\n".into(), "Error: No such object: nope\n".into())
    );
    let o = t.run(&["inspect", "busybox", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(&id));
}

#[test]
fn import_applies_changes() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/sh", 10);
    let out =
        ok(run_in(&t, &["import", "-c", "CMD [\"sh\"]", "--change", "ENV A=1", "-c", "LABEL k=v", "-", "chg:1"], &tar));
    assert!(out.starts_with("sha256:"));
    let cfg = ok(t.run(&[
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{index .Config.Labels \"k\"}}",
        "chg:1",
    ]));
    assert_eq!(cfg, "[\"sh\"] [\"A=1\"] v\n");
    let bad = run_in(&t, &["import", "-c", "BOGUS x", "-", "bad:1"], &tar);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).starts_with("Error: "), "{}", stderr(&bad));
    // A missing file.
    let o = t.run(&["import", "/nonexistent/rootfs.tar"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Error: open /nonexistent/rootfs.tar: "), "{}", stderr(&o));
}

#[test]
fn save_and_load_round_trip() {
    let t = Env::new("vfs");
    let tar = rootfs("bin/sh", 5000);
    let id = import(&t, &tar, Some("busybox:latest"));
    let file = t.dir.path().join("out.tar");
    assert_eq!(ok(t.run(&["save", "-o", file.to_str().unwrap(), "busybox"])), "");
    ok(t.run(&["rmi", "busybox"]));
    assert_eq!(ok(t.run(&["load", "-i", file.to_str().unwrap()])), "Loaded image: busybox:latest\n");
    assert_eq!(ok(t.run(&["images", "-q", "--no-trunc"])), format!("{id}\n"));

    // From stdin, quietly.
    ok(t.run(&["rmi", "busybox"]));
    let data = std::fs::read(&file).unwrap();
    assert_eq!(ok(run_in(&t, &["load", "-q"], &data)), "Loaded image: busybox:latest\n");

    // A failed save leaves an existing file alone, and no staging file behind.
    std::fs::write(&file, b"precious").unwrap();
    let o = t.run(&["save", "-o", file.to_str().unwrap(), "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Error: "), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    let names: Vec<String> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("strata-")), "{names:?}");

    let o = t.run(&["load", "-i", "/nonexistent.tar"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn image_prune_removes_dangling_images() {
    let t = Env::new("vfs");
    import(&t, &rootfs("keep", 10), Some("keep:1"));
    let tar = rootfs("dangling", 20);
    let dangling = import(&t, &tar, None);

    // Declining the prompt changes nothing.
    let o = run_in(&t, &["image", "prune"], b"n\n");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ");
    assert_eq!(ok(t.run(&["images", "-q"])).lines().count(), 2);

    let out = ok(run_in(&t, &["image", "prune"], b"y\n"));
    let layer = format!("sha256:{}", sha256_hex(&tar));
    let size = human(tar.len(), 4);
    assert_eq!(
        out,
        format!(
            "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] \
             Deleted Images:\ndeleted: {dangling}\ndeleted: {layer}\n\nTotal reclaimed space: {size}\n"
        )
    );
    assert_eq!(ok(t.run(&["images", "--format", "{{.Repository}}"])), "keep\n");
    assert_eq!(ok(t.run(&["image", "prune", "-f"])), "Total reclaimed space: 0B\n");

    // -a removes tagged images too.
    let out = ok(t.run(&["image", "prune", "-a", "-f"]));
    assert!(out.starts_with("Deleted Images:\nuntagged: keep:1\ndeleted: sha256:"), "{out}");
    assert_eq!(ok(t.run(&["images", "-q"])), "");
}
