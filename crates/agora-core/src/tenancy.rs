//! Who paid for what and who is promised what: the entitlement tree.
//!
//! funder → programme → organisation → project (any depth up to
//! `MAX_DEPTH`; the levels are labels, not rules). Jobs belong to leaves.
//! Each node has a share weight among its siblings, an optional guaranteed
//! floor, and optional borrowing and lending limits, all in accelerators.
//! A node's nominal entitlement is its parent's, split by weight; the root's
//! is the site's schedulable capacity.
//!
//! Invariants after `Entitlements::new`: ids are in depth-first order (a
//! parent's id is lower than its children's), weights are finite and > 0,
//! a floor never exceeds the parent's floor... (it may exceed nothing else),
//! names of leaves are unique.

use crate::ids::TenantId;
use std::collections::HashMap;

pub const MAX_DEPTH: usize = 6;

#[derive(Clone, Debug)]
pub struct TenantSpec {
    pub name: String,
    /// A label for people: "funder", "programme", "organisation", "project".
    pub level: String,
    pub weight: f64,
    /// Accelerators this subtree is guaranteed to get when it asks.
    pub floor: Option<u64>,
    /// How far above its nominal entitlement this subtree may go.
    pub borrow_limit: Option<u64>,
    /// How much of its idle nominal entitlement others may borrow.
    pub lend_limit: Option<u64>,
    pub children: Vec<TenantSpec>,
}

impl TenantSpec {
    pub fn new(name: &str, level: &str, weight: f64) -> TenantSpec {
        TenantSpec {
            name: name.into(),
            level: level.into(),
            weight,
            floor: None,
            borrow_limit: None,
            lend_limit: None,
            children: Vec::new(),
        }
    }
    pub fn floor(mut self, f: u64) -> Self {
        self.floor = Some(f);
        self
    }
    pub fn borrow_limit(mut self, b: u64) -> Self {
        self.borrow_limit = Some(b);
        self
    }
    pub fn lend_limit(mut self, l: u64) -> Self {
        self.lend_limit = Some(l);
        self
    }
    pub fn child(mut self, c: TenantSpec) -> Self {
        self.children.push(c);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TenancyError {
    pub field: String,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub name: String,
    /// "funder/programme/org/project".
    pub path: String,
    pub level: String,
    pub parent: Option<TenantId>,
    pub children: Vec<TenantId>,
    pub depth: usize,
    pub weight: f64,
    pub floor: Option<u64>,
    pub borrow_limit: Option<u64>,
    pub lend_limit: Option<u64>,
}

/// The validated tree. Index 0 is the implicit root ("site").
#[derive(Clone, Debug)]
pub struct Entitlements {
    pub tenants: Vec<Tenant>,
    by_name: HashMap<String, TenantId>,
}

pub const ROOT: TenantId = TenantId(0);

impl Entitlements {
    /// `top` are the children of the site (the funders).
    pub fn new(top: Vec<TenantSpec>) -> Result<Entitlements, TenancyError> {
        let mut e = Entitlements {
            tenants: vec![Tenant {
                name: "site".into(),
                path: String::new(),
                level: "site".into(),
                parent: None,
                children: Vec::new(),
                depth: 0,
                weight: 1.0,
                floor: None,
                borrow_limit: None,
                lend_limit: None,
            }],
            by_name: HashMap::new(),
        };
        if top.is_empty() {
            return Err(TenancyError {
                field: "tenants".into(),
                reason: "the entitlement tree needs at least one funder".into(),
            });
        }
        for (i, spec) in top.into_iter().enumerate() {
            e.add(ROOT, spec, format!("tenants[{i}]"))?;
        }
        // Sibling floors must fit inside the floor that encloses them: the
        // guarantees below a tenant cannot add up to more than its own.
        for t in 1..e.tenants.len() {
            let t = TenantId(t as u32);
            if let Some(f) = e.tenants[t.idx()].floor {
                let below = e.floors_below(t);
                if below > f {
                    return Err(TenancyError {
                        field: e.tenants[t.idx()].path.clone(),
                        reason: format!("the floors inside it add up to {below}, more than its own floor of {f}"),
                    });
                }
            }
        }
        Ok(e)
    }

    /// The accelerators the floors strictly inside `t` guarantee together
    /// (a floored tenant counts its own floor, not those inside it). For
    /// the site, what the whole tree guarantees: it must fit the capacity.
    pub fn floors_below(&self, t: TenantId) -> u64 {
        self.tenants[t.idx()]
            .children
            .iter()
            .map(|&c| self.tenants[c.idx()].floor.unwrap_or_else(|| self.floors_below(c)))
            .sum()
    }

    fn add(&mut self, parent: TenantId, spec: TenantSpec, field: String) -> Result<(), TenancyError> {
        let fail = |f: &str, r: String| TenancyError { field: format!("{field}.{f}"), reason: r };
        if spec.name.is_empty() || spec.name.contains('/') {
            return Err(fail("name", format!("`{}` must be non-empty and contain no `/`", spec.name)));
        }
        if !(spec.weight.is_finite() && spec.weight > 0.0) {
            return Err(fail("weight", format!("{} must be a positive number", spec.weight)));
        }
        let depth = self.tenants[parent.idx()].depth + 1;
        if depth > MAX_DEPTH {
            return Err(fail("children", format!("the tree is deeper than {MAX_DEPTH} levels")));
        }
        if let (Some(f), Some(pf)) = (spec.floor, self.floor_above(parent)) {
            if f > pf {
                return Err(fail("floor", format!("{f} exceeds the floor of an enclosing tenant ({pf})")));
            }
        }
        let parent_path = &self.tenants[parent.idx()].path;
        let path = if parent_path.is_empty() { spec.name.clone() } else { format!("{parent_path}/{}", spec.name) };
        let id = TenantId(self.tenants.len() as u32);
        // Both the full path and, for leaves, the bare name resolve.
        if self.by_name.insert(path.clone(), id).is_some() {
            return Err(fail("name", format!("`{path}` is defined twice")));
        }
        self.tenants.push(Tenant {
            name: spec.name.clone(),
            path,
            level: spec.level,
            parent: Some(parent),
            children: Vec::new(),
            depth,
            weight: spec.weight,
            floor: spec.floor,
            borrow_limit: spec.borrow_limit,
            lend_limit: spec.lend_limit,
        });
        self.tenants[parent.idx()].children.push(id);
        if spec.children.is_empty() {
            if let Some(prev) = self.by_name.insert(spec.name.clone(), id) {
                if prev != id {
                    return Err(fail("name", format!("project `{}` is defined twice", spec.name)));
                }
            }
        }
        for (i, c) in spec.children.into_iter().enumerate() {
            self.add(id, c, format!("{field}.children[{i}]"))?;
        }
        Ok(())
    }

    fn floor_above(&self, mut t: TenantId) -> Option<u64> {
        loop {
            if let Some(f) = self.tenants[t.idx()].floor {
                return Some(f);
            }
            t = self.tenants[t.idx()].parent?;
        }
    }

    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tenants.len() <= 1
    }

    pub fn get(&self, t: TenantId) -> &Tenant {
        &self.tenants[t.idx()]
    }

    /// A leaf's bare name or any node's full path.
    pub fn lookup(&self, name: &str) -> Option<TenantId> {
        self.by_name.get(name).copied()
    }

    pub fn is_leaf(&self, t: TenantId) -> bool {
        t.idx() < self.tenants.len() && t != ROOT && self.tenants[t.idx()].children.is_empty()
    }

    pub fn leaves(&self) -> impl Iterator<Item = TenantId> + '_ {
        (1..self.tenants.len() as u32).map(TenantId).filter(|t| self.is_leaf(*t))
    }

    /// The node and its ancestors up to (excluding) the root, leaf first.
    pub fn path_up(&self, t: TenantId) -> impl Iterator<Item = TenantId> + '_ {
        let mut cur = Some(t);
        std::iter::from_fn(move || {
            let c = cur?;
            if c == ROOT {
                return None;
            }
            cur = self.tenants[c.idx()].parent;
            Some(c)
        })
    }

    /// Ancestor at `depth` (1 = funder, 2 = programme, ...), or the node itself
    /// if it is shallower.
    pub fn ancestor_at(&self, t: TenantId, depth: usize) -> TenantId {
        self.path_up(t).find(|a| self.tenants[a.idx()].depth == depth).unwrap_or(t)
    }

    /// Nominal entitlements in accelerators for a site of `capacity`.
    pub fn nominal(&self, capacity: u64) -> Vec<f64> {
        let mut out = vec![0.0; self.tenants.len()];
        out[0] = capacity as f64;
        // Depth-first ids: parents are computed before children.
        for p in 0..self.tenants.len() {
            let kids = &self.tenants[p].children;
            let total: f64 = kids.iter().map(|c| self.tenants[c.idx()].weight).sum();
            for c in kids {
                out[c.idx()] = out[p] * self.tenants[c.idx()].weight / total;
            }
        }
        out
    }

    /// The share of the whole site each node is entitled to (sums to 1 over
    /// the children of any node).
    pub fn share(&self) -> Vec<f64> {
        self.nominal(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Entitlements {
        Entitlements::new(vec![
            TenantSpec::new("eu", "funder", 3.0)
                .child(
                    TenantSpec::new("open-research", "programme", 1.0).child(TenantSpec::new("uni-a", "project", 1.0)),
                )
                .child(
                    TenantSpec::new("startups", "programme", 1.0)
                        .floor(100)
                        .child(TenantSpec::new("s1", "project", 1.0)),
                ),
            TenantSpec::new("investors", "funder", 1.0).child(TenantSpec::new("inv", "project", 1.0)),
        ])
        .unwrap()
    }

    #[test]
    fn nominal_splits_by_weight_down_the_tree() {
        let e = tree();
        let n = e.nominal(1000);
        let id = |s: &str| e.lookup(s).unwrap().idx();
        assert_eq!(n[id("eu")], 750.0);
        assert_eq!(n[id("investors")], 250.0);
        assert_eq!(n[id("eu/startups")], 375.0);
        assert_eq!(n[id("s1")], 375.0);
        assert_eq!(e.leaves().count(), 3);
        assert_eq!(e.get(e.lookup("s1").unwrap()).path, "eu/startups/s1");
        let up: Vec<_> = e.path_up(e.lookup("s1").unwrap()).map(|t| e.get(t).name.clone()).collect();
        assert_eq!(up, ["s1", "startups", "eu"]);
    }

    #[test]
    fn bad_trees_are_refused_with_the_field() {
        let e = Entitlements::new(vec![TenantSpec::new("a", "funder", 0.0)]).unwrap_err();
        assert_eq!(e.to_string(), "tenants[0].weight: 0 must be a positive number");
        let e = Entitlements::new(vec![TenantSpec::new("a", "funder", 1.0)
            .floor(10)
            .child(TenantSpec::new("b", "programme", 1.0).floor(20))])
        .unwrap_err();
        assert_eq!(e.field, "tenants[0].children[0].floor");
        let e = Entitlements::new(vec![
            TenantSpec::new("a", "funder", 1.0).child(TenantSpec::new("x", "project", 1.0)),
            TenantSpec::new("b", "funder", 1.0).child(TenantSpec::new("x", "project", 1.0)),
        ])
        .unwrap_err();
        assert_eq!(e.to_string(), "tenants[1].children[0].name: project `x` is defined twice");
    }
}

#[cfg(test)]
mod floor_tests {
    use super::*;

    #[test]
    fn sibling_floors_must_fit_inside_their_parents_floor() {
        let tree = |a: u64, b: u64| {
            Entitlements::new(vec![TenantSpec::new("p", "programme", 1.0)
                .floor(100)
                .child(TenantSpec::new("g", "organisation", 1.0).child(TenantSpec::new("a", "project", 1.0).floor(a)))
                .child(TenantSpec::new("b", "project", 1.0).floor(b))])
        };
        let e = tree(60, 40).unwrap();
        assert_eq!(e.floors_below(ROOT), 100);
        assert_eq!(e.floors_below(e.lookup("p").unwrap()), 100);
        let err = tree(60, 41).unwrap_err();
        assert_eq!(err.field, "p");
        assert!(err.reason.contains("add up to 101, more than its own floor of 100"), "{}", err.reason);
    }
}
