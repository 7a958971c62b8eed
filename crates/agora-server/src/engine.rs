//! The engine: the core plus what the control plane adds around it (job
//! names and owners, holds, dependencies, arrays, idempotency keys, API
//! tokens), driven only by journaled `Input`s.
//!
//! `apply` is deterministic: the same inputs in the same order give the
//! same state, so replaying the journal rebuilds it. It either accepts an
//! input (returning what changed for the read model and what the executor
//! must do) or refuses it and changes nothing the journal would not replay
//! (refused inputs are not journaled).
//!
//! Jobs that are held or wait for dependencies are not in the core; they
//! enter it (with their own id) when released or when their dependencies
//! are met, so the core only ever sees jobs it may schedule.

use crate::error::ApiError;
use crate::input::Input;
use agora_api::convert::{parse_array, parse_dependency};
use agora_api::{to_spec, Allocation, DepKind, Dependency, JobState, JobSubmit, Role, Site};
use agora_core::{Decision, Entitlements, Event, JobId, JobSpec, NodeId, RequeueCause, Scheduler, TenantId, Topology};
use std::collections::HashMap;

/// A change to the read model (applied after the journal commit).
#[derive(Clone, Debug)]
pub enum Effect {
    Created {
        job: u64,
        name: String,
        tenant: TenantId,
        user: String,
        spec: JobSpec,
        state: JobState,
        array: Option<(u64, u32)>,
        time: u64,
    },
    State {
        job: u64,
        state: JobState,
        time: u64,
        kind: &'static str,
        detail: String,
    },
    Started {
        job: u64,
        time: u64,
        allocation: Vec<Allocation>,
        accels: u32,
    },
    /// The job left its accelerators (ended, requeued or preempted out).
    Released {
        job: u64,
        time: u64,
    },
    Ended {
        job: u64,
        state: JobState,
        time: u64,
        exit_code: Option<i32>,
        detail: String,
    },
    Token {
        hash: String,
        id: String,
        user: String,
        role: Role,
        scope: TenantId,
    },
}

/// What the executor must do (skipped while replaying).
#[derive(Clone, Debug)]
pub enum ExecOp {
    Start(Launch),
    Stop {
        job: u64,
        run: u32,
        grace: u64,
    },
    /// The same run, relaunched on a new node list (a spare replaced a failed node).
    Relaunch(Launch),
}

/// Everything an executor needs to run one run of a job.
#[derive(Clone, Debug)]
pub struct Launch {
    pub job: u64,
    pub run: u32,
    pub name: String,
    pub user: String,
    pub command: Option<String>,
    pub allocation: Vec<Allocation>,
    /// Site time the run started.
    pub started: u64,
    /// Seconds of work left (declared duration minus saved progress).
    pub work: u64,
    pub time_limit: u64,
    pub exit_code: i32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Submitted { jobs: Vec<u64>, replayed: bool },
    Job(u64),
    Token,
    None,
}

#[derive(Default)]
pub struct Applied {
    pub reply: Option<Reply>,
    pub effects: Vec<Effect>,
    pub ops: Vec<ExecOp>,
}

struct Meta {
    spec: JobSpec,
    name: String,
    user: String,
    state: JobState,
    held: bool,
    deps: Vec<Dependency>,
    run: u32,
    started: u64,
    /// Declared work, and the saved part the current run resumes from.
    work: u64,
    resume: u64,
    exit_code: i32,
    command: Option<String>,
    requeue: bool,
    /// A reservation was announced for this wait (its "reserved" event).
    reserved: bool,
}

pub struct Engine {
    core: Scheduler,
    now: u64,
    next_id: u64,
    /// Live jobs (not yet ended).
    jobs: HashMap<u64, Meta>,
    /// Ended jobs: did they complete successfully?
    done: HashMap<u64, bool>,
    /// Job → jobs waiting on it.
    dependents: HashMap<u64, Vec<u64>>,
    idempotency: HashMap<String, Vec<u64>>,
    token_hashes: HashMap<String, String>,
    /// (accelerators on the site, largest node), computed once.
    site_size: (u64, u32),
}

impl Engine {
    pub fn new(core: Scheduler) -> Engine {
        let s = Site::new(core.entitlements(), core.topology());
        let site_size = (s.total, s.biggest);
        Engine {
            site_size,
            core,
            now: 0,
            next_id: 1,
            jobs: HashMap::new(),
            done: HashMap::new(),
            dependents: HashMap::new(),
            idempotency: HashMap::new(),
            token_hashes: HashMap::new(),
        }
    }

    pub fn core(&self) -> &Scheduler {
        &self.core
    }
    pub fn now(&self) -> u64 {
        self.now
    }
    pub fn ents(&self) -> &Entitlements {
        self.core.entitlements()
    }
    pub fn topo(&self) -> &Topology {
        self.core.topology()
    }
    pub fn has_tokens(&self) -> bool {
        !self.token_hashes.is_empty()
    }
    pub fn job_state(&self, id: u64) -> Option<JobState> {
        self.jobs.get(&id).map(|m| m.state)
    }
    /// Ids of jobs an idempotency key created, if it was used.
    pub fn idempotent(&self, key: &str) -> Option<&Vec<u64>> {
        self.idempotency.get(key)
    }
    /// Running or preempting jobs, to hand back to an executor after a restart.
    pub fn running(&self) -> Vec<Launch> {
        let mut v: Vec<Launch> = self
            .jobs
            .iter()
            .filter(|(_, m)| matches!(m.state, JobState::Running | JobState::Preempting))
            .map(|(&id, m)| self.launch(id, m))
            .collect();
        v.sort_by_key(|l| l.job);
        v
    }
    pub fn pending_count(&self) -> usize {
        self.core.pending_count()
    }

    fn launch(&self, id: u64, m: &Meta) -> Launch {
        Launch {
            job: id,
            run: m.run,
            name: m.name.clone(),
            user: m.user.clone(),
            command: m.command.clone(),
            allocation: self.allocation(id),
            started: m.started,
            work: m.work.saturating_sub(m.resume),
            time_limit: m.spec.time_limit,
            exit_code: m.exit_code,
        }
    }

    fn allocation(&self, id: u64) -> Vec<Allocation> {
        let topo = self.core.topology();
        self.core
            .job(JobId(id))
            .map(|v| {
                v.slots
                    .iter()
                    .map(|s| Allocation {
                        node: topo.nodes[s.node.idx()].name.clone(),
                        accelerators: (0..16).filter(|b| s.mask & (1 << b) != 0).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A digest of everything replay depends on besides the journal: the
    /// topology, the entitlement tree and the scheduler settings (FNV-1a).
    pub fn fingerprint(&self) -> String {
        let mut h = agora_core::Fnv1a::default();
        let mut eat = |s: &str| {
            h.write(s.as_bytes());
            h.write(&[0xff]);
        };
        let topo = self.core.topology();
        eat(&topo.name);
        for n in &topo.nodes {
            eat(&format!("{}:{}:{}", n.name, n.accels, n.block.0));
        }
        eat(&topo.types.join(","));
        for t in &self.core.entitlements().tenants {
            eat(&format!(
                "{}|{}|{:?}|{:?}|{:?}|{:?}",
                t.path, t.weight, t.floor, t.borrow_limit, t.lend_limit, t.parent
            ));
        }
        eat(&format!("{:?}", self.core.config()));
        format!("{:016x}", h.0)
    }

    /// Apply one input at its `now`. On error nothing changed.
    pub fn apply(&mut self, input: &Input) -> Result<Applied, ApiError> {
        let now = input.now();
        if now < self.now {
            return Err(ApiError::Conflict(format!("time went back: {now} < {}", self.now)));
        }
        let mut a = Applied::default();
        match input {
            Input::Submit { user, spec, idempotency_key, .. } => {
                self.submit(now, user, spec, idempotency_key, &mut a)?
            }
            Input::Cancel { job, .. } => self.cancel(now, *job, &mut a)?,
            Input::Hold { job, .. } => self.hold(now, *job, &mut a)?,
            Input::Release { job, .. } => self.release(now, *job, &mut a)?,
            Input::Tick { .. } => {
                let mut out = Vec::new();
                self.core.handle(now, Event::Tick, &mut out).map_err(|e| ApiError::Conflict(e.to_string()))?;
                self.decisions(now, out, &mut a);
                self.announce_reservations(now, &mut a);
            }
            Input::Exited { job, run, code, .. } => self.exited(now, *job, *run, *code, &mut a)?,
            Input::NodeFailed { node, .. } => {
                let mut out = Vec::new();
                self.core
                    .handle(now, Event::NodeFailed(NodeId(*node)), &mut out)
                    .map_err(|e| ApiError::Conflict(e.to_string()))?;
                self.decisions(now, out, &mut a);
            }
            Input::NodeRepaired { node, .. } => {
                self.core
                    .handle(now, Event::NodeRepaired(NodeId(*node)), &mut Vec::new())
                    .map_err(|e| ApiError::Conflict(e.to_string()))?;
            }
            Input::Site { name, fingerprint, .. } => {
                let mine = self.fingerprint();
                if *fingerprint != mine {
                    return Err(ApiError::Conflict(format!(
                        "the journal was written for site `{name}` ({fingerprint}), not this one (`{}`, {mine}); start with the same --cluster and --site",
                        self.topo().name
                    )));
                }
            }
            Input::Token { hash, id, user, role, scope, .. } => {
                let scope_id = if scope.is_empty() {
                    agora_core::tenancy::ROOT
                } else {
                    self.ents()
                        .lookup(scope)
                        .ok_or_else(|| ApiError::invalid("scope", format!("`{scope}` is not a tenant of this site")))?
                };
                if self.token_hashes.contains_key(hash) {
                    return Err(ApiError::Conflict("token exists".into()));
                }
                self.token_hashes.insert(hash.clone(), id.clone());
                a.effects.push(Effect::Token {
                    hash: hash.clone(),
                    id: id.clone(),
                    user: user.clone(),
                    role: role.clone(),
                    scope: scope_id,
                });
                a.reply = Some(Reply::Token);
            }
        }
        self.now = now;
        Ok(a)
    }

    fn submit(
        &mut self,
        now: u64,
        user: &str,
        s: &JobSubmit,
        key: &Option<String>,
        a: &mut Applied,
    ) -> Result<(), ApiError> {
        // Checks that depend only on the request come before the
        // idempotency key, so a malformed retry is refused, not replayed.
        let first = self.next_id;
        let (total, biggest) = self.site_size;
        let site = Site { ents: self.core.entitlements(), topo: self.core.topology(), total, biggest };
        let spec = to_spec(s, first, &site)?;
        let indices = match &s.array {
            Some(x) => Some(parse_array(x)?),
            None => None,
        };
        let deps = match &s.dependency {
            Some(d) => parse_dependency(d)?,
            None => Vec::new(),
        };
        let duration = match &s.duration {
            Some(d) => d.secs("duration")?,
            None => spec.time_limit,
        };
        if let Some(k) = key {
            if let Some(ids) = self.idempotency.get(k) {
                a.reply = Some(Reply::Submitted { jobs: ids.clone(), replayed: true });
                return Ok(());
            }
        }
        for d in &deps {
            if d.job >= first || d.job == 0 {
                return Err(ApiError::invalid("dependency", format!("job {} does not exist", d.job)));
            }
            if d.kind == DepKind::AfterOk && self.done.get(&d.job) == Some(&false) {
                return Err(ApiError::invalid(
                    "dependency",
                    format!("job {} did not complete; afterok can never be satisfied", d.job),
                ));
            }
        }
        let deps: Vec<Dependency> = deps.into_iter().filter(|d| !self.done.contains_key(&d.job)).collect();
        // The core checks feasibility: try the first job before creating any.
        if deps.is_empty() {
            self.core.handle(now, Event::Submit(spec.clone()), &mut Vec::new()).map_err(|e| match e {
                agora_core::SchedError::InvalidJob { reason, .. } => ApiError::invalid("accelerators", reason),
                e => ApiError::Conflict(e.to_string()),
            })?;
        }
        let n = indices.as_ref().map_or(1, |v| v.len()) as u64;
        let base = s.name.clone().unwrap_or_else(|| "job".into());
        let mut ids = Vec::with_capacity(n as usize);
        for i in 0..n {
            let id = first + i;
            let mut spec = spec.clone();
            spec.id = JobId(id);
            if i > 0 && deps.is_empty() {
                self.core
                    .handle(now, Event::Submit(spec.clone()), &mut Vec::new())
                    .expect("same spec as the first job");
            }
            let array = indices.as_ref().map(|v| (first, v[i as usize]));
            let name = match array {
                Some((_, k)) => format!("{base}[{k}]"),
                None => base.clone(),
            };
            let state = if deps.is_empty() { JobState::Pending } else { JobState::Dependency };
            for d in &deps {
                self.dependents.entry(d.job).or_default().push(id);
            }
            a.effects.push(Effect::Created {
                job: id,
                name: name.clone(),
                tenant: spec.tenant,
                user: user.into(),
                spec: spec.clone(),
                state,
                array,
                time: now,
            });
            self.jobs.insert(
                id,
                Meta {
                    spec,
                    name,
                    user: user.into(),
                    state,
                    held: false,
                    deps: deps.clone(),
                    run: 0,
                    started: 0,
                    work: duration,
                    resume: 0,
                    exit_code: s.exit_code.unwrap_or(0),
                    command: s.command.clone(),
                    requeue: s.requeue.unwrap_or(false),
                    reserved: false,
                },
            );
            ids.push(id);
        }
        self.next_id += n;
        if let Some(k) = key {
            self.idempotency.insert(k.clone(), ids.clone());
        }
        a.reply = Some(Reply::Submitted { jobs: ids, replayed: false });
        Ok(())
    }

    fn live(&self, id: u64) -> Result<&Meta, ApiError> {
        match self.jobs.get(&id) {
            Some(m) => Ok(m),
            None if self.done.contains_key(&id) => Err(ApiError::Conflict(format!("job {id} has already ended"))),
            None => Err(ApiError::job_not_found(id)),
        }
    }

    fn cancel(&mut self, now: u64, id: u64, a: &mut Applied) -> Result<(), ApiError> {
        let m = self.live(id)?;
        let (state, run) = (m.state, m.run);
        if matches!(state, JobState::Pending | JobState::Running | JobState::Preempting) {
            self.core
                .handle(now, Event::Cancel(JobId(id)), &mut Vec::new())
                .map_err(|e| ApiError::Conflict(e.to_string()))?;
        }
        if matches!(state, JobState::Running | JobState::Preempting) {
            a.ops.push(ExecOp::Stop { job: id, run, grace: self.core.config().preemption_grace.min(30) });
            a.effects.push(Effect::Released { job: id, time: now });
        }
        self.finish(now, id, JobState::Cancelled, None, "cancelled by its owner".into(), a);
        a.reply = Some(Reply::Job(id));
        Ok(())
    }

    fn hold(&mut self, now: u64, id: u64, a: &mut Applied) -> Result<(), ApiError> {
        let m = self.live(id)?;
        match m.state {
            JobState::Pending => {
                self.core
                    .handle(now, Event::Cancel(JobId(id)), &mut Vec::new())
                    .map_err(|e| ApiError::Conflict(e.to_string()))?;
            }
            JobState::Dependency => {}
            s => return Err(ApiError::Conflict(format!("job {id} is {}; only pending jobs can be held", s.name()))),
        }
        let m = self.jobs.get_mut(&id).expect("live job");
        m.held = true;
        m.reserved = false;
        m.state = JobState::Held;
        a.effects.push(Effect::State {
            job: id,
            state: JobState::Held,
            time: now,
            kind: "held",
            detail: "held by its owner".into(),
        });
        a.reply = Some(Reply::Job(id));
        Ok(())
    }

    fn release(&mut self, now: u64, id: u64, a: &mut Applied) -> Result<(), ApiError> {
        let m = self.live(id)?;
        if m.state != JobState::Held {
            return Err(ApiError::Conflict(format!("job {id} is {}, not held", m.state.name())));
        }
        if m.deps.is_empty() {
            self.core
                .handle(now, Event::Submit(m.spec.clone()), &mut Vec::new())
                .map_err(|e| ApiError::Conflict(e.to_string()))?;
        }
        let m = self.jobs.get_mut(&id).expect("live job");
        m.held = false;
        m.state = if m.deps.is_empty() { JobState::Pending } else { JobState::Dependency };
        a.effects.push(Effect::State {
            job: id,
            state: m.state,
            time: now,
            kind: "released",
            detail: "released by its owner".into(),
        });
        a.reply = Some(Reply::Job(id));
        Ok(())
    }

    fn exited(&mut self, now: u64, id: u64, run: u32, code: i32, a: &mut Applied) -> Result<(), ApiError> {
        let m = self.jobs.get(&id).ok_or_else(|| ApiError::job_not_found(id))?;
        if m.run != run || !matches!(m.state, JobState::Running | JobState::Preempting) {
            return Err(ApiError::Conflict(format!("job {id} run {run} is not running")));
        }
        let requeue = code != 0 && m.requeue;
        let mut out = Vec::new();
        let ev = if requeue { Event::JobFailed(JobId(id)) } else { Event::Finished(JobId(id)) };
        self.core.handle(now, ev, &mut out).map_err(|e| ApiError::Conflict(e.to_string()))?;
        if requeue {
            self.decisions(now, out, a);
            return Ok(());
        }
        a.effects.push(Effect::Released { job: id, time: now });
        let (state, detail) = match code {
            0 => (JobState::Completed, "exited with status 0".to_string()),
            124 => (JobState::Failed, "reached its time limit".to_string()),
            c => (JobState::Failed, format!("exited with status {c}")),
        };
        self.finish(now, id, state, Some(code), detail, a);
        Ok(())
    }

    /// A job ended for good: record it and wake or cancel its dependents.
    fn finish(&mut self, now: u64, id: u64, state: JobState, code: Option<i32>, detail: String, a: &mut Applied) {
        self.jobs.remove(&id);
        let ok = state == JobState::Completed;
        self.done.insert(id, ok);
        a.effects.push(Effect::Ended { job: id, state, time: now, exit_code: code, detail });
        for d in self.dependents.remove(&id).unwrap_or_default() {
            let Some(m) = self.jobs.get_mut(&d) else { continue };
            let before = m.deps.len();
            let broken = m.deps.iter().any(|x| x.job == id && x.kind == DepKind::AfterOk && !ok);
            m.deps.retain(|x| x.job != id);
            if broken {
                self.finish(
                    now,
                    d,
                    JobState::Cancelled,
                    None,
                    format!("dependency on job {id} can never be satisfied"),
                    a,
                );
                continue;
            }
            if before > 0 && m.deps.is_empty() && !m.held {
                let spec = m.spec.clone();
                match self.core.handle(now, Event::Submit(spec), &mut Vec::new()) {
                    Ok(()) => {
                        m.state = JobState::Pending;
                        a.effects.push(Effect::State {
                            job: d,
                            state: JobState::Pending,
                            time: now,
                            kind: "eligible",
                            detail: format!("dependencies met (job {id})"),
                        });
                    }
                    Err(e) => self.finish(now, d, JobState::Failed, None, format!("refused by the scheduler: {e}"), a),
                }
            }
        }
    }

    /// A job the cycle reserved nodes for gets one "reserved" event per
    /// wait (the timeline's; `why` gives the current estimate).
    fn announce_reservations(&mut self, now: u64, a: &mut Applied) {
        for &(job, start) in &self.core.last_cycle().reservations {
            let Some(m) = self.jobs.get_mut(&job.0) else { continue };
            if m.reserved || m.state != JobState::Pending {
                continue;
            }
            m.reserved = true;
            a.effects.push(Effect::State {
                job: job.0,
                state: JobState::Pending,
                time: now,
                kind: "reserved",
                detail: format!(
                    "nodes are being held for it; expected to start in {}",
                    agora_core::human_duration(start.saturating_sub(now))
                ),
            });
        }
    }

    fn decisions(&mut self, now: u64, out: Vec<Decision>, a: &mut Applied) {
        for d in out {
            match d {
                Decision::Start { job, accels, resume_from, backfilled, .. } => {
                    let id = job.0;
                    let allocation = self.allocation(id);
                    let Some(m) = self.jobs.get_mut(&id) else { continue };
                    m.state = JobState::Running;
                    m.run += 1;
                    m.started = now;
                    m.reserved = false;
                    m.resume = resume_from;
                    let launch = self.launch(id, &self.jobs[&id]);
                    a.effects.push(Effect::Started { job: id, time: now, allocation, accels });
                    a.effects.push(Effect::State {
                        job: id,
                        state: JobState::Running,
                        time: now,
                        kind: "started",
                        detail: format!("{accels} accelerators{}", if backfilled { " (backfilled)" } else { "" }),
                    });
                    a.ops.push(ExecOp::Start(launch));
                }
                Decision::Preempt { job, by, grace_until, cause } => {
                    let Some(m) = self.jobs.get_mut(&job.0) else { continue };
                    m.state = JobState::Preempting;
                    a.ops.push(ExecOp::Stop { job: job.0, run: m.run, grace: grace_until.saturating_sub(now) });
                    a.effects.push(Effect::State {
                        job: job.0,
                        state: JobState::Preempting,
                        time: now,
                        kind: "preempted",
                        detail: format!("for job {by} ({cause:?}); checkpoint and leave by {grace_until}"),
                    });
                }
                Decision::ReplaceNode { job, failed, spare, .. } => {
                    let topo = self.core.topology();
                    let detail = format!(
                        "node {} failed; replaced by spare {}",
                        topo.nodes[failed.idx()].name,
                        topo.nodes[spare.idx()].name
                    );
                    let allocation = self.allocation(job.0);
                    if let Some(m) = self.jobs.get(&job.0) {
                        a.ops.push(ExecOp::Relaunch(self.launch(job.0, m)));
                    }
                    a.effects.push(Effect::Started { job: job.0, time: now, allocation, accels: 0 });
                    a.effects.push(Effect::State {
                        job: job.0,
                        state: JobState::Running,
                        time: now,
                        kind: "node_replaced",
                        detail,
                    });
                }
                Decision::Requeue { job, cause, lost, .. } => {
                    let Some(m) = self.jobs.get_mut(&job.0) else { continue };
                    // A preempted job's grace period is over: force it (its
                    // executor may have adopted it after a restart, when
                    // the stop that began the grace period was lost).
                    let live = matches!(m.state, JobState::Running | JobState::Preempting);
                    if live && cause != RequeueCause::JobFailure {
                        a.ops.push(ExecOp::Stop { job: job.0, run: m.run, grace: 0 });
                    }
                    m.state = JobState::Pending;
                    m.reserved = false;
                    a.effects.push(Effect::Released { job: job.0, time: now });
                    a.effects.push(Effect::State {
                        job: job.0,
                        state: JobState::Pending,
                        time: now,
                        kind: "requeued",
                        detail: format!("{cause:?}; {lost} s of work lost"),
                    });
                }
            }
        }
    }

    /// Why a job is not running, and when it is expected to start.
    pub fn why(&self, id: u64) -> Option<(JobState, String, Option<u64>)> {
        let m = self.jobs.get(&id)?;
        let (reason, est) = match m.state {
            JobState::Held => ("held by its owner; release it to queue it".to_string(), None),
            JobState::Dependency => (
                format!(
                    "waiting for {}",
                    m.deps
                        .iter()
                        .map(|d| format!(
                            "job {} ({})",
                            d.job,
                            if d.kind == DepKind::AfterOk { "afterok" } else { "afterany" }
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ),
            JobState::Pending => {
                let view = self.core.job(JobId(id))?;
                let est = match view.reason {
                    Some(agora_core::Reason::Reserved { start, .. }) => Some(start),
                    Some(agora_core::Reason::AwaitingPreemption { until, .. }) => Some(until),
                    _ => None,
                };
                (self.core.explain(JobId(id)).unwrap_or_default(), est)
            }
            s => (format!("{}: not waiting", s.name()), None),
        };
        Some((m.state, reason, est))
    }
}

/// The engine's part of a snapshot (`crate::snapshot`): every field but
/// the core (written apart) and `site_size` (computed from the site).
impl Engine {
    pub(crate) fn put_state(&self, w: &mut Vec<u8>) {
        use agora_core::persist::Persist;
        (self.now, self.next_id).put(w);
        let mut jobs: Vec<_> = self.jobs.iter().collect();
        jobs.sort_unstable_by_key(|(id, _)| **id);
        jobs.len().put(w);
        for (id, m) in jobs {
            // Every field bound: a field added to `Meta` must be kept here.
            let Meta {
                spec,
                name,
                user,
                state,
                held,
                deps,
                run,
                started,
                work,
                resume,
                exit_code,
                command,
                requeue,
                reserved,
            } = m;
            id.put(w);
            spec.put(w);
            name.put(w);
            user.put(w);
            crate::snapshot::put_state(*state, w);
            held.put(w);
            let deps: Vec<(bool, u64)> = deps.iter().map(|d| (d.kind == DepKind::AfterOk, d.job)).collect();
            deps.put(w);
            (*run, *started, *work, *resume).put(w);
            exit_code.put(w);
            command.put(w);
            (*requeue, *reserved).put(w);
        }
        self.done.put(w);
        self.dependents.put(w);
        self.idempotency.put(w);
        self.token_hashes.put(w);
    }

    pub(crate) fn get_state(
        core: Scheduler,
        r: &mut agora_core::persist::Reader,
    ) -> Result<Engine, agora_core::persist::SnapshotError> {
        use agora_core::persist::Persist;
        let mut e = Engine::new(core);
        (e.now, e.next_id) = Persist::get(r)?;
        let n = r.len()?;
        for _ in 0..n {
            let id = u64::get(r)?;
            let spec = JobSpec::get(r)?;
            let (name, user) = Persist::get(r)?;
            let state = crate::snapshot::get_state(r)?;
            let held = bool::get(r)?;
            let deps: Vec<(bool, u64)> = Persist::get(r)?;
            let deps = deps
                .into_iter()
                .map(|(ok, job)| Dependency { kind: if ok { DepKind::AfterOk } else { DepKind::AfterAny }, job })
                .collect();
            let (run, started, work, resume): (u32, u64, u64, u64) = Persist::get(r)?;
            let exit_code = i32::get(r)?;
            let command = Persist::get(r)?;
            let (requeue, reserved) = Persist::get(r)?;
            let m = Meta {
                spec,
                name,
                user,
                state,
                held,
                deps,
                run,
                started,
                work,
                resume,
                exit_code,
                command,
                requeue,
                reserved,
            };
            e.jobs.insert(id, m);
        }
        e.done = Persist::get(r)?;
        e.dependents = Persist::get(r)?;
        e.idempotency = Persist::get(r)?;
        e.token_hashes = Persist::get(r)?;
        Ok(e)
    }
}
