//! End-to-end builds on a real store (vfs always, overlay2 as root) that
//! need no container to run: the seed's data-packed volume container, ADD of
//! archives, COPY --chown / --chmod, multi-stage COPY --from, the cache,
//! ENV/ARG expansion, .dockerignore, WORKDIR, quiet mode, errors. RUN is in
//! tests/run.rs (it needs runc).

mod common;

use std::collections::BTreeMap;

use common::*;
use strata_build::{BuildError, BuildOpts, ContextSource};
use strata_store::Reference;
use strata_store::container::{ContainerSpec, MountKind};

const SEED: &str = "FROM busybox\nADD htdocs /usr/local/apache2/htdocs\nVOLUME /usr/local/apache2/htdocs\n";

fn seed_context(env: &Env) -> std::path::PathBuf {
    env.context(
        "seed",
        SEED,
        &[
            ("htdocs/index.html", "<h1>It works!</h1>\n", 0o644),
            ("htdocs/sub/page.html", "page\n", 0o600),
            ("htdocs/cgi.sh", "#!/bin/sh\n", 0o750),
        ],
    )
}

#[test]
fn seed_data_packed_volume_container() {
    for driver in drivers() {
        let env = Env::new(driver);
        let ctx = seed_context(&env);
        let (img, out) = env.build_ok(&tagged(&ctx, "vc"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Step 1/3 : FROM busybox", "{out}");
        let base = env.store.image("busybox").unwrap();
        assert_eq!(lines[1], format!(" ---> {}", base.id.short()));
        assert_eq!(lines[2], "Step 2/3 : ADD htdocs /usr/local/apache2/htdocs");
        assert_eq!(lines[4], "Step 3/3 : VOLUME /usr/local/apache2/htdocs");
        assert_eq!(lines[6], format!("Successfully built {}", img.id.short()));
        assert_eq!(lines[7], "Successfully tagged vc:latest");
        assert_eq!(lines.len(), 8, "{out}");

        // The config: the volume; the history: Docker's legacy texts.
        let vols = img.config.config.volumes.clone().unwrap();
        assert!(vols.contains_key("/usr/local/apache2/htdocs"));
        let h = history(&img);
        assert_eq!(h.len(), 3);
        assert!(h[1].0.starts_with("/bin/sh -c #(nop) ADD dir:"), "{:?}", h[1]);
        assert!(h[1].0.ends_with(" in /usr/local/apache2/htdocs "), "{:?}", h[1]);
        assert!(!h[1].1);
        assert_eq!(h[2], ("/bin/sh -c #(nop)  VOLUME [/usr/local/apache2/htdocs]".to_string(), true));
        assert_eq!(img.config.rootfs.diff_ids.len(), 2);
        assert_eq!(img.tags, vec![Reference::parse("vc").unwrap()]);

        // One layer with the files, the context's modes, owned by root.
        let layer = top_layer(&env.store, &img);
        let index = &layer["usr/local/apache2/htdocs/index.html"];
        assert_eq!((index.mode, index.uid, index.gid, index.data.as_str()), (0o644, 0, 0, "<h1>It works!</h1>\n"));
        assert_eq!(layer["usr/local/apache2/htdocs/sub/page.html"].mode, 0o600);
        assert_eq!(layer["usr/local/apache2/htdocs/cgi.sh"].mode, 0o750);
        assert_eq!(layer["usr/local/apache2/htdocs"].kind, 'd');
        assert!(!layer.contains_key("Dockerfile"));

        // `create --name vc_data vc`, then `--volumes-from vc_data`: the files
        // are in the shared anonymous volume, vc_data never ran.
        let data = env
            .store
            .create_container(&ContainerSpec { name: Some("vc_data".into()), image: "vc".into(), ..Default::default() })
            .unwrap();
        let user = env
            .store
            .create_container(&ContainerSpec {
                image: "busybox".into(),
                volumes_from: vec!["vc_data".into()],
                ..Default::default()
            })
            .unwrap();
        let m = user.mounts.iter().find(|m| m.destination == "/usr/local/apache2/htdocs").expect("inherited mount");
        assert_eq!(m.kind, MountKind::Volume);
        assert_eq!(m.name, data.mounts[0].name);
        assert_eq!(std::fs::read_to_string(m.source.join("index.html")).unwrap(), "<h1>It works!</h1>\n");
        assert_eq!(std::fs::read_to_string(m.source.join("sub/page.html")).unwrap(), "page\n");
        assert_eq!(env.containers(), 2, "no build container left");
    }
}

#[test]
fn cache_hit_on_rebuild_and_miss_after_a_context_change() {
    for driver in drivers() {
        let env = Env::new(driver);
        let ctx = seed_context(&env);
        let (first, out1) = env.build_ok(&tagged(&ctx, "vc"));
        assert!(!out1.contains("Using cache"), "{out1}");
        let (second, out2) = env.build_ok(&tagged(&ctx, "vc"));
        assert_eq!(first.id, second.id, "{out1}\n{out2}\n{:?}\n{:?}", history(&first), history(&second));
        assert_eq!(out2.matches(" ---> Using cache").count(), 2, "{out2}");
        // Only times changed: still a hit (BuildKit's content hash).
        let f = ctx.join("htdocs/index.html");
        let t = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(t).unwrap();
        let (third, out3) = env.build_ok(&opts(&ctx));
        assert_eq!(third.id, first.id, "{out3}");
        // Content changed: ADD misses, and so does everything after it.
        std::fs::write(&f, "<h1>changed</h1>\n").unwrap();
        let (fourth, out4) = env.build_ok(&opts(&ctx));
        assert_ne!(fourth.id, first.id);
        assert!(!out4.contains("Using cache"), "{out4}");
        assert_eq!(top_layer(&env.store, &fourth)["usr/local/apache2/htdocs/index.html"].data, "<h1>changed</h1>\n");
        // --no-cache: nothing reused, a new image.
        let (fifth, out5) = env.build_ok(&BuildOpts { no_cache: true, ..opts(&ctx) });
        assert!(!out5.contains("Using cache"));
        assert_ne!(fifth.id, fourth.id);
        assert_eq!(env.containers(), 0);
    }
}

#[test]
fn add_extracts_local_archives() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "arch",
        "FROM busybox\nADD app.tar.gz /opt/\nADD plain.tar /plain\nADD data.tar.zst /z/\nADD notar.gz /raw/\n",
        &[],
    );
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o750);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_size(0);
    tb.append_data(&mut h, "dir/", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_size(6);
    tb.append_data(&mut h, "dir/f.txt", &b"hello\n"[..]).unwrap();
    let tar = tb.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(ctx.join("app.tar.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(ctx.join("plain.tar"), &tar).unwrap();
    std::fs::write(ctx.join("data.tar.zst"), zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    // gzip, but not of a tar: copied as it is.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"just text").unwrap();
    std::fs::write(ctx.join("notar.gz"), gz.finish().unwrap()).unwrap();
    let (img, _) = env.build_ok(&opts(&ctx));
    let layers = img.config.rootfs.diff_ids.len();
    assert_eq!(layers, 5);
    let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    let gz_layer = layer_entries(&env.store, &chain[1]);
    let f = &gz_layer["opt/dir/f.txt"];
    assert_eq!((f.mode, f.uid, f.gid, f.data.as_str()), (0o640, 1234, 5678, "hello\n"));
    assert_eq!(gz_layer["opt/dir"].mode, 0o750);
    assert!(!gz_layer.contains_key("opt/app.tar.gz"));
    assert_eq!(layer_entries(&env.store, &chain[2])["plain/dir/f.txt"].data, "hello\n");
    assert_eq!(layer_entries(&env.store, &chain[3])["z/dir/f.txt"].data, "hello\n");
    assert_eq!(layer_entries(&env.store, &chain[4])["raw/notar.gz"].kind, 'f');
}

#[test]
fn add_of_a_url_is_refused() {
    let env = Env::new("vfs");
    let ctx = env.context("url", "FROM busybox\nADD https://example.com/x.tgz /x\n", &[]);
    let (e, _) = env.build(&opts(&ctx)).unwrap_err();
    assert!(e.to_string().contains("ADD from a URL (https://example.com/x.tgz) is not supported"), "{e}");
}

#[test]
fn copy_chown_names_numbers_and_chmod() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "chown",
        "FROM busybox\nCOPY --chown=app:staff f.txt /f.txt\nCOPY --chown=1234 d /numeric/\nCOPY --chmod=0600 f.txt g/ /modes/\n",
        &[("f.txt", "f\n", 0o644), ("d/x", "x\n", 0o644), ("g/y", "y\n", 0o755)],
    );
    let (img, _) = env.build_ok(&opts(&ctx));
    let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    let l1 = layer_entries(&env.store, &chain[1]);
    assert_eq!((l1["f.txt"].uid, l1["f.txt"].gid), (1000, 50));
    let l2 = layer_entries(&env.store, &chain[2]);
    assert_eq!((l2["numeric/x"].uid, l2["numeric/x"].gid), (1234, 1234));
    assert_eq!((l2["numeric"].uid, l2["numeric"].gid), (1234, 1234), "a directory COPY creates is chowned");
    let l3 = layer_entries(&env.store, &chain[3]);
    assert_eq!(l3["modes/f.txt"].mode, 0o600);
    assert_eq!(l3["modes/y"].mode, 0o600);
    assert!(history(&img)[2].0.contains("COPY --chown=1234dir:"), "{:?}", history(&img)[2]);

    let ctx = env.context("chown2", "FROM busybox\nCOPY --chown=nobody f.txt /f\n", &[("f.txt", "f\n", 0o644)]);
    let (e, _) = env.build(&opts(&ctx)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("unable to convert uid/gid chown string to host mapping") && msg.contains("nobody"), "{msg}");
    assert_eq!(env.containers(), 0, "the failed step's container is gone");
}

#[test]
fn copy_rules_files_dirs_globs_and_workdir() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "rules",
        "FROM busybox\nWORKDIR /app\nCOPY a.txt .\nCOPY a.txt renamed.txt\nCOPY dir /deep/new/\nCOPY *.md docs/\nCOPY link /via-link\nWORKDIR /app\n",
        &[("a.txt", "a\n", 0o644), ("dir/x/y.txt", "y\n", 0o644), ("one.md", "1", 0o644), ("two.md", "2", 0o644)],
    );
    std::os::unix::fs::symlink("a.txt", ctx.join("link")).unwrap();
    let (img, out) = env.build_ok(&opts(&ctx));
    assert!(out.contains(" ---> Running in "), "{out}");
    let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    // WORKDIR /app created the directory: one layer; the second WORKDIR none.
    assert_eq!(img.config.rootfs.diff_ids.len(), 7);
    assert_eq!(layer_entries(&env.store, &chain[1])["app"].kind, 'd');
    assert_eq!(layer_entries(&env.store, &chain[2])["app/a.txt"].data, "a\n");
    assert_eq!(layer_entries(&env.store, &chain[3])["app/renamed.txt"].data, "a\n");
    let l = layer_entries(&env.store, &chain[4]);
    assert_eq!(l["deep/new/x/y.txt"].data, "y\n", "a directory's contents are copied");
    assert!(!l.contains_key("deep/new/dir"));
    let l = layer_entries(&env.store, &chain[5]);
    assert_eq!((l["app/docs/one.md"].data.as_str(), l["app/docs/two.md"].data.as_str()), ("1", "2"));
    assert_eq!(layer_entries(&env.store, &chain[6])["via-link"].kind, 'f', "a source symlink is followed");
    let h = history(&img);
    assert_eq!(h.last().unwrap(), &("/bin/sh -c #(nop) WORKDIR /app".to_string(), true));
    assert_eq!(img.config.config.working_dir, "/app");

    for (df, want) in [
        (
            "FROM busybox\nCOPY missing /x\n",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist",
        ),
        ("FROM busybox\nCOPY ../etc/passwd /x\n", "forbidden path outside the build context"),
        ("FROM busybox\nCOPY *.nothing /x/\n", "no source files were specified"),
        ("FROM busybox\nCOPY a.txt one.md /x\n", "the destination must be a directory and end with a /"),
        ("FROM nosuchimage\n", "No such image: nosuchimage"),
    ] {
        std::fs::write(ctx.join("Dockerfile"), df).unwrap();
        let (e, _) = env.build(&opts(&ctx)).unwrap_err();
        assert!(e.to_string().contains(want), "{df}: {e}");
    }
    assert_eq!(env.containers(), 0);
}

#[test]
fn multi_stage_copy_from_and_target() {
    for driver in drivers() {
        let env = Env::new(driver);
        let ctx = env.context(
            "multi",
            "FROM busybox AS build\nCOPY src /out\nLABEL stage=build\n\nFROM scratch AS final\nCOPY --from=build /out/a.txt /a.txt\nCOPY --from=0 /bin/busybox /bin/busybox\nCOPY --from=busybox:latest /etc/passwd /etc/passwd\n",
            &[("src/a.txt", "from the build stage\n", 0o644)],
        );
        let (img, out) = env.build_ok(&tagged(&ctx, "multi:1"));
        assert!(out.contains("Step 4/7 : FROM scratch AS final"), "{out}");
        let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
        assert_eq!(chain.len(), 3, "only the final stage's layers");
        assert_eq!(layer_entries(&env.store, &chain[0])["a.txt"].data, "from the build stage\n");
        assert_eq!(layer_entries(&env.store, &chain[1])["bin/busybox"].mode, 0o755);
        assert!(layer_entries(&env.store, &chain[2])["etc/passwd"].data.contains("app:x:1000"));
        assert!(img.config.config.labels.is_none(), "the final stage starts from scratch");
        // Only the last stage is tagged.
        let tagged: Vec<_> = env.store.images().unwrap().into_iter().filter(|i| !i.tags.is_empty()).collect();
        assert_eq!(tagged.len(), 2, "busybox and multi:1");
        // --target stops at a stage.
        let (t, out) = env.build_ok(&BuildOpts { target: Some("build".into()), ..opts(&ctx) });
        assert!(out.contains("Step 3/3 : LABEL stage=build"), "{out}");
        assert_eq!(t.config.config.labels.as_ref().unwrap()["stage"], "build");
        let (e, _) = env.build(&BuildOpts { target: Some("nope".into()), ..opts(&ctx) }).unwrap_err();
        assert!(e.to_string().contains("failed to reach build target nope"));
        assert_eq!(env.containers(), 0);
    }
}

#[test]
fn env_and_arg_expansion() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "args",
        "ARG BASE=busybox\nARG UNUSED_META\nFROM ${BASE}\nARG DIR=/opt\nARG BASE\nENV APP=$DIR/app NAME=\"my app\"\nWORKDIR $APP\nCOPY f.txt ${APP}/f.txt\nLABEL dir=$DIR base=$BASE name=\"$NAME\" lit='$DIR'\nUSER ${WHO:-app}\nEXPOSE $PORTS\nENV DIR=env-wins\nLABEL after=$DIR\nSTOPSIGNAL SIGTERM\nCMD echo $APP\nENTRYPOINT [\"/bin/sh\"]\n",
        &[("f.txt", "f\n", 0o644)],
    );
    let mut args = BTreeMap::new();
    args.insert("DIR".to_string(), "/srv".to_string());
    args.insert("NOT_DECLARED".to_string(), "x".to_string());
    args.insert("HTTP_PROXY".to_string(), "http://proxy:3128".to_string());
    let o = BuildOpts { build_args: args, ..opts(&ctx) };
    std::fs::write(
        ctx.join("Dockerfile"),
        std::fs::read_to_string(ctx.join("Dockerfile")).unwrap().replace("$PORTS", "80 8080/udp"),
    )
    .unwrap();
    let (img, out) = env.build_ok(&o);
    let c = &img.config.config;
    let envs = c.env.clone().unwrap();
    assert!(envs.contains(&"APP=/srv/app".to_string()), "{envs:?}");
    assert!(envs.contains(&"NAME=my app".to_string()));
    assert!(envs.contains(&"DIR=env-wins".to_string()));
    assert!(!envs.iter().any(|e| e.starts_with("HTTP_PROXY")), "build args are not in the image");
    assert_eq!(c.working_dir, "/srv/app");
    let labels = c.labels.clone().unwrap();
    assert_eq!(labels["dir"], "/srv");
    assert_eq!(labels["base"], "busybox", "a global ARG redeclared in the stage");
    assert_eq!(labels["name"], "my app");
    assert_eq!(labels["lit"], "$DIR");
    assert_eq!(labels["after"], "env-wins");
    assert_eq!(c.user, "app");
    let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
    assert_eq!(ports, ["80/tcp", "8080/udp"]);
    assert_eq!(c.cmd, Some(vec!["/bin/sh".to_string(), "-c".to_string(), "echo $APP".to_string()]), "CMD came first");
    assert_eq!(c.entrypoint, Some(vec!["/bin/sh".to_string()]));
    assert!(top_layer(&env.store, &img).values().any(|_| true));
    assert!(out.contains("[Warning] One or more build-args [NOT_DECLARED] were not consumed"), "{out}");
    let h = history(&img);
    assert!(h.iter().any(|(t, e)| t == "/bin/sh -c #(nop)  ENV APP=/srv/app NAME=my app" && *e), "{h:#?}");
    assert!(h.iter().any(|(t, _)| t == "/bin/sh -c #(nop)  ARG DIR=/opt"), "{h:#?}");
    assert!(h.iter().any(|(t, _)| t == "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"echo $APP\"]"), "{h:#?}");
    assert!(h.iter().any(|(t, _)| t == "/bin/sh -c #(nop)  EXPOSE 80 8080/udp"), "{h:#?}");
}

#[test]
fn cmd_then_entrypoint_keeps_cmd() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "cmdep",
        "FROM busybox\nCMD [\"a\"]\nENTRYPOINT [\"e\"]\nSHELL [\"/bin/ash\", \"-c\"]\nCMD b\n",
        &[],
    );
    let (img, _) = env.build_ok(&opts(&ctx));
    assert_eq!(img.config.config.entrypoint, Some(vec!["e".to_string()]));
    assert_eq!(img.config.config.cmd, Some(vec!["/bin/ash".to_string(), "-c".to_string(), "b".to_string()]));
    assert!(history(&img).iter().any(|(t, _)| t == "/bin/ash -c #(nop)  CMD [\"/bin/ash\" \"-c\" \"b\"]"));
    // An inherited CMD is reset by ENTRYPOINT.
    let ctx = env.context("ep", "FROM busybox\nENTRYPOINT [\"e\"]\n", &[]);
    let (img, _) = env.build_ok(&opts(&ctx));
    assert_eq!(img.config.config.cmd, None);
}

#[test]
fn dockerignore_excludes_from_the_context() {
    for driver in drivers() {
        let env = Env::new(driver);
        let ctx = env.context(
            "ignore",
            "FROM busybox\nCOPY . /ctx/\n",
            &[
                (
                    ".dockerignore",
                    "# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\nbuild\n!build/out.txt\n/Dockerfile\n",
                    0o644,
                ),
                ("a.log", "x", 0o644),
                ("keep.log", "keep", 0o644),
                ("secret/key", "k", 0o600),
                ("src/main.c", "int main;", 0o644),
                ("src/deep/x.tmp", "t", 0o644),
                ("x.tmp", "t", 0o644),
                ("build/obj.o", "o", 0o644),
                ("build/out.txt", "out", 0o644),
            ],
        );
        let (img, _) = env.build_ok(&opts(&ctx));
        let l = top_layer(&env.store, &img);
        let files: Vec<&str> = l.values().filter(|e| e.kind == 'f').map(|e| e.path.as_str()).collect();
        assert_eq!(files, ["ctx/.dockerignore", "ctx/build/out.txt", "ctx/keep.log", "ctx/src/main.c"], "{l:#?}");
        // An excluded file cannot be named either.
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY a.log /\n").unwrap();
        let (e, _) = env.build(&opts(&ctx)).unwrap_err();
        assert!(e.to_string().contains("file not found in build context or excluded by .dockerignore"), "{e}");
    }
}

#[test]
fn tar_context_and_dockerfile_alone() {
    let env = Env::new("vfs");
    let mut tb = tar::Builder::new(Vec::new());
    let mut add = |p: &str, d: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(d.len() as u64);
        tb.append_data(&mut h, p, d).unwrap();
    };
    add("Dockerfile", b"FROM busybox\nCOPY . /ctx/\n");
    add(".dockerignore", b"*.log\n");
    add("hello.txt", b"hi\n");
    add("x.log", b"log\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tb.into_inner().unwrap()).unwrap();
    let archive = env.path("ctx.tar.gz");
    std::fs::write(&archive, gz.finish().unwrap()).unwrap();
    let (img, _) = env.build_ok(&BuildOpts::new(ContextSource::Archive(archive)));
    let l = top_layer(&env.store, &img);
    assert_eq!(l["ctx/hello.txt"].data, "hi\n");
    assert!(!l.contains_key("ctx/x.log"));

    // Not a tar: the input is the Dockerfile, the context is empty.
    let lone = env.path("Dockerfile.alone");
    std::fs::write(&lone, "FROM busybox\nLABEL alone=yes\n").unwrap();
    let (img, _) = env.build_ok(&BuildOpts::new(ContextSource::Archive(lone.clone())));
    assert_eq!(img.config.config.labels.as_ref().unwrap()["alone"], "yes");
    std::fs::write(&lone, "FROM busybox\nCOPY x /x\n").unwrap();
    let (e, _) = env.build(&BuildOpts::new(ContextSource::Archive(lone))).unwrap_err();
    assert!(e.to_string().contains("file not found in build context"), "{e}");
}

#[test]
fn quiet_prints_only_the_id() {
    let env = Env::new("vfs");
    let ctx = seed_context(&env);
    let (img, out) = env.build_ok(&BuildOpts { quiet: true, ..tagged(&ctx, "q") });
    assert_eq!(out, format!("{}\n", img.id));
    assert!(img.id.as_str().starts_with("sha256:"));
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY nothing /\n").unwrap();
    let (e, out) = env.build(&BuildOpts { quiet: true, ..opts(&ctx) }).unwrap_err();
    assert_eq!(out, "");
    match e {
        BuildError::Quiet { log, source } => {
            assert!(log.contains("Step 2/2 : COPY nothing /"), "{log}");
            assert!(source.to_string().contains("file not found"));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn scratch_images_and_parse_errors() {
    let env = Env::new("vfs");
    let ctx = env.context("scratch", "FROM scratch\nCOPY f /f\nCMD [\"/f\"]\n", &[("f", "data", 0o755)]);
    let (img, out) = env.build_ok(&opts(&ctx));
    assert!(out.contains("Step 1/3 : FROM scratch\n ---> \n"), "{out}");
    assert_eq!(img.config.rootfs.diff_ids.len(), 1);
    assert_eq!(top_layer(&env.store, &img)["f"].mode, 0o755);
    // The helper image used for the step container is gone.
    assert_eq!(env.store.images().unwrap().len(), 1 + 2, "busybox and the two step images");

    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
    let (e, _) = env.build(&opts(&ctx)).unwrap_err();
    assert!(e.to_string().contains("No image was generated"), "{e}");
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nBOGUS x\n").unwrap();
    let (e, _) = env.build(&opts(&ctx)).unwrap_err();
    assert_eq!(e.to_string(), "Dockerfile parse error line 2: unknown instruction: BOGUS");
}

#[test]
fn volume_paths_stay_writable_for_later_steps() {
    // BuildKit semantics: a COPY into a VOLUME path after the VOLUME line is kept.
    let env = Env::new("vfs");
    let ctx =
        env.context("vol", "FROM busybox\nVOLUME /data\nCOPY f.txt /data/after.txt\n", &[("f.txt", "after\n", 0o644)]);
    let (img, _) = env.build_ok(&opts(&ctx));
    assert_eq!(top_layer(&env.store, &img)["data/after.txt"].data, "after\n");
    assert!(img.config.config.volumes.as_ref().unwrap().contains_key("/data"));
    assert!(env.store.volumes().unwrap().is_empty(), "no anonymous volume was made for a build step");
    assert_eq!(env.containers(), 0);
}

#[test]
fn leftovers_of_a_killed_build_are_swept() {
    // What a build killed outright (SIGKILL) leaves: a labelled step
    // container and helper image whose owner process is gone.
    let env = Env::new("vfs");
    let dead = "1:1".to_string(); // pid 1 with another start time: not the owner
    let mut config = env.store.image("busybox").unwrap().config;
    config.config.labels = Some([(strata_build::OWNER_LABEL.to_string(), dead.clone())].into());
    let helper = env.store.create_image(&config.to_bytes(), &[]).unwrap();
    let mut labels = BTreeMap::new();
    labels.insert(strata_build::OWNER_LABEL.to_string(), dead);
    env.store.create_container(&ContainerSpec { image: helper.id.to_string(), labels, ..Default::default() }).unwrap();
    // A container of the user's is not touched.
    env.store.create_container(&ContainerSpec { image: "busybox".into(), ..Default::default() }).unwrap();
    assert_eq!(env.containers(), 2);
    let ctx = env.context("sweep", "FROM busybox\nLABEL a=b\n", &[]);
    env.build_ok(&opts(&ctx));
    assert_eq!(env.containers(), 1);
    assert!(env.store.find_image(helper.id.as_str()).unwrap().is_none());
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    let env = Env::new("vfs");
    let ctx = env.context(
        "onbuild",
        "FROM busybox AS base\nONBUILD COPY f.txt /from-trigger.txt\nONBUILD LABEL triggered=yes\n\nFROM base\nLABEL child=1\n",
        &[("f.txt", "t\n", 0o644)],
    );
    let (img, out) = env.build_ok(&opts(&ctx));
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    let labels = img.config.config.labels.clone().unwrap();
    assert_eq!((labels["triggered"].as_str(), labels["child"].as_str()), ("yes", "1"));
    assert!(!img.config.config.extra.contains_key("OnBuild"), "triggers do not propagate further");
    let chain = env.store.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    assert_eq!(layer_entries(&env.store, chain.last().unwrap())["from-trigger.txt"].data, "t\n");
    let base = env.store.images().unwrap().into_iter().find(|i| i.config.config.extra.contains_key("OnBuild"));
    assert!(base.is_some(), "the base stage's image keeps its triggers");
}
