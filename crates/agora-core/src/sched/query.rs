//! Read-only questions about the scheduler's state, and the invariant check
//! the property tests run after every event.

use super::pool::full_mask;
use super::*;
use crate::ids::human_duration;
use std::collections::HashSet;

impl Scheduler {
    /// When the core next needs a `Tick`, in the manner of quinn-proto's
    /// `poll_timeout`: now if an event changed the state since the last
    /// cycle; else the earliest future moment a grace period ends (victims
    /// leave, their claimant starts), a reservation's start comes or a
    /// running job reaches its time limit (the driver stops it then). None:
    /// nothing changes until the next event.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.dirty {
            return Some(self.now);
        }
        let after = self.now.saturating_add(1);
        let next_end = self.by_end.range((after, 0)..).next().map(|&(t, _)| t);
        let next_res = self.report.reservations.iter().map(|&(_, t)| t).filter(|&t| t > self.now).min();
        match (next_end, next_res) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A digest of the whole state (jobs, nodes, usage to the last bit,
    /// queues, counters), for tests and for the control plane to check
    /// that a replayed journal rebuilt exactly the state it had.
    pub fn state_digest(&self) -> u64 {
        crate::ids::fnv1a(format!("{self:?}").as_bytes())
    }

    pub fn job(&self, id: JobId) -> Option<JobView<'_>> {
        let slot = *self.by_id.get(&id)?;
        let job = self.jobs[slot as usize].as_ref()?;
        Some(JobView {
            spec: &job.spec,
            state: job.state,
            submitted: job.submit,
            started: job.start,
            end_bound: (job.state != JobState::Pending).then_some(job.end_bound),
            slots: &job.slots,
            progress: job.progress,
            reason: (job.state == JobState::Pending).then(|| self.reason_of(job)),
        })
    }

    fn reason_of(&self, job: &Job) -> Reason {
        if job.awaiting.is_some() || job.reason_cycle == self.cycle {
            return job.reason.clone();
        }
        // Passed over in the last walk by the template of its shape?
        let lazy = self
            .filed_look(job)
            .and_then(|l| self.lazy.reason(self.cycle, self.queue_of(&job.spec), job.qkey, l.shape));
        match lazy {
            Some(r) => r.clone(),
            None => Reason::NotReached(self.report.stop.unwrap_or(Stop::Exhausted)),
        }
    }

    /// Why a pending job is waiting, for people, with when it can expect
    /// to start where the core can tell. None if it is not pending.
    pub fn explain(&self, id: JobId) -> Option<String> {
        let reason = self.job(id)?.reason?;
        let mut text = reason.describe(self.now, &self.ents);
        // Jobs held back by a limit or by strict order wait on that, not on capacity.
        let on_capacity = matches!(
            reason,
            Reason::Resources { .. }
                | Reason::BehindReservation { .. }
                | Reason::NotReached(Stop::Full | Stop::ScanLimit | Stop::Exhausted)
        );
        if on_capacity {
            if let Some(t) = self.estimated_start(id) {
                text += &format!("; expected to start within {}", human_duration(t.saturating_sub(self.now)));
            }
        }
        Some(text)
    }

    /// When a pending job can expect to start if running jobs run to their
    /// time limits and nothing else goes first: its reservation's start,
    /// or a walk of the running jobs by end (computed on demand, so that a
    /// cycle pays nothing for it). None if not pending or never in sight.
    pub fn estimated_start(&self, id: JobId) -> Option<Time> {
        let slot = *self.by_id.get(&id)?;
        let job = self.jobs[slot as usize].as_ref()?;
        if job.state != JobState::Pending {
            return None;
        }
        match self.reason_of(job) {
            Reason::Reserved { start, .. } => return Some(start),
            Reason::AwaitingPreemption { until, .. } => return Some(until),
            _ => {}
        }
        let min = job.spec.min_accels.unwrap_or(job.spec.accels);
        let mut bufs = super::reserve::PlanBufs::new(&self.topo);
        // The nodes the last cycle reserved or claimed stay theirs.
        bufs.avoid(&self.last_holds);
        types_of(self.topo.types.len() as u32, job.spec.accel_type)
            .filter_map(|t| {
                let (k, n) = self.shape(&job.spec, t, min)?;
                self.plan(&mut bufs, t, k, n, job.spec.constraint.required_scope(), false).map(|(s, _)| s)
            })
            .min()
    }

    /// Ids of all jobs the core knows (pending, running, preempting).
    pub fn job_ids(&self) -> impl Iterator<Item = JobId> + '_ {
        self.jobs.iter().flatten().map(|j| j.spec.id)
    }

    pub fn now(&self) -> Time {
        self.now
    }

    pub fn node_is_up(&self, n: NodeId) -> bool {
        self.pool.st[n.idx()].up
    }

    pub fn node_is_spare(&self, n: NodeId) -> bool {
        self.pool.st[n.idx()].spare
    }

    /// Is the node held for a reservation (kept free for a blocked job)?
    pub fn node_is_held(&self, n: NodeId) -> bool {
        self.pool.st[n.idx()].held
    }

    /// Jobs holding accelerators on a node.
    pub fn jobs_on(&self, n: NodeId) -> impl Iterator<Item = JobId> + '_ {
        self.pool.st[n.idx()].jobs.iter().filter_map(|&(j, _)| self.jobs[j as usize].as_ref().map(|j| j.spec.id))
    }

    /// Free accelerators on a node (whether or not it is schedulable).
    pub fn node_free(&self, n: NodeId) -> u32 {
        self.pool.st[n.idx()].free.count_ones()
    }

    pub fn fragmentation(&self) -> Fragmentation {
        // The smallest per-node request among pending jobs, per type
        // (counted as jobs join and leave the queues).
        let min_k: Vec<u8> =
            self.pending_k.iter().map(|c| c.iter().position(|&n| n > 0).map_or(u8::MAX, |k| k as u8)).collect();
        // From the free-capacity index, not a walk of every node: outside a
        // cycle no node is held, so a node's available accelerators are its
        // free ones if it is up and not a spare (else 0), and the sum over
        // k >= 1 of "nodes with at least k available" is the free total.
        let mut f = Fragmentation { capacity: self.capacity, ..Default::default() };
        for (t, &m) in min_k.iter().enumerate() {
            let ge = |k: u8| self.pool.site_nodes_ge(TypeId(t as u32), k) as u64;
            f.free += (1..super::MAX_K as u8).map(ge).sum::<u64>();
            if m != u8::MAX {
                // Nodes with 1..m-1 available: stranded.
                f.unusable += (1..m).map(|k| ge(k) - ge(m)).sum::<u64>();
            }
        }
        f
    }

    /// Check every internal invariant; Err names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.pool.check(&self.topo)?;
        // Accelerators: each is free or held by exactly one job.
        let mut used = vec![0u16; self.topo.nodes.len()];
        let mut alloc = vec![0u64; self.ents.len()];
        let mut soak = vec![0u64; self.ents.len()];
        let mut pending = 0;
        for (slot, job) in self.jobs.iter().enumerate() {
            let Some(job) = job else { continue };
            let id = job.spec.id;
            if self.by_id.get(&id) != Some(&(slot as u32)) {
                return Err(format!("job {id} is not indexed"));
            }
            match job.state {
                JobState::Pending => {
                    pending += 1;
                    if !job.slots.is_empty() || job.accels != 0 {
                        return Err(format!("pending job {id} holds accelerators"));
                    }
                    let look = self.derived_look(job);
                    if look.is_none() || self.queues[self.queue_of(&job.spec)].get(&job.qkey) != look.as_ref() {
                        return Err(format!("pending job {id} is not queued (or filed with another look)"));
                    }
                    let r = self.reason_of(job).describe(self.now, &self.ents);
                    if r.is_empty() {
                        return Err(format!("pending job {id} has no reason"));
                    }
                }
                JobState::Running | JobState::Preempting => {
                    let total: u32 = job.slots.iter().map(|s| s.accels()).sum();
                    let min = job.spec.min_accels.unwrap_or(job.spec.accels);
                    if total != job.accels || total < min || total > job.spec.accels {
                        return Err(format!(
                            "job {id}: {total} accelerators allocated, asked {min}..={}",
                            job.spec.accels
                        ));
                    }
                    if !self.by_end.contains(&(job.end_bound, slot as u32)) {
                        return Err(format!("running job {id} is not in the end index"));
                    }
                    let scope = job.spec.constraint.required_scope();
                    let first = self.topo.nodes[job.slots[0].node.idx()].clone();
                    for s in &job.slots {
                        let node = &self.topo.nodes[s.node.idx()];
                        let i = s.node.idx();
                        if used[i] & s.mask != 0 {
                            return Err(format!("an accelerator of node {} is allocated twice", s.node));
                        }
                        used[i] |= s.mask;
                        if !self.pool.st[i].jobs.contains(&(slot as u32, s.mask)) {
                            return Err(format!("node {} does not list job {id}", s.node));
                        }
                        let ok = match scope {
                            Scope::Block => node.block == first.block,
                            Scope::Pod => node.pod == first.pod,
                            Scope::Site => true,
                        };
                        if !ok {
                            return Err(format!("job {id} breaks its required {} constraint", scope.name()));
                        }
                        if let Some(t) = job.spec.accel_type {
                            if self.topo.blocks[node.block.idx()].accel_type != t {
                                return Err(format!("job {id} runs on the wrong accelerator type"));
                            }
                        }
                    }
                    for t in self.ents.path_up(job.spec.tenant).chain(std::iter::once(ROOT)) {
                        alloc[t.idx()] += total as u64;
                        if job.opportunistic {
                            soak[t.idx()] += total as u64;
                        }
                    }
                }
                s => return Err(format!("job {id} is {s} but still stored")),
            }
        }
        for (i, st) in self.pool.st.iter().enumerate() {
            let cap = full_mask(self.topo.nodes[i].accels);
            if st.free | used[i] != cap || st.free & used[i] != 0 {
                return Err(format!("node {i}: free and allocated accelerators disagree"));
            }
            if st.held {
                return Err(format!("node {i} is still held after the cycle"));
            }
        }
        if alloc != self.fair.alloc || soak != self.fair.soak {
            return Err("fair-share allocations disagree with running jobs".into());
        }
        // The restart list names each job a failure threw back (pending, not
        // awaiting victims) once, and no other.
        let thrown_back = |j: &Job| j.restarting && j.state == JobState::Pending && j.awaiting.is_none();
        let mut listed = HashSet::new();
        for &s in &self.restarts {
            let ok = self.jobs.get(s as usize).and_then(Option::as_ref).is_some_and(thrown_back);
            if !ok || !listed.insert(s) {
                return Err(format!("slot {s} is listed among restarts twice or wrongly"));
            }
        }
        for (s, j) in self.jobs.iter().enumerate() {
            if j.as_ref().is_some_and(thrown_back) && !listed.contains(&(s as u32)) {
                return Err(format!("slot {s} was thrown back but is not listed among restarts"));
            }
        }
        if pending != self.pending || self.queues.iter().map(|q| q.len()).sum::<usize>() != pending {
            return Err("pending counts disagree".into());
        }
        let mut pending_k = vec![[0u32; super::MAX_K]; self.topo.types.len()];
        for job in self.jobs.iter().flatten().filter(|j| j.state == JobState::Pending) {
            let min = job.spec.min_accels.unwrap_or(job.spec.accels);
            for t in types_of(self.topo.types.len() as u32, job.spec.accel_type) {
                if let Some((k, _)) = self.shape(&job.spec, t, min) {
                    pending_k[t.idx()][k as usize] += 1;
                }
            }
        }
        if pending_k != self.pending_k {
            return Err("pending jobs by request size disagree with the queues".into());
        }
        // `fragmentation` reads the index: the same figures as a walk of the nodes.
        let frag = self.fragmentation();
        let (mut free, mut unusable) = (0u64, 0u64);
        for (i, st) in self.pool.st.iter().enumerate().filter(|(_, st)| st.up && !st.spare) {
            let t = self.topo.blocks[self.topo.nodes[i].block.idx()].accel_type.idx();
            let min_k = pending_k[t].iter().position(|&n| n > 0).unwrap_or(0);
            free += st.free_count() as u64;
            if st.free_count() > 0 && (st.free_count() as usize) < min_k {
                unusable += st.free_count() as u64;
            }
        }
        if (frag.free, frag.unusable) != (free, unusable) {
            return Err(format!("fragmentation {frag:?} != free {free}, unusable {unusable} of the nodes"));
        }
        let cap: u64 = (0..self.topo.nodes.len())
            .filter(|&i| self.pool.st[i].up && !self.pool.st[i].spare)
            .map(|i| self.topo.nodes[i].accels as u64)
            .sum();
        if cap != self.capacity {
            return Err(format!("capacity {} != {cap}", self.capacity));
        }
        Ok(())
    }
}

impl std::fmt::Debug for Scheduler {
    /// Every field, with the id index sorted so that two schedulers built
    /// by the same events print alike.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut by_id: Vec<_> = self.by_id.iter().collect();
        by_id.sort_unstable();
        f.debug_struct("Scheduler")
            .field("cfg", &self.cfg)
            .field("now", &self.now)
            .field("cycle", &self.cycle)
            .field("seq", &self.seq)
            .field("dirty", &self.dirty)
            .field("capacity", &self.capacity)
            .field("spares", &self.spares)
            .field("jobs", &self.jobs)
            .field("free_slots", &self.free_slots)
            .field("by_id", &by_id)
            .field("queues", &self.queues)
            .field("pending", &self.pending)
            .field("by_end", &self.by_end)
            .field("grace", &self.grace)
            .field("claimants", &self.claimants)
            .field("last_holds", &self.last_holds)
            .field("restarts", &self.restarts)
            .field("lazy", &self.lazy)
            .field("shapes", &self.shapes)
            .field("pool", &self.pool)
            .field("fair", &self.fair)
            .field("room_cache", &self.room_cache)
            .field("stats", &self.stats)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}
