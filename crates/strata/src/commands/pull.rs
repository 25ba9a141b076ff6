//! `pull [--platform P] [-q] NAME[:TAG|@DIGEST]`: as `docker pull`.
//!
//! On a terminal, one line per layer (`a1b2c3d4e5f6: Downloading [==> ] …`,
//! then `Pull complete`); otherwise no per-layer lines. Then `Digest: …`,
//! `Status: …` and the full reference; with `-q`, only the reference.
//!
//! Also here, shared by the other registry commands: [`registry_config`]
//! (flags and environment → the client's settings), [`TransferBars`] (the
//! per-layer display) and [`registry_error`].

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_registry::{NoProgress, PullOpts, RegistryConfig, RegistryError, Status, TransferProgress};
use strata_store::Reference;

use crate::cli::{PullArgs, RegistryArgs};
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &PullArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = Reference::parse(&a.image)?;
    if !a.quiet && !a.image.contains(':') && !a.image.contains('@') {
        p.outln("Using default tag: latest")?;
    }
    let store = s.open_store()?;
    let opts = PullOpts { platform: a.platform.clone(), quiet: a.quiet, registry: registry_config(&a.registry) };
    let bars = TransferBars::for_terminal(p, a.quiet);
    if !a.quiet && bars.is_none() {
        let by = reference.tag.as_deref().or(reference.digest.as_deref()).unwrap_or("latest");
        p.outln(&format!("{by}: Pulling from {}", reference.path))?;
        p.flush()?;
    }
    let progress: &dyn TransferProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    let report = strata_registry::pull(&store, &reference, &opts, progress).map_err(registry_error)?;
    drop(bars);
    if !a.quiet {
        p.outln(&format!("Digest: {}", report.digest))?;
        let status = if report.updated { "Downloaded newer image for" } else { "Image is up to date for" };
        p.outln(&format!("Status: {status} {}", reference.familiar()))?;
    }
    p.outln(&reference.to_string())?;
    Ok(())
}

/// The client's settings: the environment's, plus the command's flags.
pub fn registry_config(a: &RegistryArgs) -> RegistryConfig {
    let mut c = RegistryConfig::from_env();
    for h in &a.insecure_registries {
        if !c.insecure.contains(h) {
            c.insecure.push(h.clone());
        }
    }
    for f in &a.tls_ca {
        if !c.ca_files.contains(f) {
            c.ca_files.push(f.clone());
        }
    }
    c
}

/// Registry errors for the CLI: store errors stay typed (their kind matters
/// to the error printer); the rest become their message, which already
/// names the registry and the cause.
pub fn registry_error(e: RegistryError) -> anyhow::Error {
    match e {
        RegistryError::Store(s) => s.into(),
        other => anyhow::Error::msg(other.to_string()),
    }
}

/// Docker-style per-layer lines on stderr, drawn while stdout is a terminal.
pub struct TransferBars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    order: Mutex<Vec<String>>,
    line: ProgressStyle,
    bar: ProgressStyle,
    count: ProgressStyle,
}

impl TransferBars {
    /// Bars when stdout is a terminal and not `quiet`.
    pub fn for_terminal(p: &Printer, quiet: bool) -> Option<TransferBars> {
        if !p.stdout_is_terminal() || quiet {
            return None;
        }
        Some(TransferBars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            line: ProgressStyle::with_template("{prefix}: {msg}").expect("valid template"),
            bar: ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {bytes}/{total_bytes}")
                .expect("valid template")
                .progress_chars("=> "),
            count: ProgressStyle::with_template("{prefix}: {msg} {bytes}").expect("valid template"),
        })
    }
}

impl TransferProgress for TransferBars {
    fn message(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    fn layer(&self, id: &str, status: &Status) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(id.to_string()).or_insert_with(|| {
            self.order.lock().unwrap_or_else(|e| e.into_inner()).push(id.to_string());
            let b = self.multi.add(ProgressBar::hidden().with_style(self.line.clone()));
            b.set_prefix(id.to_string());
            b
        });
        match status.bytes() {
            Some((current, Some(total))) => {
                if bar.length() != Some(total) {
                    bar.set_style(self.bar.clone());
                    bar.set_length(total);
                }
                bar.set_position(current);
                bar.set_message(status.to_string());
            }
            Some((current, None)) => {
                bar.set_style(self.count.clone());
                bar.set_position(current);
                bar.set_message(status.to_string());
            }
            None => {
                bar.set_style(self.line.clone());
                bar.set_message(status.to_string());
                if status.is_final() {
                    bar.finish();
                } else {
                    bar.tick();
                }
            }
        }
    }
}

impl Drop for TransferBars {
    /// Replace the live block by plain lines, one per blob with its last
    /// status, so what follows starts on a line of its own.
    fn drop(&mut self) {
        let bars = std::mem::take(self.bars.get_mut().unwrap_or_else(|e| e.into_inner()));
        let order = std::mem::take(self.order.get_mut().unwrap_or_else(|e| e.into_inner()));
        for b in bars.values() {
            b.finish_and_clear();
        }
        let _ = self.multi.clear();
        // The block is gone; the final lines are plain text on the same stream.
        let mut err = std::io::stderr().lock();
        for id in order {
            if let Some(b) = bars.get(&id) {
                let _ = writeln!(err, "{id}: {}", b.message());
            }
        }
    }
}
