//! Validation against reality: KTH's IBM SP2 ran the EASY backfilling
//! scheduler, so replaying its log under FIFO + EASY on its own machine
//! (100 single-processor nodes, no hot spares) should give waits close to
//! the ones the log recorded.
//!
//! The real scheduler ran in periodic passes and the log's times have a
//! one-minute resolution; the replay runs a cycle at most every 60 s.
//!
//! Tolerances, and why:
//! - median: within 5 minutes. Most jobs wait a few minutes or not at all;
//!   at one-minute resolution and with periodic passes of unknown period, a
//!   gap of a few passes is noise, not a different scheduler.
//! - mean: within 50%, and not above the record. The mean is set by the
//!   long queues behind big jobs; the replay cannot see what lengthened the
//!   real ones (nodes down, dedicated time, jobs held by operators or
//!   cancelled while queued), so it can only come out lower.
//! - discrimination: EASY must be more than ten times closer to the record
//!   than strict FIFO on the same machine, so the test tells schedulers
//!   apart and a broken backfill fails it.
//!
//! Figures when written: recorded mean 15,296 s, median 300 s; EASY replay
//! mean 8,555 s, median 62 s; strict FIFO mean 397,719 s.

use agora_sim::engine::{self, CheckpointPolicy, SimConfig};
use agora_sim::failures::FailureModel;
use agora_sim::policy::Policy;
use agora_sim::record::RunResult;
use agora_sim::scenario;
use agora_sim::trace::LoadOptions;
use agora_sim::workload::TenantMap;

fn replay(policy: Policy) -> RunResult {
    // As `agora sim --workload kth-sp2` prepares it: the log's own machine.
    let mut site = agora_config::default_site();
    let p =
        scenario::prepare("kth-sp2", None, None, &mut site, &TenantMap::default(), &LoadOptions::default()).unwrap();
    assert_eq!(p.topo.total_accels(), 100, "KTH's SP2 had 100 nodes of one processor");
    assert_eq!(site.scheduler.spares_per_block, 0, "and no hot spares: all 100 schedulable");
    // The real system: no injected failures, no checkpoints, 60 s passes.
    let cfg = SimConfig {
        failures: FailureModel::off(),
        checkpoints: CheckpointPolicy::Off,
        cycle_interval: 60,
        ..SimConfig::default()
    };
    engine::run(&p.topo, &site.entitlements, policy.configure(&site.scheduler), policy.name(), &p.workload, &cfg)
}

fn mean_median(mut v: Vec<u64>) -> (f64, u64) {
    v.sort_unstable();
    (v.iter().sum::<u64>() as f64 / v.len() as f64, v[v.len() / 2])
}

#[test]
fn easy_replay_of_kth_sp2_comes_close_to_the_recorded_waits() {
    let easy = replay(Policy::Easy);
    assert_eq!(easy.jobs.len(), 28_467, "KTH-SP2 rows that can be replayed (one asks for no processor, 8 never ran)");
    assert_eq!((easy.rows, easy.skipped.total()), (28_476, 9), "every row accounted for");
    assert!(easy.jobs.iter().all(|j| j.end.is_some()), "every job completes");
    let (rec_mean, rec_median) = mean_median(easy.jobs.iter().filter_map(|j| j.recorded_wait).collect());
    let (sim_mean, sim_median) = mean_median(easy.jobs.iter().filter_map(|j| j.wait()).collect());
    let (fifo_mean, _) = mean_median(replay(Policy::Fifo).jobs.iter().filter_map(|j| j.wait()).collect());
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    let msg = format!("recorded mean {rec_mean:.0} median {rec_median}; EASY mean {sim_mean:.0} median {sim_median}; FIFO mean {fifo_mean:.0}");
    assert!(sim_median.abs_diff(rec_median) <= 300, "{msg}");
    assert!(rel(sim_mean, rec_mean) <= 0.5 && sim_mean <= rec_mean, "{msg}");
    assert!(rel(fifo_mean, rec_mean) > 10.0 * rel(sim_mean, rec_mean), "{msg}");
}
