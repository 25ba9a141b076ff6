//! `version`: the client's version, Docker's layout (`Client:` block) and
//! `--format` data (`{{.Client.Version}}`, `{{json .}}`).

use serde_json::{Value, json};

use crate::cli::VersionArgs;
use crate::error::StatusError;
use crate::output::Printer;
use crate::output::template::{Mode, Template};

pub fn run(a: &VersionArgs, p: &mut Printer) -> anyhow::Result<()> {
    let data = document();
    match a.format.as_deref() {
        None | Some("") => p.out(&text(&data))?,
        Some(f) => {
            let f = if f == "json" { "{{json .}}" } else { f };
            let t = Template::parse(f)
                .map_err(|e| StatusError { code: 64, message: format!("template parsing error: {e}") })?;
            let out = t.render(&data, Mode::Data).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            p.outln(&out)?;
        }
    }
    Ok(())
}

pub fn document() -> Value {
    let arch = strata_store::ImageConfig::host_arch();
    json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "Os": std::env::consts::OS,
            "Arch": arch,
            "StorageDrivers": strata_store::driver::PRIORITY,
        }
    })
}

pub fn text(v: &Value) -> String {
    let c = &v["Client"];
    let drivers: Vec<&str> = c["StorageDrivers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    format!(
        "Client:\n Version:           {}\n OS/Arch:           {}/{}\n Storage drivers:   {}\n",
        c["Version"].as_str().unwrap_or_default(),
        c["Os"].as_str().unwrap_or_default(),
        c["Arch"].as_str().unwrap_or_default(),
        drivers.join(", ")
    )
}
