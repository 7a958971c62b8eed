//! agora-sim: a discrete-event simulator that drives the production
//! scheduler (`agora-core`) with real and synthetic workloads.

pub mod failures;
pub mod synthetic;
pub mod trace;
