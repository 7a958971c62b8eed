//! The scheduler task: the one owner of the engine (and so of the core).
//!
//! Loop: take every command waiting on the channel (up to `MAX_BATCH`),
//! stamp each with the site time and apply it; add a scheduling cycle when
//! one is due; append all accepted inputs to the journal in ONE transaction
//! (group commit); only then update the read model, answer the callers and
//! hand the executor its work. Between changes, cycles run when the core
//! asks for one (`Scheduler::poll_timeout`) and at least every
//! `--cycle-interval` while work waits. Refused inputs are answered at once and never
//! journaled. If the journal fails, the process exits: state that is not
//! durable must not be served (a restart replays the journal).

use crate::clock::Clock;
use crate::engine::{Engine, ExecOp, Reply};
use crate::error::ApiError;
use crate::exec::{Executor, Report};
use crate::input::{encode, Input};
use crate::metrics::Metrics;
use crate::view::{View, Watched};
use agora_store::Journal;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

pub const MAX_BATCH: usize = 8192;
/// Between cycles, the cluster and tenant summaries are refreshed at most
/// this often (they change only a little without a cycle).
const SUMMARY_EVERY: Duration = Duration::from_millis(250);

pub enum Cmd {
    Input(Input, oneshot::Sender<Result<Reply, ApiError>>),
    /// Why is this job not running? (state, reason, estimated start)
    Why(u64, oneshot::Sender<Option<(agora_api::JobState, String, Option<u64>)>>),
    /// Is this idempotency key used? (checked again when applied)
    Shutdown(oneshot::Sender<()>),
}

pub struct TaskConfig {
    /// Cycles run at least this often while work waits.
    pub cycle_interval: Duration,
    /// And no more often than this on demand.
    pub min_cycle_gap: Duration,
    /// Journal entries between snapshots (0 = none).
    pub snapshot_every: u64,
}

pub struct Task {
    pub engine: Engine,
    pub journal: Box<dyn Journal>,
    pub view: Arc<RwLock<View>>,
    pub executor: Box<dyn Executor>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub watch: broadcast::Sender<Watched>,
    pub cfg: TaskConfig,
    pub stats: Arc<RwLock<agora_core::Stats>>,
    /// The journal entry the latest snapshot follows.
    pub snapshot_seq: u64,
}

type Ack = (oneshot::Sender<Result<Reply, ApiError>>, Result<Reply, ApiError>);

impl Task {
    pub async fn run(mut self, mut rx: mpsc::Receiver<Cmd>, mut reports: mpsc::UnboundedReceiver<Report>) {
        let mut last_cycle = Instant::now();
        let mut last_summary = Instant::now();
        let mut last_fragmentation = Instant::now();
        let mut dirty = true;
        let mut open = true;
        loop {
            let mut cmds = Vec::new();
            let mut reps = Vec::new();
            // A cycle is due soon after a change, else when the core asks
            // for one (a grace period ends, a reservation's start comes:
            // `poll_timeout`), else on the periodic timer.
            let wake = self.engine.core().poll_timeout();
            let due = if dirty {
                last_cycle + self.cfg.min_cycle_gap
            } else {
                let periodic = last_cycle + self.cfg.cycle_interval;
                match wake {
                    Some(t) => match Instant::now().checked_add(self.clock.until(t)) {
                        Some(at) => periodic.min(at.max(last_cycle + self.cfg.min_cycle_gap)),
                        None => periodic,
                    },
                    None => periodic,
                }
            };
            tokio::select! {
                c = rx.recv(), if open => match c {
                    Some(c) => cmds.push(c),
                    None => open = false,
                },
                r = reports.recv() => if let Some(r) = r { reps.push(r) },
                _ = tokio::time::sleep_until(due.into()) => {},
            }
            while cmds.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => cmds.push(c),
                    Err(_) => break,
                }
            }
            while let Ok(r) = reports.try_recv() {
                reps.push(r);
            }
            let now = self.clock.now().max(self.engine.now());
            let mut entries = Vec::new();
            let mut effects = Vec::new();
            let mut ops = Vec::new();
            let mut acks: Vec<Ack> = Vec::new();
            let mut shutdown = None;
            let mut apply =
                |engine: &mut Engine, mut input: Input, reply: Option<oneshot::Sender<Result<Reply, ApiError>>>| {
                    input.set_now(now);
                    match engine.apply(&input) {
                        Ok(a) => {
                            entries.push(encode(&input));
                            effects.extend(a.effects);
                            ops.extend(a.ops);
                            if let Some(r) = reply {
                                acks.push((r, Ok(a.reply.unwrap_or(Reply::None))));
                            }
                            true
                        }
                        Err(e) => {
                            if let Some(r) = reply {
                                let _ = r.send(Err(e));
                            }
                            false
                        }
                    }
                };
            for c in cmds {
                match c {
                    Cmd::Input(i, r) => dirty |= apply(&mut self.engine, i, Some(r)),
                    Cmd::Why(id, r) => {
                        let _ = r.send(self.engine.why(id));
                    }
                    Cmd::Shutdown(r) => shutdown = Some(r),
                }
            }
            for r in reps {
                let input = match r {
                    Report::Exited { job, run, code } => Input::Exited { now, job, run, code },
                    Report::NodeFailed { node } => Input::NodeFailed { now, node },
                    Report::NodeRepaired { node } => Input::NodeRepaired { now, node },
                };
                dirty |= apply(&mut self.engine, input, None);
            }
            // Requests are committed and answered before the cycle runs, so
            // their latency never includes a cycle.
            let summary_due = last_summary.elapsed() >= SUMMARY_EVERY;
            self.publish(entries, effects, ops, acks, false, summary_due);
            if summary_due {
                last_summary = Instant::now();
            }
            let woken = wake.is_some_and(|t| t <= self.clock.now());
            let cycle_due = Instant::now() >= due && (dirty || woken || self.engine.pending_count() > 0);
            if cycle_due {
                let t0 = Instant::now();
                let tick = Input::Tick { now: self.clock.now().max(self.engine.now()) };
                if let Ok(a) = self.engine.apply(&tick) {
                    self.metrics.cycle(t0.elapsed(), &a.ops);
                    // Stranded capacity walks every pending job: at most every 5 s.
                    let frag = last_fragmentation.elapsed() >= Duration::from_secs(5);
                    if frag {
                        last_fragmentation = Instant::now();
                    }
                    self.publish(vec![encode(&tick)], a.effects, a.ops, Vec::new(), frag, true);
                    last_summary = Instant::now();
                }
                last_cycle = Instant::now();
                dirty = false;
            }
            let stopping = shutdown.is_some() || !open;
            self.maybe_snapshot(stopping);
            if let Some(r) = shutdown {
                let _ = r.send(());
                return;
            }
            if !open {
                return;
            }
        }
    }

    /// Snapshot the state when enough entries were journaled since the last
    /// one (or, when stopping, if any were). Runs between batches, when the
    /// engine and the read model are exactly the journal's state. A failed
    /// snapshot is logged, not fatal: the journal still holds everything.
    fn maybe_snapshot(&mut self, stopping: bool) {
        let every = self.cfg.snapshot_every;
        let Ok(seq) = self.journal.last_seq() else { return };
        let since = seq.saturating_sub(self.snapshot_seq);
        if every == 0 || since == 0 || (since < every && !stopping) {
            return;
        }
        let t0 = Instant::now();
        let bytes = {
            let v = self.view.read().expect("view lock");
            crate::snapshot::encode(&self.engine, &v)
        };
        let encoded = t0.elapsed();
        match tokio::task::block_in_place(|| self.journal.save_snapshot(seq, &bytes)) {
            Ok(()) => {
                self.snapshot_seq = seq;
                self.metrics.snapshot(t0.elapsed(), bytes.len());
                tracing::info!(
                    seq,
                    bytes = bytes.len(),
                    encode_ms = encoded.as_millis() as u64,
                    total_ms = t0.elapsed().as_millis() as u64,
                    "snapshot saved"
                );
            }
            Err(e) => tracing::error!("snapshot at journal entry {seq} not saved: {e}"),
        }
    }

    /// Commit `entries` in one transaction, then update the read model,
    /// answer the callers and hand the executor its work.
    fn publish(
        &mut self,
        entries: Vec<Vec<u8>>,
        effects: Vec<crate::engine::Effect>,
        ops: Vec<ExecOp>,
        acks: Vec<Ack>,
        fragmentation: bool,
        summary: bool,
    ) {
        if !entries.is_empty() {
            let t0 = Instant::now();
            let res = tokio::task::block_in_place(|| self.journal.append(&entries));
            self.metrics.commit(t0.elapsed(), entries.len());
            if let Err(e) = res {
                tracing::error!("journal append failed, exiting so that a restart replays the journal: {e}");
                for (r, _) in acks {
                    let _ = r.send(Err(ApiError::Unavailable));
                }
                std::process::exit(70);
            }
        }
        if !effects.is_empty() || summary {
            let mut watched = Vec::new();
            let summaries = summary.then(|| {
                let stranded = if fragmentation {
                    self.engine.core().fragmentation().unusable
                } else {
                    self.view.read().expect("view lock").cluster.stranded
                };
                let board = crate::board::Snapshot::of(self.engine.core(), self.clock.now());
                (crate::view::summarize(self.engine.core(), stranded), board)
            });
            {
                let mut v = self.view.write().expect("view lock");
                for e in effects {
                    v.apply(e, &mut watched);
                }
                if let Some(((cluster, tenants), board)) = summaries {
                    v.cluster = cluster;
                    v.tenants = tenants;
                    v.board.update(board);
                }
            }
            *self.stats.write().expect("stats") = self.engine.core().stats().clone();
            for w in watched {
                let _ = self.watch.send(w);
            }
        }
        for (r, res) in acks {
            let _ = r.send(res);
        }
        for op in ops {
            match op {
                ExecOp::Start(l) => self.executor.start(l),
                ExecOp::Stop { job, run, grace } => self.executor.stop(job, run, grace),
                ExecOp::Relaunch(l) => self.executor.relaunch(l),
            }
        }
    }
}
