//! `-p/--publish`, as docker's `nat.ParsePortSpec`:
//! `[ip:][hostPort:]containerPort[/proto]`, with ranges (`8000-8001:80-81`)
//! and IPv6 addresses in brackets (`[::1]:8080:80`).

use std::net::IpAddr;

use strata_store::container::spec::PortBinding;

/// The container ports (`80/tcp`) and host bindings one `-p` value asks for.
pub fn parse_publish(raw: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let (ip, host_port, container) = split_parts(raw);
    let (proto, container_port) = split_proto_port(&container);
    let mut ip = ip;
    if let Some(inner) = ip.strip_prefix('[') {
        ip = inner.strip_suffix(']').ok_or_else(|| format!("invalid IP address {ip}: missing ']' in address"))?.into();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container_port.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) = port_range(&container_port).ok_or_else(|| format!("invalid containerPort: {container_port}"))?;
    let (mut hstart, mut hend) = (0u32, 0u32);
    if !host_port.is_empty() {
        (hstart, hend) = port_range(&host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?;
    }
    if !host_port.is_empty() && (end - start) != (hend - hstart) && end != start {
        return Err(format!("invalid ranges specified for container and host Ports: {container_port} and {host_port}"));
    }
    let proto = proto.to_lowercase();
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut hp = String::new();
        if !host_port.is_empty() {
            hp = (hstart + i).to_string();
        }
        if start == end && hstart != hend {
            hp = format!("{hp}-{hend}");
        }
        out.push((format!("{}/{proto}", start + i), PortBinding { host_ip: ip.clone(), host_port: hp }));
    }
    Ok(out)
}

fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1].to_string();
    match n {
        1 => (String::new(), String::new(), container),
        2 => (String::new(), parts[0].into(), container),
        3 => (parts[0].into(), parts[1].into(), container),
        _ => (parts[..n - 2].join(":"), parts[n - 2].into(), container),
    }
}

fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp".into(), parts[0].into());
    }
    (parts[1].into(), parts[0].into())
}

/// `80` or `8000-8010` (inclusive, start ≤ end, ports 0..=65535).
fn port_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    (a <= b).then_some((a as u32, b as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> (String, String, String) {
        let v = parse_publish(raw).unwrap();
        assert_eq!(v.len(), 1, "{raw}");
        let (p, b) = v.into_iter().next().unwrap();
        (p, b.host_ip, b.host_port)
    }

    #[test]
    fn docker_port_specs() {
        assert_eq!(one("80"), ("80/tcp".into(), String::new(), String::new()));
        assert_eq!(one("8080:80"), ("80/tcp".into(), String::new(), "8080".into()));
        assert_eq!(one("127.0.0.1:8080:80/udp"), ("80/udp".into(), "127.0.0.1".into(), "8080".into()));
        assert_eq!(one("127.0.0.1::80"), ("80/tcp".into(), "127.0.0.1".into(), String::new()));
        assert_eq!(one("[::1]:8080:80"), ("80/tcp".into(), "::1".into(), "8080".into()));
        assert_eq!(one("8000-8010:80"), ("80/tcp".into(), String::new(), "8000-8010".into()));
        let r = parse_publish("8000-8001:80-81").unwrap();
        assert_eq!(
            r.iter().map(|(p, b)| format!("{p}>{}", b.host_port)).collect::<Vec<_>>(),
            ["80/tcp>8000", "81/tcp>8001"]
        );
        assert_eq!(parse_publish("x").unwrap_err(), "invalid containerPort: x");
        assert_eq!(parse_publish("y:80").unwrap_err(), "invalid hostPort: y");
        assert_eq!(parse_publish("80/icmp").unwrap_err(), "invalid proto: icmp");
        assert_eq!(parse_publish("1.2.3:80:80").unwrap_err(), "invalid IP address: 1.2.3");
        assert_eq!(
            parse_publish("8000-8002:80-81").unwrap_err(),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
    }
}
