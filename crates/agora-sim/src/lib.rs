//! agora-sim: a discrete-event simulator that drives the production
//! scheduler (`agora-core`) with real and synthetic workloads.

pub mod bench;
pub mod clock;
pub mod engine;
pub mod failures;
pub mod metrics;
pub mod policy;
pub mod record;
pub mod report;
pub mod scenario;
pub mod synthetic;
pub mod trace;
pub mod workload;
