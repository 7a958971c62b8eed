//! slurmrestd API v0.0.38 (Slurm 22.05): wire shapes and the client.
//!
//! Shapes follow the OpenAPI document slurmrestd 22.05 serves (a copy is
//! in `fixtures/`) and the answers recorded there. Every field Agora does
//! not need is ignored; every field it reads has a default, since Slurm
//! leaves many null. Two quirks of this version:
//! - a job's node list is not in the documented job properties (the
//!   `required_nodes` key is refused); slurmrestd does accept sbatch's long
//!   option names, so the list goes as `nodelist`, and whole nodes as
//!   `exclusive: "exclusive"`;
//! - `exit_code` is a wait(2) status (768 = exit 3, 15 = SIGTERM).
//!
//! Reads and cancels are retried with backoff on transport errors (they are
//! idempotent); a submission is never retried here: the executor looks for
//! the job by name before submitting again.

use crate::{
    exit_status, hostlist, AccountedJob, JobRequest, JobStatus, SlurmApi, SlurmError, SlurmJob, SlurmNode,
    SlurmPartition, Token,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

pub const VERSION: &str = "v0.0.38";

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct ApiError {
    pub error: Option<String>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub error_number: Option<i64>,
    pub error_code: Option<i64>,
}

impl ApiError {
    fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.description.as_deref().filter(|d| !d.is_empty()) {
            parts.push(d.to_string());
        }
        if let Some(e) = self.error.as_deref().filter(|e| !e.is_empty()) {
            parts.push(e.to_string());
        }
        if let Some(s) = self.source.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("in {s}"));
        }
        parts.join(": ")
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Job {
    pub job_id: u32,
    pub name: Option<String>,
    pub comment: Option<String>,
    pub job_state: Option<String>,
    pub nodes: Option<String>,
    pub required_nodes: Option<String>,
    pub exit_code: Option<i64>,
    pub start_time: Option<u64>,
    pub end_time: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Node {
    pub name: String,
    pub state: Option<String>,
    pub state_flags: Vec<String>,
    pub gres: Option<String>,
    pub partitions: Vec<String>,
    pub reason: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Partition {
    pub name: String,
    pub nodes: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Envelope {
    pub errors: Vec<ApiError>,
    pub jobs: Vec<Job>,
    pub nodes: Vec<Node>,
    pub partitions: Vec<Partition>,
    pub job_id: Option<u32>,
}

/// A job in the accounting answer (`GET /slurmdb/v0.0.38/jobs`): its own
/// shape, not the controller's.
#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct DbJob {
    pub job_id: u32,
    pub name: Option<String>,
    /// `{administrator, job, system}`; `job` is null unless slurmdbd keeps
    /// comments (`AccountingStoreFlags=job_comment`).
    pub comment: Value,
    pub state: DbState,
    pub time: DbTime,
    pub tres: DbTres,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct DbState {
    pub current: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct DbTime {
    pub elapsed: Option<u64>,
    pub start: Option<u64>,
    pub end: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct DbTres {
    pub allocated: Vec<Tres>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Tres {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub count: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct DbEnvelope {
    pub errors: Vec<ApiError>,
    pub jobs: Vec<DbJob>,
}

impl DbJob {
    pub fn neutral(&self) -> AccountedJob {
        let comment = match &self.comment {
            Value::String(c) => c.clone(),
            v => v.get("job").and_then(Value::as_str).unwrap_or("").to_string(),
        };
        let gpus = self
            .tres
            .allocated
            .iter()
            // `gres/gpu` is the total; typed entries (`gres/gpu:h100`) repeat it.
            .filter(|t| t.kind.as_deref() == Some("gres") && t.name.as_deref() == Some("gpu"))
            .map(|t| t.count.unwrap_or(0).max(0) as u32)
            .sum();
        let state = self.state.current.clone().unwrap_or_default();
        AccountedJob {
            id: self.job_id,
            name: self.name.clone().unwrap_or_default(),
            comment,
            status: JobStatus::parse(&state),
            state,
            start: self.time.start.unwrap_or(0),
            end: self.time.end.unwrap_or(0),
            elapsed: self.time.elapsed.unwrap_or(0),
            gpus,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) for a unix time, as slurmdbd's filters take it.
pub fn iso_utc(t: u64) -> String {
    agora_core::ids::utc_datetime(t, 'T')
}

impl Job {
    pub fn neutral(&self) -> Result<SlurmJob, SlurmError> {
        let list = |s: &Option<String>| {
            hostlist::expand(s.as_deref().unwrap_or(""))
                .map_err(|reason| SlurmError::Protocol { what: format!("job {}", self.job_id), reason })
        };
        Ok(SlurmJob {
            id: self.job_id,
            name: self.name.clone().unwrap_or_default(),
            comment: self.comment.clone().unwrap_or_default(),
            status: JobStatus::parse(self.job_state.as_deref().unwrap_or("")),
            nodes: list(&self.nodes)?,
            required: list(&self.required_nodes)?,
            exit_code: exit_status(self.exit_code.unwrap_or(0)),
            start_time: self.start_time.unwrap_or(0),
            end_time: self.end_time.unwrap_or(0),
        })
    }
}

/// `gpu:h100:8`, `gpu:8(S:0-1)`, `gpu:a100:4,gpu:h100:4` -> (count, type).
pub fn parse_gres(gres: &str) -> (u32, String) {
    let (mut n, mut ty) = (0u32, String::new());
    for item in gres.split(',') {
        let item = item.split('(').next().unwrap_or("");
        let parts: Vec<&str> = item.split(':').collect();
        if parts.first() != Some(&"gpu") {
            continue;
        }
        let (t, c) = match parts.len() {
            2 => ("", parts[1]),
            3 => (parts[1], parts[2]),
            _ => continue,
        };
        if let Ok(c) = c.parse::<u32>() {
            n += c;
            if ty.is_empty() {
                ty = t.to_string();
            }
        }
    }
    (n, if ty.is_empty() { "gpu".into() } else { ty })
}

impl Node {
    pub fn neutral(&self) -> SlurmNode {
        let (gpus, gpu_type) = parse_gres(self.gres.as_deref().unwrap_or(""));
        SlurmNode {
            name: self.name.clone(),
            state: self.state.clone().unwrap_or_default(),
            flags: self.state_flags.clone(),
            gpus,
            gpu_type,
            partitions: self.partitions.clone(),
            reason: self.reason.clone().unwrap_or_default(),
        }
    }
}

/// The JSON body of `POST /job/submit` for a request.
pub fn submit_body(r: &JobRequest) -> Value {
    let env: serde_json::Map<String, Value> = r.env.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    let mut job = json!({
        "name": r.name,
        "comment": r.comment,
        "nodes": r.nodes.len().to_string(),
        "nodelist": r.nodes.join(","),
        "tasks_per_node": 1,
        "tasks": r.nodes.len(),
        "current_working_directory": r.cwd,
        "standard_output": r.stdout,
        "standard_error": r.stdout,
        "environment": env,
        "time_limit": r.time_limit_min.max(1),
        "requeue": false,
    });
    if r.gpus_per_node > 0 {
        job["gpus_per_node"] = Value::from(r.gpus_per_node.to_string());
    }
    if r.exclusive {
        job["exclusive"] = Value::from("exclusive");
    }
    if let Some(p) = &r.partition {
        job["partition"] = Value::from(p.clone());
    }
    json!({ "script": r.script, "job": job })
}

pub struct Client {
    base: String,
    user: String,
    token: Token,
    agent: ureq::Agent,
}

/// Backoff before the 2nd and 3rd try of an idempotent call.
const BACKOFF: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

impl Client {
    /// `url`: `http://host:port` (the API path is added).
    pub fn new(url: &str, user: &str, token: Token) -> Result<Client, SlurmError> {
        let url = url.trim().trim_end_matches('/');
        let base = url.strip_suffix(&format!("/slurm/{VERSION}")).unwrap_or(url);
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(SlurmError::Url(url.into()));
        }
        let agent =
            ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(3)).timeout(Duration::from_secs(20)).build();
        Ok(Client { base: base.to_string(), user: user.to_string(), token, agent })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>, retry: bool) -> Result<Envelope, SlurmError> {
        let mut attempt = 0;
        loop {
            match self.call_once(method, path, body) {
                Err(e) if retry && matches!(e, SlurmError::Down { .. }) && attempt < BACKOFF.len() => {
                    std::thread::sleep(BACKOFF[attempt]);
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    fn call_once(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Envelope, SlurmError> {
        let (status, text, what) = self.send(method, &format!("/slurm/{VERSION}{path}"), body)?;
        let env: Envelope = serde_json::from_str(&text).map_err(|e| SlurmError::Protocol {
            what: what.clone(),
            reason: format!("HTTP {status}, {e}: {}", text.chars().take(200).collect::<String>()),
        })?;
        if env.errors.is_empty() && status < 400 {
            return Ok(env);
        }
        Err(classify(&what, status, &env.errors))
    }

    /// One request to `path` (the full path, API prefix included): the
    /// status and body, or why there is none.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String, String), SlurmError> {
        let token = self.token.get()?;
        if let Some((_, Some(exp))) = crate::jwt_claims(&token) {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if exp <= now {
                return Err(SlurmError::Expired { exp });
            }
        }
        let url = format!("{}{path}", self.base);
        let req = self
            .agent
            .request(method, &url)
            .set("X-SLURM-USER-NAME", &self.user)
            .set("X-SLURM-USER-TOKEN", &token)
            .set("Accept", "application/json");
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let what = format!("{method} {path}");
        let (status, text) = match res {
            Ok(r) => (r.status(), r.into_string()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string()),
            Err(ureq::Error::Transport(t)) => {
                return Err(SlurmError::Down { url: self.base.clone(), reason: t.to_string() })
            }
        };
        let text = text.map_err(|e| SlurmError::Protocol { what: what.clone(), reason: e.to_string() })?;
        if status == 401 || status == 403 {
            let detail = text.trim().chars().take(200).collect::<String>();
            return Err(SlurmError::Auth {
                status,
                detail: if detail.is_empty() { String::new() } else { format!(": {detail}") },
            });
        }
        Ok((status, text, what))
    }

    /// `GET /slurmdb/v0.0.38/jobs`, retried like the other reads.
    fn db_jobs(&self, query: &str) -> Result<Vec<AccountedJob>, SlurmError> {
        let path = format!("/slurmdb/{VERSION}/jobs{query}");
        let mut attempt = 0;
        let (status, text, what) = loop {
            match self.send("GET", &path, None) {
                Err(SlurmError::Down { .. }) if attempt < BACKOFF.len() => {
                    std::thread::sleep(BACKOFF[attempt]);
                    attempt += 1;
                }
                r => break r?,
            }
        };
        db_answer(&self.base, &what, status, &text)
    }
}

/// The accounting answer: its jobs, none ("Nothing found" is an error in
/// this version), or why not. slurmrestd without slurmdbd has no
/// `/slurmdb` paths at all (its dbv0.0.38 plugin needs slurmdbd): 404.
pub fn db_answer(url: &str, what: &str, status: u16, text: &str) -> Result<Vec<AccountedJob>, SlurmError> {
    if status == 404 {
        let detail = format!("HTTP 404 for {what}: {}", text.trim().chars().take(120).collect::<String>());
        return Err(SlurmError::NoAccounting { url: url.into(), detail });
    }
    let env: DbEnvelope = serde_json::from_str(text).map_err(|e| SlurmError::Protocol {
        what: what.into(),
        reason: format!("HTTP {status}, {e}: {}", text.chars().take(200).collect::<String>()),
    })?;
    let nothing = |e: &ApiError| e.error_number == Some(9003) || e.description.as_deref() == Some("Nothing found");
    if status < 400 && env.errors.iter().all(nothing) {
        return Ok(env.jobs.iter().map(DbJob::neutral).collect());
    }
    let off = env.errors.iter().any(|e| e.text().contains("accounting_storage/none"));
    if off {
        let detail = env.errors.iter().map(ApiError::text).collect::<Vec<_>>().join("; ");
        return Err(SlurmError::NoAccounting { url: url.into(), detail });
    }
    Err(classify(what, status, &env.errors))
}

/// Errors in an answer: slurmctld unreachable (or the token it rejects:
/// 22.05 says the same for both), or Slurm refusing the request.
pub fn classify(what: &str, status: u16, errors: &[ApiError]) -> SlurmError {
    let detail = errors.iter().map(ApiError::text).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("; ");
    let controller = errors.iter().any(|e| {
        let src = e.source.as_deref().unwrap_or("");
        let desc = e.description.as_deref().unwrap_or("");
        (src.starts_with("slurm_load_") && e.error_number == Some(-1))
            || desc.contains("Unable to contact slurm controller")
            || desc.contains("unable to load")
    });
    if controller {
        SlurmError::Controller { what: what.into(), detail }
    } else if detail.is_empty() {
        SlurmError::Refused(format!("{what}: HTTP {status}"))
    } else {
        SlurmError::Refused(detail)
    }
}

impl SlurmApi for Client {
    fn version(&self) -> &'static str {
        VERSION
    }

    fn ping(&self) -> Result<(), SlurmError> {
        self.call("GET", "/ping", None, true).map(|_| ())
    }

    fn submit(&self, job: &JobRequest) -> Result<u32, SlurmError> {
        let env = self.call("POST", "/job/submit", Some(&submit_body(job)), false)?;
        env.job_id.ok_or_else(|| SlurmError::Protocol { what: "POST /job/submit".into(), reason: "no job_id".into() })
    }

    fn jobs(&self) -> Result<Vec<SlurmJob>, SlurmError> {
        self.call("GET", "/jobs", None, true)?.jobs.iter().map(Job::neutral).collect()
    }

    fn job(&self, id: u32) -> Result<Option<SlurmJob>, SlurmError> {
        match self.call("GET", &format!("/job/{id}"), None, true) {
            Ok(env) => env.jobs.first().map(Job::neutral).transpose(),
            Err(SlurmError::Refused(m)) if m.contains("Invalid job id") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn signal(&self, id: u32, signal: &str) -> Result<(), SlurmError> {
        self.call("DELETE", &format!("/job/{id}?signal={signal}"), None, true).map(|_| ())
    }

    fn cancel(&self, id: u32) -> Result<(), SlurmError> {
        match self.call("DELETE", &format!("/job/{id}"), None, true) {
            // Already over: cancelling is done.
            Err(SlurmError::Refused(m)) if m.contains("already completed") || m.contains("Invalid job id") => Ok(()),
            r => r.map(|_| ()),
        }
    }

    fn nodes(&self) -> Result<Vec<SlurmNode>, SlurmError> {
        Ok(self.call("GET", "/nodes", None, true)?.nodes.iter().map(Node::neutral).collect())
    }

    fn partitions(&self) -> Result<Vec<SlurmPartition>, SlurmError> {
        let env = self.call("GET", "/partitions", None, true)?;
        env.partitions
            .iter()
            .map(|p| {
                Ok(SlurmPartition {
                    name: p.name.clone(),
                    nodes: hostlist::expand(p.nodes.as_deref().unwrap_or(""))
                        .map_err(|reason| SlurmError::Protocol { what: format!("partition {}", p.name), reason })?,
                })
            })
            .collect()
    }

    fn accounted_jobs(&self, window: Option<(u64, u64)>) -> Result<Vec<AccountedJob>, SlurmError> {
        // slurmdbd reads the times in its own time zone: ask for a day more
        // on each side and cut exactly here. `:` must be escaped.
        let query = match window {
            Some((from, to)) => format!(
                "?start_time={}&end_time={}",
                iso_utc(from.saturating_sub(86_400)).replace(':', "%3A"),
                iso_utc(to.saturating_add(86_400).min(253_402_300_799)).replace(':', "%3A")
            ),
            None => String::new(),
        };
        let jobs = self.db_jobs(&query)?;
        Ok(match window {
            Some((from, to)) => {
                jobs.into_iter().filter(|j| j.start != 0 && j.start <= to && (j.end == 0 || j.end >= from)).collect()
            }
            None => jobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Envelope {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn recorded_jobs_parse() {
        let env = fixture("sample-jobs-v0.0.38.json");
        assert!(env.errors.is_empty());
        let jobs: Vec<SlurmJob> = env.jobs.iter().map(|j| j.neutral().unwrap()).collect();
        assert_eq!(jobs.len(), 7);
        assert_eq!(jobs[0].status, JobStatus::Completed);
        assert_eq!(jobs[0].nodes, ["n1", "n2"]);
        assert_eq!(jobs[1].status, JobStatus::Cancelled);
        assert_eq!(jobs[1].exit_code, 143, "a wait status of 15 is death by SIGTERM");
        assert_eq!(jobs[2].name, "rest-smoke");
        assert_eq!(jobs[2].comment, "tenant=acme");
        assert!(jobs.iter().all(|j| j.status.ended()));
    }

    #[test]
    fn recorded_nodes_parse() {
        let env = fixture("sample-nodes-v0.0.38.json");
        let nodes: Vec<SlurmNode> = env.nodes.iter().map(Node::neutral).collect();
        assert!(nodes.len() >= 4);
        for n in &nodes {
            assert_eq!((n.gpus, n.gpu_type.as_str()), (8, "h100"), "{n:?}");
            assert_eq!(n.partitions, ["gpu"]);
            assert!(!n.unusable(), "{n:?}");
        }
    }

    #[test]
    fn recorded_accounting_answer_parses() {
        let path = format!("{}/fixtures/sample-dbjobs-dbv0.0.38.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let jobs = db_answer("http://x:1", "GET /slurmdb/v0.0.38/jobs", 200, &text).unwrap();
        assert_eq!(jobs.len(), 7);
        let j = &jobs[0];
        assert_eq!((j.id, j.name.as_str(), j.state.as_str()), (1, "wrap", "COMPLETED"));
        assert_eq!((j.start, j.end, j.elapsed, j.gpus), (1795360268, 1795360271, 3, 16));
        assert_eq!(j.status, JobStatus::Completed);
        assert_eq!(j.comment, "", "recorded without AccountingStoreFlags=job_comment");
        assert_eq!((jobs[2].name.as_str(), jobs[2].gpus), ("rest-smoke", 8));
        assert_eq!(jobs[1].status, JobStatus::Cancelled);
        assert_eq!(jobs[6].gpus, 0, "a job without GPUs");
    }

    #[test]
    fn accounting_answers_nothing_found_off_and_stored_comments() {
        let nothing = r#"{"errors":[{"description":"Nothing found","error_number":9003,"error":"Nothing found with query","source":"slurmdb_jobs_get"}],"jobs":[]}"#;
        assert_eq!(db_answer("u", "w", 200, nothing).unwrap(), vec![]);
        let off = db_answer("http://h:1", "GET /slurmdb/v0.0.38/jobs", 404, "Unable find requested URL.");
        assert!(matches!(off, Err(SlurmError::NoAccounting { .. })), "{off:?}");
        assert!(off.unwrap_err().to_string().contains("Slurm accounting (slurmdbd) is not enabled"));
        let one = r#"{"errors":[],"jobs":[{"job_id":9,"name":"agora-7.1","comment":{"administrator":null,"job":"agora job=7 run=1 gen=0 inst=abc","system":null},"state":{"current":"RUNNING"},"time":{"elapsed":5,"start":100,"end":0},"tres":{"allocated":[{"type":"gres","name":"gpu","id":1001,"count":2},{"type":"gres","name":"gpu:h100","id":1002,"count":2}]}}]}"#;
        let j = &db_answer("u", "w", 200, one).unwrap()[0];
        assert_eq!(j.comment, "agora job=7 run=1 gen=0 inst=abc");
        assert_eq!((j.gpus, j.status, j.end), (2, JobStatus::Running, 0), "the typed entry repeats the total");
    }

    #[test]
    fn times_for_slurmdbd_filters() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00");
        assert_eq!(iso_utc(1_796_260_251), "2026-12-03T01:10:51");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00");
    }

    #[test]
    fn gres_strings_parse() {
        assert_eq!(parse_gres("gpu:h100:8"), (8, "h100".into()));
        assert_eq!(parse_gres("gpu:4(S:0-1)"), (4, "gpu".into()));
        assert_eq!(parse_gres("gpu:a100:4,gpu:a100:4"), (8, "a100".into()));
        assert_eq!(parse_gres("(null)"), (0, "gpu".into()));
        assert_eq!(parse_gres(""), (0, "gpu".into()));
    }

    #[test]
    fn errors_are_classified() {
        let e = |src: &str, desc: &str| ApiError {
            error: Some("Unspecified error".into()),
            description: Some(desc.into()),
            source: Some(src.into()),
            error_number: Some(-1),
            error_code: None,
        };
        // Recorded: slurmctld stopped, or a token it rejects.
        assert!(matches!(
            classify("GET /ping", 500, &[e("slurm_load_ctl_conf", "slurmctld config is unable to load")]),
            SlurmError::Controller { .. }
        ));
        // Recorded: a key v0.0.38 refuses.
        let refused = ApiError {
            error: Some("Operation not permitted".into()),
            description: Some("Disabled key: \"required_nodes\"".into()),
            source: Some("openapi specification".into()),
            error_number: Some(1),
            error_code: None,
        };
        match classify("POST /job/submit", 500, &[refused]) {
            SlurmError::Refused(m) => assert!(m.contains("required_nodes"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn submit_body_uses_only_keys_v0038_accepts() {
        // Every key is a documented job property, or one of the two sbatch
        // option names this version takes (see the module comment).
        let gz =
            std::fs::read(format!("{}/fixtures/slurmrestd-22.05-openapi-v0.0.38.json.gz", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
        let spec: Value = serde_json::from_str(&text).unwrap();
        let props = &spec["components"]["schemas"]["v0.0.38_job_properties"]["properties"];
        let r = JobRequest {
            name: "agora-1.1".into(),
            comment: "agora job=1 run=1 gen=0".into(),
            nodes: vec!["n1".into(), "n2".into()],
            gpus_per_node: 8,
            exclusive: true,
            script: "#!/bin/sh\ntrue\n".into(),
            cwd: "/tmp".into(),
            stdout: "/tmp/1.1.out".into(),
            env: vec![("PATH".into(), "/bin".into())],
            time_limit_min: 2,
            partition: Some("gpu".into()),
        };
        let body = submit_body(&r);
        for k in body["job"].as_object().unwrap().keys() {
            assert!(props.get(k).is_some() || k == "nodelist", "{k} is not a v0.0.38 job property");
        }
        assert_eq!(body["job"]["nodelist"], "n1,n2");
        assert_eq!(body["job"]["exclusive"], "exclusive");
        assert_eq!(body["job"]["gpus_per_node"], "8");
    }
}
