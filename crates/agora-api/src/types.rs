//! Requests and responses of API version 1. Field names are the contract:
//! renaming one is a new API version.

use serde::{Deserialize, Serialize};

/// A duration: whole seconds, or a string such as "1h30m" or "2-12:00:00".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Duration {
    Secs(u64),
    Text(String),
}

impl Duration {
    pub fn secs(&self, field: &str) -> Result<u64, crate::FieldError> {
        match self {
            Duration::Secs(s) => Ok(*s),
            Duration::Text(t) => crate::duration::parse_human(t).map_err(|m| crate::FieldError::new(field, m)),
        }
    }
}

/// A job as submitted (`POST /v1/jobs`). Unknown fields are refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSubmit {
    /// A name for people (Slurm `-J`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The project (a leaf of the entitlement tree) the job is charged to (Slurm `-A`).
    pub project: String,
    /// Accelerators in all; or give `nodes` and `per_node`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerators: Option<u32>,
    /// Nodes (Slurm `-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Accelerators per node (Slurm `--gpus-per-node`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_node: Option<u32>,
    /// Accelerator type (Slurm `-p/--partition`), e.g. "h100".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel_type: Option<String>,
    /// "block", "pod" or "site": the widest domain the gang may span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// If true the scope is required, else preferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_required: Option<bool>,
    /// "opportunistic", "standard" or "reserved" (Slurm `--qos`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Wall-clock limit of one run (Slurm `-t`); default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<Duration>,
    /// How long the work really takes (the virtual executor runs the job this
    /// long); default: the time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Exit status the virtual executor reports at the end (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Shell command the local executor runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Requeue (restart from the last checkpoint) instead of failing when
    /// the job exits with an error (Slurm `--requeue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue: Option<bool>,
    /// "afterok:12:13,afterany:14" (Slurm `--dependency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// "0-9" or "1,3,5" (Slurm `--array`): one job per index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Seconds of work between checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Held by its owner: not considered until released.
    Held,
    /// Waiting for the jobs it depends on.
    Dependency,
    Pending,
    Running,
    /// Told to checkpoint and leave its accelerators.
    Preempting,
    Completed,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Held => "held",
            JobState::Dependency => "dependency",
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Preempting => "preempting",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Held,
            JobState::Dependency,
            JobState::Pending,
            JobState::Running,
            JobState::Preempting,
            JobState::Completed,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed | JobState::Cancelled)
    }
}

/// Accelerators of one node held by a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub node: String,
    /// Accelerator indices on the node.
    pub accelerators: Vec<u32>,
}

/// A job as the server knows it (`GET /v1/jobs/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    /// Project path "funder/programme/organisation/project".
    pub project: String,
    pub user: String,
    pub state: JobState,
    pub accelerators: u32,
    /// Seconds since the Unix epoch (site time).
    pub submitted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<u64>,
    pub time_limit: u64,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub allocation: Vec<Allocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_job: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_index: Option<u32>,
    pub restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmitResponse {
    /// The ids of the jobs created (several for an array).
    pub jobs: Vec<u64>,
    /// True if an earlier request with the same idempotency key created them.
    pub replayed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One line of a job's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub job: u64,
    pub time: u64,
    /// "submitted", "started", "preempted", "requeued", "completed", ...
    pub kind: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Why {
    pub job: u64,
    pub state: JobState,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_start: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainFree {
    pub name: String,
    pub capacity: u64,
    pub free: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub time: u64,
    pub capacity: u64,
    pub free: u64,
    /// Free accelerators no pending job can use.
    pub stranded: u64,
    pub pending: u64,
    pub running: u64,
    pub pods: Vec<DomainFree>,
    pub failed_nodes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub path: String,
    pub level: String,
    pub weight: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<u64>,
    /// Nominal entitlement in accelerators at the current capacity.
    pub entitlement: f64,
    /// Accelerators allocated now.
    pub allocated: u64,
    /// Decayed usage, accelerator-hours.
    pub usage_hours: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The tenant path (or user name when grouped by user).
    pub key: String,
    pub accelerator_hours: f64,
    pub jobs: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    SiteAdmin,
    ProgrammeManager,
    OrgAdmin,
    Member,
}

impl Role {
    pub fn rank(&self) -> u8 {
        match self {
            Role::SiteAdmin => 3,
            Role::ProgrammeManager => 2,
            Role::OrgAdmin => 1,
            Role::Member => 0,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Role::SiteAdmin => "site-admin",
            Role::ProgrammeManager => "programme-manager",
            Role::OrgAdmin => "org-admin",
            Role::Member => "member",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// Who the token is for (recorded as the user of the jobs it submits).
    pub user: String,
    pub role: Role,
    /// The tenant path the role applies to (a programme, organisation or
    /// project); absent for site-admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenCreated {
    /// The secret: shown once, stored only as a hash.
    pub token: String,
    pub id: String,
    pub user: String,
    pub role: Role,
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub role: Role,
    pub scope: String,
}
