//! The container commands through the real binary, on every driver under
//! test: `create`, `ps`, `inspect` (Mounts exactly as docker-behaviour.md
//! §2.4), `mount`/`unmount` and `diff`, `commit`, `export`, `rename`, `rm`
//! (`-v`), `container prune`. Output is compared exactly, except times.

use std::io::Read;
use std::process::Output;

mod support;
use support::{Env, drivers_under_test};

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Table rows split into cells (cells are separated by 3+ spaces).
fn cells(line: &str) -> Vec<String> {
    line.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn create(t: &Env, args: &[&str]) -> String {
    let mut full = vec!["create"];
    full.extend_from_slice(args);
    let id = t.ok(&full);
    assert!(is_hex64(&id), "create printed {id:?}");
    id
}

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(data);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        names.push(e.path().unwrap().to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_string());
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
    }
    names
}

#[test]
fn ps_lists_like_docker_and_rm_reports_each_name() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &[]);
        let web = create(&t, &["--name", "web", "-l", "tier=front", "busybox"]);
        let job =
            create(&t, &["--name", "job", "--entrypoint", "/bin/sh", "busybox", "-c", "sleep 1000000 && echo done"]);
        // Created containers are not running: `ps` shows the header only.
        assert_eq!(t.ok(&["ps"]), "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES");
        let out = t.ok(&["ps", "-a"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{d}: {out}");
        assert!(lines[0].starts_with("CONTAINER ID   IMAGE     COMMAND                  CREATED"), "{d}: {out}");
        assert!(lines[0].ends_with("STATUS    PORTS     NAMES"), "{d}: {out}");
        // Newest first; CREATED is the only column that depends on the clock.
        let row = |l: &str| {
            let mut c = cells(l);
            assert!(c[3].ends_with(" ago"), "{c:?}");
            c.remove(3);
            c
        };
        assert_eq!(row(lines[1]), [&job[..12], "busybox", "\"/bin/sh -c 'sleep 1…\"", "Created", "job"]);
        assert_eq!(row(lines[2]), [&web[..12], "busybox", "\"sh\"", "Created", "web"]);

        assert_eq!(t.ok(&["ps", "-aq"]), format!("{}\n{}", &job[..12], &web[..12]));
        assert_eq!(t.ok(&["ps", "-q", "--no-trunc", "-l"]), job);
        assert_eq!(t.ok(&["ps", "-q", "-n", "5"]), format!("{}\n{}", &job[..12], &web[..12]));
        assert_eq!(t.ok(&["ps", "-q", "--filter", "status=created", "--filter", "name=^w"]), &web[..12]);
        assert_eq!(t.ok(&["ps", "-aq", "-f", "label=tier=front"]), &web[..12]);
        assert_eq!(t.ok(&["ps", "-aq", "-f", &format!("id={}", &job[..8])]), &job[..12]);
        assert_eq!(t.ok(&["ps", "-aq", "-f", "ancestor=busybox"]).lines().count(), 2);
        assert_eq!(t.ok(&["ps", "-aq", "-f", "ancestor=nosuchimage"]), "");
        assert_eq!(
            t.ok(&["container", "ls", "-a", "--format", "{{.Names}} {{.State}} {{.Command}}"]),
            "job created \"/bin/sh -c 'sleep 1…\"\nweb created \"sh\""
        );
        assert_eq!(
            t.ok(&["ps", "-a", "-l", "--no-trunc", "--format", "{{.Command}}"]),
            "\"/bin/sh -c 'sleep 1000000 && echo done'\""
        );
        let json = t.ok(&["ps", "-a", "-l", "--format", "json"]);
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        let keys: Vec<&str> = v.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Command",
                "CreatedAt",
                "ID",
                "Image",
                "Labels",
                "LocalVolumes",
                "Mounts",
                "Names",
                "Networks",
                "Ports",
                "RunningFor",
                "Size",
                "State",
                "Status"
            ]
        );
        let o = t.run(&["ps", "--filter", "status=sleeping"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: invalid filter 'status=sleeping'\n".into()));
        let sized = t.ok(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
        assert!(sized.lines().all(|l| l.starts_with("0B (virtual ")), "{d}: {sized}");

        // rm: each name as given; failures reported, the others still removed.
        let o = t.run(&["rm", "nope", "web", "nope2"]);
        assert_eq!(o.status.code(), Some(1), "{d}");
        assert_eq!(stdout(&o), "web\n");
        assert_eq!(stderr(&o), "Error: No such container: nope\nError: No such container: nope2\n");
        let o = t.run(&["rm", "-f", "nope"]);
        assert_eq!((o.status.code(), stdout(&o), stderr(&o)), (Some(0), String::new(), String::new()));
        assert_eq!(t.ok(&["container", "rm", &job[..10]]), &job[..10]);
        assert_eq!(t.ok(&["ps", "-aq"]), "");
    }
}

#[test]
fn inspect_shows_mounts_exactly_like_docker() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &["VOLUME /data"]);
        let host = t.dir.path().join("emptybind");
        std::fs::create_dir(&host).unwrap();
        let hostp = host.display().to_string();
        let id = create(
            &t,
            &[
                "--name",
                "vc",
                "-v",
                &format!("{hostp}:/bindpath:ro"),
                "-v",
                "anc_named:/named",
                "--mount",
                "type=tmpfs,dst=/tm,tmpfs-size=1m,tmpfs-mode=1770",
                "--mount",
                &format!("type=bind,src={hostp},dst=/bp,readonly,bind-propagation=rslave"),
                "--tmpfs",
                "/tm2:rw,size=2m",
                "-p",
                "8080:80",
                "--rm",
                "--init",
                "--read-only",
                "busybox",
            ],
        );
        let anon = t.ok(&["volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"]);
        assert!(is_hex64(&anon), "{d}: one anonymous volume for the image VOLUME: {anon}");
        let vols = t.root.join("volumes");
        let mounts = t.ok(&["inspect", "--format", "{{range .Mounts}}{{json .}}\n{{end}}", "vc"]);
        let mut got: Vec<&str> = mounts.lines().collect();
        got.sort();
        let mut want = vec![
            format!(
                r#"{{"Type":"bind","Source":"{hostp}","Destination":"/bindpath","Mode":"ro","RW":false,"Propagation":"rprivate"}}"#
            ),
            format!(
                r#"{{"Type":"volume","Name":"anc_named","Source":"{}/anc_named/_data","Destination":"/named","Driver":"local","Mode":"z","RW":true,"Propagation":""}}"#,
                vols.display()
            ),
            format!(
                r#"{{"Type":"volume","Name":"{anon}","Source":"{}/{anon}/_data","Destination":"/data","Driver":"local","Mode":"","RW":true,"Propagation":""}}"#,
                vols.display()
            ),
            r#"{"Type":"tmpfs","Source":"","Destination":"/tm","Mode":"","RW":true,"Propagation":""}"#.to_string(),
            format!(
                r#"{{"Type":"bind","Source":"{hostp}","Destination":"/bp","Mode":"","RW":false,"Propagation":"rslave"}}"#
            ),
        ];
        want.sort();
        assert_eq!(got, want, "{d}");

        let doc = t.ok(&["container", "inspect", &id[..12]]);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let c = &v[0];
        assert_eq!(c["Id"], id.as_str());
        assert_eq!(c["Name"], "/vc");
        assert_eq!(c["Path"], "sh");
        assert_eq!(c["Args"], serde_json::json!([]));
        assert_eq!(c["State"]["Status"], "created");
        assert_eq!(c["Driver"], d);
        assert_eq!(c["GraphDriver"]["Name"], d);
        if d == "overlay2" {
            let data = c["GraphDriver"]["Data"].as_object().unwrap();
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            assert_eq!(keys, ["LowerDir", "MergedDir", "UpperDir", "WorkDir"]);
        }
        let hc = &c["HostConfig"];
        assert_eq!(hc["Binds"], serde_json::json!([format!("{hostp}:/bindpath:ro"), "anc_named:/named"]));
        assert_eq!(hc["Tmpfs"], serde_json::json!({"/tm2": "rw,size=2m"}));
        assert_eq!(
            serde_json::to_string(&hc["Mounts"][0]).unwrap(),
            r#"{"Type":"tmpfs","Target":"/tm","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}}"#
        );
        assert_eq!(hc["PortBindings"], serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}));
        assert_eq!(
            (&hc["AutoRemove"], &hc["Init"], &hc["ReadonlyRootfs"]),
            (&serde_json::json!(true), &serde_json::json!(true), &serde_json::json!(true))
        );
        assert_eq!(hc["NetworkMode"], "bridge");
        assert_eq!(c["Config"]["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
        assert_eq!(c["Config"]["Hostname"], &id[..12]);
        // Only containers are sized.
        let sized = t.ok(&["inspect", "-s", "-f", "{{.SizeRw}} {{gt .SizeRootFs 0}}", "vc"]);
        assert_eq!(sized, "0 true");
        // Names that are neither containers, images nor volumes.
        let o = t.run(&["inspect", "vc", "nope"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(stderr(&o), "Error: No such object: nope\n");
        let o = t.run(&["container", "inspect", "busybox"]);
        assert_eq!((stdout(&o), stderr(&o)), ("[]\n".into(), "Error: No such container: busybox\n".into()));
        assert_eq!(t.ok(&["inspect", "--type", "volume", "-f", "{{.Name}}", "anc_named"]), "anc_named");

        // `--mount` bind sources must exist (Docker's daemon check); nothing is left behind.
        let o = t.run(&["create", "--mount", "type=bind,src=/nonexistent/x,dst=/x", "busybox"]);
        assert_eq!(o.status.code(), Some(1), "{d}");
        assert_eq!(
            stderr(&o),
            "Error: invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/x\n"
        );
        // A malformed --mount is a usage error.
        let o = t.run(&["create", "--mount", "type=bind,src=/x", "busybox"]);
        assert_eq!(o.status.code(), Some(125), "{d}: {}", stderr(&o));
        let o = t.run(&["create", "nosuchimage"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: No such image: nosuchimage\n".into()));
    }
}

#[test]
fn mount_diff_commit_export_like_docker() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &[]);
        let id = create(&t, &["--name", "c1", "busybox"]);
        let path = t.ok(&["mount", "c1"]);
        let root = std::path::PathBuf::from(&path);
        assert!(root.join("bin/busybox").is_file(), "{d}: {path}");
        std::fs::remove_file(root.join("data/f.txt")).unwrap();
        let mut g = std::fs::OpenOptions::new().append(true).open(root.join("etc/group")).unwrap();
        std::io::Write::write_all(&mut g, b"x\n").unwrap();
        drop(g);
        std::fs::create_dir(root.join("newdir")).unwrap();
        std::fs::write(root.join("newdir/n"), "n\n").unwrap();
        assert_eq!(t.ok(&["umount", "c1"]), id);
        if d == "overlay2" {
            assert!(!root.join("bin/busybox").exists(), "overlay2: unmounted");
        }
        assert_eq!(t.ok(&["diff", "c1"]), "C /data\nD /data/f.txt\nC /etc\nC /etc/group\nA /newdir\nA /newdir/n");
        assert_eq!(t.ok(&["container", "diff", &id[..12]]), t.ok(&["diff", "c1"]));

        let img = t.ok(&["commit", "-a", "me", "-m", "the message", "-c", "ENV FOO=bar", "c1", "snap:1"]);
        assert!(img.starts_with("sha256:") && img.len() == 71, "{img}");
        let images = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "snap"]);
        assert_eq!(images, format!("snap:1 {}", &img[7..19]));
        let history = t.ok(&["history", "--format", "{{.Comment}}|{{.CreatedBy}}", "snap:1"]);
        assert_eq!(history.lines().next().unwrap(), "the message|sh");
        assert_eq!(t.ok(&["image", "inspect", "-f", "{{.Author}} {{index .Config.Env 0}}", "snap:1"]), "me FOO=bar");

        let out = t.dir.path().join("c1.tar");
        t.ok(&["export", "-o", out.to_str().unwrap(), "c1"]);
        let names = tar_names(&std::fs::read(&out).unwrap());
        for want in [
            ".dockerenv",
            "bin/busybox",
            "bin/sh",
            "etc/group",
            "etc/hosts",
            "etc/hostname",
            "etc/resolv.conf",
            "newdir/n",
        ] {
            assert!(names.iter().any(|n| n == want), "{d}: export lacks {want}: {names:?}");
        }
        assert!(!names.iter().any(|n| n == "data/f.txt"), "{d}: {names:?}");
        let piped = t.run(&["container", "export", "c1"]);
        assert!(piped.status.success());
        let mut a = tar_names(&piped.stdout);
        let mut b = names.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let leftovers: Vec<_> = std::fs::read_dir(t.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!leftovers.iter().any(|n| n.to_string_lossy().contains(".tmp")), "{leftovers:?}");

        t.ok(&["rename", "c1", "c2"]);
        assert_eq!(t.ok(&["ps", "-a", "--format", "{{.Names}}"]), "c2");
        let o = t.run(&["diff", "c1"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: No such container: c1\n".into()));
    }
}

#[test]
fn rm_v_keeps_named_volumes_and_prune_removes_stopped_containers() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &["VOLUME /data"]);
        create(&t, &["--name", "vc", "-v", "/anonpath", "-v", "named:/named", "busybox"]);
        assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 3, "{d}");
        t.ok(&["rm", "-v", "vc"]);
        assert_eq!(t.ok(&["volume", "ls", "-q"]), "named", "{d}: anonymous volumes gone, named kept");

        // Without -v the anonymous volume stays behind (Docker's orphan).
        create(&t, &["--name", "orphaner", "busybox"]);
        t.ok(&["rm", "orphaner"]);
        assert_eq!(t.ok(&["volume", "ls", "-q", "-f", "dangling=true"]).lines().count(), 2, "{d}");

        let a = create(&t, &["busybox"]);
        let b = create(&t, &["-l", "keep=1", "busybox"]);
        // Declining the prompt removes nothing.
        let o = t.run_in(&["container", "prune"], b"n\n");
        assert_eq!(
            stdout(&o),
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        );
        assert_eq!(t.ok(&["ps", "-aq"]).lines().count(), 2);
        let out = t.ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
        assert_eq!(out, format!("Deleted Containers:\n{a}\n\nTotal reclaimed space: 0B"));
        let out = String::from_utf8(t.run_in(&["container", "prune"], b"y\n").stdout).unwrap();
        assert!(out.ends_with(&format!("[y/N] Deleted Containers:\n{b}\n\nTotal reclaimed space: 0B\n")), "{out}");
        assert_eq!(t.ok(&["ps", "-aq"]), "");
    }
}

/// `cp` with Docker's texts (docker-behaviour.md §2.6): into the rootfs, into
/// a volume of a stopped container, refused into a read-only bind, out to the
/// host and as a tar stream. cp needs root (a private mount namespace).
#[test]
fn cp_like_docker() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &[]);
        let ro = t.dir.path().join("robind");
        std::fs::create_dir(&ro).unwrap();
        create(&t, &["--name", "c1", "-v", "named:/vol", "-v", &format!("{}:/ro:ro", ro.display()), "busybox"]);
        let local = t.dir.path().join("new.txt");
        std::fs::write(&local, "hello\n").unwrap();
        if !support::is_root() {
            let o = t.run(&["cp", local.to_str().unwrap(), "c1:/etc/"]);
            assert_eq!(o.status.code(), Some(1));
            assert!(stderr(&o).contains("run as root"), "{}", stderr(&o));
            continue;
        }
        let o = t.run(&["cp", local.to_str().unwrap(), "c1:/etc/"]);
        assert_eq!((o.status.code(), stdout(&o), stderr(&o)), (Some(0), String::new(), String::new()), "{d}");
        // The mount points of the container's volumes are created, as Docker's view does.
        assert_eq!(t.ok(&["diff", "c1"]), "C /etc\nA /etc/new.txt\nA /ro\nA /vol");
        t.ok(&["cp", local.to_str().unwrap(), "c1:/vol/x"]);
        assert_eq!(std::fs::read_to_string(t.root.join("volumes/named/_data/x")).unwrap(), "hello\n");
        let out = t.dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        t.ok(&["container", "cp", "c1:/data/f.txt", out.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(out.join("f.txt")).unwrap(), "image-data\n");
        let o = t.run(&["cp", "c1:/nope", out.to_str().unwrap()]);
        assert_eq!(
            (o.status.code(), stderr(&o)),
            (Some(1), "Error: Could not find the file /nope in container c1\n".into())
        );
        let o = t.run(&["cp", local.to_str().unwrap(), "c1:/ro/"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: mounted volume is marked read-only\n".into()));
        assert!(!ro.join("new.txt").exists());
        let o = t.run(&["cp", "c1:/etc", "-"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let names = tar_names(&o.stdout);
        assert!(names.iter().any(|n| n == "etc/new.txt"), "{d}: {names:?}");
        // No mount of the copy is left on the host.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&t.root.join("tmp").display().to_string()), "{d}: leaked cp mount");
    }
}
