//! Hierarchical fair share over the entitlement tree.
//!
//! Each tenant node carries its current allocation `alloc` (accelerators)
//! and its decayed usage `usage` (accelerator-seconds, half-life `h`).
//! Siblings are ordered by
//!   (below its guaranteed floor first, max(usage, tau * alloc) / share)
//! where `share` is the node's fraction of the site and `tau = h / ln 2`, so
//! a tenant that has held `A` accelerators for a long time and a newcomer now
//! holding `A` rank the same. The order of all jobs is the depth-first walk
//! of the tree with siblings in that order (like Slurm's Fair Tree), then
//! priority class, then age. Admissions during a cycle update `alloc` at
//! once, so the order is progressive filling, not a stale snapshot.

use crate::ids::{Secs, TenantId, Time};
use crate::tenancy::{Entitlements, ROOT};
use std::collections::BTreeSet;

#[derive(Debug)]
pub(crate) struct Fair {
    pub usage: Vec<f64>,
    pub alloc: Vec<u64>,
    /// The part of `alloc` that runs opportunistically beyond limits: it
    /// counts for usage and order, but not against anyone's entitlement.
    pub soak: Vec<u64>,
    pub share: Vec<f64>,
    /// Nominal entitlement in accelerators, for the capacity `nominal_for`.
    pub nominal: Vec<f64>,
    pub nominal_for: Option<u64>,
    /// Bumped whenever an allocation changes (caches key on it).
    pub generation: u64,
    half_life: Secs,
    tau: f64,
    last: Option<Time>,
}

type Key = (u8, u64);

impl Fair {
    pub fn new(ents: &Entitlements, half_life: Secs, tau: Option<f64>) -> Fair {
        let n = ents.len();
        Fair {
            usage: vec![0.0; n],
            alloc: vec![0; n],
            soak: vec![0; n],
            share: ents.share(),
            nominal: vec![0.0; n],
            nominal_for: None,
            generation: 0,
            half_life,
            tau: tau.unwrap_or(half_life as f64 / std::f64::consts::LN_2),
            last: None,
        }
    }

    /// Decay usage to `now`, charging current allocations for the interval.
    pub fn advance(&mut self, now: Time) {
        let last = self.last.replace(now).unwrap_or(now);
        let dt = now.saturating_sub(last) as f64;
        if dt == 0.0 {
            return;
        }
        if self.half_life == 0 {
            self.usage.iter_mut().for_each(|u| *u = 0.0);
            return;
        }
        let decay = (-dt * std::f64::consts::LN_2 / self.half_life as f64).exp();
        // Integral of a constant allocation over the interval, decayed.
        let charge = (1.0 - decay) * self.half_life as f64 / std::f64::consts::LN_2;
        for (u, a) in self.usage.iter_mut().zip(&self.alloc) {
            *u = *u * decay + *a as f64 * charge;
        }
    }

    /// Nominal entitlements for the current schedulable capacity.
    pub fn set_capacity(&mut self, ents: &Entitlements, capacity: u64) {
        if self.nominal_for != Some(capacity) {
            self.nominal = ents.nominal(capacity);
            self.nominal_for = Some(capacity);
            self.generation += 1;
        }
    }

    pub fn add(&mut self, ents: &Entitlements, leaf: TenantId, accels: u64, soak: bool) {
        self.generation += 1;
        for t in ents.path_up(leaf).chain(std::iter::once(ROOT)) {
            self.alloc[t.idx()] += accels;
            if soak {
                self.soak[t.idx()] += accels;
            }
        }
    }

    pub fn sub(&mut self, ents: &Entitlements, leaf: TenantId, accels: u64, soak: bool) {
        self.generation += 1;
        for t in ents.path_up(leaf).chain(std::iter::once(ROOT)) {
            self.alloc[t.idx()] -= accels;
            if soak {
                self.soak[t.idx()] -= accels;
            }
        }
    }

    /// Accelerators held within limits (not opportunistically).
    pub fn held(&self, t: TenantId) -> u64 {
        self.alloc[t.idx()] - self.soak[t.idx()]
    }

    pub fn key(&self, ents: &Entitlements, t: TenantId) -> Key {
        let i = t.idx();
        let below = ents.get(t).floor.is_some_and(|f| self.alloc[i] < f);
        let load = self.usage[i].max(self.tau * self.alloc[i] as f64) / self.share[i].max(1e-12);
        (u8::from(!below), load.max(0.0).to_bits())
    }

    /// Would admitting `accels` more keep every tenant on the path within
    /// its nominal entitlement?
    pub fn entitled(&self, ents: &Entitlements, leaf: TenantId, accels: u64) -> bool {
        ents.path_up(leaf).all(|t| (self.held(t) + accels) as f64 <= self.nominal[t.idx()] + 1e-9)
    }
}

/// Walks the leaves in fair-share order during one cycle.
#[derive(Debug)]
pub(crate) struct Picker {
    /// Per inner node: its active children by key.
    active: Vec<BTreeSet<(Key, u32)>>,
    /// The key each active node is filed under in its parent's set.
    filed: Vec<Option<Key>>,
}

impl Picker {
    pub fn new(ents: &Entitlements) -> Picker {
        Picker { active: vec![BTreeSet::new(); ents.len()], filed: vec![None; ents.len()] }
    }

    pub fn clear(&mut self) {
        for s in &mut self.active {
            s.clear();
        }
        self.filed.iter_mut().for_each(|f| *f = None);
    }

    /// Make a leaf (and its ancestors) eligible to be picked.
    pub fn activate(&mut self, ents: &Entitlements, fair: &Fair, mut t: TenantId) {
        while t != ROOT && self.filed[t.idx()].is_none() {
            let k = fair.key(ents, t);
            let parent = ents.get(t).parent.unwrap_or(ROOT);
            self.active[parent.idx()].insert((k, t.0));
            self.filed[t.idx()] = Some(k);
            t = parent;
        }
    }

    /// Remove a leaf whose queue is exhausted for this cycle.
    pub fn deactivate(&mut self, ents: &Entitlements, mut t: TenantId) {
        while t != ROOT {
            let Some(k) = self.filed[t.idx()].take() else {
                return;
            };
            let parent = ents.get(t).parent.unwrap_or(ROOT);
            self.active[parent.idx()].remove(&(k, t.0));
            if !self.active[parent.idx()].is_empty() {
                return;
            }
            t = parent;
        }
    }

    /// Re-file a leaf's path after its allocation changed.
    pub fn rekey(&mut self, ents: &Entitlements, fair: &Fair, leaf: TenantId) {
        for t in ents.path_up(leaf) {
            let Some(old) = self.filed[t.idx()] else {
                continue;
            };
            let new = fair.key(ents, t);
            if new != old {
                let parent = ents.get(t).parent.unwrap_or(ROOT);
                self.active[parent.idx()].remove(&(old, t.0));
                self.active[parent.idx()].insert((new, t.0));
                self.filed[t.idx()] = Some(new);
            }
        }
    }

    /// The leaf that should go next.
    pub fn pick(&self, ents: &Entitlements) -> Option<TenantId> {
        let mut t = ROOT;
        loop {
            if t != ROOT && ents.get(t).children.is_empty() {
                return Some(t);
            }
            let &(_, c) = self.active[t.idx()].first()?;
            t = TenantId(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::TenantSpec;

    fn ents() -> Entitlements {
        Entitlements::new(vec![
            TenantSpec::new("a", "funder", 1.0)
                .child(TenantSpec::new("a1", "project", 1.0))
                .child(TenantSpec::new("a2", "project", 1.0)),
            TenantSpec::new("b", "funder", 1.0).floor(10).child(TenantSpec::new("b1", "project", 1.0)),
        ])
        .unwrap()
    }

    #[test]
    fn usage_decays_by_half_each_half_life() {
        let e = ents();
        let mut f = Fair::new(&e, 100, None);
        f.usage[1] = 1000.0;
        f.advance(0);
        f.advance(100);
        assert!((f.usage[1] - 500.0).abs() < 1e-6);
        // A constant allocation converges to alloc * tau.
        let b1 = e.lookup("b1").unwrap();
        f.add(&e, b1, 4, false);
        f.advance(100_000);
        assert!((f.usage[b1.idx()] - 4.0 * 100.0 / std::f64::consts::LN_2).abs() < 1e-6);
    }

    #[test]
    fn picks_follow_progressive_filling_and_floors() {
        let e = ents();
        let mut f = Fair::new(&e, 3600, None);
        let mut p = Picker::new(&e);
        let [a1, a2, b1] = ["a1", "a2", "b1"].map(|n| e.lookup(n).unwrap());
        for l in [a1, a2, b1] {
            p.activate(&e, &f, l);
        }
        // b is below its floor: it goes first until it holds 10.
        assert_eq!(p.pick(&e), Some(b1));
        f.add(&e, b1, 10, false);
        p.rekey(&e, &f, b1);
        // Now a (holding nothing) goes before b.
        assert_eq!(p.pick(&e), Some(a1));
        f.add(&e, a1, 4, false);
        p.rekey(&e, &f, a1);
        // a's total (4) is still below b's (10); within a, a2 holds less.
        assert_eq!(p.pick(&e), Some(a2));
        p.deactivate(&e, a2);
        assert_eq!(p.pick(&e), Some(a1));
        p.deactivate(&e, a1);
        assert_eq!(p.pick(&e), Some(b1));
        p.deactivate(&e, b1);
        assert_eq!(p.pick(&e), None);
    }
}

crate::persist_fields!(Fair { usage, alloc, soak, share, nominal, nominal_for, generation, half_life, tau, last });
crate::persist_fields!(Picker { active, filed });
