//! `info` / `system info`: the store and host summary. The text is the
//! "Server" part of `docker info`, one indentation level less (there is no
//! client part); `--format` templates and `--format json` see Docker's key
//! names (`Driver`, `DriverStatus`, `DockerRootDir`, ...) plus `RunRootDir`.

use serde_json::{Map, Value, json};
use strata_store::Store;

use crate::cli::InfoArgs;
use crate::engine::host::HostInfo;
use crate::engine::usage::container_counts;
use crate::error::StatusError;
use crate::output::template::{Mode, Template};
use crate::output::{Printer, units};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &InfoArgs, p: &mut Printer) -> anyhow::Result<()> {
    // A bad template fails before any work, with the docker CLI's status 64.
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some(f) => {
            let f = if f == "json" { "{{json .}}" } else { f };
            Some(
                Template::parse(f)
                    .map_err(|e| StatusError { code: 64, message: format!("template parsing error: {e}") })?,
            )
        }
    };
    let store = s.open_store()?;
    let info = gather(&store, &HostInfo::probe())?;
    match template {
        None => p.out(&text(&info))?,
        Some(t) => {
            let out = t.render(&info, Mode::Data).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            p.outln(&out)?;
        }
    }
    Ok(())
}

/// The info document, in the order of Docker's `system.Info`.
pub fn gather(store: &Store, host: &HostInfo) -> anyhow::Result<Value> {
    let images = store.images()?.len();
    let containers = container_counts(store)?;
    let volumes = store.volumes()?.len();
    let status: Vec<Value> = store.driver().status().into_iter().map(|(k, v)| json!([k, v])).collect();
    let mut o = Map::new();
    o.insert("Containers".into(), json!(containers.total));
    o.insert("ContainersRunning".into(), json!(containers.running));
    o.insert("ContainersPaused".into(), json!(containers.paused));
    o.insert("ContainersStopped".into(), json!(containers.stopped));
    o.insert("Images".into(), json!(images));
    o.insert("Volumes".into(), json!(volumes));
    o.insert("Driver".into(), json!(store.driver().name()));
    o.insert("DriverStatus".into(), Value::Array(status));
    o.insert("KernelVersion".into(), json!(host.kernel_version));
    o.insert("OperatingSystem".into(), json!(host.operating_system));
    o.insert("OSVersion".into(), json!(host.os_version));
    o.insert("OSType".into(), json!("linux"));
    o.insert("Architecture".into(), json!(host.architecture));
    o.insert("NCPU".into(), json!(host.ncpu));
    o.insert("MemTotal".into(), json!(host.mem_total));
    o.insert("DockerRootDir".into(), json!(store.root().display().to_string()));
    o.insert("RunRootDir".into(), json!(store.run_root().display().to_string()));
    o.insert("Name".into(), json!(host.hostname));
    o.insert("ServerVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    Ok(Value::Object(o))
}

/// The human-readable form.
pub fn text(info: &Value) -> String {
    let s = |k: &str| match &info[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("Containers: {}", s("Containers")));
    line(format!(" Running: {}", s("ContainersRunning")));
    line(format!(" Paused: {}", s("ContainersPaused")));
    line(format!(" Stopped: {}", s("ContainersStopped")));
    line(format!("Images: {}", s("Images")));
    line(format!("Volumes: {}", s("Volumes")));
    line(format!("Server Version: {}", s("ServerVersion")));
    line(format!("Storage Driver: {}", s("Driver")));
    for pair in info["DriverStatus"].as_array().into_iter().flatten() {
        let k = pair[0].as_str().unwrap_or_default();
        let v = pair[1].as_str().unwrap_or_default();
        line(format!(" {k}: {v}"));
    }
    line(format!("Strata Root Dir: {}", s("DockerRootDir")));
    line(format!("Run Root Dir: {}", s("RunRootDir")));
    for (label, key) in [
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
    ] {
        let v = s(key);
        if !v.is_empty() {
            line(format!("{label}: {v}"));
        }
    }
    line(format!("CPUs: {}", s("NCPU")));
    line(format!("Total Memory: {}", units::bytes_size(info["MemTotal"].as_u64().unwrap_or(0) as f64)));
    let name = s("Name");
    if !name.is_empty() {
        line(format!("Name: {name}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_layout() {
        let info = json!({
            "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0,
            "Images": 2, "Volumes": 0, "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "KernelVersion": "6.1.0", "OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "OSVersion": "12",
            "OSType": "linux", "Architecture": "x86_64", "NCPU": 2, "MemTotal": 25_200_000_000u64,
            "DockerRootDir": "/var/lib/strata", "RunRootDir": "/run/strata", "Name": "h", "ServerVersion": "0.1.0"
        });
        assert_eq!(
            text(&info),
            "Containers: 0\n Running: 0\n Paused: 0\n Stopped: 0\nImages: 2\nVolumes: 0\nServer Version: 0.1.0\n\
             Storage Driver: overlay2\n Backing Filesystem: extfs\n Supports d_type: true\n\
             Strata Root Dir: /var/lib/strata\nRun Root Dir: /run/strata\nKernel Version: 6.1.0\n\
             Operating System: Debian GNU/Linux 12 (bookworm)\nOSType: linux\nArchitecture: x86_64\nCPUs: 2\n\
             Total Memory: 23.47GiB\nName: h\n"
        );
    }
}
