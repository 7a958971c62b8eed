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
    /// Per tenant: some tenant on its path is above its entitlement.
    over: Vec<bool>,
    /// Per tenant: the least (allocation - floor) over floors on its path;
    /// evicting more than this takes a tenant below its floor.
    slack: Vec<i64>,
    /// The preemptor's class: victims rank strictly lower.
    class: PriorityClass,
    /// Per job slot: 0 = not yet known, 1 = a victim, 2 = not.
    memo: std::cell::RefCell<Vec<u8>>,
}

impl Scheduler {
    fn victims(&self, class: PriorityClass) -> Victims {
        let n = self.ents.len();
        let (mut over, mut slack) = (vec![false; n], vec![i64::MAX; n]);
        // Ids are depth-first: parents come before children.
        for t in 1..n {
            let tenant = self.ents.get(TenantId(t as u32));
            let p = tenant.parent.map_or(0, |p| p.idx());
            over[t] = over[p] || self.fair.alloc[t] as f64 > self.fair.nominal[t] + 1e-9;
            let own = tenant.floor.map_or(i64::MAX, |f| self.fair.alloc[t] as i64 - f as i64);
            slack[t] = slack[p].min(own);
        }
        Victims { over, slack, class, memo: std::cell::RefCell::new(vec![0; self.jobs.len()]) }
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
        if v.over[job.spec.tenant.idx()] {
            (PriorityClass::Opportunistic, PreemptCause::Borrowing)
        } else {
            (job.spec.class, PreemptCause::LowerClass)
        }
    }

    /// May this job be preempted by the search's preemptor? Never if it
    /// keeps a tenant within its guaranteed floor.
    fn is_victim(&self, v: &Victims, slot: u32) -> bool {
        let known = v.memo.borrow()[slot as usize];
        if known != 0 {
            return known == 1;
        }
        let job = self.jobs[slot as usize].as_ref().expect("job on node");
        let yes = job.state == JobState::Running
            && self.rank(v, job).0 < v.class
            && job.accels as i64 <= v.slack[job.spec.tenant.idx()];
        v.memo.borrow_mut()[slot as usize] = if yes { 1 } else { 2 };
        yes
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
    /// Returns the number of victims and when the last one leaves.
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
        let v = self.victims(class);
        let mut best: Option<(u64, Vec<u32>)> = None;
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
                if let Some((cost, victims)) = self.victims_in(&v, range, t, k, n) {
                    feasible += 1;
                    if best.as_ref().is_none_or(|b| cost < b.0) {
                        best = Some((cost, victims));
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
        let (_, victims) = best?;
        let until = self.now.saturating_add(self.cfg.preemption_grace);
        let by = self.jobs[slot as usize].as_ref().expect("job").spec.id;
        for &victim in &victims {
            let cause = self.rank(&v, self.jobs[victim as usize].as_ref().expect("victim")).1;
            let grace = self.cfg.preemption_grace;
            let now = self.now;
            let job = self.jobs[victim as usize].as_mut().expect("victim exists");
            let fits = job.spec.checkpoint.is_some_and(|c| c.cost <= grace);
            Self::settle_progress(job, now, fits);
            self.by_end.remove(&(job.end_bound, victim));
            job.state = JobState::Preempting;
            job.end_bound = until;
            self.by_end.insert((until, victim));
            self.grace.insert((until, victim));
            self.stats.preemptions += 1;
            out.push(Decision::Preempt { job: job.spec.id, by, grace_until: until, cause });
        }
        Some((victims.len() as u32, until))
    }

    /// What evicting a job now throws away, in accelerator-seconds of work
    /// (plus one per accelerator, so that among jobs that lose nothing the
    /// smaller goes first): nothing if it can checkpoint within the grace
    /// period, else its work since the last checkpoint.
    fn eviction_cost(&self, job: &Job) -> u64 {
        let grace = self.cfg.preemption_grace;
        let lost = match job.spec.checkpoint {
            Some(c) if c.cost <= grace => 0,
            ck => {
                let (useful, saved) = work_in(ck, self.now.saturating_sub(job.segment_start));
                useful - saved
            }
        };
        job.accels as u64 * (lost + 1)
    }

    /// The cheapest set of victims in one domain, if any makes the gang fit.
    fn victims_in(
        &mut self,
        v: &Victims,
        range: std::ops::Range<u32>,
        t: TypeId,
        k: u8,
        n: u32,
    ) -> Option<(u64, Vec<u32>)> {
        let usable = |s: &Self, i: u32| {
            let st = &s.pool.st[i as usize];
            st.up && !st.spare && !st.held && s.topo.blocks[s.topo.nodes[i as usize].block.idx()].accel_type == t
        };
        let mut count = 0u32;
        let mut reach = 0u32;
        let mut cands: Vec<u32> = Vec::new();
        for i in range.clone() {
            if !usable(self, i) {
                continue;
            }
            let st = &self.pool.st[i as usize];
            if st.avail_now() >= k {
                count += 1;
                reach += 1;
                continue;
            }
            let mut could = st.avail_now() as u32;
            for &(j, mask) in &st.jobs {
                if self.is_victim(v, j) {
                    could += mask.count_ones();
                    if !cands.contains(&j) {
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
            (self.rank(v, job).0, self.eviction_cost(job), j)
        });
        let mut chosen = Vec::new();
        let mut cost = 0u64;
        let mut touched = Vec::new();
        for j in cands {
            let job = self.jobs[j as usize].as_ref().expect("job");
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
                    count += 1;
                }
            }
            cost += self.eviction_cost(job);
            chosen.push(j);
            if count >= n {
                break;
            }
        }
        for i in touched {
            self.scratch[i] = 0;
        }
        (count >= n).then_some((cost, chosen))
    }
}
