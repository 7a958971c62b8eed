//! `agora serve`: the control plane on this machine.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Data directory: the SQLite journal and job logs.
    #[arg(long, default_value = "agora-data")]
    data: PathBuf,
    /// Where the journal lives: a directory (SQLite; default: the data directory).
    #[arg(long)]
    store: Option<String>,
    /// A cluster preset or file (see `agora cluster`).
    #[arg(long, default_value = "gigafactory-100k-hgx")]
    cluster: String,
    /// A site file (tenants and scheduler settings); default: the example gigafactory.
    #[arg(long)]
    site: Option<PathBuf>,
    /// `virtual` (a simulated site: jobs run for their declared duration) or
    /// `local` (runs each job's command on this machine).
    #[arg(long, default_value = "virtual")]
    executor: String,
    /// Site time runs this many times faster than the wall clock.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Virtual executor: fail a random node every this many site seconds on
    /// average (repaired an hour later). Off by default.
    #[arg(long)]
    fail_every: Option<f64>,
    /// Seconds between scheduling cycles while work waits.
    #[arg(long, default_value_t = 5.0)]
    cycle_interval: f64,
    /// Cycles also run on demand (after a submission or a job's end), at
    /// most this often (seconds): a cycle holds the scheduler task, so this
    /// bounds what cycles add to request latency under load.
    #[arg(long, default_value_t = 1.0)]
    min_cycle_gap: f64,
    /// Requests per second per API token (bursts of twice that); 0 = no limit.
    #[arg(long, default_value_t = 1000)]
    rate_limit: u32,
    /// Submit a demo stream of jobs from the example tenants, this many per
    /// second (as user "demo").
    #[arg(long)]
    demo: Option<f64>,
    /// Snapshot the state every this many journal entries (and at a clean
    /// stop), so that a restart replays at most about this many; 0 = never.
    #[arg(long, default_value_t = 100_000)]
    snapshot_every: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if !(a.time_scale.is_finite() && a.time_scale > 0.0 && a.time_scale <= 1e6) {
        anyhow::bail!("--time-scale {} must be a positive number up to 1e6", a.time_scale);
    }
    if !(a.cycle_interval.is_finite() && a.cycle_interval > 0.0 && a.cycle_interval <= 3600.0) {
        anyhow::bail!("--cycle-interval must be between 0 and 3600 seconds");
    }
    if a.demo.is_some_and(|d| !(d.is_finite() && d > 0.0 && d <= 10_000.0)) {
        anyhow::bail!("--demo must be a positive number of jobs per second (at most 10,000)");
    }
    if !(a.min_cycle_gap.is_finite() && a.min_cycle_gap >= 0.0 && a.min_cycle_gap <= a.cycle_interval) {
        anyhow::bail!("--min-cycle-gap must be between 0 and --cycle-interval");
    }
    if a.fail_every.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
        anyhow::bail!("--fail-every must be a positive number of seconds");
    }
    let executor = match a.executor.as_str() {
        "virtual" => agora_server::ExecutorKind::Virtual,
        "local" => agora_server::ExecutorKind::Local,
        e => anyhow::bail!("--executor `{e}`: use virtual or local"),
    };
    let topo = agora_config::cluster(&a.cluster)?;
    let site = super::site_or_default(&a.site)?;
    {
        use std::io::IsTerminal;
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    let store = a.store.clone().unwrap_or_else(|| a.data.to_string_lossy().into_owned());
    let cfg = agora_server::ServeConfig {
        listen: a.listen,
        data_dir: a.data.clone(),
        store,
        executor,
        time_scale: a.time_scale,
        fail_every: a.fail_every,
        cycle_interval: Duration::from_secs_f64(a.cycle_interval),
        min_cycle_gap: Duration::from_secs_f64(a.min_cycle_gap),
        rate_limit: a.rate_limit,
        body_limit: a.body_limit,
        demo: a.demo,
        snapshot_every: a.snapshot_every,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let running = agora_server::start(topo, site.entitlements, site.scheduler, cfg).await?;
        println!("agora serve: listening on http://{}", running.addr);
        match running.snapshot {
            Some(seq) => println!(
                "  data: {} (snapshot after journal entry {seq} restored, {} entries replayed after it)",
                a.data.display(),
                running.replayed
            ),
            None => println!("  data: {} ({} journal entries replayed)", a.data.display(), running.replayed),
        }
        if let Some(t) = &running.admin_token {
            println!("  admin token (shown once, keep it): {t}");
            println!("  export AGORA_URL=http://{} AGORA_TOKEN={t}", running.addr);
        }
        println!("  API: http://{0}/v1  docs: http://{0}/docs  metrics: http://{0}/metrics", running.addr);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        eprintln!("agora serve: shutting down");
        running.shutdown().await;
        anyhow::Ok(())
    })
}
