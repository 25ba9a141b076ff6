//! What a build creates only for itself, and its removal in every case.
//!
//! - Step containers (one per ADD/COPY/RUN/WORKDIR, one per `COPY --from`
//!   source) and helper images (the current config without its VOLUMEs, see
//!   `steps.rs`) are registered in [`Temps`] the moment they exist and removed
//!   when the step is done; whatever is left when the build returns (an error,
//!   Ctrl-C) goes when [`Temps`] is dropped.
//! - Each carries the label `strata.build.owner=<pid>:<start time>`. A build
//!   killed outright (SIGKILL, power loss) leaves them behind; the next build
//!   ([`sweep`]) removes those whose owner process is gone.
//! - [`Interrupt`]: SIGINT/SIGTERM set a flag the build checks between steps
//!   and while a RUN runs (the RUN's container is then killed); a second
//!   signal exits at once (130).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use strata_store::{Digest, Store};

use crate::error::{BuildError, Result};

/// The label that marks build-owned containers and helper images.
pub const OWNER_LABEL: &str = "strata.build.owner";

/// `<pid>:<start time>` of this process.
pub(crate) fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", strata_sys::process_start_time(pid).unwrap_or(0))
}

fn owner_alive(tag: &str) -> bool {
    match tag.split_once(':') {
        Some((p, s)) => match (p.parse::<u32>(), s.parse::<u64>()) {
            (Ok(p), Ok(s)) => strata_sys::process_alive(p, s),
            _ => false,
        },
        None => false,
    }
}

/// Containers and images this build must remove.
pub(crate) struct Temps<'a> {
    store: &'a Store,
    containers: Vec<String>,
    images: Vec<Digest>,
}

impl<'a> Temps<'a> {
    pub fn new(store: &'a Store) -> Temps<'a> {
        Temps { store, containers: Vec::new(), images: Vec::new() }
    }

    pub fn add_container(&mut self, id: &str) {
        self.containers.push(id.to_string());
    }

    pub fn add_image(&mut self, id: &Digest) {
        self.images.push(id.clone());
    }

    /// Remove a container now (and its anonymous volumes).
    pub fn remove_container(&mut self, id: &str) -> Result<()> {
        self.containers.retain(|c| c != id);
        remove_container(self.store, id)
    }

    pub fn remove_image(&mut self, id: &Digest) -> Result<()> {
        self.images.retain(|i| i != id);
        remove_image(self.store, id)
    }
}

impl Drop for Temps<'_> {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.containers).iter().rev() {
            if let Err(e) = remove_container(self.store, id) {
                tracing::warn!("removing build container {id}: {e}");
            }
        }
        for id in std::mem::take(&mut self.images) {
            if let Err(e) = remove_image(self.store, &id) {
                tracing::warn!("removing build helper image {id}: {e}");
            }
        }
    }
}

fn remove_container(store: &Store, id: &str) -> Result<()> {
    let Some(c) = store.find_container(id)? else { return Ok(()) };
    // Through the runtime: a RUN container may still run (kill), and its
    // runtime state and run directory go too.
    strata_runtime::remove(store, &c, true, true)?;
    Ok(())
}

fn remove_image(store: &Store, id: &Digest) -> Result<()> {
    if store.find_image(id.as_str())?.is_some() {
        store.remove_image(id.as_str(), false)?;
    }
    Ok(())
}

/// Remove what builds killed outright left behind: labelled containers, then
/// labelled images, whose owner process is gone.
pub(crate) fn sweep(store: &Store) -> Result<()> {
    for c in store.containers()? {
        if let Some(tag) = c.config.labels.get(OWNER_LABEL)
            && !owner_alive(tag)
        {
            tracing::info!("removing container {} left by an interrupted build", c.short_id());
            if let Err(e) = remove_container(store, &c.id) {
                tracing::warn!("removing container {}: {e}", c.id);
            }
        }
    }
    for img in store.images()? {
        let tag = img.config.config.labels.as_ref().and_then(|l| l.get(OWNER_LABEL));
        if let Some(tag) = tag
            && !owner_alive(tag)
            && store.containers_using_image(&img.id)?.is_empty()
        {
            tracing::info!("removing helper image {} left by an interrupted build", img.id.short());
            let _ = remove_image(store, &img.id);
        }
    }
    Ok(())
}

/// SIGINT/SIGTERM while a build runs.
///
/// The handlers are installed once per process and stay: while no build runs
/// they perform the signal's default action (the process ends as before);
/// while one runs, the first signal sets the flag and a second exits (130).
pub(crate) struct Interrupt {
    flag: Arc<AtomicBool>,
}

struct Handlers {
    idle: Arc<AtomicBool>,
    flag: Arc<AtomicBool>,
    active: Mutex<usize>,
}

static HANDLERS: OnceLock<Handlers> = OnceLock::new();

fn handlers() -> &'static Handlers {
    HANDLERS.get_or_init(|| {
        let h = Handlers {
            idle: Arc::new(AtomicBool::new(true)),
            flag: Arc::new(AtomicBool::new(false)),
            active: Mutex::new(0),
        };
        for sig in [SIGINT, SIGTERM] {
            // In order: idle → default action; interrupted already → exit; else set the flag.
            let _ = signal_hook::flag::register_conditional_default(sig, h.idle.clone());
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, h.flag.clone());
            let _ = signal_hook::flag::register(sig, h.flag.clone());
        }
        h
    })
}

impl Interrupt {
    /// Catch SIGINT and SIGTERM until dropped.
    pub fn install() -> Interrupt {
        let h = handlers();
        let mut n = h.active.lock().unwrap_or_else(|e| e.into_inner());
        if *n == 0 {
            h.flag.store(false, Ordering::SeqCst);
        }
        *n += 1;
        h.idle.store(false, Ordering::SeqCst);
        Interrupt { flag: h.flag.clone() }
    }

    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub fn check(&self) -> Result<()> {
        if self.is_set() { Err(BuildError::Interrupted) } else { Ok(()) }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        let h = handlers();
        let mut n = h.active.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            h.idle.store(true, Ordering::SeqCst);
        }
    }
}
