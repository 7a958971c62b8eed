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
//! youngest first, until the gang fits; keep the domain that evicts the
//! fewest accelerators. Victims get a grace period to checkpoint.

use super::*;

impl Scheduler {
    /// A running job's rank for preemption, and the rule that lowered it
    /// (if any). Under LAS the rank is its queue: above the threshold counts
    /// as opportunistic.
    fn effective_class(&self, slot: u32) -> (PriorityClass, PreemptCause) {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        if let Ordering::Las { threshold } = self.cfg.ordering {
            let attained = job.attained + job.accels as f64 * self.now.saturating_sub(job.run_start) as f64;
            let rank = if attained >= threshold { PriorityClass::Opportunistic } else { PriorityClass::Standard };
            return (rank, PreemptCause::AttainedService);
        }
        if self.fair.over_nominal(&self.ents, job.spec.tenant) {
            (PriorityClass::Opportunistic, PreemptCause::Borrowing)
        } else {
            (job.spec.class, PreemptCause::LowerClass)
        }
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

    /// Work that keeps a tenant within its guaranteed floor is never
    /// preempted: evicting it would take the floor away again.
    fn floor_protected(&self, slot: u32) -> bool {
        let job = self.jobs[slot as usize].as_ref().expect("job exists");
        self.ents.path_up(job.spec.tenant).any(|t| {
            self.ents.get(t).floor.is_some_and(|f| self.fair.alloc[t.idx()].saturating_sub(job.accels as u64) < f)
        })
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
        let mut best: Option<(u64, Vec<u32>)> = None;
        for scope in [Scope::Block, Scope::Pod, Scope::Site] {
            if scope > max_scope {
                break;
            }
            let domains: Vec<std::ops::Range<u32>> = match scope {
                Scope::Block => {
                    self.topo.blocks.iter().filter(|b| b.accel_type == t).map(|b| b.nodes.clone()).collect()
                }
                Scope::Pod => self.topo.pods.iter().map(|p| p.nodes.clone()).collect(),
                Scope::Site => std::iter::once(0..self.topo.nodes.len() as u32).collect(),
            };
            for range in domains {
                if (range.len() as u32) < n {
                    continue;
                }
                if let Some((cost, victims)) = self.victims_in(range, class, t, k, n) {
                    if best.as_ref().is_none_or(|b| cost < b.0) {
                        best = Some((cost, victims));
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        let (_, victims) = best?;
        let until = self.now + self.cfg.preemption_grace;
        let by = self.jobs[slot as usize].as_ref().expect("job").spec.id;
        for &v in &victims {
            let (_, cause) = self.effective_class(v);
            let grace = self.cfg.preemption_grace;
            let now = self.now;
            let job = self.jobs[v as usize].as_mut().expect("victim exists");
            let fits = job.spec.checkpoint.is_some_and(|c| c.cost <= grace);
            Self::settle_progress(job, now, fits);
            self.by_end.remove(&(job.end_bound, v));
            job.state = JobState::Preempting;
            job.end_bound = until;
            self.by_end.insert((until, v));
            self.grace.insert((until, v));
            self.stats.preemptions += 1;
            out.push(Decision::Preempt { job: job.spec.id, by, grace_until: until, cause });
        }
        Some((victims.len() as u32, until))
    }

    /// The cheapest set of victims in one domain, if any makes the gang fit.
    fn victims_in(
        &mut self,
        range: std::ops::Range<u32>,
        class: PriorityClass,
        t: TypeId,
        k: u8,
        n: u32,
    ) -> Option<(u64, Vec<u32>)> {
        let usable = |s: &Self, i: u32| {
            let st = &s.pool.st[i as usize];
            st.up && !st.spare && !st.held && s.topo.blocks[s.topo.nodes[i as usize].block.idx()].accel_type == t
        };
        let mut count = 0u32;
        let mut cands: Vec<u32> = Vec::new();
        let mut reachable = 0u32;
        for i in range.clone() {
            if !usable(self, i) {
                continue;
            }
            if self.pool.avail(NodeId(i)) >= k {
                count += 1;
                reachable += 1;
                continue;
            }
            let mut any = false;
            for &j in &self.pool.st[i as usize].jobs {
                let job = self.jobs[j as usize].as_ref().expect("job on node");
                if job.state == JobState::Running && self.effective_class(j).0 < class && !self.floor_protected(j) {
                    any = true;
                    if !cands.contains(&j) {
                        cands.push(j);
                    }
                }
            }
            reachable += u32::from(any);
        }
        if cands.is_empty() || reachable < n {
            return None;
        }
        // Lowest effective class first, then the youngest (least lost work).
        cands.sort_by_key(|&j| {
            let job = self.jobs[j as usize].as_ref().expect("job");
            (self.effective_class(j).0, std::cmp::Reverse(job.segment_start), j)
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
            cost += job.accels as u64;
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
