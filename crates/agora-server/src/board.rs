//! What the dashboard's views need beyond the job API, as public endpoints:
//! the site map (every node at once, compactly), one block's nodes and the
//! caller's jobs on them, tenants' delivered shares over time, and whoami.
//!
//! `Board` is part of the read model: the scheduler task refreshes it with
//! the cluster summary (`Snapshot::of` outside the view lock, `update`
//! under it) and it keeps a bounded history of allocations per tenant.
//! Scoping follows the rest of the API: node occupancy is site-wide (like
//! `/v1/cluster`'s free counts per pod), but jobs, tenants and their shares
//! outside the caller's scope are never named, and a job outside it answers
//! "not found" exactly like a job that does not exist.

use crate::error::ApiError;
use crate::http::App;
use agora_api::{BlockDetail, MapBlock, MapPod, NodeDetail, NodeJob, ShareSeries, Shares, SiteMap, WhoAmI};
use agora_core::{NodeId, Scheduler, TenantId};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shares are sampled at most this often (wall clock) ...
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// ... and this many samples are kept (an hour at one every 2 s).
const MAX_SAMPLES: usize = 1800;

/// The site's shape: fixed for the life of the server.
pub struct Layout {
    name: String,
    types: Vec<String>,
    pods: Vec<MapPod>,
    blocks: Vec<MapBlock>,
    accels: Vec<u8>,
    names: Vec<String>,
    by_name: HashMap<String, u32>,
}

impl Layout {
    fn of(core: &Scheduler) -> Layout {
        let t = core.topology();
        Layout {
            name: t.name.clone(),
            types: t.types.clone(),
            pods: t
                .pods
                .iter()
                .map(|p| MapPod { name: p.name.clone(), first_block: p.blocks.start, blocks: p.blocks.len() as u32 })
                .collect(),
            blocks: t
                .blocks
                .iter()
                .map(|b| MapBlock {
                    name: b.name.clone(),
                    pod: b.pod.0,
                    first_node: b.nodes.start,
                    nodes: b.nodes.len() as u32,
                    accel_type: b.accel_type.0,
                })
                .collect(),
            accels: t.nodes.iter().map(|n| n.accels).collect(),
            names: t.nodes.iter().map(|n| n.name.clone()).collect(),
            by_name: t.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i as u32)).collect(),
        }
    }
}

/// Node and tenant state at one moment, taken from the core.
pub struct Snapshot {
    time: u64,
    used: Vec<u8>,
    state: Vec<u8>,
    allocated: Vec<u64>,
    entitlement: Vec<f64>,
}

impl Snapshot {
    /// `now`: the site clock (the core's own time stands still while idle).
    pub fn of(core: &Scheduler, now: u64) -> Snapshot {
        let topo = core.topology();
        let mut used = Vec::with_capacity(topo.nodes.len());
        let mut state = Vec::with_capacity(topo.nodes.len());
        for (i, n) in topo.nodes.iter().enumerate() {
            let id = NodeId(i as u32);
            used.push(n.accels.saturating_sub(core.node_free(id).min(255) as u8));
            state.push(if !core.node_is_up(id) {
                b'f'
            } else if core.node_is_spare(id) {
                b's'
            } else if core.node_is_held(id) {
                b'h'
            } else {
                b'u'
            });
        }
        let ents = core.entitlements();
        let allocated = (0..ents.len() as u32).map(|t| core.allocated(TenantId(t))).collect();
        let entitlement = ents.nominal(core.capacity()).iter().map(|e| (e * 10.0).round() / 10.0).collect();
        Snapshot { time: now.max(core.now()), used, state, allocated, entitlement }
    }
}

struct Sample {
    time: u64,
    allocated: Vec<u64>,
    entitlement: Vec<f64>,
}

#[derive(Default)]
pub struct Board {
    layout: Option<Arc<Layout>>,
    now: Option<Snapshot>,
    history: VecDeque<Sample>,
    last_sample: Option<Instant>,
}

impl Board {
    /// At start (after the journal is replayed): the layout and a first sample.
    pub fn init(&mut self, core: &Scheduler) {
        if self.layout.is_none() {
            self.layout = Some(Arc::new(Layout::of(core)));
        }
        self.update(Snapshot::of(core, core.now()));
    }

    pub fn update(&mut self, s: Snapshot) {
        // Before the first input the site clock reads 0: not a moment to plot.
        let later = self.history.back().is_none_or(|b| s.time > b.time);
        if s.time > 0 && later && self.last_sample.is_none_or(|t| t.elapsed() >= SAMPLE_EVERY) {
            self.last_sample = Some(Instant::now());
            if self.history.len() == MAX_SAMPLES {
                self.history.pop_front();
            }
            self.history.push_back(Sample {
                time: s.time,
                allocated: s.allocated.clone(),
                entitlement: s.entitlement.clone(),
            });
        }
        self.now = Some(s);
    }
}

type St = State<Arc<App>>;
type R<T> = Result<T, ApiError>;

pub async fn whoami(State(app): St, h: HeaderMap) -> R<Json<WhoAmI>> {
    let who = app.auth(&h)?;
    let v = app.view.read().expect("view");
    let scope = if who.scope == agora_core::tenancy::ROOT { String::new() } else { v.ents.get(who.scope).path.clone() };
    Ok(Json(WhoAmI { user: who.user, role: who.role, scope }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapQ {
    job: Option<u64>,
}

pub async fn map(
    State(app): St,
    h: HeaderMap,
    q: Result<Query<MapQ>, axum::extract::rejection::QueryRejection>,
) -> R<Json<SiteMap>> {
    let who = app.auth(&h)?;
    let q = crate::http::query(q)?;
    let v = app.view.read().expect("view");
    let (Some(layout), Some(now)) = (&v.board.layout, &v.board.now) else {
        return Err(ApiError::Unavailable);
    };
    let mut mine: HashMap<u32, u32> = HashMap::new();
    for r in v.jobs.values() {
        if r.job.allocation.is_empty() || !v.within(r.tenant, who.scope) {
            continue;
        }
        for a in &r.job.allocation {
            if let Some(&n) = layout.by_name.get(&a.node) {
                *mine.entry(n).or_default() += a.accelerators.len() as u32;
            }
        }
    }
    let mut mine: Vec<[u32; 2]> = mine.into_iter().map(|(n, c)| [n, c]).collect();
    mine.sort_unstable();
    let job_nodes = match q.job {
        None => None,
        Some(id) => {
            let r = v.visible_job(id, who.scope).ok_or_else(|| ApiError::job_not_found(id))?;
            Some(r.job.allocation.iter().filter_map(|a| layout.by_name.get(&a.node).copied()).collect())
        }
    };
    Ok(Json(SiteMap {
        name: layout.name.clone(),
        time: now.time,
        types: layout.types.clone(),
        pods: layout.pods.clone(),
        blocks: layout.blocks.clone(),
        accels: layout.accels.clone(),
        used: now.used.clone(),
        state: String::from_utf8_lossy(&now.state).into_owned(),
        mine,
        job_nodes,
    }))
}

pub async fn block(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<BlockDetail>> {
    let who = app.auth(&h)?;
    let Path(s) = p.map_err(|_| ApiError::invalid("index", "missing block index"))?;
    let idx: u32 =
        s.parse().map_err(|_| ApiError::invalid("index", format!("`{s}` is not a block index (0, 1, ...)")))?;
    let v = app.view.read().expect("view");
    let (Some(layout), Some(now)) = (&v.board.layout, &v.board.now) else {
        return Err(ApiError::Unavailable);
    };
    let b = layout.blocks.get(idx as usize).ok_or_else(|| ApiError::NotFound(format!("block {idx} not found")))?;
    let range = b.first_node..b.first_node + b.nodes;
    let mut nodes: Vec<NodeDetail> = range
        .clone()
        .map(|n| NodeDetail {
            index: n,
            name: layout.names[n as usize].clone(),
            accels: layout.accels[n as usize],
            used: now.used[n as usize],
            state: (now.state[n as usize] as char).to_string(),
            jobs: vec![],
        })
        .collect();
    for r in v.jobs.values() {
        if r.job.allocation.is_empty() || !v.within(r.tenant, who.scope) {
            continue;
        }
        for a in &r.job.allocation {
            match layout.by_name.get(&a.node) {
                Some(&n) if range.contains(&n) => nodes[(n - range.start) as usize].jobs.push(NodeJob {
                    id: r.job.id,
                    name: r.job.name.clone(),
                    project: r.job.project.clone(),
                    user: r.job.user.clone(),
                    state: r.job.state,
                    accelerators: a.accelerators.len() as u32,
                }),
                _ => {}
            }
        }
    }
    Ok(Json(BlockDetail { index: idx, name: b.name.clone(), pod: layout.pods[b.pod as usize].name.clone(), nodes }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharesQ {
    level: Option<String>,
    points: Option<u32>,
}

pub async fn shares(
    State(app): St,
    h: HeaderMap,
    q: Result<Query<SharesQ>, axum::extract::rejection::QueryRejection>,
) -> R<Json<Shares>> {
    let who = app.auth(&h)?;
    let q = crate::http::query(q)?;
    let depth = match q.level.as_deref() {
        None | Some("all") => None,
        Some("funder") => Some(Some(1)),
        Some("programme") => Some(Some(2)),
        Some("organisation") => Some(Some(3)),
        Some("project") => Some(None),
        Some(l) => {
            return Err(ApiError::invalid(
                "level",
                format!("`{l}`: use all, funder, programme, organisation or project"),
            ))
        }
    };
    let points = q.points.unwrap_or(360);
    if points == 0 || points as usize > MAX_SAMPLES {
        return Err(ApiError::invalid("points", format!("must be between 1 and {MAX_SAMPLES}")));
    }
    let v = app.view.read().expect("view");
    let hist = &v.board.history;
    // Every k-th sample, newest always included.
    let k = hist.len().div_ceil(points as usize).max(1);
    let picked: Vec<&Sample> = hist.iter().rev().step_by(k).collect::<Vec<_>>().into_iter().rev().collect();
    let ents = &v.ents;
    let tenants = (1..ents.len() as u32)
        .map(TenantId)
        .filter(|&t| v.within(t, who.scope))
        .filter(|&t| match depth {
            None => true,
            Some(Some(d)) => ents.get(t).depth == d,
            Some(None) => ents.is_leaf(t),
        })
        .map(|t| {
            let x = ents.get(t);
            ShareSeries {
                path: x.path.clone(),
                level: x.level.clone(),
                parent: x.parent.filter(|p| *p != agora_core::tenancy::ROOT).map(|p| ents.get(p).path.clone()),
                floor: x.floor,
                entitlement: picked.iter().map(|s| s.entitlement[t.idx()]).collect(),
                allocated: picked.iter().map(|s| s.allocated[t.idx()]).collect(),
            }
        })
        .collect();
    Ok(Json(Shares { times: picked.iter().map(|s| s.time).collect(), tenants }))
}
