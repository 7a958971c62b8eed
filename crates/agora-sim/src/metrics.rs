//! Figures of merit for one run, computed from its `RunResult` alone
//! (job records and site samples), so every figure can be recomputed
//! from the exported CSV and JSON.
//!
//! Conventions, relied on by every function here:
//! - Samples form a step function: sample `i` holds from its `t` until the
//!   next sample's `t`, the last one until `horizon`. Time integrals ("∫x dt")
//!   are exact sums over those steps.
//! - Percentiles are nearest-rank: the p-th percentile of `n` sorted values
//!   is the value of rank `ceil(p/100 · n)` (at least 1).
//! - Nothing is NaN: a ratio with an empty denominator is 0, a distribution
//!   of no values is all zeros with `n == 0`.

use crate::record::{size_class, JobRecord, Programme, RunResult, Sample, SIZE_CLASSES};
use agora_core::{Secs, Time};

/// Delivered share is judged in this many equal windows of the run (see `share_windows`).
pub const SHARE_WINDOWS: u64 = 24;

/// A distribution of durations in seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dist {
    pub n: usize,
    /// Values that are lower bounds (waits of jobs never started by the
    /// end of the run, counted up to the end).
    pub censored: usize,
    pub mean: f64,
    pub p50: Secs,
    pub p99: Secs,
}

/// Job counts and time distributions of one slice of the workload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub jobs: usize,
    pub completed: usize,
    /// Accelerator-seconds the slice asked for (Σ accels·work).
    pub offered_accel_s: f64,
    /// Over completed jobs.
    pub jct: Dist,
    /// Over all jobs; those never started count up to the end (censored).
    pub wait: Dist,
}

/// Delivered against entitled share of each programme in one time window
/// (vectors in `RunResult::programmes` order).
#[derive(Clone, Debug, PartialEq)]
pub struct ShareWindow {
    pub start: Time,
    pub end: Time,
    /// The programme's accelerator-seconds over all programmes' (0 if none).
    pub delivered: Vec<f64>,
    /// The fair share of what was delivered: divided down the entitlement
    /// tree by weight, capped by each programme's demand (held + queued)
    /// and borrowing limit (`hierarchical_fill`); without queue records,
    /// `Programme::share` renormalised over programmes with demand.
    pub entitled: Vec<f64>,
    pub demand: Vec<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub jobs: usize,
    pub started: usize,
    pub completed: usize,
    /// Jobs stopped at their time limit with work left.
    pub timed_out: usize,
    /// The accelerator-seconds the site delivered (∫used dt over the whole
    /// run: the work offered in the window, whenever it ran) over all
    /// accelerators, spares included, × the offered window (first to last
    /// arrival), at most 1. A tail of long jobs after the last arrival does
    /// not dilute it; it reaches the offered load when all work is served.
    pub utilization: f64,
    /// ∫used dt within the offered window only, over the same capacity:
    /// lower than `utilization` when the run is short against its jobs
    /// (the site fills up from empty).
    pub busy_in_window: f64,
    /// The offered load: accelerator-seconds asked for by the jobs, over
    /// all accelerators × the offered window. Utilization cannot exceed it
    /// for long; it is a property of the workload, not of the run (it may
    /// exceed 1: an overloaded site).
    pub utilization_bound: f64,
    /// Hot spares as a fraction of all accelerators (never usable by jobs).
    pub spare_fraction: f64,
    /// ∫used dt / ∫schedulable dt over the whole run (spares and down
    /// nodes excluded): how busy the usable part of the site was.
    pub utilization_schedulable: f64,
    /// Useful accelerator-seconds (work of completed jobs) over all
    /// accelerators × the whole run.
    pub goodput: f64,
    pub jct: Dist,
    pub wait: Dist,
    /// One per programme, in `RunResult::programmes` order.
    pub by_programme: Vec<Group>,
    /// One per `SIZE_CLASSES` entry.
    pub by_size: Vec<Group>,
    pub share_windows: Vec<ShareWindow>,
    /// Max over windows that delivered anything, and over programmes, of
    /// |delivered − entitled| (a fraction of the site's delivered work).
    pub share_error_max: f64,
    /// Whole-run delivered share per programme.
    pub delivered_share: Vec<f64>,
    /// Whole-run entitlement per programme, renormalised over programmes with any job.
    pub entitled_share: Vec<f64>,
    /// Jain's index of delivered/entitled over programmes with demand and a
    /// non-zero share; 1 is perfectly proportional, 0 means undefined.
    pub jain_index: f64,
    /// ∫unusable dt / ∫capacity dt: schedulable accelerator time left free
    /// that no queued job could use.
    pub fragmentation: f64,
    pub preemptions: u64,
    pub requeues: u64,
    pub node_replacements: u64,
    /// Σ restarts over job records.
    pub restarts: u64,
    pub failures: u64,
    /// Σaccels·work / Σaccels·span over completed jobs, span = first start
    /// to completion (see `JobRecord::ettr`).
    pub ettr: f64,
    /// Where the rest of the span went, as fractions of Σaccels·span:
    /// lost work, restart, checkpoint writing, grace periods, waiting for
    /// a new allocation, and what is left (rounding). ETTR plus these is 1.
    pub ettr_loss: EttrLoss,
    /// Mean and 10th percentile of the per-job ETTR of completed jobs.
    pub ettr_job_mean: f64,
    pub ettr_job_p10: f64,
    /// Wall time spent inside the scheduler (`Instant`, not CPU time).
    pub sched_wall_s: f64,
    /// CPU time of the whole simulation run (its thread).
    pub sim_cpu_s: f64,
    pub sim_wall_s: f64,
}

/// The ETTR breakdown, term by term (fractions of accelerator-weighted span).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EttrLoss {
    pub lost_work: f64,
    pub restart: f64,
    pub checkpoint: f64,
    pub grace: f64,
    pub requeued_wait: f64,
    pub other: f64,
}

impl EttrLoss {
    /// (JSON key, words, value).
    pub fn terms(&self) -> [(&'static str, &'static str, f64); 6] {
        [
            ("lost_work", "lost work", self.lost_work),
            ("restart", "restart overhead", self.restart),
            ("checkpoint", "checkpoint overhead", self.checkpoint),
            ("grace", "grace-period idle", self.grace),
            ("requeued_wait", "waiting for reallocation", self.requeued_wait),
            ("other", "other", self.other),
        ]
    }
}

/// The offered window: first to last arrival; the whole run if all jobs
/// arrive at once.
pub fn offered_window(r: &RunResult) -> (Time, Time) {
    let first = r.jobs.iter().map(|j| j.submit).min().unwrap_or(r.start);
    let last = r.jobs.iter().map(|j| j.submit).max().unwrap_or(r.horizon);
    if last > first {
        (first, last)
    } else {
        (r.start, r.horizon)
    }
}

pub fn summarize(r: &RunResult) -> Summary {
    let np = r.programmes.len();
    let capacity_s = integral(r, |s| s.capacity);
    let offered: f64 = r.jobs.iter().map(offered_accel_s).sum();
    let (w0, w1) = offered_window(r);
    let window_s = r.total_accels as f64 * (w1 - w0) as f64;
    let run_s = r.total_accels as f64 * r.horizon.saturating_sub(r.start) as f64;

    let mut by_programme: Vec<Vec<&JobRecord>> = vec![Vec::new(); np];
    let mut by_size: Vec<Vec<&JobRecord>> = vec![Vec::new(); SIZE_CLASSES.len()];
    for j in &r.jobs {
        if let Some(g) = by_programme.get_mut(j.programme) {
            g.push(j);
        }
        by_size[size_class(j.accels)].push(j);
    }
    let group = |name: &str, jobs: &[&JobRecord]| Group {
        name: name.to_string(),
        jobs: jobs.len(),
        completed: jobs.iter().filter(|j| j.completed()).count(),
        offered_accel_s: jobs.iter().map(|j| offered_accel_s(j)).sum(),
        jct: dist(jobs.iter().filter_map(|j| j.jct()).collect()),
        wait: waits(r, jobs.iter().copied()),
    };

    let share_windows = share_windows(r);
    let share_error_max = share_windows
        .iter()
        .filter(|w| w.delivered.iter().any(|&d| d > 0.0))
        .flat_map(|w| w.delivered.iter().zip(&w.entitled).map(|(d, e)| (d - e).abs()))
        .fold(0.0, f64::max);

    // Whole run: demand is having submitted any job, or having held anything.
    let held = held_per_programme(r, |s| &s.by_programme);
    let queued = held_per_programme(r, |s| &s.queued_by_programme);
    let demand: Vec<bool> = (0..np).map(|p| !by_programme[p].is_empty() || held[p] > 0).collect();
    let delivered_share = shares(&held);
    let entitled_share = fair_shares(r, &held, &queued, &demand, r.horizon.saturating_sub(r.start));
    let jain_index = jain(&delivered_share, &entitled_share);

    let done: Vec<&JobRecord> = r.jobs.iter().filter(|j| j.completed()).collect();
    // Accelerator-weighted: a 16,384-wide run's lost hour is 16,384 hours.
    let weighted = |f: &dyn Fn(&JobRecord) -> Secs| -> f64 {
        done.iter().map(|j| u128::from(j.accels) * u128::from(f(j))).sum::<u128>() as f64
    };
    let work = weighted(&|j| j.work.min(j.span().unwrap_or(0)));
    let span = weighted(&|j| j.span().unwrap_or(0));
    let term = |f: &dyn Fn(&JobRecord) -> Secs| ratio(weighted(f), span);
    let mut ettr_loss = EttrLoss {
        lost_work: term(&|j| j.lost),
        restart: term(&|j| j.restart_s),
        checkpoint: term(&|j| j.checkpoint_s),
        grace: term(&|j| j.grace_s),
        requeued_wait: term(&JobRecord::requeued_wait),
        other: 0.0,
    };
    let accounted: f64 = ettr_loss.terms().iter().map(|t| t.2).sum();
    ettr_loss.other = (1.0 - ratio(work, span) - accounted).max(0.0) * f64::from(u8::from(span > 0.0));
    let mut ettrs: Vec<f64> = done.iter().filter_map(|j| j.ettr()).collect();
    ettrs.sort_unstable_by(f64::total_cmp);

    Summary {
        jobs: r.jobs.len(),
        started: r.jobs.iter().filter(|j| j.first_start.is_some()).count(),
        completed: done.len(),
        timed_out: r.jobs.iter().filter(|j| j.timed_out).count(),
        utilization: ratio(integral(r, |s| s.used) as f64, window_s).min(1.0),
        busy_in_window: ratio(integral_over(r, w0, w1, |s| s.used) as f64, window_s),
        utilization_bound: ratio(offered, window_s),
        spare_fraction: ratio(r.spare_accels as f64, r.total_accels as f64),
        utilization_schedulable: ratio(integral(r, |s| s.used) as f64, capacity_s as f64),
        goodput: ratio(done.iter().map(|j| offered_accel_s(j)).sum::<f64>(), run_s),
        jct: dist(r.jobs.iter().filter_map(JobRecord::jct).collect()),
        wait: waits(r, r.jobs.iter()),
        by_programme: r.programmes.iter().zip(&by_programme).map(|(p, js)| group(&p.name, js)).collect(),
        by_size: SIZE_CLASSES.iter().zip(&by_size).map(|((_, _, n), js)| group(n, js)).collect(),
        share_windows,
        share_error_max,
        delivered_share,
        entitled_share,
        jain_index,
        fragmentation: ratio(integral(r, |s| s.unusable) as f64, capacity_s as f64),
        preemptions: r.stats.preemptions,
        requeues: r.stats.requeues,
        node_replacements: r.stats.replacements,
        restarts: r.jobs.iter().map(|j| u64::from(j.restarts)).sum(),
        failures: r.failures,
        ettr: ratio(work, span),
        ettr_loss,
        ettr_job_mean: ratio(ettrs.iter().sum(), ettrs.len() as f64),
        ettr_job_p10: percentile(&ettrs, 10.0).unwrap_or(0.0),
        sched_wall_s: r.sched_wall.as_secs_f64(),
        sim_cpu_s: r.cpu.as_secs_f64(),
        sim_wall_s: r.wall.as_secs_f64(),
    }
}

/// Nearest-rank percentile of sorted values: rank `ceil(p/100 · n)`, at least 1.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let n = sorted.len();
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n.max(1)) - 1).copied()
}

/// Waits of `jobs`, those never started counted up to the end of the run.
fn waits<'a>(r: &RunResult, jobs: impl Iterator<Item = &'a JobRecord>) -> Dist {
    let mut censored = 0;
    let v = jobs
        .map(|j| {
            let (w, c) = j.wait_or_censored(r.horizon);
            censored += usize::from(c);
            w
        })
        .collect();
    Dist { censored, ..dist(v) }
}

fn dist(mut v: Vec<Secs>) -> Dist {
    v.sort_unstable();
    Dist {
        n: v.len(),
        censored: 0,
        mean: ratio(v.iter().map(|&x| x as f64).sum(), v.len() as f64),
        p50: percentile(&v, 50.0).unwrap_or(0),
        p99: percentile(&v, 99.0).unwrap_or(0),
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

fn offered_accel_s(j: &JobRecord) -> f64 {
    f64::from(j.accels) * j.work as f64
}

/// Each sample with the seconds it holds for (see the module docs).
pub(crate) fn steps(r: &RunResult) -> impl Iterator<Item = (&Sample, Secs)> {
    let next = r.samples.iter().skip(1).map(|s| s.t).chain([r.horizon]);
    r.samples.iter().zip(next).map(|(s, end)| (s, end.saturating_sub(s.t)))
}

fn integral(r: &RunResult, f: impl Fn(&Sample) -> u64) -> u128 {
    steps(r).map(|(s, dt)| u128::from(f(s)) * u128::from(dt)).sum()
}

/// ∫f dt over `[a, b)` only.
fn integral_over(r: &RunResult, a: Time, b: Time, f: impl Fn(&Sample) -> u64) -> u128 {
    steps(r)
        .map(|(s, dt)| {
            let (lo, hi) = (s.t.max(a), (s.t + dt).min(b));
            u128::from(f(s)) * u128::from(hi.saturating_sub(lo))
        })
        .sum()
}

fn held_per_programme(r: &RunResult, field: impl Fn(&Sample) -> &Vec<u64>) -> Vec<u128> {
    let mut held = vec![0u128; r.programmes.len()];
    for (s, dt) in steps(r) {
        for (h, &a) in held.iter_mut().zip(field(s)) {
            *h += u128::from(a) * u128::from(dt);
        }
    }
    held
}

/// Each value over their sum (all 0 if the sum is 0).
fn shares(v: &[u128]) -> Vec<f64> {
    let total: u128 = v.iter().sum();
    v.iter().map(|&x| ratio(x as f64, total as f64)).collect()
}

/// `Programme::share` renormalised over the programmes with demand.
fn entitled(r: &RunResult, demand: &[bool]) -> Vec<f64> {
    let total: f64 = r.programmes.iter().zip(demand).filter(|(_, &d)| d).map(|(p, _)| p.share).sum();
    r.programmes.iter().zip(demand).map(|(p, &d)| if d { ratio(p.share, total) } else { 0.0 }).collect()
}

/// The fair division of `total` by weight, no programme getting more than
/// it asked for (max-min fairness by water-filling), as fractions of
/// `total`. A programme that wants less than its weighted share gets what it
/// wants; the rest is split among the others by weight.
pub fn water_fill(total: f64, weights: &[f64], caps: &[f64]) -> Vec<f64> {
    let n = weights.len();
    let mut out = vec![0.0; n];
    if total <= 0.0 {
        return out;
    }
    let mut active: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0 && caps[i] > 0.0).collect();
    let mut left = total;
    while !active.is_empty() && left > 1e-9 {
        let w: f64 = active.iter().map(|&i| weights[i]).sum();
        let level = left / w;
        let capped: Vec<usize> = active.iter().copied().filter(|&i| caps[i] <= level * weights[i]).collect();
        if capped.is_empty() {
            for &i in &active {
                out[i] = level * weights[i];
            }
            break;
        }
        for &i in &capped {
            out[i] = caps[i];
            left -= caps[i];
        }
        active.retain(|i| !capped.contains(i));
    }
    out.iter().map(|x| x / total).collect()
}

/// Entitled shares of what was delivered over `span` seconds: the
/// hierarchical fair division (`hierarchical_fill`) of each programme's
/// demand (held + queued accelerator-seconds) where samples record queues,
/// else `entitled` over the programmes with demand.
fn fair_shares(r: &RunResult, held: &[u128], queued: &[u128], demand: &[bool], span: Secs) -> Vec<f64> {
    if queued.iter().all(|&q| q == 0) && r.samples.iter().all(|s| s.queued_by_programme.is_empty()) {
        return entitled(r, demand);
    }
    let total: f64 = held.iter().map(|&h| h as f64).sum();
    let want: Vec<f64> = held.iter().zip(queued).map(|(&h, &q)| (h + q) as f64).collect();
    hierarchical_fill(total, &r.programmes, &want, span as f64)
}

/// What the site's entitlement tree promises each programme of `total`
/// delivered accelerator-seconds, as fractions of `total`, given what each
/// wanted (`want`) over `span` seconds: the capacity is split among funders
/// by weight, then within each funder among its programmes, each capped at
/// its demand and at its borrowing limit (accelerators × `span`); what one
/// leaves goes first to its siblings under the same funder, then to the
/// other funders. Whatever is left once every limit is reached is split the
/// same way among those who still want more (work beyond limits runs
/// opportunistically on capacity nobody else wants).
pub fn hierarchical_fill(total: f64, programmes: &[Programme], want: &[f64], span: f64) -> Vec<f64> {
    let n = programmes.len();
    let mut out = vec![0.0; n];
    if total <= 0.0 {
        return out;
    }
    let limit = |l: Option<f64>| l.map_or(f64::INFINITY, |a| a * span);
    // Pass 1 within limits, pass 2 the rest by demand alone.
    let within: Vec<f64> = want.iter().zip(programmes).map(|(w, p)| w.min(limit(p.limit))).collect();
    let all: Vec<usize> = (0..n).collect();
    fill_level(total, programmes, &within, &all, 0, Some(span), &mut out);
    let given: f64 = out.iter().sum();
    if total - given > 1e-9 * total {
        let more: Vec<f64> = want.iter().zip(&out).map(|(w, o)| (w - o).max(0.0)).collect();
        let mut extra = vec![0.0; n];
        fill_level(total - given, programmes, &more, &all, 0, None, &mut extra);
        for (o, e) in out.iter_mut().zip(extra) {
            *o += e;
        }
    }
    out.iter().map(|x| x / total).collect()
}

/// Split `amount` among `members` grouped by their ancestor at `depth` (a
/// programme with no ancestor there stands alone), by weight and capped at
/// `caps` (and, given `span`, at the group's borrowing limit), then recurse
/// into each group. Adds each programme's part to `out`.
fn fill_level(
    amount: f64,
    programmes: &[Programme],
    caps: &[f64],
    members: &[usize],
    depth: usize,
    span: Option<f64>,
    out: &mut [f64],
) {
    // Groups in first-seen order: (key, members).
    let mut groups: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
    for &m in members {
        let key = programmes[m].ancestors.get(depth).map(|a| a.name.as_str());
        match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, g)) => g.push(m),
            None => groups.push((key, vec![m])),
        }
    }
    let weights: Vec<f64> = groups.iter().map(|(_, g)| g.iter().map(|&m| programmes[m].share).sum()).collect();
    let gcaps: Vec<f64> = groups
        .iter()
        .map(|(key, g)| {
            let sum: f64 = g.iter().map(|&m| caps[m]).sum();
            let lim = match (key, span, programmes[g[0]].ancestors.get(depth).and_then(|a| a.limit)) {
                (Some(_), Some(span), Some(l)) => l * span,
                _ => f64::INFINITY,
            };
            sum.min(lim)
        })
        .collect();
    let parts = water_fill(amount, &weights, &gcaps);
    for ((key, g), part) in groups.iter().zip(parts) {
        let a = part * amount;
        match key {
            None => out[g[0]] += a,
            Some(_) => fill_level(a, programmes, caps, g, depth + 1, span, out),
        }
    }
}

/// Jain's index of x_i = delivered_i / entitled_i over programmes entitled
/// to something: (Σx)² / (n·Σx²), or 0 when undefined.
pub fn jain(delivered: &[f64], entitled: &[f64]) -> f64 {
    let x: Vec<f64> = delivered.iter().zip(entitled).filter(|(_, &e)| e > 0.0).map(|(d, e)| d / e).collect();
    let (sum, sq): (f64, f64) = (x.iter().sum(), x.iter().map(|v| v * v).sum());
    ratio(sum * sum, x.len() as f64 * sq)
}

/// The run `[start, horizon)` cut into `SHARE_WINDOWS` equal windows, each
/// at least one sample interval long so it holds a sample (the last window
/// may be shorter). A programme has demand in a window if one of its jobs was
/// submitted before the window ends and not completed before it starts
/// (samples do not say who is queued), or if it held accelerators there.
fn share_windows(r: &RunResult) -> Vec<ShareWindow> {
    let span = r.horizon.saturating_sub(r.start);
    let np = r.programmes.len();
    if span == 0 || r.samples.is_empty() {
        return Vec::new();
    }
    let len = span.div_ceil(SHARE_WINDOWS).max(r.sample_every).max(1);
    let n = span.div_ceil(len) as usize;
    let bounds = |k: usize| (r.start + k as u64 * len, (r.start + (k as u64 + 1) * len).min(r.horizon));

    let mut held = vec![vec![0u128; np]; n];
    let mut queued = vec![vec![0u128; np]; n];
    for (s, dt) in steps(r) {
        let (a, b) = (s.t.max(r.start), (s.t + dt).min(r.horizon));
        let mut k = (a.saturating_sub(r.start) / len) as usize;
        while a < b && k < n {
            let (ws, we) = bounds(k);
            if ws >= b {
                break;
            }
            let overlap = u128::from(b.min(we) - a.max(ws));
            for (h, &acc) in held[k].iter_mut().zip(&s.by_programme) {
                *h += u128::from(acc) * overlap;
            }
            for (q, &acc) in queued[k].iter_mut().zip(&s.queued_by_programme) {
                *q += u128::from(acc) * overlap;
            }
            k += 1;
        }
    }

    let mut demand: Vec<Vec<bool>> = held.iter().map(|w| w.iter().map(|&h| h > 0).collect()).collect();
    for j in r.jobs.iter().filter(|j| j.programme < np) {
        let first = (j.submit.saturating_sub(r.start) / len) as usize;
        let last = match j.end {
            Some(e) if e <= r.start => continue,
            Some(e) => ((e - r.start).div_ceil(len) as usize).min(n) - 1,
            None => n - 1,
        };
        for w in demand.iter_mut().take(last + 1).skip(first) {
            w[j.programme] = true;
        }
    }

    (0..n)
        .map(|k| {
            let (start, end) = bounds(k);
            ShareWindow {
                start,
                end,
                delivered: shares(&held[k]),
                entitled: fair_shares(r, &held[k], &queued[k], &demand[k], end - start),
                demand: std::mem::take(&mut demand[k]),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn water_filling_gives_the_unasked_share_to_the_others_by_weight() {
        let check = |total: f64, w: &[f64], caps: &[f64], want: &[f64]| {
            let got = water_fill(total, w, caps);
            assert!(got.iter().zip(want).all(|(g, e)| (g - e).abs() < 1e-9), "{got:?} != {want:?}");
        };
        // Everyone wants more than their share: shares by weight.
        check(100.0, &[1.0, 1.0], &[1000.0, 1000.0], &[0.5, 0.5]);
        check(100.0, &[3.0, 1.0], &[1000.0, 1000.0], &[0.75, 0.25]);
        // One asks for little: it gets that, the other the rest.
        check(100.0, &[1.0, 1.0], &[10.0, 1000.0], &[0.1, 0.9]);
        // Cascading caps over three programmes.
        check(90.0, &[1.0, 1.0, 1.0], &[10.0, 20.0, 1000.0], &[10.0 / 90.0, 20.0 / 90.0, 60.0 / 90.0]);
        // No demand, no weight, nothing to divide.
        check(100.0, &[1.0, 0.0], &[0.0, 100.0], &[0.0, 0.0]);
        check(0.0, &[1.0], &[1.0], &[0.0]);
    }
    use std::time::Duration;

    /// Programmes (name, share, funder, borrowing limit in accelerators).
    fn tree(ps: &[(&str, f64, &str, Option<f64>)]) -> Vec<Programme> {
        ps.iter()
            .map(|&(name, share, funder, limit)| Programme {
                name: name.into(),
                share,
                ancestors: vec![crate::record::Ancestor { name: funder.into(), limit: None }],
                limit,
            })
            .collect()
    }

    #[test]
    fn what_a_programme_leaves_goes_first_to_its_funders_other_programmes() {
        let close = |got: Vec<f64>, want: &[f64]| {
            assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9), "{got:?} != {want:?}");
        };
        let ps = tree(&[("a1", 0.25, "a", None), ("a2", 0.25, "a", None), ("b1", 0.5, "b", None)]);
        // a2 asks for nothing: a1 gets all of a's half, not a third of the site.
        close(hierarchical_fill(100.0, &ps, &[1000.0, 0.0, 1000.0], 1.0), &[0.5, 0.0, 0.5]);
        // Flat water-filling would split a2's share by weight over a1 and b1.
        close(water_fill(100.0, &[0.25, 0.25, 0.5], &[1000.0, 0.0, 1000.0]), &[1.0 / 3.0, 0.0, 2.0 / 3.0]);
        // b asks for little: its funder's rest goes to a, split within a by weight.
        close(hierarchical_fill(100.0, &ps, &[1000.0, 1000.0, 10.0], 1.0), &[0.45, 0.45, 0.1]);
        // A borrowing limit of 20 accelerators over 1 s caps a1 below its
        // half while b wants more; once nobody else does, a1 runs beyond it.
        let ps = tree(&[("a1", 0.25, "a", Some(20.0)), ("a2", 0.25, "a", None), ("b1", 0.5, "b", None)]);
        close(hierarchical_fill(100.0, &ps, &[1000.0, 0.0, 1000.0], 1.0), &[0.2, 0.0, 0.8]);
        close(hierarchical_fill(100.0, &ps, &[1000.0, 0.0, 20.0], 1.0), &[0.8, 0.0, 0.2]);
        // Limits scale with the span: 20 accelerators for 2 s is 40.
        close(hierarchical_fill(100.0, &ps, &[1000.0, 0.0, 1000.0], 2.0), &[0.4, 0.0, 0.6]);
    }

    /// A run over `programmes` (name, share) with no jobs and no samples.
    pub(crate) fn run(programmes: &[(&str, f64)]) -> RunResult {
        RunResult {
            policy: "agora".into(),
            site: String::new(),
            workload: "test".into(),
            cluster: "tiny".into(),
            seed: 7,
            total_accels: 8,
            programmes: programmes
                .iter()
                .map(|&(n, s)| Programme { name: n.into(), share: s, ..Default::default() })
                .collect(),
            jobs: Vec::new(),
            samples: Vec::new(),
            sample_every: 10,
            start: 0,
            horizon: 0,
            stats: Default::default(),
            skipped: Default::default(),
            rows: 0,
            failures: 0,
            sched_wall: Duration::ZERO,
            cpu: Duration::ZERO,
            spare_accels: 0,
            tenants_by_job_id: false,
            wall: Duration::ZERO,
            audit: None,
        }
    }

    /// A job of programme `p`: (accels, submit, first_start, end, work).
    pub(crate) fn job(
        id: u64,
        p: usize,
        accels: u32,
        times: (Time, Option<Time>, Option<Time>),
        work: Secs,
    ) -> JobRecord {
        JobRecord {
            id,
            programme: p,
            tenant: format!("org/p{p}"),
            accels,
            submit: times.0,
            first_start: times.1,
            end: times.2,
            work,
            lost: 0,
            restart_s: 0,
            checkpoint_s: 0,
            grace_s: 0,
            ran_s: 0,
            timed_out: false,
            restarts: 0,
            preemptions: 0,
            node_replacements: 0,
            recorded_wait: None,
        }
    }

    /// A sample: (t, capacity, used, unusable, held per programme).
    pub(crate) fn sample(t: Time, capacity: u64, used: u64, unusable: u64, by_programme: &[u64]) -> Sample {
        Sample {
            t,
            capacity,
            used,
            queued_jobs: 0,
            queued_accels: 0,
            unusable,
            by_programme: by_programme.to_vec(),
            queued_by_programme: Vec::new(),
        }
    }

    fn no_nan(s: &Summary) {
        let mut all = vec![
            s.utilization,
            s.utilization_bound,
            s.jct.mean,
            s.wait.mean,
            s.share_error_max,
            s.jain_index,
            s.fragmentation,
            s.ettr,
            s.ettr_job_mean,
            s.ettr_job_p10,
        ];
        for g in s.by_programme.iter().chain(&s.by_size) {
            all.extend([g.jct.mean, g.wait.mean, g.offered_accel_s]);
        }
        for w in &s.share_windows {
            all.extend(w.delivered.iter().chain(&w.entitled));
        }
        all.extend(s.delivered_share.iter().chain(&s.entitled_share));
        assert!(all.iter().all(|v| v.is_finite()), "{s:?}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let check = |v: &[u64], p: f64, want: Option<u64>| assert_eq!(percentile(v, p), want, "p{p} of {v:?}");
        let ten: Vec<u64> = (1..=10).collect();
        check(&ten, 50.0, Some(5));
        check(&ten, 99.0, Some(10));
        check(&ten, 10.0, Some(1));
        check(&ten, 11.0, Some(2));
        check(&ten, 0.0, Some(1));
        check(&ten, 100.0, Some(10));
        check(&[42], 99.0, Some(42));
        check(&[], 50.0, None);
        let hundred: Vec<u64> = (1..=100).collect();
        check(&hundred, 99.0, Some(99));
        check(&hundred, 50.0, Some(50));
    }

    #[test]
    fn utilization_is_time_weighted() {
        // capacity 10 throughout; used 5 for 10 s, 10 for 30 s, 0 for 60 s
        // (the last sample holds until the horizon): 350 / 1000.
        let mut r = run(&[("a", 1.0)]);
        r.horizon = 100;
        r.total_accels = 10;
        r.samples = vec![sample(0, 10, 5, 2, &[5]), sample(10, 10, 10, 0, &[10]), sample(40, 10, 0, 4, &[0])];
        r.jobs = vec![job(1, 0, 5, (0, Some(0), Some(100)), 60)];
        let s = summarize(&r);
        assert_eq!(s.utilization, 0.35);
        assert_eq!(s.utilization_bound, 0.3);
        assert_eq!(s.fragmentation, (2.0 * 10.0 + 4.0 * 60.0) / 1000.0);
        // Offered more than the site could give: the offered load says so.
        r.jobs[0].work = 1000;
        assert_eq!(summarize(&r).utilization_bound, 5.0);
    }

    #[test]
    fn utilization_is_over_the_offered_window_against_all_accelerators() {
        // 10 accelerators, 2 of them spares (capacity 8). Arrivals at 0 and
        // 100; a long tail after the last arrival does not dilute the figure.
        let mut r = run(&[("a", 1.0)]);
        (r.total_accels, r.spare_accels, r.horizon) = (10, 2, 1000);
        r.samples = vec![sample(0, 8, 8, 0, &[8]), sample(100, 8, 1, 0, &[1])];
        r.jobs = vec![job(1, 0, 4, (0, Some(0), Some(1000)), 200), job(2, 0, 4, (100, Some(100), Some(200)), 100)];
        let s = summarize(&r);
        assert_eq!(s.busy_in_window, 800.0 / 1000.0);
        assert_eq!(s.utilization, 1.0, "1,700 accelerator-seconds delivered for a window of 1,000");
        assert_eq!(s.utilization_bound, (800.0 + 400.0) / 1000.0);
        assert_eq!(s.spare_fraction, 0.2);
        assert_eq!(s.utilization_schedulable, (800.0 + 900.0) / 8000.0);
    }

    #[test]
    fn time_distributions_overall_and_by_group() {
        let mut r = run(&[("a", 0.5), ("b", 0.5)]);
        r.horizon = 1000;
        r.jobs = vec![
            job(1, 0, 1, (0, Some(10), Some(110)), 100),
            job(2, 0, 8, (0, Some(30), Some(330)), 300),
            job(3, 1, 64, (5, Some(5), None), 1000),
            job(4, 1, 4096, (5, None, None), 1000),
        ];
        let s = summarize(&r);
        assert_eq!((s.jobs, s.started, s.completed), (4, 3, 2));
        assert_eq!(s.jct, Dist { n: 2, censored: 0, mean: 220.0, p50: 110, p99: 330 });
        // The job never started waited at least until the end (censored).
        assert_eq!(s.wait, Dist { n: 4, censored: 1, mean: 1035.0 / 4.0, p50: 10, p99: 995 });
        assert_eq!(s.by_programme[0].wait, Dist { n: 2, censored: 0, mean: 20.0, p50: 10, p99: 30 });
        assert_eq!(s.by_programme[1].wait, Dist { n: 2, censored: 1, mean: 497.5, p50: 0, p99: 995 });
        assert_eq!(s.by_programme[1].jct, Dist::default());
        let classes: Vec<(&str, usize)> = s.by_size.iter().map(|g| (g.name.as_str(), g.jobs)).collect();
        assert_eq!(classes, [("1", 1), ("2-8", 1), ("9-64", 1), ("65-512", 0), ("513-4k", 1), (">4k", 0)]);
        assert_eq!(s.by_size[1].offered_accel_s, 2400.0);
    }

    /// Two programmes over a 2400 s run sampled every 100 s (24 windows of 100 s).
    fn two_programmes(shares: (f64, f64), held: (u64, u64)) -> Summary {
        let mut r = run(&[("a", shares.0), ("b", shares.1)]);
        r.sample_every = 100;
        r.horizon = 2400;
        r.samples = (0..24).map(|k| sample(k * 100, 8, held.0 + held.1, 0, &[held.0, held.1])).collect();
        r.jobs = vec![job(1, 0, 4, (0, Some(0), None), 9999), job(2, 1, 4, (0, Some(0), None), 9999)];
        summarize(&r)
    }

    #[test]
    fn jain_is_one_when_delivery_follows_entitlement() {
        let check = |shares, held, want: f64| {
            let s = two_programmes(shares, held);
            assert!((s.jain_index - want).abs() < 1e-12, "{shares:?} {held:?}: {}", s.jain_index);
        };
        check((0.5, 0.5), (4, 4), 1.0);
        check((0.75, 0.25), (6, 2), 1.0);
        // x = (1.5, 0.5): (2)² / (2 · 2.5) = 0.8.
        check((0.5, 0.5), (6, 2), 0.8);
        // x = (1/0.75, 0) = (4/3, 0): J = 1/n = 0.5.
        check((0.75, 0.25), (8, 0), 0.5);
    }

    #[test]
    fn share_error_is_the_worst_window_gap() {
        let s = two_programmes((0.5, 0.5), (6, 2));
        assert_eq!(s.share_windows.len(), 24);
        assert_eq!((s.share_windows[3].start, s.share_windows[3].end), (300, 400));
        assert_eq!(s.share_windows[3].delivered, [0.75, 0.25]);
        assert_eq!(s.share_windows[3].entitled, [0.5, 0.5]);
        assert_eq!(s.share_error_max, 0.25);
        assert_eq!(two_programmes((0.75, 0.25), (6, 2)).share_error_max, 0.0);
    }

    #[test]
    fn entitlement_renormalises_over_programmes_with_demand() {
        // Three programmes; c has no job at all, b's only job ends at 1200.
        let mut r = run(&[("a", 0.5), ("b", 0.25), ("c", 0.25)]);
        r.sample_every = 100;
        r.horizon = 2400;
        r.samples = (0..24)
            .map(|k| sample(k * 100, 8, 8, 0, &[if k < 12 { 6 } else { 8 }, if k < 12 { 2 } else { 0 }, 0]))
            .collect();
        r.jobs = vec![job(1, 0, 8, (0, Some(0), None), 9999), job(2, 1, 2, (0, Some(0), Some(1200)), 1200)];
        let s = summarize(&r);
        let w = &s.share_windows;
        assert_eq!(w[0].entitled, [2.0 / 3.0, 1.0 / 3.0, 0.0]);
        assert_eq!(w[0].delivered, [0.75, 0.25, 0.0]);
        assert_eq!(w[12].entitled, [1.0, 0.0, 0.0]);
        assert_eq!(w[12].demand, [true, false, false]);
        assert!((s.share_error_max - (0.75 - 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(s.entitled_share, [2.0 / 3.0, 1.0 / 3.0, 0.0]);
    }

    #[test]
    fn ettr_overall_and_per_job() {
        let mut r = run(&[("a", 1.0)]);
        let mut a = job(1, 0, 8, (0, Some(0), Some(100)), 60);
        (a.lost, a.restart_s, a.ran_s) = (30, 10, 100);
        let b = job(2, 0, 8, (0, Some(0), Some(100)), 100);
        let mut unfinished = job(3, 0, 8, (0, Some(0), None), 50);
        unfinished.lost = 50;
        r.jobs = vec![a, b, unfinished];
        let s = summarize(&r);
        assert_eq!(s.ettr, 160.0 / 200.0);
        assert_eq!((s.ettr_loss.lost_work, s.ettr_loss.restart, s.ettr_loss.other), (0.15, 0.05, 0.0));
        assert_eq!(s.ettr_job_mean, 0.8);
        assert_eq!(s.ettr_job_p10, 0.6);
        // Timed out: not completed, no JCT, no ETTR.
        r.jobs[1].timed_out = true;
        let s = summarize(&r);
        assert_eq!((s.completed, s.timed_out, s.jct.n, s.ettr), (1, 1, 1, 0.6));
    }

    #[test]
    fn empty_inputs_give_zeros() {
        let mut r = run(&[]);
        let s = summarize(&r);
        no_nan(&s);
        assert_eq!((s.jobs, s.utilization, s.jain_index, s.share_error_max, s.ettr), (0, 0.0, 0.0, 0.0, 0.0));
        assert!(s.share_windows.is_empty());
        // Programmes and jobs, but nothing sampled or completed.
        r = run(&[("a", 0.0), ("b", 0.0)]);
        r.horizon = 50;
        r.jobs = vec![job(1, 0, 8, (0, None, None), 10)];
        no_nan(&summarize(&r));
        // Samples of a site that has no capacity and a zero-length horizon.
        r.samples = vec![sample(0, 0, 0, 0, &[0, 0])];
        r.horizon = 0;
        no_nan(&summarize(&r));
        r.horizon = 50;
        let s = summarize(&r);
        no_nan(&s);
        assert_eq!(s.share_windows.len(), 5);
        assert_eq!(s.share_error_max, 0.0);
    }
}
