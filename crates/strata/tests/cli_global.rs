//! Global options and their environment variables, driver selection errors,
//! usage errors and help, through the real binary.

use std::process::{Command, Output};

mod support;
use support::{Env, strata_bin};

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The binary with no global flags and none of our variables inherited.
fn bare() -> Command {
    let mut c = Command::new(strata_bin());
    for v in ["STRATA_ROOT", "STRATA_RUN_ROOT", "STRATA_STORAGE_DRIVER", "STRATA_LOG_LEVEL"] {
        c.env_remove(v);
    }
    c
}

#[test]
fn env_vars_work_like_the_flags() {
    let t = Env::new("vfs");
    let tar = support::layer_tar(|b| support::add_file(b, "f", b"x", 0o644));
    let tarfile = t.dir.path().join("rootfs.tar");
    std::fs::write(&tarfile, &tar).unwrap();
    let o = t.run(&["import", tarfile.to_str().unwrap(), "envtest:1"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = bare()
        .env("STRATA_ROOT", &t.root)
        .env("STRATA_RUN_ROOT", &t.run_root)
        .env("STRATA_STORAGE_DRIVER", "vfs")
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap();
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), "envtest:1\n".into()), "{}", stderr(&o));
    // The root keeps its driver: no -s needed once it exists.
    let o = bare()
        .env("STRATA_ROOT", &t.root)
        .env("STRATA_RUN_ROOT", &t.run_root)
        .args(["info", "-f", "{{.Driver}}"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "vfs\n", "{}", stderr(&o));
    // A flag wins over the variable.
    let other = t.dir.path().join("other-root");
    let o = bare()
        .env("STRATA_ROOT", &t.root)
        .args([
            "--root",
            other.to_str().unwrap(),
            "--run-root",
            t.run_root.to_str().unwrap(),
            "-s",
            "vfs",
            "images",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), String::new()));
    // STRATA_LOG_LEVEL is accepted and validated.
    let o = bare()
        .env("STRATA_ROOT", &t.root)
        .env("STRATA_RUN_ROOT", &t.run_root)
        .env("STRATA_LOG_LEVEL", "debug")
        .args(["images", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let o = bare().env("STRATA_LOG_LEVEL", "loud").args(["version"]).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn unsupported_driver_is_refused_naming_overlay2() {
    let t = Env::new("vfs");
    let o = bare()
        .args([
            "--root",
            t.root.to_str().unwrap(),
            "--run-root",
            t.run_root.to_str().unwrap(),
            "--storage-driver",
            "aufs",
            "images",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("Error: storage driver \"aufs\" is not supported"), "{err}");
    assert!(err.contains("overlay2"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn switching_the_driver_of_a_root_is_refused_with_the_reason() {
    let t = Env::new("vfs");
    assert!(t.run(&["images"]).status.success());
    let o = bare()
        .args([
            "--root",
            t.root.to_str().unwrap(),
            "--run-root",
            t.run_root.to_str().unwrap(),
            "-s",
            "overlay2",
            "images",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("Error: data root {} was created with storage driver \"vfs\"", t.root.display())),
        "{err}"
    );
    assert!(err.contains("refusing to use it with \"overlay2\""), "{err}");
}

#[test]
fn usage_errors_exit_125() {
    let t = Env::new("vfs");
    for args in [
        &["images", "--bogus"][..],
        &["--bogus", "images"],
        &["tag", "only-one"],
        &["rmi"],
        &["history"],
        &["nosuchcommand"],
    ] {
        let o = t.run(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
        assert!(stderr(&o).starts_with("error: "), "{args:?}: {}", stderr(&o));
    }
    let o = t.run(&["images", "--bogus"]);
    assert!(stderr(&o).contains("'--bogus'"), "{}", stderr(&o));
}

#[test]
fn help_exits_0_with_dockers_wording() {
    let o = bare().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for cmd in
        ["images", "image", "rmi", "tag", "history", "inspect", "info", "system", "import", "load", "save", "version"]
    {
        assert!(out.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing from:\n{out}");
    }
    assert!(out.contains("--storage-driver"), "{out}");
    assert!(out.contains("STRATA_ROOT"), "{out}");
    let o = bare().args(["images", "--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("List images"), "{out}");
    assert!(out.contains("Show all images (default hides intermediate images)"), "{out}");
    assert!(out.contains("Only show image IDs"), "{out}");
    let o = bare().args(["image", "prune", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("Remove all unused images, not just dangling ones"));
    // A command group without a subcommand prints its help.
    let o = bare().arg("image").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Manage images"));
    // No arguments at all: the top-level help.
    let o = bare().output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage:"));
}

#[test]
fn save_and_load_refuse_terminals_only() {
    // Without a terminal, `save` streams to stdout and `load` reads stdin.
    let t = Env::new("vfs");
    let o = t.cmd().args(["load"]).stdin(std::process::Stdio::null()).output().unwrap();
    // An empty stdin is not an archive.
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Error: "), "{}", stderr(&o));
}
