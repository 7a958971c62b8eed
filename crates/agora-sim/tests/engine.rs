//! The engine on small hand-made cases.

use agora_core::topology::Regular;
use agora_core::{Constraint, Entitlements, PriorityClass, TenantSpec};
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
    let job = SimJob {
        id: 1,
        submit: 0,
        accels,
        per_node: 0,
        work,
        time_limit: 2 * work,
        tenant,
        class: PriorityClass::Standard,
        constraint: Constraint::default(),
        accel_type: None,
        checkpoint: None,
        recorded_wait: None,
    };
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
    assert_eq!((j.first_start, j.end, j.lost, j.overhead, j.restarts), (Some(0), Some(1000), 0, 0, 0));
    assert_eq!(j.ettr(), Some(1.0));
}
