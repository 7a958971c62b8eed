//! One scheduling cycle.
//!
//! 1. advance: take back the accelerators of preempted jobs whose grace
//!    period ended, and requeue them (usage is already charged to `now`).
//! 2. snapshot: nominal entitlements at the current capacity.
//! 3. claim: the nodes each job waiting for its preemption victims will
//!    use are held for it; it starts there as soon as they are free. Then
//!    jobs a failure threw back are looked at, in order.
//! 4. iterate: walk pending jobs in fair-share order; for each: quota,
//!    then placement; a job that does not fit may preempt lower-class work,
//!    or get a reservation (EASY: the first one), after which later jobs
//!    only backfill.
//! 5. soak: work beyond its tenants' limits runs opportunistically on
//!    what nobody entitled could use (evicted first), so no accelerator
//!    idles while some job could use it.
//! 6. release: drop this cycle's holds and record the report.
//!
//! Holds are the only state a cycle leaves on nodes temporarily; all other
//! changes (starts, preemptions) are committed as they are decided, in the
//! same order as the decisions are emitted.
//!
//! Templates: in a deep backlog most looks fail the same way. Between two
//! changes of state (a start, a preemption, a reservation, or the walk
//! moving to another queue: an *epoch*), a look that only fails (no search
//! it did can succeed later in the epoch, no reservation tried) is a
//! template for every later job of its `Shape` whose time limit is no
//! shorter than the template's bound: such a look would fail the same way,
//! with the same reason (the searches it would make are the ones that
//! failed, now in the failure cache). The walk passes over those jobs
//! without loading them; their reasons are `Lazy`: the runs of keys passed
//! over in each epoch and the templates' reasons, resolved when asked.

use super::pool::Slot;
use super::reserve::Reservation;
use super::*;

/// Per-cycle working state.
pub(super) struct Ctx {
    pub reservations: Vec<Reservation>,
    /// Placements known to fail this cycle (availability only shrinks
    /// within a cycle, so a failure stays a failure).
    pub failed: FailCache,
    pub preempt_budget: usize,
    /// Free accelerators on held nodes.
    pub held_free: u64,
    pub scanned_after_reservation: usize,
    /// Nodes held for claimants during this cycle.
    pub claim_holds: Vec<NodeId>,
    /// Jobs over a borrowing or lending limit, for the soak step.
    pub deferred: Vec<(u32, Look)>,
    /// Bumped whenever reservations' held nodes change (a reservation is
    /// made, a job starts on held nodes).
    pub held_gen: u64,
    /// Held nodes with at least k free accelerators of a type, counted
    /// once per (type, k) and `held_gen`.
    pub held_counts: Vec<((u32, u8), u64, u32)>,
    /// The current epoch of the cycle (see the module's note).
    pub epoch: u32,
    /// The last look changed state or tried a reservation: no template.
    pub changed: bool,
    /// The last look stopped at its tenants' limits.
    pub limited: bool,
}

/// Templates of this cycle's looks, by shape number.
#[derive(Default)]
pub(super) struct Templates(Vec<Template>);

#[derive(Clone, Copy)]
struct Template {
    cycle: u64,
    epoch: u32,
    /// Good for jobs whose time limit is at least this.
    min_limit: u32,
    /// The look deferred the job to the soak step.
    deferred: bool,
}

impl Templates {
    #[inline]
    fn get(&self, cycle: u64, epoch: u32, look: &Look) -> Option<&Template> {
        let t = self.0.get(look.shape as usize)?;
        (t.cycle == cycle && t.epoch == epoch && look.time_limit >= t.min_limit).then_some(t)
    }

    fn put(&mut self, shape: u32, t: Template) {
        let i = shape as usize;
        if i >= self.0.len() {
            let none = Template { cycle: u64::MAX, epoch: 0, min_limit: 0, deferred: false };
            self.0.resize((i + 1).next_power_of_two(), none);
        }
        self.0[i] = t;
    }
}

/// The reasons of the jobs the last walk passed over by template: per
/// queue, runs of keys (first, last, epoch) walked in one epoch; and the
/// reason of each template (epoch, shape), in epoch order. A pending job
/// whose reason was not written in the last cycle and whose key lies in a
/// run has the reason of its shape's template in that run's epoch.
#[derive(Debug)]
pub(super) struct Lazy {
    cycle: u64,
    runs: Vec<Vec<(QKey, QKey, u32)>>,
    reasons: Vec<(u32, u32, Reason)>,
}

impl Lazy {
    pub fn new(queues: usize) -> Lazy {
        Lazy { cycle: 0, runs: vec![Vec::new(); queues], reasons: Vec::new() }
    }

    /// Restored tables have one run list per queue and known shapes.
    pub fn fits(&self, queues: usize, shapes: usize) -> bool {
        self.runs.len() == queues && self.reasons.iter().all(|r| (r.1 as usize) < shapes)
    }

    fn begin(&mut self, cycle: u64) {
        self.cycle = cycle;
        self.runs.iter_mut().for_each(Vec::clear);
        self.reasons.clear();
    }

    #[inline]
    fn passed(&mut self, queue: usize, key: QKey, epoch: u32) {
        let runs = &mut self.runs[queue];
        match runs.last_mut() {
            Some(run) if run.2 == epoch => run.1 = key,
            _ => runs.push((key, key, epoch)),
        }
    }

    fn template(&mut self, epoch: u32, shape: u32, reason: &Reason) {
        // A template re-made in its epoch (for a shorter time limit) has
        // the same reason: it does not depend on the time limit, and
        // `reason` finds the first.
        debug_assert!(self.reasons.iter().rev().take_while(|r| r.0 == epoch).all(|r| r.1 != shape || r.2 == *reason));
        self.reasons.push((epoch, shape, reason.clone()));
    }

    /// The reason of a job passed over in cycle `cycle`, if it was.
    pub fn reason(&self, cycle: u64, queue: usize, key: QKey, shape: u32) -> Option<&Reason> {
        if cycle != self.cycle {
            return None;
        }
        let runs = self.runs.get(queue)?;
        let i = runs.partition_point(|r| r.0 <= key);
        let &(_, last, epoch) = runs.get(i.checked_sub(1)?)?;
        if key > last {
            return None;
        }
        let from = self.reasons.partition_point(|r| r.0 < epoch);
        self.reasons[from..].iter().take_while(|r| r.0 == epoch).find(|r| r.1 == shape).map(|r| &r.2)
    }
}

crate::persist_fields!(Lazy { cycle, runs, reasons });

/// How a job is looked at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// In order: may preempt or reserve.
    Scan,
    /// Work beyond its limits, on capacity nobody entitled wanted.
    Soak,
}

/// (type, or reservation and type; k; widest scope) -> the smallest node
/// count known not to fit. A handful of entries: a linear scan beats hashing.
#[derive(Default)]
pub(super) struct FailCache(Vec<((u32, u8, Scope), u32)>);

impl FailCache {
    pub fn get(&self, key: (u32, u8, Scope)) -> u32 {
        self.0.iter().find(|(k, _)| *k == key).map_or(u32::MAX, |(_, n)| *n)
    }
    pub fn insert(&mut self, key: (u32, u8, Scope), n: u32) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, m)) => *m = (*m).min(n),
            None => self.0.push((key, n)),
        }
    }
}

/// The walk's copy of one queue: its keys in order, flat, so that passing
/// over thousands of them reads memory in sequence. The queue's B-tree
/// stays the record; the copy follows it. A job that joins after every key
/// is appended; one that joins elsewhere (a higher class, a requeued job
/// keeping its age) goes to a short sorted side list, merged into the copy
/// once it outgrows the square root of the queue's length, so that a join
/// costs O(sqrt n) amortized and the walk merges the two as it reads. A job
/// that leaves becomes a gap (`Look::GAP`), squeezed out once gaps are
/// many. During a walk a queue only loses jobs behind the walk's place
/// (the job looked at starts); nothing joins until the walk ends (requeues
/// happen in the advance step and on events). Derived: not persisted.
pub(super) struct Flat {
    keys: Vec<(QKey, Look)>,
    side: Vec<(QKey, Look)>,
    gaps: usize,
    /// Not built yet (a new or restored scheduler): built before a walk.
    stale: bool,
    walking: bool,
    /// The walk's places: the next entries to read in `keys` and `side`.
    at: usize,
    side_at: usize,
}

impl Default for Flat {
    fn default() -> Flat {
        Flat { keys: Vec::new(), side: Vec::new(), gaps: 0, stale: true, walking: false, at: 0, side_at: 0 }
    }
}

impl Flat {
    /// A job joins the queue under `key`.
    pub fn join(&mut self, key: QKey, look: Look) {
        debug_assert!(!self.walking, "nothing joins a queue during a walk");
        if self.stale {
            return;
        }
        let last = |v: &[(QKey, Look)]| v.last().map(|e| e.0);
        if last(&self.keys).max(last(&self.side)).is_none_or(|l| l < key) {
            self.keys.push((key, look));
            return;
        }
        let i = self.side.partition_point(|e| e.0 < key);
        self.side.insert(i, (key, look));
        if self.side.len() > 32 && self.side.len().pow(2) > self.keys.len() {
            self.merge();
        }
    }

    /// The job under `key` leaves the queue.
    pub fn leave(&mut self, key: QKey) {
        if self.stale {
            return;
        }
        if let Ok(i) = self.keys.binary_search_by(|e| e.0.cmp(&key)) {
            debug_assert!(self.keys[i].1 != Look::GAP, "a key leaves once");
            self.keys[i].1 = Look::GAP;
            self.gaps += 1;
            // Between walks, do not let gaps outgrow the jobs.
            if !self.walking && self.gaps > 64 && self.gaps * 2 > self.keys.len() {
                self.squeeze();
            }
        } else if let Ok(i) = self.side.binary_search_by(|e| e.0.cmp(&key)) {
            match self.walking {
                true => self.side[i].1 = Look::GAP,
                false => drop(self.side.remove(i)),
            }
        } else {
            debug_assert!(false, "a queued key is in the walk's copy");
            self.stale = true;
        }
    }

    fn squeeze(&mut self) {
        self.keys.retain(|e| e.1 != Look::GAP);
        self.gaps = 0;
    }

    /// The side list into the copy (which loses its gaps on the way).
    fn merge(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        let mut merged = Vec::with_capacity(keys.len() - self.gaps + self.side.len());
        let mut side = std::mem::take(&mut self.side).into_iter().filter(|e| e.1 != Look::GAP).peekable();
        for e in keys.into_iter().filter(|e| e.1 != Look::GAP) {
            while let Some(s) = side.next_if(|s| s.0 < e.0) {
                merged.push(s);
            }
            merged.push(e);
        }
        merged.extend(side);
        self.keys = merged;
        self.gaps = 0;
    }

    /// Ready for a walk of `queue`, from its first key.
    fn ready(&mut self, queue: &BTreeMap<QKey, Look>) {
        if self.stale {
            self.keys.clear();
            self.side.clear();
            self.keys.extend(queue.iter().map(|(k, l)| (*k, *l)));
            self.gaps = 0;
            self.stale = false;
        } else if self.gaps > 0 && self.gaps * 8 >= self.keys.len() {
            self.squeeze();
        }
        self.side.retain(|e| e.1 != Look::GAP);
        self.at = 0;
        self.side_at = 0;
        self.walking = true;
        debug_assert!(
            {
                let (a, s) = (self.at, self.side_at);
                let all: Vec<(QKey, Look)> = std::iter::from_fn(|| self.next()).collect();
                (self.at, self.side_at) = (a, s);
                all.iter().map(|e| (&e.0, &e.1)).eq(queue.iter())
            },
            "the walk's copy of a queue follows it"
        );
    }

    /// The next key of the walk.
    fn next(&mut self) -> Option<(QKey, Look)> {
        while self.keys.get(self.at).is_some_and(|e| e.1 == Look::GAP) {
            self.at += 1;
        }
        while self.side.get(self.side_at).is_some_and(|e| e.1 == Look::GAP) {
            self.side_at += 1;
        }
        match (self.keys.get(self.at), self.side.get(self.side_at)) {
            (Some(&k), Some(&s)) if s.0 < k.0 => {
                self.side_at += 1;
                Some(s)
            }
            (Some(&k), _) => {
                self.at += 1;
                Some(k)
            }
            (None, Some(&s)) => {
                self.side_at += 1;
                Some(s)
            }
            (None, None) => None,
        }
    }

    /// How far a run over `keys` may go from the walk's place before the
    /// side list's next key comes first.
    fn run_end(&self, end: usize) -> usize {
        match self.side.get(self.side_at) {
            Some(s) => self.at + self.keys[self.at..end].partition_point(|e| e.0 < s.0),
            None => end,
        }
    }
}

/// The outcome of looking at one job.
enum Outcome {
    Started,
    Waiting(Reason),
}

impl Scheduler {
    pub(super) fn cycle(&mut self, out: &mut Vec<Decision>) {
        let now = self.now;
        self.cycle += 1;
        self.stats.cycles += 1;
        let mut report = CycleReport { now, ..Default::default() };
        let decisions_before = out.len();

        // 1. advance
        // Requeued now, so their reason (`New`) is of this cycle: the walk
        // looks at them in full (a template would leave `New` standing).
        let mut fresh = Vec::new();
        while let Some(&(until, slot)) = self.grace.first() {
            if until > now {
                break;
            }
            let job = self.jobs[slot as usize].as_mut().expect("job exists");
            Self::settle_preempted(job, now);
            self.requeue(slot, RequeueCause::Preempted, out);
            fresh.push(slot);
        }

        // 2. snapshot
        self.fair.set_capacity(&self.ents, self.capacity);
        let mut ctx = Ctx {
            reservations: Vec::new(),
            failed: FailCache::default(),
            preempt_budget: if self.cfg.preemption { self.cfg.max_preemptions_per_cycle } else { 0 },
            held_free: 0,
            scanned_after_reservation: 0,
            claim_holds: Vec::new(),
            deferred: Vec::new(),
            held_gen: 0,
            held_counts: Vec::new(),
            epoch: 0,
            changed: false,
            limited: false,
        };

        // 3. claim
        let claimants = std::mem::take(&mut self.claimants);
        let mut holds: Vec<NodeId> = Vec::new();
        for &slot in &claimants {
            if let Some(job) = self.jobs[slot as usize].as_ref().filter(|j| j.state == JobState::Pending) {
                holds.extend(job.claim.iter().filter(|n| !self.pool.st[n.idx()].held));
            }
        }
        self.pool.set_held(&self.topo, &mut holds, true);
        ctx.claim_holds = holds;
        let mut waiting = Vec::new();
        for slot in claimants {
            let Some(job) = self.jobs[slot as usize].as_ref() else {
                continue;
            };
            if job.state != JobState::Pending || job.awaiting.is_none() {
                continue;
            }
            let until = job.awaiting.expect("claimant awaits");
            if self.start_on_claim(slot, out) {
                report.started += 1;
            } else if until <= now {
                // The victims left and the gang still does not fit (a node
                // failed meanwhile): back to the queue, in order.
                let job = self.jobs[slot as usize].as_mut().expect("job exists");
                job.awaiting = None;
                job.restarting = false;
                let mut claim = std::mem::take(&mut job.claim);
                self.pool.set_held(&self.topo, &mut claim, false);
            } else {
                waiting.push(slot);
            }
        }
        self.claimants = waiting;

        // 3b. restart: jobs a failure threw back go first, in order.
        let mut again = Vec::new();
        for slot in std::mem::take(&mut self.restarts) {
            let Some(job) = self.jobs[slot as usize].as_ref() else {
                continue;
            };
            if !job.restarting || job.state != JobState::Pending || job.awaiting.is_some() {
                continue;
            }
            report.examined += 1;
            let look = self.filed_look(job).expect("a pending job is queued");
            if self.look_at(slot, look, &mut ctx, out) {
                report.started += 1;
            } else if self.jobs[slot as usize].as_ref().is_some_and(|j| j.awaiting.is_none()) {
                again.push(slot);
            }
        }
        self.restarts = again;

        // 4. iterate
        let global = self.cfg.ordering != Ordering::FairShare;
        self.picker.clear();
        for leaf in 0..self.queues.len() {
            if !global && !self.queues[leaf].is_empty() {
                self.picker.activate(&self.ents, &self.fair, TenantId(leaf as u32));
            }
        }
        // The leaf picked last stays the pick until a job starts (the only
        // change of allocations, hence of the order, during the walk) or
        // its queue runs out.
        let mut picked: Option<(TenantId, u64)> = None;
        // Jobs the walk leaves alone (waiting for victims, or looked at in
        // step 3b), known without loading every job.
        let mut apart: Vec<u32> = self.claimants.iter().chain(&self.restarts).copied().collect();
        apart.sort_unstable();
        // Their keys, and those of the jobs requeued in the advance step,
        // by queue: no template passes over them.
        let mut unpassable: Vec<(usize, QKey)> = apart
            .iter()
            .chain(&fresh)
            .filter_map(|&s| self.jobs[s as usize].as_ref().filter(|j| j.state == JobState::Pending))
            .map(|j| (self.queue_of(&j.spec), j.qkey))
            .collect();
        unpassable.sort_unstable();
        let mut templates = std::mem::take(&mut self.templates);
        self.lazy.begin(self.cycle);
        let mut last_leaf = None;
        for (f, q) in self.flats.iter_mut().zip(&self.queues) {
            f.ready(q);
        }
        let stop = loop {
            let leaf = if global {
                ROOT
            } else {
                match picked {
                    Some((l, started)) if started == self.stats.started => l,
                    _ => match self.picker.pick(&self.ents) {
                        Some(l) => {
                            picked = Some((l, self.stats.started));
                            l
                        }
                        None => break Stop::Exhausted,
                    },
                }
            };
            let Some((key, look)) = self.flats[leaf.idx()].next() else {
                if global {
                    break Stop::Exhausted;
                }
                self.picker.deactivate(&self.ents, leaf);
                picked = None;
                continue;
            };
            if last_leaf != Some(leaf) {
                last_leaf = Some(leaf);
                ctx.epoch += 1;
            }
            let slot = key.3;
            report.examined += 1;
            if !ctx.reservations.is_empty() {
                ctx.scanned_after_reservation += 1;
                if ctx.scanned_after_reservation > self.cfg.max_backfill_scan {
                    break Stop::ScanLimit;
                }
            }
            let is_apart = !apart.is_empty() && apart.binary_search(&slot).is_ok();
            debug_assert_eq!(
                is_apart,
                self.jobs[slot as usize].as_ref().is_some_and(|j| j.awaiting.is_some() || j.restarting),
                "the walk's list of jobs apart"
            );
            if is_apart {
                continue;
            }
            // No template passes over a job requeued in the advance step
            // (its reason must become this cycle's): where the key stands
            // among those of `unpassable` (the ones apart were left above).
            let q = leaf.idx();
            let i = unpassable.partition_point(|u| *u < (q, key));
            let fresh_job = unpassable.get(i) == Some(&(q, key));
            if !self.eager && !fresh_job {
                if let Some(t) = templates.get(self.cycle, ctx.epoch, &look) {
                    // The look would fail as the template's did: nothing
                    // changes, so neither does `nothing_more_fits`.
                    if t.deferred {
                        ctx.deferred.push((slot, look));
                    }
                    self.lazy.passed(q, key, ctx.epoch);
                    // And so for the next ones, as long as they have
                    // templates too (the same checks as above; a gap has
                    // none), without leaving this loop.
                    let limited = !ctx.reservations.is_empty();
                    let budget = match limited {
                        true => self.cfg.max_backfill_scan.saturating_sub(ctx.scanned_after_reservation),
                        false => usize::MAX,
                    };
                    let bound = unpassable.get(i).filter(|u| u.0 == q).map(|u| u.1);
                    let f = &mut self.flats[q];
                    let from = f.at;
                    // The run ends at the latest before the side list's
                    // next key, before the first key left apart or fresh,
                    // or at the scan limit (counted in entries: a gap has no
                    // template and ends the run).
                    let mut end = f.run_end(f.keys.len().min(from.saturating_add(budget)));
                    if let Some(b) = bound {
                        end = from + f.keys[from..end].partition_point(|e| e.0 < b);
                    }
                    let mut to = from;
                    for &(k, l) in &f.keys[from..end] {
                        let Some(t) = templates.get(self.cycle, ctx.epoch, &l) else {
                            break;
                        };
                        if t.deferred {
                            ctx.deferred.push((k.3, l));
                        }
                        to += 1;
                    }
                    f.at = to;
                    let n = to - from;
                    report.examined += n;
                    if limited {
                        ctx.scanned_after_reservation += n;
                    }
                    if n > 0 {
                        self.lazy.passed(q, f.keys[to - 1].0, ctx.epoch);
                    }
                    continue;
                }
            }
            if self.look_at(slot, look, &mut ctx, out) {
                report.started += 1;
                ctx.epoch += 1;
            } else if self.cfg.backfill == Backfill::Strict {
                break Stop::Blocked;
            } else if ctx.changed {
                ctx.epoch += 1;
            } else if !self.eager {
                let t = self.template(slot, &ctx);
                let job = self.jobs[slot as usize].as_ref().expect("job exists");
                self.lazy.template(ctx.epoch, look.shape, &job.reason);
                templates.put(look.shape, t);
            }
            if self.nothing_more_fits(&ctx) {
                break Stop::Full;
            }
        };
        for f in &mut self.flats {
            f.walking = false;
        }
        self.stats.jobs_examined += report.examined as u64;

        // 5. soak
        if self.cfg.work_conserving && stop != Stop::Full {
            // Templates again, per epoch of the soak step (a start ends
            // one): a failed attempt has no effect but on the failure cache.
            ctx.epoch += 1;
            ctx.limited = false;
            for (slot, look) in std::mem::take(&mut ctx.deferred) {
                if !self.soak(slot, look, &mut templates, &mut ctx, &mut report, out) {
                    break;
                }
            }
        }
        self.templates = templates;

        // 6. release
        self.pool.set_held(&self.topo, &mut ctx.claim_holds, false);
        self.last_holds.clear();
        for &slot in &self.claimants {
            self.last_holds.extend(&self.jobs[slot as usize].as_ref().expect("claimant").claim);
        }
        for r in &mut ctx.reservations {
            self.last_holds.extend(&r.held);
            self.pool.set_held(&self.topo, &mut r.held, false);
            report.reservations.push((self.jobs[r.job as usize].as_ref().expect("job").spec.id, r.start));
        }
        report.preempted = out[decisions_before..].iter().filter(|d| matches!(d, Decision::Preempt { .. })).count();
        report.stop = Some(stop);
        self.report = report;
        self.dirty = false;
    }

    /// Nodes held for this cycle's reservations with room for `k` of type `t`.
    fn held_ge(&self, ctx: &mut Ctx, t: TypeId, k: u8) -> u32 {
        let key = (t.0, k);
        if let Some(&(_, _, c)) = ctx.held_counts.iter().find(|(k2, g, _)| *k2 == key && *g == ctx.held_gen) {
            return c;
        }
        let count = ctx
            .reservations
            .iter()
            .flat_map(|r| r.held.iter())
            .filter(|c| {
                let st = &self.pool.st[c.idx()];
                st.up && st.free_count() >= k && self.topo.blocks[self.topo.nodes[c.idx()].block.idx()].accel_type == t
            })
            .count() as u32;
        ctx.held_counts.retain(|(k2, _, _)| *k2 != key);
        ctx.held_counts.push((key, ctx.held_gen, count));
        count
    }

    /// The template a look at job `slot` that failed without changing
    /// anything makes for later jobs of its shape in this epoch: good for
    /// those whose time limit keeps them off every reservation's held nodes
    /// that this shape has not yet been tried on (a shorter limit may fit
    /// there before the reservation starts).
    fn template(&self, slot: u32, ctx: &Ctx) -> Template {
        let spec = &self.jobs[slot as usize].as_ref().expect("job exists").spec;
        let mut min_limit = 0;
        if !ctx.limited {
            let min = spec.min_accels.unwrap_or(spec.accels);
            let max_scope = spec.constraint.required_scope();
            for (r, res) in ctx.reservations.iter().enumerate() {
                if res.held.is_empty() {
                    continue;
                }
                let open = types_of(self.topo.types.len() as u32, spec.accel_type).any(|t| {
                    self.shape(spec, t, min)
                        .is_some_and(|(k, n)| n < ctx.failed.get((t.0 | (r as u32 + 1) << 16, k, max_scope)))
                });
                if open {
                    // Beyond u32 no job's limit reaches: the template is then
                    // good for none (MAX_DURATION < u32::MAX).
                    let need = res.start.saturating_sub(self.now).saturating_add(1);
                    min_limit = min_limit.max(need.min(u32::MAX as u64) as u32);
                }
            }
        }
        let deferred = ctx.limited && self.cfg.work_conserving;
        Template { cycle: self.cycle, epoch: ctx.epoch, min_limit, deferred }
    }

    /// One job of the soak step; false when nothing more fits.
    fn soak(
        &mut self,
        slot: u32,
        look: Look,
        templates: &mut Templates,
        ctx: &mut Ctx,
        report: &mut CycleReport,
        out: &mut Vec<Decision>,
    ) -> bool {
        // (Passing over a job changes nothing: no need to ask again.)
        if !self.eager && templates.get(self.cycle, ctx.epoch, &look).is_some() {
            return true;
        }
        if self.nothing_more_fits(ctx) {
            return false;
        }
        if let Outcome::Started = self.attempt(slot, ctx, Mode::Soak, out) {
            report.started += 1;
            ctx.epoch += 1;
        } else if !self.eager {
            templates.put(look.shape, self.template(slot, ctx));
        }
        true
    }

    /// Look at one pending job in order: start it, or record why it waits.
    /// True if it started.
    /// A job stopped at its tenants' limits goes to the soak step (filed
    /// with its `look`, which the caller has in hand).
    fn look_at(&mut self, slot: u32, look: Look, ctx: &mut Ctx, out: &mut Vec<Decision>) -> bool {
        ctx.changed = false;
        ctx.limited = false;
        match self.attempt(slot, ctx, Mode::Scan, out) {
            Outcome::Started => true,
            Outcome::Waiting(reason) => {
                let job = self.jobs[slot as usize].as_mut().expect("job exists");
                job.reason = reason;
                job.reason_cycle = self.cycle;
                if ctx.limited && self.cfg.work_conserving {
                    ctx.deferred.push((slot, look));
                }
                false
            }
        }
    }

    /// Start a claimant on the nodes held for it, if they are free now.
    fn start_on_claim(&mut self, slot: u32, out: &mut Vec<Decision>) -> bool {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let min = job.spec.min_accels.unwrap_or(job.spec.accels);
        // Limits may have tightened since the claim was made.
        if self.headroom(job.spec.tenant).0 < min as u64 {
            return false;
        }
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let spec = &job.spec;
        let max_scope = spec.constraint.required_scope();
        for t in types_of(self.topo.types.len() as u32, spec.accel_type) {
            let Some((k, n)) = self.shape(spec, t, min) else {
                continue;
            };
            if let Some(nodes) = self.pool.find_among(&self.topo, &job.claim, t, k, n, max_scope) {
                let scope = self.scope_of(&nodes);
                let mut claim = std::mem::take(&mut self.jobs[slot as usize].as_mut().expect("job").claim);
                self.start(slot, k, &nodes, min, scope, false, false, out);
                // What the gang did not use is free for others again.
                self.pool.set_held(&self.topo, &mut claim, false);
                return true;
            }
        }
        false
    }

    /// The tightest domain that holds these nodes.
    pub(super) fn scope_of(&self, nodes: &[NodeId]) -> Scope {
        let first = &self.topo.nodes[nodes[0].idx()];
        if nodes.iter().all(|n| self.topo.nodes[n.idx()].block == first.block) {
            Scope::Block
        } else if nodes.iter().all(|n| self.topo.nodes[n.idx()].pod == first.pod) {
            Scope::Pod
        } else {
            Scope::Site
        }
    }

    /// True when no pending job can start or preempt in this cycle.
    fn nothing_more_fits(&self, ctx: &Ctx) -> bool {
        let free = (0..self.topo.types.len() as u32).any(|t| self.pool.site_nodes_ge(TypeId(t), 1) > 0);
        !free && ctx.held_free == 0 && (ctx.preempt_budget == 0 || self.by_end.is_empty())
    }

    /// How many accelerators the job's tenants may still take, and why not
    /// more: borrowing limits on the path and capacity kept by lenders.
    fn headroom(&mut self, leaf: TenantId) -> (u64, Option<Reason>) {
        // Cached per leaf until any allocation or the capacity changes.
        if let Some((generation, room, why)) = &self.room_cache[leaf.idx()] {
            if *generation == self.fair.generation {
                return (*room, why.clone());
            }
        }
        let (room, why) = self.compute_headroom(leaf);
        self.room_cache[leaf.idx()] = Some((self.fair.generation, room, why.clone()));
        (room, why)
    }

    fn compute_headroom(&self, leaf: TenantId) -> (u64, Option<Reason>) {
        let mut room = u64::MAX;
        let mut why = None;
        for t in self.ents.path_up(leaf) {
            if let Some(b) = self.ents.get(t).borrow_limit {
                let limit = self.fair.nominal[t.idx()].floor() as u64 + b;
                let used = self.fair.held(t);
                let r = limit.saturating_sub(used);
                if r < room {
                    room = r;
                    why = Some(Reason::BorrowLimit { tenant: t, used, limit, soak: self.cfg.work_conserving });
                }
            }
        }
        if !self.lenders.is_empty() {
            // Opportunistic work gives way: it leaves room for the entitled.
            let free = self.capacity.saturating_sub(self.fair.held(ROOT));
            let mut kept = 0u64;
            let mut biggest = (0u64, ROOT);
            for &l in &self.lenders {
                if self.ents.path_up(leaf).any(|a| a == l) {
                    continue;
                }
                let lend = self.ents.get(l).lend_limit.unwrap_or(u64::MAX) as f64;
                let k = (self.fair.nominal[l.idx()] - lend - self.fair.held(l) as f64).max(0.0) as u64;
                kept += k;
                if k > biggest.0 {
                    biggest = (k, l);
                }
            }
            let r = free.saturating_sub(kept);
            if kept > 0 && r < room {
                room = r;
                why = Some(Reason::KeptForLender { tenant: biggest.1, kept, soak: self.cfg.work_conserving });
            }
        }
        (room, why)
    }

    /// Try to start one pending job; on failure, maybe preempt or reserve.
    fn attempt(&mut self, slot: u32, ctx: &mut Ctx, mode: Mode, out: &mut Vec<Decision>) -> Outcome {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let spec = job.spec.clone();
        let leaf = spec.tenant;
        let min = spec.min_accels.unwrap_or(spec.accels);
        let mut target = spec.accels;
        if mode == Mode::Scan {
            let (room, why) = self.headroom(leaf);
            if room < min as u64 {
                ctx.limited = true;
                return Outcome::Waiting(why.expect("limited room has a reason"));
            }
            target = spec.accels.min(room.min(u32::MAX as u64) as u32);
        }
        let soak = mode == Mode::Soak;
        let max_scope = spec.constraint.required_scope();
        let ntypes = self.topo.types.len() as u32;

        // Placement on free, unheld nodes: tightest domain first. An elastic
        // job with automatic nodes also tries the node size of its minimum.
        let targets = [target, min];
        let targets = if spec.per_node == 0 && min < target { &targets[..] } else { &targets[..1] };
        for (t, target) in types_of(ntypes, spec.accel_type).flat_map(|t| targets.iter().map(move |&g| (t, g))) {
            let Some((k, n_max)) = self.shape(&spec, t, target) else {
                continue;
            };
            let n_min = min.div_ceil(k as u32);
            let key = (t.0, k, max_scope);
            let known_bad = ctx.failed.get(key);
            if n_min >= known_bad {
                continue;
            }
            let mut found = if n_max < known_bad {
                self.pool.find(&self.topo, t, k, n_max, max_scope).map(|(v, s)| (v, s, target))
            } else {
                None
            };
            if found.is_none() && n_min < n_max {
                // Elastic: the largest gang that fits (fit is monotone in size).
                let (mut lo, mut hi) = (n_min, n_max.min(known_bad) - 1);
                while lo <= hi {
                    let mid = lo + (hi - lo) / 2;
                    match self.pool.find(&self.topo, t, k, mid, max_scope) {
                        Some((v, s)) => {
                            found = Some((v, s, mid * k as u32));
                            lo = mid + 1;
                        }
                        None => {
                            if mid == 0 {
                                break;
                            }
                            hi = mid - 1
                        }
                    }
                }
            }
            match found {
                Some((nodes, scope, total)) => {
                    let backfilled = !ctx.reservations.is_empty();
                    self.start(slot, k, &nodes, total, scope, backfilled, soak, out);
                    return Outcome::Started;
                }
                None => {
                    ctx.failed.insert(key, n_min);
                }
            }
        }

        // Short jobs may use nodes held for a reservation they finish before.
        let end = self.now.saturating_add(spec.time_limit);
        for r in 0..ctx.reservations.len() {
            if end > ctx.reservations[r].start || ctx.reservations[r].held.is_empty() {
                continue;
            }
            for t in types_of(ntypes, spec.accel_type) {
                let Some((k, n)) = self.shape(&spec, t, min) else {
                    continue;
                };
                // Held nodes of reservation r: cached apart from free nodes.
                let key = (t.0 | (r as u32 + 1) << 16, k, max_scope);
                if n >= ctx.failed.get(key) {
                    continue;
                }
                let found = self.pool.find_among(&self.topo, &ctx.reservations[r].held, t, k, n, max_scope);
                if found.is_none() {
                    ctx.failed.insert(key, n);
                }
                if let Some(nodes) = found {
                    let before: u64 = nodes.iter().map(|n| self.pool.st[n.idx()].free_count() as u64).sum();
                    let scope = self.scope_of(&nodes);
                    self.start(slot, k, &nodes, min, scope, true, soak, out);
                    let after: u64 = nodes.iter().map(|n| self.pool.st[n.idx()].free_count() as u64).sum();
                    ctx.held_free -= before - after;
                    ctx.held_gen += 1;
                    return Outcome::Started;
                }
            }
        }
        if soak {
            // Keeps the reason it was given in order (its limit).
            let job = self.jobs[slot as usize].as_ref().expect("job exists");
            return Outcome::Waiting(job.reason.clone());
        }

        // Preemption: an entitled job may reclaim from lower classes.
        let claim = if ctx.preempt_budget > 0 { self.claim_rank(slot, min) } else { None };
        if let Some(rank) = claim {
            for t in types_of(ntypes, spec.accel_type) {
                let Some((k, n)) = self.shape(&spec, t, min) else {
                    continue;
                };
                // Searches that failed for this shape and rank fail again.
                let key = (t.0 | (rank as u32 + 1) << 24, k, max_scope);
                if n >= ctx.failed.get(key) || ctx.preempt_budget == 0 {
                    continue;
                }
                ctx.preempt_budget -= 1;
                let found = self.preempt_for(slot, rank, t, k, n, max_scope, out);
                if found.is_none() {
                    ctx.failed.insert(key, n);
                }
                if let Some((victims, until)) = found {
                    ctx.changed = true;
                    let job = self.jobs[slot as usize].as_mut().expect("job exists");
                    job.awaiting = Some(until);
                    let mut claim = job.claim.clone();
                    self.pool.set_held(&self.topo, &mut claim, true);
                    ctx.claim_holds.extend(claim);
                    self.claimants.push(slot);
                    return Outcome::Waiting(Reason::AwaitingPreemption { victims, until });
                }
            }
        }

        // Reservation for the first blocked jobs.
        let max_res = match self.cfg.backfill {
            Backfill::Easy => 1,
            Backfill::Conservative(n) | Backfill::PerProgramme(n) => n,
            Backfill::Strict | Backfill::Greedy => 0,
        };
        // Per programme: only if no reservation of this cycle is its programme's
        // (looked at only once the depth allows another reservation).
        let first_of_programme = |s: &Self| {
            let mine = s.ents.ancestor_at(leaf, 2);
            !matches!(s.cfg.backfill, Backfill::PerProgramme(_))
                || !ctx.reservations.iter().any(|r| {
                    let other = s.jobs[r.job as usize].as_ref().expect("reserved job").spec.tenant;
                    s.ents.ancestor_at(other, 2) == mine
                })
        };
        if ctx.reservations.len() < max_res && first_of_programme(self) {
            // Tried (made or not): the look is no template.
            ctx.changed = true;
            for t in types_of(ntypes, spec.accel_type) {
                let Some((k, n)) = self.shape(&spec, t, min) else {
                    continue;
                };
                if let Some(r) = self.reserve(slot, t, k, n, max_scope) {
                    let start = r.start;
                    for &node in &r.held {
                        ctx.held_free += self.pool.st[node.idx()].free_count() as u64;
                    }
                    ctx.reservations.push(r);
                    ctx.held_gen += 1;
                    return Outcome::Waiting(Reason::Reserved {
                        accels: min,
                        scope: spec.constraint.required_scope(),
                        start,
                    });
                }
            }
        }
        if let Some((first, start)) = ctx.reservations.first().map(|r| (r.job, r.start)) {
            // Behind a reservation only if the nodes held for it are what
            // this job would need: enough of them with room for its shape.
            let mut holds = false;
            for t in types_of(ntypes, spec.accel_type) {
                if let Some((k, n)) = self.shape(&spec, t, min) {
                    holds |= self.held_ge(ctx, t, k) as u64 + self.pool.site_nodes_ge(t, k) as u64 >= n as u64;
                }
            }
            if holds {
                let reserved = self.jobs[first as usize].as_ref().expect("job").spec.id;
                return Outcome::Waiting(Reason::BehindReservation { accels: min, reserved, start });
            }
        }
        Outcome::Waiting(Reason::Resources {
            accels: min,
            scope: spec.constraint.scope,
            required: spec.constraint.required,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        slot: u32,
        k: u8,
        nodes: &[NodeId],
        total: u32,
        scope: Scope,
        backfilled: bool,
        opportunistic: bool,
        out: &mut Vec<Decision>,
    ) {
        let mut slots: Vec<Slot> = Vec::with_capacity(nodes.len());
        let mut left = total;
        for &n in nodes {
            let c = left.min(k as u32);
            slots.push(self.pool.take(&self.topo, n, c, slot));
            left -= c;
        }
        debug_assert_eq!(left, 0);
        let now = self.now;
        let job = self.jobs[slot as usize].as_mut().expect("job exists");
        job.state = JobState::Running;
        job.start.get_or_insert(now);
        job.segment_start = Self::work_starts(job, now);
        job.end_bound = now.saturating_add(job.spec.time_limit);
        job.accels = total;
        job.slots = slots.clone();
        job.awaiting = None;
        job.claim.clear();
        // A job a failure threw back that starts outside the restart step
        // (in the soak step) leaves the restart list: it must not stay there
        // to be looked at, and deferred, twice should it be thrown back again.
        if std::mem::take(&mut job.restarting) {
            self.restarts.retain(|&s| s != slot);
        }
        let job = self.jobs[slot as usize].as_mut().expect("job exists");
        job.opportunistic = opportunistic;
        job.run_start = now;
        let (tenant, id, end, resume_from) = (job.spec.tenant, job.spec.id, job.end_bound, job.progress.saved);
        self.dequeue(slot);
        self.by_end.insert((end, slot));
        self.fair.add(&self.ents, tenant, total as u64, opportunistic);
        self.picker.rekey(&self.ents, &self.fair, tenant);
        self.stats.started += 1;
        if backfilled {
            self.stats.backfilled += 1;
        }
        out.push(Decision::Start { job: id, slots, accels: total, scope, backfilled, opportunistic, resume_from });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(f: &Flat) -> Vec<QKey> {
        f.keys.iter().filter(|e| e.1 != Look::GAP).map(|e| e.0).collect()
    }

    /// The walk's copy follows its queue through joins in and out of
    /// order and leaves, and reads back in key order without gaps.
    #[test]
    fn the_flat_copy_follows_its_queue() {
        let look = |shape| Look { shape, time_limit: 60 };
        let key = |submit, seq| (1u8, submit, seq, seq as u32);
        let mut queue = BTreeMap::new();
        let mut f = Flat::default();
        let walk = |f: &mut Flat, queue: &BTreeMap<QKey, Look>| {
            f.ready(queue);
            let read: Vec<QKey> = std::iter::from_fn(|| f.next()).map(|e| e.0).collect();
            f.walking = false;
            assert_eq!(read, queue.keys().copied().collect::<Vec<_>>());
        };
        for s in 0..100u64 {
            queue.insert(key(s * 10, s), look(s as u32 % 3));
            f.join(key(s * 10, s), look(s as u32 % 3));
        }
        walk(&mut f, &queue);
        assert!(!f.stale, "joins in order are appended");
        // Leaves become gaps, which the walk skips.
        for s in (0..100u64).step_by(7) {
            queue.remove(&key(s * 10, s));
            f.leave(key(s * 10, s));
        }
        assert_eq!(f.gaps, 15);
        assert_eq!(live(&f), queue.keys().copied().collect::<Vec<_>>());
        walk(&mut f, &queue);
        assert_eq!(f.gaps, 0, "squeezed before the walk: 15 gaps in 100");
        // Jobs that join out of order (a requeued one keeps its age) wait
        // on the side, read in order, until they outgrow sqrt(n).
        queue.insert(key(55, 1000), look(7));
        f.join(key(55, 1000), look(7));
        assert_eq!(f.side.len(), 1);
        walk(&mut f, &queue);
        for s in 0..40u64 {
            queue.insert(key(s * 20 + 5, 2000 + s), look(8));
            f.join(key(s * 20 + 5, 2000 + s), look(8));
            if s % 3 == 0 {
                // One leaves from the side, one from the copy.
                queue.remove(&key(s * 20 + 5, 2000 + s));
                f.leave(key(s * 20 + 5, 2000 + s));
            }
        }
        assert!(f.side.len() <= 33, "merged once it outgrew sqrt(n): {}", f.side.len());
        walk(&mut f, &queue);
        // A walk that starts jobs from the side list leaves gaps there.
        f.ready(&queue);
        let first_side = f.side.first().map(|e| e.0);
        assert!(first_side.is_some());
        while let Some(e) = f.next() {
            if Some(e.0) == first_side {
                queue.remove(&e.0);
                f.leave(e.0);
            }
        }
        f.walking = false;
        walk(&mut f, &queue);
        // Many leaves between walks: squeezed as they come.
        let keys: Vec<QKey> = queue.keys().copied().take(80).collect();
        for k in keys {
            queue.remove(&k);
            f.leave(k);
            assert!(f.gaps <= 64 || f.gaps * 2 <= f.keys.len());
        }
        walk(&mut f, &queue);
    }
}
