//! The engine on small hand-made cases.

use agora_core::topology::Regular;
use agora_core::{Entitlements, TenantSpec};
use agora_sim::engine::{self, SimConfig};
use agora_sim::failures::FailureModel;
use agora_sim::workload::{SimJob, Workload};

fn one_job(accels: u32, work: u64) -> (agora_core::Topology, Entitlements, Workload) {
    let topo = Regular {
        name: "tiny".into(),
        accel_type: "gpu".into(),
        blocks: 1,
        blocks_per_pod: 1,
        nodes_per_block: 2,
        accels_per_node: 8,
        last_block_nodes: 0,
    }
    .build()
    .unwrap();
    let ents = Entitlements::new(vec![TenantSpec::new("f", "funder", 1.0).child(TenantSpec::new("p", "project", 1.0))])
        .unwrap();
    let tenant = ents.lookup("p").unwrap();
    let job = SimJob::gang(1, 0, tenant, accels, work);
    (topo, ents, Workload { name: "one".into(), jobs: vec![job], ..Workload::default() })
}

#[test]
fn a_job_that_can_never_finish_does_not_keep_the_run_alive() {
    // Both nodes fail every few seconds and stay down for hours: the
    // whole-cluster gang cannot run to completion. The run must end, and
    // say the job did not complete.
    let (topo, ents, w) = one_job(16, 1000);
    let cfg = SimConfig { failures: FailureModel { scale: 1e6, ..FailureModel::llama3() }, ..SimConfig::default() };
    let r = engine::run(&topo, &ents, agora_core::Config::default(), "agora", &w, &cfg);
    assert_eq!(r.jobs.len(), 1);
    assert_eq!(r.jobs[0].end, None);
    assert!(r.failures > 1000, "{} failures", r.failures);
}

#[test]
fn without_failures_a_job_runs_exactly_its_work() {
    let (topo, ents, w) = one_job(16, 1000);
    let cfg = SimConfig { failures: FailureModel::off(), ..SimConfig::default() };
    let r = engine::run(&topo, &ents, agora_core::Config::default(), "agora", &w, &cfg);
    let j = &r.jobs[0];
    assert_eq!(
        (j.first_start, j.end, j.lost, j.restart_s, j.checkpoint_s, j.restarts),
        (Some(0), Some(1000), 0, 0, 0, 0)
    );
    assert_eq!((j.ran_s, j.timed_out), (1000, false));
    assert_eq!(j.ettr(), Some(1.0));
}

#[test]
fn a_job_that_needs_more_than_its_limit_is_ended_at_the_limit_as_timed_out() {
    let (topo, ents, mut w) = one_job(8, 1000);
    w.jobs[0].time_limit = 600;
    let cfg = SimConfig { failures: FailureModel::off(), ..SimConfig::default() };
    let r = engine::run(&topo, &ents, agora_core::Config::default(), "agora", &w, &cfg);
    let j = &r.jobs[0];
    assert_eq!((j.first_start, j.end, j.timed_out, j.ran_s), (Some(0), Some(600), true, 600));
    assert_eq!((j.jct(), j.ettr()), (None, None), "a timed-out job did not complete");
}

#[test]
fn failures_are_not_drawn_across_an_idle_gap() {
    // Two jobs 50 years apart on 16 accelerators: at Llama 3's rate about
    // 140 failures would fall in the gap, where they can hit no job.
    let (topo, ents, mut w) = one_job(8, 1000);
    let mut late = w.jobs[0].clone();
    (late.id, late.submit) = (2, 50 * 365 * 86_400);
    w.jobs.push(late);
    let r = engine::run(&topo, &ents, agora_core::Config::default(), "agora", &w, &SimConfig::default());
    assert!(r.jobs.iter().all(|j| j.end.is_some() && !j.timed_out));
    assert!(r.failures < 5, "{} failures drawn", r.failures);
}

#[test]
fn refused_jobs_are_counted_by_reason() {
    // One job too big for the 16-accelerator machine, one with a time limit
    // of 200 years (the core refuses limits over 100 years).
    let (topo, ents, mut w) = one_job(8, 1000);
    let mut big = w.jobs[0].clone();
    (big.id, big.accels) = (2, 64);
    let mut absurd = w.jobs[0].clone();
    (absurd.id, absurd.time_limit) = (3, 200 * 365 * 86_400);
    w.jobs.extend([big, absurd]);
    let r = engine::run(&topo, &ents, agora_core::Config::default(), "agora", &w, &SimConfig::default());
    assert_eq!((r.jobs.len(), r.skipped.too_big, r.skipped.absurd_limit), (1, 1, 1));
    assert_eq!(r.rows, 3);
}

#[test]
fn the_core_is_woken_when_a_grace_period_ends_not_at_the_next_event() {
    // Project q's opportunistic job holds the whole cluster for hours; a
    // standard job of project p, within p's half, arrives at t=100 and
    // preempts it. Nothing else happens until the victim's end, so only
    // the core's own `poll_timeout` wake-up at the end of the grace period
    // lets the claimant start then.
    let (topo, _, mut w) = one_job(16, 20_000);
    let ents = Entitlements::new(vec![
        TenantSpec::new("f", "funder", 1.0).child(TenantSpec::new("p", "project", 1.0)),
        TenantSpec::new("g", "funder", 1.0).child(TenantSpec::new("q", "project", 1.0)),
    ])
    .unwrap();
    w.jobs[0].tenant = ents.lookup("q").unwrap();
    w.jobs[0].class = agora_core::PriorityClass::Opportunistic;
    w.jobs[0].time_limit = 30_000;
    let mut claimant = SimJob::gang(2, 100, ents.lookup("p").unwrap(), 8, 500);
    claimant.class = agora_core::PriorityClass::Standard;
    w.jobs.push(claimant);
    let sched = agora_core::Config { preemption_grace: 300, ..agora_core::Config::default() };
    let cfg = SimConfig { failures: FailureModel::off(), ..SimConfig::default() };
    let r = engine::run(&topo, &ents, sched, "agora", &w, &cfg);
    let c = r.jobs.iter().find(|j| j.id == 2).unwrap();
    let start = c.first_start.expect("the claimant starts");
    assert!((400..=400 + cfg.cycle_interval).contains(&start), "claimant started at {start}, grace ended at 400");
    let v = r.jobs.iter().find(|j| j.id == 1).unwrap();
    assert!(v.end.is_some_and(|e| e > start), "the victim is requeued and finishes later");
}
