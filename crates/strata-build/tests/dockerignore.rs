//! `.dockerignore` semantics (moby/patternmatcher and the docker CLI's
//! `ReadAll`): comments, cleaning, `*`/`?`/classes, `**`, parent
//! directories, `!` exceptions and the last-match-wins rule.

use strata_build::ignore::{Ignore, Pattern};

fn ex(rules: &str, path: &str) -> bool {
    Ignore::parse(rules).excluded(path)
}

#[test]
fn reading_the_file() {
    let ig =
        Ignore::parse("\u{feff}# comment\n  \n  *.log  \n!keep.log\n/abs/path/\n./rel/../other\n #not a comment\n");
    let texts: Vec<(&str, bool)> = ig.patterns.iter().map(|p| (p.text.as_str(), p.exception)).collect();
    assert_eq!(
        texts,
        [("*.log", false), ("keep.log", true), ("abs/path", false), ("other", false), ("#not a comment", false)]
    );
}

#[test]
fn plain_names_and_parent_directories() {
    assert!(ex("secret", "secret"));
    assert!(ex("secret", "secret/key"), "a directory excludes what is below it");
    assert!(ex("secret", "secret/a/b/c"));
    assert!(!ex("secret", "src/secret"), "patterns are anchored at the context root");
    assert!(!ex("secret", "secrets"));
    assert!(ex("a/b", "a/b/c"));
    assert!(!ex("a/b", "a"));
}

#[test]
fn wildcards() {
    assert!(ex("*.log", "x.log"));
    assert!(!ex("*.log", "dir/x.log"), "* does not cross /");
    assert!(ex("*/*.log", "dir/x.log"));
    assert!(ex("?.txt", "a.txt"));
    assert!(!ex("?.txt", "ab.txt"));
    assert!(ex("[a-c].txt", "b.txt"));
    assert!(!ex("[^a-c].txt", "b.txt"));
    assert!(ex("\\*.txt", "*.txt"));
    assert!(!ex("\\*.txt", "a.txt"));
}

#[test]
fn double_star() {
    assert!(ex("**/*.tmp", "x.tmp"), "** matches no directory at all");
    assert!(ex("**/*.tmp", "a/b/c/x.tmp"));
    assert!(ex("a/**/z", "a/z"));
    assert!(ex("a/**/z", "a/b/c/z"));
    assert!(!ex("a/**/z", "b/a/z"));
    assert!(ex("a/**", "a/x"));
    assert!(ex("**", "anything"));
    assert!(ex("**/node_modules", "web/app/node_modules/pkg/index.js"));
}

#[test]
fn exceptions_and_last_match_wins() {
    let rules = "*.md\n!README.md\n";
    assert!(ex(rules, "CHANGES.md"));
    assert!(!ex(rules, "README.md"));
    // A later exclusion wins over an earlier exception.
    assert!(ex("*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md"));
    assert!(!ex("*.md\n!README*.md\nREADME-secret.md\n", "README-public.md"));
    // An exception inside an excluded directory.
    let rules = "build\n!build/out.txt\n";
    assert!(ex(rules, "build/obj.o"));
    assert!(!ex(rules, "build/out.txt"));
    let ig = Ignore::parse(rules);
    assert!(ig.may_reinclude_below("build"), "the walk must still enter build/");
    assert!(!Ignore::parse("build\n").may_reinclude_below("build"));
    assert!(!Ignore::parse("build\n!other/x\n").may_reinclude_below("build"));
    // Everything except a few files (a common idiom).
    let rules = "*\n!src\n!Cargo.toml\n";
    assert!(ex(rules, "target"));
    assert!(!ex(rules, "src/main.rs"));
    assert!(!ex(rules, "Cargo.toml"));
}

#[test]
fn pattern_match_is_whole_path() {
    let p = Pattern::new("src/*.rs", false);
    assert!(p.matches("src/lib.rs"));
    assert!(!p.matches("src/a/lib.rs"));
    assert!(!p.matches("xsrc/lib.rs"));
}
