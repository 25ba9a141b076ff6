//! RUN on a real OCI runtime (runc), with a busybox image made in the test:
//! output and layers, a failing command's message (and no container left),
//! build args in RUN's environment and history, BuildKit's build-time VOLUME,
//! the cache, USER/WORKDIR/ENV of the stage.
//!
//! Privileged tier: needs root, runc and /bin/busybox. With `CI=true` a
//! missing one fails the test instead of skipping it.
//!
//! Our own `main` (libtest-mimic): RUN's container monitor is this very
//! binary re-exec'd as `<test> --root R --run-root RR __monitor <id>`, the
//! shape the CLI dispatches.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use strata_build::{BuildError, BuildOpts};
use strata_store::StoreOpts;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "__monitor") {
        let value = |flag: &str| -> PathBuf {
            let i = args.iter().position(|a| a == flag).expect(flag);
            PathBuf::from(&args[i + 1])
        };
        let opts = StoreOpts { root: value("--root"), run_root: value("--run-root"), driver: None };
        std::process::exit(strata_runtime::monitor::run(&opts, &args[i + 1]));
    }
    type Test = fn(&'static str);
    let tests: Vec<(&str, Test)> = vec![
        ("run_output_and_layer", run_output_and_layer),
        ("failing_run_message_and_cleanup", failing_run_message_and_cleanup),
        ("run_sees_build_args_env_user_workdir", run_sees_build_args_env_user_workdir),
        ("buildkit_volume_semantics", buildkit_volume_semantics),
        ("run_cache_and_exec_form", run_cache_and_exec_form),
    ];
    let mut trials = Vec::new();
    for (name, f) in tests {
        for driver in drivers() {
            trials.push(Trial::test(format!("{name}::{driver}"), move || {
                if usable(name) {
                    f(driver);
                }
                Ok::<(), Failed>(())
            }));
        }
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// The privileged gate: root, runc, busybox; fail under CI, skip elsewhere.
fn usable(test: &str) -> bool {
    let missing = if !strata_sys::probe::is_root() {
        Some("root")
    } else if strata_runtime::runc::find_runc().is_none() {
        Some("runc (apt-get install runc)")
    } else if !Path::new("/bin/busybox").is_file() {
        Some("/bin/busybox (apt-get install busybox-static)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(m) => {
            assert!(!in_ci(), "{test}: needs {m}, and CI=true forbids skipping privileged tests");
            eprintln!("note: skipping {test}: needs {m}");
            false
        }
    }
}

fn run_output_and_layer(driver: &'static str) {
    let env = Env::new(driver);
    let ctx = env.context(
        "run",
        "FROM busybox\nRUN echo hello from run && echo to stderr >&2 && mkdir -p /made && echo x > /made/f\nRUN true\n",
        &[],
    );
    let (img, out) = env.build_ok(&tagged(&ctx, "ran"));
    assert!(out.contains("Step 2/3 : RUN echo hello"), "{out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("hello from run\n"), "{out}");
    assert!(out.contains("to stderr\n"), "{out}");
    assert!(out.contains("Removing intermediate container "), "{out}");
    assert_eq!(img.config.rootfs.diff_ids.len(), 2, "`RUN true` changes nothing: no layer");
    let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    let l = layer_entries(&env.store, &chain[1]);
    assert_eq!(l["made/f"].data, "x\n");
    assert!(
        !l.contains_key("etc/hosts") && !l.contains_key(".dockerenv"),
        "init-layer files are not in the layer: {l:#?}"
    );
    let h = history(&img);
    assert_eq!(h[1].0, "/bin/sh -c echo hello from run && echo to stderr >&2 && mkdir -p /made && echo x > /made/f");
    assert!(!h[1].1);
    assert_eq!(h[2], ("/bin/sh -c true".to_string(), true));
    assert_eq!(env.containers(), 0);
}

fn failing_run_message_and_cleanup(driver: &'static str) {
    let env = Env::new(driver);
    let ctx = env.context("fail", "FROM busybox\nVOLUME /v\nRUN false\n", &[]);
    let (e, out) = env.build(&opts(&ctx)).unwrap_err();
    assert_eq!(e.to_string(), "The command '/bin/sh -c false' returned a non-zero code: 1", "{out}");
    assert!(matches!(e, BuildError::CommandFailed { code: 1, .. }));
    assert_eq!(e.exit_code(), 1);
    assert_eq!(env.containers(), 0, "the failed step's container is removed");
    let helpers = env
        .store
        .images()
        .unwrap()
        .into_iter()
        .filter(|i| i.config.config.labels.as_ref().is_some_and(|l| l.contains_key(strata_build::OWNER_LABEL)))
        .count();
    assert_eq!(helpers, 0, "the helper image is removed");
    assert!(env.store.volumes().unwrap().is_empty());
    // A command that cannot be run at all.
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN [\"/nonexistent\"]\n").unwrap();
    let (e, _) = env.build(&opts(&ctx)).unwrap_err();
    assert!(e.to_string().contains("/nonexistent"), "{e}");
    assert_eq!(env.containers(), 0);
}

fn run_sees_build_args_env_user_workdir(driver: &'static str) {
    let env = Env::new(driver);
    let ctx = env.context(
        "env",
        "FROM busybox\nARG GREETING=hi\nENV WHO=world\nWORKDIR /work\nUSER app\nRUN echo \"$GREETING $WHO $(id -u) $(pwd) $HTTP_PROXY\" > /tmp/out && cat /tmp/out\n",
        &[],
    );
    let mut args = BTreeMap::new();
    args.insert("GREETING".to_string(), "hello".to_string());
    args.insert("HTTP_PROXY".to_string(), "http://p:1".to_string());
    let (img, out) = env.build_ok(&BuildOpts { build_args: args, ..opts(&ctx) });
    assert!(out.contains("hello world 1000 /work http://p:1\n"), "{out}");
    let h = history(&img);
    // Declared args are in the history (and the cache key); the proxy is not.
    assert_eq!(
        h.last().unwrap().0,
        "|1 GREETING=hello /bin/sh -c echo \"$GREETING $WHO $(id -u) $(pwd) $HTTP_PROXY\" > /tmp/out && cat /tmp/out"
    );
    let l = top_layer(&env.store, &img);
    assert_eq!(l["tmp/out"].uid, 1000);
    assert!(!img.config.config.env.clone().unwrap().iter().any(|e| e.starts_with("GREETING")));
}

fn buildkit_volume_semantics(driver: &'static str) {
    // docker-behaviour.md §2.1's Dockerfile: BuildKit keeps after.txt.
    let env = Env::new(driver);
    let ctx = env.context(
        "vol",
        "FROM busybox\nRUN mkdir -p /data && echo image-data > /data/f.txt\nADD htdocs /usr/local/apache2/htdocs\nVOLUME /usr/local/apache2/htdocs\nRUN echo after-volume > /usr/local/apache2/htdocs/after.txt && echo x > /notvol.txt\n",
        &[("htdocs/index.html", "index\n", 0o644)],
    );
    let (img, _) = env.build_ok(&opts(&ctx));
    let l = top_layer(&env.store, &img);
    assert_eq!(l["usr/local/apache2/htdocs/after.txt"].data, "after-volume\n");
    assert_eq!(l["notvol.txt"].data, "x\n");
    assert!(env.store.volumes().unwrap().is_empty(), "no volume was mounted during the build");
    assert_eq!(env.containers(), 0);
}

fn run_cache_and_exec_form(driver: &'static str) {
    let env = Env::new(driver);
    let ctx = env.context("cache", "FROM busybox\nRUN [\"/bin/sh\", \"-c\", \"echo $$ > /pid\"]\n", &[]);
    let (a, _) = env.build_ok(&opts(&ctx));
    let (b, out) = env.build_ok(&opts(&ctx));
    assert_eq!(a.id, b.id);
    assert!(out.contains(" ---> Using cache"), "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(history(&a)[1].0, "/bin/sh -c echo $$ > /pid");
    let mut args = BTreeMap::new();
    args.insert("X".to_string(), "1".to_string());
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nARG X\nRUN [\"/bin/sh\", \"-c\", \"echo $$ > /pid\"]\n")
        .unwrap();
    let (c, _) = env.build_ok(&BuildOpts { build_args: args.clone(), ..opts(&ctx) });
    args.insert("X".to_string(), "2".to_string());
    let (d, out) = env.build_ok(&BuildOpts { build_args: args, ..opts(&ctx) });
    assert_ne!(c.id, d.id, "another build-arg value is another RUN");
    assert_eq!(out.matches("Using cache").count(), 1, "only ARG hits: {out}");
}
