//! Docker's container inspect document (`ContainerJSON`, API 1.50): the
//! record's fields in Docker's order, `HostConfig` with Docker's defaults
//! for what strata does not configure, `GraphDriver` from the driver, and
//! `Mounts` exactly as docker-behaviour.md §2.4 shows them (`Name` and
//! `Driver` for volumes only; tmpfs mounts with an empty `Mode`).

use serde_json::{Map, Value, json};
use strata_store::Store;
use strata_store::container::spec::{VolumeArg, parse_volume_arg};
use strata_store::container::{Container, MountKind, MountPoint};

use crate::engine::containers::{network_mode, path_args};
use crate::engine::usage::size_rw;
use crate::output::time;

/// Docker's default masked and read-only paths (`oci.DefaultSpec`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

pub fn container_document(store: &Store, c: &Container, size: bool) -> anyhow::Result<Value> {
    let (path, args) = path_args(c);
    let st = &c.state;
    let mut o = Map::new();
    o.insert("Id".into(), json!(c.id));
    o.insert("Created".into(), json!(time::parse(&c.created).map(time::rfc3339_nano).unwrap_or(c.created.clone())));
    o.insert("Path".into(), json!(path));
    o.insert("Args".into(), json!(args));
    o.insert(
        "State".into(),
        json!({
            "Status": if st.status.is_empty() { "created" } else { st.status.as_str() },
            "Running": st.running,
            "Paused": st.paused,
            "Restarting": st.restarting,
            "OOMKilled": st.oom_killed,
            "Dead": st.dead,
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": zero_if_empty(&st.started_at),
            "FinishedAt": zero_if_empty(&st.finished_at),
        }),
    );
    o.insert("Image".into(), json!(c.image_id.as_str()));
    for k in ["ResolvConfPath", "HostnamePath", "HostsPath", "LogPath"] {
        o.insert(k.into(), json!(""));
    }
    o.insert("Name".into(), json!(format!("/{}", c.name)));
    o.insert("RestartCount".into(), json!(0));
    o.insert("Driver".into(), json!(store.driver().name()));
    o.insert("Platform".into(), json!("linux"));
    o.insert("MountLabel".into(), json!(""));
    o.insert("ProcessLabel".into(), json!(""));
    o.insert("AppArmorProfile".into(), json!(""));
    o.insert("ExecIDs".into(), Value::Null);
    o.insert("HostConfig".into(), host_config(c));
    let meta = store.driver().metadata(&c.rw_id)?;
    o.insert(
        "GraphDriver".into(),
        json!({"Data": if meta.is_empty() { Value::Null } else { json!(meta) }, "Name": store.driver().name()}),
    );
    if size {
        let rw = size_rw(store, c).unwrap_or(0);
        let image = store.image(c.image_id.as_str()).and_then(|i| store.image_size(&i)).unwrap_or(0);
        o.insert("SizeRw".into(), json!(rw));
        o.insert("SizeRootFs".into(), json!(rw + image));
    }
    o.insert("Mounts".into(), Value::Array(c.mounts.iter().map(mount_document).collect()));
    o.insert("Config".into(), config(c));
    o.insert("NetworkSettings".into(), network_settings(c));
    Ok(Value::Object(o))
}

fn zero_if_empty(t: &str) -> String {
    if t.is_empty() { strata_store::container::ZERO_TIME.into() } else { t.to_string() }
}

/// One entry of `.Mounts`: moby's `MountPoint` JSON.
pub fn mount_document(m: &MountPoint) -> Value {
    let mut o = Map::new();
    let kind = match m.kind {
        MountKind::Bind => "bind",
        MountKind::Volume => "volume",
        MountKind::Tmpfs => "tmpfs",
    };
    o.insert("Type".into(), json!(kind));
    if m.kind == MountKind::Volume {
        o.insert("Name".into(), json!(m.name));
    }
    o.insert("Source".into(), json!(m.source.display().to_string()));
    o.insert("Destination".into(), json!(m.destination));
    if m.kind == MountKind::Volume {
        o.insert("Driver".into(), json!(m.driver()));
    }
    // A tmpfs mount point keeps its mount options in `mode` for the runtime.
    o.insert("Mode".into(), json!(if m.kind == MountKind::Tmpfs { "" } else { m.mode.as_str() }));
    o.insert("RW".into(), json!(m.rw));
    o.insert("Propagation".into(), json!(m.propagation));
    Value::Object(o)
}

/// The container's `Config`; an unset hostname shows as the short id (the
/// runtime's default, as Docker fills it in at create).
fn config(c: &Container) -> Value {
    let mut v = serde_json::to_value(&c.config).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut()
        && o.get("Hostname").and_then(Value::as_str).is_some_and(str::is_empty)
    {
        o.insert("Hostname".into(), json!(c.short_id()));
    }
    v
}

/// Docker's `HostConfig` in its field order: what the record holds, Docker's
/// defaults for the rest.
fn host_config(c: &Container) -> Value {
    let h = &c.host;
    // `-v /path` is an anonymous volume (Config.Volumes), not a bind, in Docker.
    let binds: Vec<&String> =
        c.binds.iter().filter(|b| !matches!(parse_volume_arg(b), Ok(VolumeArg::Anonymous { .. }))).collect();
    let list_or_null = |v: Vec<&String>| if v.is_empty() { Value::Null } else { json!(v) };
    let mut o = Map::new();
    o.insert("Binds".into(), list_or_null(binds));
    o.insert("ContainerIDFile".into(), json!(""));
    o.insert("LogConfig".into(), json!({"Type": "json-file", "Config": {}}));
    o.insert("NetworkMode".into(), json!(network_mode(c)));
    o.insert("PortBindings".into(), json!(h.port_bindings));
    o.insert("RestartPolicy".into(), json!({"Name": "no", "MaximumRetryCount": 0}));
    o.insert("AutoRemove".into(), json!(h.auto_remove));
    o.insert("VolumeDriver".into(), json!(""));
    o.insert("VolumesFrom".into(), list_or_null(c.volumes_from.iter().collect()));
    o.insert("ConsoleSize".into(), json!([0, 0]));
    o.insert("CapAdd".into(), Value::Null);
    o.insert("CapDrop".into(), Value::Null);
    o.insert("CgroupnsMode".into(), json!("private"));
    o.insert("Dns".into(), json!([]));
    o.insert("DnsOptions".into(), json!([]));
    o.insert("DnsSearch".into(), json!([]));
    o.insert("ExtraHosts".into(), Value::Null);
    o.insert("GroupAdd".into(), Value::Null);
    o.insert("IpcMode".into(), json!("private"));
    o.insert("Cgroup".into(), json!(""));
    o.insert("Links".into(), Value::Null);
    o.insert("OomScoreAdj".into(), json!(0));
    o.insert("PidMode".into(), json!(""));
    o.insert("Privileged".into(), json!(false));
    o.insert("PublishAllPorts".into(), json!(false));
    o.insert("ReadonlyRootfs".into(), json!(c.read_only));
    o.insert("SecurityOpt".into(), Value::Null);
    if !h.tmpfs.is_empty() {
        o.insert("Tmpfs".into(), json!(h.tmpfs));
    }
    o.insert("UTSMode".into(), json!(""));
    o.insert("UsernsMode".into(), json!(""));
    o.insert("ShmSize".into(), json!(67_108_864));
    o.insert("Runtime".into(), json!("runc"));
    o.insert("Isolation".into(), json!(""));
    for (k, v) in [
        ("CpuShares", json!(0)),
        ("Memory", json!(0)),
        ("NanoCpus", json!(0)),
        ("CgroupParent", json!("")),
        ("BlkioWeight", json!(0)),
        ("BlkioWeightDevice", json!([])),
        ("BlkioDeviceReadBps", json!([])),
        ("BlkioDeviceWriteBps", json!([])),
        ("BlkioDeviceReadIOps", json!([])),
        ("BlkioDeviceWriteIOps", json!([])),
        ("CpuPeriod", json!(0)),
        ("CpuQuota", json!(0)),
        ("CpuRealtimePeriod", json!(0)),
        ("CpuRealtimeRuntime", json!(0)),
        ("CpusetCpus", json!("")),
        ("CpusetMems", json!("")),
        ("Devices", json!([])),
        ("DeviceCgroupRules", Value::Null),
        ("DeviceRequests", Value::Null),
        ("MemoryReservation", json!(0)),
        ("MemorySwap", json!(0)),
        ("MemorySwappiness", Value::Null),
        ("OomKillDisable", Value::Null),
        ("PidsLimit", Value::Null),
        ("Ulimits", json!([])),
        ("CpuCount", json!(0)),
        ("CpuPercent", json!(0)),
        ("IOMaximumIOps", json!(0)),
        ("IOMaximumBandwidth", json!(0)),
    ] {
        o.insert(k.into(), v);
    }
    if !h.mounts.is_empty() {
        o.insert("Mounts".into(), json!(h.mounts));
    }
    o.insert("MaskedPaths".into(), json!(MASKED_PATHS));
    o.insert("ReadonlyPaths".into(), json!(READONLY_PATHS));
    if let Some(init) = h.init {
        o.insert("Init".into(), json!(init));
    }
    Value::Object(o)
}

/// A minimal `NetworkSettings`: strata has no bridge, so no addresses.
fn network_settings(c: &Container) -> Value {
    let mode = network_mode(c);
    let endpoint = json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": null,
        "MacAddress": "",
        "DriverOpts": null,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": null
    });
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": {},
        "Networks": { mode: endpoint },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(kind: MountKind, name: &str, src: &str, dst: &str, mode: &str, rw: bool, prop: &str) -> MountPoint {
        MountPoint {
            kind,
            name: name.into(),
            source: src.into(),
            destination: dst.into(),
            mode: mode.into(),
            rw,
            propagation: prop.into(),
            nocopy: false,
            from: None,
        }
    }

    /// docker-behaviour.md §2.4, one of each kind.
    #[test]
    fn mounts_exactly_like_docker() {
        let cases = [
            (
                mp(MountKind::Bind, "", "/srv/emptybind", "/bindpath", "ro", false, "rprivate"),
                r#"{"Type":"bind","Source":"/srv/emptybind","Destination":"/bindpath","Mode":"ro","RW":false,"Propagation":"rprivate"}"#,
            ),
            (
                mp(MountKind::Volume, "anc_named", "/v/anc_named/_data", "/named", "z", true, ""),
                r#"{"Type":"volume","Name":"anc_named","Source":"/v/anc_named/_data","Destination":"/named","Driver":"local","Mode":"z","RW":true,"Propagation":""}"#,
            ),
            (
                mp(MountKind::Tmpfs, "", "", "/tm", "size=1m", true, ""),
                r#"{"Type":"tmpfs","Source":"","Destination":"/tm","Mode":"","RW":true,"Propagation":""}"#,
            ),
        ];
        for (m, want) in cases {
            assert_eq!(serde_json::to_string(&mount_document(&m)).unwrap(), want);
        }
    }
}
