//! Property tests: random event sequences against the scheduler.
//!
//! Besides the core's own `check_invariants` after every event, the test
//! keeps an independent model built only from the decisions it sees, and
//! asserts: no accelerator is ever given to two jobs; a gang starts whole
//! (within its elastic range) or not at all; required topology holds; only
//! strictly lower (effective) classes are preempted; every pending job has
//! a reason; and a tenant below its guaranteed floor gets it back from
//! lower-class work.

mod common;

use agora_core::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
enum Op {
    Submit {
        tenant: usize,
        accels: u32,
        per_node: u8,
        scope: Option<(Scope, bool)>,
        class: PriorityClass,
        limit: u64,
        elastic: bool,
        ck: bool,
    },
    /// Submit the last submitted job again (a new id, the same shape), so
    /// that looks repeat and templates are used.
    Again,
    Finish(usize),
    Cancel(usize),
    Fail(u32),
    Repair(u32),
    Tick(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let scope = prop_oneof![
        Just(None),
        (prop_oneof![Just(Scope::Block), Just(Scope::Pod), Just(Scope::Site)], any::<bool>()).prop_map(Some)
    ];
    let class =
        prop_oneof![Just(PriorityClass::Opportunistic), Just(PriorityClass::Standard), Just(PriorityClass::Reserved)];
    prop_oneof![
        6 => (0..5usize, 1..=24u32, prop_oneof![Just(0u8), Just(1), Just(2), Just(4)], scope, class, 10..3000u64, any::<bool>(), any::<bool>())
            .prop_map(|(tenant, accels, per_node, scope, class, limit, elastic, ck)| Op::Submit { tenant, accels, per_node, scope, class, limit, elastic, ck }),
        3 => Just(Op::Again),
        3 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (0..12u32).prop_map(Op::Fail),
        1 => (0..12u32).prop_map(Op::Repair),
        4 => (0..400u64).prop_map(Op::Tick),
    ]
}

const TENANTS: [&str; 5] = ["a1", "a2", "b1", "c1", "c2"];

fn site(spares: u32, policy: usize) -> Scheduler {
    // 2 pods × 2 blocks × 3 nodes × 4 accelerators = 48.
    let topo = agora_core::topology::Regular {
        name: "prop".into(),
        accel_type: "gpu".into(),
        blocks: 4,
        blocks_per_pod: 2,
        nodes_per_block: 3,
        accels_per_node: 4,
        last_block_nodes: 0,
    }
    .build()
    .unwrap();
    let ents = Entitlements::new(vec![
        TenantSpec::new("a", "funder", 2.0)
            .floor(12)
            .child(TenantSpec::new("a1", "project", 1.0))
            .child(TenantSpec::new("a2", "project", 1.0)),
        TenantSpec::new("b", "funder", 1.0).borrow_limit(8).child(TenantSpec::new("b1", "project", 1.0)),
        TenantSpec::new("c", "funder", 1.0)
            .lend_limit(4)
            .child(TenantSpec::new("c1", "project", 1.0))
            .child(TenantSpec::new("c2", "project", 1.0)),
    ])
    .unwrap();
    let (ordering, backfill) = [
        (Ordering::FairShare, Backfill::Easy),
        (Ordering::FairShare, Backfill::Conservative(3)),
        (Ordering::Fifo, Backfill::Strict),
        (Ordering::Fifo, Backfill::Easy),
        (Ordering::Las { threshold: 2_000.0 }, Backfill::Greedy),
        (Ordering::ShortestRemaining, Backfill::Easy),
        (Ordering::FairShare, Backfill::PerProgramme(3)),
    ][policy];
    let cfg = Config {
        spares_per_block: spares,
        preemption_grace: 100,
        half_life: HALF_LIFE,
        ordering,
        backfill,
        ..Config::default()
    };
    Scheduler::new(topo, ents, cfg)
}

/// What the decisions said, kept independently of the scheduler.
#[derive(Default)]
struct Model {
    /// The run uses LAS ordering (preemption by attained service).
    las: bool,
    specs: HashMap<JobId, JobSpec>,
    running: Vec<JobId>,
    owner: HashMap<(NodeId, u8), JobId>,
    /// Accelerators of each running or preempting job.
    accels: HashMap<JobId, u64>,
    /// Jobs told to stop, still holding accelerators.
    leaving: HashSet<JobId>,
    opportunistic: HashSet<JobId>,
    /// Per tenant: accelerators allocated (every running or preempting job).
    alloc: Vec<u64>,
    /// Per tenant: the part of `alloc` running opportunistically.
    soak: Vec<u64>,
    /// Per tenant: decayed usage, integrated here from the decisions.
    usage: Vec<f64>,
    last: Option<Time>,
    /// Preemptions per job that a churn bound applies to.
    churn: HashMap<JobId, u32>,
    /// Jobs a failure threw back at some point: they go before the walk.
    failed_back: HashSet<JobId>,
}

const HALF_LIFE: u64 = 3600;

impl Model {
    fn new(s: &Scheduler, las: bool) -> Model {
        let n = s.entitlements().len();
        Model { las, alloc: vec![0; n], soak: vec![0; n], usage: vec![0.0; n], ..Model::default() }
    }

    /// Charge allocations up to `now`: usage is the integral of
    /// allocations, decayed with the half-life.
    fn advance(&mut self, now: Time) {
        let last = self.last.replace(now).unwrap_or(now);
        let dt = (now - last) as f64;
        if dt == 0.0 {
            return;
        }
        let tau = HALF_LIFE as f64 / std::f64::consts::LN_2;
        let decay = (-dt / tau).exp();
        for (u, a) in self.usage.iter_mut().zip(&self.alloc) {
            *u = *u * decay + *a as f64 * tau * (1.0 - decay);
        }
    }

    fn charge(&mut self, s: &Scheduler, job: JobId, sign: i64) {
        let tenant = self.specs[&job].tenant;
        let a = self.accels[&job];
        let soak = self.opportunistic.contains(&job);
        for t in s.entitlements().path_up(tenant).chain(std::iter::once(TenantId(0))) {
            self.alloc[t.idx()] = (self.alloc[t.idx()] as i64 + sign * a as i64) as u64;
            if soak {
                self.soak[t.idx()] = (self.soak[t.idx()] as i64 + sign * a as i64) as u64;
            }
        }
    }

    /// Held within limits: opportunistic work does not count against them.
    fn held(&self, t: TenantId) -> u64 {
        self.alloc[t.idx()] - self.soak[t.idx()]
    }

    fn release(&mut self, s: &Scheduler, job: JobId) {
        if self.running.contains(&job) {
            self.charge(s, job, -1);
        }
        self.owner.retain(|_, j| *j != job);
        self.running.retain(|j| *j != job);
        self.leaving.remove(&job);
        self.opportunistic.remove(&job);
    }

    /// Allocation of a tenant's subtree, not counting work already leaving.
    fn effective(&self, s: &Scheduler, t: TenantId) -> i64 {
        let leaving: u64 = self
            .leaving
            .iter()
            .filter(|j| s.entitlements().path_up(self.specs[j].tenant).any(|a| a == t))
            .map(|j| self.accels[j])
            .sum();
        self.alloc[t.idx()] as i64 - leaving as i64
    }

    fn apply(&mut self, s: &Scheduler, d: &Decision) -> Result<(), String> {
        let ents = s.entitlements();
        match d {
            Decision::Start { job, slots, accels, opportunistic, .. } => {
                let spec = &self.specs[job];
                let sum: u32 = slots.iter().map(|s| s.accels()).sum();
                let min = spec.min_accels.unwrap_or(spec.accels);
                if sum != *accels || sum < min || sum > spec.accels {
                    return Err(format!("job {job}: started with {sum}, asked {min}..={}", spec.accels));
                }
                if self.running.contains(job) {
                    return Err(format!("job {job} started twice"));
                }
                // Borrowing and lending limits hold for all but opportunistic work.
                if !opportunistic {
                    for t in ents.path_up(spec.tenant) {
                        if let Some(b) = ents.get(t).borrow_limit {
                            let limit = s.nominal(t).floor() as u64 + b;
                            if self.held(t) + *accels as u64 > limit {
                                return Err(format!(
                                    "job {job} takes {} past its borrowing limit {limit}",
                                    ents.get(t).path
                                ));
                            }
                        }
                    }
                    let free = s.capacity().saturating_sub(self.held(TenantId(0)));
                    let kept: u64 = (0..ents.len() as u32)
                        .map(TenantId)
                        .filter(|l| !ents.path_up(spec.tenant).any(|a| a == *l))
                        .filter_map(|l| {
                            let lend = ents.get(l).lend_limit? as f64;
                            Some((s.nominal(l) - lend - self.held(l) as f64).max(0.0) as u64)
                        })
                        .sum();
                    if *accels as u64 > free.saturating_sub(kept) {
                        return Err(format!("job {job} takes capacity kept for a lender ({kept} kept, {free} free)"));
                    }
                }
                let topo = s.topology();
                for sl in slots {
                    if !s.node_is_up(sl.node) {
                        return Err(format!("job {job} started on down node {}", sl.node));
                    }
                    if spec.constraint.required {
                        let a = &topo.nodes[slots[0].node.idx()];
                        let b = &topo.nodes[sl.node.idx()];
                        let same = match spec.constraint.scope {
                            Scope::Block => a.block == b.block,
                            Scope::Pod => a.pod == b.pod,
                            Scope::Site => true,
                        };
                        if !same {
                            return Err(format!("job {job} spans beyond one {}", spec.constraint.scope.name()));
                        }
                    }
                    for bit in 0..16u8 {
                        if sl.mask & (1 << bit) != 0 {
                            if let Some(other) = self.owner.insert((sl.node, bit), *job) {
                                return Err(format!(
                                    "accelerator {}:{bit} given to {job} while {other} holds it",
                                    sl.node
                                ));
                            }
                        }
                    }
                }
                self.running.push(*job);
                self.accels.insert(*job, *accels as u64);
                if *opportunistic {
                    self.opportunistic.insert(*job);
                }
                self.charge(s, *job, 1);
            }
            Decision::Preempt { job, by, cause, .. } => {
                let (victim, winner) = (self.specs[job].class, self.specs[by].class);
                if !self.running.contains(job) || self.leaving.contains(job) {
                    return Err(format!("preempted job {job} was not running"));
                }
                let path: Vec<TenantId> = ents.path_up(self.specs[job].tenant).collect();
                let ok = match cause {
                    PreemptCause::LowerClass => victim < winner,
                    // Borrowed work is reclaimed only while its tenant is
                    // really above its entitlement (or it ran opportunistically).
                    PreemptCause::Borrowing => {
                        winner > PriorityClass::Opportunistic
                            && (self.opportunistic.contains(job)
                                || path.iter().any(|t| self.effective(s, *t) as f64 > s.nominal(*t) + 1e-9))
                    }
                    PreemptCause::AttainedService => self.las,
                };
                if !ok {
                    return Err(format!("job {by} ({winner:?}) preempted {job} ({victim:?}) for {cause:?}"));
                }
                // Floors: no preemption takes a tenant below its floor.
                let a = self.accels[job] as i64;
                for t in &path {
                    if let Some(f) = ents.get(*t).floor {
                        let eff = self.effective(s, *t);
                        if eff - a < f as i64 {
                            return Err(format!(
                                "preempting {job} takes {} from {eff} below its floor {f}",
                                ents.get(*t).path
                            ));
                        }
                    }
                }
                if *cause != PreemptCause::LowerClass {
                    *self.churn.entry(*job).or_default() += 1;
                    let n = self.churn[job];
                    let cap = s.config().max_preemptions_per_job;
                    if n > cap {
                        return Err(format!("job {job} preempted {n} times (bound {cap})"));
                    }
                }
                self.leaving.insert(*job);
            }
            Decision::ReplaceNode { job, failed, spare, .. } => {
                let bits: Vec<u8> =
                    self.owner.iter().filter(|((n, _), j)| n == failed && *j == job).map(|((_, b), _)| *b).collect();
                if bits.is_empty() {
                    return Err(format!("job {job} had nothing on failed node {failed}"));
                }
                let topo = s.topology();
                let (f, sp) = (&topo.nodes[failed.idx()], &topo.nodes[spare.idx()]);
                let same = f.block == sp.block
                    || (f.pod == sp.pod && self.specs[job].constraint.required_scope() >= Scope::Pod);
                if !same {
                    return Err(format!("spare {spare} for node {failed} is beyond what job {job} may span"));
                }
                for b in &bits {
                    self.owner.remove(&(*failed, *b));
                }
                let mut n = bits.len();
                for bit in 0..16u8 {
                    if n > 0 && !self.owner.contains_key(&(*spare, bit)) && bit < topo.nodes[spare.idx()].accels {
                        self.owner.insert((*spare, bit), *job);
                        n -= 1;
                    }
                }
            }
            Decision::Requeue { job, cause, .. } => {
                if *cause != RequeueCause::Preempted {
                    self.failed_back.insert(*job);
                }
                self.release(s, *job)
            }
        }
        Ok(())
    }
}

/// The reason a pending job gives must be true of the state.
fn check_reason(s: &Scheduler, m: &Model, id: JobId, reason: &Reason) -> Result<(), String> {
    let ents = s.entitlements();
    let spec = &m.specs[&id];
    let min = spec.min_accels.unwrap_or(spec.accels);
    let now = s.now();
    if s.estimated_start(id).is_some_and(|e| e < now) {
        return Err(format!("job {id} is expected to start in the past"));
    }
    match reason {
        Reason::BorrowLimit { tenant, used, limit, .. } => {
            let b = ents.get(*tenant).borrow_limit.ok_or("borrow limit of a tenant without one")?;
            if *limit != s.nominal(*tenant).floor() as u64 + b || used + min as u64 <= *limit {
                return Err(format!("job {id}: {used} + {min} is within the limit {limit}"));
            }
            if s.allocated(*tenant) < *used {
                return Err(format!("job {id}: {} holds {} < {used}", ents.get(*tenant).path, s.allocated(*tenant)));
            }
        }
        Reason::Resources { accels, required, scope } => {
            if *accels != min {
                return Err(format!("job {id}: wrong figures in {reason:?}"));
            }
            // Nothing claimed by a preemptor: the gang does not fit in what is free.
            let claims = s.job_ids().any(|j| {
                s.job(j).and_then(|v| v.reason).is_some_and(|r| matches!(r, Reason::AwaitingPreemption { .. }))
            });
            if !claims {
                let k = if spec.per_node > 0 { spec.per_node } else { min.min(4) as u8 };
                let n = min.div_ceil(k as u32);
                let topo = s.topology();
                let fits = |key: &dyn Fn(usize) -> u32| {
                    let mut count: HashMap<u32, u32> = HashMap::new();
                    for i in 0..topo.nodes.len() {
                        let node = NodeId(i as u32);
                        if s.node_is_up(node) && !s.node_is_spare(node) && s.node_free(node) >= k as u32 {
                            *count.entry(key(i)).or_default() += 1;
                        }
                    }
                    count.values().any(|c| *c >= n)
                };
                let widest = if *required { *scope } else { Scope::Site };
                let fit = match widest {
                    Scope::Block => fits(&|i| topo.nodes[i].block.0),
                    Scope::Pod => fits(&|i| topo.nodes[i].pod.0),
                    Scope::Site => fits(&|_| 0),
                };
                if fit {
                    return Err(format!("job {id} says not enough is free, yet {n} nodes × {k} are"));
                }
            }
        }
        Reason::Reserved { start, .. } if *start < now || !s.last_cycle().reservations.contains(&(id, *start)) => {
            return Err(format!("job {id}: reservation {start} not in the cycle's report"));
        }
        Reason::BehindReservation { reserved, start, .. }
            if !s.last_cycle().reservations.contains(&(*reserved, *start)) =>
        {
            return Err(format!("job {id}: behind a reservation the cycle did not make"));
        }
        Reason::AwaitingPreemption { until, .. } if *until < now => {
            return Err(format!("job {id}: awaits victims past {until}"));
        }
        _ => {}
    }
    Ok(())
}

fn run_ops(spares: u32, policy: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut s = site(spares, policy);
    let mut m = Model::new(&s, policy == 4);
    let mut now = 0;
    let mut next_id = 1;
    let mut last: Option<JobSpec> = None;
    // (job, start) of the reservation of the last cycle, while nothing
    // that may legitimately delay it happened since.
    let mut reservation: Option<(JobId, Time)> = None;
    // A scheduler restored from a snapshot of `s` part-way through: from
    // then on it gets the same events and must make the same decisions
    // and reach the same state, event for event.
    let mut shadow: Option<Scheduler> = None;
    // The same scheduler looking at every pending job in full (no
    // templates, every reason written as it is found): it must decide
    // alike and give every job the same reason.
    let mut eager = site(spares, policy);
    eager.set_eager_looks(true);
    let mut seen = 0usize;
    for op in ops {
        let mut events = Vec::new();
        match op {
            Op::Submit { tenant, accels, per_node, scope, class, limit, elastic, ck } => {
                let leaf = s.entitlements().lookup(TENANTS[tenant]).unwrap();
                let mut j = JobSpec::new(next_id, leaf, accels).per_node(per_node).class(class).time_limit(limit);
                next_id += 1;
                if let Some((sc, req)) = scope {
                    j = if req { j.within(sc) } else { j.prefer(sc) };
                }
                if elastic && accels > 1 {
                    j = j.elastic(accels / 2);
                }
                if ck {
                    j = j.checkpoint(60, 5);
                }
                m.specs.insert(j.id, j.clone());
                last = Some(j.clone());
                events.push((now, Event::Submit(j)));
            }
            Op::Again => {
                let Some(prev) = &last else { continue };
                let j = JobSpec { id: JobId(next_id), ..prev.clone() };
                next_id += 1;
                m.specs.insert(j.id, j.clone());
                events.push((now, Event::Submit(j)));
            }
            Op::Finish(i) if !m.running.is_empty() => {
                events.push((now, Event::Finished(m.running[i % m.running.len()])))
            }
            Op::Cancel(i) => {
                let ids: Vec<JobId> = s.job_ids().collect();
                if ids.is_empty() {
                    continue;
                }
                events.push((now, Event::Cancel(ids[i % ids.len()])));
            }
            Op::Fail(n) => events.push((now, Event::NodeFailed(NodeId(n)))),
            Op::Repair(n) => events.push((now, Event::NodeRepaired(NodeId(n)))),
            Op::Tick(dt) => {
                // The driver stops jobs at their time limits, in order.
                let mut ends: Vec<(Time, JobId)> = m
                    .running
                    .iter()
                    .filter_map(|j| s.job(*j).and_then(|v| v.end_bound).map(|e| (e, *j)))
                    .filter(|(e, _)| *e <= now + dt)
                    .collect();
                ends.sort();
                for (e, j) in ends {
                    events.push((e.max(now), Event::Finished(j)));
                }
                now += dt;
                events.push((now, Event::Tick));
            }
            Op::Finish(_) => continue,
        }
        for (at, event) in events {
            if matches!(event, Event::NodeFailed(_) | Event::NodeRepaired(_)) {
                reservation = None;
            }
            let ended = match &event {
                Event::Finished(j) | Event::Cancel(j) => Some(*j),
                _ => None,
            };
            let tick = matches!(event, Event::Tick);
            let before = s.state_digest();
            seen += 1;
            if shadow.is_none() && seen % 17 == 9 {
                let bytes = s.snapshot();
                let r = Scheduler::restore(s.topology().clone(), s.entitlements().clone(), s.config().clone(), &bytes)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(before, r.state_digest(), "a restored snapshot differs from its scheduler");
                shadow = Some(r);
            }
            let shadow_out = shadow.as_mut().map(|r| {
                let mut o = Vec::new();
                let res = r.handle(at, event.clone(), &mut o).map_err(|e| e.to_string());
                (res, o)
            });
            let mut eager_out = Vec::new();
            let eager_result = eager.handle(at, event.clone(), &mut eager_out);
            let mut out = Vec::new();
            m.advance(at.max(s.now()));
            let result = s.handle(at, event, &mut out);
            prop_assert_eq!(&eager_result, &result, "eager looks answer differently");
            prop_assert_eq!(&eager_out, &out, "eager looks decide differently");
            for id in s.job_ids() {
                let (lazy, full) = (s.job(id).and_then(|v| v.reason), eager.job(id).and_then(|v| v.reason));
                prop_assert_eq!(&full, &lazy, "job {}: the reason by template differs from the one looked at", id);
            }
            if let (Some((res, o)), Some(r)) = (&shadow_out, &shadow) {
                prop_assert_eq!(
                    res,
                    &result.clone().map_err(|e| e.to_string()),
                    "restored scheduler answers differently"
                );
                prop_assert_eq!(o, &out, "restored scheduler decides differently");
                prop_assert_eq!(r.state_digest(), s.state_digest(), "restored scheduler's state drifts");
            }
            match result {
                Ok(()) => {
                    if let Some(j) = ended {
                        m.release(&s, j);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(before, s.state_digest(), "refused event ({}) changed the state", e);
                    prop_assert!(out.is_empty(), "refused event made decisions");
                }
            }
            if std::env::var("PROP_DEBUG").is_ok() {
                eprintln!("t={} {:?}", s.now(), out);
                for id in s.job_ids().collect::<Vec<_>>() {
                    let v = s.job(id).unwrap();
                    eprintln!("   {} {:?} {:?}", id, v.state, v.reason);
                }
            }
            for d in &out {
                m.apply(&s, d).map_err(TestCaseError::fail)?;
                if matches!(d, Decision::Requeue { .. }) {
                    reservation = None;
                }
            }
            s.check_invariants().map_err(TestCaseError::fail)?;
            // Decayed usage is the integral of allocations, event by event.
            for t in 0..s.entitlements().len() as u32 {
                let (got, want) = (s.usage(TenantId(t)), m.usage[t as usize]);
                prop_assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "usage of tenant {} is {} but allocations integrate to {}",
                    t,
                    got,
                    want
                );
            }
            for id in s.job_ids().collect::<Vec<_>>() {
                let view = s.job(id).unwrap();
                if let Some(reason) = &view.reason {
                    let why = s.explain(id).unwrap_or_default();
                    prop_assert!(!why.is_empty(), "pending job {} has no reason", id);
                    if tick {
                        check_reason(&s, &m, id, reason).map_err(TestCaseError::fail)?;
                    }
                }
                let running = matches!(view.state, JobState::Running | JobState::Preempting);
                prop_assert_eq!(
                    running,
                    m.running.contains(&id),
                    "job {} state {:?} disagrees with the decisions",
                    id,
                    view.state
                );
            }
            // Under FIFO + EASY a reservation never slips: only a failure
            // or an earlier job coming back may delay it.
            if tick && policy == 3 {
                // An earlier job that was held back (by a limit, or from preempting
                // by the churn bounds) may go first.
                let submitted = |j: JobId| s.job(j).map(|v| v.submitted);
                let claiming = |j: JobId| {
                    s.job(j).and_then(|v| v.reason).is_some_and(|r| matches!(r, Reason::AwaitingPreemption { .. }))
                };
                let earlier_started = |job: JobId| {
                    let went_first = out.iter().any(|d| match d {
                        Decision::Start { job: j, backfilled: false, .. } | Decision::Preempt { by: j, .. } => {
                            submitted(*j) <= submitted(job) || m.failed_back.contains(j)
                        }
                        _ => false,
                    });
                    // Or it claimed nodes whose jobs reach their limits soon.
                    went_first || s.job_ids().any(|j| j != job && claiming(j) && submitted(j) <= submitted(job))
                };
                if let Some((job, start)) = reservation.filter(|(j, _)| !earlier_started(*j)) {
                    if let Some(Reason::Reserved { start: again, .. }) = s.job(job).and_then(|v| v.reason) {
                        prop_assert!(again <= start, "job {}'s reservation slipped from {} to {}", job, start, again);
                    }
                    // Past its start and still pending: only an earlier job
                    // (one that was over a limit then), or a job a failure
                    // threw back (those go first), may have taken its place.
                    let limited = s
                        .job(job)
                        .and_then(|v| v.reason)
                        .is_some_and(|r| matches!(r, Reason::BorrowLimit { .. } | Reason::KeptForLender { .. }));
                    if s.job(job).is_some_and(|v| v.state == JobState::Pending) && s.now() > start && !limited {
                        let holder = s.last_cycle().reservations.first().map(|r| r.0);
                        prop_assert!(
                            holder.is_some_and(|h| submitted(h) <= submitted(job) || m.failed_back.contains(&h)),
                            "job {} was due at {} and is still pending at {} (reservation: {:?}; {:?}; {:?})",
                            job,
                            start,
                            s.now(),
                            holder,
                            s.job(job).and_then(|v| v.reason),
                            out
                        );
                    }
                }
                reservation = s.last_cycle().reservations.first().copied();
            }
        }
    }
    Ok(())
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a deeper run.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_keep_every_invariant(spares in 0u32..2,
        policy in 0usize..7, ops in prop::collection::vec(op(), 1..120)) {
        run_ops(spares, policy, ops)?;
    }

    /// a's floor is 12 accelerators. Whatever lower-class work fills the
    /// site first, a's standard jobs within the floor start within one grace
    /// period and a few cycles.
    #[test]
    fn guaranteed_floors_are_honoured(fill in prop::collection::vec((1..=4u32, 2..5usize, 0..3u8), 4..30), want in 1..=3u32) {
        let mut s = site(0, 0);
        let mut out = Vec::new();
        for (id, (accels, tenant, class)) in (1..).zip(fill) {
            let leaf = s.entitlements().lookup(TENANTS[tenant]).unwrap();
            let class = [PriorityClass::Opportunistic, PriorityClass::Standard, PriorityClass::Reserved][class as usize];
            // Only b and c fill; b and c may exceed their share only by borrowing.
            s.handle(0, Event::Submit(JobSpec::new(id, leaf, accels).class(class).time_limit(100_000)), &mut out).unwrap();
        }
        s.handle(0, Event::Tick, &mut out).unwrap();
        let a1 = s.entitlements().lookup("a1").unwrap();
        for k in 0..want {
            s.handle(1, Event::Submit(JobSpec::new(1000 + k as u64, a1, 4).time_limit(100_000)), &mut out).unwrap();
        }
        for t in [1, 2, 50, 101, 102, 103, 250, 400] {
            s.handle(t, Event::Tick, &mut out).unwrap();
        }
        s.check_invariants().map_err(TestCaseError::fail)?;
        let a = s.entitlements().lookup("a").unwrap();
        prop_assert_eq!(s.allocated(a), 4 * want as u64, "a holds {} of its floor", s.allocated(a));
    }
}
