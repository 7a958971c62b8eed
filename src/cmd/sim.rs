//! `agora sim`: replay a workload on a simulated site under several
//! policies, with the production scheduler, and report.

use agora_sim::engine::{self, CheckpointPolicy, SimConfig};
use agora_sim::failures::FailureModel;
use agora_sim::metrics;
use agora_sim::policy::Policy;
use agora_sim::record::RunResult;
use agora_sim::report;
use agora_sim::scenario;
use agora_sim::trace::LoadOptions;
use agora_sim::workload::TenantMap;
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A built-in (philly, kth-sp2, lingjun, openb, llm-1m), FORMAT:PATH
    /// (swf, philly, openb, lingjun, helios; plain or gzip) or
    /// synthetic:KEY=VALUE,... (jobs, seed, load, max_gang, ...).
    #[arg(long, default_value = "philly")]
    workload: String,
    /// A preset or a cluster TOML file; default: the workload's own machine.
    #[arg(long)]
    cluster: Option<String>,
    /// Comma-separated: fifo, easy, las, drf, agora, oracle.
    #[arg(long, default_value = "fifo,easy,las,drf,agora,oracle")]
    policy: String,
    /// Seed of the run's randomness (failure injection); a synthetic
    /// workload has its own (`synthetic:seed=N`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the report and JSON summary go (and per-job CSVs with --csv).
    #[arg(long, default_value = "out/sim")]
    out: PathBuf,
    /// Also write one CSV per policy with a row per job (large: about 130
    /// bytes per job, 126 MB for llm-1m's six policies).
    #[arg(long)]
    csv: bool,
    /// Compress a trace's arrivals in time by this factor (2 = twice the
    /// load), to study a site at saturation.
    #[arg(long, default_value_t = 1.0)]
    load_factor: f64,
    /// Print the JSON summary (an array, one object per policy) on stdout.
    #[arg(long)]
    json: bool,
    /// Site file (tenants and scheduler settings); default: the example gigafactory.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Map trace groups/users to projects: lines `KEY = PROJECT`, `* = PROJECT`.
    #[arg(long)]
    tenant_map: Option<PathBuf>,
    /// Skip malformed trace rows (and report how many) instead of stopping.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Failure injection: llama3 (calibrated on Llama 3's 54 days), off, or a
    /// multiple of the llama3 rate such as 2.5.
    #[arg(long, default_value = "llama3")]
    failures: String,
    /// Checkpoints: async (stall only for a snapshot to host memory, a tenth
    /// of a synchronous write, at Daly's interval), young-daly (synchronous
    /// writes at Daly's interval), as-given or off.
    #[arg(long, default_value = "async")]
    checkpoints: String,
    /// Hot-spare nodes held back per block. Default: none when a trace
    /// replays on its own historical machine (it had none), else the site
    /// file's setting.
    #[arg(long)]
    spares: Option<u32>,
    /// Minimum virtual seconds between scheduling cycles (1 to 86,400).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    cycle_interval: u64,
    /// Write no files, only print.
    #[arg(long)]
    no_report: bool,
    /// Add to the JSON summary a digest of every decision and one of every
    /// pending job's reason after each cycle, to check that two builds
    /// decide alike (slow: the reasons of the whole queue at every cycle).
    #[arg(long)]
    audit: bool,
}

/// What a panicking thread said, for people.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let policies = Policy::parse_list(&a.policy).map_err(anyhow::Error::msg)?;
    let mut site = super::site_or_default(&a.site)?;
    let map = match &a.tenant_map {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            TenantMap::parse(&text, &p.display().to_string(), &site.entitlements)?
        }
        None => TenantMap::default(),
    };
    if !(a.load_factor.is_finite() && (0.01..=1000.0).contains(&a.load_factor)) {
        anyhow::bail!("--load-factor: {} is not between 0.01 and 1000", a.load_factor);
    }
    // Find out now, not after minutes of simulation, that the report
    // cannot be written.
    if !a.no_report {
        report::check_writable(&a.out).with_context(|| format!("cannot write the report to {}", a.out.display()))?;
    }
    let opts = LoadOptions { skip_bad_rows: a.skip_bad_rows };
    let scenario::Prepared { name, topo, workload: mut w, mut warnings } =
        scenario::prepare(&a.workload, a.cluster.as_deref(), a.spares, &mut site, &map, &opts)?;
    warnings.extend(scenario::fit_site(&mut site, &topo, a.site.is_none()));
    if a.load_factor != 1.0 {
        w.compress(a.load_factor);
        w.name = format!("{} at load factor {}", w.name, a.load_factor);
    }
    for warning in &warnings {
        eprintln!("agora: warning: {warning}");
    }
    if w.jobs.is_empty() {
        anyhow::bail!("workload {name} has no accelerator jobs");
    }
    let failures = match a.failures.as_str() {
        "llama3" => FailureModel::llama3(),
        "off" => FailureModel::off(),
        x => {
            let scale: f64 = x
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .with_context(|| format!("--failures: `{x}` is not llama3, off or a non-negative number"))?;
            FailureModel { scale, ..FailureModel::llama3() }
        }
    };
    let checkpoints = match a.checkpoints.as_str() {
        "async" => CheckpointPolicy::Async,
        "young-daly" => CheckpointPolicy::YoungDaly,
        "as-given" => CheckpointPolicy::AsGiven,
        "off" => CheckpointPolicy::Off,
        x => anyhow::bail!("--checkpoints: `{x}` is not async, young-daly, as-given or off"),
    };
    if !a.json {
        let spares = site.scheduler.spares_per_block;
        eprintln!("{}; {} hot spare node{} per block", topo.summary(), spares, if spares == 1 { "" } else { "s" });
        eprintln!(
            "workload {name}: {} jobs{}; policies {}",
            agora_core::thousands(w.jobs.len() as u64),
            match w.skipped.describe() {
                d if d.is_empty() => String::new(),
                d => format!(" ({d})"),
            },
            policies.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
        );
    }
    let base = SimConfig {
        seed: a.seed,
        failures,
        checkpoints,
        cycle_interval: a.cycle_interval,
        progress: !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        audit: a.audit,
        ..SimConfig::default()
    };
    // Policies are independent runs: two at a time on this machine's cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(policies.len()).max(1);
    let mut results: Vec<Option<RunResult>> = (0..policies.len()).map(|_| None).collect();
    for chunk in (0..policies.len()).collect::<Vec<_>>().chunks(threads) {
        let done: Vec<Result<(usize, RunResult), (usize, String)>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let (p, topo, w, site) = (policies[i], &topo, &w, &site);
                    let cfg = SimConfig {
                        exact_estimates: p.exact_estimates(),
                        progress: base.progress && i == chunk[0],
                        ..base.clone()
                    };
                    s.spawn(move || {
                        (i, engine::run(topo, &site.entitlements, p.configure(&site.scheduler), p.name(), w, &cfg))
                    })
                })
                .collect();
            handles.into_iter().zip(chunk).map(|(h, &i)| h.join().map_err(|e| (i, panic_message(&*e)))).collect()
        });
        for outcome in done {
            match outcome {
                Ok((i, r)) => results[i] = Some(r),
                Err((i, msg)) => anyhow::bail!(
                    "the simulation of policy {} failed: {msg} (a bug: please report it)",
                    policies[i].name()
                ),
            }
        }
    }
    let site_name = a.site.as_ref().map_or(String::new(), |p| p.display().to_string());
    let runs: Vec<(RunResult, metrics::Summary)> = results
        .into_iter()
        .flatten()
        .map(|mut r| {
            r.site = site_name.clone();
            let s = metrics::summarize(&r);
            (r, s)
        })
        .collect();
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report::json(&runs))?);
    } else {
        outln!("{}", report::terminal(&runs));
    }
    if !a.no_report {
        let paths = report::write_all(&a.out, &runs, a.csv)
            .with_context(|| format!("cannot write the report to {}", a.out.display()))?;
        for p in paths {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_is_shown_by_its_message() {
        let payload = std::panic::catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        assert_eq!(super::panic_message(&*payload), "index 7 out of range");
        let payload = std::panic::catch_unwind(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(super::panic_message(&*payload), "a panic without a message");
    }
}
