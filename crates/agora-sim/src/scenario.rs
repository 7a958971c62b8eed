//! From command-line words to a runnable scenario: which workload, on
//! which cluster.
//!
//! A workload spec is a built-in name (`philly`, `kth-sp2`, `lingjun`,
//! `openb`, `llm-1m`), `FORMAT:PATH` with FORMAT one of `swf`, `philly`,
//! `openb`, `lingjun`, `helios`, or `synthetic:KEY=VALUE,...`. Each
//! built-in has a natural cluster; an SWF file without one runs on the
//! machine its header describes.

use crate::synthetic::{self, SyntheticParams};
use crate::trace::{self, Format, LoadOptions, Trace, TraceError};
use crate::workload::{self, TenantMap, Workload};
use agora_core::topology::{BlockSpec, NodeSpec, PodSpec, Regular, TopologySpec};
use agora_core::{Entitlements, Topology};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadSpec {
    Builtin(String),
    File(Format, PathBuf),
    Synthetic(SyntheticParams),
}

/// Built-in workloads and the cluster each runs on by default.
pub const BUILTIN_WORKLOADS: &[(&str, &str)] = &[
    ("philly", "philly"),
    ("kth-sp2", "kth-sp2"),
    ("lingjun", "lingjun"),
    ("openb", "openb"),
    ("llm-1m", "gigafactory-100k-nvl72"),
];

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0}")]
    Spec(String),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Config(#[from] agora_config::ConfigError),
}

/// A workload ready to simulate: the cluster it runs on and its jobs on the
/// site's tenants.
pub struct Prepared {
    pub name: String,
    pub topo: Topology,
    pub workload: Workload,
    /// Things the user should know before trusting the run (defaults
    /// chosen for them, settings that do not fit the machine).
    pub warnings: Vec<String>,
}

/// Everything between command-line words and a run: load the workload,
/// choose the cluster (`cluster`, else the workload's own), set the site's
/// hot spares (`spares_for`), and map the jobs onto the site's tenants.
pub fn prepare(
    workload: &str,
    cluster: Option<&str>,
    spares: Option<u32>,
    site: &mut agora_config::SiteConfig,
    map: &TenantMap,
    opts: &LoadOptions,
) -> Result<Prepared, ScenarioError> {
    let spec = parse_workload(workload)?;
    let raw = load(&spec, opts)?;
    let mut warnings = Vec::new();
    let topo = match cluster {
        Some(c) => agora_config::cluster(c)?,
        None => match (&spec, &raw) {
            (WorkloadSpec::File(Format::Swf, _), Raw::Trace(t)) if t.machine.is_none() => {
                let largest = t.jobs.iter().map(|j| j.accels).max().unwrap_or(1).max(1);
                warnings.push(format!(
                    "{}: the SWF header gives no MaxNodes/MaxProcs; simulating a machine of {largest} processors, \
                     the largest job (pass --cluster to choose)",
                    t.name
                ));
                swf_machine(&t.name, largest, largest).map_err(ScenarioError::Spec)?
            }
            _ => default_cluster(&spec, &raw).map_err(ScenarioError::Spec)?,
        },
    };
    let name = match &spec {
        WorkloadSpec::Builtin(n) => n.clone(),
        WorkloadSpec::File(f, p) => format!("{}:{}", f.name(), p.display()),
        WorkloadSpec::Synthetic(_) => "synthetic".into(),
    };
    // Naming the workload's own machine is the same as naming none.
    let own_machine = cluster.is_none()
        || default_cluster(&spec, &raw).is_ok_and(|own| {
            format!("{:?}", (&own.types, &own.pods, &own.blocks, &own.nodes))
                == format!("{:?}", (&topo.types, &topo.pods, &topo.blocks, &topo.nodes))
        });
    let s = &mut site.scheduler.spares_per_block;
    *s = spares_for(spares, !own_machine, &raw, *s);
    if let Some(smallest) = topo.blocks.iter().map(|b| b.nodes.len() as u32).min() {
        if *s >= smallest && *s > 0 {
            warnings.push(format!(
                "{} hot spares per block, but the smallest block has {smallest} nodes: every block keeps at least one node schedulable",
                *s
            ));
        }
    }
    if let Raw::Trace(t) = &raw {
        warnings.extend(arrival_gap_warning(t));
        let present: std::collections::HashSet<&str> =
            t.jobs.iter().flat_map(|j| [j.group.as_deref(), j.user.as_deref()]).flatten().collect();
        let unmatched = map.unmatched(&present);
        if !unmatched.is_empty() {
            warnings.push(format!(
                "tenant map: {} key(s) match no group or user of the trace: {}",
                unmatched.len(),
                unmatched.join(", ")
            ));
        }
    }
    let workload = self::workload(raw, &name, &topo, &site.entitlements, map, *s);
    Ok(Prepared { name, topo, workload, warnings })
}

/// Gaps between arrivals this long usually mean a wrong date in the trace.
const LONG_GAP: u64 = 365 * 86_400;

/// A warning when consecutive arrivals are over a year apart.
fn arrival_gap_warning(t: &Trace) -> Option<String> {
    let (gap, a, b) = t.jobs.windows(2).map(|w| (w[1].submit - w[0].submit, &w[0], &w[1])).max_by_key(|g| g.0)?;
    (gap > LONG_GAP).then(|| {
        format!(
            "{}: {} without an arrival between job {} and job {} (a wrong date in the trace?); \
             failures are not simulated while the site is idle, but the run spans the gap",
            t.name,
            agora_core::human_duration(gap),
            a.id,
            b.id
        )
    })
}

/// The example site's floors and limits are written for about 100,000
/// accelerators.
pub const EXAMPLE_SITE_ACCELS: u64 = 100_000;

/// Fits a site's floors to a machine. The example site's floors
/// (`example`) are scaled to the machine's size when the machine is
/// smaller; its borrowing and lending limits are left as written (scaled,
/// they would forbid any gang larger than a tenant's sliver of a small
/// machine), which the warning says. A site file of the user's is left as
/// written, with a warning when its floors add up to more than the
/// machine. Returns the warnings.
pub fn fit_site(site: &mut agora_config::SiteConfig, topo: &Topology, example: bool) -> Vec<String> {
    let total = topo.total_accels();
    let ents = &mut site.entitlements;
    if example && total < EXAMPLE_SITE_ACCELS {
        let scale = total as f64 / EXAMPLE_SITE_ACCELS as f64;
        let fit = |v: &mut Option<u64>| {
            if let Some(x) = v {
                *x = (*x as f64 * scale).floor() as u64;
            }
        };
        for t in ents.tenants.iter_mut() {
            fit(&mut t.floor);
        }
        return vec![format!(
            "the example site's floors are for {} accelerators: scaled by {scale:.4} to this machine's {} \
             (its borrowing and lending limits are kept, so they hardly bind here)",
            agora_core::thousands(EXAMPLE_SITE_ACCELS),
            agora_core::thousands(total)
        )];
    }
    let floors = floor_demand(ents, agora_core::tenancy::ROOT);
    if floors > total {
        return vec![format!(
            "the site's floors add up to {} accelerators, more than this machine's {}: not every floor can be honoured",
            agora_core::thousands(floors),
            agora_core::thousands(total)
        )];
    }
    Vec::new()
}

/// Accelerators promised by floors under `t`: its own floor, else the sum
/// of its children's.
fn floor_demand(ents: &Entitlements, t: agora_core::TenantId) -> u64 {
    let me = ents.get(t);
    match me.floor {
        Some(f) if t != agora_core::tenancy::ROOT => f,
        _ => me.children.iter().map(|c| floor_demand(ents, *c)).sum(),
    }
}

pub fn parse_workload(spec: &str) -> Result<WorkloadSpec, ScenarioError> {
    if BUILTIN_WORKLOADS.iter().any(|(n, _)| *n == spec) {
        return Ok(WorkloadSpec::Builtin(spec.into()));
    }
    match spec.split_once(':') {
        Some(("synthetic", params)) => Ok(WorkloadSpec::Synthetic(
            SyntheticParams::parse(params).map_err(|e| ScenarioError::Spec(format!("synthetic workload: {e}")))?,
        )),
        Some((fmt, path)) => {
            let format: Format =
                fmt.parse().map_err(|e: trace::UnknownFormat| ScenarioError::Spec(format!("`{spec}`: {e}")))?;
            if path.is_empty() {
                return Err(ScenarioError::Spec(format!("`{spec}`: no path after `{fmt}:`")));
            }
            Ok(WorkloadSpec::File(format, PathBuf::from(path)))
        }
        None => {
            let names: Vec<&str> = BUILTIN_WORKLOADS.iter().map(|(n, _)| *n).collect();
            Err(ScenarioError::Spec(format!(
                "unknown workload `{spec}`: use a built-in ({}), FORMAT:PATH (swf, philly, openb, lingjun, helios) or synthetic:KEY=VALUE,...",
                names.join(", ")
            )))
        }
    }
}

/// A workload loaded but not yet mapped onto a site.
pub enum Raw {
    Trace(Trace),
    Synthetic(SyntheticParams),
}

pub fn load(spec: &WorkloadSpec, opts: &LoadOptions) -> Result<Raw, ScenarioError> {
    Ok(match spec {
        WorkloadSpec::Builtin(name) if name == "llm-1m" => Raw::Synthetic(SyntheticParams::llm_1m()),
        WorkloadSpec::Builtin(name) => Raw::Trace(trace::builtin(name).expect("listed built-ins exist")?),
        WorkloadSpec::File(format, path) => Raw::Trace(trace::load(*format, path, opts)?),
        WorkloadSpec::Synthetic(p) => Raw::Synthetic(p.clone()),
    })
}

/// The cluster a workload runs on when none is given: the built-in's own,
/// an SWF header's machine, or the 100k NVL72 preset.
pub fn default_cluster(spec: &WorkloadSpec, raw: &Raw) -> Result<Topology, String> {
    if let WorkloadSpec::Builtin(name) = spec {
        if name == "openb" {
            return openb_cluster();
        }
        let preset =
            BUILTIN_WORKLOADS.iter().find(|(n, _)| n == name).map(|(_, c)| *c).unwrap_or("gigafactory-100k-nvl72");
        return agora_config::preset(preset).ok_or_else(|| format!("preset {preset} is missing"));
    }
    if let Raw::Trace(t) = raw {
        if let Some(m) = t.machine {
            return swf_machine(&t.name, m.nodes, m.procs);
        }
        if let WorkloadSpec::File(Format::Openb, _) = spec {
            return openb_cluster();
        }
    }
    agora_config::preset("gigafactory-100k-nvl72").ok_or_else(|| "preset missing".into())
}

/// The machine an SWF header describes: `nodes` nodes sharing `procs`
/// processors evenly (at most 16 per node), in blocks of up to 32 nodes.
pub fn swf_machine(name: &str, nodes: u32, procs: u32) -> Result<Topology, String> {
    if nodes == 0 || procs == 0 {
        return Err(format!("{name}: the SWF header gives no MaxNodes/MaxProcs; pass --cluster"));
    }
    let per = (procs / nodes).clamp(1, 16) as u8;
    let per_block = nodes.min(32);
    let blocks = nodes.div_ceil(per_block);
    Regular {
        name: format!("{name} machine"),
        accel_type: "proc".into(),
        blocks,
        blocks_per_pod: blocks,
        nodes_per_block: per_block,
        accels_per_node: per,
        last_block_nodes: nodes % per_block,
    }
    .build()
    .map_err(|e| e.to_string())
}

/// Alibaba's openb GPU cluster from its real node list: one pod per GPU
/// model, blocks of 16 nodes of one model (nodes keep their GPU counts).
pub fn openb_cluster() -> Result<Topology, String> {
    let nodes = trace::builtin_openb_nodes().map_err(|e| e.to_string())?;
    let mut models: Vec<String> = nodes.iter().filter_map(|n| n.model.clone()).collect();
    models.sort();
    models.dedup();
    let mut pods = Vec::new();
    for m in models {
        let of: Vec<_> = nodes.iter().filter(|n| n.model.as_deref() == Some(m.as_str()) && n.gpus > 0).collect();
        let blocks = of
            .chunks(16)
            .enumerate()
            .map(|(i, c)| BlockSpec {
                name: format!("{m}-b{i:02}"),
                accel_type: m.clone(),
                nodes: c.iter().map(|n| NodeSpec { name: n.name.clone(), accels: n.gpus.min(16) as u8 }).collect(),
            })
            .collect();
        pods.push(PodSpec { name: m.clone(), blocks });
    }
    Topology::new(TopologySpec { name: "openb".into(), pods }).map_err(|e| e.to_string())
}

/// Hot spares per block for a run: as asked; else none when a trace
/// replays on its own historical machine (it had none); else the site's.
pub fn spares_for(asked: Option<u32>, cluster_given: bool, raw: &Raw, site: u32) -> u32 {
    match asked {
        Some(n) => n,
        None if !cluster_given && matches!(raw, Raw::Trace(_)) => 0,
        None => site,
    }
}

/// Map the loaded workload onto the site's tenants.
/// `spares` hot-spare nodes per block are not schedulable (synthetic gangs
/// are shaped to what is).
pub fn workload(raw: Raw, name: &str, topo: &Topology, ents: &Entitlements, map: &TenantMap, spares: u32) -> Workload {
    match raw {
        Raw::Trace(t) => workload::from_trace(&t, topo, ents, map),
        Raw::Synthetic(p) => {
            let p = p.fit(topo, spares);
            workload::from_synthetic(name, synthetic::iter(&p), ents)
        }
    }
}
