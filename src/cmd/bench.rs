use agora_sim::bench::{self, BenchConfig, BenchReport, Figures};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum What {
    /// Steady-state admissions per CPU-second and cycle latency on a full
    /// site with a deep queue, against a naive first-fit baseline.
    Sched(SchedArgs),
    /// Simulator speed: Philly on a Philly-sized cluster, and the
    /// 1,000,000-job synthetic LLM-era workload on a 100k site with failures.
    Sim(SimArgs),
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
        What::Serve(a) => super::bench_serve::run(a),
    }
}

/// One timed simulation run: (jobs, virtual seconds simulated, wall s, scheduler s).
fn time_sim(workload: &str, cluster: Option<&str>, seed: u64) -> anyhow::Result<(usize, u64, f64, f64)> {
    use agora_sim::{engine, policy::Policy, scenario, trace::LoadOptions, workload::TenantMap};
    let mut site = agora_config::default_site();
    // Loading and generating the workload are not the simulator's time.
    let p = scenario::prepare(workload, cluster, None, &mut site, &TenantMap::default(), &LoadOptions::default())?;
    let (topo, w) = (p.topo, p.workload);
    let cfg = engine::SimConfig { seed, ..engine::SimConfig::default() };
    let r = engine::run(&topo, &site.entitlements, Policy::Agora.configure(&site.scheduler), "agora", &w, &cfg);
    Ok((r.jobs.len(), r.horizon - r.start, r.wall.as_secs_f64(), r.sched_cpu.as_secs_f64()))
}

fn sim(a: SimArgs) -> anyhow::Result<()> {
    if a.jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    let rows = [
        ("philly", time_sim("philly", None, a.seed)?, 1.0),
        ("llm-1m", time_sim(&format!("synthetic:jobs={}", a.jobs), Some(&a.cluster), a.seed)?, 30.0),
    ];
    if a.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, (jobs, span, wall, sched), target)| {
                json!({"workload": name, "jobs": jobs, "simulated_s": span, "wall_s": wall, "scheduler_s": sched,
                       "faster_than_real_time": *span as f64 / wall.max(1e-9), "target_wall_s": target})
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    println!(
        "{:<8} {:>10} {:>10} {:>9} {:>11} {:>16} {:>8}",
        "workload", "jobs", "simulated", "wall s", "scheduler s", "x real time", "target"
    );
    for (name, (jobs, span, wall, sched), target) in rows {
        println!(
            "{name:<8} {:>10} {:>10} {wall:>9.2} {sched:>11.2} {:>16} {:>7}s",
            agora_core::thousands(jobs as u64),
            agora_core::human_duration(span),
            agora_core::thousands((span as f64 / wall.max(1e-9)) as u64),
            target
        );
    }
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
        println!("{}", to_json(&r));
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
    v["baseline"] = fig_json(&r.baseline);
    v["speedup"] = json!(r.agora.admissions_per_sec / r.baseline.admissions_per_sec.max(1e-9));
    v
}

fn print_table(r: &BenchReport) {
    println!("cluster {}: {} accelerators", r.cluster, agora_core::thousands(r.agora.accelerators));
    println!("{:<28} {:>14} {:>14}", "", "agora", "first-fit baseline");
    let row = |name: &str, a: String, b: String| println!("{name:<28} {a:>14} {b:>14}");
    let (a, b) = (&r.agora, &r.baseline);
    row("queued jobs", a.queued_jobs.to_string(), b.queued_jobs.to_string());
    row("cycles measured", a.cycles.to_string(), b.cycles.to_string());
    row("admissions", a.admissions.to_string(), b.admissions.to_string());
    row("admissions per CPU-second", format!("{:.0}", a.admissions_per_sec), format!("{:.0}", b.admissions_per_sec));
    row("cycle p50 (ms)", format!("{:.2}", a.cycle_ms_p50), format!("{:.2}", b.cycle_ms_p50));
    row("cycle p99 (ms)", format!("{:.2}", a.cycle_ms_p99), format!("{:.2}", b.cycle_ms_p99));
    row("cycle max (ms)", format!("{:.2}", a.cycle_ms_max), format!("{:.2}", b.cycle_ms_max));
    row("utilization", format!("{:.1}%", a.utilization * 100.0), format!("{:.1}%", b.utilization * 100.0));
    row("jobs examined per cycle", format!("{:.0}", a.examined_per_cycle), "-".into());
    println!("preemptions {}, backfilled starts {}", r.preemptions, r.backfilled);
    println!(
        "speedup over baseline: {:.1}x admissions per CPU-second",
        a.admissions_per_sec / b.admissions_per_sec.max(1e-9)
    );
}
