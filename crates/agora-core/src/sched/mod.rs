//! The scheduler: a deterministic state machine. Events go in with the
//! caller's `now`; decisions come out. No clock, no IO, no hidden randomness.
//!
//! A scheduling cycle runs on `Event::Tick`; the other events only change
//! state. The steps of a cycle are named in `cycle` below.

mod cycle;
mod fairshare;
mod pool;
mod preempt;
mod query;
mod reason;
mod reserve;
mod snapshot;
pub use snapshot::SNAPSHOT_VERSION;

pub use pool::Slot;
pub use reason::{Reason, Stop};

use crate::ids::{JobId, NodeId, Secs, TenantId, Time, TypeId};
use crate::job::{Checkpointing, JobSpec, JobState, PriorityClass, Progress, Scope};
use crate::tenancy::{Entitlements, ROOT};
use crate::topology::Topology;
use fairshare::{Fair, Picker};
use pool::Pool;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What happens behind a job that cannot start yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backfill {
    /// Nothing behind it starts (strict order: plain FIFO).
    Strict,
    /// Anything that fits starts; no reservations (may starve big gangs).
    Greedy,
    /// The first blocked job gets a reservation; later jobs start only
    /// where they do not delay it (EASY).
    Easy,
    /// The first `n` blocked jobs get reservations (conservative backfill,
    /// bounded so a cycle stays cheap).
    Conservative(usize),
    /// EASY per programme: the first blocked job of each programme (the
    /// tenant at depth 2, funder > programme) gets a reservation, up to `n`
    /// in all. Under EASY, an under-served programme's gang that is not
    /// first in line holds nothing, and another programme's long jobs keep
    /// taking the nodes it waits for.
    PerProgramme(usize),
}

/// The order in which pending jobs are considered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ordering {
    /// Hierarchical fair share over the entitlement tree, then priority
    /// class, then age. Agora's default.
    FairShare,
    /// Submission order.
    Fifo,
    /// Least attained service first (accelerator-seconds received), in two
    /// queues split at `threshold` like Tiresias' discretised 2D-LAS: jobs
    /// below it go first and may preempt running jobs above it.
    Las { threshold: f64 },
    /// Shortest remaining work first, from each job's estimate (with exact
    /// estimates: the oracle reference point).
    ShortestRemaining,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Nodes per block held back to replace failed nodes.
    pub spares_per_block: u32,
    /// Half-life of decayed usage for fair share.
    pub half_life: Secs,
    /// Weight (seconds) of the current allocation against decayed usage;
    /// `None` = half_life / ln 2.
    pub alloc_weight: Option<f64>,
    pub ordering: Ordering,
    pub backfill: Backfill,
    /// How many jobs a cycle may look at once a reservation exists.
    pub max_backfill_scan: usize,
    pub preemption: bool,
    /// Time a preempted job gets to checkpoint before its accelerators are
    /// taken back.
    pub preemption_grace: Secs,
    /// Preemption searches per cycle.
    pub max_preemptions_per_cycle: usize,
    /// Unless a guaranteed floor is reclaimed or a strictly higher class
    /// asks, a job is not preempted before it has run this long...
    pub min_run_before_preempt: Secs,
    /// ...nor once it has been preempted this many times (no loops).
    pub max_preemptions_per_job: u32,
    /// Let work beyond a borrowing or lending limit run opportunistically
    /// (preemptible, evicted first) on capacity nobody entitled wants, so
    /// accelerators idle only when no job can use them.
    pub work_conserving: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            spares_per_block: 0,
            half_life: 7 * 86_400,
            alloc_weight: None,
            ordering: Ordering::FairShare,
            backfill: Backfill::Easy,
            max_backfill_scan: 20_000,
            preemption: true,
            preemption_grace: 300,
            max_preemptions_per_cycle: 4,
            min_run_before_preempt: 0,
            max_preemptions_per_job: 3,
            work_conserving: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Submit(JobSpec),
    Cancel(JobId),
    /// The job's process ended (its work is done, or it gave up).
    Finished(JobId),
    /// The job crashed (a software fault, not a node's); it restarts from
    /// its last checkpoint.
    JobFailed(JobId),
    NodeFailed(NodeId),
    NodeRepaired(NodeId),
    /// Run a scheduling cycle.
    Tick,
}

/// Why a running job was chosen as a preemption victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreemptCause {
    /// Its priority class is lower than the preemptor's.
    LowerClass,
    /// Its tenant is above its entitlement: the capacity was borrowed and
    /// is reclaimed (its work counts as opportunistic).
    Borrowing,
    /// LAS ordering: it has received more service than the threshold.
    AttainedService,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequeueCause {
    Preempted,
    NodeFailure,
    JobFailure,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Start the job on these accelerators.
    Start {
        job: JobId,
        slots: Vec<Slot>,
        accels: u32,
        /// The tightest domain that holds the gang.
        scope: Scope,
        /// Started while an earlier job held a reservation.
        backfilled: bool,
        /// Started beyond its tenants' limits on idle capacity: preemptible
        /// by any entitled job, evicted first.
        opportunistic: bool,
        /// Resuming from this much saved work.
        resume_from: Secs,
    },
    /// Checkpoint and stop by `grace_until`; the accelerators go to `by`.
    Preempt {
        job: JobId,
        by: JobId,
        grace_until: Time,
        /// Which rule made the job a victim.
        cause: PreemptCause,
    },
    /// Node `failed` of the job is replaced in place by hot spare `spare`;
    /// the gang restarts from its last checkpoint.
    ReplaceNode { job: JobId, failed: NodeId, spare: NodeId, resume_from: Secs },
    /// The job left its accelerators and is pending again.
    Requeue { job: JobId, cause: RequeueCause, resume_from: Secs, lost: Secs },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    #[error("job {0} already exists")]
    DuplicateJob(JobId),
    #[error("job {0} is not known (it may have finished already)")]
    UnknownJob(JobId),
    #[error("node {0} does not exist")]
    UnknownNode(NodeId),
    #[error("job {job}: {reason}")]
    InvalidJob { job: JobId, reason: String },
    #[error("job {job} is {state}; {what}")]
    WrongState { job: JobId, state: JobState, what: &'static str },
    #[error("node {node} is already {state}")]
    NodeState { node: NodeId, state: &'static str },
    #[error("time went backwards: {now} < {last}")]
    TimeWentBack { now: Time, last: Time },
}

/// Counters over the scheduler's life.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub cycles: u64,
    pub submitted: u64,
    pub started: u64,
    pub backfilled: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub preemptions: u64,
    pub replacements: u64,
    pub requeues: u64,
    pub jobs_examined: u64,
    /// Walks of the running jobs by end (reservations, estimates).
    pub plans: u64,
    /// Running jobs visited by those walks.
    pub plan_steps: u64,
}

/// What the last cycle did.
#[derive(Clone, Debug, Default)]
pub struct CycleReport {
    pub now: Time,
    pub examined: usize,
    pub started: usize,
    pub preempted: usize,
    /// (job, planned start) of the reservations made.
    pub reservations: Vec<(JobId, Time)>,
    pub stop: Option<Stop>,
}

/// A read-only view of one job.
#[derive(Clone, Debug)]
pub struct JobView<'a> {
    pub spec: &'a JobSpec,
    pub state: JobState,
    pub submitted: Time,
    pub started: Option<Time>,
    /// Running or preempting: the latest time the current run can end
    /// (its time limit, or the end of its grace period).
    pub end_bound: Option<Time>,
    pub slots: &'a [Slot],
    pub progress: Progress,
    pub reason: Option<Reason>,
}

/// Free accelerators and how many of them the queue cannot use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragmentation {
    pub capacity: u64,
    pub free: u64,
    /// Free accelerators on nodes where no pending job's per-node request
    /// fits (stranded).
    pub unusable: u64,
}

type QKey = (u8, Time, u64, u32);

/// What a look at a pending job reads of it besides the state: filed with
/// its queue key, so that the walk can tell a job whose look is already
/// known (see `cycle::Templates`) without loading the job's record. Eight
/// bytes, so that a walk over a deep queue reads little.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Look {
    /// Index of the job's `Shape` in `Scheduler::shapes`.
    shape: u32,
    /// Seconds (time limits are at most `MAX_DURATION`, under 2^32).
    time_limit: u32,
}

const _: () = assert!(MAX_DURATION < u32::MAX as u64);

impl Look {
    /// A gap in the walk's copy of a queue (no shape has this number).
    const GAP: Look = Look { shape: u32::MAX, time_limit: 0 };
}

/// The fields of a pending job a look depends on, apart from its time
/// limit: two jobs of one shape looked at in the same state get the same
/// outcome and the same reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Shape {
    accels: u32,
    min: u32,
    tenant: u32,
    /// The accelerator type asked for, or u32::MAX for any.
    ty: u32,
    per_node: u8,
    scope: u8,
    required: bool,
    class: u8,
    /// The first part of the queue key (under LAS: above the threshold).
    q0: u8,
}

impl Shape {
    fn of(spec: &JobSpec, q0: u8) -> Shape {
        Shape {
            accels: spec.accels,
            min: spec.min_accels.unwrap_or(spec.accels),
            tenant: spec.tenant.0,
            ty: spec.accel_type.map_or(u32::MAX, |t| t.0),
            per_node: spec.per_node,
            scope: spec.constraint.scope as u8,
            required: spec.constraint.required,
            class: spec.class as u8,
            q0,
        }
    }
}

/// One job. Laid out by hand: a cycle looks at thousands of pending jobs in
/// queue order, which is no order in memory, reading `awaiting`,
/// `restarting` and the spec's placement fields and writing `reason`; so
/// those come first, within one 128-byte-aligned pair of cache lines (the
/// pair the hardware fetches together), and each look costs one miss
/// rather than three or four.
#[derive(Debug)]
#[repr(C, align(128))]
struct Job {
    /// Waiting for preempted jobs to leave, until this time.
    awaiting: Option<Time>,
    /// The cycle `reason` was set in; older reasons are stale.
    reason_cycle: u64,
    reason: Reason,
    /// Pending again after a failure: looked at before the fair-share walk.
    restarting: bool,
    state: JobState,
    spec: JobSpec,
    submit: Time,
    qkey: QKey,
    slots: Vec<Slot>,
    accels: u32,
    start: Option<Time>,
    segment_start: Time,
    end_bound: Time,
    progress: Progress,
    /// Accelerator-seconds received in finished runs.
    attained: f64,
    /// When the current run started.
    run_start: Time,
    /// Preempting: when it was told to stop, and whether its checkpoint
    /// fits in the grace period. Settled when it leaves.
    preempted_at: Option<(Time, bool)>,
    /// Waiting for its preemption victims: the nodes their leaving frees,
    /// held for it so that nobody else takes them (sorted by id).
    claim: Vec<NodeId>,
    /// Running beyond its tenants' limits on capacity nobody entitled
    /// wanted: evicted first.
    opportunistic: bool,
}

/// Per-node request sizes 0..=MAX_NODE_ACCELS.
const MAX_K: usize = crate::topology::MAX_NODE_ACCELS as usize + 1;

/// The longest duration a job may state (time limit, estimate, checkpoint
/// figures): 100 years, so that sums of times never overflow.
pub const MAX_DURATION: Secs = 100 * 365 * 86_400;

/// The accelerator types a job may use (a free function, so callers can
/// hold the scheduler mutably while iterating).
fn types_of(ntypes: u32, only: Option<TypeId>) -> impl Iterator<Item = TypeId> {
    (0..ntypes).map(TypeId).filter(move |t| only.is_none_or(|o| o == *t))
}

/// Checkpoint accounting: (useful work, work saved by periodic checkpoints)
/// after `elapsed` seconds of a run.
fn work_in(ck: Option<Checkpointing>, elapsed: Secs) -> (Secs, Secs) {
    match ck {
        Some(c) if c.interval > 0 => {
            let period = c.interval + c.cost;
            let m = elapsed / period;
            let useful = m * c.interval + (elapsed % period).min(c.interval);
            (useful, m * c.interval)
        }
        _ => (elapsed, 0),
    }
}

pub struct Scheduler {
    topo: Topology,
    ents: Entitlements,
    cfg: Config,
    pool: Pool,
    fair: Fair,
    picker: Picker,
    jobs: Vec<Option<Job>>,
    free_slots: Vec<u32>,
    by_id: HashMap<JobId, u32>,
    /// Pending jobs per leaf, by (class desc, submit, seq), with what a
    /// look at each reads.
    queues: Vec<BTreeMap<QKey, Look>>,
    pending: usize,
    /// Running and preempting jobs by the latest time they can end.
    by_end: BTreeSet<(Time, u32)>,
    /// Preempting jobs by the end of their grace period.
    grace: BTreeSet<(Time, u32)>,
    claimants: Vec<u32>,
    /// Jobs requeued by a failure (a node's or their own), in order: they
    /// go before the fair-share walk, as their lost work already costs them.
    restarts: Vec<u32>,
    /// Per type and k: pending jobs whose gang on that type has k
    /// accelerators per node (for `fragmentation`, which samples call
    /// often). Derived from the queues: not persisted, rebuilt on restore.
    pending_k: Vec<[u32; MAX_K]>,
    /// Per queue: the walk's flat copy (derived from the queues: not
    /// persisted, rebuilt when needed).
    flats: Vec<cycle::Flat>,
    /// Looks known within the current cycle (scratch, not persisted: an
    /// entry is good only for the cycle and epoch it names).
    templates: cycle::Templates,
    /// Every shape a pending job has had, numbered in order of first use
    /// (queues file the number), and the index back.
    shapes: Vec<Shape>,
    shape_ids: HashMap<Shape, u32>,
    /// The reasons of the jobs the last walk passed over by template.
    lazy: cycle::Lazy,
    /// Look at every job in full (no templates): for tests that compare.
    eager: bool,
    /// Per node scratch for reservation and preemption planning.
    scratch: Vec<u8>,
    /// Scratch counters for reservation planning.
    plan_bufs: reserve::PlanBufs,
    /// Nodes the last cycle held for reservations and claimants: start
    /// estimates made between cycles leave them to their owners.
    last_holds: Vec<NodeId>,
    /// Per tenant: (fair-share generation, headroom, why) of the last look.
    room_cache: Vec<Option<(u64, u64, Option<Reason>)>>,
    /// Schedulable accelerators (up, not spare).
    capacity: u64,
    spares: Vec<u32>,
    /// Tenants with lending limits.
    lenders: Vec<TenantId>,
    /// Max nodes per block, pod and site per type (for feasibility).
    max_nodes: Vec<[u32; 3]>,
    /// The largest node of each type.
    max_accels: Vec<u8>,
    seq: u64,
    now: Time,
    cycle: u64,
    /// An event changed the state since the last cycle.
    dirty: bool,
    stats: Stats,
    report: CycleReport,
}

impl Scheduler {
    pub fn new(topo: Topology, ents: Entitlements, cfg: Config) -> Scheduler {
        let pool = Pool::new(&topo, cfg.spares_per_block);
        let capacity = (0..topo.nodes.len()).filter(|&n| !pool.st[n].spare).map(|n| topo.nodes[n].accels as u64).sum();
        let mut spares = vec![0u32; topo.blocks.len()];
        for (n, st) in pool.st.iter().enumerate() {
            if st.spare {
                spares[topo.nodes[n].block.idx()] += 1;
            }
        }
        let mut max_nodes = vec![[0u32; 3]; topo.types.len()];
        let mut pod_nodes = vec![vec![0u32; topo.types.len()]; topo.pods.len()];
        for (b, blk) in topo.blocks.iter().enumerate() {
            let t = blk.accel_type.idx();
            let n = blk.nodes.len() as u32 - spares[b];
            max_nodes[t][0] = max_nodes[t][0].max(n);
            pod_nodes[blk.pod.idx()][t] += n;
            max_nodes[t][2] += n;
        }
        for p in &pod_nodes {
            for (t, n) in p.iter().enumerate() {
                max_nodes[t][1] = max_nodes[t][1].max(*n);
            }
        }
        let nnodes = topo.nodes.len();
        let plan_bufs = reserve::PlanBufs::new(&topo);
        let max_accels = (0..topo.types.len() as u32).map(|t| topo.max_node_accels(TypeId(t))).collect();
        let lenders = (0..ents.len() as u32).map(TenantId).filter(|t| ents.get(*t).lend_limit.is_some()).collect();
        let pending_k = vec![[0; MAX_K]; topo.types.len()];
        Scheduler {
            fair: Fair::new(&ents, cfg.half_life, cfg.alloc_weight),
            picker: Picker::new(&ents),
            queues: vec![BTreeMap::new(); ents.len()],
            topo,
            pool,
            cfg,
            jobs: Vec::new(),
            free_slots: Vec::new(),
            by_id: HashMap::new(),
            pending: 0,
            by_end: BTreeSet::new(),
            grace: BTreeSet::new(),
            claimants: Vec::new(),
            restarts: Vec::new(),
            flats: (0..ents.len()).map(|_| cycle::Flat::default()).collect(),
            templates: cycle::Templates::default(),
            shapes: Vec::new(),
            shape_ids: HashMap::new(),
            lazy: cycle::Lazy::new(ents.len()),
            eager: false,
            pending_k,
            scratch: vec![0; nnodes],
            plan_bufs,
            last_holds: Vec::new(),
            room_cache: vec![None; ents.len()],
            capacity,
            spares,
            lenders,
            max_nodes,
            max_accels,
            ents,
            seq: 0,
            now: 0,
            cycle: 0,
            dirty: false,
            stats: Stats::default(),
            report: CycleReport::default(),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topo
    }
    pub fn entitlements(&self) -> &Entitlements {
        &self.ents
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn last_cycle(&self) -> &CycleReport {
        &self.report
    }
    /// Look at every pending job in full instead of repeating a look
    /// known from a job of the same shape earlier in the same state (the
    /// decisions and reasons are the same; tests compare the two).
    #[doc(hidden)]
    pub fn set_eager_looks(&mut self, eager: bool) {
        self.eager = eager;
    }
    pub fn pending_count(&self) -> usize {
        self.pending
    }
    pub fn running_count(&self) -> usize {
        self.by_end.len()
    }
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
    /// Accelerators allocated to a tenant's subtree now.
    pub fn allocated(&self, t: TenantId) -> u64 {
        self.fair.alloc[t.idx()]
    }
    /// Decayed usage (accelerator-seconds) of a tenant's subtree.
    pub fn usage(&self, t: TenantId) -> f64 {
        self.fair.usage[t.idx()]
    }
    /// Nominal entitlement (accelerators) of a tenant at the current capacity.
    pub fn nominal(&self, t: TenantId) -> f64 {
        self.ents.nominal(self.capacity)[t.idx()]
    }

    /// Handle one event at time `now` (non-decreasing), appending decisions
    /// to `out`. On error nothing has changed, not even the clock: the
    /// event is checked in full before anything is applied.
    pub fn handle(&mut self, now: Time, event: Event, out: &mut Vec<Decision>) -> Result<(), SchedError> {
        if now < self.now {
            return Err(SchedError::TimeWentBack { now, last: self.now });
        }
        self.check_event(&event)?;
        self.now = now;
        // Decayed usage is charged up to now before any allocation changes,
        // so it is the exact integral of allocations, whatever the events.
        self.fair.advance(now);
        self.dirty |= !matches!(event, Event::Tick);
        match event {
            Event::Submit(spec) => self.submit(spec),
            Event::Cancel(id) => self.end(id, JobState::Cancelled),
            Event::Finished(id) => self.end(id, JobState::Completed),
            Event::NodeFailed(n) => self.node_failed(n, out),
            Event::NodeRepaired(n) => self.node_repaired(n),
            Event::JobFailed(id) => self.job_failed(id, out),
            Event::Tick => self.cycle(out),
        }
        Ok(())
    }

    /// Everything that can make an event fail, checked without changing
    /// anything.
    fn check_event(&self, event: &Event) -> Result<(), SchedError> {
        let state_of = |id: &JobId| {
            let slot = *self.by_id.get(id).ok_or(SchedError::UnknownJob(*id))?;
            Ok::<_, SchedError>(self.jobs[slot as usize].as_ref().expect("indexed job exists").state)
        };
        match event {
            Event::Submit(spec) => {
                if self.by_id.contains_key(&spec.id) {
                    return Err(SchedError::DuplicateJob(spec.id));
                }
                self.validate(spec)
            }
            Event::Cancel(id) => state_of(id).map(|_| ()),
            Event::Finished(id) => match state_of(id)? {
                JobState::Pending => Err(SchedError::WrongState {
                    job: *id,
                    state: JobState::Pending,
                    what: "a pending job cannot finish",
                }),
                _ => Ok(()),
            },
            Event::JobFailed(id) => match state_of(id)? {
                JobState::Running | JobState::Preempting => Ok(()),
                state => Err(SchedError::WrongState { job: *id, state, what: "only a running job can fail" }),
            },
            Event::NodeFailed(n) => match self.pool.st.get(n.idx()) {
                None => Err(SchedError::UnknownNode(*n)),
                Some(st) if !st.up => Err(SchedError::NodeState { node: *n, state: "down" }),
                Some(_) => Ok(()),
            },
            Event::NodeRepaired(n) => match self.pool.st.get(n.idx()) {
                None => Err(SchedError::UnknownNode(*n)),
                Some(st) if st.up => Err(SchedError::NodeState { node: *n, state: "up" }),
                Some(_) => Ok(()),
            },
            Event::Tick => Ok(()),
        }
    }

    // ----- events -------------------------------------------------------

    fn submit(&mut self, spec: JobSpec) {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.jobs.push(None);
                self.jobs.len() as u32 - 1
            }
        };
        self.pending += 1;
        self.by_id.insert(spec.id, slot);
        self.jobs[slot as usize] = Some(Job {
            spec,
            state: JobState::Pending,
            submit: self.now,
            qkey: (0, 0, 0, slot),
            slots: Vec::new(),
            accels: 0,
            start: None,
            segment_start: 0,
            end_bound: 0,
            progress: Progress::default(),
            reason: Reason::New,
            reason_cycle: self.cycle,
            awaiting: None,
            attained: 0.0,
            run_start: 0,
            preempted_at: None,
            claim: Vec::new(),
            opportunistic: false,
            restarting: false,
        });
        self.enqueue(slot);
        self.stats.submitted += 1;
    }

    fn validate(&self, s: &JobSpec) -> Result<(), SchedError> {
        let bad = |r: String| Err(SchedError::InvalidJob { job: s.id, reason: r });
        if !self.ents.is_leaf(s.tenant) {
            return bad(format!("tenant {} is not a project (a leaf of the entitlement tree)", s.tenant));
        }
        if s.accels == 0 {
            return bad("asks for 0 accelerators".into());
        }
        if let Some(min) = s.min_accels {
            if min == 0 || min > s.accels {
                return bad(format!("elastic range {min}..{} is empty or starts at 0", s.accels));
            }
        }
        if s.per_node > crate::topology::MAX_NODE_ACCELS {
            return bad(format!("{} accelerators per node is more than any node has", s.per_node));
        }
        if s.time_limit == 0 || s.time_limit > MAX_DURATION {
            return bad(format!("time limit {} s is not between 1 s and 100 years", s.time_limit));
        }
        if let Some(c) = s.checkpoint {
            if c.interval == 0 {
                return bad("checkpoint interval is 0".into());
            }
            if c.interval.max(c.cost).max(c.restart) > MAX_DURATION {
                return bad("checkpoint interval, cost and restart must each be under 100 years".into());
            }
        }
        if s.estimate.is_some_and(|e| e > MAX_DURATION) {
            return bad("estimate is over 100 years".into());
        }
        if let Some(t) = s.accel_type {
            if t.idx() >= self.topo.types.len() {
                return bad(format!("accelerator type {t} does not exist"));
            }
        }
        let need = s.min_accels.unwrap_or(s.accels);
        let feasible = types_of(self.topo.types.len() as u32, s.accel_type).any(|t| match self.shape(s, t, need) {
            Some((_, n)) => n <= self.max_nodes[t.idx()][s.constraint.required_scope() as usize],
            None => false,
        });
        if !feasible {
            let within =
                if s.constraint.required { format!("one {}", s.constraint.scope.name()) } else { "the site".into() };
            return bad(format!(
                "{need} accelerators ({} per node) can never fit in {within}",
                if s.per_node == 0 { "auto".to_string() } else { s.per_node.to_string() }
            ));
        }
        Ok(())
    }

    /// (accelerators per node, nodes) for `accels` on type `t`.
    fn shape(&self, s: &JobSpec, t: TypeId, accels: u32) -> Option<(u8, u32)> {
        let biggest = self.max_accels[t.idx()];
        let k = if s.per_node > 0 { s.per_node } else { accels.min(biggest as u32) as u8 };
        if k == 0 || k > biggest {
            return None;
        }
        Some((k, accels.div_ceil(k as u32)))
    }

    fn end(&mut self, id: JobId, state: JobState) {
        let slot = self.by_id[&id];
        let job = self.jobs[slot as usize].as_ref().expect("indexed job exists");
        if job.restarting {
            // Its slot may be reused: no entry may outlive the job.
            self.restarts.retain(|&s| s != slot);
        }
        match self.jobs[slot as usize].as_ref().expect("indexed job exists").state {
            JobState::Pending => self.dequeue(slot),
            _ => self.release(slot),
        }
        match state {
            JobState::Completed => self.stats.completed += 1,
            _ => self.stats.cancelled += 1,
        }
        self.by_id.remove(&id);
        self.jobs[slot as usize] = None;
        self.free_slots.push(slot);
    }

    /// Give a running or preempting job's accelerators back.
    fn release(&mut self, slot: u32) {
        let job = self.jobs[slot as usize].as_mut().expect("job exists");
        for s in std::mem::take(&mut job.slots) {
            self.pool.give(&self.topo, s, slot);
        }
        self.by_end.remove(&(job.end_bound, slot));
        if job.state == JobState::Preempting {
            self.grace.remove(&(job.end_bound, slot));
        }
        let (tenant, accels, soak) = (job.spec.tenant, job.accels as u64, job.opportunistic);
        job.attained += accels as f64 * self.now.saturating_sub(job.run_start) as f64;
        job.accels = 0;
        job.opportunistic = false;
        self.fair.sub(&self.ents, tenant, accels, soak);
    }

    /// Put a running job back in its queue, keeping its age.
    fn requeue(&mut self, slot: u32, cause: RequeueCause, out: &mut Vec<Decision>) {
        self.release(slot);
        let job = self.jobs[slot as usize].as_mut().expect("job exists");
        job.state = JobState::Pending;
        job.reason = Reason::New;
        job.reason_cycle = self.cycle;
        job.awaiting = None;
        job.restarting = cause != RequeueCause::Preempted;
        if job.restarting {
            self.restarts.push(slot);
        }
        out.push(Decision::Requeue {
            job: job.spec.id,
            cause,
            resume_from: job.progress.saved,
            lost: job.progress.lost,
        });
        self.pending += 1;
        self.stats.requeues += 1;
        self.enqueue(slot);
    }

    /// Which queue holds a pending job: its leaf under fair share, else one
    /// global queue (kept at the root's index).
    fn queue_of(&self, spec: &JobSpec) -> usize {
        match self.cfg.ordering {
            Ordering::FairShare => spec.tenant.idx(),
            _ => ROOT.idx(),
        }
    }

    /// File a pending job in its queue under the key of the ordering.
    fn enqueue(&mut self, slot: u32) {
        self.seq += 1;
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let (a, b) = match self.cfg.ordering {
            Ordering::FairShare => (2 - job.spec.class as u8, job.submit),
            Ordering::Fifo => (0, job.submit),
            Ordering::Las { threshold } => (u8::from(job.attained >= threshold), job.submit),
            Ordering::ShortestRemaining => {
                let total = job.spec.estimate.unwrap_or(job.spec.time_limit);
                (0, total.saturating_sub(job.progress.saved))
            }
        };
        let key = (a, b, self.seq, slot);
        let q = self.queue_of(&job.spec);
        let (shape, time_limit) = (Shape::of(&job.spec, a), job.spec.time_limit as u32);
        let look = Look { shape: self.shape_id(shape), time_limit };
        self.jobs[slot as usize].as_mut().expect("job exists").qkey = key;
        self.queues[q].insert(key, look);
        self.flats[q].join(key, look);
        self.count_pending(slot, true);
    }

    /// Take a pending job out of its queue (it starts or ends).
    fn dequeue(&mut self, slot: u32) {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let q = self.queue_of(&job.spec);
        self.queues[q].remove(&job.qkey).expect("a pending job is queued");
        self.flats[q].leave(job.qkey);
        self.pending -= 1;
        self.count_pending(slot, false);
    }

    /// The number of a shape, given one if new.
    fn shape_id(&mut self, shape: Shape) -> u32 {
        *self.shape_ids.entry(shape).or_insert_with(|| {
            self.shapes.push(shape);
            self.shapes.len() as u32 - 1
        })
    }

    /// The look a pending job is filed with in its queue.
    fn filed_look(&self, job: &Job) -> Option<Look> {
        self.queues[self.queue_of(&job.spec)].get(&job.qkey).copied()
    }

    /// The look a pending job's spec calls for (`check_invariants` compares
    /// it with the filed one).
    fn derived_look(&self, job: &Job) -> Option<Look> {
        let shape = *self.shape_ids.get(&Shape::of(&job.spec, job.qkey.0))?;
        Some(Look { shape, time_limit: job.spec.time_limit as u32 })
    }

    /// Count a job in (or out of) `pending_k` as it joins (leaves) a queue.
    fn count_pending(&mut self, slot: u32, joins: bool) {
        let spec = &self.jobs[slot as usize].as_ref().expect("job exists").spec;
        let min = spec.min_accels.unwrap_or(spec.accels);
        for t in types_of(self.topo.types.len() as u32, spec.accel_type) {
            if let Some((k, _)) = self.shape(spec, t, min) {
                let c = &mut self.pending_k[t.idx()][k as usize];
                if joins {
                    *c += 1;
                } else {
                    *c -= 1;
                }
            }
        }
    }

    /// `pending_k` from the queues (after a restore).
    fn recount_pending(&mut self) {
        self.pending_k.iter_mut().for_each(|c| *c = [0; MAX_K]);
        let slots: Vec<u32> = self.queues.iter().flat_map(|q| q.keys()).map(|k| k.3).collect();
        for slot in slots {
            self.count_pending(slot, true);
        }
    }

    /// Account the work of the current run up to `end`: with a checkpoint
    /// at the end if `final_checkpoint`, else back to the last periodic one.
    fn settle_progress(job: &mut Job, end: Time, final_checkpoint: bool) {
        let (useful, periodic) = work_in(job.spec.checkpoint, end.saturating_sub(job.segment_start));
        if final_checkpoint && job.spec.checkpoint.is_some() {
            job.progress.saved += useful;
        } else {
            job.progress.saved += periodic;
            job.progress.lost += useful - periodic;
        }
        job.segment_start = end;
    }

    /// Settle a preempted job when it leaves: its work stopped when it was
    /// told to stop; its final checkpoint counts only if it could write it
    /// within the grace period and the write had finished by `now`.
    fn settle_preempted(job: &mut Job, now: Time) {
        if let Some((at, fits)) = job.preempted_at.take() {
            let cost = job.spec.checkpoint.map_or(0, |c| c.cost);
            Self::settle_progress(job, at, fits && now >= at.saturating_add(cost));
        }
    }

    /// Settle a job that crashed (or lost a node) at `now`.
    fn settle_crash(job: &mut Job, now: Time) {
        match job.state {
            JobState::Preempting => Self::settle_preempted(job, now),
            _ => Self::settle_progress(job, now, false),
        }
    }

    fn job_failed(&mut self, id: JobId, out: &mut Vec<Decision>) {
        let slot = self.by_id[&id];
        let now = self.now;
        let job = self.jobs[slot as usize].as_mut().expect("indexed job exists");
        Self::settle_crash(job, now);
        job.progress.restarts += 1;
        self.requeue(slot, RequeueCause::JobFailure, out);
    }

    /// When a run starting now makes progress: after loading its
    /// checkpoint, if it is a restart.
    fn work_starts(job: &Job, now: Time) -> Time {
        let resuming = job.progress.restarts > 0 || job.progress.saved > 0;
        now.saturating_add(job.spec.checkpoint.filter(|_| resuming).map_or(0, |c| c.restart))
    }

    fn node_failed(&mut self, n: NodeId, out: &mut Vec<Decision>) {
        let block = self.topo.nodes[n.idx()].block;
        if self.pool.st[n.idx()].spare {
            self.pool.st[n.idx()].spare = false;
            self.spares[block.idx()] -= 1;
        } else {
            self.capacity -= self.topo.nodes[n.idx()].accels as u64;
        }
        self.pool.st[n.idx()].up = false;
        self.pool.refresh(&self.topo, n);
        let victims: Vec<u32> = self.pool.st[n.idx()].jobs.iter().map(|j| j.0).collect();
        for slot in victims {
            let now = self.now;
            let job = self.jobs[slot as usize].as_mut().expect("job on node exists");
            let running = job.state == JobState::Running;
            Self::settle_crash(job, now);
            job.progress.restarts += 1;
            let failed = *job.slots.iter().find(|s| s.node == n).expect("job has a slot on the node");
            let widest = job.spec.constraint.required_scope();
            let spare = if running { self.find_spare(n, failed.accels(), widest) } else { None };
            match spare {
                Some(sp) => {
                    let sb = self.topo.nodes[sp.idx()].block;
                    self.pool.st[sp.idx()].spare = false;
                    self.spares[sb.idx()] -= 1;
                    self.capacity += self.topo.nodes[sp.idx()].accels as u64;
                    self.pool.give(&self.topo, failed, slot);
                    let new = self.pool.take(&self.topo, sp, failed.accels(), slot);
                    let job = self.jobs[slot as usize].as_mut().expect("job exists");
                    let i = job.slots.iter().position(|s| s.node == n).expect("slot");
                    job.slots[i] = new;
                    job.progress.node_replacements += 1;
                    job.segment_start = Self::work_starts(job, now);
                    // The gang restarts: a new run, with a new time limit.
                    let (old_end, new_end) = (job.end_bound, now.saturating_add(job.spec.time_limit));
                    job.end_bound = new_end;
                    job.run_start = now;
                    self.by_end.remove(&(old_end, slot));
                    self.by_end.insert((new_end, slot));
                    self.stats.replacements += 1;
                    let job = self.jobs[slot as usize].as_ref().expect("job exists");
                    out.push(Decision::ReplaceNode {
                        job: job.spec.id,
                        failed: n,
                        spare: sp,
                        resume_from: job.progress.saved,
                    });
                }
                None => self.requeue(slot, RequeueCause::NodeFailure, out),
            }
        }
    }

    /// A hot spare for a failed node: in its block first, then anywhere in
    /// its pod if the gang may span the pod (a pod's spine keeps the gang's
    /// bandwidth, so one spare pool per pod serves every block of it).
    fn find_spare(&self, failed: NodeId, accels: u32, widest: Scope) -> Option<NodeId> {
        let node = &self.topo.nodes[failed.idx()];
        let t = self.topo.blocks[node.block.idx()].accel_type;
        let ok = |c: &NodeId| {
            let s = &self.pool.st[c.idx()];
            s.up && s.spare && s.free_count() as u32 >= accels
        };
        if let Some(sp) = self.topo.block_nodes(node.block).find(ok) {
            return Some(sp);
        }
        if widest < Scope::Pod {
            return None;
        }
        let pod = &self.topo.pods[node.pod.idx()];
        pod.blocks
            .clone()
            .filter(|&b| {
                b != node.block.0 && self.spares[b as usize] > 0 && self.topo.blocks[b as usize].accel_type == t
            })
            .find_map(|b| self.topo.block_nodes(crate::ids::BlockId(b)).find(ok))
    }

    fn node_repaired(&mut self, n: NodeId) {
        let block = self.topo.nodes[n.idx()].block;
        let st = &mut self.pool.st[n.idx()];
        st.up = true;
        let len = self.topo.blocks[block.idx()].nodes.len() as u32;
        let want = self.cfg.spares_per_block.min(len.saturating_sub(1));
        if self.spares[block.idx()] < want {
            st.spare = true;
            self.spares[block.idx()] += 1;
        } else {
            self.capacity += self.topo.nodes[n.idx()].accels as u64;
        }
        self.pool.refresh(&self.topo, n);
    }
}

impl crate::job::Constraint {
    /// The widest scope a placement may use.
    pub fn required_scope(&self) -> Scope {
        if self.required {
            self.scope
        } else {
            Scope::Site
        }
    }
}

#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// What a cycle touches for each waiting job lies in the job's first
    /// 128 bytes (see `Job`).
    #[test]
    fn a_looks_fields_share_the_first_pair_of_cache_lines() {
        assert_eq!(align_of::<Job>(), 128);
        let spec = offset_of!(Job, spec);
        let ends = [
            offset_of!(Job, awaiting) + size_of::<Option<Time>>(),
            offset_of!(Job, reason) + size_of::<Reason>(),
            offset_of!(Job, reason_cycle) + size_of::<u64>(),
            offset_of!(Job, restarting) + 1,
            spec + offset_of!(JobSpec, time_limit) + size_of::<Secs>(),
            spec + offset_of!(JobSpec, class) + 1,
            spec + offset_of!(JobSpec, accel_type) + size_of::<Option<TypeId>>(),
        ];
        assert!(ends.iter().all(|&e| e <= 128), "{ends:?}");
    }
}
