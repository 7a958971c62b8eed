//! The read model: what queries see. The scheduler task updates it after
//! each group commit (so nothing unacknowledged is ever visible) and
//! queries read it under a read lock: they never wait for a cycle.

use crate::engine::Effect;
use agora_api::{Cluster, DomainFree, Job, JobEvent, JobState, Role, Tenant};
use agora_core::{Entitlements, Scheduler, TenantId};
use std::collections::{BTreeMap, HashMap};

pub struct JobRec {
    pub job: Job,
    pub tenant: TenantId,
    pub events: Vec<JobEvent>,
    /// Closed runs: (start, end, accelerators), for accounting.
    pub segments: Vec<(u64, u64, u32)>,
    /// The open run: (start, accelerators).
    pub open: Option<(u64, u32)>,
}

#[derive(Clone, Debug)]
pub struct TokenRec {
    pub id: String,
    pub user: String,
    pub role: Role,
    pub scope: TenantId,
}

/// An event as streamed to watchers, with the tenant it belongs to.
#[derive(Clone, Debug)]
pub struct Watched {
    pub tenant: TenantId,
    pub event: JobEvent,
}

pub struct View {
    pub ents: Entitlements,
    pub jobs: BTreeMap<u64, JobRec>,
    pub tokens: HashMap<String, TokenRec>,
    pub cluster: Cluster,
    pub tenants: Vec<Tenant>,
    pub ready: bool,
    /// The dashboard's site map and share history.
    pub board: crate::board::Board,
}

impl View {
    pub fn new(ents: Entitlements) -> View {
        View {
            ents,
            jobs: BTreeMap::new(),
            tokens: HashMap::new(),
            cluster: Cluster {
                name: String::new(),
                time: 0,
                capacity: 0,
                free: 0,
                stranded: 0,
                pending: 0,
                running: 0,
                pods: vec![],
                failed_nodes: vec![],
            },
            tenants: vec![],
            ready: false,
            board: Default::default(),
        }
    }

    /// Is `t` inside the subtree of `scope`?
    pub fn within(&self, t: TenantId, scope: TenantId) -> bool {
        scope == agora_core::tenancy::ROOT || self.ents.path_up(t).any(|a| a == scope)
    }

    fn event(&mut self, job: u64, time: u64, kind: &str, detail: String, out: &mut Vec<Watched>) {
        if let Some(r) = self.jobs.get_mut(&job) {
            let e = JobEvent { job, time, kind: kind.into(), detail };
            out.push(Watched { tenant: r.tenant, event: e.clone() });
            r.events.push(e);
        }
    }

    pub fn apply(&mut self, effect: Effect, out: &mut Vec<Watched>) {
        match effect {
            Effect::Created { job, name, tenant, user, spec, state, array, time } => {
                let rec = JobRec {
                    job: Job {
                        id: job,
                        name,
                        project: self.ents.get(tenant).path.clone(),
                        user,
                        state,
                        accelerators: spec.accels,
                        submitted: time,
                        started: None,
                        ended: None,
                        time_limit: spec.time_limit,
                        allocation: vec![],
                        exit_code: None,
                        array_job: array.map(|a| a.0),
                        array_index: array.map(|a| a.1),
                        restarts: 0,
                    },
                    tenant,
                    events: vec![],
                    segments: vec![],
                    open: None,
                };
                self.jobs.insert(job, rec);
                let detail = format!("{} accelerators, state {}", spec.accels, state.name());
                self.event(job, time, "submitted", detail, out);
            }
            Effect::State { job, state, time, kind, detail } => {
                if let Some(r) = self.jobs.get_mut(&job) {
                    r.job.state = state;
                    if kind == "requeued" {
                        r.job.restarts += 1;
                        r.job.allocation.clear();
                    }
                }
                self.event(job, time, kind, detail, out);
            }
            Effect::Started { job, time, allocation, accels } => {
                if let Some(r) = self.jobs.get_mut(&job) {
                    r.job.allocation = allocation;
                    if accels > 0 {
                        r.job.started = Some(time);
                        r.open = Some((time, accels));
                    }
                }
            }
            Effect::Released { job, time } => {
                if let Some(r) = self.jobs.get_mut(&job) {
                    if let Some((s, a)) = r.open.take() {
                        r.segments.push((s, time, a));
                    }
                    r.job.allocation.clear();
                }
            }
            Effect::Ended { job, state, time, exit_code, detail } => {
                if let Some(r) = self.jobs.get_mut(&job) {
                    r.job.state = state;
                    r.job.ended = Some(time);
                    r.job.exit_code = exit_code;
                    r.job.allocation.clear();
                    if let Some((s, a)) = r.open.take() {
                        r.segments.push((s, time, a));
                    }
                }
                self.event(job, time, state.name(), detail, out);
            }
            Effect::Token { hash, id, user, role, scope } => {
                self.tokens.insert(hash, TokenRec { id, user, role, scope });
            }
        }
    }

    /// Refresh the cluster and tenant summaries from the core.
    pub fn refresh(&mut self, core: &Scheduler, with_fragmentation: bool) {
        let (c, t) = summarize(
            core,
            with_fragmentation.then_some(()).map_or(self.cluster.stranded, |_| core.fragmentation().unusable),
        );
        self.cluster = c;
        self.tenants = t;
        self.board.init(core);
    }

    pub fn visible_job(&self, id: u64, scope: TenantId) -> Option<&JobRec> {
        self.jobs.get(&id).filter(|r| self.within(r.tenant, scope))
    }
}

/// The cluster and tenant summaries, computed from the core without
/// holding the view's lock.
pub fn summarize(core: &Scheduler, stranded: u64) -> (Cluster, Vec<Tenant>) {
    {
        let topo = core.topology();
        let mut pods: Vec<DomainFree> =
            topo.pods.iter().map(|p| DomainFree { name: p.name.clone(), capacity: 0, free: 0 }).collect();
        let mut failed = Vec::new();
        let mut free_total = 0;
        for (i, n) in topo.nodes.iter().enumerate() {
            let id = agora_core::NodeId(i as u32);
            if !core.node_is_up(id) {
                failed.push(n.name.clone());
                continue;
            }
            if core.node_is_spare(id) {
                continue;
            }
            let p = &mut pods[n.pod.idx()];
            p.capacity += n.accels as u64;
            let f = core.node_free(id) as u64;
            p.free += f;
            free_total += f;
        }
        let c = Cluster {
            name: topo.name.clone(),
            time: core.now(),
            capacity: core.capacity(),
            free: free_total,
            stranded,
            pending: core.pending_count() as u64,
            running: core.running_count() as u64,
            pods,
            failed_nodes: failed,
        };
        let ents = core.entitlements();
        let nominal = ents.nominal(core.capacity());
        let tenants = (1..ents.len() as u32)
            .map(TenantId)
            .map(|t| {
                let x = ents.get(t);
                Tenant {
                    path: x.path.clone(),
                    level: x.level.clone(),
                    weight: x.weight,
                    floor: x.floor,
                    entitlement: (nominal[t.idx()] * 10.0).round() / 10.0,
                    allocated: core.allocated(t),
                    usage_hours: (core.usage(t) / 3600.0 * 10.0).round() / 10.0,
                }
            })
            .collect();
        (c, tenants)
    }
}

/// Jobs are listed newest first? No: by id ascending, which is submission
/// order; the cursor is the last id returned.
pub fn state_matches(filter: Option<JobState>, s: JobState) -> bool {
    filter.is_none_or(|f| f == s)
}
