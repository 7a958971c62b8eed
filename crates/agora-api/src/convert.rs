//! `JobSubmit` → `agora_core::JobSpec`, by hand, against one site. Every
//! refusal names the field. The core validates again (feasibility on the
//! topology); this layer catches what the core cannot name for people.

use crate::{FieldError, JobSubmit};
use agora_core::{Checkpointing, Constraint, Entitlements, JobId, JobSpec, PriorityClass, Scope, Topology};

/// The site a submission is checked against (build it once: `new` walks
/// every node).
pub struct Site<'a> {
    pub ents: &'a Entitlements,
    pub topo: &'a Topology,
    /// Accelerators on the site.
    pub total: u64,
    /// Accelerators of the largest node.
    pub biggest: u32,
}

impl<'a> Site<'a> {
    pub fn new(ents: &'a Entitlements, topo: &'a Topology) -> Site<'a> {
        let biggest = topo.nodes.iter().map(|x| x.accels as u32).max().unwrap_or(1);
        Site { ents, topo, total: topo.total_accels(), biggest }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepKind {
    /// Start after the job completed successfully.
    AfterOk,
    /// Start after the job ended, whatever happened.
    AfterAny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub kind: DepKind,
    pub job: u64,
}

/// The most jobs one array may create.
pub const MAX_ARRAY: usize = 10_000;
/// The longest time limit accepted (the core's bound is 100 years; a site
/// does not plan a year ahead).
pub const MAX_TIME_LIMIT: u64 = 366 * 86_400;

/// The core spec of one job of a submission (the same for every array index).
pub fn to_spec(s: &JobSubmit, id: u64, site: &Site) -> Result<JobSpec, FieldError> {
    let tenant = site
        .ents
        .lookup(&s.project)
        .filter(|t| site.ents.is_leaf(*t))
        .ok_or_else(|| FieldError::new("project", format!("`{}` is not a project of this site", s.project)))?;
    let per_node = match s.per_node {
        None => 0u8,
        Some(k) if (1..=agora_core::topology::MAX_NODE_ACCELS as u32).contains(&k) => k as u8,
        Some(k) => {
            return Err(FieldError::new(
                "per_node",
                format!("{k} accelerators per node; nodes have 1 to {}", agora_core::topology::MAX_NODE_ACCELS),
            ))
        }
    };
    let accels = match (s.accelerators, s.nodes) {
        (Some(a), _) => a,
        (None, Some(n)) if per_node > 0 => {
            n.checked_mul(per_node as u32).ok_or_else(|| FieldError::new("nodes", format!("{n} nodes is absurd")))?
        }
        (None, Some(n)) => {
            n.checked_mul(site.biggest).ok_or_else(|| FieldError::new("nodes", format!("{n} nodes is absurd")))?
        }
        (None, None) => 1,
    };
    if accels == 0 {
        return Err(FieldError::new("accelerators", "must be at least 1"));
    }
    let capacity = site.total;
    if accels as u64 > capacity {
        return Err(FieldError::new("accelerators", format!("{accels} is more than the site has ({capacity})")));
    }
    let accel_type = match &s.accel_type {
        None => None,
        Some(t) => Some(site.topo.type_id(t).ok_or_else(|| {
            FieldError::new(
                "accel_type",
                format!("`{t}` is not an accelerator type here ({})", site.topo.types.join(", ")),
            )
        })?),
    };
    let scope = match &s.scope {
        None => Scope::Site,
        Some(x) => Scope::parse(x).ok_or_else(|| FieldError::new("scope", format!("`{x}`: use block, pod or site")))?,
    };
    let class = match &s.class {
        None => PriorityClass::Standard,
        Some(c) => PriorityClass::parse(c)
            .ok_or_else(|| FieldError::new("class", format!("`{c}`: use opportunistic, standard or reserved")))?,
    };
    let time_limit = match &s.time_limit {
        None => 3600,
        Some(d) => d.secs("time_limit")?,
    };
    if time_limit == 0 || time_limit > MAX_TIME_LIMIT {
        return Err(FieldError::new("time_limit", format!("{time_limit} s: must be between 1 s and 366 days")));
    }
    if let Some(d) = &s.duration {
        let d = d.secs("duration")?;
        if d > MAX_TIME_LIMIT {
            return Err(FieldError::new("duration", format!("{d} s: must be at most 366 days")));
        }
    }
    let checkpoint = match &s.checkpoint_interval {
        None => None,
        Some(d) => {
            let i = d.secs("checkpoint_interval")?;
            if i == 0 || i > MAX_TIME_LIMIT {
                return Err(FieldError::new("checkpoint_interval", "must be between 1 s and 366 days"));
            }
            Some(Checkpointing { interval: i, cost: 0, restart: 0 })
        }
    };
    if let Some(n) = &s.name {
        if n.len() > 200 || n.chars().any(char::is_control) {
            return Err(FieldError::new("name", "at most 200 printable characters"));
        }
    }
    if s.command.as_ref().is_some_and(|c| c.len() > 65_536) {
        return Err(FieldError::new("command", "at most 64 KiB"));
    }
    Ok(JobSpec {
        id: JobId(id),
        tenant,
        accels,
        min_accels: None,
        per_node,
        constraint: Constraint { scope, required: s.scope_required.unwrap_or(false) },
        accel_type,
        class,
        time_limit,
        estimate: None,
        checkpoint,
    })
}

/// "afterok:1:2,afterany:3".
pub fn parse_dependency(s: &str) -> Result<Vec<Dependency>, FieldError> {
    let bad = |m: String| FieldError::new("dependency", m);
    let mut out = Vec::new();
    for part in s.split([',', '?']).filter(|p| !p.is_empty()) {
        let (kind, ids) =
            part.split_once(':').ok_or_else(|| bad(format!("`{part}`: expected TYPE:JOBID[:JOBID...]")))?;
        let kind = match kind {
            "afterok" => DepKind::AfterOk,
            "afterany" => DepKind::AfterAny,
            k => return Err(bad(format!("`{k}`: only afterok and afterany are supported"))),
        };
        for id in ids.split(':') {
            let job = id.parse::<u64>().map_err(|_| bad(format!("`{id}` is not a job id")))?;
            out.push(Dependency { kind, job });
        }
    }
    if out.is_empty() {
        return Err(bad("empty dependency list".into()));
    }
    if out.len() > 1000 {
        return Err(bad("more than 1000 dependencies".into()));
    }
    Ok(out)
}

/// "0-9", "1,3,5-7", "0-15%4" (the throttle after `%` is accepted and ignored).
pub fn parse_array(s: &str) -> Result<Vec<u32>, FieldError> {
    let bad = |m: String| FieldError::new("array", m);
    let body = s.split('%').next().unwrap_or("");
    let mut out = Vec::new();
    for part in body.split(',') {
        let num = |x: &str| x.trim().parse::<u32>().map_err(|_| bad(format!("`{x}` is not an index")));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad(format!("`{part}`: the range is empty")));
                }
                if (b - a) as usize >= MAX_ARRAY {
                    return Err(bad(format!("more than {MAX_ARRAY} jobs")));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
        if out.len() > MAX_ARRAY {
            return Err(bad(format!("more than {MAX_ARRAY} jobs")));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::tenancy::TenantSpec;
    use agora_core::topology::Regular;

    fn site() -> (Entitlements, Topology) {
        let ents = Entitlements::new(vec![TenantSpec::new("eu", "funder", 1.0)
            .child(TenantSpec::new("p", "programme", 1.0).child(TenantSpec::new("proj", "project", 1.0)))])
        .unwrap();
        let topo = Topology::new(
            Regular {
                name: "t".into(),
                accel_type: "h100".into(),
                blocks: 2,
                blocks_per_pod: 1,
                nodes_per_block: 2,
                accels_per_node: 8,
                last_block_nodes: 0,
            }
            .spec(),
        )
        .unwrap();
        (ents, topo)
    }

    fn check(json: &str, want: Result<u32, &str>) {
        let (ents, topo) = site();
        let s: JobSubmit = serde_json::from_str(json).unwrap();
        let got = to_spec(&s, 1, &Site::new(&ents, &topo)).map(|j| j.accels).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
            (Err(e), Err(w)) => assert!(e.contains(w), "{json}: {e} lacks {w}"),
            (g, w) => panic!("{json}: got {g:?}, want {w:?}"),
        }
    }

    #[test]
    fn submissions_convert_or_name_the_field() {
        check(r#"{"project":"proj","accelerators":16}"#, Ok(16));
        check(r#"{"project":"proj","nodes":2,"per_node":4}"#, Ok(8));
        check(r#"{"project":"proj","nodes":2}"#, Ok(16));
        check(r#"{"project":"eu/p/proj"}"#, Ok(1));
        check(r#"{"project":"nope"}"#, Err("project: `nope` is not a project"));
        check(r#"{"project":"p"}"#, Err("project: `p` is not a project"));
        check(
            r#"{"project":"proj","accelerators":1000000000000}"#.replace("1000000000000", "4000000000").as_str(),
            Err("accelerators: 4000000000 is more than the site has"),
        );
        check(r#"{"project":"proj","time_limit":"1000000y"}"#, Err("time_limit"));
        check(r#"{"project":"proj","time_limit":31536000000000}"#, Err("time_limit: 31536000000000 s"));
        check(r#"{"project":"proj","class":"vip"}"#, Err("class: `vip`"));
        check(r#"{"project":"proj","accel_type":"tpu"}"#, Err("accel_type: `tpu`"));
        check(r#"{"project":"proj","per_node":0}"#, Err("per_node"));
    }

    #[test]
    fn dependencies_and_arrays() {
        assert_eq!(
            parse_dependency("afterok:3:4,afterany:5").unwrap(),
            vec![
                Dependency { kind: DepKind::AfterOk, job: 3 },
                Dependency { kind: DepKind::AfterOk, job: 4 },
                Dependency { kind: DepKind::AfterAny, job: 5 }
            ]
        );
        assert!(parse_dependency("after:3").unwrap_err().message.contains("only afterok"));
        assert_eq!(parse_array("0-3,7%2").unwrap(), vec![0, 1, 2, 3, 7]);
        assert!(parse_array("0-100000").is_err());
        assert!(parse_array("5-1").is_err());
    }
}
