//! `agora bench sched`: the scheduler's throughput and cycle latency in
//! steady state on a full site, against a naive baseline in the same run.
//!
//! Steady state: the site is filled, then each measured cycle lets the next
//! `completions_per_cycle` running jobs finish (virtual time jumps to the
//! last of those ends), tops the queue back up to `queued` jobs, and ticks.
//! Only the scheduler's own CPU time is counted (thread CPU clock around
//! `Scheduler::handle`): submissions, completions and the cycle.
//!
//! The baseline is what one writes without indexes: FIFO over the queue,
//! first fit over a flat node list, no topology, no fair share, the same
//! scan depth, on the same job stream.

use crate::clock::thread_cpu;
use crate::metrics::percentile;
use crate::synthetic::{self, SynthJob, SyntheticParams};
use agora_core::{Config, Decision, Entitlements, Event, JobId, JobSpec, Scheduler, TenantId, Time, Topology};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Jobs kept in the queue.
    pub queued: usize,
    pub cycles: usize,
    pub completions_per_cycle: usize,
    pub baseline_cycles: usize,
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig { queued: 100_000, cycles: 300, completions_per_cycle: 100, baseline_cycles: 10, seed: 42 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub accelerators: u64,
    /// Jobs queued when each measured cycle began (the least of them).
    pub queued_jobs: usize,
    pub cycles: usize,
    pub admissions: u64,
    pub cpu_s: f64,
    pub admissions_per_sec: f64,
    pub cycle_ms_p50: f64,
    pub cycle_ms_p99: f64,
    pub cycle_ms_max: f64,
    /// Allocated / schedulable accelerators at the end.
    pub utilization: f64,
    /// Pending jobs looked at per cycle, on average.
    pub examined_per_cycle: f64,
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub cluster: String,
    pub agora: Figures,
    pub baseline: Figures,
    pub preemptions: u64,
    pub backfilled: u64,
}

/// The workload: a long synthetic LLM-era stream (most jobs 1–8
/// accelerators, a heavy tail up to 16,384), tenants spread over the leaves.
fn stream(topo: &Topology, cfg: &BenchConfig, jobs: usize, spares: u32) -> Vec<SynthJob> {
    let p = SyntheticParams { jobs, seed: cfg.seed, ..SyntheticParams::llm_1m() }.fit(topo, spares);
    synthetic::generate(&p)
}

/// Job `i` of the stream (id `i + 1`) on its team's project.
fn spec(i: usize, j: &SynthJob, leaves: &[TenantId]) -> JobSpec {
    debug_assert_eq!(j.id, i as u64 + 1);
    j.to_spec(leaves[j.tenant_hint as usize % leaves.len()])
}

fn figures(
    accels: u64,
    queued: usize,
    mut cycle_ms: Vec<f64>,
    admissions: u64,
    cpu: Duration,
    utilization: f64,
) -> Figures {
    cycle_ms.sort_by(f64::total_cmp);
    Figures {
        accelerators: accels,
        queued_jobs: queued,
        cycles: cycle_ms.len(),
        admissions,
        cpu_s: cpu.as_secs_f64(),
        admissions_per_sec: admissions as f64 / cpu.as_secs_f64().max(1e-9),
        cycle_ms_p50: percentile(&cycle_ms, 50.0).unwrap_or(0.0),
        cycle_ms_p99: percentile(&cycle_ms, 99.0).unwrap_or(0.0),
        cycle_ms_max: cycle_ms.last().copied().unwrap_or(0.0),
        utilization,
        examined_per_cycle: 0.0,
    }
}

pub fn run(topo: Topology, ents: Entitlements, sched_cfg: Config, cfg: &BenchConfig) -> BenchReport {
    let need = cfg.queued + (cfg.cycles + 50) * cfg.completions_per_cycle * 4 + 200_000;
    let jobs = stream(&topo, cfg, need, sched_cfg.spares_per_block);
    let name = topo.name.clone();
    let accels = topo.total_accels();
    let (agora, preemptions, backfilled) = run_agora(topo.clone(), ents, sched_cfg, cfg, &jobs);
    let baseline = run_baseline(&topo, cfg, &jobs);
    BenchReport {
        cluster: name,
        agora: Figures { accelerators: accels, ..agora },
        baseline: Figures { accelerators: accels, ..baseline },
        preemptions,
        backfilled,
    }
}

/// Running jobs by end time; a requeued job's old entry is ignored.
struct Ends {
    heap: BinaryHeap<Reverse<(Time, u64, u32)>>,
    run: HashMap<u64, u32>,
}

impl Ends {
    fn new() -> Self {
        Ends { heap: BinaryHeap::new(), run: HashMap::new() }
    }
    fn start(&mut self, id: u64, end: Time) {
        let r = self.run.entry(id).or_insert(0);
        *r += 1;
        self.heap.push(Reverse((end, id, *r)));
    }
    fn stop(&mut self, id: u64) {
        if let Some(r) = self.run.get_mut(&id) {
            *r += 1;
        }
    }
    /// The next job to finish, if still current.
    fn pop(&mut self) -> Option<(Time, u64)> {
        while let Some(Reverse((end, id, r))) = self.heap.pop() {
            if self.run.get(&id) == Some(&r) {
                self.run.remove(&id);
                return Some((end, id));
            }
        }
        None
    }
}

fn run_agora(
    topo: Topology,
    ents: Entitlements,
    sched_cfg: Config,
    cfg: &BenchConfig,
    jobs: &[SynthJob],
) -> (Figures, u64, u64) {
    let leaves: Vec<TenantId> = ents.leaves().collect();
    let mut s = Scheduler::new(topo, ents, sched_cfg);
    let mut next = 0usize;
    let mut out = Vec::new();
    let mut ends = Ends::new();
    let mut now: Time = 0;
    let mut cpu = Duration::ZERO;
    let mut cycle_ms = Vec::with_capacity(cfg.cycles);
    let mut admissions = 0u64;

    let mut warm = Duration::ZERO;
    let handle = |s: &mut Scheduler, now: Time, e: Event, out: &mut Vec<Decision>, cpu: &mut Duration| {
        let t0 = thread_cpu();
        let r = s.handle(now, e, out);
        let dt = thread_cpu() - t0;
        *cpu += dt;
        (r, dt)
    };
    let record = |out: &mut Vec<Decision>, ends: &mut Ends, now: Time, jobs: &[SynthJob]| -> u64 {
        let mut started = 0;
        for d in out.drain(..) {
            match d {
                Decision::Start { job, resume_from, .. } => {
                    let j = &jobs[(job.0 - 1) as usize];
                    let left = j.duration.saturating_sub(resume_from).max(1);
                    ends.start(job.0, now + left.min(j.time_limit.max(1)));
                    started += 1;
                }
                Decision::Requeue { job, .. } => ends.stop(job.0),
                _ => {}
            }
        }
        started
    };

    // Warm-up (not measured): fill the queue, then the site.
    while next < cfg.queued {
        let _ = handle(&mut s, now, Event::Submit(spec(next, &jobs[next], &leaves)), &mut out, &mut warm);
        next += 1;
    }
    for _ in 0..20 {
        let _ = handle(&mut s, now, Event::Tick, &mut out, &mut warm);
        if record(&mut out, &mut ends, now, jobs) == 0 {
            break;
        }
        while s.pending_count() < cfg.queued && next < jobs.len() {
            let _ = handle(&mut s, now, Event::Submit(spec(next, &jobs[next], &leaves)), &mut out, &mut warm);
            next += 1;
        }
    }

    // Measured steady state.
    let examined0 = s.stats().jobs_examined;
    let mut min_queue = usize::MAX;
    for _ in 0..cfg.cycles {
        for _ in 0..cfg.completions_per_cycle {
            let Some((end, id)) = ends.pop() else { break };
            now = now.max(end);
            let _ = handle(&mut s, now, Event::Finished(JobId(id)), &mut out, &mut cpu);
        }
        while s.pending_count() < cfg.queued && next < jobs.len() {
            let _ = handle(&mut s, now, Event::Submit(spec(next, &jobs[next], &leaves)), &mut out, &mut cpu);
            next += 1;
        }
        min_queue = min_queue.min(s.pending_count());
        let (_, dt) = handle(&mut s, now, Event::Tick, &mut out, &mut cpu);
        cycle_ms.push(dt.as_secs_f64() * 1e3);
        admissions += record(&mut out, &mut ends, now, jobs);
    }
    let used: u64 = s.capacity() - s.fragmentation().free;
    let util = used as f64 / s.capacity().max(1) as f64;
    let st = s.stats().clone();
    let examined = (st.jobs_examined - examined0) as f64 / cfg.cycles.max(1) as f64;
    (
        Figures { examined_per_cycle: examined, ..figures(0, min_queue, cycle_ms, admissions, cpu, util) },
        st.preemptions,
        st.backfilled,
    )
}

/// The naive scheduler: the same job (EASY backfill over a deep FIFO
/// queue, the same scan depth) without any index. Placement is first fit
/// over a flat node list; the reservation's shadow time comes from walking
/// running jobs by end time; no topology, no fair share, no preemption.
struct FirstFit {
    free: Vec<u8>,
    per_node: Vec<u8>,
    queue: VecDeque<usize>,
    alloc: HashMap<u64, Vec<(u32, u8)>>,
    /// Running jobs: (latest end by time limit, id).
    ends: Vec<(Time, u64)>,
    scan: usize,
}

impl FirstFit {
    /// First fit: `n` nodes with `k` free, skipping `held` unless allowed.
    fn fit(&self, k: u32, n: usize, held: &[bool], use_held: bool) -> Option<Vec<u32>> {
        let mut chosen = Vec::with_capacity(n);
        for (node, f) in self.free.iter().enumerate() {
            if *f as u32 >= k && (use_held || !held[node]) {
                chosen.push(node as u32);
                if chosen.len() == n {
                    return Some(chosen);
                }
            }
        }
        None
    }

    /// When `n` nodes with `k` free will exist, and which: release running
    /// jobs in end order until enough nodes have room.
    fn shadow(&self, k: u32, n: usize) -> Option<(Time, Vec<u32>)> {
        let mut future = self.free.clone();
        let mut ends = self.ends.clone();
        ends.sort_unstable();
        for (end, id) in ends {
            for &(node, c) in &self.alloc[&id] {
                future[node as usize] += c;
            }
            let fit: Vec<u32> = (0..future.len() as u32).filter(|&i| future[i as usize] as u32 >= k).take(n).collect();
            if fit.len() == n {
                return Some((end, fit));
            }
        }
        None
    }

    fn cycle(&mut self, jobs: &[SynthJob], now: Time, started: &mut Vec<usize>) {
        let max_node = *self.per_node.iter().max().unwrap_or(&1) as u32;
        let mut held = vec![false; self.free.len()];
        let mut shadow: Option<Time> = None;
        let mut kept = VecDeque::with_capacity(self.queue.len());
        let mut scanned = 0;
        while let Some(i) = self.queue.pop_front() {
            if shadow.is_some() {
                scanned += 1;
            }
            if scanned > self.scan || self.free.iter().all(|f| *f == 0) {
                kept.push_back(i);
                kept.extend(self.queue.drain(..));
                break;
            }
            let j = &jobs[i];
            let k = if j.per_node > 0 { j.per_node as u32 } else { j.accels.min(max_node) };
            let n = j.accels.div_ceil(k) as usize;
            let limit = j.time_limit.max(1);
            let short = shadow.is_some_and(|s| now + limit <= s);
            let placed = self.fit(k, n, &held, short);
            let Some(chosen) = placed else {
                if shadow.is_none() {
                    if let Some((at, nodes)) = self.shadow(k, n) {
                        shadow = Some(at);
                        for node in nodes {
                            held[node as usize] = true;
                        }
                    }
                }
                kept.push_back(i);
                continue;
            };
            let mut left = j.accels;
            let mut a = Vec::with_capacity(n);
            for node in chosen {
                let c = left.min(k) as u8;
                self.free[node as usize] -= c;
                a.push((node, c));
                left -= c as u32;
            }
            self.alloc.insert(i as u64 + 1, a);
            self.ends.push((now + limit, i as u64 + 1));
            started.push(i);
        }
        self.queue = kept;
    }

    fn finish(&mut self, id: u64) {
        if let Some(a) = self.alloc.remove(&id) {
            for (node, c) in a {
                self.free[node as usize] += c;
            }
        }
        self.ends.retain(|e| e.1 != id);
    }
}

fn run_baseline(topo: &Topology, cfg: &BenchConfig, jobs: &[SynthJob]) -> Figures {
    let per_node: Vec<u8> = topo.nodes.iter().map(|n| n.accels).collect();
    let mut ff = FirstFit {
        free: per_node.clone(),
        per_node,
        queue: VecDeque::new(),
        alloc: HashMap::new(),
        ends: Vec::new(),
        scan: Config::default().max_backfill_scan,
    };
    let mut next = 0;
    let mut ends = Ends::new();
    let mut now: Time = 0;
    let mut started = Vec::new();
    let mut cpu = Duration::ZERO;
    let mut cycle_ms = Vec::new();
    let mut admissions = 0u64;
    ff.queue.extend(0..cfg.queued.min(jobs.len()));
    next += cfg.queued;
    ff.cycle(jobs, now, &mut started);
    for i in started.drain(..) {
        ends.start(i as u64 + 1, now + jobs[i].duration.min(jobs[i].time_limit).max(1));
    }
    let mut min_queue = usize::MAX;
    for _ in 0..cfg.baseline_cycles {
        let t0 = thread_cpu();
        for _ in 0..cfg.completions_per_cycle {
            let Some((end, id)) = ends.pop() else { break };
            now = now.max(end);
            ff.finish(id);
        }
        while ff.queue.len() < cfg.queued && next < jobs.len() {
            ff.queue.push_back(next);
            next += 1;
        }
        min_queue = min_queue.min(ff.queue.len());
        let c0 = thread_cpu();
        ff.cycle(jobs, now, &mut started);
        let c1 = thread_cpu();
        cpu += c1 - t0;
        cycle_ms.push((c1 - c0).as_secs_f64() * 1e3);
        for i in started.drain(..) {
            ends.start(i as u64 + 1, now + jobs[i].duration.min(jobs[i].time_limit).max(1));
            admissions += 1;
        }
    }
    let total: u64 = ff.per_node.iter().map(|a| *a as u64).sum();
    let free: u64 = ff.free.iter().map(|a| *a as u64).sum();
    figures(0, min_queue, cycle_ms, admissions, cpu, (total - free) as f64 / total as f64)
}
