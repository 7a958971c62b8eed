//! agora-core: the scheduling core of Agora.
//!
//! A pure library: no async runtime, no clock reads, no files or sockets,
//! randomness only from a seed the caller passes. The same `Scheduler`
//! serves the simulator, the control plane and the tests.
//!
//! - `topology`: the site model (pods, blocks, nodes, accelerators).
//! - `tenancy`: the entitlement tree (funders, programmes, organisations, projects).
//! - `job`: what a job asks for.
//! - `sched`: the scheduler state machine (events in, decisions out).

pub mod ids;
pub mod job;
pub mod persist;
pub mod rng;
pub mod sched;
pub mod tenancy;
pub mod topology;

pub use ids::{fnv1a, human_duration, thousands, BlockId, Fnv1a, JobId, NodeId, PodId, Secs, TenantId, Time, TypeId};
pub use job::{Checkpointing, Constraint, JobSpec, JobState, PriorityClass, Progress, Scope};
pub use sched::{
    Backfill, Config, CycleReport, Decision, Event, Fragmentation, JobView, Ordering, PreemptCause, Reason,
    RequeueCause, SchedError, Scheduler, Slot, Stats, Stop,
};
pub use tenancy::{Entitlements, TenantSpec};
pub use topology::{Topology, TopologySpec};
