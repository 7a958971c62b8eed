//! Reservations for blocked jobs (the "shadow" of EASY backfill).
//!
//! Walk running jobs by the latest time they can end (start + time limit,
//! or the end of a grace period), adding their accelerators back to a
//! scratch copy of availability, until the blocked gang fits in one allowed
//! domain. That end time is the reservation's start. Every node of the plan,
//! free or busy, is *held* for the rest of the cycle: only jobs that finish
//! before the start may use its free accelerators, no preemptor may take
//! them, and no later reservation counts on them (conservative backfill
//! never books the same node twice).

use super::*;

pub(crate) struct Reservation {
    pub job: u32,
    pub start: Time,
    /// Nodes of the planned placement that were free now and are held.
    pub held: Vec<NodeId>,
}

/// Scratch counters for planning: per node, extra accelerators freed by
/// the jobs walked so far; per block and pod, nodes that would fit
/// (u32::MAX = not yet counted). All back to zero / MAX after each plan.
#[derive(Debug, Default)]
pub(crate) struct PlanBufs {
    extra: Vec<u8>,
    block: Vec<u32>,
    pod: Vec<u32>,
    /// Nodes a plan may not use besides held ones (for estimates made
    /// between cycles: the nodes the last cycle held), as a mask.
    skip: Vec<bool>,
    /// Running jobs the last plan visited.
    steps: u64,
}

impl PlanBufs {
    pub fn new(topo: &Topology) -> PlanBufs {
        PlanBufs {
            extra: vec![0; topo.nodes.len()],
            block: vec![u32::MAX; topo.blocks.len()],
            pod: vec![u32::MAX; topo.pods.len()],
            skip: Vec::new(),
            steps: 0,
        }
    }

    /// Plans made with these buffers avoid `nodes` too.
    pub fn avoid(&mut self, nodes: &[NodeId]) {
        self.skip = vec![false; self.extra.len()];
        for n in nodes {
            self.skip[n.idx()] = true;
        }
    }
}

#[derive(Clone, Copy)]
enum Domain {
    Block(u32),
    Pod(u32),
    Site,
}

impl Scheduler {
    /// Reserve nodes for job `slot`: plan it, then hold every node of the
    /// plan, busy or free, so that no later reservation counts on them and
    /// no backfill or preemptor takes them.
    pub(super) fn reserve(&mut self, slot: u32, t: TypeId, k: u8, n: u32, max_scope: Scope) -> Option<Reservation> {
        let mut bufs = std::mem::take(&mut self.plan_bufs);
        let planned = self.plan(&mut bufs, t, k, n, max_scope, true);
        self.stats.plans += 1;
        self.stats.plan_steps += bufs.steps;
        self.plan_bufs = bufs;
        let (start, mut held) = planned?;
        // Sorted by node id from here on: `find_among` relies on nodes of a
        // domain being adjacent.
        self.pool.set_held(&self.topo, &mut held, true);
        Some(Reservation { job: slot, start, held })
    }

    /// When a gang of `n` nodes × `k` could start if nothing else started
    /// before it and running jobs ran to their limits, avoiding held nodes.
    pub(super) fn estimate_start(&mut self, t: TypeId, k: u8, n: u32, max_scope: Scope) -> Option<Time> {
        let mut bufs = std::mem::take(&mut self.plan_bufs);
        let planned = self.plan(&mut bufs, t, k, n, max_scope, false);
        self.stats.plans += 1;
        self.stats.plan_steps += bufs.steps;
        self.plan_bufs = bufs;
        planned.map(|(start, _)| start)
    }

    pub(super) fn plan(
        &self,
        bufs: &mut PlanBufs,
        t: TypeId,
        k: u8,
        n: u32,
        max_scope: Scope,
        pick: bool,
    ) -> Option<(Time, Vec<NodeId>)> {
        let topo = &self.topo;
        let pool = &self.pool;
        let extra = &mut bufs.extra;
        let block_cnt = &mut bufs.block;
        let pod_cnt = &mut bufs.pod;
        let mut touched: Vec<u32> = Vec::new();
        let (mut touched_blocks, mut touched_pods) = (Vec::new(), Vec::new());
        let mut site_cnt = pool.site_nodes_ge(t, k);
        let skip = &bufs.skip;
        // Nodes to avoid that are free now are in the index's counts: take
        // them out before the walk.
        for (i, _) in skip.iter().enumerate().filter(|(_, s)| **s) {
            let node = &topo.nodes[i];
            if pool.avail(NodeId(i as u32)) < k || topo.blocks[node.block.idx()].accel_type != t {
                continue;
            }
            let (b, p) = (node.block.idx(), node.pod.idx());
            if block_cnt[b] == u32::MAX {
                block_cnt[b] = pool.block_nodes_ge(node.block, k) as u32;
                touched_blocks.push(b);
            }
            if pod_cnt[p] == u32::MAX {
                pod_cnt[p] = pool.pod_nodes_ge(node.pod, t, k);
                touched_pods.push(p);
            }
            block_cnt[b] -= 1;
            pod_cnt[p] -= 1;
            site_cnt -= 1;
        }
        let mut found = None;
        // Nodes that become able to hold `k` as the walk frees them.
        let mut crossed: Vec<NodeId> = Vec::new();
        bufs.steps = 0;
        'walk: for &(end, j) in &self.by_end {
            bufs.steps += 1;
            let job = self.jobs[j as usize].as_ref().expect("running job exists");
            for s in &job.slots {
                let node = &topo.nodes[s.node.idx()];
                let st = &pool.st[s.node.idx()];
                let avoid = skip.get(s.node.idx()).copied().unwrap_or(false);
                if !st.up || st.spare || st.held || avoid || topo.blocks[node.block.idx()].accel_type != t {
                    continue;
                }
                let i = s.node.idx();
                if extra[i] == 0 {
                    touched.push(i as u32);
                }
                let before = pool.avail(s.node) + extra[i];
                extra[i] += s.mask.count_ones() as u8;
                if before >= k || before + (s.mask.count_ones() as u8) < k {
                    continue;
                }
                let (b, p) = (node.block.0, node.pod.0);
                if block_cnt[b as usize] == u32::MAX {
                    block_cnt[b as usize] = pool.block_nodes_ge(node.block, k) as u32;
                    touched_blocks.push(b as usize);
                }
                if pod_cnt[p as usize] == u32::MAX {
                    pod_cnt[p as usize] = pool.pod_nodes_ge(node.pod, t, k);
                    touched_pods.push(p as usize);
                }
                block_cnt[b as usize] += 1;
                pod_cnt[p as usize] += 1;
                if pick {
                    crossed.push(s.node);
                }
                let (bc, pc) = (&block_cnt[b as usize], &pod_cnt[p as usize]);
                site_cnt += 1;
                if *bc >= n {
                    found = Some((end, Domain::Block(b)));
                } else if max_scope >= Scope::Pod && *pc >= n {
                    found = Some((end, Domain::Pod(p)));
                } else if max_scope == Scope::Site && site_cnt >= n {
                    found = Some((end, Domain::Site));
                }
                if found.is_some() {
                    break 'walk;
                }
            }
        }
        let result = found.map(|(end, domain)| {
            if !pick {
                return (end.max(self.now), Vec::new());
            }
            // Nodes busy now first (those the walk freed), so that as few
            // free nodes as possible are held; then free ones, best fit.
            let (scope, id) = match domain {
                Domain::Block(b) => (Scope::Block, b),
                Domain::Pod(p) => (Scope::Pod, p),
                Domain::Site => (Scope::Site, 0),
            };
            let inside = |c: &NodeId| match domain {
                Domain::Block(b) => topo.nodes[c.idx()].block.0 == b,
                Domain::Pod(p) => topo.nodes[c.idx()].pod.0 == p,
                Domain::Site => true,
            };
            let mut busy: Vec<NodeId> = crossed.iter().copied().filter(inside).collect();
            busy.sort_unstable();
            busy.truncate(n as usize);
            let rest = n - busy.len() as u32;
            pool.free_in(topo, scope, id, t, k, rest, &mut busy);
            (end.max(self.now), busy)
        });
        for i in touched {
            extra[i as usize] = 0;
        }
        for b in touched_blocks {
            block_cnt[b] = u32::MAX;
        }
        for p in touched_pods {
            pod_cnt[p] = u32::MAX;
        }
        result
    }
}

crate::persist_fields!(PlanBufs { extra, block, pod, skip, steps });
