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
    /// A cluster preset or file (see `agora cluster`); default
    /// gigafactory-100k-hgx, or with `--executor slurm` the Slurm cluster's own.
    #[arg(long)]
    cluster: Option<String>,
    /// A site file (tenants and scheduler settings); default: the example gigafactory.
    #[arg(long)]
    site: Option<PathBuf>,
    /// `virtual` (a simulated site: jobs run for their declared duration),
    /// `local` (runs each job's command on this machine) or `slurm` (a
    /// Slurm cluster runs them: see --slurm-url).
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
    /// slurmrestd's URL (http://host:port), for `--executor slurm`.
    #[arg(long)]
    slurm_url: Option<String>,
    #[command(flatten)]
    slurm: super::slurm::Auth,
    /// Slurm partition to submit to (default: Slurm's default partition).
    #[arg(long)]
    slurm_partition: Option<String>,
    /// Signal that starts a stop's grace period (preemption, cancel).
    #[arg(long, default_value = "SIGTERM")]
    slurm_signal: String,
    /// Jobs' working directory (logs/, checkpoints/ below it), the same
    /// path on every Slurm node; default: <data>/slurm.
    #[arg(long)]
    slurm_workdir: Option<PathBuf>,
    /// Seconds between reads of Slurm's jobs and nodes.
    #[arg(long, default_value_t = 0.5)]
    slurm_poll: f64,
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
    let (executor, slurm) = match a.executor.as_str() {
        "virtual" => (agora_server::ExecutorKind::Virtual, None),
        "local" => (agora_server::ExecutorKind::Local, None),
        "slurm" => {
            let url = a.slurm_url.as_deref().context("--executor slurm needs --slurm-url http://host:port")?;
            if a.time_scale != 1.0 || a.fail_every.is_some() {
                anyhow::bail!("--time-scale and --fail-every are for the virtual executor, not Slurm");
            }
            if !(a.slurm_poll.is_finite() && a.slurm_poll >= 0.05 && a.slurm_poll <= 60.0) {
                anyhow::bail!("--slurm-poll must be between 0.05 and 60 seconds");
            }
            (agora_server::ExecutorKind::Virtual, Some(a.slurm.connect(url)?))
        }
        e => anyhow::bail!("--executor `{e}`: use virtual, local or slurm"),
    };
    let topo = match (&a.cluster, &slurm) {
        (Some(c), _) => agora_config::cluster(c)?,
        (None, Some(api)) => a.slurm.import(api.as_ref(), "slurm")?,
        (None, None) => agora_config::cluster("gigafactory-100k-hgx")?,
    };
    if let Some(api) = &slurm {
        let known: std::collections::HashSet<String> =
            api.nodes().context("reading Slurm's nodes")?.into_iter().map(|n| n.name).collect();
        if let Some(n) = topo.nodes.iter().find(|n| !known.contains(&n.name)) {
            anyhow::bail!(
                "node {} of the cluster is not a Slurm node; import the topology with `agora cluster --from-slurm`",
                n.name
            );
        }
    }
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
    let workdir = slurm_workdir(&a);
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
        // The Slurm executor's batch jobs write `<workdir>/logs/<job>.<run>.out`.
        run_logs: slurm.is_some().then(|| (workdir.join("logs"), "out".to_string())),
    };
    // This Agora's mark on its Slurm jobs, kept beside its journal.
    let instance = if slurm.is_some() { super::slurm::instance(&a.data)? } else { String::new() };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let make = slurm.map(|api| {
            let mut c = agora_slurm::exec::Config::new(workdir.clone(), instance.clone());
            c.partition = a.slurm_partition.clone();
            c.signal = a.slurm_signal.clone();
            c.poll = Duration::from_secs_f64(a.slurm_poll);
            let f: agora_server::ExecutorFactory =
                Box::new(move |topo, rep| Box::new(agora_slurm::exec::SlurmExecutor::spawn(api, topo, rep, c)));
            f
        });
        let running = agora_server::start_with(topo, site.entitlements, site.scheduler, cfg, make).await?;
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

/// The Slurm executor's working directory (absolute: the batch jobs run in
/// it on every node): `--slurm-workdir`, else `<data>/slurm`.
fn slurm_workdir(a: &Args) -> std::path::PathBuf {
    let w = a.slurm_workdir.clone().unwrap_or_else(|| a.data.join("slurm"));
    if w.is_relative() {
        std::env::current_dir().unwrap_or_default().join(w)
    } else {
        w
    }
}
