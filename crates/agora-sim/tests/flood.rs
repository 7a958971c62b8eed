//! A flood from one funder on the example gigafactory: the site must stay
//! busy (work-conserving: work beyond a borrowing limit runs
//! opportunistically on what nobody entitled wants) while small tenants
//! inside their entitlement still start within minutes.

use agora_sim::engine::{self, SimConfig};
use agora_sim::failures::FailureModel;
use agora_sim::record::RunResult;
use agora_sim::workload::{SimJob, Workload};

const HOUR: u64 = 3600;

/// investors/industry (nominal 18,000, borrowing limit 8,000) asks for
/// almost seven times the site at once; startups and hospitals submit small jobs every
/// ten minutes for two days.
fn flood(ents: &agora_core::Entitlements) -> Workload {
    let tenant = |name: &str| ents.lookup(name).unwrap_or_else(|| panic!("no project {name}"));
    let job = SimJob::gang;
    let industry = tenant("driving-world-model");
    // Gangs and single nodes, so that the flood fills every corner.
    let mut jobs: Vec<SimJob> = (0..2000).map(|i| job(i, 0, industry, 256, 12 * HOUR)).collect();
    jobs.extend((0..20_000).map(|i| job(2000 + i, 0, industry, 8, 6 * HOUR)));
    let small = [tenant("contract-llm"), tenant("radiology-fm")];
    for (i, t) in (0..288u64).zip(small.iter().cycle()) {
        jobs.push(job(100_000 + i, i * 600, *t, 8, HOUR));
    }
    Workload { name: "flood".into(), jobs, ..Workload::default() }
}

fn run(work_conserving: bool) -> RunResult {
    let topo = agora_config::preset("gigafactory-100k-hgx").unwrap();
    let site = agora_config::default_site();
    let cfg = agora_core::Config { work_conserving, spares_per_block: 0, ..site.scheduler.clone() };
    let w = flood(&site.entitlements);
    let sim =
        SimConfig { failures: FailureModel::off(), sample_every: Some(600), progress: false, ..SimConfig::default() };
    engine::run(&topo, &site.entitlements, cfg, "agora", &w, &sim)
}

/// Mean share of the site in use over the first day.
fn busy_first_day(r: &RunResult) -> f64 {
    let day: Vec<_> = r.samples.iter().filter(|s| s.t < 24 * HOUR).collect();
    day.iter().map(|s| s.used as f64 / s.capacity as f64).sum::<f64>() / day.len() as f64
}

fn small_waits(r: &RunResult) -> Vec<u64> {
    let mut w: Vec<u64> =
        r.jobs.iter().filter(|j| j.id >= 100_000).map(|j| j.first_start.expect("started") - j.submit).collect();
    w.sort_unstable();
    w
}

#[test]
fn a_flood_from_one_funder_keeps_the_site_busy_and_small_tenants_start_within_minutes() {
    let r = run(true);
    let busy = busy_first_day(&r);
    assert!(busy > 0.85, "site {:.1}% busy during the flood", busy * 100.0);
    let waits = small_waits(&r);
    let p99 = waits[waits.len() * 99 / 100];
    // At most a grace period (5 min) for opportunistic work to leave, and a cycle.
    assert!(p99 <= 6 * 60, "small tenants waited up to {p99} s (p99)");
    // Without work conservation the limit leaves most of the site idle:
    // the guarantee above comes from the mechanism, not the workload.
    let idle = busy_first_day(&run(false));
    assert!(idle < 0.5, "without work conservation the site was {:.1}% busy", idle * 100.0);
    eprintln!("flood: {:.1}% busy (limits only: {:.1}%), small tenants' wait p99 {p99} s", busy * 100.0, idle * 100.0);
}
