//! agora-slurm: Slurm as Agora's execution engine.
//!
//! Agora decides, Slurm executes. This crate holds:
//! - `SlurmApi`: what Agora needs from Slurm, in Slurm-version-neutral
//!   types (`JobRequest`, `SlurmJob`, `SlurmNode`, `SlurmPartition`);
//! - `v0038`: the adapter for slurmrestd's API v0.0.38 (Slurm 22.05). A
//!   later API (v0.0.40 and on, with other job and node shapes) is one more
//!   module implementing `SlurmApi`;
//! - `topology`: nodes, GRES, partitions and `topology.conf` switches to an
//!   Agora topology;
//! - `exec`: the executor `agora serve --executor slurm` runs.
//!
//! Dependencies point inward: this crate uses agora-server's `Executor`
//! trait; agora-server knows nothing of Slurm.

pub mod exec;
pub mod hostlist;
pub mod reconcile;
pub mod topology;
pub mod v0038;

use std::path::PathBuf;

/// What can go wrong talking to Slurm. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("slurmrestd at {url} is unreachable ({reason}); is it running?")]
    Down { url: String, reason: String },
    #[error("slurmrestd refused the token (HTTP {status}{detail}): it is wrong or expired; mint a new one (`scontrol token lifespan=...`) and pass it with --slurm-token, --slurm-token-file or SLURM_JWT")]
    Auth { status: u16, detail: String },
    #[error("the Slurm token expired at unix time {exp}; mint a new one (`scontrol token lifespan=...`)")]
    Expired { exp: u64 },
    #[error("slurmrestd answers but could not get {what} from slurmctld ({detail}): slurmctld is down or restarting, or the token is wrong (Slurm 22.05 cannot tell which)")]
    Controller { what: String, detail: String },
    #[error("Slurm refused: {0}")]
    Refused(String),
    #[error("unexpected answer from slurmrestd to {what}: {reason}")]
    Protocol { what: String, reason: String },
    #[error("cannot read the Slurm token file {path}: {err}")]
    TokenFile { path: PathBuf, err: std::io::Error },
    #[error("bad Slurm URL `{0}`: give it as http://host:port")]
    Url(String),
    #[error("Slurm accounting (slurmdbd) is not enabled at {url} ({detail}): it needs AccountingStorageType=accounting_storage/slurmdbd and slurmrestd started with the openapi/dbv0.0.38 plugin")]
    NoAccounting { url: String, detail: String },
}

impl SlurmError {
    /// Worth trying again later (the service may come back); a refusal or
    /// a bad token is not.
    pub fn transient(&self) -> bool {
        matches!(self, SlurmError::Down { .. } | SlurmError::Controller { .. })
    }
}

/// Where the JWT comes from: fixed, or a file read again before each call
/// (so an operator can rotate it without restarting Agora).
#[derive(Clone, Debug)]
pub enum Token {
    Value(String),
    File(PathBuf),
}

impl Token {
    pub fn get(&self) -> Result<String, SlurmError> {
        let t = match self {
            Token::Value(v) => v.trim().to_string(),
            Token::File(p) => std::fs::read_to_string(p)
                .map_err(|err| SlurmError::TokenFile { path: p.clone(), err })?
                .trim()
                .to_string(),
        };
        // `scontrol token` prints `SLURM_JWT=...`: accept it as is.
        Ok(t.strip_prefix("SLURM_JWT=").unwrap_or(&t).to_string())
    }
}

/// The user name and expiry (unix seconds) a JWT claims, if readable.
/// Only for clear errors: slurmctld checks the signature.
pub fn jwt_claims(token: &str) -> Option<(Option<String>, Option<u64>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some((v.get("sun").and_then(|s| s.as_str()).map(String::from), v.get("exp").and_then(|e| e.as_u64())))
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => continue,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A batch job for Slurm: one gang on exactly `nodes`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRequest {
    pub name: String,
    /// Links the Slurm job back to Agora's job and run (see `exec::Tag`).
    pub comment: String,
    pub nodes: Vec<String>,
    pub gpus_per_node: u32,
    /// Whole nodes: no other job may share them.
    pub exclusive: bool,
    pub script: String,
    pub cwd: String,
    pub stdout: String,
    pub env: Vec<(String, String)>,
    /// Minutes (Slurm's unit); Agora enforces the exact limit itself.
    pub time_limit_min: u64,
    pub partition: Option<String>,
}

/// Slurm's job states, as far as Agora cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Running,
    /// Suspended, completing, requeued...: not over, not running.
    Other,
    Completed,
    Failed,
    Cancelled,
    Timeout,
    NodeFail,
    /// Boot failure, deadline, out of memory, preempted by Slurm itself.
    Lost,
}

impl JobStatus {
    pub fn parse(s: &str) -> JobStatus {
        match s.to_ascii_uppercase().as_str() {
            "PENDING" => JobStatus::Pending,
            "RUNNING" => JobStatus::Running,
            "COMPLETED" => JobStatus::Completed,
            "FAILED" => JobStatus::Failed,
            "CANCELLED" => JobStatus::Cancelled,
            "TIMEOUT" => JobStatus::Timeout,
            "NODE_FAIL" => JobStatus::NodeFail,
            "BOOT_FAIL" | "DEADLINE" | "OUT_OF_MEMORY" | "PREEMPTED" => JobStatus::Lost,
            _ => JobStatus::Other,
        }
    }
    pub fn ended(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running | JobStatus::Other)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlurmJob {
    pub id: u32,
    pub name: String,
    pub comment: String,
    pub status: JobStatus,
    /// The nodes it runs on (empty while pending).
    pub nodes: Vec<String>,
    /// The nodes it asked for (`nodelist`).
    pub required: Vec<String>,
    /// Exit status as a shell reports it: the code, or 128 + signal.
    pub exit_code: i32,
    pub start_time: u64,
    pub end_time: u64,
}

/// A job as Slurm's accounting (slurmdbd) recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountedJob {
    pub id: u32,
    pub name: String,
    /// Empty unless slurmdbd stores comments (`AccountingStoreFlags=job_comment`).
    pub comment: String,
    pub status: JobStatus,
    /// Slurm's state name as recorded ("COMPLETED", "RUNNING", ...).
    pub state: String,
    /// Unix seconds; 0 if it never started (or, for `end`, has not ended).
    pub start: u64,
    pub end: u64,
    /// Seconds it ran, as slurmdbd counts them.
    pub elapsed: u64,
    /// Accelerators allocated (TRES `gres/gpu`), over all its nodes.
    pub gpus: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlurmNode {
    pub name: String,
    /// Base state, lower case ("idle", "allocated", "mixed", "down", ...).
    pub state: String,
    /// Flags such as DRAIN, NOT_RESPONDING.
    pub flags: Vec<String>,
    /// Accelerators by type, from GRES `gpu:h100:8`.
    pub gpus: u32,
    pub gpu_type: String,
    pub partitions: Vec<String>,
    pub reason: String,
}

impl SlurmNode {
    /// DOWN, DRAIN(ED/ING), FAIL or NOT_RESPONDING: Agora must not use it.
    pub fn unusable(&self) -> bool {
        let s = self.state.to_ascii_lowercase();
        let bad_state = s.starts_with("down") || s.starts_with("drain") || s.starts_with("fail") || s.ends_with('*');
        let bad_flag = self.flags.iter().any(|f| {
            matches!(f.to_ascii_uppercase().as_str(), "DRAIN" | "DRAINED" | "DRAINING" | "NOT_RESPONDING" | "FAIL")
        });
        bad_state || bad_flag
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlurmPartition {
    pub name: String,
    pub nodes: Vec<String>,
}

/// What Agora needs from Slurm. Calls block (a worker thread makes them).
pub trait SlurmApi: Send {
    /// The API version this adapter speaks, e.g. "v0.0.38".
    fn version(&self) -> &'static str;
    /// Is slurmctld answering (through slurmrestd, with this token)?
    fn ping(&self) -> Result<(), SlurmError>;
    fn submit(&self, job: &JobRequest) -> Result<u32, SlurmError>;
    fn jobs(&self) -> Result<Vec<SlurmJob>, SlurmError>;
    fn job(&self, id: u32) -> Result<Option<SlurmJob>, SlurmError>;
    /// Send a signal to the job's steps ("SIGTERM", "SIGUSR1", ...).
    fn signal(&self, id: u32, signal: &str) -> Result<(), SlurmError>;
    fn cancel(&self, id: u32) -> Result<(), SlurmError>;
    fn nodes(&self) -> Result<Vec<SlurmNode>, SlurmError>;
    fn partitions(&self) -> Result<Vec<SlurmPartition>, SlurmError>;
    /// Jobs in Slurm's accounting (slurmdbd) that ran at some time within
    /// `window` (unix seconds, inclusive), or all it keeps. Fails with
    /// `NoAccounting` when slurmdbd is off.
    fn accounted_jobs(&self, window: Option<(u64, u64)>) -> Result<Vec<AccountedJob>, SlurmError>;
}

/// A client for the API version a URL names (`.../slurm/v0.0.38`) or, for a
/// bare `http://host:port`, the newest this build speaks.
pub fn connect(url: &str, user: &str, token: Token) -> Result<Box<dyn SlurmApi>, SlurmError> {
    Ok(Box::new(v0038::Client::new(url, user, token)?))
}

/// Decode Slurm's exit status (a wait(2) status) the way a shell reports it.
pub fn exit_status(raw: i64) -> i32 {
    let raw = raw as i32;
    let sig = raw & 0x7f;
    if sig != 0 {
        128 + sig
    } else {
        (raw >> 8) & 0xff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_decode_like_a_shell() {
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(768), 3);
        assert_eq!(exit_status(15), 143);
        assert_eq!(exit_status(9), 137);
    }

    #[test]
    fn jwt_claims_are_read_for_clear_errors() {
        // header.payload.signature with payload {"exp":1700000000,"iat":1,"sun":"root"}
        let t = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDAsImlhdCI6MSwic3VuIjoicm9vdCJ9.x";
        assert_eq!(jwt_claims(t), Some((Some("root".into()), Some(1_700_000_000))));
        assert_eq!(jwt_claims("garbage"), None);
        assert_eq!(Token::Value("SLURM_JWT=abc\n".into()).get().unwrap(), "abc");
    }

    #[test]
    fn node_states_that_make_a_node_unusable() {
        let n = |state: &str, flags: &[&str]| SlurmNode {
            name: "n1".into(),
            state: state.into(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            gpus: 8,
            gpu_type: "h100".into(),
            partitions: vec![],
            reason: String::new(),
        };
        assert!(!n("idle", &[]).unusable());
        assert!(!n("allocated", &[]).unusable());
        assert!(n("down", &[]).unusable());
        assert!(n("idle", &["DRAIN"]).unusable());
        assert!(n("mixed", &["NOT_RESPONDING"]).unusable());
        assert!(n("idle*", &[]).unusable());
    }
}
