//! Workloads as the simulator sees them: each job with its truth (the work
//! it needs), mapped onto the site's tenants.
//!
//! Traces rarely say who a job belongs to in the site's terms, so a
//! `TenantMap` maps a trace's group (virtual cluster, SWF group, openb QoS)
//! or user to a project. The default hashes the key onto the site's
//! projects, so each trace group stays one tenant and groups spread evenly;
//! traces with neither (Philly, Lingjun conversions) hash the job id.
//!
//! Assumptions for traces, documented here because they shape results:
//! - time limit: the requested time if the trace has one (never below the
//!   run time), else twice the run time, at least a minute (users
//!   overestimate; EASY backfill needs a bound);
//! - checkpointing: jobs of 8 or more accelerators running over an hour
//!   checkpoint; writing takes 30 s + 1 s per 64 accelerators (at most
//!   10 min) and loading twice that; the engine picks the interval;
//! - openb QoS: BE (best effort) is opportunistic, Guaranteed is reserved,
//!   the rest standard.

use crate::synthetic::SynthJob;
use crate::trace::{Machine, Skipped, Trace};
use agora_core::{
    fnv1a, Checkpointing, Constraint, Entitlements, PriorityClass, Secs, TenantId, Time, Topology, TypeId,
};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub struct SimJob {
    pub id: u64,
    pub submit: Time,
    pub accels: u32,
    pub per_node: u8,
    /// The work the job needs, in seconds at full size.
    pub work: Secs,
    pub time_limit: Secs,
    pub tenant: TenantId,
    pub class: PriorityClass,
    pub constraint: Constraint,
    pub accel_type: Option<TypeId>,
    /// Checkpoint write and restart costs; the interval is the engine's
    /// policy (0 here unless the workload fixed one).
    pub checkpoint: Option<Checkpointing>,
    pub recorded_wait: Option<Secs>,
}

#[derive(Clone, Debug, Default)]
pub struct Workload {
    pub name: String,
    pub jobs: Vec<SimJob>,
    /// Rows of the input that are not in `jobs`, by reason.
    pub skipped: Skipped,
    /// Data rows of the input (`jobs.len()` + `skipped.total()`).
    pub rows: usize,
    /// Some job was mapped to a tenant by its id (no group or user).
    pub by_job_id: bool,
    /// The machine an SWF header describes.
    pub machine: Option<Machine>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {reason}")]
pub struct MapError {
    pub origin: String,
    pub line: usize,
    pub reason: String,
}

/// Maps trace keys (group or user) to projects.
#[derive(Clone, Debug, Default)]
pub struct TenantMap {
    explicit: HashMap<String, TenantId>,
    fallback: Option<TenantId>,
}

impl TenantMap {
    /// Lines `KEY = PROJECT`; `* = PROJECT` sends unmapped keys there
    /// instead of hashing them; `#` starts a comment.
    pub fn parse(text: &str, origin: &str, ents: &Entitlements) -> Result<TenantMap, MapError> {
        let mut map = TenantMap::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fail = |reason: String| MapError { origin: origin.into(), line: i + 1, reason };
            let (key, project) =
                line.split_once('=').ok_or_else(|| fail(format!("expected `KEY = PROJECT`, got `{line}`")))?;
            let (key, project) = (key.trim().trim_matches('"'), project.trim().trim_matches('"'));
            let t = ents
                .lookup(project)
                .filter(|t| ents.is_leaf(*t))
                .ok_or_else(|| fail(format!("`{project}` is not a project of the site")))?;
            if key == "*" {
                map.fallback = Some(t);
            } else if map.explicit.insert(key.to_string(), t).is_some() {
                return Err(fail(format!("`{key}` is mapped twice")));
            }
        }
        Ok(map)
    }

    /// Explicit keys that are not in `present`, sorted.
    pub fn unmatched(&self, present: &std::collections::HashSet<&str>) -> Vec<String> {
        let mut v: Vec<String> = self.explicit.keys().filter(|k| !present.contains(k.as_str())).cloned().collect();
        v.sort();
        v
    }

    pub fn resolve(&self, key: &str, leaves: &[TenantId]) -> TenantId {
        if let Some(t) = self.explicit.get(key) {
            return *t;
        }
        self.fallback.unwrap_or_else(|| leaves[(fnv1a(key.as_bytes()) % leaves.len() as u64) as usize])
    }
}

impl Workload {
    /// Compresses arrivals in time by `factor` (> 1: more load), keeping
    /// the first arrival where it is: submit = first + (submit - first) / factor.
    pub fn compress(&mut self, factor: f64) {
        let Some(first) = self.jobs.first().map(|j| j.submit) else { return };
        for j in &mut self.jobs {
            j.submit = first + ((j.submit - first) as f64 / factor).round() as Time;
        }
    }

    /// Whether jobs were spread over tenants by job id (the trace names no
    /// group or user), which makes fairness figures artificial.
    pub fn tenants_by_job_id(&self) -> bool {
        self.by_job_id
    }
}

/// FNV-1a: a stable hash (std's is seeded per process).
impl SimJob {
    /// A standard-class gang anywhere on the site, with a time limit of
    /// twice its work and no checkpoints (hand-made cases, tests).
    pub fn gang(id: u64, submit: Time, tenant: TenantId, accels: u32, work: Secs) -> SimJob {
        SimJob {
            id,
            submit,
            accels,
            per_node: 0,
            work,
            time_limit: 2 * work,
            tenant,
            class: PriorityClass::Standard,
            constraint: Constraint::default(),
            accel_type: None,
            checkpoint: None,
            recorded_wait: None,
        }
    }
}

/// Checkpoint write and load costs for a gang of `accels` (see module docs).
pub fn checkpoint_costs(accels: u32) -> Checkpointing {
    let cost = (30 + accels as u64 / 64).min(600);
    Checkpointing { interval: 0, cost, restart: 2 * cost }
}

pub fn from_trace(trace: &Trace, topo: &Topology, ents: &Entitlements, map: &TenantMap) -> Workload {
    let leaves: Vec<TenantId> = ents.leaves().collect();
    let mut w = Workload {
        name: trace.name.clone(),
        skipped: trace.skipped,
        rows: trace.rows,
        machine: trace.machine,
        ..Workload::default()
    };
    let mut keybuf = String::new();
    for j in &trace.jobs {
        if j.accels == 0 {
            w.skipped.cpu_only += 1;
            continue;
        }
        keybuf.clear();
        match (&j.group, &j.user) {
            (Some(g), _) => keybuf.push_str(g),
            (None, Some(u)) => keybuf.push_str(u),
            (None, None) => {
                w.by_job_id = true;
                use std::fmt::Write;
                let _ = write!(keybuf, "job{}", j.id);
            }
        }
        let work = j.duration.max(1);
        let class = match j.group.as_deref() {
            Some("BE") => PriorityClass::Opportunistic,
            Some("Guaranteed") => PriorityClass::Reserved,
            _ => PriorityClass::Standard,
        };
        w.jobs.push(SimJob {
            id: j.id,
            submit: j.submit,
            accels: j.accels,
            per_node: 0,
            work,
            time_limit: j.time_limit.unwrap_or(2 * work).max(work).max(60),
            tenant: map.resolve(&keybuf, &leaves),
            class,
            constraint: Constraint::default(),
            accel_type: j.accel_type.as_deref().and_then(|t| topo.type_id(t)),
            checkpoint: (j.accels >= 8 && work >= 3600).then(|| checkpoint_costs(j.accels)),
            recorded_wait: j.recorded_wait,
        });
    }
    w
}

/// Synthetic jobs onto the site's projects: each generated team is one
/// project (teams beyond the number of projects share them).
pub fn from_synthetic(name: &str, jobs: impl IntoIterator<Item = SynthJob>, ents: &Entitlements) -> Workload {
    let leaves: Vec<TenantId> = ents.leaves().collect();
    let jobs = jobs
        .into_iter()
        .map(|j| {
            let constraint = j.scope.map_or(Constraint::default(), |(scope, required)| Constraint { scope, required });
            SimJob {
                id: j.id,
                submit: j.submit,
                accels: j.accels,
                per_node: j.per_node,
                work: j.duration.max(1),
                time_limit: j.time_limit.max(j.duration).max(1),
                tenant: leaves[j.tenant_hint as usize % leaves.len()],
                class: j.class,
                constraint,
                accel_type: None,
                checkpoint: j.checkpoint,
                recorded_wait: None,
            }
        })
        .collect::<Vec<_>>();
    Workload { name: name.into(), rows: jobs.len(), jobs, ..Workload::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::TenantSpec;

    fn ents() -> Entitlements {
        Entitlements::new(vec![TenantSpec::new("f", "funder", 1.0)
            .child(TenantSpec::new("p1", "project", 1.0))
            .child(TenantSpec::new("p2", "project", 1.0))])
        .unwrap()
    }

    #[test]
    fn the_map_resolves_explicit_keys_then_the_fallback_then_a_stable_hash() {
        let e = ents();
        let leaves: Vec<TenantId> = e.leaves().collect();
        let m = TenantMap::parse("vc-a = p2  # the vision team\n\n", "m", &e).unwrap();
        assert_eq!(m.resolve("vc-a", &leaves), e.lookup("p2").unwrap());
        let h = m.resolve("someone", &leaves);
        assert_eq!(h, m.resolve("someone", &leaves));
        let m = TenantMap::parse("* = p1", "m", &e).unwrap();
        assert_eq!(m.resolve("anything", &leaves), e.lookup("p1").unwrap());
    }

    #[test]
    fn bad_maps_name_the_line() {
        let e = ents();
        for (text, want) in [
            ("vc-a p2", "m:1: expected `KEY = PROJECT`, got `vc-a p2`"),
            ("\nvc-a = nowhere", "m:2: `nowhere` is not a project of the site"),
            ("a = p1\na = p2", "m:2: `a` is mapped twice"),
            ("a = f", "m:1: `f` is not a project of the site"),
        ] {
            assert_eq!(TenantMap::parse(text, "m", &e).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn mutated_tenant_maps_parse_or_fail_cleanly() {
        let e = ents();
        let text = "# map\nvc-a = p1\n\"vc b\" = p2  # quoted\n* = p1\n";
        let mut rng = agora_core::rng::Rng::new(5);
        let mut loaded = 0;
        for _ in 0..2_000 {
            let mut b = text.as_bytes().to_vec();
            let at = rng.below(b.len() as u64) as usize;
            match rng.below(3) {
                0 => b[at] ^= 1 << rng.below(8),
                1 => b.truncate(at),
                _ => b.insert(at, b"=#\"*\n \xff"[rng.below(7) as usize]),
            }
            let s = String::from_utf8_lossy(&b);
            if let Ok(m) = TenantMap::parse(&s, "m", &e) {
                loaded += 1;
                let leaves: Vec<TenantId> = e.leaves().collect();
                assert!(e.is_leaf(m.resolve("anything", &leaves)));
            }
        }
        assert!(loaded > 100, "{loaded}");
    }

    #[test]
    fn a_load_factor_compresses_arrivals_from_the_first() {
        let e = ents();
        let jobs = [100u64, 100, 400, 1100].iter().enumerate().map(|(i, &t)| crate::synthetic::SynthJob {
            id: i as u64,
            submit: t,
            accels: 1,
            per_node: 0,
            duration: 10,
            time_limit: 20,
            kind: crate::synthetic::JobKind::Eval,
            class: agora_core::PriorityClass::Standard,
            scope: None,
            checkpoint: None,
            tenant_hint: 0,
        });
        let mut w = from_synthetic("t", jobs, &e);
        w.compress(2.0);
        assert_eq!(w.jobs.iter().map(|j| j.submit).collect::<Vec<_>>(), [100, 100, 250, 600]);
        assert!(!w.tenants_by_job_id());
    }
}
