use agora_sim::bench::{self, BenchConfig, BenchReport, Figures};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum What {
    /// Steady-state admissions per CPU-second and cycle latency on a full
    /// site with a deep queue, against a careful indexed FIFO+EASY baseline
    /// and a naive first-fit one.
    Sched(SchedArgs),
    /// Simulator speed: Philly on a Philly-sized cluster, the 1,000,000-job
    /// synthetic LLM-era workload on a 100k site with failures, and a deep
    /// backlog (100,000 jobs at three times capacity, thousands pending).
    Sim(SimArgs),
    /// One SecAgg+ round (100 sites x 1M params, 1000 x 100k, 10% dropouts)
    /// against Flower's SecAgg+ on the same shape.
    Fed(crate::cmd::fed::bench::Args),
    /// The control plane over loopback: durable submissions per second and
    /// latency, then list/get with 1,000,000 jobs stored.
    Serve(super::bench_serve::ServeArgs),
}

#[derive(clap::Args)]
pub struct SimArgs {
    /// The 100k preset for the synthetic run.
    #[arg(long, default_value = "gigafactory-100k-nvl72")]
    cluster: String,
    /// Jobs in the synthetic run.
    #[arg(long, default_value_t = 1_000_000)]
    jobs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of the deep-backlog case (a few seconds each): the table shows
    /// the median run and the range, as one run's wall time moves with the
    /// machine's load.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct SchedArgs {
    /// A preset name or a cluster TOML file.
    #[arg(long, default_value = "gigafactory-100k-nvl72")]
    cluster: String,
    /// Site file (tenants and scheduler settings); default: the example gigafactory.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Jobs kept queued.
    #[arg(long, default_value_t = 100_000)]
    queued: usize,
    /// Measured cycles.
    #[arg(long, default_value_t = 300)]
    cycles: usize,
    /// Running jobs that finish before each cycle.
    #[arg(long, default_value_t = 100)]
    completions: usize,
    /// Measured cycles of the (slow) baseline.
    #[arg(long, default_value_t = 10)]
    baseline_cycles: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(what: What) -> anyhow::Result<()> {
    match what {
        What::Sched(a) => sched(a),
        What::Sim(a) => sim(a),
        What::Fed(a) => crate::cmd::fed::bench::run(a),
        What::Serve(a) => super::bench_serve::run(a),
    }
}

/// One timed simulation run.
struct SimTiming {
    jobs: usize,
    /// Virtual seconds simulated.
    span: u64,
    wall_s: f64,
    cpu_s: f64,
    sched_wall_s: f64,
    /// Jobs pending, over the run's samples: most and mean.
    pending_max: u64,
    pending_mean: f64,
}

fn time_sim(workload: &str, cluster: Option<&str>, seed: u64) -> anyhow::Result<SimTiming> {
    use agora_sim::{engine, policy::Policy, scenario, trace::LoadOptions, workload::TenantMap};
    let mut site = agora_config::default_site();
    // Loading and generating the workload are not the simulator's time.
    let p = scenario::prepare(workload, cluster, None, &mut site, &TenantMap::default(), &LoadOptions::default())?;
    let (topo, w) = (p.topo, p.workload);
    let cfg = engine::SimConfig { seed, ..engine::SimConfig::default() };
    let r = engine::run(&topo, &site.entitlements, Policy::Agora.configure(&site.scheduler), "agora", &w, &cfg);
    let pending: Vec<u64> = r.samples.iter().map(|s| s.queued_jobs).collect();
    Ok(SimTiming {
        jobs: r.jobs.len(),
        span: r.horizon - r.start,
        wall_s: r.wall.as_secs_f64(),
        cpu_s: r.cpu.as_secs_f64(),
        sched_wall_s: r.sched_wall.as_secs_f64(),
        pending_max: pending.iter().copied().max().unwrap_or(0),
        pending_mean: pending.iter().sum::<u64>() as f64 / pending.len().max(1) as f64,
    })
}

/// The deep-backlog case: three times the site's capacity offered on a
/// 100k-accelerator machine in gangs of at most 256, so that thousands of
/// jobs wait while they arrive (up to about 18,000; a cycle passes over
/// about 3,600 on average, `jobs_examined / cycles`).
pub const DEEP_BACKLOG: &str = "synthetic:jobs=100000,load=3,max_gang=256,seed=7";

fn sim(a: SimArgs) -> anyhow::Result<()> {
    if a.jobs == 0 || a.runs == 0 {
        anyhow::bail!("--jobs and --runs must be at least 1");
    }
    let mut deep =
        (0..a.runs).map(|_| time_sim(DEEP_BACKLOG, Some(&a.cluster), a.seed)).collect::<anyhow::Result<Vec<_>>>()?;
    deep.sort_by(|x, y| x.wall_s.total_cmp(&y.wall_s));
    let deep_range = (deep[0].wall_s, deep[deep.len() - 1].wall_s);
    let deep = deep.swap_remove(deep.len() / 2);
    let deep_jobs = deep.jobs as f64;
    let once = |t: SimTiming| (t.wall_s, t.wall_s, 1, t);
    // (name, (fastest wall, slowest wall, runs, the median run), target wall
    // seconds, target jobs per wall second)
    let rows = [
        ("philly", once(time_sim("philly", None, a.seed)?), Some(1.0), None),
        ("llm-1m", once(time_sim(&format!("synthetic:jobs={}", a.jobs), Some(&a.cluster), a.seed)?), Some(30.0), None),
        ("deep-backlog", (deep_range.0, deep_range.1, a.runs, deep), None, Some(50_000.0)),
    ];
    if a.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, (fastest, slowest, runs, t), target_wall, target_rate)| {
                json!({"workload": name, "jobs": t.jobs, "simulated_s": t.span, "wall_s": t.wall_s, "cpu_s": t.cpu_s,
                       "scheduler_wall_s": t.sched_wall_s,
                       "jobs_per_wall_s": t.jobs as f64 / t.wall_s.max(1e-9),
                       "jobs_per_cpu_s": t.jobs as f64 / t.cpu_s.max(1e-9),
                       "pending_max": t.pending_max, "pending_mean": t.pending_mean,
                       "faster_than_real_time": t.span as f64 / t.wall_s.max(1e-9),
                       "target_wall_s": target_wall, "target_jobs_per_wall_s": target_rate,
                       "runs": runs, "wall_s_range": [fastest, slowest]})
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    outln!(
        "{:<12} {:>9} {:>9} {:>7} {:>7} {:>11} {:>10} {:>10} {:>14} {:>16}",
        "workload",
        "jobs",
        "simulated",
        "wall s",
        "CPU s",
        "scheduler s",
        "jobs/wall s",
        "jobs/CPU s",
        "pending max/avg",
        "target"
    );
    for (name, (_, _, _, t), target_wall, target_rate) in rows {
        let target = match (target_wall, target_rate) {
            (Some(w), _) => format!("wall <= {w}s"),
            (_, Some(r)) => format!(">= {} jobs/s", agora_core::thousands(r as u64)),
            _ => String::new(),
        };
        outln!(
            "{name:<12} {:>9} {:>9} {:>7.2} {:>7.2} {:>11.2} {:>10} {:>10} {:>14} {target:>16}",
            agora_core::thousands(t.jobs as u64),
            agora_core::human_duration(t.span),
            t.wall_s,
            t.cpu_s,
            t.sched_wall_s,
            agora_core::thousands((t.jobs as f64 / t.wall_s.max(1e-9)) as u64),
            agora_core::thousands((t.jobs as f64 / t.cpu_s.max(1e-9)) as u64),
            format!("{}/{:.0}", agora_core::thousands(t.pending_max), t.pending_mean),
        );
    }
    let rate = |w: f64| agora_core::thousands((deep_jobs / w.max(1e-9)) as u64);
    outln!(
        "deep-backlog: the median of {} runs; wall {:.2}-{:.2} s, {}-{} jobs/wall s",
        a.runs,
        deep_range.0,
        deep_range.1,
        rate(deep_range.1),
        rate(deep_range.0)
    );
    outln!("(wall time counts other load on this machine; CPU time is the simulation thread's own)");
    Ok(())
}

fn sched(a: SchedArgs) -> anyhow::Result<()> {
    let topo = agora_config::cluster(&a.cluster)?;
    let site = super::site_or_default(&a.site)?;
    if a.queued == 0 || a.cycles == 0 || a.completions == 0 {
        anyhow::bail!("--queued, --cycles and --completions must be at least 1");
    }
    let cfg = BenchConfig {
        queued: a.queued,
        cycles: a.cycles,
        completions_per_cycle: a.completions,
        baseline_cycles: a.baseline_cycles.max(1),
        seed: a.seed,
    };
    if !a.json {
        eprintln!("{}; {} jobs queued; measuring {} cycles…", topo.summary(), a.queued, a.cycles);
    }
    let r = bench::run(topo, site.entitlements, site.scheduler, &cfg);
    if a.json {
        outln!("{}", to_json(&r));
    } else {
        print_table(&r);
    }
    Ok(())
}

fn fig_json(f: &Figures) -> serde_json::Value {
    json!({
        "accelerators": f.accelerators,
        "queued_jobs": f.queued_jobs,
        "cycles": f.cycles,
        "admissions": f.admissions,
        "cpu_s": f.cpu_s,
        "admissions_per_sec": f.admissions_per_sec,
        "cycle_ms_p50": f.cycle_ms_p50,
        "cycle_ms_p99": f.cycle_ms_p99,
        "cycle_ms_max": f.cycle_ms_max,
        "utilization": f.utilization,
        "examined_per_cycle": f.examined_per_cycle,
    })
}

fn to_json(r: &BenchReport) -> serde_json::Value {
    let mut v = fig_json(&r.agora);
    v["cluster"] = json!(r.cluster);
    v["preemptions"] = json!(r.preemptions);
    v["backfilled"] = json!(r.backfilled);
    v["careful_baseline"] = fig_json(&r.careful);
    v["baseline"] = fig_json(&r.baseline);
    v["speedup_over_careful"] = json!(r.agora.admissions_per_sec / r.careful.admissions_per_sec.max(1e-9));
    v["speedup"] = json!(r.agora.admissions_per_sec / r.baseline.admissions_per_sec.max(1e-9));
    v
}

fn print_table(r: &BenchReport) {
    outln!("cluster {}: {} accelerators", r.cluster, agora_core::thousands(r.agora.accelerators));
    outln!("{:<28} {:>14} {:>18} {:>16}", "", "agora", "careful baseline", "naive baseline");
    let row = |name: &str, f: &dyn Fn(&Figures) -> String| {
        outln!("{name:<28} {:>14} {:>18} {:>16}", f(&r.agora), f(&r.careful), f(&r.baseline))
    };
    row("queued jobs", &|f| f.queued_jobs.to_string());
    row("cycles measured", &|f| f.cycles.to_string());
    row("admissions", &|f| f.admissions.to_string());
    row("admissions per CPU-second", &|f| format!("{:.0}", f.admissions_per_sec));
    row("cycle p50 (ms)", &|f| format!("{:.2}", f.cycle_ms_p50));
    row("cycle p99 (ms)", &|f| format!("{:.2}", f.cycle_ms_p99));
    row("cycle max (ms)", &|f| format!("{:.2}", f.cycle_ms_max));
    row("utilization", &|f| format!("{:.1}%", f.utilization * 100.0));
    outln!("{:<28} {:>14}", "jobs examined per cycle", format!("{:.0}", r.agora.examined_per_cycle));
    outln!("preemptions {}, backfilled starts {}", r.preemptions, r.backfilled);
    let (a, c, b) = (&r.agora, &r.careful, &r.baseline);
    outln!(
        "admissions per CPU-second: {:.1}x the careful baseline, {:.1}x the naive one \
         (agora also does fair share, preemption and topology-aware placement; the baselines do FIFO + EASY)",
        a.admissions_per_sec / c.admissions_per_sec.max(1e-9),
        a.admissions_per_sec / b.admissions_per_sec.max(1e-9)
    );
}
