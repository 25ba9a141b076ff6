//! The step loop: stages in order, one image per instruction, the legacy
//! builder's output, the cache probe before every step.
//!
//! ```text
//! meta ARGs ─▶ for each stage up to --target:
//!   FROM (image | stage | scratch) ─▶ ONBUILD triggers of the base
//!   for each instruction:  Step i/N : <original>
//!     created_by (Docker's history text) ─▶ cache key (parent id, created_by)
//!       hit  ─▶ " ---> Using cache"
//!       miss ─▶ metadata: new config, `empty_layer` history entry
//!               ADD/COPY/RUN/WORKDIR: steps.rs (a container, one layer)
//!     " ---> <id>"
//! ```
//! Metadata instructions (ENV, LABEL, ...) make images without a container:
//! only their config changes. Build args and ENV expand words the way the
//! legacy builder does: ARGs declared in the stage (with `--build-arg`
//! overriding defaults) and the predefined proxy args given with
//! `--build-arg`, overlaid by ENV.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use strata_store::config::{History, ImageConfig, RootFs};
use strata_store::format::changes::{self, Change, CmdLine};
use strata_store::{Digest, Image, Layer, Store};

use crate::BuildOpts;
use crate::cache::Cache;
use crate::context::Context;
use crate::error::{BuildError, Result};
use crate::parser::{ArgDecl, Dockerfile, Instruction, Kind, Stage};
use crate::temp::{Interrupt, Temps};
use crate::words::{self, Vars};

/// Build args every build accepts without an ARG (Docker's `builtinAllowedBuildArgs`).
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The state of the stage being built.
pub(crate) struct StageState {
    /// `None` right after `FROM scratch`.
    pub image: Option<Image>,
    pub config: ImageConfig,
    /// ARGs declared in this stage that have a value.
    pub args: BTreeMap<String, String>,
    /// A CMD was set in this stage (an ENTRYPOINT then keeps it).
    pub cmd_set: bool,
}

impl StageState {
    pub fn parent_id(&self) -> Option<&Digest> {
        self.image.as_ref().map(|i| &i.id)
    }

    /// SHELL, or `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.config
            .config
            .extra
            .get("Shell")
            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    pub fn env(&self) -> Vec<String> {
        self.config.config.env.clone().unwrap_or_default()
    }

    fn set(&mut self, img: Image) {
        self.config = img.config.clone();
        self.image = Some(img);
    }

    /// `<shell> #(nop) ` (the prefix of metadata steps' history).
    pub fn nop(&self) -> String {
        format!("{} #(nop) ", self.shell().join(" "))
    }
}

struct Done {
    name: Option<String>,
    image: Option<Image>,
}

pub(crate) struct Builder<'a> {
    pub store: &'a Store,
    pub opts: &'a BuildOpts,
    pub out: &'a mut dyn Write,
    pub escape: char,
    pub ctx: Context,
    pub cache: Cache<'a>,
    pub temps: Temps<'a>,
    pub intr: Interrupt,
    step: usize,
    total: usize,
    /// Global ARGs (before the first FROM) and their values.
    meta_args: BTreeMap<String, Option<String>>,
    consumed: BTreeSet<String>,
    stages: Vec<Done>,
}

impl<'a> Builder<'a> {
    pub fn new(
        store: &'a Store,
        opts: &'a BuildOpts,
        out: &'a mut dyn Write,
        escape: char,
        ctx: Context,
        intr: Interrupt,
    ) -> Result<Builder<'a>> {
        Ok(Builder {
            store,
            opts,
            out,
            escape,
            ctx,
            cache: Cache::open(store)?,
            temps: Temps::new(store),
            intr,
            step: 0,
            total: 0,
            meta_args: BTreeMap::new(),
            consumed: BTreeSet::new(),
            stages: Vec::new(),
        })
    }

    pub fn say(&mut self, line: &str) -> Result<()> {
        writeln!(self.out, "{line}").map_err(|e| BuildError::io("write", "build output", e))
    }

    /// Build the stages up to the target; the last one's image.
    pub fn run(&mut self, df: &Dockerfile) -> Result<Image> {
        let stages: &[Stage] = match &self.opts.target {
            None => &df.stages,
            Some(t) => {
                let t = t.to_ascii_lowercase();
                let i =
                    df.stages.iter().position(|s| s.name() == Some(t.as_str())).ok_or_else(|| {
                        BuildError::invalid(format!("failed to reach build target {t} in Dockerfile"))
                    })?;
                &df.stages[..=i]
            }
        };
        self.total = df.meta_args.len() + stages.iter().map(|s| 1 + s.instructions.len()).sum::<usize>();
        for inst in &df.meta_args {
            self.print_step(inst)?;
            let Kind::Arg(decls) = &inst.kind else { unreachable!("meta instructions are ARGs") };
            for d in decls {
                let vars = Vars::new(&self.meta_values(), &[]);
                let name = self.word(&d.name, &vars)?;
                let default = d.default.as_deref().map(|v| self.word(v, &vars)).transpose()?;
                let value = self.opts.build_args.get(&name).cloned().or(default);
                if self.opts.build_args.contains_key(&name) {
                    self.consumed.insert(name.clone());
                }
                self.meta_args.insert(name, value);
            }
        }
        for stage in stages {
            self.intr.check()?;
            self.print_step(&stage.from)?;
            let mut st = self.from(&stage.from)?;
            let shown = st.image.as_ref().map(|i| i.id.short().to_string()).unwrap_or_default();
            self.say(&format!(" ---> {shown}"))?;
            self.onbuild_triggers(&mut st)?;
            for inst in &stage.instructions {
                self.intr.check()?;
                self.print_step(inst)?;
                self.dispatch(&mut st, inst)?;
                let shown = st.image.as_ref().map(|i| i.id.short().to_string()).unwrap_or_default();
                self.say(&format!(" ---> {shown}"))?;
            }
            self.stages.push(Done { name: stage.name().map(String::from), image: st.image });
        }
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.consumed.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let list = unused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            self.say(&format!("[Warning] One or more build-args [{list}] were not consumed"))?;
        }
        self.stages
            .last()
            .and_then(|d| d.image.clone())
            .ok_or_else(|| BuildError::invalid("No image was generated. Is your Dockerfile empty?"))
    }

    fn print_step(&mut self, inst: &Instruction) -> Result<()> {
        self.step += 1;
        let line = format!("Step {}/{} : {}", self.step, self.total, inst.original);
        self.say(&line)
    }

    fn meta_values(&self) -> BTreeMap<String, String> {
        self.meta_args.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect()
    }

    /// Expand a word written with the file's escape character.
    pub fn word(&self, w: &str, vars: &Vars) -> Result<String> {
        words::process(w, vars, self.escape).map_err(|m| BuildError::invalid(format!("failed to process {w:?}: {m}")))
    }

    /// What an instruction's words expand with: the stage's ARGs (and proxy
    /// args given with --build-arg), overlaid by ENV.
    pub fn vars(&self, st: &StageState) -> Vars {
        let env = st.env();
        let in_env = |k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
        let args: BTreeMap<String, String> = self.allowed_args(st).into_iter().filter(|(k, _)| !in_env(k)).collect();
        Vars::new(&args, &env)
    }

    /// Declared ARGs with values, plus the proxy args given on the command line.
    fn allowed_args(&self, st: &StageState) -> BTreeMap<String, String> {
        let mut m = st.args.clone();
        for p in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(*p) {
                m.entry(p.to_string()).or_insert_with(|| v.clone());
            }
        }
        m
    }

    /// For RUN: `K=V` build args the command sees (not shadowed by ENV), and
    /// those shown in its history (`|N K=V ...`: not the undeclared proxies).
    pub fn run_args(&self, st: &StageState) -> (Vec<String>, Vec<String>) {
        let env = st.env();
        let in_env = |k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
        let all: Vec<(String, String)> = self.allowed_args(st).into_iter().filter(|(k, _)| !in_env(k)).collect();
        let seen: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut shown: Vec<String> = all
            .iter()
            .filter(|(k, _)| st.args.contains_key(k) || !PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        shown.sort();
        (seen, shown)
    }

    fn from(&mut self, inst: &Instruction) -> Result<StageState> {
        let Kind::From { base, platform, .. } = &inst.kind else { unreachable!("a stage starts with FROM") };
        let vars = Vars::new(&self.meta_values(), &[]);
        let name = self.word(base, &vars)?;
        if let Some(p) = platform {
            let p = self.word(p, &vars)?;
            let host = format!("linux/{}", ImageConfig::host_arch());
            if !p.is_empty() && p != host && p != "linux" {
                return Err(BuildError::invalid(format!(
                    "FROM --platform={p}: strata builds only for the host platform ({host})"
                )));
            }
        }
        let blank = |image: Option<Image>| {
            let config = image.as_ref().map(|i| i.config.clone()).unwrap_or_else(scratch_config);
            StageState { image, config, args: BTreeMap::new(), cmd_set: false }
        };
        if name.eq_ignore_ascii_case("scratch") {
            return Ok(blank(None));
        }
        let lower = name.to_ascii_lowercase();
        if let Some(done) = self.stages.iter().find(|d| d.name.as_deref() == Some(lower.as_str())) {
            return Ok(blank(done.image.clone()));
        }
        let img = self.store.image(&name)?;
        Ok(blank(Some(img)))
    }

    fn onbuild_triggers(&mut self, st: &mut StageState) -> Result<()> {
        let triggers: Vec<String> = st
            .config
            .config
            .extra
            .get("OnBuild")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if triggers.is_empty() {
            return Ok(());
        }
        st.config.config.extra.remove("OnBuild");
        let s = if triggers.len() > 1 { "s" } else { "" };
        self.say(&format!("# Executing {} build trigger{s}", triggers.len()))?;
        for t in &triggers {
            let inst = crate::parser::parse_line(t, self.escape)?;
            if matches!(inst.kind, Kind::From { .. } | Kind::Maintainer(_) | Kind::Change(Change::OnBuild(_))) {
                return Err(BuildError::invalid(format!(
                    "{} isn't allowed as an ONBUILD trigger",
                    inst.kind.keyword()
                )));
            }
            self.dispatch(st, &inst)?;
        }
        Ok(())
    }

    fn dispatch(&mut self, st: &mut StageState, inst: &Instruction) -> Result<()> {
        match &inst.kind {
            Kind::From { .. } => unreachable!("FROM starts a stage"),
            Kind::Arg(decls) => self.arg(st, decls),
            Kind::Run(cl) => crate::steps::run(self, st, cl),
            Kind::Copy(spec) => crate::steps::copy(self, st, spec, false),
            Kind::Add(spec) => crate::steps::copy(self, st, spec, true),
            Kind::Change(Change::Workdir(w)) => crate::steps::workdir(self, st, w),
            Kind::Shell(v) => {
                let text = format!("{} SHELL [{}]", st.nop(), v.join(" "));
                let v = v.clone();
                self.meta_step(st, text, move |c| {
                    c.config.extra.insert("Shell".into(), serde_json::json!(v));
                    Ok(())
                })
            }
            Kind::Maintainer(m) => {
                let text = format!("{} MAINTAINER {m}", st.nop());
                let m = m.clone();
                self.meta_step(st, text, move |c| {
                    c.author = Some(m);
                    Ok(())
                })
            }
            Kind::Change(c) => self.change(st, c),
        }
    }

    fn arg(&mut self, st: &mut StageState, decls: &[ArgDecl]) -> Result<()> {
        let mut shown = Vec::new();
        for d in decls {
            let vars = self.vars(st);
            let name = self.word(&d.name, &vars)?;
            let default = d.default.as_deref().map(|v| self.word(v, &vars)).transpose()?;
            shown.push(match &default {
                Some(v) => format!("{name}={v}"),
                None => name.clone(),
            });
            let value = match self.opts.build_args.get(&name) {
                Some(v) => {
                    self.consumed.insert(name.clone());
                    Some(v.clone())
                }
                None => default.or_else(|| self.meta_args.get(&name).cloned().flatten()),
            };
            match value {
                Some(v) => st.args.insert(name, v),
                None => st.args.remove(&name),
            };
        }
        let text = format!("{} ARG {}", st.nop(), shown.join(" "));
        self.meta_step(st, text, |_| Ok(()))
    }

    /// Apply a `Change` with the stage's variables visible (the store's
    /// `apply_one` expands from the config's Env, so the ARGs are put there
    /// for the call).
    fn apply_with_vars(&self, st: &StageState, cfg: &mut ImageConfig, c: &Change) -> Result<()> {
        let real = cfg.config.env.clone();
        cfg.config.env = Some(self.vars(st).entries().to_vec());
        let mut cmd_set = true;
        let r = changes::apply_one(&mut cfg.config, c, &mut cmd_set);
        cfg.config.env = real;
        r.map_err(|e| BuildError::Instruction { instruction: c.keyword(), message: e.message })
    }

    /// Words of a metadata instruction (already in the `\` dialect).
    fn meta_word(&self, st: &StageState, c: &Change, w: &str) -> Result<String> {
        words::process(w, &self.vars(st), '\\')
            .map_err(|m| BuildError::Instruction { instruction: c.keyword(), message: m })
    }

    fn change(&mut self, st: &mut StageState, c: &Change) -> Result<()> {
        let nop = format!("{} ", st.nop());
        match c {
            Change::Cmd(cl) => {
                let cmd = resolve_cmd(cl, &st.shell());
                if !matches!(cl, CmdLine::Exec(v) if v.is_empty()) {
                    st.cmd_set = true;
                }
                let text = format!("{nop}CMD {}", go_quote_list(&cmd));
                self.meta_step(st, text, move |cfg| {
                    cfg.config.cmd = Some(cmd);
                    Ok(())
                })
            }
            Change::Entrypoint(cl) => {
                let ep = resolve_cmd(cl, &st.shell());
                let clear_cmd = !st.cmd_set;
                let text = format!("{nop}ENTRYPOINT {}", go_quote_list(&ep));
                self.meta_step(st, text, move |cfg| {
                    cfg.config.entrypoint = Some(ep);
                    if clear_cmd {
                        cfg.config.cmd = None;
                    }
                    Ok(())
                })
            }
            Change::Env(pairs) | Change::Label(pairs) => {
                let mut done = Vec::new();
                for (k, v) in pairs {
                    let (k, v) = (self.meta_word(st, c, k)?, self.meta_word(st, c, v)?);
                    if k.is_empty() {
                        return Err(BuildError::Instruction {
                            instruction: c.keyword(),
                            message: format!("{} names can not be blank", c.keyword()),
                        });
                    }
                    done.push((k, v));
                }
                let shown: Vec<String> = done.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let text = format!("{nop}{} {}", c.keyword(), shown.join(" "));
                let is_env = matches!(c, Change::Env(_));
                self.meta_step(st, text, move |cfg| {
                    for (k, v) in done {
                        if is_env {
                            let env = cfg.config.env.get_or_insert_with(Vec::new);
                            let entry = format!("{k}={v}");
                            match env.iter_mut().find(|e| e.split('=').next() == Some(k.as_str())) {
                                Some(e) => *e = entry,
                                None => env.push(entry),
                            }
                        } else {
                            cfg.config.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                        }
                    }
                    Ok(())
                })
            }
            Change::Expose(raw) => {
                let mut ports = Vec::new();
                for w in raw {
                    ports.extend(self.meta_word(st, c, w)?.split_whitespace().map(String::from));
                }
                let mut probe = st.config.clone();
                self.apply_with_vars(st, &mut probe, c)?;
                let exposed = probe.config.exposed_ports;
                let text = format!("{nop}EXPOSE {}", ports.join(" "));
                self.meta_step(st, text, move |cfg| {
                    cfg.config.exposed_ports = exposed;
                    Ok(())
                })
            }
            Change::User(u) => {
                let u = self.meta_word(st, c, u)?;
                let text = format!("{nop}USER {u}");
                self.meta_step(st, text, move |cfg| {
                    cfg.config.user = u;
                    Ok(())
                })
            }
            Change::Volume(vs) => {
                let mut vols = Vec::new();
                for v in vs {
                    let v = self.meta_word(st, c, v)?;
                    if v.is_empty() {
                        return Err(BuildError::Instruction {
                            instruction: "VOLUME",
                            message: "VOLUME specified can not be an empty string".into(),
                        });
                    }
                    vols.push(v);
                }
                let text = format!("{nop}VOLUME [{}]", vols.join(" "));
                self.meta_step(st, text, move |cfg| {
                    let set = cfg.config.volumes.get_or_insert_with(BTreeMap::new);
                    for v in vols {
                        set.insert(v, serde_json::json!({}));
                    }
                    Ok(())
                })
            }
            Change::StopSignal(s) => {
                let s = self.meta_word(st, c, s)?;
                let mut probe = st.config.clone();
                self.apply_with_vars(st, &mut probe, c)?;
                let text = format!("{nop}STOPSIGNAL {s}");
                self.meta_step(st, text, move |cfg| {
                    cfg.config.stop_signal = Some(s);
                    Ok(())
                })
            }
            Change::Healthcheck(h) => {
                let text = format!("{nop}HEALTHCHECK {h}");
                let h = h.clone();
                self.meta_step(st, text, move |cfg| {
                    cfg.config.extra.insert("Healthcheck".into(), h);
                    Ok(())
                })
            }
            Change::OnBuild(t) => {
                let text = format!("{nop}ONBUILD {t}");
                let t = t.clone();
                self.meta_step(st, text, move |cfg| {
                    let list = cfg.config.extra.entry("OnBuild").or_insert_with(|| serde_json::json!([]));
                    if !list.is_array() {
                        *list = serde_json::json!([]);
                    }
                    list.as_array_mut().expect("array").push(serde_json::Value::String(t));
                    Ok(())
                })
            }
            Change::Workdir(_) => unreachable!("WORKDIR is a filesystem step"),
        }
    }

    /// A step that changes only the config: probe the cache, else commit a
    /// new image with an `empty_layer` history entry.
    fn meta_step(
        &mut self,
        st: &mut StageState,
        created_by: String,
        apply: impl FnOnce(&mut ImageConfig) -> Result<()>,
    ) -> Result<()> {
        let key = Cache::key(st.parent_id(), &created_by, "");
        if let Some(img) = self.try_cache(&key)? {
            st.set(img);
            return Ok(());
        }
        let mut config = st.config.clone();
        apply(&mut config)?;
        let img = self.commit_image(config, created_by, None)?;
        self.cache.record(&key, &img.id)?;
        st.set(img);
        Ok(())
    }

    /// The cached result of a step, announced as Docker does.
    pub fn try_cache(&mut self, key: &str) -> Result<Option<Image>> {
        if self.opts.no_cache {
            return Ok(None);
        }
        let hit = self.cache.lookup(key)?;
        if hit.is_some() {
            self.say(" ---> Using cache")?;
        }
        Ok(hit)
    }

    /// Store a step's image: `config` (already changed) plus the history entry
    /// and, for a filesystem step, the new layer.
    pub fn commit_image(
        &mut self,
        mut config: ImageConfig,
        created_by: String,
        layer: Option<&Layer>,
    ) -> Result<Image> {
        let now = strata_store::meta::now_rfc3339();
        config.created = Some(now.clone());
        config.extra.remove("container");
        config.extra.remove("container_config");
        if config.rootfs.kind.is_empty() {
            config.rootfs.kind = "layers".into();
        }
        if let Some(l) = layer {
            config.rootfs.diff_ids.push(l.diff_id.to_string());
        }
        config.history.push(History {
            created: Some(now),
            created_by: Some(created_by),
            author: config.author.clone(),
            comment: None,
            empty_layer: layer.is_none(),
        });
        Ok(self.store.create_image(&config.to_bytes(), &[])?)
    }

    /// Finish a cached or committed step.
    pub fn finish(&mut self, st: &mut StageState, key: &str, img: Image) -> Result<()> {
        self.cache.record(key, &img.id)?;
        st.set(img);
        Ok(())
    }

    /// The image of an earlier stage (by name or index) or a stored image,
    /// for `COPY --from`.
    pub fn copy_source_image(&self, name: &str) -> Result<Option<Image>> {
        let lower = name.to_ascii_lowercase();
        if let Some(d) = self.stages.iter().find(|d| d.name.as_deref() == Some(lower.as_str())) {
            return Ok(d.image.clone());
        }
        if let Ok(i) = name.parse::<usize>() {
            return match self.stages.get(i) {
                Some(d) => Ok(d.image.clone()),
                None => Err(BuildError::invalid(format!(
                    "invalid from flag value {name}: refers to current build stage or a later one"
                ))),
            };
        }
        self.store
            .image(name)
            .map(Some)
            .map_err(|e| BuildError::invalid(format!("invalid from flag value {name}: {e}")))
    }
}

/// The config a `FROM scratch` stage starts from.
pub(crate) fn scratch_config() -> ImageConfig {
    ImageConfig {
        architecture: ImageConfig::host_arch().to_string(),
        os: "linux".into(),
        rootfs: RootFs { kind: "layers".into(), diff_ids: Vec::new() },
        ..Default::default()
    }
}

/// CMD / ENTRYPOINT / RUN: exec form as is, shell form through the stage's SHELL.
pub(crate) fn resolve_cmd(cl: &CmdLine, shell: &[String]) -> Vec<String> {
    match cl {
        CmdLine::Exec(v) => v.clone(),
        CmdLine::Shell(s) => {
            let mut v = shell.to_vec();
            v.push(s.clone());
            v
        }
    }
}

/// Go's `%q` of a `[]string`: `["a" "b c"]`.
pub(crate) fn go_quote_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" "))
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quoting() {
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"\n".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\"\n"]"#
        );
    }
}
