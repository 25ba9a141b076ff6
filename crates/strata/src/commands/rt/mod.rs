//! Commands that run processes: `run`, `start`, `stop`, `kill`, `restart`,
//! `wait`, `logs`, `exec`, `top`, through `strata_runtime`.

pub mod exec;
pub mod lifecycle;
pub mod logs;
pub mod run;
