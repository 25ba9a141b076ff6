//! Published ports (`-p`): Docker's syntax, and a userspace TCP forwarder run
//! by the container's monitor.
//!
//! ## Why a forwarder, not NAT rules
//! The container has a private network namespace with only loopback (strata
//! has no bridge). The monitor listens on the host side (default `0.0.0.0`,
//! like Docker) and, for each connection, connects to `127.0.0.1:CTR`
//! *inside* the container's namespace: one thread `setns`es into
//! `/proc/<pid>/ns/net` (setns is per thread) and creates the sockets there;
//! a socket stays in the namespace it was created in wherever it is used, so
//! the byte pumping runs on ordinary threads. This needs no iptables/nftables
//! rules (root-only, global, and left behind when a process dies), no veth or
//! bridge, and works with a fully isolated namespace: the same design as
//! rootlesskit's `builtin` port driver and Docker's userland proxy. The cost
//! is a copy through userspace per byte, and the container sees connections
//! from 127.0.0.1 rather than from the real client. UDP is not forwarded yet.
//!
//! runc brings `lo` up in a new network namespace (verified with runc 1.1.5:
//! `ip addr` in the container shows `lo` UP with 127.0.0.1), so nothing has
//! to be configured inside.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One `-p` request (ranges are expanded by [`parse_port_spec`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    /// `None`: all interfaces (0.0.0.0).
    pub host_ip: Option<IpAddr>,
    /// Inclusive range of acceptable host ports; `None`: any free port.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub proto: Proto,
}

/// A published port as bound (`docker port`, the PORTS column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl std::fmt::Display for PortBinding {
    /// `0.0.0.0:8080->80/tcp`, as `docker ps` shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = SocketAddr::new(self.host_ip, self.host_port);
        write!(f, "{addr}->{}/{}", self.container_port, self.proto.as_str())
    }
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a >= 1 && a <= b).then_some((a, b))
}

/// Parse one `-p` value as Docker does (`go-connections/nat.ParsePortSpec`):
/// `CTR`, `HOST:CTR`, `IP:HOST:CTR`, `IP::CTR`, each with an optional
/// `/tcp|/udp`, ranges `8000-8001:80-81`, IPv6 in brackets `[::1]:80:80`.
pub fn parse_port_spec(raw: &str) -> Result<Vec<PortSpec>> {
    let (addr, proto) = match raw.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (raw, "tcp"),
    };
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return Err(RuntimeError::invalid("Invalid proto", proto)),
    };
    let parts: Vec<&str> = addr.split(':').collect();
    let n = parts.len();
    let (ip, host, ctr) = match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        _ => (&addr[..addr.len() - parts[n - 1].len() - parts[n - 2].len() - 2], parts[n - 2], parts[n - 1]),
    };
    if ctr.is_empty() {
        return Err(RuntimeError::invalid("No port specified", raw));
    }
    let host_ip = if ip.is_empty() {
        None
    } else {
        let bare = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(ip);
        Some(bare.parse::<IpAddr>().map_err(|_| RuntimeError::invalid("Invalid ip address", ip))?)
    };
    let ctr_range = parse_range(ctr).ok_or_else(|| RuntimeError::invalid("Invalid containerPort", ctr))?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).ok_or_else(|| RuntimeError::invalid("Invalid hostPort", host))?)
    };
    let ctr_len = ctr_range.1 - ctr_range.0;
    if let Some((h0, h1)) = host_range {
        let host_len = h1 - h0;
        if ctr_len != 0 && host_len != ctr_len {
            return Err(RuntimeError::invalid(
                "Invalid ranges specified for container and host Ports",
                format!("{ctr} and {host}"),
            ));
        }
    }
    Ok((0..=ctr_len)
        .map(|i| PortSpec {
            host_ip,
            host_ports: match host_range {
                Some((h0, h1)) if ctr_len == 0 => Some((h0, h1)),
                Some((h0, _)) => Some((h0 + i, h0 + i)),
                None => None,
            },
            container_port: ctr_range.0 + i,
            proto,
        })
        .collect())
}

/// Listeners bound for the requested ports (before the container starts, so
/// a taken port fails the start cleanly).
pub struct Listeners {
    pub bound: Vec<(TcpListener, PortBinding)>,
}

/// Bind every spec on the host. A host port already in use gives Docker's
/// `Bind for 0.0.0.0:8080 failed: port is already allocated`.
pub fn bind_all(specs: &[PortSpec]) -> Result<Listeners> {
    let mut bound = Vec::new();
    for s in specs {
        if s.proto == Proto::Udp {
            return Err(RuntimeError::Unsupported(format!(
                "publishing UDP port {}/udp is not supported yet (only TCP is forwarded)",
                s.container_port
            )));
        }
        let ip = s.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (lo, hi) = s.host_ports.unwrap_or((0, 0));
        let mut last_err = None;
        let mut got = None;
        for port in lo..=hi {
            match TcpListener::bind(SocketAddr::new(ip, port)) {
                Ok(l) => {
                    got = Some(l);
                    break;
                }
                Err(e) => last_err = Some((port, e)),
            }
        }
        let l = match got {
            Some(l) => l,
            None => {
                let (port, e) = last_err.expect("at least one port tried");
                let addr = SocketAddr::new(ip, port).to_string();
                return Err(if e.kind() == io::ErrorKind::AddrInUse {
                    RuntimeError::PortInUse { addr }
                } else {
                    RuntimeError::io("bind", addr, e)
                });
            }
        };
        let local = l.local_addr().map_err(|e| RuntimeError::io("getsockname", "listener", e))?;
        bound.push((
            l,
            PortBinding { host_ip: ip, host_port: local.port(), container_port: s.container_port, proto: s.proto },
        ));
    }
    Ok(Listeners { bound })
}

type ConnectRequest = (u16, mpsc::Sender<io::Result<TcpStream>>);

/// Serve the listeners for the rest of the process's life: connections are
/// made inside `netns` to `127.0.0.1:<container port>` and pumped both ways.
pub fn serve(listeners: Listeners, netns: strata_sys::process::NetNs) {
    let (tx, rx) = mpsc::channel::<ConnectRequest>();
    thread::Builder::new()
        .name("netns-connect".into())
        .spawn(move || {
            let entered = netns.enter_current_thread();
            for (port, reply) in rx {
                let r = match &entered {
                    Ok(()) => TcpStream::connect((Ipv4Addr::LOCALHOST, port)),
                    Err(e) => Err(io::Error::other(e.to_string())),
                };
                let _ = reply.send(r);
            }
        })
        .expect("spawn thread");
    for (listener, binding) in listeners.bound {
        let tx = tx.clone();
        thread::Builder::new()
            .name(format!("port-{}", binding.host_port))
            .spawn(move || accept_loop(listener, binding.container_port, tx))
            .expect("spawn thread");
    }
}

fn accept_loop(listener: TcpListener, port: u16, tx: mpsc::Sender<ConnectRequest>) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let tx = tx.clone();
        let _ = thread::Builder::new().name("port-conn".into()).spawn(move || {
            let (rtx, rrx) = mpsc::channel();
            if tx.send((port, rtx)).is_err() {
                return;
            }
            match rrx.recv() {
                Ok(Ok(server)) => pump_both(client, server),
                // Nothing listens inside (yet): close the client's connection,
                // as Docker's userland proxy does.
                _ => {
                    let _ = client.shutdown(Shutdown::Both);
                }
            }
        });
    }
}

fn pump_both(client: TcpStream, server: TcpStream) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { return };
    let up = thread::spawn(move || pump(c2, s2));
    pump(server, client);
    let _ = up.join();
}

/// Copy until EOF, then half-close the other side's write direction.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> PortSpec {
        let v = parse_port_spec(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v.into_iter().next().unwrap()
    }

    fn tcp(ip: Option<&str>, host: Option<(u16, u16)>, ctr: u16) -> PortSpec {
        PortSpec { host_ip: ip.map(|i| i.parse().unwrap()), host_ports: host, container_port: ctr, proto: Proto::Tcp }
    }

    #[test]
    fn docker_port_syntax() {
        assert_eq!(one("80"), tcp(None, None, 80));
        assert_eq!(one("8080:80"), tcp(None, Some((8080, 8080)), 80));
        assert_eq!(one("127.0.0.1:8080:80"), tcp(Some("127.0.0.1"), Some((8080, 8080)), 80));
        assert_eq!(one("127.0.0.1::80"), tcp(Some("127.0.0.1"), None, 80));
        assert_eq!(one("[::1]:8080:80/tcp"), tcp(Some("::1"), Some((8080, 8080)), 80));
        assert_eq!(one("53/udp").proto, Proto::Udp);
        assert_eq!(one("8000-8010:80"), tcp(None, Some((8000, 8010)), 80));
        let r = parse_port_spec("8000-8001:80-81").unwrap();
        assert_eq!(r, vec![tcp(None, Some((8000, 8000)), 80), tcp(None, Some((8001, 8001)), 81)]);
        assert_eq!(parse_port_spec("80-82").unwrap().len(), 3);
    }

    #[test]
    fn docker_port_errors() {
        let e = |s: &str| parse_port_spec(s).unwrap_err().to_string();
        assert_eq!(e("abc"), "Invalid containerPort: abc");
        assert_eq!(e("x:80"), "Invalid hostPort: x");
        assert_eq!(e("1.2.3:80:80"), "Invalid ip address: 1.2.3");
        assert_eq!(e("80/sctpx"), "Invalid proto: sctpx");
        assert_eq!(e("0"), "Invalid containerPort: 0");
        assert_eq!(e("70000"), "Invalid containerPort: 70000");
        assert_eq!(e("8000-8002:80-81"), "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002");
        assert_eq!(e("8080:"), "No port specified: 8080:");
    }

    #[test]
    fn binding_display_and_conflict() {
        let b =
            PortBinding { host_ip: "0.0.0.0".parse().unwrap(), host_port: 8080, container_port: 80, proto: Proto::Tcp };
        assert_eq!(b.to_string(), "0.0.0.0:8080->80/tcp");
        let l = bind_all(&[tcp(Some("127.0.0.1"), None, 80)]).unwrap();
        let port = l.bound[0].1.host_port;
        assert_ne!(port, 0);
        let e = bind_all(&[tcp(Some("127.0.0.1"), Some((port, port)), 80)]).err().unwrap();
        assert_eq!(e.to_string(), format!("Bind for 127.0.0.1:{port} failed: port is already allocated"));
    }
}
