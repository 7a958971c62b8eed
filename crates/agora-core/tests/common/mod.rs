//! Test support: builders for sites and tenants, and a tiny text language
//! for scenarios, so each scenario is data: events in, decisions out.

#![allow(dead_code)]

use agora_core::topology::Regular;
use agora_core::*;

/// A small regular site: `pods` × `blocks_per_pod` blocks of `nodes` nodes × `accels`.
pub struct SiteBuilder {
    regular: Regular,
    cfg: Config,
    tenants: Vec<TenantSpec>,
}

impl SiteBuilder {
    pub fn new(blocks: u32, blocks_per_pod: u32, nodes: u32, accels: u8) -> Self {
        SiteBuilder {
            regular: Regular {
                name: "test".into(),
                accel_type: "gpu".into(),
                blocks,
                blocks_per_pod,
                nodes_per_block: nodes,
                accels_per_node: accels,
                last_block_nodes: 0,
            },
            cfg: Config { preemption_grace: 60, ..Config::default() },
            tenants: Vec::new(),
        }
    }
    pub fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.cfg);
        self
    }
    pub fn tenant(mut self, t: TenantSpec) -> Self {
        self.tenants.push(t);
        self
    }
    /// Two funders with two projects each: a/a1, a/a2, b/b1, b/b2, equal weights.
    pub fn default_tenants(self) -> Self {
        self.tenant(
            TenantSpec::new("a", "funder", 1.0)
                .child(TenantSpec::new("a1", "project", 1.0))
                .child(TenantSpec::new("a2", "project", 1.0)),
        )
        .tenant(
            TenantSpec::new("b", "funder", 1.0)
                .child(TenantSpec::new("b1", "project", 1.0))
                .child(TenantSpec::new("b2", "project", 1.0)),
        )
    }
    pub fn build(self) -> Scheduler {
        let ents = Entitlements::new(self.tenants).expect("valid tenants");
        Scheduler::new(self.regular.build().expect("valid site"), ents, self.cfg)
    }
}

/// Runs a scenario script and returns the transcript.
///
/// Script lines (`#` starts a comment):
/// - `at T` — set the clock
/// - `submit ID TENANT ACCELS [per_node=K] [class=C] [within=S] [prefer=S] [limit=SECS] [elastic=MIN] [ck=INTERVAL/COST[/RESTART]]`
/// - `tick`, `finish ID`, `crash ID`, `cancel ID`, `fail NODE`, `repair NODE`
/// - `explain ID` — print the job's reason
/// - `state ID` — print the job's state
///
/// Transcript lines: one per decision, error or printed value.
pub fn run(s: &mut Scheduler, script: &str) -> String {
    let mut now = s.now();
    let mut lines = Vec::new();
    for raw in script.lines() {
        let line = raw.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        let event = match w[0] {
            "at" => {
                now = w[1].parse().unwrap();
                continue;
            }
            "submit" => Event::Submit(parse_job(s, &w[1..])),
            "tick" => Event::Tick,
            "finish" => Event::Finished(JobId(w[1].parse().unwrap())),
            "crash" => Event::JobFailed(JobId(w[1].parse().unwrap())),
            "cancel" => Event::Cancel(JobId(w[1].parse().unwrap())),
            "fail" => Event::NodeFailed(NodeId(w[1].parse().unwrap())),
            "repair" => Event::NodeRepaired(NodeId(w[1].parse().unwrap())),
            "explain" => {
                let id = JobId(w[1].parse().unwrap());
                lines.push(format!("{id}: {}", s.explain(id).unwrap_or_else(|| "not pending".into())));
                continue;
            }
            "state" => {
                let id = JobId(w[1].parse().unwrap());
                let st = s.job(id).map(|j| j.state.to_string()).unwrap_or_else(|| "gone".into());
                lines.push(format!("{id}: {st}"));
                continue;
            }
            other => panic!("unknown scenario command {other}"),
        };
        let mut out = Vec::new();
        match s.handle(now, event, &mut out) {
            Ok(()) => lines.extend(out.iter().map(render)),
            Err(e) => lines.push(format!("error: {e}")),
        }
        s.check_invariants().unwrap_or_else(|e| panic!("invariant broken after `{line}`: {e}"));
    }
    lines.join("\n")
}

pub fn parse_job(s: &Scheduler, w: &[&str]) -> JobSpec {
    let tenant = s.entitlements().lookup(w[1]).unwrap_or(TenantId(999));
    let mut j = JobSpec::new(w[0].parse().unwrap(), tenant, w[2].parse().unwrap());
    for opt in &w[3..] {
        let (k, v) = opt.split_once('=').expect("key=value");
        match k {
            "per_node" => j.per_node = v.parse().unwrap(),
            "class" => j.class = PriorityClass::parse(v).unwrap(),
            "within" => j = j.within(Scope::parse(v).unwrap()),
            "prefer" => j = j.prefer(Scope::parse(v).unwrap()),
            "limit" => j.time_limit = v.parse().unwrap(),
            "elastic" => j.min_accels = Some(v.parse().unwrap()),
            "ck" => {
                let p: Vec<u64> = v.split('/').map(|x| x.parse().unwrap()).collect();
                j = j.checkpoint(p[0], p[1]);
                j.checkpoint.as_mut().unwrap().restart = p.get(2).copied().unwrap_or(0);
            }
            _ => panic!("unknown job option {k}"),
        }
    }
    j
}

pub fn render(d: &Decision) -> String {
    match d {
        Decision::Start { job, slots, accels, scope, backfilled, opportunistic, resume_from } => {
            let nodes: Vec<String> = slots.iter().map(|s| format!("{}:{}", s.node, s.accels())).collect();
            format!(
                "start {job} {accels} on {} ({}{}{}{})",
                nodes.join(","),
                scope.name(),
                if *backfilled { ", backfilled" } else { "" },
                if *opportunistic { ", opportunistic" } else { "" },
                if *resume_from > 0 { format!(", resume from {resume_from}") } else { String::new() }
            )
        }
        Decision::Preempt { job, by, grace_until, cause } => {
            let why = match cause {
                PreemptCause::LowerClass => "",
                PreemptCause::Borrowing => " (borrowing)",
                PreemptCause::AttainedService => " (attained service)",
            };
            format!("preempt {job} for {by} until {grace_until}{why}")
        }
        Decision::ReplaceNode { job, failed, spare, resume_from } => {
            format!("replace node {failed} of {job} by spare {spare}, resume from {resume_from}")
        }
        Decision::Requeue { job, cause, resume_from, lost } => {
            format!("requeue {job} ({cause:?}), resume from {resume_from}, lost {lost}")
        }
    }
}
