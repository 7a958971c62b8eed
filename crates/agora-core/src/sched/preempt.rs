//! Preemption: an entitled job reclaims accelerators from lower classes.
//!
//! Rule: a job whose admission keeps every tenant on its path within its
//! nominal entitlement may preempt running jobs of a strictly lower
//! *effective* class. A job whose tenant is above its entitlement (it is
//! running on borrowed capacity) counts as opportunistic. So idle
//! entitlement is lent out and reclaimed when its owner returns, and a
//! programme below its guaranteed floor (which comes first in fair-share
//! order) gets its floor back. Work that keeps a tenant within its floor is
//! never a victim, whatever the class of the job asking.
//!
//! Victims are chosen per domain, tightest scope first: in each candidate
//! block (then pod, then the site) add victims, lowest class first and
//! cheapest first, until the gang fits; keep the domain that throws away
//! the least work. Preemption is checkpoint-aware: a job that can write a
//! checkpoint within the grace period loses nothing and costs only its
//! size; one that cannot costs its accelerators times the work since its
//! last checkpoint.
//! Domains are visited with the most free nodes first and screened before
//! any sorting; the search keeps the best of the first few feasible ones.

use super::*;
use crate::ids::{BlockId, PodId};

/// Candidate domains searched per scope in one preemption search.
const MAX_DOMAINS: usize = 32;

/// What a preemption search needs to know about tenants, computed once per
/// search instead of once per job per node.
struct Victims {
    /// Per tenant: accelerators held by work that is not already leaving
    /// (jobs in their grace period are on their way out and count for
    /// nobody's floor or entitlement).
    eff: Vec<i64>,
    /// Per tenant: some tenant on its path is above its entitlement.
    over: Vec<bool>,
    /// Per tenant: the least (allocation - floor) over floors on its path;
    /// evicting more than this takes a tenant below its floor.
    slack: Vec<i64>,
    /// The preemptor's class: victims rank strictly lower.
    class: PriorityClass,
    /// The preemptor reclaims a guaranteed floor: it need not pay for itself.
    floor_claim: bool,
    /// Per job slot: 0 = not yet known, 1 = a victim, 2 = not.
    memo: Vec<u8>,
    /// Per job slot: the domain search that last collected it.
    seen: Vec<u32>,
    search: u32,
    /// Per tenant: accelerators the current domain's chosen victims take.
    taken: Vec<i64>,
}

impl Scheduler {
    fn victims(&self, slot: u32, class: PriorityClass) -> Victims {
        let n = self.ents.len();
        let mut eff: Vec<i64> = self.fair.alloc.iter().map(|&a| a as i64).collect();
        for &(_, j) in &self.grace {
            let job = self.jobs[j as usize].as_ref().expect("preempting job exists");
            for t in self.ents.path_up(job.spec.tenant) {
                eff[t.idx()] -= job.accels as i64;
            }
        }
        let (mut over, mut slack) = (vec![false; n], vec![i64::MAX; n]);
        // Ids are depth-first: parents come before children.
        for t in 1..n {
            let tenant = self.ents.get(TenantId(t as u32));
            let p = tenant.parent.map_or(0, |p| p.idx());
            over[t] = over[p] || eff[t] as f64 > self.fair.nominal[t] + 1e-9;
            let own = tenant.floor.map_or(i64::MAX, |f| eff[t] - f as i64);
            slack[t] = slack[p].min(own);
        }
        let leaf = self.jobs[slot as usize].as_ref().expect("preemptor").spec.tenant;
        let floor_claim =
            self.ents.path_up(leaf).any(|t| self.ents.get(t).floor.is_some_and(|f| eff[t.idx()] < f as i64));
        Victims {
            eff,
            over,
            slack,
            class,
            floor_claim,
            memo: vec![0; self.jobs.len()],
            seen: vec![0; self.jobs.len()],
            search: 0,
            taken: vec![0; n],
        }
    }

    /// A running job's rank for preemption, and the rule that lowered it.
    /// Under LAS the rank is its queue: above the threshold counts as
    /// opportunistic; otherwise borrowed work counts as opportunistic.
    fn rank(&self, v: &Victims, job: &Job) -> (PriorityClass, PreemptCause) {
        if let Ordering::Las { threshold } = self.cfg.ordering {
            let attained = job.attained + job.accels as f64 * self.now.saturating_sub(job.run_start) as f64;
            let rank = if attained >= threshold { PriorityClass::Opportunistic } else { PriorityClass::Standard };
            return (rank, PreemptCause::AttainedService);
        }
        if job.opportunistic || v.over[job.spec.tenant.idx()] {
            (PriorityClass::Opportunistic, PreemptCause::Borrowing)
        } else {
            (job.spec.class, PreemptCause::LowerClass)
        }
    }

    /// May this job be preempted by the search's preemptor at all? Never if
    /// it alone would take a tenant below its guaranteed floor; and, unless
    /// a strictly higher class asks, not before it has run `min_run` nor
    /// once it has been preempted `max_preemptions_per_job` times: floors
    /// that add up to more than the site (or borrowers and lenders taking
    /// turns) cannot make a job bounce for ever.
    fn is_victim(&self, v: &mut Victims, slot: u32) -> bool {
        let known = v.memo[slot as usize];
        if known != 0 {
            return known == 1;
        }
        let job = self.jobs[slot as usize].as_ref().expect("job on node");
        if self.leaves_anyway(job) {
            v.memo[slot as usize] = 1;
            return true;
        }
        let (rank, cause) = self.rank(v, job);
        let churn_ok = cause == PreemptCause::LowerClass
            || (self.now.saturating_sub(job.run_start) >= self.cfg.min_run_before_preempt
                && job.progress.preemptions < self.cfg.max_preemptions_per_job);
        let yes = job.state == JobState::Running
            && rank < v.class
            && job.accels as i64 <= v.slack[job.spec.tenant.idx()]
            && churn_ok;
        v.memo[slot as usize] = if yes { 1 } else { 2 };
        yes
    }

    /// A running job that reaches its time limit within a grace period
    /// frees its accelerators as soon as a victim would: wait for it rather
    /// than preempt it.
    fn leaves_anyway(&self, job: &Job) -> bool {
        job.state == JobState::Running && job.end_bound <= self.now.saturating_add(self.cfg.preemption_grace)
    }

    /// Can `job` be added to the victims already chosen in this domain?
    /// Floors are checked against everything taken so far, and borrowed
    /// work is reclaimed only while its tenant is still above entitlement.
    fn still_victim(&self, v: &Victims, job: &Job) -> bool {
        if self.leaves_anyway(job) {
            return true;
        }
        let a = job.accels as i64;
        for t in self.ents.path_up(job.spec.tenant) {
            if let Some(f) = self.ents.get(t).floor {
                if v.eff[t.idx()] - v.taken[t.idx()] - a < f as i64 {
                    return false;
                }
            }
        }
        let (rank, cause) = self.rank(v, job);
        if cause != PreemptCause::Borrowing || job.opportunistic {
            return true;
        }
        // No longer borrowing: a victim only by its own class.
        self.still_over(v, job.spec.tenant) || (rank == PriorityClass::Opportunistic && job.spec.class < v.class)
    }

    /// Is some tenant on `leaf`'s path above its entitlement once the
    /// victims chosen so far (`v.taken`) are gone?
    fn still_over(&self, v: &Victims, leaf: TenantId) -> bool {
        self.ents.path_up(leaf).any(|t| (v.eff[t.idx()] - v.taken[t.idx()]) as f64 > self.fair.nominal[t.idx()] + 1e-9)
    }

    /// The rank with which a pending job may preempt, if it may: under fair
    /// share, its class if it stays within its entitlement; under LAS,
    /// standard while it is in the first queue.
    pub(super) fn claim_rank(&self, slot: u32, accels: u32) -> Option<PriorityClass> {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        let rank = match self.cfg.ordering {
            Ordering::Las { threshold } => (job.attained < threshold).then_some(PriorityClass::Standard)?,
            _ if self.fair.entitled(&self.ents, job.spec.tenant, accels as u64) => job.spec.class,
            _ => return None,
        };
        (rank > PriorityClass::Opportunistic).then_some(rank)
    }

    /// Find and preempt victims so job `slot` can place `n` nodes × `k`.
    /// Returns the number of victims and when the last one leaves; the
    /// nodes that will hold the gang become the job's claim.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn preempt_for(
        &mut self,
        slot: u32,
        class: PriorityClass,
        t: TypeId,
        k: u8,
        n: u32,
        max_scope: Scope,
        out: &mut Vec<Decision>,
    ) -> Option<(u32, Time)> {
        let mut v = self.victims(slot, class);
        let mut best: Option<(u64, Vec<u32>, Vec<NodeId>)> = None;
        for scope in [Scope::Block, Scope::Pod, Scope::Site] {
            if scope > max_scope {
                break;
            }
            // Domains with the most nodes already free first (the least to
            // evict); the search stops after a few feasible ones so a cycle
            // stays cheap on big sites.
            let mut domains: Vec<(u32, std::ops::Range<u32>)> = match scope {
                Scope::Block => (0..self.topo.blocks.len())
                    .filter(|&b| self.topo.blocks[b].accel_type == t && self.topo.blocks[b].nodes.len() as u32 >= n)
                    .map(|b| (self.pool.block_nodes_ge(BlockId(b as u32), k) as u32, self.topo.blocks[b].nodes.clone()))
                    .collect(),
                Scope::Pod => (0..self.topo.pods.len())
                    .filter(|&p| self.topo.pods[p].nodes.len() as u32 >= n)
                    .map(|p| (self.pool.pod_nodes_ge(PodId(p as u32), t, k), self.topo.pods[p].nodes.clone()))
                    .collect(),
                Scope::Site => std::iter::once((0, 0..self.topo.nodes.len() as u32)).collect(),
            };
            domains.sort_by_key(|(free, range)| (std::cmp::Reverse(*free), range.start));
            let mut feasible = 0;
            for (_, range) in domains {
                if let Some((cost, victims, nodes)) = self.victims_in(&mut v, range, t, k, n) {
                    feasible += 1;
                    if best.as_ref().is_none_or(|b| cost < b.0) {
                        best = Some((cost, victims, nodes));
                    }
                    if feasible == MAX_DOMAINS {
                        break;
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        let (cost, victims, mut nodes) = best?;
        if !v.floor_claim && !self.worth_it(cost, t, k, n, max_scope, &v, &victims) {
            return None;
        }
        let until = self.now.saturating_add(self.cfg.preemption_grace);
        let by = self.jobs[slot as usize].as_ref().expect("job").spec.id;
        let victims: Vec<u32> = victims
            .into_iter()
            .filter(|&j| !self.leaves_anyway(self.jobs[j as usize].as_ref().expect("victim")))
            .collect();
        for &victim in &victims {
            // The rule that applies to this victim once the earlier ones are
            // taken: borrowing only while its tenant is still above entitlement.
            let job = self.jobs[victim as usize].as_ref().expect("victim");
            let mut cause = self.rank(&v, job).1;
            if cause == PreemptCause::Borrowing && !job.opportunistic && !self.still_over(&v, job.spec.tenant) {
                cause = PreemptCause::LowerClass;
            }
            for t in self.ents.path_up(job.spec.tenant) {
                v.taken[t.idx()] += job.accels as i64;
            }
            let grace = self.cfg.preemption_grace;
            let now = self.now;
            let job = self.jobs[victim as usize].as_mut().expect("victim exists");
            // Settled when it leaves: a crash in the grace period must not
            // keep the credit of a checkpoint it never wrote.
            let fits = job.spec.checkpoint.is_some_and(|c| c.cost <= grace);
            job.preempted_at = Some((now, fits));
            // Counted when decided, so that a crash in the grace period does
            // not reset the churn bound.
            job.progress.preemptions += 1;
            self.by_end.remove(&(job.end_bound, victim));
            job.state = JobState::Preempting;
            job.end_bound = until;
            self.by_end.insert((until, victim));
            self.grace.insert((until, victim));
            self.stats.preemptions += 1;
            out.push(Decision::Preempt { job: job.spec.id, by, grace_until: until, cause });
        }
        nodes.sort_unstable();
        self.jobs[slot as usize].as_mut().expect("job exists").claim = nodes;
        Some((victims.len() as u32, until))
    }

    /// Preemption must pay for itself unless a floor is at stake or a
    /// strictly higher class asks: the accelerator-seconds of waiting the
    /// preemptor is spared (its start without preemption, estimated from
    /// time limits, against the end of the grace period) must exceed what
    /// the victims lose: their work since the last checkpoint, the grace
    /// period and the restart from the checkpoint.
    #[allow(clippy::too_many_arguments)]
    fn worth_it(
        &mut self,
        lost: u64,
        t: TypeId,
        k: u8,
        n: u32,
        max_scope: Scope,
        v: &Victims,
        victims: &[u32],
    ) -> bool {
        let grace = self.cfg.preemption_grace;
        let mut cost = lost;
        let mut by_class = true;
        for &j in victims {
            let job = self.jobs[j as usize].as_ref().expect("victim");
            if self.leaves_anyway(job) {
                continue;
            }
            // Opportunistic work runs on the understanding that it goes first.
            by_class &= job.opportunistic || self.rank(v, job).1 == PreemptCause::LowerClass;
            let restart = job.spec.checkpoint.map_or(0, |c| c.restart);
            cost = cost.saturating_add(job.accels as u64 * grace.saturating_add(restart));
        }
        if by_class {
            return true;
        }
        let ready = self.now.saturating_add(grace);
        let natural = self.estimate_start(t, k, n, max_scope).unwrap_or(Time::MAX);
        let spared = natural.saturating_sub(ready).saturating_mul(k as u64 * n as u64);
        spared > cost
    }

    /// What evicting a job now throws away, in accelerator-seconds of work
    /// (plus one per accelerator, so that among jobs that lose nothing the
    /// smaller goes first): nothing if it can checkpoint within the grace
    /// period, else its work since the last checkpoint.
    fn eviction_cost(&self, job: &Job) -> u64 {
        let grace = self.cfg.preemption_grace;
        if self.leaves_anyway(job) {
            return 0;
        }
        let lost = match job.spec.checkpoint {
            Some(c) if c.cost <= grace => 0,
            ck => {
                let (useful, saved) = work_in(ck, self.now.saturating_sub(job.segment_start));
                useful - saved
            }
        };
        job.accels as u64 * (lost + 1)
    }

    /// The cheapest set of victims in one domain, if any makes the gang fit,
    /// with the nodes the gang would use.
    fn victims_in(
        &mut self,
        v: &mut Victims,
        range: std::ops::Range<u32>,
        t: TypeId,
        k: u8,
        n: u32,
    ) -> Option<(u64, Vec<u32>, Vec<NodeId>)> {
        let usable = |s: &Self, i: u32| {
            let st = &s.pool.st[i as usize];
            st.up && !st.spare && !st.held && s.topo.blocks[s.topo.nodes[i as usize].block.idx()].accel_type == t
        };
        v.search += 1;
        let mut ready: Vec<NodeId> = Vec::new();
        let mut reach = 0u32;
        let mut cands: Vec<u32> = Vec::new();
        for i in range.clone() {
            if !usable(self, i) {
                continue;
            }
            let st = &self.pool.st[i as usize];
            if st.avail_now() >= k {
                ready.push(NodeId(i));
                reach += 1;
                continue;
            }
            let mut could = st.avail_now() as u32;
            for &(j, mask) in &st.jobs {
                if self.is_victim(v, j) {
                    could += mask.count_ones();
                    if v.seen[j as usize] != v.search {
                        v.seen[j as usize] = v.search;
                        cands.push(j);
                    }
                }
            }
            reach += u32::from(could >= k as u32);
        }
        if reach < n || cands.is_empty() {
            return None;
        }
        // Lowest rank first, then the least work thrown away.
        cands.sort_by_cached_key(|&j| {
            let job = self.jobs[j as usize].as_ref().expect("job");
            (!self.leaves_anyway(job), self.rank(v, job).0, self.eviction_cost(job), j)
        });
        let mut chosen = Vec::new();
        let mut cost = 0u64;
        let mut touched = Vec::new();
        let mut taken_on: Vec<TenantId> = Vec::new();
        for j in cands {
            if ready.len() as u32 >= n {
                break;
            }
            let job = self.jobs[j as usize].as_ref().expect("job");
            if !self.still_victim(v, job) {
                continue;
            }
            for t in self.ents.path_up(job.spec.tenant) {
                v.taken[t.idx()] += job.accels as i64;
            }
            taken_on.push(job.spec.tenant);
            for s in &job.slots {
                if !range.contains(&s.node.0) || !usable(self, s.node.0) {
                    continue;
                }
                let i = s.node.idx();
                if self.scratch[i] == 0 {
                    touched.push(i);
                }
                let before = self.pool.avail(s.node) + self.scratch[i];
                self.scratch[i] += s.mask.count_ones() as u8;
                if before < k && before + s.mask.count_ones() as u8 >= k {
                    ready.push(s.node);
                }
            }
            cost += self.eviction_cost(job);
            chosen.push(j);
        }
        for i in touched {
            self.scratch[i] = 0;
        }
        for leaf in taken_on {
            for t in self.ents.path_up(leaf) {
                v.taken[t.idx()] = 0;
            }
        }
        (ready.len() as u32 >= n && !chosen.is_empty()).then_some((cost, chosen, ready))
    }
}
