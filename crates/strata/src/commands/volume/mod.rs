//! `volume` commands, one file each; `volume inspect` is
//! [`super::inspect::run_volume`].

pub mod clone;
pub mod create;
pub mod export;
pub mod import;
pub mod ls;
pub mod prune;
pub mod rename;
pub mod rm;
pub mod update;

/// `KEY=VALUE` items of a map flag (`-o`, `--label-add`): the value may be
/// empty, the `=` may not be missing.
pub fn key_values(items: &[String], flag: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for i in items {
        let Some((k, v)) = i.split_once('=') else {
            anyhow::bail!("invalid argument {i:?} for \"{flag}\" flag: expected KEY=VALUE");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}
