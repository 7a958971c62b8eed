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
use std::collections::HashMap;

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
    ][policy];
    let cfg = Config {
        spares_per_block: spares,
        preemption_grace: 100,
        half_life: 3600,
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
}

impl Model {
    fn release(&mut self, job: JobId) {
        self.owner.retain(|_, j| *j != job);
        self.running.retain(|j| *j != job);
    }

    fn apply(&mut self, s: &Scheduler, d: &Decision) -> Result<(), String> {
        match d {
            Decision::Start { job, slots, accels, .. } => {
                let spec = &self.specs[job];
                let sum: u32 = slots.iter().map(|s| s.accels()).sum();
                let min = spec.min_accels.unwrap_or(spec.accels);
                if sum != *accels || sum < min || sum > spec.accels {
                    return Err(format!("job {job}: started with {sum}, asked {min}..={}", spec.accels));
                }
                if self.running.contains(job) {
                    return Err(format!("job {job} started twice"));
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
            }
            Decision::Preempt { job, by, cause, .. } => {
                let (victim, winner) = (self.specs[job].class, self.specs[by].class);
                let ok = match cause {
                    PreemptCause::LowerClass => victim < winner,
                    // Borrowed capacity counts as opportunistic.
                    PreemptCause::Borrowing => winner > PriorityClass::Opportunistic,
                    PreemptCause::AttainedService => self.las,
                };
                if !ok {
                    return Err(format!("job {by} ({winner:?}) preempted {job} ({victim:?}) for {cause:?}"));
                }
                if !self.running.contains(job) {
                    return Err(format!("preempted job {job} was not running"));
                }
            }
            Decision::ReplaceNode { job, failed, spare, .. } => {
                let bits: Vec<u8> =
                    self.owner.iter().filter(|((n, _), j)| n == failed && *j == job).map(|((_, b), _)| *b).collect();
                if bits.is_empty() {
                    return Err(format!("job {job} had nothing on failed node {failed}"));
                }
                let topo = s.topology();
                if topo.nodes[failed.idx()].block != topo.nodes[spare.idx()].block {
                    return Err("spare from another block".into());
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
            Decision::Requeue { job, .. } => self.release(*job),
        }
        Ok(())
    }
}

fn run_ops(spares: u32, policy: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut s = site(spares, policy);
    let mut m = Model { las: policy == 4, ..Model::default() };
    let mut now = 0;
    let mut next_id = 1;
    for op in ops {
        let event = match op {
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
                Event::Submit(j)
            }
            Op::Finish(i) if !m.running.is_empty() => Event::Finished(m.running[i % m.running.len()]),
            Op::Cancel(i) if !m.specs.is_empty() => {
                let ids: Vec<JobId> = s.job_ids().collect();
                if ids.is_empty() {
                    continue;
                }
                Event::Cancel(ids[i % ids.len()])
            }
            Op::Fail(n) => Event::NodeFailed(NodeId(n)),
            Op::Repair(n) => Event::NodeRepaired(NodeId(n)),
            Op::Tick(dt) => {
                now += dt;
                Event::Tick
            }
            _ => continue,
        };
        let ended = match &event {
            Event::Finished(j) | Event::Cancel(j) => Some(*j),
            _ => None,
        };
        let mut out = Vec::new();
        if s.handle(now, event, &mut out).is_ok() {
            if let Some(j) = ended {
                m.release(j);
            }
        }
        for d in &out {
            m.apply(&s, d).map_err(TestCaseError::fail)?;
        }
        s.check_invariants().map_err(TestCaseError::fail)?;
        for id in s.job_ids().collect::<Vec<_>>() {
            let view = s.job(id).unwrap();
            if view.state == JobState::Pending {
                let why = s.explain(id).unwrap_or_default();
                prop_assert!(!why.is_empty(), "pending job {} has no reason", id);
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
    }
    Ok(())
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a deeper run.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn random_event_sequences_keep_every_invariant(spares in 0u32..2,
        policy in 0usize..6, ops in prop::collection::vec(op(), 1..120)) {
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
