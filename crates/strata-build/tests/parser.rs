//! The Dockerfile parser: every form the builder accepts, and the errors it gives.

use strata_build::parser::{ArgDecl, CopySpec, Kind, parse};
use strata_store::format::changes::{Change, CmdLine};

fn kinds(src: &str) -> Vec<Kind> {
    let df = parse(src).unwrap();
    let mut v: Vec<Kind> = df.meta_args.iter().map(|i| i.kind.clone()).collect();
    for s in &df.stages {
        v.push(s.from.kind.clone());
        v.extend(s.instructions.iter().map(|i| i.kind.clone()));
    }
    v
}

fn err(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

fn from(base: &str, name: Option<&str>) -> Kind {
    Kind::From { base: base.into(), name: name.map(String::from), platform: None }
}

#[test]
fn the_seed_dockerfile() {
    let df = parse("FROM busybox\nADD htdocs /usr/local/apache2/htdocs\nVOLUME /usr/local/apache2/htdocs\n").unwrap();
    assert_eq!(df.escape, '\\');
    assert_eq!(df.stages.len(), 1);
    let s = &df.stages[0];
    assert_eq!(s.from.kind, from("busybox", None));
    assert_eq!(s.from.original, "FROM busybox");
    assert_eq!(s.instructions[0].original, "ADD htdocs /usr/local/apache2/htdocs");
    assert_eq!(s.instructions[0].line, 2);
    assert_eq!(
        s.instructions[0].kind,
        Kind::Add(CopySpec {
            sources: vec!["htdocs".into()],
            dest: "/usr/local/apache2/htdocs".into(),
            from: None,
            chown: None,
            chmod: None
        })
    );
    assert_eq!(s.instructions[1].kind, Kind::Change(Change::Volume(vec!["/usr/local/apache2/htdocs".into()])));
}

#[test]
fn json_exec_form_versus_shell_form() {
    let k = kinds(
        "FROM a\nRUN [\"echo\", \"a b\"]\nRUN echo \"a b\"\nRUN [not json\nCMD [\"x\"]\nENTRYPOINT top -b\nSHELL [\"/bin/bash\", \"-c\"]\n",
    );
    assert_eq!(k[1], Kind::Run(CmdLine::Exec(vec!["echo".into(), "a b".into()])));
    assert_eq!(k[2], Kind::Run(CmdLine::Shell("echo \"a b\"".into())));
    assert_eq!(k[3], Kind::Run(CmdLine::Shell("[not json".into())));
    assert_eq!(k[4], Kind::Change(Change::Cmd(CmdLine::Exec(vec!["x".into()]))));
    assert_eq!(k[5], Kind::Change(Change::Entrypoint(CmdLine::Shell("top -b".into()))));
    assert_eq!(k[6], Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
    assert!(err("FROM a\nRUN [1, 2]\n").contains("line 2"));
    assert!(err("FROM a\nSHELL /bin/bash -c\n").contains("SHELL requires the arguments to be in JSON form"));
    let k = kinds("FROM a\nCOPY [\"a b\", \"/dst dir/\"]\n");
    assert_eq!(
        k[1],
        Kind::Copy(CopySpec {
            sources: vec!["a b".into()],
            dest: "/dst dir/".into(),
            from: None,
            chown: None,
            chmod: None
        })
    );
}

#[test]
fn continuations_and_comments() {
    let src = "FROM a\nRUN echo a \\\n  # a comment inside\n\n    && echo b \\  \n    && echo c\n# trailing comment\nLABEL x=1\n";
    let df = parse(src).unwrap();
    let s = &df.stages[0];
    assert_eq!(s.instructions[0].line, 2);
    assert_eq!(s.instructions[0].original, "RUN echo a     && echo b     && echo c");
    assert_eq!(s.instructions[0].kind, Kind::Run(CmdLine::Shell("echo a     && echo b     && echo c".into())));
    assert_eq!(s.instructions[1].line, 8);
    assert_eq!(s.instructions[1].kind, Kind::Change(Change::Label(vec![("x".into(), "1".into())])));
}

#[test]
fn escape_directive_backtick() {
    let src = "# escape=`\nFROM a\nRUN echo a `\n    b\nCOPY C:\\src\\ /dst/\nENV P=C:\\dir\n";
    let df = parse(src).unwrap();
    assert_eq!(df.escape, '`');
    let s = &df.stages[0];
    assert_eq!(s.instructions[0].kind, Kind::Run(CmdLine::Shell("echo a     b".into())));
    match &s.instructions[1].kind {
        Kind::Copy(c) => assert_eq!(c.sources, vec!["C:\\src\\".to_string()]),
        k => panic!("{k:?}"),
    }
    // The backslash is literal with a backtick escape.
    let Kind::Change(Change::Env(pairs)) = &s.instructions[2].kind else { panic!() };
    let v = strata_build::words::process(&pairs[0].1, &Default::default(), '\\').unwrap();
    assert_eq!(v, "C:\\dir");
    // With the default escape, a trailing backslash continues the line.
    let df = parse("FROM a\nRUN echo x\\\ny\n").unwrap();
    assert_eq!(df.stages[0].instructions[0].kind, Kind::Run(CmdLine::Shell("echo xy".into())));
}

#[test]
fn directives_only_at_the_top() {
    let df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.escape, '`');
    // After a comment, `# escape=` is just a comment.
    let df = parse("# hello\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(df.escape, '\\');
    let df = parse("FROM a\n# escape=`\nRUN x\n").unwrap();
    assert_eq!(df.escape, '\\');
    assert!(err("# escape=x\nFROM a\n").contains("invalid escape token 'x'"));
    assert!(err("# escape=`\n# escape=\\\nFROM a\n").contains("only one escape parser directive can be used"));
}

#[test]
fn lowercase_instructions_and_stage_names() {
    let k = kinds("from busybox as Build\nrun make\ncopy --from=build /a /b\nFROM scratch AS final\n");
    assert_eq!(k[0], from("busybox", Some("build")));
    assert_eq!(k[1], Kind::Run(CmdLine::Shell("make".into())));
    assert_eq!(
        k[2],
        Kind::Copy(CopySpec {
            sources: vec!["/a".into()],
            dest: "/b".into(),
            from: Some("build".into()),
            chown: None,
            chmod: None
        })
    );
    assert_eq!(k[3], from("scratch", Some("final")));
    let df = parse("FROM a AS one\nFROM b\n").unwrap();
    assert_eq!(df.stages[0].name(), Some("one"));
    assert_eq!(df.stages[1].name(), None);
    assert!(err("FROM a AS\n").contains("FROM requires either one or three arguments"));
    assert!(err("FROM a BS x\n").contains("FROM requires either one or three arguments"));
}

#[test]
fn args_before_from() {
    let df = parse("ARG VERSION=1.36\nARG OTHER\nFROM busybox:${VERSION}\nARG VERSION\nRUN echo $VERSION\n").unwrap();
    assert_eq!(df.meta_args.len(), 2);
    assert_eq!(df.meta_args[0].kind, Kind::Arg(vec![ArgDecl { name: "VERSION".into(), default: Some("1.36".into()) }]));
    assert_eq!(df.meta_args[1].kind, Kind::Arg(vec![ArgDecl { name: "OTHER".into(), default: None }]));
    assert_eq!(df.stages[0].from.kind, from("busybox:${VERSION}", None));
    let k = kinds("FROM a\nARG a=1 b \"c=x y\"\n");
    assert_eq!(
        k[1],
        Kind::Arg(vec![
            ArgDecl { name: "a".into(), default: Some("1".into()) },
            ArgDecl { name: "b".into(), default: None },
            ArgDecl { name: "\"c".into(), default: Some("x y\"".into()) },
        ])
    );
    assert!(err("RUN x\nFROM a\n").contains("no build stage in current context"));
    assert!(err("ARG x\n").contains("no FROM"));
    assert!(err("\n# only a comment\n").contains("cannot be empty"));
}

#[test]
fn copy_and_add_flags() {
    let k = kinds(
        "FROM a\nCOPY --chown=app:staff --chmod=0644 a b /dst/\nADD --chown=\"1000\" x.tar.gz /\nCOPY --from=0 --link /x /y\n",
    );
    assert_eq!(
        k[1],
        Kind::Copy(CopySpec {
            sources: vec!["a".into(), "b".into()],
            dest: "/dst/".into(),
            from: None,
            chown: Some("app:staff".into()),
            chmod: Some("0644".into())
        })
    );
    assert_eq!(
        k[2],
        Kind::Add(CopySpec {
            sources: vec!["x.tar.gz".into()],
            dest: "/".into(),
            from: None,
            chown: Some("1000".into()),
            chmod: None
        })
    );
    match &k[3] {
        Kind::Copy(c) => assert_eq!(c.from.as_deref(), Some("0")),
        k => panic!("{k:?}"),
    }
    assert!(err("FROM a\nADD --from=x a b\n").contains("unknown flag: from"));
    assert!(err("FROM a\nCOPY --bogus a b\n").contains("unknown flag: bogus"));
    assert!(err("FROM a\nCOPY --chown=1 --chown=2 a b\n").contains("Duplicate flag specified: chown"));
    assert!(err("FROM a\nCOPY onlyone\n").contains("COPY requires at least two arguments"));
    assert!(err("FROM a\nRUN --mount=type=cache,target=/x make\n").contains("RUN --mount is not supported"));
    assert!(err("FROM a\nENV --x=1 a=b\n").contains("unknown flag: x"));
}

#[test]
fn heredocs_are_refused_clearly() {
    let e = err("FROM a\nRUN <<EOF\necho hi\nEOF\n");
    assert!(e.contains("line 2") && e.contains("heredoc"), "{e}");
    let e = err("FROM a\nCOPY <<-\"EOT\" /x\nhello\nEOT\n");
    assert!(e.contains("heredoc"), "{e}");
    // A here-string is shell syntax, not a heredoc.
    parse("FROM a\nRUN cat <<<hello\n").unwrap();
}

#[test]
fn metadata_instructions() {
    let k = kinds(
        "FROM a\nENV A=1 B=\"two words\"\nENV C legacy form\nLABEL k=v\nEXPOSE 80 443/tcp\nUSER app\nWORKDIR /srv\nSTOPSIGNAL SIGINT\nVOLUME [\"/data\", \"/logs\"]\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN make\nMAINTAINER me <me@example.com>\n",
    );
    assert_eq!(k[1], Kind::Change(Change::Env(vec![("A".into(), "1".into()), ("B".into(), "\"two words\"".into())])));
    assert_eq!(k[2], Kind::Change(Change::Env(vec![("C".into(), "legacy form".into())])));
    assert_eq!(k[3], Kind::Change(Change::Label(vec![("k".into(), "v".into())])));
    assert_eq!(k[4], Kind::Change(Change::Expose(vec!["80".into(), "443/tcp".into()])));
    assert_eq!(k[5], Kind::Change(Change::User("app".into())));
    assert_eq!(k[6], Kind::Change(Change::Workdir("/srv".into())));
    assert_eq!(k[7], Kind::Change(Change::StopSignal("SIGINT".into())));
    assert_eq!(k[8], Kind::Change(Change::Volume(vec!["/data".into(), "/logs".into()])));
    assert!(matches!(k[9], Kind::Change(Change::Healthcheck(_))));
    assert_eq!(k[10], Kind::Change(Change::OnBuild("RUN make".into())));
    assert_eq!(k[11], Kind::Maintainer("me <me@example.com>".into()));
    assert!(err("FROM a\nFOO bar\n").contains("unknown instruction: FOO"));
    assert!(err("FROM a\nENV X\n").contains("ENV must have two arguments"));
}

#[test]
fn crlf_and_bom() {
    let df = parse("\u{feff}FROM a\r\nRUN echo \\\r\n  hi\r\n").unwrap();
    assert_eq!(df.stages[0].instructions[0].kind, Kind::Run(CmdLine::Shell("echo   hi".into())));
}
