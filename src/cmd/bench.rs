use agora_sim::bench::{self, BenchConfig, BenchReport, Figures};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum What {
    /// Steady-state admissions per CPU-second and cycle latency on a full
    /// site with a deep queue, against a naive first-fit baseline.
    Sched(SchedArgs),
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
    let What::Sched(a) = what;
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
