//! `inspect`, `image inspect`, `container inspect` and `volume inspect`:
//! Docker's inspect documents (API 1.50, Engine 28), printed by the docker
//! CLI's inspector.
//!
//! `inspect NAME` looks for a container, then an image, then a volume, as
//! the docker CLI does; `--type` restricts it to one kind.
//! Without `--format` the documents are a JSON array indented by 4 spaces
//! (HTML characters escaped, as the daemon's JSON encoder does); `--format json`
//! prints it compact; any other format is a template run on each document.
//! Names that do not resolve are reported after the output (`[]` when nothing
//! was found) and the exit status is 1.
//!
//! Files: `container.rs` (the container document), `volume.rs` (the volume one).

mod container;
mod volume;

use serde_json::{Map, Value, json};
use strata_store::config::ContainerConfig;
use strata_store::{ErrorKind, Image, Store, StoreError};

pub use self::container::container_document;
pub use self::volume::volume_document;
use crate::cli::{ContainerInspectArgs, ImageInspectArgs, InspectArgs, VolumeInspectArgs};
use crate::engine::tags::last_tag_time;
use crate::error::{Exit, StatusError};
use crate::output::template::{Mode, Template, escape_html};
use crate::output::{Printer, time};
use crate::settings::Settings;

/// Object types `inspect --type` accepts.
const TYPES: &[&str] = &["container", "image", "volume"];

/// What to look a name up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    Image,
    Volume,
    /// Container, image, then volume.
    Any,
}

pub fn run_image(s: &Settings, a: &ImageInspectArgs, p: &mut Printer) -> anyhow::Result<()> {
    let inspector = Inspector::new(a.format.as_deref())?;
    let store = s.open_store()?;
    inspect(&store, &a.images, Kind::Image, false, inspector, p)
}

pub fn run_container(s: &Settings, a: &ContainerInspectArgs, p: &mut Printer) -> anyhow::Result<()> {
    let inspector = Inspector::new(a.format.as_deref())?;
    let store = s.open_store()?;
    inspect(&store, &a.containers, Kind::Container, a.size, inspector, p)
}

pub fn run_volume(s: &Settings, a: &VolumeInspectArgs, p: &mut Printer) -> anyhow::Result<()> {
    let inspector = Inspector::new(a.format.as_deref())?;
    let store = s.open_store()?;
    inspect(&store, &a.volumes, Kind::Volume, false, inspector, p)
}

pub fn run(s: &Settings, a: &InspectArgs, p: &mut Printer) -> anyhow::Result<()> {
    let kind = match a.kind.as_deref().filter(|k| !k.is_empty()) {
        None => Kind::Any,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some("volume") => Kind::Volume,
        Some(k) => anyhow::bail!("unknown type: {k:?}: must be one of \"{}\"", TYPES.join("\", \"")),
    };
    let inspector = Inspector::new(a.format.as_deref())?;
    if a.size && matches!(kind, Kind::Image | Kind::Volume) {
        let what = if kind == Kind::Image { "image" } else { "volume" };
        p.errln(&format!("WARNING: --size ignored for {what}"))?;
    }
    let store = s.open_store()?;
    inspect(&store, &a.names, kind, a.size, inspector, p)
}

/// The document for `name`, or the error line to report.
fn lookup(store: &Store, name: &str, kind: Kind, size: bool) -> anyhow::Result<Result<Value, String>> {
    let not_found = |e: &StoreError| e.kind() == ErrorKind::NotFound;
    if matches!(kind, Kind::Container | Kind::Any) {
        match store.container(name) {
            Ok(c) => return Ok(Ok(container_document(store, &c, size)?)),
            Err(e) if kind == Kind::Any && not_found(&e) => {}
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    if matches!(kind, Kind::Image | Kind::Any) {
        match store.image(name) {
            Ok(img) => return Ok(Ok(image_document(store, &img)?)),
            Err(e) if kind == Kind::Any && (not_found(&e) || e.kind() == ErrorKind::InvalidArgument) => {}
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    match store.find_volume(name) {
        Ok(Some(v)) => Ok(Ok(volume_document(&v))),
        Ok(None) if kind == Kind::Any => Ok(Err(format!("No such object: {name}"))),
        Ok(None) => Ok(Err(StoreError::NoSuchVolume(name.to_string()).to_string())),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// How documents are printed.
enum Inspector {
    Indented,
    Compact,
    Template(Template),
}

impl Inspector {
    fn new(format: Option<&str>) -> anyhow::Result<Inspector> {
        Ok(match format {
            None | Some("") => Inspector::Indented,
            Some("json") => Inspector::Compact,
            Some(t) => Inspector::Template(
                Template::parse(t)
                    .map_err(|e| StatusError { code: 64, message: format!("template parsing error: {e}") })?,
            ),
        })
    }
}

fn inspect(
    store: &Store,
    names: &[String],
    kind: Kind,
    size: bool,
    inspector: Inspector,
    p: &mut Printer,
) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match lookup(store, name, kind, size)? {
            Ok(doc) => docs.push(doc),
            Err(e) => errors.push(e),
        }
    }
    flush(docs, errors, inspector, p)
}

/// Print the documents, then the errors; exit 1 if there were any.
fn flush(docs: Vec<Value>, mut errors: Vec<String>, inspector: Inspector, p: &mut Printer) -> anyhow::Result<()> {
    match inspector {
        Inspector::Indented | Inspector::Compact if docs.is_empty() => p.outln("[]")?,
        Inspector::Indented => p.outln(&escape_html(&to_indented(&Value::Array(docs))))?,
        Inspector::Compact => p.outln(&escape_html(&serde_json::to_string(&Value::Array(docs))?))?,
        Inspector::Template(t) => {
            let mut buf = String::new();
            for d in &docs {
                match t.render(d, Mode::Data) {
                    Ok(s) => {
                        buf.push_str(&s);
                        buf.push('\n');
                    }
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                }
            }
            if buf.is_empty() {
                buf.push('\n');
            }
            p.out(&buf)?;
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        p.error(e)?;
    }
    Err(Exit(1).into())
}

/// JSON indented by four spaces, as `json.Indent(dst, src, "", "    ")`.
pub fn to_indented(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("JSON values serialise");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Docker's image inspect document, fields in Docker's order.
pub fn image_document(store: &Store, img: &Image) -> anyhow::Result<Value> {
    let cfg = &img.config;
    let extra_str = |k: &str| cfg.extra.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut o = Map::new();
    o.insert("Id".into(), json!(img.id.as_str()));
    o.insert(
        "RepoTags".into(),
        json!(img.tags.iter().filter(|t| t.tag.is_some()).map(|t| t.familiar()).collect::<Vec<_>>()),
    );
    o.insert(
        "RepoDigests".into(),
        json!(
            img.tags.iter().filter(|t| t.tag.is_none() && t.digest.is_some()).map(|t| t.familiar()).collect::<Vec<_>>()
        ),
    );
    o.insert("Parent".into(), json!(""));
    o.insert("Comment".into(), json!(extra_str("comment")));
    if let Some(c) = &cfg.created {
        o.insert("Created".into(), json!(time::parse(c).map(time::rfc3339_nano).unwrap_or_else(|| c.clone())));
    }
    o.insert("DockerVersion".into(), json!(extra_str("docker_version")));
    o.insert("Author".into(), json!(cfg.author.clone().unwrap_or_default()));
    o.insert("Config".into(), config_document(&cfg.config));
    o.insert("Architecture".into(), json!(cfg.architecture));
    if let Some(v) = cfg.variant.as_ref().filter(|v| !v.is_empty()) {
        o.insert("Variant".into(), json!(v));
    }
    o.insert("Os".into(), json!(cfg.os));
    let os_version = extra_str("os.version");
    if !os_version.is_empty() {
        o.insert("OsVersion".into(), json!(os_version));
    }
    o.insert("Size".into(), json!(store.image_size(img)?));
    let data = match &img.top_layer {
        Some(top) => {
            let layer = store.layer(top)?;
            let meta = store.driver().metadata(&layer.cache_id)?;
            if meta.is_empty() { Value::Null } else { json!(meta) }
        }
        None => Value::Null,
    };
    o.insert("GraphDriver".into(), json!({"Data": data, "Name": store.driver().name()}));
    let mut rootfs = Map::new();
    if !cfg.rootfs.kind.is_empty() {
        rootfs.insert("Type".into(), json!(cfg.rootfs.kind));
    }
    if !cfg.rootfs.diff_ids.is_empty() {
        rootfs.insert("Layers".into(), json!(cfg.rootfs.diff_ids));
    }
    o.insert("RootFS".into(), Value::Object(rootfs));
    let last_tag = last_tag_time(store, &img.id)?.map(time::rfc3339_nano).unwrap_or_else(|| time::ZERO_TIME.into());
    o.insert("Metadata".into(), json!({"LastTagTime": last_tag}));
    Ok(Value::Object(o))
}

/// The image's `Config` with Docker's (Engine 28) field set: the container
/// config fields an image can carry, empty ones included.
pub fn config_document(c: &ContainerConfig) -> Value {
    let extra = |k: &str| c.extra.get(k).cloned();
    let or_null = |v: Option<Value>| v.unwrap_or(Value::Null);
    let mut o = Map::new();
    o.insert("Hostname".into(), json!(""));
    o.insert("Domainname".into(), json!(""));
    o.insert("User".into(), json!(c.user));
    o.insert("AttachStdin".into(), json!(false));
    o.insert("AttachStdout".into(), json!(false));
    o.insert("AttachStderr".into(), json!(false));
    if let Some(p) = c.exposed_ports.as_ref().filter(|p| !p.is_empty()) {
        o.insert("ExposedPorts".into(), json!(p));
    }
    o.insert("Tty".into(), json!(false));
    o.insert("OpenStdin".into(), json!(false));
    o.insert("StdinOnce".into(), json!(false));
    o.insert("Env".into(), or_null(c.env.as_ref().map(|v| json!(v))));
    o.insert("Cmd".into(), or_null(c.cmd.as_ref().map(|v| json!(v))));
    if let Some(h) = extra("Healthcheck").filter(|h| !h.is_null()) {
        o.insert("Healthcheck".into(), h);
    }
    if extra("ArgsEscaped").and_then(|v| v.as_bool()).unwrap_or(false) {
        o.insert("ArgsEscaped".into(), json!(true));
    }
    o.insert("Image".into(), extra("Image").filter(Value::is_string).unwrap_or(json!("")));
    o.insert("Volumes".into(), or_null(c.volumes.as_ref().map(|v| json!(v))));
    o.insert("WorkingDir".into(), json!(c.working_dir));
    o.insert("Entrypoint".into(), or_null(c.entrypoint.as_ref().map(|v| json!(v))));
    o.insert("OnBuild".into(), or_null(extra("OnBuild")));
    o.insert("Labels".into(), or_null(c.labels.as_ref().map(|v| json!(v))));
    if let Some(s) = c.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        o.insert("StopSignal".into(), json!(s));
    }
    if let Some(t) = extra("StopTimeout").filter(|t| !t.is_null()) {
        o.insert("StopTimeout".into(), t);
    }
    if let Some(sh) = extra("Shell").filter(|s| s.as_array().is_some_and(|a| !a.is_empty())) {
        o.insert("Shell".into(), sh);
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_dockers_fields_in_order() {
        let c = ContainerConfig { cmd: Some(vec!["sh".into()]), ..Default::default() };
        let v = config_document(&c);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels"
            ]
        );
        assert_eq!(v["Cmd"], json!(["sh"]));
        assert_eq!(v["Env"], Value::Null);
    }

    #[test]
    fn indents_with_four_spaces() {
        assert_eq!(
            to_indented(&json!([{"a": [1], "b": {}}])),
            "[\n    {\n        \"a\": [\n            1\n        ],\n        \"b\": {}\n    }\n]"
        );
    }
}
