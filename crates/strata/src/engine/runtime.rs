//! Between the container record and the runtime: the start options a
//! container was created with (`-p`, `--network`, `--rm`, `--init`), and the
//! exit status of a foreground container as the CLI's own.

use strata_runtime::{Network, StartOpts, parse_port_spec};
use strata_store::container::Container;

/// The runtime options recorded at `create` for this container.
pub fn start_opts(c: &Container, detach: bool, attach_stdin: bool) -> anyhow::Result<StartOpts> {
    let h = &c.host;
    let mut publish = Vec::new();
    for (port, bindings) in &h.port_bindings {
        let (ctr, proto) = port.split_once('/').unwrap_or((port.as_str(), "tcp"));
        for b in bindings {
            let spec = match (b.host_ip.is_empty(), b.host_port.is_empty()) {
                (true, true) => format!("{ctr}/{proto}"),
                (true, false) => format!("{}:{ctr}/{proto}", b.host_port),
                (false, _) => format!("{}:{}:{ctr}/{proto}", b.host_ip, b.host_port),
            };
            publish.extend(parse_port_spec(&spec)?);
        }
    }
    let network: Network = h.network_mode.parse()?;
    Ok(StartOpts {
        detach,
        attach_stdin,
        tty: c.config.tty,
        rm: h.auto_remove,
        publish,
        network,
        runtime: std::env::var_os("STRATA_RUNTIME").map(Into::into),
        init: h.init.unwrap_or(false),
        sig_proxy: true,
    })
}

/// A container's exit code as a process status (Docker's `run` exits with it).
pub fn exit_status(code: i32) -> u8 {
    code.clamp(0, 255) as u8
}
