//! Seeded synthetic LLM-era workloads for a 100,000-accelerator site.
//!
//! Role: stream job submissions (`iter`) or collect them (`generate`) for the
//! simulator, at any scale, with the shape of published GPU-cluster traces.
//! Calibration (figures from `traces/reference/*.csv` and `traces/README.md`):
//!
//! - Sizes: small jobs dominate counts. Seren and Kalos (Acme 2023, LLM
//!   development) have a median of 1 GPU per job (means 5.68 and 26.77);
//!   Philly's mean is 1.93, with 86.65% of its jobs on 1 GPU and 5.12% on 8.
//!   Here debug, evaluation and batch-inference jobs use 1-8 accelerators
//!   (1 for 60-66% of them) and fine-tunes 1-512: about 53% of all jobs use
//!   one accelerator and about 92% at most 8.
//! - Tail: "pretraining jobs of thousands of GPUs dominate GPU time while small
//!   jobs dominate counts" (Acme); in Lingjun 7.2% of jobs use 256+ GPUs and
//!   take 20% of GPU time, in Philly 6.2% of jobs use 8+ GPUs and take 62%.
//!   Pretraining gangs are powers of two from 1,024 up to `max_gang`, with
//!   P(g) ∝ g^-1/2 (mean 4,096 when the top is 16,384). They are 0.25% of jobs
//!   and about 80% of accelerator-seconds at the defaults.
//! - Placement: a gang wider than one node takes whole nodes (`per_node` =
//!   `node_accels`, 8), one in ten half nodes (4). If its nodes fit one block
//!   it prefers a block (30% require it), else if they fit one pod it prefers
//!   a pod (50% require it); wider gangs carry no scope.
//! - Durations (log-normal, median and sigma): debug 75 s, 1.2; evaluation
//!   150 s, 1.4; batch inference 20 min, 1.2; fine-tune 4 h, 1.3; pretraining
//!   12 h, 1.1 (runs of days: mean 22 h, 2% past 5 days). The published median
//!   GPU-job run is 122 s on Seren (mean 1,414 s), 124 s on Kalos, 206 s on
//!   Helios, 874 s on Philly; the median of our 1-8-accelerator jobs is about
//!   three minutes.
//! - Arrivals: a Poisson process modulated by time of day and day of week
//!   (the rate is held for 10-minute steps), fitted to Helios Venus' 10-minute submission counts
//!   (`traces/helios-venus-aggregate`): the daily first harmonic has 0.68 of
//!   the mean's amplitude and peaks near 17:00; Saturday and Sunday get 0.68
//!   and 0.77 of the mean against 1.11 on weekdays (ratio about 0.65). Time 0
//!   is a Monday, 00:00.
//! - Offered load: a first pass draws every job's size and duration (from their
//!   own RNG stream, so the second pass redraws them identically), fixes the
//!   horizon H = Σ accels x duration / (target_load x site_accels), and scales
//!   the modulated rate so that `jobs` arrivals are expected in [0, H]. At
//!   the defaults that is about 8,000 jobs a day: 1,000,000 jobs span about
//!   125 days.
//! - Time limits: users overestimate. limit = duration x f, f log-normal with
//!   median 2.5 and sigma 0.4 (90% within 1.3-4.8x), clamped to 1.2-10x,
//!   rounded up to 5 min (to the hour past one hour) and capped per kind
//!   (4 h debug, 1 d evaluation, 2 d inference, 7 d fine-tune, 14 d
//!   pretraining).
//! - Checkpoints: every pretraining job and fine-tunes longer than 2 h.
//!   Write cost 30 s x (accels / 8)^0.3, 30 s-5 min (129 s at 1,024, 295 s at
//!   16,384); interval = Young's optimum for the Llama 3 job MTBF (see
//!   `failures`) times a log-normal user factor (sigma 0.5), 10 min-6 h.
//!   Restart (relaunch, rendezvous, reload) is assumed to take 60 s plus
//!   twice the write cost: 2 min at 8 accelerators, about 11 min at 16,384.
//! - Classes: opportunistic for 25% of evaluations, 50% of batch inference,
//!   15% of fine-tunes, 2% of debugging (about 19% of jobs); reserved for 50%
//!   of pretraining runs and 5% of fine-tunes (about 1%); standard otherwise.
//! - Tenants: `teams` slots, slot t in programme t % `programmes`; pretraining
//!   comes from the first teams/16 ("frontier" teams), other work from all
//!   teams; both Zipf-like (slot k with probability ∝ ln((k+2)/(k+1))).
//!
//! Measured on 100,000 jobs (seed 1) and 1,000,000 (`llm_1m`): median 1
//! accelerator (mean 17); 53% of jobs on one accelerator, 92% on at most 8;
//! jobs of 1,024+ are 0.26% / 0.25% of jobs and 77% / 83% of
//! accelerator-seconds; median run 199 s overall, 173 s for 1-8-accelerator
//! jobs; offered load 0.906 / 0.900 for a 0.9 target; 19% opportunistic, 0.9%
//! reserved; median time limit 3.8x the run (short jobs round up to 5 min).
//!
//! Invariants: sorted by `submit`, ids 1..=jobs in that order; 1 <= accels <=
//! min(max_gang, site_accels); duration <= time_limit <= the kind's cap; a
//! required scope is only asked of a gang that fits one block or pod; the same
//! parameters give the same jobs; no heap allocation per job.

use crate::failures::{gang_mtbf, young_interval, LLAMA3_NODE_MTBF_S};
use agora_core::rng::Rng;
use agora_core::{Checkpointing, JobSpec, PriorityClass, Scope, TenantId, TenantSpec};
use std::f64::consts::TAU;

const DAY: f64 = 86_400.0;
/// Hour of peak submissions (Helios Venus).
const PEAK_S: f64 = 17.0 * 3600.0;

/// Knobs of the generator; `llm_1m` gives the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticParams {
    pub jobs: usize,
    pub seed: u64,
    pub site_accels: u64,
    /// Offered load as a fraction of capacity.
    pub target_load: f64,
    /// The largest gang generated.
    pub max_gang: u32,
    /// Tenant slots are spread over this many programmes.
    pub programmes: usize,
    /// Tenant slots ("teams"); at least `programmes`.
    pub teams: u32,
    /// Accelerators per node; multi-node gangs ask for full (or half) nodes.
    pub node_accels: u8,
    /// Accelerators in one block (HGX scalable unit: 32 nodes x 8).
    pub block_accels: u32,
    /// Accelerators in one spine pod (assumed: 16 scalable units).
    pub pod_accels: u32,
    /// Amplitude of the daily rate cycle, in [0, 1).
    pub diurnal: f64,
    /// Weekend rate relative to weekdays.
    pub weekend: f64,
}

/// The most jobs a synthetic spec may ask for: ten times `llm-1m`.
pub const MAX_JOBS: usize = 10_000_000;

impl SyntheticParams {
    /// 1,000,000 jobs at 90% offered load on 100,000 accelerators.
    pub fn llm_1m() -> Self {
        SyntheticParams {
            jobs: 1_000_000,
            seed: 1,
            site_accels: 100_000,
            target_load: 0.9,
            max_gang: 16_384,
            programmes: 32,
            teams: 512,
            node_accels: 8,
            block_accels: 256,
            pod_accels: 4096,
            diurnal: 0.65,
            weekend: 0.65,
        }
    }

    /// `llm_1m` overridden by a `key=value` list, e.g.
    /// "jobs=10000,seed=3,load=0.8,max_gang=16384". Unknown keys are errors.
    pub fn parse(spec: &str) -> Result<Self, String> {
        fn num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String> {
            v.parse().map_err(|_| format!("`{k}={v}`: `{v}` is not a valid number"))
        }
        let mut p = Self::llm_1m();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or(format!("`{item}` is not key=value"))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "jobs" => p.jobs = num(k, v)?,
                "seed" => p.seed = num(k, v)?,
                "site" | "site_accels" => p.site_accels = num(k, v)?,
                "load" | "target_load" => p.target_load = num(k, v)?,
                "max_gang" => p.max_gang = num(k, v)?,
                "programmes" => p.programmes = num(k, v)?,
                "teams" => p.teams = num(k, v)?,
                "node" | "node_accels" => p.node_accels = num(k, v)?,
                "block" | "block_accels" => p.block_accels = num(k, v)?,
                "pod" | "pod_accels" => p.pod_accels = num(k, v)?,
                "diurnal" => p.diurnal = num(k, v)?,
                "weekend" => p.weekend = num(k, v)?,
                _ => {
                    return Err(format!(
                        "unknown key `{k}` (known: jobs, seed, site, load, max_gang, programmes, teams, node, block, pod, diurnal, weekend)"
                    ))
                }
            }
        }
        p.validate()?;
        Ok(p)
    }

    /// The same parameters shaped to a cluster: its size, its node, its
    /// largest block and its largest pod (so that gangs ask for what the
    /// site's nodes and domains can hold).
    /// `spares` nodes per block are held back as hot spares, so domains are
    /// counted without them.
    pub fn fit(mut self, topo: &agora_core::Topology, spares: u32) -> Self {
        self.site_accels = topo.total_accels();
        self.node_accels = topo.nodes.iter().map(|n| n.accels).max().unwrap_or(8);
        let usable = |b: &agora_core::topology::Block| {
            let keep = b.nodes.len() as u32 - spares.min(b.nodes.len() as u32 - 1);
            b.nodes.clone().take(keep as usize).map(|n| topo.nodes[n as usize].accels as u32).sum::<u32>()
        };
        self.block_accels = topo.blocks.iter().map(usable).max().unwrap_or(self.block_accels);
        self.pod_accels = topo
            .pods
            .iter()
            .map(|p| p.blocks.clone().map(|b| usable(&topo.blocks[b as usize])).sum::<u32>())
            .max()
            .unwrap_or(self.pod_accels);
        self.max_gang = self.max_gang.min(self.site_accels as u32 / 2).max(1);
        self
    }

    /// Why these parameters cannot generate a workload, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let fail = |k: &str, why: &str| Err(format!("{k}: {why}"));
        if !(1..=MAX_JOBS).contains(&self.jobs) {
            return fail("jobs", "must be between 1 and 10,000,000 (about 70 bytes each, per policy run)");
        }
        if !(1..=10_000_000).contains(&self.site_accels) {
            return fail("site_accels", "must be between 1 and 10,000,000");
        }
        if !(self.target_load.is_finite() && self.target_load > 0.0 && self.target_load <= 100.0) {
            return fail("target_load", "must be a positive number, at most 100");
        }
        if self.programmes > 100_000 || self.teams > 1_000_000 {
            return fail("teams", "at most 100,000 programmes and 1,000,000 teams");
        }
        if self.max_gang == 0 {
            return fail("max_gang", "must be at least 1");
        }
        if self.programmes == 0 || (self.teams as usize) < self.programmes {
            return fail("teams", "need at least one programme and at least one team per programme");
        }
        if !(1..=16).contains(&self.node_accels) {
            return fail("node_accels", "must be in 1..=16");
        }
        if self.block_accels == 0 || self.pod_accels < self.block_accels {
            return fail("pod_accels", "need 1 <= block_accels <= pod_accels");
        }
        if !(0.0..1.0).contains(&self.diurnal) {
            return fail("diurnal", "must be in [0, 1)");
        }
        if !(self.weekend.is_finite() && self.weekend > 0.0) {
            return fail("weekend", "must be a positive number");
        }
        Ok(())
    }
}

impl Default for SyntheticParams {
    fn default() -> Self {
        Self::llm_1m()
    }
}

/// What a job is for; each kind has its own size, duration and class mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Pretrain,
    Finetune,
    Eval,
    Debug,
    InferenceBatch,
}

impl JobKind {
    pub const ALL: [JobKind; 5] =
        [JobKind::Pretrain, JobKind::Finetune, JobKind::Eval, JobKind::Debug, JobKind::InferenceBatch];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Pretrain => "pretrain",
            JobKind::Finetune => "finetune",
            JobKind::Eval => "eval",
            JobKind::Debug => "debug",
            JobKind::InferenceBatch => "inference-batch",
        }
    }

    fn model(self) -> &'static Model {
        &MODELS[self as usize]
    }

    /// The longest time limit (and so run) a job of this kind gets.
    pub fn limit_cap(self) -> u64 {
        self.model().cap_s
    }
}

/// One submission. `accels`, `per_node`, `class`, `scope`, `checkpoint` and
/// `time_limit` are what the user asks; `duration` is the true work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthJob {
    pub id: u64,
    /// Seconds since time 0 (a Monday, 00:00).
    pub submit: u64,
    pub accels: u32,
    /// 0 = auto (single-node jobs).
    pub per_node: u8,
    /// True work in seconds.
    pub duration: u64,
    pub time_limit: u64,
    pub kind: JobKind,
    pub class: PriorityClass,
    /// Topology scope and whether it is required.
    pub scope: Option<(Scope, bool)>,
    pub checkpoint: Option<Checkpointing>,
    /// Tenant slot in 0..teams; see `tenant_tree`.
    pub tenant_hint: u32,
}

impl SynthJob {
    /// The core's view of this job, for `tenant`.
    pub fn to_spec(&self, tenant: TenantId) -> JobSpec {
        let mut s = JobSpec::new(self.id, tenant, self.accels)
            .per_node(self.per_node)
            .class(self.class)
            .time_limit(self.time_limit);
        if let Some((scope, required)) = self.scope {
            s = if required { s.within(scope) } else { s.prefer(scope) };
        }
        s.checkpoint = self.checkpoint;
        s
    }
}

/// Per-kind distributions; indexed by `JobKind as usize`.
struct Model {
    /// Accelerator counts and weights; empty = the pretraining power law.
    sizes: &'static [u32],
    size_w: &'static [f64],
    median_s: f64,
    sigma: f64,
    min_s: f64,
    cap_s: u64,
    opportunistic: f64,
    reserved: f64,
}

/// Fractions of all jobs, in `JobKind` order.
const SHARES: [f64; 5] = [0.0025, 0.1575, 0.44, 0.30, 0.10];

const H: u64 = 3600;
static MODELS: [Model; 5] = [
    Model {
        sizes: &[],
        size_w: &[],
        median_s: 12.0 * 3600.0,
        sigma: 1.1,
        min_s: 600.0,
        cap_s: 14 * 24 * H,
        opportunistic: 0.0,
        reserved: 0.5,
    },
    Model {
        sizes: &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        size_w: &[0.10, 0.06, 0.12, 0.32, 0.14, 0.10, 0.08, 0.05, 0.02, 0.01],
        median_s: 4.0 * 3600.0,
        sigma: 1.3,
        min_s: 60.0,
        cap_s: 7 * 24 * H,
        opportunistic: 0.15,
        reserved: 0.05,
    },
    Model {
        sizes: &[1, 2, 4, 8],
        size_w: &[0.66, 0.12, 0.10, 0.12],
        median_s: 150.0,
        sigma: 1.4,
        min_s: 5.0,
        cap_s: 24 * H,
        opportunistic: 0.25,
        reserved: 0.0,
    },
    Model {
        sizes: &[1, 2, 4, 8, 16, 64],
        size_w: &[0.60, 0.10, 0.08, 0.18, 0.025, 0.015],
        median_s: 75.0,
        sigma: 1.2,
        min_s: 5.0,
        cap_s: 4 * H,
        opportunistic: 0.02,
        reserved: 0.0,
    },
    Model {
        sizes: &[1, 2, 4, 8],
        size_w: &[0.45, 0.15, 0.15, 0.25],
        median_s: 1200.0,
        sigma: 1.2,
        min_s: 10.0,
        cap_s: 48 * H,
        opportunistic: 0.5,
        reserved: 0.0,
    },
];

/// Smallest pretraining gang, and the ratio of successive weights (2^-1/2).
const PRETRAIN_MIN: u32 = 1024;
const PRETRAIN_RATIO: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// What the per-job draw needs, derived once from the parameters.
#[derive(Clone, Debug)]
struct Shape {
    cap: u32,
    /// Largest power of two <= cap: the biggest pretraining gang.
    top: u32,
    node_accels: u32,
    block_accels: u32,
    pod_accels: u32,
    teams: u32,
    frontier: u32,
    ln_teams: f64,
    ln_frontier: f64,
}

impl Shape {
    fn new(p: &SyntheticParams) -> Shape {
        let cap = (p.max_gang as u64).min(p.site_accels) as u32;
        let frontier = (p.teams / 16).max(1);
        Shape {
            cap,
            top: 1 << cap.ilog2(),
            node_accels: p.node_accels as u32,
            block_accels: p.block_accels,
            pod_accels: p.pod_accels,
            teams: p.teams,
            frontier,
            ln_teams: (p.teams as f64 + 1.0).ln(),
            ln_frontier: (frontier as f64 + 1.0).ln(),
        }
    }

    /// Kind, accelerators and duration: all the offered load depends on.
    fn draw_work(&self, rng: &mut Rng) -> (JobKind, u32, u64) {
        let kind = JobKind::ALL[rng.weighted(&SHARES)];
        let m = kind.model();
        let accels =
            if m.sizes.is_empty() { self.pretrain_gang(rng) } else { m.sizes[rng.weighted(m.size_w)].min(self.cap) };
        let duration = rng.lognormal(m.median_s, m.sigma).clamp(m.min_s, m.cap_s as f64).round() as u64;
        (kind, accels, duration)
    }

    /// One job without id and submit time. Work comes from its own stream so
    /// that `iter`'s first pass can replay it without drawing the rest.
    fn draw(&self, work: &mut Rng, rng: &mut Rng) -> SynthJob {
        let (kind, accels, duration) = self.draw_work(work);
        let m = kind.model();

        // Multi-node gangs take whole nodes; one in ten asks for half nodes.
        let n = self.node_accels;
        let per_node = if accels <= n {
            0
        } else if n >= 8 && rng.f64() < 0.1 {
            n / 2
        } else {
            n
        };
        let nodes = if per_node == 0 { 1 } else { accels.div_ceil(per_node) };
        let footprint = nodes * n;
        let scope = if per_node == 0 {
            None
        } else if footprint <= self.block_accels {
            Some((Scope::Block, rng.f64() < 0.3))
        } else if footprint <= self.pod_accels {
            Some((Scope::Pod, rng.f64() < 0.5))
        } else {
            None
        };

        let cap = m.cap_s;
        let asked = duration as f64 * rng.lognormal(2.5, 0.4).clamp(1.2, 10.0);
        let step = if asked < 3600.0 { 300.0 } else { 3600.0 };
        let time_limit = ((asked / step).ceil() * step).min(cap as f64) as u64;

        let u = rng.f64();
        let class = if u < m.opportunistic {
            PriorityClass::Opportunistic
        } else if u < m.opportunistic + m.reserved {
            PriorityClass::Reserved
        } else {
            PriorityClass::Standard
        };

        let tenant_hint = if kind == JobKind::Pretrain {
            zipf(rng, self.frontier, self.ln_frontier)
        } else {
            zipf(rng, self.teams, self.ln_teams)
        };

        let checkpoint = if kind == JobKind::Pretrain || (kind == JobKind::Finetune && duration > 2 * H) {
            // Calibrated so that at 16,384 accelerators and Llama 3's ~3.1 h
            // MTBF Daly's waste is about 12% (sqrt(2*60/11,135) + 180/11,135):
            // Llama 3 reports effective training time above 90% there.
            let cost = (15.0 + 45.0 * accels as f64 / 16_384.0).clamp(15.0, 120.0).round();
            let ideal = young_interval(cost, gang_mtbf(LLAMA3_NODE_MTBF_S, accels));
            let interval = (ideal * rng.lognormal(1.0, 0.5) / 60.0).round() * 60.0;
            Some(Checkpointing {
                interval: interval.clamp(600.0, 21_600.0) as u64,
                cost: cost as u64,
                restart: 60 + 2 * cost as u64,
            })
        } else {
            None
        };

        SynthJob {
            id: 0,
            submit: 0,
            accels,
            per_node: per_node as u8,
            duration,
            time_limit,
            kind,
            class,
            scope,
            checkpoint,
            tenant_hint,
        }
    }

    /// A power of two in PRETRAIN_MIN..=top with weight ∝ size^-1/2.
    fn pretrain_gang(&self, rng: &mut Rng) -> u32 {
        if self.top <= PRETRAIN_MIN {
            return self.top;
        }
        let levels = (self.top / PRETRAIN_MIN).ilog2() + 1;
        let mut x = rng.f64() * (1.0 - PRETRAIN_RATIO.powi(levels as i32)) / (1.0 - PRETRAIN_RATIO);
        let (mut g, mut w) = (PRETRAIN_MIN, 1.0);
        while g < self.top && x >= w {
            x -= w;
            w *= PRETRAIN_RATIO;
            g *= 2;
        }
        g
    }
}

/// Slot k of 0..n with probability ln((k+2)/(k+1)) / ln(n+1); `ln_n1` = ln(n+1).
fn zipf(rng: &mut Rng, n: u32, ln_n1: f64) -> u32 {
    let k = ((rng.f64() * ln_n1).exp().floor() as u32).saturating_sub(1);
    k.min(n - 1)
}

/// Length of a step of constant submission rate.
const STEP: f64 = 600.0;

/// The submission rate: over each 10-minute step, `base` times the daily and
/// weekly cycle at the step's midpoint (the cycle's weekly mean is 1).
#[derive(Clone, Debug)]
struct Clock {
    diurnal: f64,
    weekend: f64,
    norm: f64,
    /// Mean arrivals per second.
    base: f64,
    /// End of the current step, and its arrivals per second.
    step_end: f64,
    step_rate: f64,
}

impl Clock {
    fn new(p: &SyntheticParams) -> Clock {
        let mut c = Clock {
            diurnal: p.diurnal,
            weekend: p.weekend,
            norm: (5.0 + 2.0 * p.weekend) / 7.0,
            base: 1.0,
            step_end: 0.0,
            step_rate: 0.0,
        };
        c.set_base(1.0);
        c
    }

    fn set_base(&mut self, base: f64) {
        self.base = base;
        self.step_end = STEP;
        self.step_rate = base * self.cycle(STEP / 2.0);
    }

    fn cycle(&self, t: f64) -> f64 {
        let week = if (t / DAY) as u64 % 7 >= 5 { self.weekend } else { 1.0 };
        week * (1.0 + self.diurnal * (TAU * (t - PEAK_S) / DAY).cos()) / self.norm
    }

    /// ∫0^h of the cycle, step by step.
    fn integral(&self, h: f64) -> f64 {
        let n = (h / STEP) as u64;
        let full: f64 = (0..n).map(|i| self.cycle((i as f64 + 0.5) * STEP)).sum();
        full * STEP + self.cycle((n as f64 + 0.5) * STEP) * (h - n as f64 * STEP)
    }

    /// The first arrival after `t`, given a unit-mean exponential draw `e`
    /// (time rescaling: spend `e` across steps at their rates).
    fn next_arrival(&mut self, mut t: f64, mut e: f64) -> f64 {
        loop {
            let need = e / self.step_rate;
            if t + need <= self.step_end {
                return t + need;
            }
            e -= (self.step_end - t) * self.step_rate;
            t = self.step_end;
            self.step_end += STEP;
            self.step_rate = self.base * self.cycle(self.step_end - STEP / 2.0);
        }
    }
}

/// Jobs in submit order, generated lazily (see the module docs).
#[derive(Clone, Debug)]
pub struct SynthIter {
    shape: Shape,
    clock: Clock,
    work: Rng,
    attrs: Rng,
    arrivals: Rng,
    t: f64,
    next_id: u64,
    left: usize,
}

impl Iterator for SynthIter {
    type Item = SynthJob;

    fn next(&mut self) -> Option<SynthJob> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.t = self.clock.next_arrival(self.t, self.arrivals.exp(1.0));
        let mut job = self.shape.draw(&mut self.work, &mut self.attrs);
        job.id = self.next_id;
        job.submit = self.t as u64;
        self.next_id += 1;
        Some(job)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Independent streams for work, other attributes and arrivals.
fn streams(seed: u64) -> [Rng; 3] {
    [Rng::new(seed), Rng::new(seed ^ 0x5A5A_A5A5_F0F0_0F0F), Rng::new(seed ^ 0xA5A5_5A5A_0F0F_F0F0)]
}

/// Streams `p.jobs` jobs. Panics if `p` does not validate.
pub fn iter(p: &SyntheticParams) -> SynthIter {
    if let Err(e) = p.validate() {
        panic!("invalid synthetic workload parameters: {e}");
    }
    let shape = Shape::new(p);
    let mut clock = Clock::new(p);
    // Pass 1: the work this sample offers, which fixes the horizon.
    let [mut work, attrs, arrivals] = streams(p.seed);
    let total: f64 = (0..p.jobs)
        .map(|_| {
            let (_, accels, duration) = shape.draw_work(&mut work);
            accels as f64 * duration as f64
        })
        .sum();
    let horizon = total / (p.target_load * p.site_accels as f64);
    if p.jobs > 0 {
        clock.set_base(p.jobs as f64 / clock.integral(horizon));
    }
    SynthIter { shape, clock, work: streams(p.seed)[0].clone(), attrs, arrivals, t: 0.0, next_id: 1, left: p.jobs }
}

/// All `p.jobs` jobs, sorted by submit time.
pub fn generate(p: &SyntheticParams) -> Vec<SynthJob> {
    let mut v = Vec::with_capacity(p.jobs);
    v.extend(iter(p));
    v
}

/// Σ accels x duration / (last submit x site_accels).
pub fn offered_load(jobs: &[SynthJob], site_accels: u64) -> f64 {
    let work: f64 = jobs.iter().map(|j| j.accels as f64 * j.duration as f64).sum();
    let horizon = jobs.last().map_or(0, |j| j.submit).max(1);
    work / (horizon as f64 * site_accels as f64)
}

/// Leaf name of tenant slot `slot`.
pub fn team_name(slot: u32) -> String {
    format!("team-{slot:04}")
}

/// The tree tenant hints refer to: `programmes` programmes with equal
/// weights, slot t under programme t % programmes as project `team_name(t)`.
pub fn tenant_tree(p: &SyntheticParams) -> Vec<TenantSpec> {
    let mut progs: Vec<TenantSpec> =
        (0..p.programmes).map(|i| TenantSpec::new(&format!("programme-{i:03}"), "programme", 1.0)).collect();
    for t in 0..p.teams {
        let prog = &mut progs[t as usize % p.programmes];
        prog.children.push(TenantSpec::new(&team_name(t), "project", 1.0));
    }
    progs
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_core::Entitlements;
    use std::sync::OnceLock;

    fn params(jobs: usize) -> SyntheticParams {
        SyntheticParams { jobs, ..SyntheticParams::llm_1m() }
    }

    /// 100,000 jobs at the defaults, generated once.
    fn sample() -> &'static [SynthJob] {
        static S: OnceLock<Vec<SynthJob>> = OnceLock::new();
        S.get_or_init(|| generate(&params(100_000)))
    }

    fn median(mut v: Vec<u64>) -> u64 {
        v.sort_unstable();
        v[v.len() / 2]
    }

    fn frac(jobs: &[SynthJob], f: impl Fn(&SynthJob) -> bool) -> f64 {
        jobs.iter().filter(|j| f(j)).count() as f64 / jobs.len() as f64
    }

    #[test]
    fn small_jobs_dominate_counts() {
        let s = sample();
        assert_eq!(median(s.iter().map(|j| j.accels as u64).collect()), 1);
        let le8 = frac(s, |j| j.accels <= 8);
        assert!(le8 >= 0.8, "{le8}");
    }

    #[test]
    fn pretraining_gangs_are_few_but_dominate_accelerator_time() {
        let s = sample();
        let big = frac(s, |j| j.accels >= 1024);
        assert!(big > 0.0 && big < 0.02, "{big}");
        let work = |j: &SynthJob| j.accels as f64 * j.duration as f64;
        let total: f64 = s.iter().map(work).sum();
        let big_work: f64 = s.iter().filter(|j| j.accels >= 1024).map(work).sum();
        assert!(big_work / total > 0.4, "{}", big_work / total);
        for j in s.iter().filter(|j| j.kind == JobKind::Pretrain) {
            assert!(j.accels.is_power_of_two() && j.accels >= 1024, "{j:?}");
            assert!(matches!(j.per_node, 4 | 8), "{j:?}");
            assert!(j.checkpoint.is_some());
        }
        let days = median(s.iter().filter(|j| j.kind == JobKind::Pretrain).map(|j| j.duration).collect());
        assert!((8 * H..2 * 24 * H).contains(&days), "median pretraining run {days} s");
    }

    #[test]
    fn small_jobs_run_minutes() {
        let s = sample();
        let m = median(s.iter().filter(|j| j.accels <= 8).map(|j| j.duration).collect());
        assert!((60..600).contains(&m), "median small-job run {m} s");
        let m =
            median(s.iter().filter(|j| matches!(j.kind, JobKind::Eval | JobKind::Debug)).map(|j| j.duration).collect());
        assert!((60..300).contains(&m), "median eval/debug run {m} s");
    }

    #[test]
    fn offered_load_hits_the_target() {
        for load in [0.5, 0.9, 1.2] {
            let p = SyntheticParams { target_load: load, ..params(100_000) };
            let got = offered_load(&generate(&p), p.site_accels);
            assert!((got / load - 1.0).abs() < 0.1, "target {load}, offered {got}");
        }
    }

    #[test]
    fn same_seed_same_jobs_other_seed_other_jobs() {
        let p = params(5_000);
        assert_eq!(generate(&p), generate(&p));
        assert_eq!(iter(&p).collect::<Vec<_>>(), generate(&p));
        assert_ne!(generate(&p), generate(&SyntheticParams { seed: 2, ..p.clone() }));
    }

    #[test]
    fn invariants_hold_for_every_job() {
        for p in
            [params(100_000), SyntheticParams::parse("jobs=20000,max_gang=3000,site=4096,node=4,block=72").unwrap()]
        {
            let jobs = if p.jobs == 100_000 { sample().to_vec() } else { generate(&p) };
            let cap = (p.max_gang as u64).min(p.site_accels) as u32;
            assert_eq!(jobs.iter().map(|j| j.accels).max(), Some(1 << cap.ilog2()));
            for (i, j) in jobs.iter().enumerate() {
                assert_eq!(j.id, i as u64 + 1);
                assert!(i == 0 || jobs[i - 1].submit <= j.submit);
                assert!((1..=cap).contains(&j.accels), "{j:?}");
                assert!(j.duration >= 1 && j.duration <= j.time_limit && j.time_limit <= j.kind.limit_cap(), "{j:?}");
                assert!(j.tenant_hint < p.teams);
                let nodes = if j.per_node == 0 { 1 } else { j.accels.div_ceil(j.per_node as u32) };
                let footprint = nodes * p.node_accels as u32;
                match j.scope {
                    Some((Scope::Block, true)) => assert!(footprint <= p.block_accels, "{j:?}"),
                    Some((Scope::Pod, true)) => assert!(footprint <= p.pod_accels, "{j:?}"),
                    _ => {}
                }
                if let Some(c) = j.checkpoint {
                    assert!((15..=120).contains(&c.cost) && (600..=21_600).contains(&c.interval), "{j:?}");
                    assert_eq!(c.restart, 60 + 2 * c.cost);
                }
            }
        }
    }

    #[test]
    fn users_overestimate_time_limits() {
        let s = sample();
        let f = median(s.iter().map(|j| j.time_limit * 100 / j.duration).collect()) as f64 / 100.0;
        assert!((1.5..=5.0).contains(&f), "median limit / duration {f}");
    }

    #[test]
    fn classes_are_mostly_standard() {
        let s = sample();
        let share = |c| frac(s, |j| j.class == c);
        assert!(share(PriorityClass::Standard) > 0.7);
        assert!((0.1..0.3).contains(&share(PriorityClass::Opportunistic)));
        assert!((0.0001..0.05).contains(&share(PriorityClass::Reserved)));
    }

    #[test]
    fn arrivals_follow_the_day_and_the_week() {
        let s = sample();
        let hour = |j: &&SynthJob| j.submit % 86_400 / 3600;
        let peak = s.iter().filter(|j| (15..19).contains(&hour(j))).count() as f64;
        let trough = s.iter().filter(|j| (3..7).contains(&hour(j))).count() as f64;
        // (1 + 0.65 cos) averaged over the 4 h windows: about 1.61 vs 0.39.
        assert!(peak / trough > 3.0, "{peak} vs {trough}");
        // Whole days only: weekend days get `weekend` (0.65) of a weekday's jobs.
        let full = (s.last().unwrap().submit / 86_400) as usize;
        let mut per_day = vec![0.0; full];
        for j in s.iter().filter(|j| ((j.submit / 86_400) as usize) < full) {
            per_day[(j.submit / 86_400) as usize] += 1.0;
        }
        let mean = |weekend: bool| {
            let v: Vec<f64> =
                per_day.iter().enumerate().filter(|(d, _)| (d % 7 >= 5) == weekend).map(|x| *x.1).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let ratio = mean(true) / mean(false);
        assert!((ratio - 0.65).abs() < 0.1, "weekend/weekday {ratio}");
    }

    #[test]
    fn tenants_cover_programmes_and_pretraining_comes_from_frontier_teams() {
        let p = params(0);
        let ents = Entitlements::new(tenant_tree(&p)).unwrap();
        assert_eq!(ents.leaves().count(), p.teams as usize);
        let s = sample();
        let mut progs = vec![0u32; p.programmes];
        for j in s {
            progs[j.tenant_hint as usize % p.programmes] += 1;
            if j.kind == JobKind::Pretrain {
                assert!(j.tenant_hint < p.teams / 16);
            }
        }
        assert!(progs.iter().all(|&n| n > 0), "{progs:?}");
        let t = ents.lookup(&team_name(s[0].tenant_hint)).unwrap();
        let spec = s[0].to_spec(t);
        assert_eq!((spec.accels, spec.time_limit, spec.tenant), (s[0].accels, s[0].time_limit, t));
    }

    #[test]
    fn parse_reads_overrides_and_refuses_unknown_keys() {
        let p = SyntheticParams::parse("jobs=10000, seed=3,load=0.8,max_gang=16384").unwrap();
        assert_eq!((p.jobs, p.seed, p.target_load, p.max_gang), (10_000, 3, 0.8, 16_384));
        assert_eq!(SyntheticParams::parse("").unwrap(), SyntheticParams::llm_1m());
        let e = SyntheticParams::parse("jobs=10,gpus=8").unwrap_err();
        assert!(e.starts_with("unknown key `gpus`"), "{e}");
        assert_eq!(SyntheticParams::parse("load=x").unwrap_err(), "`load=x`: `x` is not a valid number");
        assert_eq!(SyntheticParams::parse("jobs").unwrap_err(), "`jobs` is not key=value");
        assert!(SyntheticParams::parse("diurnal=1").unwrap_err().starts_with("diurnal"));
        assert!(SyntheticParams::parse("programmes=600").unwrap_err().starts_with("teams"));
        // Bounded: no spinning or gigabytes from one typo.
        for spec in ["jobs=4294967296300", "jobs=100000000", "jobs=0"] {
            assert!(
                SyntheticParams::parse(spec).unwrap_err().starts_with("jobs: must be between 1 and 10,000,000"),
                "{spec}"
            );
        }
        assert!(SyntheticParams::parse("load=1e300").unwrap_err().starts_with("target_load"));
        assert!(SyntheticParams::parse("site=18446744073709551615").unwrap_err().starts_with("site_accels"));
    }

    #[test]
    fn max_gang_is_honoured() {
        let p = SyntheticParams::parse("jobs=20000,max_gang=2048").unwrap();
        let jobs = generate(&p);
        assert_eq!(jobs.iter().map(|j| j.accels).max(), Some(2048));
        let p = SyntheticParams::parse("jobs=2000,max_gang=6,site=100").unwrap();
        assert!(generate(&p).iter().all(|j| j.accels <= 6));
    }
}
