//! The scheduler's snapshot (see `crate::persist`): every field but the
//! topology, the entitlement tree and the settings, which the caller gives
//! again on restore (the control plane checks they are the same site).

use super::*;
use crate::persist::{Persist, Reader, SnapshotError};

/// The first bytes of a scheduler snapshot, then its format version.
const MAGIC: &[u8; 4] = b"AGSS";
/// 2: queues file each job's look; the reasons of jobs a walk passed over
/// by template (`lazy`). 3: no walk cursors (the walk keeps its place in
/// its copy of each queue, which is derived).
pub const SNAPSHOT_VERSION: u32 = 3;

crate::persist_fields!(Job {
    spec,
    state,
    submit,
    qkey,
    slots,
    accels,
    start,
    segment_start,
    end_bound,
    progress,
    reason,
    reason_cycle,
    awaiting,
    attained,
    run_start,
    preempted_at,
    claim,
    opportunistic,
    restarting
});
crate::persist_fields!(Stats {
    cycles,
    submitted,
    started,
    backfilled,
    completed,
    cancelled,
    preemptions,
    replacements,
    requeues,
    jobs_examined,
    plans,
    plan_steps
});
crate::persist_fields!(Look { shape, time_limit });
crate::persist_fields!(Shape { accels, min, tenant, ty, per_node, scope, required, class, q0 });
crate::persist_fields!(CycleReport { now, examined, started, preempted, reservations, stop });

/// Write and read the same field list, in the same order.
macro_rules! state_fields {
    ($m:ident, $s:expr, $x:expr) => {
        $m!(
            $s, $x, pool, fair, picker, jobs, free_slots, by_id, queues, pending, by_end, grace, claimants, restarts,
            scratch, plan_bufs, last_holds, room_cache, capacity, spares, lenders, max_nodes, max_accels, seq, now,
            cycle, dirty, stats, report, lazy, shapes
        )
    };
}
macro_rules! put_all {
    ($s:expr, $w:expr, $($f:ident),*) => { $($s.$f.put($w);)* };
}
macro_rules! get_all {
    ($s:expr, $r:expr, $($f:ident),*) => { $($s.$f = Persist::get($r)?;)* };
}

impl Scheduler {
    /// The whole state as bytes: `restore` with the same topology,
    /// entitlements and settings gives this very scheduler back.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(64 + self.jobs.len() * 96 + self.pool.st.len() * 16);
        w.extend_from_slice(MAGIC);
        SNAPSHOT_VERSION.put(&mut w);
        (self.topo.nodes.len(), self.topo.blocks.len(), self.topo.pods.len(), self.ents.len()).put(&mut w);
        state_fields!(put_all, self, &mut w);
        w
    }

    /// A scheduler from a snapshot taken on the same site and settings.
    /// Errors (never panics) on bytes that are not such a snapshot.
    pub fn restore(topo: Topology, ents: Entitlements, cfg: Config, bytes: &[u8]) -> Result<Scheduler, SnapshotError> {
        let mut r = Reader::new(bytes);
        if r.bytes(4).ok() != Some(MAGIC.as_slice()) {
            return Err(SnapshotError("not a scheduler snapshot".into()));
        }
        let v = u32::get(&mut r)?;
        if v != SNAPSHOT_VERSION {
            return Err(SnapshotError(format!(
                "scheduler snapshot version {v}; this build reads version {SNAPSHOT_VERSION}"
            )));
        }
        let dims: (usize, usize, usize, usize) = Persist::get(&mut r)?;
        let mine = (topo.nodes.len(), topo.blocks.len(), topo.pods.len(), ents.len());
        if dims != mine {
            return Err(SnapshotError(format!(
                "taken on another site ({} nodes, {} blocks, {} pods, {} tenants; this one has {}, {}, {}, {})",
                dims.0, dims.1, dims.2, dims.3, mine.0, mine.1, mine.2, mine.3
            )));
        }
        let mut s = Scheduler::new(topo, ents, cfg);
        state_fields!(get_all, s, &mut r);
        if !r.is_empty() {
            return Err(SnapshotError("bytes left over after the scheduler's state".into()));
        }
        s.check_restored().map_err(SnapshotError)?;
        s.shape_ids = s.shapes.iter().enumerate().map(|(i, sh)| (*sh, i as u32)).collect();
        s.recount_pending();
        Ok(s)
    }

    /// Cheap consistency checks after a restore: indexes in range, so that
    /// a damaged snapshot is refused rather than panicking later.
    fn check_restored(&self) -> Result<(), String> {
        let (nodes, tenants, slots) = (self.topo.nodes.len(), self.ents.len(), self.jobs.len());
        let bad = |what: &str| Err(format!("inconsistent {what}"));
        if self.pool.st.len() != nodes || self.scratch.len() != nodes {
            return bad("node tables");
        }
        if self.fair.usage.len() != tenants || self.queues.len() != tenants {
            return bad("tenant tables");
        }
        let slot_ok = |s: u32| (s as usize) < slots && self.jobs[s as usize].is_some();
        if self.by_id.values().any(|s| !slot_ok(*s)) {
            return bad("job index (by id)");
        }
        if self.queues.iter().flat_map(|q| q.keys()).any(|k| !slot_ok(k.3)) {
            return bad("job index (queues)");
        }
        let shapes = self.shapes.len();
        if self.queues.iter().flat_map(|q| q.values()).any(|l| l.shape as usize >= shapes)
            || !self.lazy.fits(tenants, shapes)
        {
            return bad("shapes");
        }
        // Each job filed under its own key, in its own queue.
        for (q, queue) in self.queues.iter().enumerate() {
            for k in queue.keys() {
                let job = self.jobs[k.3 as usize].as_ref().expect("slots checked above");
                if self.queue_of(&job.spec) != q || job.qkey != *k || job.state != JobState::Pending {
                    return bad("queues");
                }
            }
        }
        if self.by_end.iter().chain(&self.grace).any(|(_, s)| !slot_ok(*s)) {
            return bad("job index (ends)");
        }
        // Claimants may name slots whose job has left since (the cycle
        // skips them), but never past the slab; the restart list names each
        // job once (twice, and it could be started twice).
        let mut restarts = self.restarts.clone();
        restarts.sort_unstable();
        restarts.dedup();
        if self.claimants.iter().chain(&self.restarts).any(|s| *s as usize >= slots)
            || restarts.len() != self.restarts.len()
        {
            return bad("job index (claimants, restarts)");
        }
        if self.free_slots.iter().any(|s| (*s as usize) >= slots || self.jobs[*s as usize].is_some()) {
            return bad("job index (free slots)");
        }
        for j in self.jobs.iter().flatten() {
            if !self.ents.is_leaf(j.spec.tenant) || j.slots.iter().chain(&[]).any(|x| x.node.idx() >= nodes) {
                return bad("job");
            }
            if j.claim.iter().any(|n| n.idx() >= nodes) {
                return bad("claim");
            }
        }
        if self.pool.st.iter().any(|n| n.jobs.iter().any(|(s, _)| !slot_ok(*s))) {
            return bad("node's jobs");
        }
        if self.last_holds.iter().any(|n| n.idx() >= nodes) {
            return bad("held nodes");
        }
        Ok(())
    }
}
