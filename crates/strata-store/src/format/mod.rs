//! Image archives: docker-archive (`docker save`), OCI image layouts and
//! oci-archive tars, in and out; `import` of a rootfs tarball.
//!
//! - [`load`]: docker-archive (Docker ≤24 legacy and ≥25 dual format), OCI
//!   layout directory or oci-archive, plain or compressed as a whole, from a
//!   file or stdin. One pass over each layer's bytes, every digest verified.
//! - [`save`]: Docker ≥25's dual format (docker-archive + OCI layout in one tar).
//! - [`import`]: rootfs tarball → one-layer image, with `--change` ([`changes`]).
//!
//! Files: `source.rs` (tar index / layout directory), `docker_archive.rs` and
//! `oci.rs` (the formats' documents → load plans), `load.rs` (plan, layers,
//! images), `save.rs`, `import.rs`, and the Dockerfile instruction subset
//! parsed as pure `&str` functions: `changes.rs`, `change_args.rs`, `words.rs`.

mod change_args;
pub mod changes;
mod docker_archive;
mod import;
mod load;
pub mod oci;
mod save;
mod source;
mod words;

pub use import::{ImportOpts, import};
pub use load::{LoadInput, LoadReport, LoadedImage, load};
pub use save::save;
