//! The virtual executor: a simulated site. A run lasts its declared work (or
//! its time limit, whichever is shorter) in site time, which the clock may
//! run faster than the wall (`--time-scale`). Optional failure injection
//! fails random nodes at a rate per node-hour and repairs them later.

use super::{Executor, Report, Reporter};
use crate::clock::Clock;
use crate::engine::Launch;
use std::collections::HashMap;
use tokio::task::JoinHandle;

pub struct Virtual {
    clock: Clock,
    tx: Reporter,
    runs: HashMap<(u64, u32), JoinHandle<()>>,
}

impl Virtual {
    pub fn new(clock: Clock, tx: Reporter) -> Virtual {
        Virtual { clock, tx, runs: HashMap::new() }
    }

    /// Fail a random node every `mean_s` site seconds on average; repair it
    /// `repair_s` later. Seeded so that a demo is reproducible.
    pub fn inject_failures(clock: Clock, tx: Reporter, nodes: u32, mean_s: f64, repair_s: u64, seed: u64) {
        tokio::spawn(async move {
            let mut rng = agora_core::rng::Rng::new(seed);
            loop {
                let gap = -mean_s * (1.0 - rng.f64()).ln();
                tokio::time::sleep(std::time::Duration::from_secs_f64(gap / clock.scale())).await;
                let node = (rng.f64() * nodes as f64) as u32 % nodes.max(1);
                if tx.send(Report::NodeFailed { node }).is_err() {
                    return;
                }
                let tx2 = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(repair_s as f64 / clock.scale())).await;
                    let _ = tx2.send(Report::NodeRepaired { node });
                });
            }
        });
    }
}

impl Executor for Virtual {
    fn start(&mut self, l: Launch) {
        let (end, code) =
            if l.work > l.time_limit { (l.started + l.time_limit, 124) } else { (l.started + l.work, l.exit_code) };
        let (clock, tx) = (self.clock, self.tx.clone());
        let (job, run) = (l.job, l.run);
        self.runs.retain(|_, h| !h.is_finished());
        let h = tokio::spawn(async move {
            tokio::time::sleep(clock.until(end)).await;
            let _ = tx.send(Report::Exited { job, run, code });
        });
        self.runs.insert((job, run), h);
    }

    fn stop(&mut self, job: u64, run: u32, _grace: u64) {
        // A simulated job checkpoints instantly; it just never reports.
        if let Some(h) = self.runs.remove(&(job, run)) {
            h.abort();
        }
    }
}
