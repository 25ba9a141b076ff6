//! `info`, `system df`, `system check` and `version` through the real binary
//! on a vfs store in a temporary root.

use std::io::Write;
use std::process::{Output, Stdio};

mod support;
use support::{Env, add_file, layer_tar};

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed ({:?}): {}{}", o.status.code(), stdout(&o), stderr(&o));
    stdout(&o)
}

/// Import a one-file rootfs as `reference`; returns the tar's length.
fn import(t: &Env, name: &str, size: usize, reference: &str) -> usize {
    let tar = layer_tar(|b| add_file(b, name, &vec![7u8; size], 0o644));
    let mut child = t
        .cmd()
        .args(["import", "-", reference])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    ok(child.wait_with_output().unwrap());
    tar.len()
}

#[test]
fn info_reports_driver_and_counts() {
    let t = Env::new("vfs");
    import(&t, "a", 10, "busybox:latest");
    let out = ok(t.run(&["info"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..8],
        [
            "Containers: 0",
            " Running: 0",
            " Paused: 0",
            " Stopped: 0",
            "Images: 1",
            "Volumes: 0",
            &format!("Server Version: {}", env!("CARGO_PKG_VERSION")),
            "Storage Driver: vfs",
        ]
    );
    assert!(lines.contains(&format!("Strata Root Dir: {}", t.root.display()).as_str()), "{out}");
    assert!(lines.contains(&format!("Run Root Dir: {}", t.run_root.display()).as_str()), "{out}");
    assert!(lines.contains(&"OSType: linux"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("Kernel Version: ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("CPUs: ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("Total Memory: ") && l.ends_with("iB")), "{out}");
    // Driver status lines sit under the driver, indented by one space.
    let driver_at = lines.iter().position(|l| *l == "Storage Driver: vfs").unwrap();
    assert!(lines[driver_at + 1].starts_with(' '), "{out}");

    let json = ok(t.run(&["info", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["Driver"], "vfs");
    assert_eq!(v["Images"], 1);
    assert_eq!(v["Containers"], 0);
    assert_eq!(v["DockerRootDir"], t.root.display().to_string());
    assert_eq!(v["OSType"], "linux");
    assert!(v["DriverStatus"].as_array().unwrap().iter().all(|p| p.as_array().unwrap().len() == 2));
    assert_eq!(ok(t.run(&["system", "info", "-f", "{{.Driver}} {{.Images}}"])), "vfs 1\n");
    let bad = t.run(&["info", "--format", "{{.Nope"]);
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn system_df_summarises_images() {
    let t = Env::new("vfs");
    let empty = ok(t.run(&["system", "df"]));
    assert_eq!(
        empty,
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
         Images          0         0         0B        0B\n\
         Containers      0         0         0B        0B\n\
         Local Volumes   0         0         0B        0B\n\
         Build Cache     0         0         0B        0B\n"
    );
    // 512-byte header + 1000 bytes of data (padded to 1024) + 1024-byte trailer = 2560 bytes.
    let n = import(&t, "a", 1000, "one:1");
    assert_eq!(n, 2560);
    import(&t, "b", 1000, "two:1");
    let out = ok(t.run(&["system", "df"]));
    assert_eq!(
        out,
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
         Images          2         0         5.12kB    5.12kB (100%)\n\
         Containers      0         0         0B        0B\n\
         Local Volumes   0         0         0B        0B\n\
         Build Cache     0         0         0B        0B\n"
    );
    let json = ok(t.run(&["system", "df", "--format", "json"]));
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"Active": "0", "Reclaimable": "5.12kB (100%)", "Size": "5.12kB", "TotalCount": "2", "Type": "Images"})
    );

    let v = ok(t.run(&["system", "df", "-v"]));
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines[0], "Images space usage:");
    assert_eq!(lines[1], "");
    assert!(lines[2].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"), "{v}");
    assert!(lines[2].ends_with("SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS"), "{v}");
    let row: Vec<&str> = lines[3].split("   ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(row[row.len() - 4..], ["2.56kB", "0B", "2.56kB", "0"]);
    assert!(v.contains("\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED   STATUS    NAMES\n"), "{v}");
    assert!(v.contains("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n"), "{v}");
    assert!(
        v.ends_with(
            "\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"
        ),
        "{v}"
    );
}

#[test]
fn system_df_counts_shared_layers_once() {
    let t = Env::new("vfs");
    import(&t, "a", 1000, "one:1");
    // Same content, another image: the layer is stored (and counted) once.
    import(&t, "a", 1000, "one:2");
    let v = ok(t.run(&["system", "df", "--format", "{{.Type}} {{.Size}}"]));
    assert_eq!(v.lines().next(), Some("Images 2.56kB"));
}

#[test]
fn system_check_on_a_clean_store() {
    let t = Env::new("vfs");
    import(&t, "a", 100, "x:1");
    let o = t.run(&["system", "check"]);
    assert_eq!((o.status.code(), stdout(&o), stderr(&o)), (Some(0), String::new(), "No problems found\n".into()));
    let o = t.run(&["system", "check", "--quick"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn system_check_finds_and_repairs_damaged_layers() {
    let t = Env::new("vfs");
    import(&t, "etc/data", 100, "x:1");
    // Damage the layer behind the store's back.
    let dirs: Vec<_> = std::fs::read_dir(t.root.join("vfs/dir")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1);
    std::fs::remove_file(dirs[0].join("etc/data")).unwrap();

    // --quick does not re-hash content.
    assert_eq!(t.run(&["system", "check", "--quick"]).status.code(), Some(0));
    let o = t.run(&["system", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("layer sha256:"), "{}", stdout(&o));
    assert!(stdout(&o).contains("content damaged"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "Error: 1 problem found; run \"strata system check --repair\" to fix them\n");
    let o = t.run(&["system", "check", "--repair"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("\nRepaired: removed image sha256:"), "{}", stdout(&o));
    assert!(stdout(&o).contains("\nRepaired: removed layer sha256:"), "{}", stdout(&o));
    assert_eq!(ok(t.run(&["images", "-q"])), "");
    assert_eq!(t.run(&["system", "check"]).status.code(), Some(0));
}

#[test]
fn version_prints_the_client_version() {
    let t = Env::new("vfs");
    let out = ok(t.run(&["version"]));
    assert!(out.starts_with(&format!("Client:\n Version:           {}\n", env!("CARGO_PKG_VERSION"))), "{out}");
    assert_eq!(ok(t.run(&["version", "--format", "{{.Client.Version}}"])), format!("{}\n", env!("CARGO_PKG_VERSION")));
    let v = ok(t.run(&["--version"]));
    assert!(v.contains(env!("CARGO_PKG_VERSION")), "{v}");
}
