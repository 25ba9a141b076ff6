//! Engine-side logic the CLI needs that the store does not offer (yet): what
//! the Docker daemon computes between its stores and the API. Nothing here
//! prints; commands turn the results into output.

pub mod containers;
pub mod filters;
pub mod glob;
pub mod host;
pub mod images;
pub mod prune;
pub mod runtime;
pub mod tags;
pub mod usage;
