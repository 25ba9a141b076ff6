//! The volume commands through the real binary, on every driver under
//! test: `volume create/ls/inspect` (the exact JSON of docker-behaviour.md
//! §2.4), `rm` (in use, and the `rm $(ls -q)` recipe), `prune`, and strata's
//! `clone`, `rename`, `update`; `system df -v` counts their users.

use std::process::Output;

mod support;
use support::{Env, drivers_under_test};

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `CreatedAt` as Docker prints it: `2026-11-29T05:49:20Z`.
fn created_at(t: &Env, name: &str) -> String {
    let c = t.ok(&["volume", "inspect", "-f", "{{.CreatedAt}}", name]);
    assert_eq!(c.len(), 20, "{c}");
    assert!(c.ends_with('Z') && c.as_bytes()[10] == b'T', "{c}");
    c
}

#[test]
fn create_ls_inspect_like_docker() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        assert_eq!(t.ok(&["volume", "create", "--label", "k=v", "--label", "anchortest=1", "anc_lab"]), "anc_lab");
        // Creating it again is fine.
        assert_eq!(t.ok(&["volume", "create", "anc_lab"]), "anc_lab");
        assert_eq!(
            t.ok(&["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=10m,uid=1000", "tv"]),
            "tv"
        );
        let anon = t.ok(&["volume", "create"]);
        assert!(is_hex64(&anon), "{anon}");

        let vols = t.root.join("volumes").display().to_string();
        let created = created_at(&t, "anc_lab");
        assert_eq!(
            t.ok(&["volume", "inspect", "anc_lab"]),
            format!(
                "[\n    {{\n        \"CreatedAt\": \"{created}\",\n        \"Driver\": \"local\",\n        \"Labels\": {{\n            \"anchortest\": \"1\",\n            \"k\": \"v\"\n        }},\n        \"Mountpoint\": \"{vols}/anc_lab/_data\",\n        \"Name\": \"anc_lab\",\n        \"Options\": null,\n        \"Scope\": \"local\"\n    }}\n]"
            )
        );
        assert_eq!(
            t.ok(&["volume", "inspect", "--format", "json", "tv", &anon]),
            format!(
                r#"[{{"CreatedAt":"{}","Driver":"local","Labels":null,"Mountpoint":"{vols}/tv/_data","Name":"tv","Options":{{"device":"tmpfs","o":"size=10m,uid=1000","type":"tmpfs"}},"Scope":"local"}},{{"CreatedAt":"{}","Driver":"local","Labels":{{"com.docker.volume.anonymous":""}},"Mountpoint":"{vols}/{anon}/_data","Name":"{anon}","Options":null,"Scope":"local"}}]"#,
                created_at(&t, "tv"),
                created_at(&t, &anon)
            )
        );
        let o = t.run(&["volume", "inspect", "anc_lab", "nope"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(stderr(&o), "Error: No such volume: nope\n");

        // ls: natural order (here the same as byte order: no digit runs to compare).
        let mut names = [anon.as_str(), "anc_lab", "tv"];
        names.sort();
        let rows: Vec<String> = names.iter().map(|n| format!("local     {n}")).collect();
        assert_eq!(t.ok(&["volume", "ls"]), format!("DRIVER    VOLUME NAME\n{}", rows.join("\n")));
        assert_eq!(t.ok(&["volume", "ls", "-q", "-f", "label=k=v"]), "anc_lab");
        assert_eq!(t.ok(&["volume", "ls", "-q", "-f", "name=nc_l"]), "anc_lab");
        assert_eq!(t.ok(&["volume", "ls", "-q", "-f", "label=k=other"]), "");
        assert_eq!(
            t.ok(&["volume", "ls", "--format", "{{.Name}}: {{.Labels}}", "-f", "name=anc"]),
            "anc_lab: anchortest=1,k=v"
        );
        std::fs::write(t.root.join("volumes/anc_lab/_data/f"), vec![0u8; 1200]).unwrap();
        assert_eq!(
            t.ok(&["volume", "ls", "--size", "-f", "name=anc_lab"]),
            "DRIVER    VOLUME NAME   SIZE\nlocal     anc_lab       1.2kB"
        );
        let o = t.run(&["volume", "ls", "-f", "bogus=1"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

        // Errors: unknown driver, bad option.
        assert_eq!(t.run(&["volume", "create", "-d", "nfs", "x1"]).status.code(), Some(1));
        assert_eq!(t.run(&["volume", "create", "-o", "foo=bar", "x1"]).status.code(), Some(1));
        assert_eq!(t.ok(&["volume", "ls", "-q", "-f", "name=x1"]), "");
    }
}

#[test]
fn rm_in_use_and_the_destroy_recipe() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &[]);
        for v in ["free1", "free2", "busy"] {
            t.ok(&["volume", "create", v]);
        }
        let ctr = t.ok(&["create", "-v", "busy:/data", "busybox"]);
        let o = t.run(&["volume", "rm", "busy"]);
        assert_eq!((o.status.code(), stdout(&o)), (Some(1), String::new()));
        assert_eq!(stderr(&o), format!("Error: remove busy: volume is in use - [{ctr}]\n"));
        // -f does not override "in use"; it only forgives missing names.
        assert_eq!(t.run(&["volume", "rm", "-f", "busy"]).status.code(), Some(1));
        assert_eq!(t.run(&["volume", "rm", "-f", "missing"]).status.code(), Some(0));
        let o = t.run(&["volume", "rm", "missing"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: No such volume: missing\n".into()));

        // `strata volume rm $(strata volume ls -q)`.
        let names = t.ok(&["volume", "ls", "-q"]);
        let mut args = vec!["volume", "rm"];
        args.extend(names.lines());
        let o = t.run(&args);
        assert_eq!(o.status.code(), Some(1), "{d}");
        assert_eq!(stdout(&o), "free1\nfree2\n");
        assert_eq!(stderr(&o), format!("Error: remove busy: volume is in use - [{ctr}]\n"));
        assert_eq!(t.ok(&["volume", "ls", "-q"]), "busy");

        // system df -v: LINKS counts the containers using a volume; SIZE is
        // the image's /data/f.txt copied up at create (11 bytes) and ours.
        std::fs::write(t.root.join("volumes/busy/_data/f"), b"12345").unwrap();
        let df = t.ok(&["system", "df", "-v"]);
        assert!(df.contains("VOLUME NAME   LINKS     SIZE\nbusy          1         16B"), "{d}: {df}");
        assert!(df.contains(&ctr[..12]), "{df}");
        assert_eq!(
            t.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]).lines().nth(2),
            Some("Local Volumes 1 1")
        );

        t.ok(&["rm", &ctr]);
        assert_eq!(t.ok(&["volume", "rm", "busy"]), "busy");
    }
}

#[test]
fn prune_clone_rename_update() {
    for d in drivers_under_test() {
        let t = Env::new(d);
        t.import_busybox("busybox:latest", &[]);
        t.ok(&["volume", "create", "named"]);
        t.ok(&["volume", "create", "--label", "keep=1", "kept"]);
        t.ok(&["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "withopts"]);
        let anon = t.ok(&["volume", "create"]);
        std::fs::write(t.root.join(format!("volumes/{anon}/_data/f")), vec![1u8; 2000]).unwrap();
        t.ok(&["create", "-v", "/used", "busybox"]);
        let used = t.ok(&["volume", "ls", "-q"]).lines().find(|n| n.len() == 64 && *n != anon).unwrap().to_string();

        // Declining the prompt removes nothing.
        let o = t.run_in(&["volume", "prune"], b"\n");
        assert_eq!(
            stdout(&o),
            "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 5);
        assert_eq!(
            t.ok(&["volume", "prune", "--dry-run"]),
            format!("Would delete Volumes:\n{anon}\n\nTotal reclaimable space: 2kB")
        );
        // Default: unused anonymous volumes only.
        assert_eq!(t.ok(&["volume", "prune", "-f"]), format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 2kB"));
        assert_eq!(t.ok(&["volume", "prune", "-f"]), "Total reclaimed space: 0B");
        // -a: every unused volume without options, filtered by label.
        assert_eq!(
            t.ok(&["volume", "prune", "-a", "-f", "--filter", "label!=keep"]),
            "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B"
        );
        let mut left: Vec<String> = t.ok(&["volume", "ls", "-q"]).lines().map(String::from).collect();
        left.sort();
        let mut want = vec![used.clone(), "kept".into(), "withopts".into()];
        want.sort();
        assert_eq!(left, want, "{d}");
        let o = t.run(&["volume", "prune", "-f", "--filter", "until=1h"]);
        assert_eq!((o.status.code(), stderr(&o)), (Some(1), "Error: invalid filter 'until'\n".into()));

        // clone: labels and data; rename; update labels.
        std::fs::write(t.root.join("volumes/kept/_data/data.txt"), "payload").unwrap();
        assert_eq!(t.ok(&["volume", "clone", "kept", "copy"]), "copy");
        assert_eq!(std::fs::read_to_string(t.root.join("volumes/copy/_data/data.txt")).unwrap(), "payload");
        assert_eq!(t.ok(&["volume", "inspect", "-f", "{{json .Labels}}", "copy"]), r#"{"keep":"1"}"#);
        assert_eq!(t.run(&["volume", "clone", "kept", "copy"]).status.code(), Some(1));
        t.ok(&["volume", "rename", "copy", "moved"]);
        assert_eq!(std::fs::read_to_string(t.root.join("volumes/moved/_data/data.txt")).unwrap(), "payload");
        assert_eq!(t.run(&["volume", "inspect", "copy"]).status.code(), Some(1));
        let o = t.run(&["volume", "rename", &used, "x2"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
        assert_eq!(t.ok(&["volume", "update", "--label-add", "a=b", "--label-rm", "keep", "moved"]), "moved");
        assert_eq!(t.ok(&["volume", "inspect", "-f", "{{json .Labels}}", "moved"]), r#"{"a":"b"}"#);
        assert_eq!(t.run(&["volume", "update", "--label-rm", "nope", "moved"]).status.code(), Some(1));
        assert_eq!(t.run(&["volume", "update", "--label-add", "novalue", "moved"]).status.code(), Some(1));
    }
}
