//! Ctrl-C during a RUN: the build stops at once with "build interrupted",
//! the running step container is killed and removed, the helper image too.
//!
//! Its own binary (the signal goes to the whole process) with its own
//! `main`: the RUN container's monitor is this binary re-exec'd. Privileged
//! tier (root, runc, busybox); under `CI=true` a missing one fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use strata_build::BuildError;
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
    let trials = vec![Trial::test("sigint_during_run_cleans_up", || {
        sigint_during_run_cleans_up();
        Ok::<(), Failed>(())
    })];
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

fn usable() -> bool {
    let ok = strata_sys::probe::is_root()
        && strata_runtime::runc::find_runc().is_some()
        && Path::new("/bin/busybox").is_file();
    assert!(ok || !in_ci(), "needs root, runc and /bin/busybox, and CI=true forbids skipping privileged tests");
    if !ok {
        eprintln!("note: skipping: needs root, runc and /bin/busybox");
    }
    ok
}

fn sigint_during_run_cleans_up() {
    if !usable() {
        return;
    }
    for driver in drivers() {
        let env = Env::new(driver);
        let ctx = env.context("int", "FROM busybox\nVOLUME /v\nRUN echo started && sleep 60\n", &[]);
        let pid = std::process::id();
        // SIGINT once the RUN's container runs (the runtime's pid file exists).
        let run_root = env.path("run");
        let sender = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let running = std::fs::read_dir(run_root.join("containers"))
                    .map(|d| d.flatten().any(|e| e.path().join("pid").exists()))
                    .unwrap_or(false);
                if running || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_millis(300));
            std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
        });
        let t0 = Instant::now();
        let (e, out) = env.build(&opts(&ctx)).unwrap_err();
        sender.join().unwrap();
        assert!(matches!(e, BuildError::Interrupted), "{e}\n{out}");
        assert!(t0.elapsed() < Duration::from_secs(40), "the sleep was killed, not waited for");
        assert_eq!(env.containers(), 0, "the step container is removed");
        let helpers = env
            .store
            .images()
            .unwrap()
            .into_iter()
            .filter(|i| i.config.config.labels.as_ref().is_some_and(|l| l.contains_key(strata_build::OWNER_LABEL)))
            .count();
        assert_eq!(helpers, 0);
        assert!(env.store.volumes().unwrap().is_empty());
    }
}
