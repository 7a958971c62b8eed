//! Node state and the free-capacity index that makes placement fast.
//!
//! For every node we keep a bit mask of free accelerators and flags (up,
//! hot spare, held for a reservation). A node's *available* count is its free
//! accelerators if it is up, not a spare and not held, else 0. The index
//! counts, per accelerator type and per request size `k`, the nodes with at
//! least `k` available accelerators in every block, pod and the site, and
//! keeps blocks and pods in ordered sets by that count, so that the tightest
//! domain that fits a gang is one ordered-set lookup.
//!
//! Invariant: after every public method, all counts and sets agree with the
//! node states (`check` verifies it; the property tests call it).

use crate::ids::{BlockId, NodeId, PodId, TypeId};
use crate::job::Scope;
use crate::topology::{Topology, MAX_NODE_ACCELS};
use std::collections::BTreeSet;

const K: usize = MAX_NODE_ACCELS as usize + 1;

/// Accelerators of one node given to a job: bit i = accelerator i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub node: NodeId,
    pub mask: u16,
}

impl Slot {
    pub fn accels(&self) -> u32 {
        self.mask.count_ones()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct NodeState {
    pub free: u16,
    pub up: bool,
    pub spare: bool,
    pub held: bool,
    /// Jobs (slab indexes) with accelerators on this node, and which.
    pub jobs: Vec<(u32, u16)>,
    avail: u8,
    bucket_pos: u32,
}

impl NodeState {
    fn compute_avail(&self) -> u8 {
        if self.up && !self.spare && !self.held {
            self.free.count_ones() as u8
        } else {
            0
        }
    }
    /// Available accelerators as the index sees them.
    pub fn avail_now(&self) -> u8 {
        self.avail
    }
    pub fn free_count(&self) -> u8 {
        self.free.count_ones() as u8
    }
}

#[derive(Debug)]
pub(crate) struct Pool {
    pub st: Vec<NodeState>,
    /// Per block: nodes with at least k available, k in 1..=16.
    block_ge: Vec<[u16; K]>,
    /// Per block: nodes with exactly f available, f in 1..=16.
    buckets: Vec<[Vec<u32>; K]>,
    /// Per (pod, type): nodes with at least k available.
    pod_ge: Vec<[u32; K]>,
    /// Per type: nodes with at least k available on the site.
    site_ge: Vec<[u32; K]>,
    /// Per type and k: blocks with a non-zero count, by (count, block).
    block_sets: Vec<Vec<BTreeSet<(u16, u32)>>>,
    /// Per type and k: pods with a non-zero count, by (count, pod).
    pod_sets: Vec<Vec<BTreeSet<(u32, u32)>>>,
    ntypes: usize,
    /// Per node: its block (a copy of the topology's, kept close).
    block_of: Vec<u32>,
}

impl Pool {
    pub fn new(topo: &Topology, spares_per_block: u32) -> Pool {
        let ntypes = topo.types.len();
        let mut pool = Pool {
            st: topo
                .nodes
                .iter()
                .map(|n| NodeState {
                    free: full_mask(n.accels),
                    up: true,
                    spare: false,
                    held: false,
                    jobs: Vec::new(),
                    avail: 0,
                    bucket_pos: u32::MAX,
                })
                .collect(),
            block_ge: vec![[0; K]; topo.blocks.len()],
            buckets: (0..topo.blocks.len()).map(|_| Default::default()).collect(),
            pod_ge: vec![[0; K]; topo.pods.len() * ntypes],
            site_ge: vec![[0; K]; ntypes],
            block_sets: vec![vec![BTreeSet::new(); K]; ntypes],
            pod_sets: vec![vec![BTreeSet::new(); K]; ntypes],
            ntypes,
            block_of: topo.nodes.iter().map(|n| n.block.0).collect(),
        };
        for b in &topo.blocks {
            // Hot spares: the last nodes of each block, keeping at least one
            // schedulable node.
            let len = b.nodes.len() as u32;
            let spares = spares_per_block.min(len.saturating_sub(1));
            for n in b.nodes.end - spares..b.nodes.end {
                pool.st[n as usize].spare = true;
            }
        }
        for n in 0..topo.nodes.len() {
            pool.refresh(topo, NodeId(n as u32));
        }
        pool
    }

    pub fn avail(&self, n: NodeId) -> u8 {
        self.st[n.idx()].avail
    }

    pub fn site_nodes_ge(&self, t: TypeId, k: u8) -> u32 {
        self.site_ge[t.idx()][k as usize]
    }

    pub fn block_nodes_ge(&self, b: BlockId, k: u8) -> u16 {
        self.block_ge[b.idx()][k as usize]
    }

    pub fn pod_nodes_ge(&self, p: PodId, t: TypeId, k: u8) -> u32 {
        self.pod_ge[p.idx() * self.ntypes + t.idx()][k as usize]
    }

    /// Recompute a node's available count after its state changed, and
    /// move it in the index.
    pub fn refresh(&mut self, topo: &Topology, n: NodeId) {
        let mut delta = [0i32; K];
        if self.move_node(n, &mut delta) {
            let node = &topo.nodes[n.idx()];
            self.apply(node.block.idx(), node.pod.idx(), topo.blocks[node.block.idx()].accel_type.idx(), &delta);
        }
    }

    /// Hold (or release) many nodes at once: the counts and ordered sets of
    /// each block and pod are updated once per block, not once per node.
    /// This is what keeps big reservations cheap.
    pub fn set_held(&mut self, topo: &Topology, nodes: &mut [NodeId], held: bool) {
        nodes.sort_unstable();
        let mut i = 0;
        while i < nodes.len() {
            let b = topo.nodes[nodes[i].idx()].block;
            let mut delta = [0i32; K];
            let mut changed = false;
            while i < nodes.len() && topo.nodes[nodes[i].idx()].block == b {
                self.st[nodes[i].idx()].held = held;
                changed |= self.move_node(nodes[i], &mut delta);
                i += 1;
            }
            if changed {
                let blk = &topo.blocks[b.idx()];
                self.apply(b.idx(), blk.pod.idx(), blk.accel_type.idx(), &delta);
            }
        }
    }

    /// Bring a node's cached availability and bucket up to date with its
    /// state, adding the change of its "at least k" membership to `delta`.
    fn move_node(&mut self, n: NodeId, delta: &mut [i32; K]) -> bool {
        let new = self.st[n.idx()].compute_avail();
        let old = self.st[n.idx()].avail;
        if new == old {
            return false;
        }
        let b = self.block_of[n.idx()] as usize;
        if old > 0 {
            let pos = self.st[n.idx()].bucket_pos as usize;
            let bucket = &mut self.buckets[b][old as usize];
            bucket.swap_remove(pos);
            if pos < bucket.len() {
                let moved = bucket[pos];
                self.st[moved as usize].bucket_pos = pos as u32;
            }
            self.st[n.idx()].bucket_pos = u32::MAX;
        }
        if new > 0 {
            let bucket = &mut self.buckets[b][new as usize];
            self.st[n.idx()].bucket_pos = bucket.len() as u32;
            bucket.push(n.0);
        }
        self.st[n.idx()].avail = new;
        let (lo, hi, sign) = if new > old { (old, new, 1) } else { (new, old, -1) };
        for d in &mut delta[(lo as usize + 1)..=(hi as usize)] {
            *d += sign;
        }
        true
    }

    /// Apply count changes to a block, its pod and the site.
    fn apply(&mut self, b: usize, p: usize, t: usize, delta: &[i32; K]) {
        for (k, &d) in delta.iter().enumerate().skip(1) {
            if d == 0 {
                continue;
            }
            let bc = self.block_ge[b][k];
            let pc = self.pod_ge[p * self.ntypes + t][k];
            if bc > 0 {
                self.block_sets[t][k].remove(&(bc, b as u32));
            }
            if pc > 0 {
                self.pod_sets[t][k].remove(&(pc, p as u32));
            }
            let (bc, pc) = ((bc as i32 + d) as u16, (pc as i32 + d) as u32);
            self.block_ge[b][k] = bc;
            self.pod_ge[p * self.ntypes + t][k] = pc;
            self.site_ge[t][k] = (self.site_ge[t][k] as i32 + d) as u32;
            if bc > 0 {
                self.block_sets[t][k].insert((bc, b as u32));
            }
            if pc > 0 {
                self.pod_sets[t][k].insert((pc, p as u32));
            }
        }
    }

    /// Take `count` free accelerators of node `n` (lowest indexes first).
    pub fn take(&mut self, topo: &Topology, n: NodeId, count: u32, job: u32) -> Slot {
        let st = &mut self.st[n.idx()];
        debug_assert!(st.free.count_ones() >= count);
        let mut mask = 0u16;
        let mut free = st.free;
        for _ in 0..count {
            let bit = free & free.wrapping_neg();
            mask |= bit;
            free &= !bit;
        }
        st.free = free;
        st.jobs.push((job, mask));
        self.refresh(topo, n);
        Slot { node: n, mask }
    }

    /// Give a slot's accelerators back.
    pub fn give(&mut self, topo: &Topology, slot: Slot, job: u32) {
        let st = &mut self.st[slot.node.idx()];
        debug_assert_eq!(st.free & slot.mask, 0, "double free on node {}", slot.node);
        st.free |= slot.mask;
        if let Some(i) = st.jobs.iter().position(|j| j.0 == job) {
            st.jobs.swap_remove(i);
        }
        self.refresh(topo, slot.node);
    }

    /// The tightest placement of `n` nodes with `k` available accelerators
    /// each, no wider than `max_scope`. Returns the nodes and the scope used.
    pub fn find(&self, topo: &Topology, t: TypeId, k: u8, n: u32, max_scope: Scope) -> Option<(Vec<NodeId>, Scope)> {
        let (ti, ki) = (t.idx(), k as usize);
        if n == 0 || ki == 0 || ki >= K || self.site_ge[ti][ki] < n {
            return None;
        }
        // 1. One block: best fit (the fullest block that still fits).
        if n <= u16::MAX as u32 {
            if let Some(&(_, b)) = self.block_sets[ti][ki].range((n as u16, 0)..).next() {
                let mut out = Vec::with_capacity(n as usize);
                self.take_from_block(BlockId(b), k, n, &mut out);
                return Some((out, Scope::Block));
            }
        }
        if max_scope == Scope::Block {
            return None;
        }
        // 2. One pod: best-fit pod, then its blocks with the fewest pieces.
        if let Some(&(_, p)) = self.pod_sets[ti][ki].range((n, 0)..).next() {
            let mut out = Vec::with_capacity(n as usize);
            self.take_from_pod(topo, PodId(p), t, k, n, &mut out);
            return Some((out, Scope::Pod));
        }
        if max_scope == Scope::Pod {
            return None;
        }
        // 3. The site: the fewest pods.
        let pods: Vec<(u32, u32)> = self.pod_sets[ti][ki].iter().map(|&(c, p)| (c, p)).collect();
        let mut out = Vec::with_capacity(n as usize);
        for (p, m) in cover(pods, n) {
            self.take_from_pod(topo, PodId(p), t, k, m, &mut out);
        }
        Some((out, Scope::Site))
    }

    /// Up to `m` nodes with at least `k` available accelerators of type `t`
    /// in one block, pod or the site (`id` names the block or pod).
    #[allow(clippy::too_many_arguments)]
    pub fn free_in(&self, topo: &Topology, scope: Scope, id: u32, t: TypeId, k: u8, m: u32, out: &mut Vec<NodeId>) {
        let (ti, ki) = (t.idx(), k as usize);
        match scope {
            Scope::Block => {
                let c = self.block_ge[id as usize][ki] as u32;
                self.take_from_block(BlockId(id), k, m.min(c), out);
            }
            Scope::Pod => {
                let c = self.pod_ge[id as usize * self.ntypes + ti][ki];
                self.take_from_pod(topo, PodId(id), t, k, m.min(c), out);
            }
            Scope::Site => {
                let mut left = m;
                for p in 0..topo.pods.len() {
                    if left == 0 {
                        break;
                    }
                    let c = self.pod_ge[p * self.ntypes + ti][ki].min(left);
                    if c > 0 {
                        self.take_from_pod(topo, PodId(p as u32), t, k, c, out);
                        left -= c;
                    }
                }
            }
        }
    }

    fn take_from_pod(&self, topo: &Topology, p: PodId, t: TypeId, k: u8, n: u32, out: &mut Vec<NodeId>) {
        let blocks: Vec<(u32, u32)> = topo.pods[p.idx()]
            .blocks
            .clone()
            .filter(|&b| topo.blocks[b as usize].accel_type == t)
            .map(|b| (self.block_ge[b as usize][k as usize] as u32, b))
            .filter(|&(c, _)| c > 0)
            .collect();
        for (b, m) in cover(blocks, n) {
            self.take_from_block(BlockId(b), k, m, out);
        }
    }

    /// `n` nodes of block `b` with at least `k` available, best fit first
    /// (nodes with the fewest available accelerators), so whole nodes stay whole.
    fn take_from_block(&self, b: BlockId, k: u8, n: u32, out: &mut Vec<NodeId>) {
        let mut need = n as usize;
        for f in k as usize..K {
            for &node in &self.buckets[b.idx()][f] {
                if need == 0 {
                    return;
                }
                out.push(NodeId(node));
                need -= 1;
            }
        }
        debug_assert_eq!(need, 0, "block index promised more nodes than it has");
    }

    /// A placement on the given candidate nodes only (for short jobs that may
    /// use nodes held for a reservation), honouring `max_scope`. Uses the
    /// nodes' free accelerators whether or not they are held.
    pub fn find_among(
        &self,
        topo: &Topology,
        cands: &[NodeId],
        t: TypeId,
        k: u8,
        n: u32,
        max_scope: Scope,
    ) -> Option<Vec<NodeId>> {
        let ok = |c: &&NodeId| {
            let st = &self.st[c.idx()];
            st.up && !st.spare && st.free_count() >= k && topo.blocks[topo.nodes[c.idx()].block.idx()].accel_type == t
        };
        let fit: Vec<NodeId> = cands.iter().filter(ok).copied().collect();
        if (fit.len() as u32) < n {
            return None;
        }
        let key = |c: NodeId| match max_scope {
            Scope::Block => topo.nodes[c.idx()].block.0,
            Scope::Pod => topo.nodes[c.idx()].pod.0,
            Scope::Site => 0,
        };
        // Candidates arrive grouped by domain (held lists are built in node order).
        let mut start = 0;
        while start < fit.len() {
            let d = key(fit[start]);
            let end = start + fit[start..].iter().take_while(|c| key(**c) == d).count();
            if (end - start) as u32 >= n {
                return Some(fit[start..start + n as usize].to_vec());
            }
            start = end;
        }
        None
    }

    /// Verify the index against the node states.
    pub fn check(&self, topo: &Topology) -> Result<(), String> {
        let mut block_ge = vec![[0u16; K]; topo.blocks.len()];
        let mut pod_ge = vec![[0u32; K]; topo.pods.len() * self.ntypes];
        let mut site_ge = vec![[0u32; K]; self.ntypes];
        for (i, st) in self.st.iter().enumerate() {
            let a = st.compute_avail();
            if a != st.avail {
                return Err(format!("node {i}: cached avail {} != {}", st.avail, a));
            }
            if st.free & !full_mask(topo.nodes[i].accels) != 0 {
                return Err(format!("node {i}: free mask beyond capacity"));
            }
            let node = &topo.nodes[i];
            let t = topo.blocks[node.block.idx()].accel_type.idx();
            for k in 1..=a as usize {
                block_ge[node.block.idx()][k] += 1;
                pod_ge[node.pod.idx() * self.ntypes + t][k] += 1;
                site_ge[t][k] += 1;
            }
            if a > 0 && self.buckets[node.block.idx()][a as usize].get(st.bucket_pos as usize) != Some(&(i as u32)) {
                return Err(format!("node {i}: not in bucket {a}"));
            }
        }
        if block_ge != self.block_ge || pod_ge != self.pod_ge || site_ge != self.site_ge {
            return Err("index counts disagree with node states".into());
        }
        for t in 0..self.ntypes {
            #[allow(clippy::needless_range_loop)]
            for k in 1..K {
                let want: BTreeSet<(u16, u32)> = topo
                    .blocks
                    .iter()
                    .enumerate()
                    .filter(|(b, blk)| blk.accel_type.idx() == t && block_ge[*b][k] > 0)
                    .map(|(b, _)| (block_ge[b][k], b as u32))
                    .collect();
                if want != self.block_sets[t][k] {
                    return Err(format!("block set for type {t}, k {k} is stale"));
                }
            }
        }
        Ok(())
    }
}

pub(crate) fn full_mask(accels: u8) -> u16 {
    if accels >= 16 {
        u16::MAX
    } else {
        (1u16 << accels) - 1
    }
}

/// Cover `need` with the fewest domains: take the largest while none fits
/// the remainder alone, then the smallest that does (best fit).
/// `domains` are (available count, id); the result is (id, how many).
fn cover(mut domains: Vec<(u32, u32)>, mut need: u32) -> Vec<(u32, u32)> {
    domains.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out = Vec::new();
    let mut i = 0;
    while need > 0 && i < domains.len() {
        // The smallest domain (from i on) that alone covers the rest.
        let fits = domains[i..].iter().rposition(|d| d.0 >= need);
        if let Some(j) = fits {
            out.push((domains[i + j].1, need));
            return out;
        }
        out.push((domains[i].1, domains[i].0));
        need -= domains[i].0;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Regular;

    fn topo() -> Topology {
        Regular {
            name: "t".into(),
            accel_type: "gpu".into(),
            blocks: 4,
            blocks_per_pod: 2,
            nodes_per_block: 4,
            accels_per_node: 8,
            last_block_nodes: 0,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn cover_prefers_fewest_domains_then_best_fit() {
        assert_eq!(cover(vec![(4, 0), (2, 1), (3, 2)], 3), vec![(2, 3)]);
        assert_eq!(cover(vec![(4, 0), (2, 1), (3, 2)], 6), vec![(0, 4), (1, 2)]);
        assert_eq!(cover(vec![(1, 0), (1, 1)], 2), vec![(0, 1), (1, 1)]);
    }

    #[test]
    fn gangs_go_to_the_tightest_domain() {
        let t = topo();
        let mut pool = Pool::new(&t, 0);
        let gpu = TypeId(0);
        // Make block 1 partly used so it is the best fit for 2 nodes.
        for n in [4, 5] {
            pool.take(&t, NodeId(n), 8, 0);
        }
        let (nodes, scope) = pool.find(&t, gpu, 8, 2, Scope::Site).unwrap();
        assert_eq!(scope, Scope::Block);
        assert!(nodes.iter().all(|n| t.nodes[n.idx()].block == BlockId(1)), "{nodes:?}");
        // 6 nodes: no block has them; pod 0 (6 free) is a tighter fit than pod 1 (8).
        let (nodes, scope) = pool.find(&t, gpu, 8, 6, Scope::Site).unwrap();
        assert_eq!(scope, Scope::Pod);
        assert!(nodes.iter().all(|n| t.nodes[n.idx()].pod == PodId(0)), "{nodes:?}");
        // 7 nodes only fit in pod 1.
        let (nodes, _) = pool.find(&t, gpu, 8, 7, Scope::Pod).unwrap();
        assert!(nodes.iter().all(|n| t.nodes[n.idx()].pod == PodId(1)), "{nodes:?}");
        assert!(pool.find(&t, gpu, 8, 6, Scope::Block).is_none());
        let (nodes, scope) = pool.find(&t, gpu, 8, 14, Scope::Site).unwrap();
        assert_eq!((nodes.len(), scope), (14, Scope::Site));
        assert!(pool.find(&t, gpu, 8, 15, Scope::Site).is_none());
        pool.check(&t).unwrap();
    }

    #[test]
    fn small_jobs_fill_partial_nodes_first() {
        let t = topo();
        let mut pool = Pool::new(&t, 1);
        let gpu = TypeId(0);
        pool.take(&t, NodeId(0), 6, 0);
        let (nodes, _) = pool.find(&t, gpu, 2, 1, Scope::Site).unwrap();
        assert_eq!(nodes, vec![NodeId(0)]);
        // Spares (the last node of each block) are never offered.
        assert_eq!(pool.site_nodes_ge(gpu, 1), 12);
        assert_eq!(pool.avail(NodeId(3)), 0);
        pool.check(&t).unwrap();
    }

    #[test]
    fn holding_in_batches_keeps_the_index_exact() {
        let t = topo();
        let mut pool = Pool::new(&t, 0);
        let gpu = TypeId(0);
        pool.take(&t, NodeId(5), 3, 0);
        // Unsorted, across two blocks, one node partly used.
        let mut held = vec![NodeId(6), NodeId(1), NodeId(5), NodeId(0), NodeId(7)];
        pool.set_held(&t, &mut held, true);
        pool.check(&t).unwrap();
        assert_eq!(held, [NodeId(0), NodeId(1), NodeId(5), NodeId(6), NodeId(7)]);
        assert_eq!(pool.site_nodes_ge(gpu, 1), 16 - 5);
        // Held nodes are invisible to placement but offered to short jobs.
        assert!(pool.find(&t, gpu, 8, 3, Scope::Block).is_some_and(|(v, _)| v.iter().all(|n| !held.contains(n))));
        assert_eq!(pool.find_among(&t, &held, gpu, 8, 2, Scope::Block), Some(vec![NodeId(0), NodeId(1)]));
        assert_eq!(pool.find_among(&t, &held, gpu, 8, 3, Scope::Block), None, "node 5 is only partly free");
        pool.set_held(&t, &mut held, false);
        pool.check(&t).unwrap();
        assert_eq!(pool.site_nodes_ge(gpu, 1), 16);
    }
}

crate::persist_fields!(Slot { node, mask });
crate::persist_fields!(NodeState { free, up, spare, held, jobs, avail, bucket_pos });
crate::persist_fields!(Pool { st, block_ge, buckets, pod_ge, site_ge, block_sets, pod_sets, ntypes, block_of });
