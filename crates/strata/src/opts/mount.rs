//! `--mount` and `--tmpfs`, as the docker CLI parses them (`opts/mount.go`,
//! `container/opts.go`). The daemon-side checks (absolute paths, existing
//! bind sources) are the engine's.

use std::collections::BTreeMap;

use strata_store::container::MountKind;
use strata_store::container::spec::{BindOptions, DriverConfig, MountRequest, TmpfsOptions, VolumeOptions};

/// One `--mount` value: CSV fields of `key=value` (`type=volume` by default).
/// Keys are case-insensitive; a value containing commas is quoted as a
/// whole CSV field (`"volume-opt=o=size=5m,uid=1000"`).
pub fn parse_mount(value: &str) -> Result<MountRequest, String> {
    let fields = csv_fields(value)?;
    let mut m = MountRequest::new(MountKind::Volume);
    let mut kind = "volume".to_string();
    let mut bind: Option<BindOptions> = None;
    let mut volume: Option<VolumeOptions> = None;
    let mut tmpfs: Option<TmpfsOptions> = None;
    fn vol(v: &mut Option<VolumeOptions>) -> &mut VolumeOptions {
        let o = v.get_or_insert_with(VolumeOptions::default);
        o.driver_config.get_or_insert_with(DriverConfig::default);
        o
    }
    let bad_value = |key: &str, val: &str| format!("invalid value for {key}: {val}");
    for field in &fields {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => m.read_only = true,
                "volume-nocopy" => vol(&mut volume).no_copy = true,
                "bind-create-src" => bind.get_or_insert_with(BindOptions::default).create_mountpoint = true,
                "bind-nonrecursive" => {
                    return Err("bind-nonrecursive is deprecated, use bind-recursive=disabled instead".into());
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        match key.as_str() {
            "type" => kind = val.to_lowercase(),
            "source" | "src" => {
                m.source = val.to_string();
                if (val == "." || val.starts_with("./"))
                    && let Ok(cwd) = std::env::current_dir()
                {
                    m.source = clean_join(&cwd.to_string_lossy(), val);
                }
            }
            "target" | "dst" | "destination" => m.target = val.to_string(),
            "readonly" | "ro" => m.read_only = parse_bool(val).ok_or_else(|| bad_value(&key, val))?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => bind.get_or_insert_with(BindOptions::default).propagation = val.to_lowercase(),
            "bind-create-src" => {
                bind.get_or_insert_with(BindOptions::default).create_mountpoint =
                    parse_bool(val).ok_or_else(|| bad_value(&key, val))?
            }
            "bind-nonrecursive" => {
                return Err("bind-nonrecursive is deprecated, use bind-recursive=disabled instead".into());
            }
            "volume-subpath" => vol(&mut volume).subpath = val.to_string(),
            "volume-nocopy" => vol(&mut volume).no_copy = parse_bool(val).ok_or_else(|| bad_value(&key, val))?,
            "volume-label" => set_kv(&mut vol(&mut volume).labels, val),
            "volume-driver" => {
                vol(&mut volume).driver_config.get_or_insert_with(DriverConfig::default).name = val.into()
            }
            "volume-opt" => {
                set_kv(&mut vol(&mut volume).driver_config.get_or_insert_with(DriverConfig::default).options, val)
            }
            "tmpfs-size" => {
                tmpfs.get_or_insert_with(TmpfsOptions::default).size_bytes =
                    ram_in_bytes(val).ok_or_else(|| bad_value(&key, val))?
            }
            "tmpfs-mode" => {
                tmpfs.get_or_insert_with(TmpfsOptions::default).mode =
                    u32::from_str_radix(val, 8).map_err(|_| bad_value(&key, val))?
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    m.kind = match kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        "" => return Err("type is required".into()),
        other => return Err(format!("invalid mount config for type {other:?}: mount type unknown")),
    };
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    if volume.is_some() && m.kind != MountKind::Volume {
        return Err(format!("cannot mix 'volume-*' options with mount type '{kind}'"));
    }
    if bind.is_some() && m.kind != MountKind::Bind {
        return Err(format!("cannot mix 'bind-*' options with mount type '{kind}'"));
    }
    if tmpfs.is_some() && m.kind != MountKind::Tmpfs {
        return Err(format!("cannot mix 'tmpfs-*' options with mount type '{kind}'"));
    }
    m.bind_options = bind;
    m.volume_options = volume;
    m.tmpfs_options = tmpfs;
    Ok(m)
}

/// `--tmpfs PATH[:OPTIONS]` → (path, mount(8) options).
pub fn parse_tmpfs(value: &str) -> Result<(String, String), String> {
    let (path, opts) = value.split_once(':').unwrap_or((value, ""));
    if !path.starts_with('/') {
        return Err(format!(
            "invalid mount config for type \"tmpfs\": invalid mount path: '{path}' mount path must be absolute"
        ));
    }
    if opts.split(',').any(|o| o == "tmpcopyup") {
        return Err("invalid tmpfs option [\"tmpcopyup\"]".into());
    }
    Ok((path.to_string(), opts.to_string()))
}

fn set_kv(map: &mut BTreeMap<String, String>, value: &str) {
    let (k, v) = value.split_once('=').unwrap_or((value, ""));
    if !k.is_empty() {
        map.insert(k.to_string(), v.to_string());
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// go-units `RAMInBytes`: `64m`, `1.5g`, `512k`, `100` (binary multiples).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let s = s.trim();
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars();
    let mult: f64 = match chars.clone().next() {
        None => 1.0,
        Some(c) => match c.to_ascii_lowercase() {
            'k' => 1024f64,
            'm' => 1024f64.powi(2),
            'g' => 1024f64.powi(3),
            't' => 1024f64.powi(4),
            'p' => 1024f64.powi(5),
            'b' => 1.0,
            _ => return None,
        },
    };
    let unit: String = if mult != 1.0 || rest.starts_with(['b', 'B']) {
        chars.next();
        chars.collect()
    } else {
        String::new()
    };
    // After the prefix: an optional `i` and an optional `b`.
    let unit = unit.strip_prefix(['i', 'I']).unwrap_or(&unit);
    let unit = unit.strip_prefix(['b', 'B']).unwrap_or(unit);
    if !unit.is_empty() {
        return None;
    }
    Some((n * mult) as i64)
}

/// Go's `encoding/csv` reading one record: fields split on `,`; a field
/// starting with `"` is quoted (`""` is a literal quote inside it).
pub fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    let mut col = 0usize;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            col += 1;
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        col += 2;
                        field.push('"');
                    }
                    Some('"') => {
                        col += 1;
                        break;
                    }
                    Some(c) => {
                        col += 1;
                        field.push(c);
                    }
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            col + 1
                        ));
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => col += 1,
                Some(_) => {
                    return Err(format!(
                        "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                        col + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        col += 1;
                        break;
                    }
                    Some('"') => {
                        return Err(format!("parse error on line 1, column {}: bare \" in non-quoted-field", col + 1));
                    }
                    Some(c) => {
                        col += 1;
                        field.push(c);
                    }
                }
            }
        }
        fields.push(field);
    }
}

fn clean_join(base: &str, rel: &str) -> String {
    strata_store::container::spec::clean(&format!("{base}/{rel}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_like_go() {
        assert_eq!(csv_fields("a,b=c").unwrap(), ["a", "b=c"]);
        assert_eq!(
            csv_fields(r#"type=volume,"volume-opt=o=size=5m,mode=0700",x"#).unwrap(),
            ["type=volume", "volume-opt=o=size=5m,mode=0700", "x"]
        );
        assert_eq!(csv_fields(r#""a""b""#).unwrap(), [r#"a"b"#]);
        assert!(csv_fields(r#"a"b"#).is_err());
        assert!(csv_fields(r#""ab"#).is_err());
    }

    #[test]
    fn mounts_like_docker() {
        let m = parse_mount("type=bind,source=/srv/x,target=/x,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.read_only),
            (MountKind::Bind, "/srv/x", "/x", true)
        );
        assert_eq!(m.bind_options.unwrap().propagation, "rslave");
        let m = parse_mount("src=v,dst=/v,volume-nocopy,volume-label=a=1,volume-opt=type=tmpfs,ro=false").unwrap();
        assert_eq!((m.kind, m.source.as_str(), m.read_only), (MountKind::Volume, "v", false));
        let vo = m.volume_options.unwrap();
        assert!(vo.no_copy);
        assert_eq!(vo.labels["a"], "1");
        assert_eq!(vo.driver_config.unwrap().options["type"], "tmpfs");
        let m = parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(m.tmpfs_options, Some(TmpfsOptions { size_bytes: 1 << 20, mode: 0o1770 }));
        // JSON as Docker's HostConfig.Mounts shows it (§2.4).
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}}"#
        );
        let m =
            parse_mount(r#"type=volume,src=v,dst=/ov,volume-driver=local,"volume-opt=o=size=5m,mode=0700""#).unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"Type":"volume","Source":"v","Target":"/ov","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"o":"size=5m,mode=0700"}}}}"#
        );
        assert_eq!(parse_mount("type=bind,src=/a").unwrap_err(), "target is required");
        assert_eq!(
            parse_mount("type=bind,src=/a,dst=/b,tmpfs-size=1m").unwrap_err(),
            "cannot mix 'tmpfs-*' options with mount type 'bind'"
        );
        assert_eq!(parse_mount("type=volume,dst=/b,bogus=1").unwrap_err(), "unexpected key 'bogus' in 'bogus=1'");
        assert_eq!(
            parse_mount("type=volume,dst=/b,bogus").unwrap_err(),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(parse_mount("dst=/b,ro=maybe").unwrap_err(), "invalid value for ro: maybe");
        assert_eq!(parse_mount("type=tmpfs,dst=/b,tmpfs-size=lots").unwrap_err(), "invalid value for tmpfs-size: lots");
        assert!(parse_mount("type=npipe,dst=/b").is_err());
    }

    #[test]
    fn ram_sizes() {
        assert_eq!(ram_in_bytes("1m"), Some(1 << 20));
        assert_eq!(ram_in_bytes("1MB"), Some(1 << 20));
        assert_eq!(ram_in_bytes("1MiB"), Some(1 << 20));
        assert_eq!(ram_in_bytes("1.5k"), Some(1536));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("100b"), Some(100));
        assert_eq!(ram_in_bytes("2 g"), Some(2 << 30));
        assert_eq!(ram_in_bytes("x"), None);
        assert_eq!(ram_in_bytes("1q"), None);
    }

    #[test]
    fn tmpfs_flags() {
        assert_eq!(parse_tmpfs("/t:rw,size=2m").unwrap(), ("/t".into(), "rw,size=2m".into()));
        assert_eq!(parse_tmpfs("/t").unwrap(), ("/t".into(), String::new()));
        assert!(parse_tmpfs("t").is_err());
    }
}
