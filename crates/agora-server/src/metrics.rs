//! Prometheus metrics, kept by hand (a few atomics and two histograms).

use crate::engine::ExecOp;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS_MS: &[f64] = &[0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    n: u64,
}

impl Histogram {
    fn observe(&mut self, ms: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS_MS.len()];
        }
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += ms;
        self.n += 1;
    }
    fn render(&self, name: &str, out: &mut String) {
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {c}", b / 1000.0);
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.n);
        let _ = writeln!(out, "{name}_sum {}", self.sum / 1000.0);
        let _ = writeln!(out, "{name}_count {}", self.n);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub admissions: AtomicU64,
    pub preemptions: AtomicU64,
    pub journal_entries: AtomicU64,
    pub snapshots: AtomicU64,
    pub snapshot_bytes: AtomicU64,
    pub snapshot_ms: AtomicU64,
    cycles: Mutex<Histogram>,
    commits: Mutex<Histogram>,
}

impl Metrics {
    pub fn cycle(&self, d: Duration, ops: &[ExecOp]) {
        self.cycles.lock().expect("metrics").observe(d.as_secs_f64() * 1000.0);
        let starts = ops.iter().filter(|o| matches!(o, ExecOp::Start(_))).count() as u64;
        self.admissions.fetch_add(starts, Relaxed);
    }
    pub fn commit(&self, d: Duration, entries: usize) {
        self.commits.lock().expect("metrics").observe(d.as_secs_f64() * 1000.0);
        self.journal_entries.fetch_add(entries as u64, Relaxed);
    }

    pub fn snapshot(&self, d: Duration, bytes: usize) {
        self.snapshots.fetch_add(1, Relaxed);
        self.snapshot_bytes.store(bytes as u64, Relaxed);
        self.snapshot_ms.store(d.as_millis() as u64, Relaxed);
    }

    pub fn render(&self, view: &crate::view::View, stats: &agora_core::Stats) -> String {
        let mut s = String::new();
        let c = &view.cluster;
        let _ = writeln!(
            s,
            "# TYPE agora_http_requests_total counter\nagora_http_requests_total {}",
            self.requests.load(Relaxed)
        );
        let _ = writeln!(s, "# TYPE agora_admissions_total counter\nagora_admissions_total {}", stats.started);
        let _ = writeln!(s, "# TYPE agora_preemptions_total counter\nagora_preemptions_total {}", stats.preemptions);
        let _ = writeln!(s, "# TYPE agora_requeues_total counter\nagora_requeues_total {}", stats.requeues);
        let _ = writeln!(
            s,
            "# TYPE agora_journal_entries_total counter\nagora_journal_entries_total {}",
            self.journal_entries.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# TYPE agora_snapshots_total counter\nagora_snapshots_total {}\n# TYPE agora_snapshot_bytes gauge\nagora_snapshot_bytes {}\n# TYPE agora_snapshot_last_seconds gauge\nagora_snapshot_last_seconds {}",
            self.snapshots.load(Relaxed),
            self.snapshot_bytes.load(Relaxed),
            self.snapshot_ms.load(Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(s, "# TYPE agora_capacity_accelerators gauge\nagora_capacity_accelerators {}", c.capacity);
        let _ = writeln!(s, "# TYPE agora_free_accelerators gauge\nagora_free_accelerators {}", c.free);
        let _ = writeln!(s, "# TYPE agora_failed_nodes gauge\nagora_failed_nodes {}", c.failed_nodes.len());
        let _ = writeln!(s, "# TYPE agora_running_jobs gauge\nagora_running_jobs {}", c.running);
        let _ = writeln!(s, "# TYPE agora_queue_depth gauge");
        let mut per: std::collections::BTreeMap<String, u64> = Default::default();
        for r in view.jobs.values() {
            if r.job.state == agora_api::JobState::Pending {
                let prog = view.ents.ancestor_at(r.tenant, 2);
                *per.entry(view.ents.get(prog).path.clone()).or_default() += 1;
            }
        }
        for (p, n) in per {
            let _ = writeln!(s, "agora_queue_depth{{programme=\"{p}\"}} {n}");
        }
        self.cycles.lock().expect("metrics").render("agora_cycle_seconds", &mut s);
        self.commits.lock().expect("metrics").render("agora_journal_commit_seconds", &mut s);
        s
    }
}
