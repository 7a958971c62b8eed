//! `agora fed`: federated training. `serve` runs a coordinator, `join` a
//! site agent (outbound TLS only), `demo` both on this machine for the
//! Fed-Heart-Disease hospitals, `status` shows a running coordinator's
//! progress, `export` writes a built-in site's data for trainer examples.

pub mod bench;

use agora_fed::data::{self, SiteData};
use agora_fed::dp::Accountant;
use agora_fed::report::{self, PrivacyPoint};
use agora_fed::run::{self, BuiltinTrainer, Reliable, RunConfig, Status};
use agora_fed_net::coordinator::{self, Observer, Timeouts};
use agora_fed_net::{agent, byo, tls};
use anyhow::{bail, Context};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum What {
    /// Run a coordinator: issue site credentials (first time), wait for the
    /// sites, run the rounds, keep status.json and report.html in --dir.
    Serve(ServeArgs),
    /// Run a site agent: connect to the coordinator and train on local data.
    Join(JoinArgs),
    /// Show a coordinator's progress (reads DIR/status.json).
    Status {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a built-in site's cleaned train/test split as CSV (for trainer examples).
    Export {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        site: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// One command: a coordinator and one agent per Fed-Heart-Disease
    /// hospital on loopback TLS, SecAgg+ on; prints per-round metrics and
    /// writes the report (with an accuracy-against-ε sweep).
    Demo(DemoArgs),
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The run file (TOML: model, strategy, rounds, sites, privacy).
    #[arg(long)]
    run: PathBuf,
    /// State directory: credentials, status.json, report.html, privacy ledger.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:7443")]
    listen: String,
    /// Host name in the coordinator's certificate.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Seconds to wait for the sites to connect.
    #[arg(long, default_value_t = 120)]
    join_timeout: u64,
    /// Seconds one protocol stage may take (local training included).
    #[arg(long, default_value_t = 300)]
    stage_timeout: u64,
    /// Only issue credentials, then exit.
    #[arg(long)]
    init_only: bool,
}

#[derive(clap::Args)]
pub struct JoinArgs {
    /// The coordinator's address (HOST:PORT).
    #[arg(long)]
    coordinator: String,
    /// The credential bundle the coordinator issued to this site.
    #[arg(long)]
    credentials: PathBuf,
    /// Name in the coordinator's certificate.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Built-in data: DATASET:SITE (site name or index), e.g. fed-heart-disease:Cleveland.
    #[arg(long, conflicts_with = "command")]
    data: Option<String>,
    /// The site's own trainer command (see examples/fed/README.md).
    #[arg(long)]
    command: Option<String>,
    /// Scratch directory for the trainer command's files.
    #[arg(long, default_value = "agora-fed-work")]
    workdir: PathBuf,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "out/fed")]
    out: PathBuf,
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Skip the accuracy-against-ε sweep.
    #[arg(long)]
    no_sweep: bool,
}

pub fn run(what: What) -> anyhow::Result<()> {
    match what {
        What::Serve(a) => serve(a),
        What::Join(a) => join(a),
        What::Status { dir, json } => status(&dir, json),
        What::Export { dataset, site, out } => export(&dataset, &site, &out),
        What::Demo(a) => demo(a),
    }
}

fn find_site(dataset: &str, site: &str) -> anyhow::Result<SiteData> {
    let (_, sites) = data::load(dataset)?;
    let names: Vec<String> = sites.iter().map(|s| s.name.clone()).collect();
    let found = match site.parse::<usize>() {
        Ok(i) => sites.into_iter().nth(i),
        Err(_) => sites.into_iter().find(|s| s.name == site),
    };
    found.with_context(|| format!("dataset {dataset} has no site `{site}` (sites: {})", names.join(", ")))
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Prints per-round metrics and keeps status.json current.
struct Console {
    dir: PathBuf,
    quiet: bool,
    printed: u32,
}

impl Observer for Console {
    fn joined(&mut self, site: &str) {
        if !self.quiet {
            outln!("site joined: {site}");
        }
    }
    fn round(&mut self, st: &Status) {
        if let Some(r) = st.history.last().filter(|r| r.round > self.printed) {
            self.printed = r.round;
            let pooled = st.pooled(r.round.saturating_sub(1)).map(|m| format!("{m:.3}")).unwrap_or_else(|| "-".into());
            let mut line = format!("round {:>3}/{}: {} sites", r.round, st.rounds, r.participants.len());
            if !r.dropped.is_empty() {
                line += &format!(", dropped {}", r.dropped.join(", "));
            }
            if let Some(why) = &r.abandoned {
                line += &format!(", ABANDONED: {why}");
            }
            line += &format!("; pooled test {} before the round: {pooled}", st.metric);
            if let Some(e) = r.epsilon {
                line += &format!("; ε = {e:.3}");
            }
            let mut per_site: Vec<String> = st
                .evals
                .iter()
                .filter(|e| e.version + 1 == r.round)
                .map(|e| format!("{} {:.3}", e.site, e.metric))
                .collect();
            per_site.sort();
            if !per_site.is_empty() {
                line += &format!(" ({})", per_site.join(", "));
            }
            if !self.quiet {
                outln!("{line}");
            }
        }
        if let Ok(j) = serde_json::to_string_pretty(st) {
            let _ = write_atomic(&self.dir.join("status.json"), &j);
        }
    }
    fn note(&mut self, msg: &str) {
        eprintln!("coordinator: {msg}");
    }
}

fn load_ledger(dir: &Path) -> anyhow::Result<Accountant> {
    let p = dir.join("ledger.json");
    if !p.exists() {
        return Ok(Accountant::default());
    }
    let t = std::fs::read_to_string(&p)?;
    serde_json::from_str(&t).with_context(|| format!("{} is not a privacy ledger", p.display()))
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.run).with_context(|| format!("reading {}", a.run.display()))?;
    let cfg = RunConfig::parse_toml(&text).with_context(|| a.run.display().to_string())?;
    let bundles = tls::init(&a.dir, std::slice::from_ref(&a.host), &cfg.sites)?;
    for (s, p) in &bundles {
        outln!("credentials for {s}: {}", p.display());
    }
    if a.init_only {
        return Ok(());
    }
    let listener = TcpListener::bind(&a.listen).with_context(|| format!("listening on {}", a.listen))?;
    outln!("coordinator of run {} listening on {}", cfg.name, listener.local_addr()?);
    let ledger = load_ledger(&a.dir)?;
    let t = Timeouts { join: Duration::from_secs(a.join_timeout), stage: Duration::from_secs(a.stage_timeout) };
    let mut console = Console { dir: a.dir.clone(), quiet: false, printed: 0 };
    let result = coordinator::serve(listener, cfg, &a.dir, ledger, t, &mut console);
    let coord = result?;
    write_atomic(&a.dir.join("ledger.json"), &serde_json::to_string_pretty(&coord.accountant)?)?;
    let st = coord.status();
    write_atomic(&a.dir.join("report.html"), &report::html(&st, &[], &[]))?;
    outln!("report: {}", a.dir.join("report.html").display());
    Ok(())
}

fn join(a: JoinArgs) -> anyhow::Result<()> {
    let bundle = tls::load_bundle(&a.credentials)?;
    let mut log = |m: &str| outln!("agent: {m}");
    let traffic = match (&a.data, &a.command) {
        (Some(spec), None) => {
            let (dataset, site) = spec.split_once(':').context("--data must be DATASET:SITE")?;
            let data = find_site(dataset, site)?;
            agent::join(&a.coordinator, &a.server_name, &bundle, BuiltinTrainer { data }, &mut log)?
        }
        (None, Some(cmd)) => {
            let t = byo::CommandTrainer { command: cmd.clone(), workdir: a.workdir.clone() };
            agent::join(&a.coordinator, &a.server_name, &bundle, t, &mut log)?
        }
        _ => bail!("give --data DATASET:SITE or --command CMD"),
    };
    outln!("agent: run over after {} rounds, {} bytes sent", traffic.rounds, traffic.sent);
    Ok(())
}

fn status(dir: &Path, json: bool) -> anyhow::Result<()> {
    let p = dir.join("status.json");
    let t = std::fs::read_to_string(&p)
        .with_context(|| format!("no status in {} (has the coordinator started?)", dir.display()))?;
    let st: Status = serde_json::from_str(&t).with_context(|| format!("{} is not a run status", p.display()))?;
    if json {
        outln!("{t}");
        return Ok(());
    }
    outln!(
        "run {} ({}): {} — round {} of {}",
        st.run,
        st.project.as_deref().unwrap_or("no project"),
        st.state,
        st.round,
        st.rounds
    );
    for r in &st.history {
        outln!(
            "  round {:>3}: {} participants, dropped [{}]{}{}",
            r.round,
            r.participants.len(),
            r.dropped.join(", "),
            r.abandoned.as_ref().map(|w| format!(", abandoned: {w}")).unwrap_or_default(),
            r.epsilon.map(|e| format!(", ε = {e:.3}")).unwrap_or_default()
        );
    }
    if let Some(m) = st.pooled(st.round) {
        outln!("  pooled test {} of the latest model: {m:.3}", st.metric);
    }
    Ok(())
}

fn export(dataset: &str, site: &str, out: &Path) -> anyhow::Result<()> {
    let s = find_site(dataset, site)?;
    std::fs::create_dir_all(out)?;
    for (name, part) in [("train.csv", &s.train), ("test.csv", &s.test)] {
        let mut text = String::new();
        for i in 0..part.len() {
            let row: Vec<String> =
                part.x.row(i).iter().map(|v| format!("{v}")).chain([format!("{}", part.y[i])]).collect();
            text += &row.join(",");
            text.push('\n');
        }
        write_atomic(&out.join(name), &text)?;
    }
    outln!(
        "wrote {} and {} ({} + {} rows)",
        out.join("train.csv").display(),
        out.join("test.csv").display(),
        s.train.len(),
        s.test.len()
    );
    Ok(())
}

pub fn heart_config(rounds: usize) -> RunConfig {
    let mut cfg =
        RunConfig::parse_toml(include_str!("../../examples/fed/heart.toml")).expect("the embedded example is valid");
    cfg.rounds = rounds;
    cfg
}

fn demo(a: DemoArgs) -> anyhow::Result<()> {
    if a.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let cfg = heart_config(a.rounds);
    let dir = a.out.join("state");
    let (_, sites) = data::load("fed-heart-disease")?;
    tls::init(&dir, &["localhost".to_string()], &cfg.sites)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    outln!(
        "agora fed demo: coordinator on {addr} (TLS 1.3, mutual auth), {} hospital agents, {} rounds of {} with SecAgg+",
        sites.len(),
        a.rounds,
        cfg.strategy.name()
    );
    let mut agents = Vec::new();
    for s in sites.clone() {
        let bundle = tls::load_bundle(&tls::Dir(dir.clone()).site(&s.name))?;
        let addr = addr.clone();
        agents.push(std::thread::spawn(move || {
            agent::join(&addr, "localhost", &bundle, BuiltinTrainer { data: s }, &mut |_| {})
        }));
    }
    let t = Timeouts { join: Duration::from_secs(30), stage: Duration::from_secs(60) };
    let mut console = Console { dir: dir.clone(), quiet: false, printed: 0 };
    let coord = coordinator::serve(listener, cfg.clone(), &dir, Accountant::default(), t, &mut console)?;
    let mut sent = Vec::new();
    for h in agents {
        match h.join() {
            Ok(Ok(t)) => sent.push(t.sent),
            Ok(Err(e)) => eprintln!("agent: {e}"),
            Err(_) => eprintln!("agent thread panicked"),
        }
    }
    let st = coord.status();
    let final_acc = st.pooled(st.round).unwrap_or(f64::NAN);
    outln!("final model: pooled test accuracy {final_acc:.3} (FLamby FedAvg: 0.748 ± 0.027)");
    if !sent.is_empty() {
        outln!("bytes sent per site over the run: {}", sent.iter().sum::<usize>() / sent.len());
    }
    let mut points = Vec::new();
    let mut notes = vec![format!(
        "Model after {} rounds: pooled test accuracy {final_acc:.3}. FLamby's published Fed-Heart-Disease FedAvg pooled-test accuracy: 0.748 ± 0.027 (pooled training 0.795).",
        st.round
    )];
    if !a.no_sweep {
        outln!("accuracy against ε (distributed discrete Gaussian, δ = 1e-5, in-memory runs of the same coordinator and agents, mean of 3 seeds):");
        points = privacy_sweep(&sites, a.rounds)?;
        for p in &points {
            outln!("  noise σ {:>5} per site: ε = {:>8.3}, pooled accuracy {:.3}", p.noise, p.epsilon, p.metric);
        }
        notes.push("The ε sweep runs the same coordinator and agents in memory (no TLS), clip 1.0, 1000 integers per unit, noise accounted for 3 surviving sites (min_sites); accuracy is the mean of 3 seeds. Client-level DP over only 4 sites costs much accuracy: each site's whole update is protected.".into());
    }
    std::fs::create_dir_all(&a.out)?;
    write_atomic(&a.out.join("report.html"), &report::html(&st, &points, &notes))?;
    write_atomic(&a.out.join("status.json"), &serde_json::to_string_pretty(&st)?)?;
    write_atomic(&a.out.join("privacy.json"), &serde_json::to_string_pretty(&points)?)?;
    outln!("report: {}", a.out.join("report.html").display());
    Ok(())
}

fn privacy_sweep(sites: &[SiteData], rounds: usize) -> anyhow::Result<Vec<PrivacyPoint>> {
    let base = RunConfig::parse_toml(include_str!("../../examples/fed/heart-private.toml"))
        .expect("the embedded example is valid");
    let pooled = data::Samples::concat(&sites.iter().map(|s| &s.test).collect::<Vec<_>>());
    let mut out = Vec::new();
    for noise in [0.25, 0.5, 1.0, 2.0, 4.0, 8.0] {
        // Mean over three seeds: one noisy run says little.
        let (mut metric, mut epsilon) = (0.0, 0.0);
        for seed in 1..=3u64 {
            let mut cfg = base.clone();
            cfg.rounds = rounds;
            cfg.seed = seed;
            let p = cfg.privacy.as_mut().expect("private example");
            p.noise = noise;
            p.budget.epsilon = 1e6;
            let trainers = sites.iter().map(|s| (s.name.clone(), BuiltinTrainer { data: s.clone() })).collect();
            let c = run::simulate(cfg.clone(), Accountant::default(), trainers, &mut Reliable)?;
            metric += cfg.model().metric(c.weights(), &pooled) / 3.0;
            epsilon = c.status().epsilon_spent.unwrap_or(f64::INFINITY);
        }
        out.push(PrivacyPoint { epsilon, metric, noise });
    }
    Ok(out)
}
