//! The discrete-event simulator. It drives the production scheduler: jobs
//! arrive, run for the work they need plus checkpoint and restart
//! overheads, fail and are repaired; every decision comes from
//! `agora_core::Scheduler`.
//!
//! Events are ordered by (time, sequence number), time is virtual, the only
//! randomness is a `Rng` seeded from the configuration, and ids are the
//! workload's: the same inputs and seed give the same run, decision for
//! decision. Scheduling cycles follow events but at most one per
//! `cycle_interval` of virtual time (as a real control loop batches them).
//!
//! Time limits are enforced: a run that would need more than the job's
//! limit is ended at the limit and the job counts as timed out (a requeued
//! or resumed run gets its full limit again, as under Slurm).
//!
//! Failures are drawn for every accelerator, but only while some job runs
//! or waits: across an idle gap (nothing running, nothing queued) they can
//! matter to no job, so the next failure is drawn afresh from the next
//! arrival (the process is memoryless). A run therefore costs in proportion
//! to busy time, not to the span of its submit times.

use crate::failures::{daly_interval, gang_mtbf, Cause, FailureModel, LLAMA3_ACCELS_PER_NODE};
use crate::record::{Ancestor, Audit, JobRecord, Programme, RunResult, Sample};
use crate::trace::Skipped;
use crate::workload::{SimJob, Workload};
use agora_core::rng::Rng;
use agora_core::sched::MAX_DURATION;
use agora_core::{
    Checkpointing, Config, Decision, Entitlements, Event, JobId, JobSpec, NodeId, Scheduler, Secs, TenantId, Time,
    Topology,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::time::Instant;

/// How checkpoint intervals are chosen for jobs that checkpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CheckpointPolicy {
    /// Asynchronous checkpoints (the loop stalls only for a snapshot to
    /// host memory, `failures::async_stall`) at Daly's optimum for that stall.
    Async,
    /// Synchronous checkpoints at Daly's optimum for the job's own MTBF
    /// (gang size × node MTBF).
    YoungDaly,
    /// Whatever the workload says (jobs with interval 0 do not checkpoint).
    AsGiven,
    /// No checkpoints: a failure loses the whole run.
    Off,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub failures: FailureModel,
    pub checkpoints: CheckpointPolicy,
    /// Minimum virtual time between scheduling cycles.
    pub cycle_interval: Secs,
    /// Sampling period; None = about 1,000 samples over the run.
    pub sample_every: Option<Secs>,
    /// The scheduler sees exact runtimes (estimates and time limits).
    pub exact_estimates: bool,
    /// Draw a progress bar on stderr once a run takes over a second.
    pub progress: bool,
    /// Digest every decision and every pending job's reason after each
    /// cycle (`RunResult::audit`); slow.
    pub audit: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            failures: FailureModel::llama3(),
            checkpoints: CheckpointPolicy::Async,
            cycle_interval: 10,
            sample_every: None,
            exact_estimates: false,
            progress: false,
            audit: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    End {
        job: u32,
        run: u32,
    },
    /// A failure of the given cause (index into `Cause::ALL`) on a node.
    Fail {
        cause: u8,
        node: u32,
    },
    Repair(u32),
    Tick,
    /// The core asked to be woken now (`Scheduler::poll_timeout`).
    Wake,
    Sample,
}

/// Per-job simulation state.
#[derive(Clone, Debug, Default)]
struct Live {
    run: u32,
    /// Wall time the current run started.
    run_start: Time,
    /// Seconds of the current run spent loading a checkpoint.
    run_restart: Secs,
    running: bool,
    accels: u32,
    first_start: Option<Time>,
    end: Option<Time>,
    /// Restart (checkpoint loading) and checkpoint-writing seconds.
    restart_s: Secs,
    checkpoint_s: Secs,
    /// Seconds between a preemption decision and the end of its grace period.
    grace_s: Secs,
    grace_from: Option<Time>,
    /// Seconds running, over all runs.
    ran_s: Secs,
    /// The time limit of each run.
    limit: Secs,
    /// The current run ends at its limit, not with the work done.
    run_times_out: bool,
    timed_out: bool,
    lost: Secs,
    restarts: u32,
    preemptions: u32,
    replacements: u32,
    /// Refused by the scheduler at submission.
    rejected: bool,
}

struct Sim<'a> {
    w: &'a Workload,
    cfg: &'a SimConfig,
    sched: Scheduler,
    specs: Vec<Checkpointing>,
    live: Vec<Live>,
    heap: BinaryHeap<Reverse<(Time, u64, Ev)>>,
    seq: u64,
    rng: Rng,
    now: Time,
    next_cycle: Time,
    tick_pending: bool,
    /// The wake-up asked for by the core's `poll_timeout`, once queued.
    wake_at: Option<Time>,
    dirty: bool,
    out: Vec<Decision>,
    used: u64,
    queued_accels: u64,
    sched_time: std::time::Duration,
    /// The thread's CPU clock when the run began.
    cpu0: std::time::Duration,
    spare_accels: u64,
    failures: u64,
    /// The workload's skipped rows plus the jobs the scheduler refused.
    refused: Skipped,
    done: usize,
    samples: Vec<Sample>,
    programmes: Vec<TenantId>,
    /// Per job: its programme's index in `programmes`.
    prog_of: Vec<usize>,
    /// Accelerators queued per programme.
    queued_by_programme: Vec<u64>,
    /// Per node: accelerators on it and all nodes before (to pick a node in
    /// proportion to its accelerators).
    accel_prefix: Vec<u64>,
    audit: Option<Audit>,
}

/// Run one policy over a workload. `sched_cfg` is the policy's scheduler
/// configuration; `policy` only names the run.
pub fn run(
    topo: &Topology,
    ents: &Entitlements,
    sched_cfg: Config,
    policy: &str,
    w: &Workload,
    cfg: &SimConfig,
) -> RunResult {
    let wall = Instant::now();
    let programmes: Vec<TenantId> = programme_ids(ents);
    let node_mtbf = cfg.failures.node_mtbf_s / cfg.failures.scale.max(1e-12);
    let specs = w
        .jobs
        .iter()
        .map(|j| match (j.checkpoint, cfg.checkpoints) {
            (None, _) | (_, CheckpointPolicy::Off) => Checkpointing { interval: 0, cost: 0, restart: 0 },
            (Some(c), CheckpointPolicy::AsGiven) => c,
            (Some(c), policy @ (CheckpointPolicy::YoungDaly | CheckpointPolicy::Async)) => {
                let c = match policy {
                    CheckpointPolicy::Async => Checkpointing { cost: crate::failures::async_stall(c.cost), ..c },
                    _ => c,
                };
                let mtbf = if cfg.failures.scale > 0.0 { gang_mtbf(node_mtbf, j.accels) } else { f64::INFINITY };
                let interval =
                    if mtbf.is_finite() { daly_interval(c.cost as f64, mtbf, c.restart as f64) } else { j.work as f64 };
                Checkpointing { interval: (interval.round() as Secs).clamp(60, j.work.max(60)), ..c }
            }
        })
        .collect();
    let horizon_guess = w.jobs.last().map_or(0, |j| j.submit) + 1;
    let sample_every = cfg.sample_every.unwrap_or((horizon_guess / 1000).max(60));
    let start = w.jobs.first().map_or(0, |j| j.submit);
    let mut sim = Sim {
        w,
        cfg,
        sched: Scheduler::new(topo.clone(), ents.clone(), sched_cfg),
        specs,
        live: vec![Live::default(); w.jobs.len()],
        heap: BinaryHeap::new(),
        seq: 0,
        rng: Rng::new(cfg.seed),
        now: start,
        next_cycle: start,
        tick_pending: false,
        wake_at: None,
        dirty: false,
        out: Vec::new(),
        used: 0,
        queued_accels: 0,
        sched_time: std::time::Duration::ZERO,
        cpu0: crate::clock::thread_cpu(),
        spare_accels: 0,
        failures: 0,
        refused: w.skipped,
        done: 0,
        samples: Vec::new(),
        prog_of: w.jobs.iter().map(|j| programme_index(ents, &programmes, j.tenant)).collect(),
        queued_by_programme: vec![0; programmes.len()],
        accel_prefix: topo
            .nodes
            .iter()
            .scan(0u64, |acc, n| {
                *acc += n.accels as u64;
                Some(*acc)
            })
            .collect(),
        programmes,
        audit: cfg.audit.then(Audit::default),
    };
    sim.spare_accels = topo.total_accels().saturating_sub(sim.sched.capacity());
    sim.push(start, Ev::Sample);
    if cfg.failures.scale > 0.0 {
        sim.schedule_failure(start);
    }
    sim.main_loop(sample_every, wall);
    sim.finish(topo, ents, policy, sample_every, start, wall)
}

/// Index in `programmes` of the programme above a tenant (0 if none).
fn programme_index(ents: &Entitlements, programmes: &[TenantId], t: TenantId) -> usize {
    ents.path_up(t).find_map(|a| programmes.iter().position(|p| *p == a)).unwrap_or(0)
}

/// The programme of each project: its ancestor at depth 2 (or the funder
/// for shallow trees).
pub fn programme_ids(ents: &Entitlements) -> Vec<TenantId> {
    let depth = if ents.tenants.iter().any(|t| t.depth >= 2) { 2 } else { 1 };
    (1..ents.len() as u32).map(TenantId).filter(|t| ents.get(*t).depth == depth).collect()
}

impl Sim<'_> {
    fn push(&mut self, t: Time, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, ev)));
    }

    /// Failures strike accelerators at Llama 3's per-accelerator rate (the
    /// model's node MTBF is for its 8-GPU nodes), so a node fails in
    /// proportion to the accelerators it carries.
    fn schedule_failure(&mut self, from: Time) {
        let accels = *self.accel_prefix.last().unwrap_or(&0);
        // With one "unit" per accelerator the model's rate is per 8-GPU node:
        // stretching its exponential gap by 8 gives the per-accelerator rate.
        let (dt, cause, unit) = self.cfg.failures.next_failure(&mut self.rng, accels);
        // Bounded so that a vanishing failure rate cannot overflow time.
        let gap = (dt * LLAMA3_ACCELS_PER_NODE as f64).ceil().clamp(1.0, MAX_DURATION as f64) as Time;
        let t = from.saturating_add(gap);
        let node = self.accel_prefix.partition_point(|&end| end <= unit) as u32;
        let cause = Cause::ALL.iter().position(|c| *c == cause).unwrap_or(0) as u8;
        self.push(t, Ev::Fail { cause, node });
    }

    fn handle(&mut self, e: Event) -> bool {
        let t0 = Instant::now();
        let before = self.out.len();
        let ok = self.sched.handle(self.now, e, &mut self.out).is_ok();
        self.sched_time += t0.elapsed();
        if let Some(a) = &mut self.audit {
            for d in &self.out[before..] {
                Audit::mix(&mut a.decisions, &format!("{} {d:?}", self.now));
            }
        }
        ok
    }

    fn main_loop(&mut self, sample_every: Secs, wall: Instant) {
        let mut next_arrival = 0usize;
        let n = self.w.jobs.len();
        let mut iter = 0u64;
        let mut bar_shown = false;
        // A job that can never start (a whole-site gang while failures keep
        // a node down, say) must not keep the run alive forever: stop this
        // long after the last arrival; unfinished jobs are reported so.
        let longest = self.w.jobs.iter().map(|j| j.work).max().unwrap_or(0);
        let cutoff = self
            .w
            .jobs
            .last()
            .map_or(0, |j| j.submit)
            .saturating_add(30 * 86_400)
            .saturating_add(longest.saturating_mul(10));
        loop {
            let ta = self.w.jobs.get(next_arrival).map(|j| j.submit);
            let te = self.heap.peek().map(|Reverse((t, _, _))| *t);
            // Idle until the next arrival: failures before it can hit no
            // job, so draw the next one from the arrival instead.
            if let (Some(a), Some(&Reverse((et, _, Ev::Fail { .. })))) = (ta, self.heap.peek()) {
                if et < a && self.sched.running_count() == 0 && self.sched.pending_count() == 0 {
                    self.heap.pop();
                    self.schedule_failure(a);
                    continue;
                }
            }
            let t = match (ta, te) {
                (Some(a), Some(e)) => a.min(e),
                (Some(a), None) => a,
                (None, Some(e)) => e,
                (None, None) => break,
            };
            // Only samples, failures and repairs remain: the run is over.
            if next_arrival == n && self.done == n && !self.tick_pending {
                break;
            }
            if t > cutoff {
                break;
            }
            self.now = t.max(self.now);
            while next_arrival < n && self.w.jobs[next_arrival].submit <= self.now {
                self.arrive(next_arrival);
                next_arrival += 1;
            }
            while let Some(&Reverse((et, _, ev))) = self.heap.peek() {
                if et > self.now {
                    break;
                }
                self.heap.pop();
                self.event(ev, sample_every);
            }
            if self.dirty {
                if self.now >= self.next_cycle {
                    self.cycle();
                } else if !self.tick_pending {
                    self.tick_pending = true;
                    let at = self.next_cycle;
                    self.push(at, Ev::Tick);
                }
            }
            iter += 1;
            if self.cfg.progress && iter.is_multiple_of(4096) && wall.elapsed().as_secs_f64() > 1.0 {
                bar_shown = true;
                let frac = next_arrival as f64 / n.max(1) as f64 * 0.5 + self.done as f64 / n.max(1) as f64 * 0.5;
                let filled = (frac * 30.0) as usize;
                eprint!(
                    "\r  [{}{}] {:>3.0}%  {:.1}s",
                    "#".repeat(filled),
                    " ".repeat(30 - filled.min(30)),
                    frac * 100.0,
                    wall.elapsed().as_secs_f64()
                );
                let _ = std::io::stderr().flush();
            }
        }
        if bar_shown {
            eprintln!("\r  [{}] 100%  {:.1}s", "#".repeat(30), wall.elapsed().as_secs_f64());
        }
    }

    fn arrive(&mut self, i: usize) {
        let j = &self.w.jobs[i];
        let spec = self.spec(i, j);
        self.live[i].limit = spec.time_limit;
        if self.handle(Event::Submit(spec.clone())) {
            self.queued_accels += j.accels as u64;
            self.queued_by_programme[self.prog_of[i]] += j.accels as u64;
            self.dirty = true;
        } else {
            // Cannot run on this cluster (too big, or an unknown type), or
            // asks for a limit the core refuses.
            self.live[i].rejected = true;
            self.done += 1;
            let limit =
                [Some(spec.time_limit), spec.estimate, Some(j.work)].into_iter().flatten().any(|s| s > MAX_DURATION);
            if limit {
                self.refused.absurd_limit += 1;
            } else {
                self.refused.too_big += 1;
            }
        }
    }

    fn spec(&self, i: usize, j: &SimJob) -> JobSpec {
        let ck = self.specs[i];
        let exact = self.cfg.exact_estimates;
        let need = self.wall_need(i, 0, false);
        // The oracle's limit is exact, with room for one restart.
        let restart = if ck.interval > 0 { ck.restart } else { 0 };
        JobSpec {
            id: JobId(i as u64),
            tenant: j.tenant,
            accels: j.accels,
            min_accels: None,
            per_node: j.per_node,
            constraint: j.constraint,
            accel_type: j.accel_type,
            class: j.class,
            time_limit: if exact { need.saturating_add(restart) } else { j.time_limit },
            estimate: exact.then_some(need),
            checkpoint: (ck.interval > 0).then_some(ck),
        }
    }

    /// Wall seconds a run needs to finish job `i` from `saved` seconds of
    /// work: restart (if resuming), the rest of the work, and the
    /// checkpoints written on the way.
    fn wall_need(&self, i: usize, saved: Secs, resuming: bool) -> Secs {
        let ck = self.specs[i];
        let left = self.w.jobs[i].work.saturating_sub(saved).max(1);
        let writes = if ck.interval > 0 { left.div_ceil(ck.interval) - 1 } else { 0 };
        let restart = if resuming && ck.interval > 0 { ck.restart } else { 0 };
        restart + left + writes * ck.cost
    }

    /// Closes the books of job `i`'s current run at `now`: the seconds it
    /// ran, spent restarting and writing checkpoints.
    fn end_run(&mut self, i: usize) {
        let ck = self.specs[i];
        let l = &mut self.live[i];
        let elapsed = self.now.saturating_sub(l.run_start);
        let restart = elapsed.min(l.run_restart);
        let writes = if ck.interval > 0 { (elapsed - restart) / (ck.interval + ck.cost) } else { 0 };
        l.ran_s += elapsed;
        l.restart_s += restart;
        l.checkpoint_s += writes * ck.cost;
    }

    /// Starts a run of job `i` at `now` that needs `need` seconds; it ends
    /// at the job's limit if that comes first.
    fn start_run(&mut self, i: usize, need: Secs, restart: Secs) {
        let now = self.now;
        let l = &mut self.live[i];
        l.run += 1;
        l.run_start = now;
        l.run_restart = restart;
        l.run_times_out = need > l.limit;
        let run = l.run;
        let until = now.saturating_add(need.min(l.limit));
        self.push(until, Ev::End { job: i as u32, run });
    }

    fn event(&mut self, ev: Ev, sample_every: Secs) {
        match ev {
            Ev::End { job, run } => {
                let i = job as usize;
                if self.live[i].run != run || !self.live[i].running {
                    return;
                }
                // Completed, or stopped at its time limit.
                self.end_run(i);
                if let Some(v) = self.sched.job(JobId(i as u64)) {
                    let p = v.progress;
                    let l = &mut self.live[i];
                    l.lost = p.lost;
                    l.restarts = p.restarts;
                    l.preemptions = p.preemptions;
                    l.replacements = p.node_replacements;
                }
                let l = &mut self.live[i];
                l.timed_out = l.run_times_out;
                l.running = false;
                l.end = Some(self.now);
                self.used -= l.accels as u64;
                self.done += 1;
                self.handle(Event::Finished(JobId(i as u64)));
                self.dirty = true;
            }
            Ev::Fail { cause, node } => {
                self.failures += 1;
                let cause = Cause::ALL[cause as usize];
                let node = NodeId(node);
                if cause.takes_node_down() {
                    if self.sched.node_is_up(node) {
                        let repair = self.cfg.failures.repair_time(&mut self.rng, cause);
                        self.handle(Event::NodeFailed(node));
                        self.push(self.now + repair.max(1), Ev::Repair(node.0));
                        self.apply_decisions();
                        self.dirty = true;
                    }
                } else {
                    let victim = self.sched.jobs_on(node).next();
                    if let Some(job) = victim {
                        self.handle(Event::JobFailed(job));
                        self.apply_decisions();
                        self.dirty = true;
                    }
                }
                self.schedule_failure(self.now);
            }
            Ev::Repair(n) => {
                self.handle(Event::NodeRepaired(NodeId(n)));
                self.dirty = true;
            }
            Ev::Tick => {
                self.tick_pending = false;
                self.dirty = true;
            }
            Ev::Wake => {
                if self.wake_at == Some(self.now) {
                    self.wake_at = None;
                    // Exactly now: the core said so, whatever the cycle interval.
                    self.dirty = true;
                    self.next_cycle = self.next_cycle.min(self.now);
                }
            }
            Ev::Sample => {
                self.sample();
                if self.done < self.w.jobs.len() {
                    self.push(self.now + sample_every, Ev::Sample);
                }
            }
        }
    }

    fn cycle(&mut self) {
        self.dirty = false;
        self.next_cycle = self.now.saturating_add(self.cfg.cycle_interval);
        self.handle(Event::Tick);
        if let Some(a) = self.audit.as_mut() {
            let mut ids: Vec<JobId> = self.sched.job_ids().collect();
            ids.sort_unstable();
            for id in ids {
                if let Some(r) = self.sched.job(id).and_then(|v| v.reason) {
                    Audit::mix(&mut a.reasons, &format!("{} {id} {r:?}", self.now));
                }
            }
        }
        self.apply_decisions();
        self.arm_wake();
    }

    /// Queue a wake-up for the moment the core next needs a cycle without
    /// any event (a grace period ends, a reservation's start comes), as its
    /// `poll_timeout` says; endings and arrivals wake it on their own.
    fn arm_wake(&mut self) {
        let Some(t) = self.sched.poll_timeout() else { return };
        if t > self.now && self.wake_at.is_none_or(|w| w <= self.now || t < w) {
            self.wake_at = Some(t);
            self.push(t, Ev::Wake);
        }
    }

    fn apply_decisions(&mut self) {
        let out = std::mem::take(&mut self.out);
        for d in &out {
            match *d {
                Decision::Start { job, accels, resume_from, .. } => {
                    let i = job.0 as usize;
                    let resuming = self.live[i].first_start.is_some();
                    let need = self.wall_need(i, resume_from, resuming);
                    let ck = self.specs[i];
                    let now = self.now;
                    let l = &mut self.live[i];
                    l.running = true;
                    l.accels = accels;
                    l.first_start.get_or_insert(now);
                    self.used += accels as u64;
                    self.queued_accels -= self.w.jobs[i].accels as u64;
                    self.queued_by_programme[self.prog_of[i]] -= self.w.jobs[i].accels as u64;
                    self.start_run(i, need, if resuming && ck.interval > 0 { ck.restart } else { 0 });
                }
                Decision::Preempt { job, .. } => {
                    // The end of its grace period is a `poll_timeout` wake-up.
                    let now = self.now;
                    self.live[job.0 as usize].grace_from.get_or_insert(now);
                }
                Decision::ReplaceNode { job, resume_from, .. } => {
                    let i = job.0 as usize;
                    self.end_run(i);
                    let need = self.wall_need(i, resume_from, true);
                    let ck = self.specs[i];
                    self.start_run(i, need, if ck.interval > 0 { ck.restart } else { 0 });
                }
                Decision::Requeue { job, lost, .. } => {
                    let i = job.0 as usize;
                    self.end_run(i);
                    let now = self.now;
                    let l = &mut self.live[i];
                    if let Some(from) = l.grace_from.take() {
                        l.grace_s += now.saturating_sub(from);
                    }
                    l.lost = lost;
                    l.run += 1;
                    l.running = false;
                    self.used -= l.accels as u64;
                    self.queued_accels += self.w.jobs[i].accels as u64;
                    self.queued_by_programme[self.prog_of[i]] += self.w.jobs[i].accels as u64;
                }
            }
        }
        self.out = out;
        self.out.clear();
    }

    fn sample(&mut self) {
        let frag = self.sched.fragmentation();
        let by_programme = self.programmes.iter().map(|p| self.sched.allocated(*p)).collect();
        self.samples.push(Sample {
            t: self.now,
            capacity: self.sched.capacity(),
            used: self.used,
            queued_jobs: self.sched.pending_count() as u64,
            queued_accels: self.queued_accels,
            unusable: frag.unusable,
            by_programme,
            queued_by_programme: self.queued_by_programme.clone(),
        });
    }

    fn finish(
        mut self,
        topo: &Topology,
        ents: &Entitlements,
        policy: &str,
        sample_every: Secs,
        start: Time,
        wall: Instant,
    ) -> RunResult {
        self.sample();
        let share = ents.share();
        let nominal = ents.nominal(self.sched.capacity());
        let limit = |t: TenantId| ents.get(t).borrow_limit.map(|b| nominal[t.idx()] + b as f64);
        let programmes: Vec<Programme> = self
            .programmes
            .iter()
            .map(|&p| {
                let mut ancestors: Vec<Ancestor> = ents
                    .path_up(p)
                    .skip(1)
                    .map(|a| Ancestor { name: ents.get(a).path.clone(), limit: limit(a) })
                    .collect();
                ancestors.reverse();
                Programme { name: ents.get(p).path.clone(), share: share[p.idx()], ancestors, limit: limit(p) }
            })
            .collect();

        let jobs = self
            .w
            .jobs
            .iter()
            .zip(&self.live)
            .filter(|(_, l)| !l.rejected)
            .map(|(j, l)| JobRecord {
                id: j.id,
                programme: programme_index(ents, &self.programmes, j.tenant),
                tenant: ents.get(j.tenant).path.clone(),
                accels: j.accels,
                submit: j.submit,
                first_start: l.first_start,
                end: l.end,
                work: j.work,
                lost: l.lost,
                restart_s: l.restart_s,
                checkpoint_s: l.checkpoint_s,
                grace_s: l.grace_s,
                ran_s: l.ran_s,
                timed_out: l.timed_out,
                restarts: l.restarts,
                preemptions: l.preemptions,
                node_replacements: l.replacements,
                recorded_wait: j.recorded_wait,
            })
            .collect();
        RunResult {
            policy: policy.into(),
            site: String::new(),
            workload: self.w.name.clone(),
            cluster: topo.name.clone(),
            seed: self.cfg.seed,
            total_accels: topo.total_accels(),
            programmes,
            jobs,
            samples: self.samples,
            sample_every,
            start,
            horizon: self.now,
            stats: self.sched.stats().clone(),
            skipped: self.refused,
            rows: self.w.rows.max(self.w.jobs.len() + self.w.skipped.total()),
            failures: self.failures,
            sched_wall: self.sched_time,
            cpu: crate::clock::thread_cpu().saturating_sub(self.cpu0),
            spare_accels: self.spare_accels,
            tenants_by_job_id: self.w.by_job_id,
            wall: wall.elapsed(),
            audit: self.audit,
        }
    }
}
