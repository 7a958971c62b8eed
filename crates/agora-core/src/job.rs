//! What a job asks for. A job is a gang: all its accelerators start together
//! or none do.

use crate::ids::{human_duration, JobId, Secs, TenantId, TypeId};
use std::fmt;

/// Priority classes, lowest first. Only a strictly higher class may preempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PriorityClass {
    /// Preemptible work that soaks up idle capacity.
    Opportunistic = 0,
    Standard = 1,
    /// Capacity a programme has reserved; never preempted while it stays
    /// within its entitlement.
    Reserved = 2,
}

impl PriorityClass {
    pub fn name(self) -> &'static str {
        match self {
            PriorityClass::Opportunistic => "opportunistic",
            PriorityClass::Standard => "standard",
            PriorityClass::Reserved => "reserved",
        }
    }
    pub fn parse(s: &str) -> Option<PriorityClass> {
        match s {
            "opportunistic" | "preemptible" => Some(PriorityClass::Opportunistic),
            "standard" => Some(PriorityClass::Standard),
            "reserved" => Some(PriorityClass::Reserved),
            _ => None,
        }
    }
}

/// How far apart a gang's nodes may be, tightest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One NVLink domain / leaf-switch group.
    Block = 0,
    /// One spine pod (a scalable unit group).
    Pod = 1,
    /// Anywhere on the site.
    Site = 2,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Block => "block",
            Scope::Pod => "pod",
            Scope::Site => "site",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "block" => Some(Scope::Block),
            "pod" => Some(Scope::Pod),
            "site" | "any" => Some(Scope::Site),
            _ => None,
        }
    }
}

/// A topology constraint. Every gang is placed in the tightest domain that
/// fits; `required` forbids going wider than `scope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub scope: Scope,
    pub required: bool,
}

impl Default for Constraint {
    fn default() -> Self {
        Constraint { scope: Scope::Site, required: false }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpointing {
    /// Seconds of work between checkpoints.
    pub interval: Secs,
    /// Seconds one checkpoint write takes (no progress meanwhile).
    pub cost: Secs,
    /// Seconds a restarted run spends loading its checkpoint before it
    /// makes progress again (Daly's R).
    pub restart: Secs,
}

#[derive(Clone, Debug, PartialEq)]
// Declaration order is memory order: the fields a scheduling cycle reads
// for every waiting job (tenant to time limit) share a cache line.
#[repr(C)]
pub struct JobSpec {
    pub id: JobId,
    /// A leaf of the entitlement tree.
    pub tenant: TenantId,
    /// Accelerators (the maximum, for an elastic job).
    pub accels: u32,
    /// For an elastic job: the fewest accelerators it can start with.
    pub min_accels: Option<u32>,
    /// Accelerators per node; 0 = as many as a node of the type has.
    pub per_node: u8,
    pub constraint: Constraint,
    /// None = any type.
    pub accel_type: Option<TypeId>,
    pub class: PriorityClass,
    /// Hard wall-clock limit of one run; reservations are planned with it.
    pub time_limit: Secs,
    /// The user's estimate of the total work, if given.
    pub estimate: Option<Secs>,
    pub checkpoint: Option<Checkpointing>,
}

impl JobSpec {
    /// A one-accelerator standard job with a one-hour limit.
    pub fn new(id: u64, tenant: TenantId, accels: u32) -> JobSpec {
        JobSpec {
            id: JobId(id),
            tenant,
            accels,
            min_accels: None,
            per_node: 0,
            constraint: Constraint::default(),
            accel_type: None,
            class: PriorityClass::Standard,
            time_limit: 3600,
            estimate: None,
            checkpoint: None,
        }
    }
    pub fn per_node(mut self, k: u8) -> Self {
        self.per_node = k;
        self
    }
    pub fn class(mut self, c: PriorityClass) -> Self {
        self.class = c;
        self
    }
    pub fn within(mut self, scope: Scope) -> Self {
        self.constraint = Constraint { scope, required: true };
        self
    }
    pub fn prefer(mut self, scope: Scope) -> Self {
        self.constraint = Constraint { scope, required: false };
        self
    }
    pub fn time_limit(mut self, s: Secs) -> Self {
        self.time_limit = s;
        self
    }
    pub fn elastic(mut self, min: u32) -> Self {
        self.min_accels = Some(min);
        self
    }
    pub fn checkpoint(mut self, interval: Secs, cost: Secs) -> Self {
        self.checkpoint = Some(Checkpointing { interval, cost, restart: 0 });
        self
    }
    pub fn accel_type(mut self, t: TypeId) -> Self {
        self.accel_type = Some(t);
        self
    }
}

/// The state of a job as the core sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Running,
    /// Told to checkpoint and stop; holds its accelerators until the grace
    /// period ends.
    Preempting,
    Completed,
    Cancelled,
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Preempting => "preempting",
            JobState::Completed => "completed",
            JobState::Cancelled => "cancelled",
        })
    }
}

/// Work accounting of one job, in seconds of useful progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Work safely in the last checkpoint.
    pub saved: Secs,
    /// Work thrown away by failures and preemptions so far.
    pub lost: Secs,
    pub restarts: u32,
    pub preemptions: u32,
    pub node_replacements: u32,
}

impl Progress {
    pub fn describe(&self) -> String {
        format!("{} saved, {} lost, {} restarts", human_duration(self.saved), human_duration(self.lost), self.restarts)
    }
}

crate::persist_tags!(PriorityClass { Opportunistic = 0, Standard = 1, Reserved = 2 });
crate::persist_tags!(Scope { Block = 0, Pod = 1, Site = 2 });
crate::persist_tags!(JobState { Pending = 0, Running = 1, Preempting = 2, Completed = 3, Cancelled = 4 });
crate::persist_fields!(Constraint { scope, required });
crate::persist_fields!(Checkpointing { interval, cost, restart });
crate::persist_fields!(JobSpec {
    id,
    tenant,
    accels,
    min_accels,
    per_node,
    constraint,
    accel_type,
    class,
    time_limit,
    estimate,
    checkpoint
});
crate::persist_fields!(Progress { saved, lost, restarts, preemptions, node_replacements });
