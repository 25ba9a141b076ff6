//! `strata build`: Docker's `docker build` over the strata store.
//!
//! ```text
//! parser.rs    Dockerfile &str → stages/instructions (directives, continuations, JSON/shell forms, flags)
//! words.rs     word splitting and expansion (the store's expander; the file's escape character)
//! context.rs   the context (directory, or a tar / lone Dockerfile on `-`), .dockerignore applied
//! ignore.rs    Docker's .dockerignore / wildcard patterns (`**`, `!` exceptions)
//! executor.rs  stages and steps, metadata instructions, ARG/ENV, legacy-builder output
//! steps.rs     ADD, COPY, RUN, WORKDIR: one temporary container and one layer each
//! cache.rs     the step cache (table `build_cache` in strata.db), source content hashes
//! temp.rs      removal of temporary containers/images (errors, Ctrl-C, killed builds)
//! ```
//!
//! Semantics, where Docker's two builders differ:
//! - Output, history texts (`/bin/sh -c #(nop)  VOLUME [/data]`,
//!   `/bin/sh -c #(nop) ADD dir:<hash> in /dst `), intermediate images and
//!   ` ---> Using cache` follow the legacy builder.
//! - Build-time VOLUME follows BuildKit: changes a RUN makes under a VOLUME
//!   path after the VOLUME line are kept in the image (the legacy builder
//!   discarded them). Step containers never mount the image's volumes.
//! - The cache hashes ADD/COPY sources by content, names and modes, not by
//!   owners or times (BuildKit); `--no-cache` skips lookups (results are
//!   still recorded for later builds).
//! - `.dockerignore` applies to directory and tar contexts alike.
//!
//! Not supported, each refused with a message: heredocs, `RUN --mount`,
//! `ADD <url>`, other platforms. bzip2/xz archives are copied by ADD, not
//! extracted (only plain, gzip and zstd tars are).
#![forbid(unsafe_code)]

mod cache;
mod context;
pub mod error;
mod executor;
pub mod ignore;
pub mod parser;
mod steps;
mod temp;
pub mod words;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

pub use context::ContextSource;
pub use error::{BuildError, Result};
pub use executor::PROXY_ARGS;
pub use temp::OWNER_LABEL;

use strata_store::{Image, Reference, Store};

/// `strata build` options.
#[derive(Debug, Clone)]
pub struct BuildOpts {
    pub context: ContextSource,
    /// `-f`: for a directory context a host path (relative paths resolve
    /// against the current directory, as the docker CLI does), `-` for
    /// standard input; for `-` contexts the path inside the archive.
    /// Default: `Dockerfile` (else `dockerfile`) in the context.
    pub dockerfile: Option<PathBuf>,
    /// `-t` (repeatable): tags for the final image.
    pub tags: Vec<Reference>,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    /// `-q`: print only the image id. The step log is kept for errors
    /// ([`BuildError::Quiet`]).
    pub quiet: bool,
    /// `--target`: build up to this stage.
    pub target: Option<String>,
}

impl BuildOpts {
    pub fn new(context: ContextSource) -> BuildOpts {
        BuildOpts {
            context,
            dockerfile: None,
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            no_cache: false,
            quiet: false,
            target: None,
        }
    }
}

/// Build an image; progress goes to `out` as the legacy builder prints it
/// (`Step 1/3 : FROM busybox`, ` ---> 1234567890ab`, `Successfully built
/// ...`, `Successfully tagged ...`), or only `sha256:<id>` with `quiet`.
/// Temporary containers and helper images are removed whatever happens.
pub fn build(store: &Store, opts: &BuildOpts, out: &mut dyn Write) -> Result<Image> {
    if opts.quiet {
        let mut log: Vec<u8> = Vec::new();
        return match build_logged(store, opts, &mut log) {
            Ok(img) => {
                writeln!(out, "{}", img.id).map_err(|e| BuildError::io("write", "build output", e))?;
                Ok(img)
            }
            Err(e) => Err(BuildError::Quiet { log: String::from_utf8_lossy(&log).into_owned(), source: Box::new(e) }),
        };
    }
    build_logged(store, opts, out)
}

fn build_logged(store: &Store, opts: &BuildOpts, out: &mut dyn Write) -> Result<Image> {
    let intr = temp::Interrupt::install();
    if let Err(e) = temp::sweep(store) {
        tracing::warn!("removing what interrupted builds left: {e}");
    }
    let prepared = context::prepare(store, &opts.context, opts.dockerfile.as_deref())?;
    let df = parser::parse(&prepared.dockerfile)?;
    let img = {
        let mut b = executor::Builder::new(store, opts, out, df.escape, prepared.context, intr)?;
        b.run(&df)?
        // The builder (and with it every temporary container) goes here.
    };
    for t in &opts.tags {
        store.tag(img.id.as_str(), t)?;
    }
    if !opts.quiet {
        writeln!(out, "Successfully built {}", img.id.short())
            .map_err(|e| BuildError::io("write", "build output", e))?;
        for t in &opts.tags {
            writeln!(out, "Successfully tagged {}", t.familiar())
                .map_err(|e| BuildError::io("write", "build output", e))?;
        }
    }
    Ok(store.image(img.id.as_str())?)
}
