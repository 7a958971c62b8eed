//! agora-server: Agora as a service.
//!
//! One scheduler task (`task`) owns the `Engine` (the core plus holds,
//! dependencies, arrays, tokens); HTTP handlers (`http`) and executors
//! (`exec`) send it commands over channels. It journals every accepted
//! input (`input`, `agora-store`) in group commits before acknowledging,
//! and publishes a read model (`view`) that queries read without waiting.
//! At start the journal is replayed through the same `Engine::apply`, so
//! the state after a restart (clean or kill -9) is the state before.

pub mod board;
pub mod clock;
pub mod dashboard;
mod docs;
pub mod engine;
pub mod error;
pub mod exec;
pub mod http;
pub mod input;
pub mod metrics;
pub mod snapshot;
pub mod task;
pub mod view;

use agora_core::{Entitlements, Scheduler, Topology};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] agora_store::StoreError),
    #[error("replaying the journal: {0}")]
    Replay(String),
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    Virtual,
    Local,
}

pub struct ServeConfig {
    pub listen: String,
    /// A data directory (SQLite journal inside, local executor logs).
    pub data_dir: PathBuf,
    /// Where the journal lives: the data directory, or a store URL.
    pub store: String,
    pub executor: ExecutorKind,
    pub time_scale: f64,
    /// Mean site seconds between injected node failures (virtual executor).
    pub fail_every: Option<f64>,
    pub cycle_interval: Duration,
    /// Cycles on demand (after submissions, endings) run at most this often:
    /// a cycle blocks the scheduler task, so this bounds what cycles add to
    /// request latency under load.
    pub min_cycle_gap: Duration,
    pub rate_limit: u32,
    pub body_limit: usize,
    /// Submit a demo stream of jobs from the example tenants, this many per
    /// second (user "demo"), so a newcomer sees a living site.
    pub demo: Option<f64>,
    /// Snapshot the state every this many journal entries (and at a clean
    /// stop), so a restart replays at most about this many; 0 = never.
    pub snapshot_every: u64,
    /// Where an executor other than `local` writes each run's output,
    /// `<dir>/<job>.<run>.<extension>`, for `GET /v1/jobs/{id}/log`.
    pub run_logs: Option<(PathBuf, String)>,
}

/// What `start` hands back: where it listens, and the admin token if this
/// start created it (shown once).
pub struct Running {
    pub addr: SocketAddr,
    pub admin_token: Option<String>,
    /// Journal entries replayed at start (after the snapshot, if one was used).
    pub replayed: u64,
    /// The journal entry the snapshot used at start follows.
    pub snapshot: Option<u64>,
    shutdown: tokio::sync::mpsc::Sender<task::Cmd>,
    server: tokio::task::JoinHandle<()>,
    scheduler: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stop accepting requests, let the scheduler task commit what it has, stop.
    pub async fn shutdown(self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.shutdown.send(task::Cmd::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.server.abort();
        let _ = self.scheduler.await;
    }
}

/// Builds an executor other than the built-in ones (e.g. `agora-slurm`'s)
/// from the site's topology and the channel its reports go to.
pub type ExecutorFactory = Box<dyn FnOnce(&Topology, exec::Reporter) -> Box<dyn exec::Executor> + Send>;

/// Rebuild the state from the journal, then serve.
pub async fn start(
    topo: Topology,
    ents: Entitlements,
    sched: agora_core::Config,
    cfg: ServeConfig,
) -> Result<Running, ServeError> {
    start_with(topo, ents, sched, cfg, None).await
}

/// `start`, with the executor `make` builds instead of `cfg.executor`'s.
pub async fn start_with(
    topo: Topology,
    ents: Entitlements,
    sched: agora_core::Config,
    cfg: ServeConfig,
    make: Option<ExecutorFactory>,
) -> Result<Running, ServeError> {
    let store = cfg.store.clone();
    let mut journal = tokio::task::spawn_blocking(move || agora_store::open(&store)).await.expect("open")?;
    // The latest snapshot, if it reads back for this site; else the whole
    // journal is replayed (it alone always rebuilds the state).
    let mut restored = None;
    if let Some((seq, bytes)) = tokio::task::block_in_place(|| journal.load_snapshot())? {
        let t0 = std::time::Instant::now();
        match snapshot::decode(&bytes, topo.clone(), ents.clone(), sched.clone()) {
            Ok((e, v)) => {
                tracing::info!(seq, bytes = bytes.len(), ms = t0.elapsed().as_millis() as u64, "snapshot restored");
                restored = Some((seq, e, v));
            }
            Err(e) => {
                tracing::warn!("the snapshot at journal entry {seq} is not used ({e}); replaying the whole journal")
            }
        }
    }
    let (from, mut engine, mut view) = match restored {
        Some((seq, e, v)) => (Some(seq), e, v),
        None => (None, engine::Engine::new(Scheduler::new(topo, ents.clone(), sched)), view::View::new(ents.clone())),
    };
    let mut sink = Vec::new();
    let replayed = tokio::task::block_in_place(|| {
        journal.replay_after(from.unwrap_or(0), &mut |_, bytes| {
            let input = input::decode(bytes)?;
            let a = engine.apply(&input).map_err(|e| format!("the journal does not replay ({e})"))?;
            for e in a.effects {
                view.apply(e, &mut sink);
            }
            sink.clear();
            Ok(())
        })
    })
    .map_err(|e| ServeError::Replay(e.to_string()))?;
    view.refresh(engine.core(), true);
    let last_seq = tokio::task::block_in_place(|| journal.last_seq())?;
    let clock = clock::Clock::new(engine.now(), cfg.time_scale);

    // The first start records the site, then creates a site-admin token,
    // journaled like any input.
    let mut admin_token = None;
    if last_seq == 0 {
        let input = input::Input::Site {
            now: clock.now().max(engine.now()),
            name: engine.topo().name.clone(),
            fingerprint: engine.fingerprint(),
        };
        engine.apply(&input).map_err(|e| ServeError::Replay(e.to_string()))?;
        tokio::task::block_in_place(|| journal.append(&[input::encode(&input)]))?;
    }
    if !engine.has_tokens() {
        let token = http::new_token();
        let hash = http::hash_token(&token);
        let input = input::Input::Token {
            now: clock.now().max(engine.now()),
            id: hash[..12].to_string(),
            hash,
            user: "admin".into(),
            role: agora_api::Role::SiteAdmin,
            scope: String::new(),
        };
        let a = engine.apply(&input).map_err(|e| ServeError::Replay(e.to_string()))?;
        tokio::task::block_in_place(|| journal.append(&[input::encode(&input)]))?;
        for e in a.effects {
            view.apply(e, &mut sink);
        }
        admin_token = Some(token);
    }
    view.ready = true;

    let (rep_tx, rep_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut executor: Box<dyn exec::Executor> = match (make, cfg.executor) {
        (Some(make), _) => make(engine.topo(), rep_tx.clone()),
        (None, ExecutorKind::Virtual) => Box::new(exec::virt::Virtual::new(clock, rep_tx.clone())),
        (None, ExecutorKind::Local) => {
            Box::new(exec::local::Local::new(clock, cfg.data_dir.join("logs"), rep_tx.clone()))
        }
    };
    for l in engine.running() {
        executor.adopt(l);
    }
    if let (ExecutorKind::Virtual, Some(mean)) = (cfg.executor, cfg.fail_every) {
        let nodes = engine.topo().nodes.len() as u32;
        exec::virt::Virtual::inject_failures(clock, rep_tx.clone(), nodes, mean, 3600, 1);
    }

    let view = Arc::new(RwLock::new(view));
    let metrics = Arc::new(metrics::Metrics::default());
    let (watch, _) = tokio::sync::broadcast::channel(4096);
    let (tx, rx) = tokio::sync::mpsc::channel(65_536);
    let stats = Arc::new(RwLock::new(engine.core().stats().clone()));
    let task = task::Task {
        engine,
        journal,
        view: view.clone(),
        executor,
        clock,
        metrics: metrics.clone(),
        watch: watch.clone(),
        cfg: task::TaskConfig {
            cycle_interval: cfg.cycle_interval,
            min_cycle_gap: cfg.min_cycle_gap,
            snapshot_every: cfg.snapshot_every,
        },
        snapshot_seq: from.unwrap_or(0),
        stats: stats.clone(),
    };
    if let Some(rate) = cfg.demo.filter(|r| *r > 0.0) {
        let projects: Vec<String> = ents.leaves().map(|t| ents.get(t).name.clone()).collect();
        tokio::spawn(demo(tx.clone(), projects, rate));
    }
    let scheduler = tokio::spawn(task.run(rx, rep_rx));
    let app = Arc::new(http::App {
        tx: tx.clone(),
        view,
        metrics,
        watch,
        rate: cfg.rate_limit,
        limiter: Mutex::new(Default::default()),
        body_limit: cfg.body_limit,
        logs: match (&cfg.run_logs, cfg.executor) {
            (Some(l), _) => Some(l.clone()),
            (None, ExecutorKind::Local) => Some((cfg.data_dir.join("logs"), "log".to_string())),
            (None, _) => None,
        },
        stats,
    });
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|err| ServeError::Listen { addr: cfg.listen.clone(), err })?;
    let addr = listener.local_addr().map_err(|err| ServeError::Listen { addr: cfg.listen.clone(), err })?;
    let router = http::router(app);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("http server: {e}");
        }
    });
    tracing::info!(%addr, replayed, "agora serve: listening");
    Ok(Running { addr, admin_token, replayed, snapshot: from, shutdown: tx, server, scheduler })
}

/// A seeded stream of plausible jobs: mostly small, some large gangs.
async fn demo(tx: tokio::sync::mpsc::Sender<task::Cmd>, projects: Vec<String>, rate: f64) {
    let mut rng = agora_core::rng::Rng::new(42);
    let sizes = [1u32, 1, 2, 4, 8, 8, 8, 16, 32, 64, 128, 256, 1024];
    loop {
        tokio::time::sleep(Duration::from_secs_f64(rng.exp(1.0 / rate))).await;
        let spec = agora_api::JobSubmit {
            name: Some("demo".into()),
            project: projects[rng.below(projects.len() as u64) as usize].clone(),
            accelerators: Some(sizes[rng.below(sizes.len() as u64) as usize]),
            duration: Some(agora_api::Duration::Secs(600 + rng.below(6 * 3600))),
            time_limit: Some(agora_api::Duration::Secs(8 * 3600)),
            ..Default::default()
        };
        let input = input::Input::Submit { now: 0, user: "demo".into(), spec: Box::new(spec), idempotency_key: None };
        let (r, _) = tokio::sync::oneshot::channel();
        if tx.send(task::Cmd::Input(input, r)).await.is_err() {
            return;
        }
    }
}
