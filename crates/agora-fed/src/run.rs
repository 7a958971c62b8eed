//! A federated run: the coordinator and the site agent as sans-IO state
//! machines, and an in-memory driver ([`simulate`]) used by tests, the
//! benchmark and `agora fed demo`'s checks.
//!
//! One round: the coordinator sends the global model (and, with SecAgg+ on,
//! the Setup of a fresh SecAgg+ session) to the selected sites; each agent
//! evaluates the model on its own test set, trains locally, encodes
//! `[n_k δ_k, n_k]` in Z/2^32 (or, with privacy on, its clipped, rounded
//! and noised δ_k) and takes part in SecAgg+; the coordinator learns only
//! the sum and applies the strategy. The caller moves messages and decides
//! when a stage's time is up (`Coordinator::advance`). Nothing here names a
//! site's data: an agent holds its `Trainer`, the coordinator only names.
//!
//! Seam for the control plane: a run carries the project it belongs to, and
//! [`Coordinator::status`] is the read-only progress view (round,
//! participants, dropped sites, metrics per site and pooled, privacy spent).

use crate::data::{SiteData, Task};
use crate::dp::{self, Accountant, BudgetExceeded, PrivacyConfig};
use crate::model::{LocalConfig, Model, ModelKind};
use crate::prg::Prg;
use crate::secagg::{self, FixedPoint, Params, ServerError, SiteIdx};
use crate::strategy::{ServerOpt, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A run, as described in its TOML file (the coordinator's part).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub name: String,
    /// The project the run belongs to, e.g. `health/federation-coordinator/fed-oncology`.
    #[serde(default)]
    pub project: Option<String>,
    /// Dataset name, for the privacy ledger and reports.
    pub dataset: String,
    pub model: ModelKind,
    /// Number of input features of the model.
    pub inputs: usize,
    pub rounds: usize,
    pub local: LocalConfig,
    pub strategy: Strategy,
    #[serde(default = "yes")]
    pub secagg: bool,
    /// Sites expected to join, by name.
    pub sites: Vec<String>,
    /// Fewest surviving sites for a round to count.
    #[serde(default = "two")]
    pub min_sites: usize,
    /// Cap on a site's sample weight (bounds the fixed-point range).
    #[serde(default = "weight_cap")]
    pub weight_cap: f64,
    /// Each coordinate of a site's delta is clamped to ±update_bound.
    #[serde(default = "update_bound")]
    pub update_bound: f64,
    #[serde(default)]
    pub privacy: Option<PrivacyConfig>,
    #[serde(default)]
    pub seed: u64,
}

fn yes() -> bool {
    true
}
fn two() -> usize {
    2
}
fn weight_cap() -> f64 {
    1000.0
}
fn update_bound() -> f64 {
    10.0
}

impl RunConfig {
    pub fn parse_toml(text: &str) -> Result<RunConfig, RunError> {
        let c: RunConfig = toml::from_str(text).map_err(|e| RunError::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }
    pub fn validate(&self) -> Result<(), RunError> {
        let bad = |m: String| Err(RunError::Config(m));
        if self.sites.len() < 2 {
            return bad("a run needs at least 2 sites".into());
        }
        let mut names = self.sites.clone();
        names.sort();
        names.dedup();
        if names.len() != self.sites.len() {
            return bad("site names must be unique".into());
        }
        if self.rounds == 0 || self.rounds > 100_000 {
            return bad(format!("rounds = {}: need 1..=100000", self.rounds));
        }
        if self.inputs == 0 || self.local.batch == 0 || self.local.lr <= 0.0 {
            return bad("inputs, local.batch and local.lr must be positive".into());
        }
        if self.min_sites < 2 || self.min_sites > self.sites.len() {
            return bad(format!("min_sites = {} must be in 2..={}", self.min_sites, self.sites.len()));
        }
        if let Some(p) = &self.privacy {
            if !(p.clip > 0.0
                && p.scale > 0.0
                && p.noise > 0.0
                && p.budget.epsilon > 0.0
                && p.budget.delta > 0.0
                && p.budget.delta < 1.0)
            {
                return bad("privacy: clip, scale, noise, epsilon must be positive and 0 < delta < 1".into());
            }
            if !self.secagg {
                return bad("privacy needs secagg = true (distributed noise is only private in the sum)".into());
            }
        }
        Ok(())
    }
    pub fn model(&self) -> Model {
        Model::new(self.model, self.inputs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("run file: {0}")]
    Config(String),
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    #[error("secure aggregation: {0}")]
    SecAgg(#[from] ServerError),
    #[error("unknown site `{0}`")]
    UnknownSite(String),
    #[error("the run is not collecting anything now")]
    Idle,
    #[error("only {0} sites available, the run needs {1}")]
    TooFewSites(usize, usize),
}

/// How sites encode their update this round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Encoding {
    /// `[w_k δ_k, w_k]` with w_k = min(n_k, weight_cap), δ clamped to ±update_bound.
    Weighted { fp: FixedPoint, weight_cap: f64, update_bound: f64 },
    /// Distributed discrete Gaussian: privatised δ_k only, uniform weights.
    Private(PrivacyConfig),
}

/// Coordinator to agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Down {
    Round {
        round: u32,
        model: ModelKind,
        inputs: usize,
        weights: Vec<f64>,
        local: LocalConfig,
        encoding: Encoding,
        /// SecAgg+ Setup for this site; None when SecAgg+ is off.
        secagg: Option<Vec<u8>>,
    },
    SecAgg(Vec<u8>),
    Finish {
        weights: Vec<f64>,
    },
}

/// Agent to coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Up {
    /// Evaluation of model version `version` (the model after that many rounds).
    Metrics {
        version: u32,
        n: usize,
        metric: f64,
    },
    SecAgg(Vec<u8>),
    /// The encoded update in clear (SecAgg+ off: for comparison only).
    Plain(Vec<u32>),
    /// The agent could not take part this round.
    Failed(String),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    pub round: u32,
    pub participants: Vec<String>,
    pub dropped: Vec<String>,
    pub excluded: Vec<(String, String)>,
    pub abandoned: Option<String>,
    /// ε spent on the dataset after this round (privacy on).
    pub epsilon: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eval {
    pub version: u32,
    pub site: String,
    pub n: usize,
    pub metric: f64,
}

/// The read-only progress view of a run (what a query API serves).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub run: String,
    pub project: Option<String>,
    pub dataset: String,
    pub model: String,
    pub strategy: String,
    pub metric: String,
    pub secagg: bool,
    pub round: u32,
    pub rounds: u32,
    pub state: String,
    pub history: Vec<RoundReport>,
    pub evals: Vec<Eval>,
    pub epsilon_spent: Option<f64>,
}

impl Status {
    /// Sample-weighted mean of the sites' metric for a model version: for
    /// accuracy this is exactly the pooled-test accuracy.
    pub fn pooled(&self, version: u32) -> Option<f64> {
        let es: Vec<&Eval> = self.evals.iter().filter(|e| e.version == version).collect();
        let n: usize = es.iter().map(|e| e.n).sum();
        (n > 0).then(|| es.iter().map(|e| e.metric * e.n as f64).sum::<f64>() / n as f64)
    }
}

enum Collect {
    Idle,
    SecAgg { server: Box<secagg::Server>, names: Vec<String>, encoding: Encoding },
    Plain { got: BTreeMap<String, Vec<u32>>, names: Vec<String>, encoding: Encoding },
}

pub enum Progress {
    Send(Vec<(String, Down)>),
    RoundDone(RoundReport),
}

pub struct Coordinator {
    cfg: RunConfig,
    model: Model,
    weights: Vec<f64>,
    opt: ServerOpt,
    round: u32,
    rng: Prg,
    collect: Collect,
    history: Vec<RoundReport>,
    evals: Vec<Eval>,
    state: String,
    pub accountant: Accountant,
}

impl Coordinator {
    pub fn new(cfg: RunConfig, accountant: Accountant, rng: Prg) -> Result<Coordinator, RunError> {
        cfg.validate()?;
        let model = cfg.model();
        let mut rng = rng;
        let weights = model.init(&mut rng);
        // Refuse up front a run whose rounds would exceed the budget.
        if let Some(p) = &cfg.privacy {
            let rho = dp::round_rho(p, model.n_params(), cfg.min_sites) * cfg.rounds as f64;
            accountant.check(&cfg.dataset, rho, &p.budget)?;
        }
        Ok(Coordinator {
            opt: ServerOpt::new(cfg.strategy, model.n_params()),
            model,
            weights,
            round: 0,
            rng,
            collect: Collect::Idle,
            history: Vec::new(),
            evals: Vec::new(),
            state: "created".into(),
            accountant,
            cfg,
        })
    }

    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }
    pub fn is_finished(&self) -> bool {
        self.round as usize >= self.cfg.rounds
    }

    /// Begin the next round with the sites now connected.
    pub fn start_round(&mut self, available: &[String]) -> Result<Vec<(String, Down)>, RunError> {
        let mut names: Vec<String> = available.iter().filter(|s| self.cfg.sites.contains(s)).cloned().collect();
        names.sort();
        names.dedup();
        if names.len() < self.cfg.min_sites {
            return Err(RunError::TooFewSites(names.len(), self.cfg.min_sites));
        }
        let n_params = self.model.n_params();
        let encoding = match &self.cfg.privacy {
            Some(p) => {
                // Charge before anything noisy leaves a site: the run stops before exceeding.
                let rho = dp::round_rho(p, n_params, self.cfg.min_sites);
                if let Err(e) = self.accountant.check(&self.cfg.dataset, rho, &p.budget) {
                    self.state = format!("stopped: {e}");
                    return Err(e.into());
                }
                self.accountant.charge(&self.cfg.dataset, rho, &p.budget)?;
                Encoding::Private(p.clone())
            }
            None => Encoding::Weighted {
                fp: FixedPoint::for_sum(names.len(), self.cfg.update_bound * self.cfg.weight_cap),
                weight_cap: self.cfg.weight_cap,
                update_bound: self.cfg.update_bound,
            },
        };
        let len = match encoding {
            Encoding::Private(_) => n_params,
            Encoding::Weighted { .. } => n_params + 1,
        } as u32;
        self.round += 1;
        self.state = format!("round {} of {}", self.round, self.cfg.rounds);
        let mut setups: Vec<Option<Vec<u8>>> = vec![None; names.len()];
        if self.cfg.secagg {
            let mut p = Params::for_sites(names.len() as u32, len);
            // Never fewer survivors than the run's minimum (and the privacy accounting's).
            p.t = p.t.max(self.cfg.min_sites.saturating_sub(1) as u32).min(p.k);
            let (server, out) = secagg::Server::new(p, &mut self.rng)?;
            for (i, bytes) in out {
                setups[i as usize] = Some(bytes);
            }
            self.collect =
                Collect::SecAgg { server: Box::new(server), names: names.clone(), encoding: encoding.clone() };
        } else {
            self.collect = Collect::Plain { got: BTreeMap::new(), names: names.clone(), encoding: encoding.clone() };
        }
        Ok(names
            .iter()
            .zip(setups)
            .map(|(s, setup)| {
                let d = Down::Round {
                    round: self.round,
                    model: self.model.kind,
                    inputs: self.model.inputs,
                    weights: self.weights.clone(),
                    local: self.cfg.local,
                    encoding: encoding.clone(),
                    secagg: setup,
                };
                (s.clone(), d)
            })
            .collect())
    }

    /// A message from an authenticated site. Bad input excludes the site
    /// from the round (an error is returned for the log); the run goes on.
    pub fn receive(&mut self, site: &str, up: Up) -> Result<(), RunError> {
        if !self.cfg.sites.iter().any(|s| s == site) {
            return Err(RunError::UnknownSite(site.to_string()));
        }
        match up {
            Up::Metrics { version, n, metric } => {
                if version <= self.round
                    && metric.is_finite()
                    && !self.evals.iter().any(|e| e.version == version && e.site == site)
                {
                    self.evals.push(Eval { version, site: site.to_string(), n, metric });
                }
                Ok(())
            }
            Up::Failed(_) => Ok(()),
            Up::SecAgg(bytes) => match &mut self.collect {
                Collect::SecAgg { server, names, .. } => {
                    let idx = names.iter().position(|n| n == site).ok_or_else(|| RunError::UnknownSite(site.into()))?;
                    server.receive(idx as SiteIdx, &bytes).map_err(RunError::from)
                }
                _ => Err(RunError::Idle),
            },
            Up::Plain(v) => match &mut self.collect {
                Collect::Plain { got, names, .. } => {
                    let want = self.model.n_params() + 1;
                    if !names.iter().any(|n| n == site) || v.len() != want {
                        return Err(RunError::Config(format!(
                            "site {site}: update of length {}, expected {want}",
                            v.len()
                        )));
                    }
                    got.insert(site.to_string(), v);
                    Ok(())
                }
                _ => Err(RunError::Idle),
            },
        }
    }

    /// Sites whose message for the current stage has not arrived.
    pub fn waiting_for(&self) -> Vec<String> {
        match &self.collect {
            Collect::Idle => vec![],
            Collect::SecAgg { server, names, .. } => {
                server.waiting_for().iter().map(|&i| names[i as usize].clone()).collect()
            }
            Collect::Plain { got, names, .. } => names.iter().filter(|n| !got.contains_key(*n)).cloned().collect(),
        }
    }

    /// Close the current stage (everyone answered, or time is up).
    pub fn advance(&mut self) -> Result<Progress, RunError> {
        let collect = std::mem::replace(&mut self.collect, Collect::Idle);
        let (sum, survivors, dropped, excluded, names, encoding) = match collect {
            Collect::Idle => return Err(RunError::Idle),
            Collect::SecAgg { mut server, names, encoding } => match server.advance() {
                Ok(secagg::Step::Send(out)) => {
                    let msgs = out.into_iter().map(|(i, b)| (names[i as usize].clone(), Down::SecAgg(b))).collect();
                    self.collect = Collect::SecAgg { server, names, encoding };
                    return Ok(Progress::Send(msgs));
                }
                Ok(secagg::Step::Done(a)) => {
                    let s: Vec<String> = a.survivors.iter().map(|&i| names[i as usize].clone()).collect();
                    let d: Vec<String> = a.dropped.iter().map(|&i| names[i as usize].clone()).collect();
                    let x: Vec<(String, String)> =
                        a.excluded.iter().map(|(i, r)| (names[*i as usize].clone(), r.clone())).collect();
                    (a.sum, s, d, x, names, encoding)
                }
                Err(e) => return Ok(Progress::RoundDone(self.abandon(&names, e.to_string()))),
            },
            Collect::Plain { got, names, encoding } => {
                let mut sum = vec![0u32; self.model.n_params() + 1];
                for v in got.values() {
                    sum.iter_mut().zip(v).for_each(|(a, b)| *a = a.wrapping_add(*b));
                }
                let s: Vec<String> = got.keys().cloned().collect();
                let d: Vec<String> = names.iter().filter(|n| !got.contains_key(*n)).cloned().collect();
                if s.len() < self.cfg.min_sites {
                    return Ok(Progress::RoundDone(
                        self.abandon(&names, format!("{} updates, need {}", s.len(), self.cfg.min_sites)),
                    ));
                }
                (sum, s, d, vec![], names, encoding)
            }
        };
        let _ = names;
        if survivors.len() < self.cfg.min_sites {
            let r = self.abandon(&survivors, format!("{} survivors, need {}", survivors.len(), self.cfg.min_sites));
            return Ok(Progress::RoundDone(r));
        }
        let p = self.model.n_params();
        let mean: Vec<f64> = match &encoding {
            Encoding::Weighted { fp, .. } => {
                let dec = fp.decode(&sum);
                let total = dec[p];
                if total <= 0.0 {
                    return Ok(Progress::RoundDone(self.abandon(&survivors, "no samples in the aggregate".into())));
                }
                dec[..p].iter().map(|v| v / total).collect()
            }
            Encoding::Private(cfg) => {
                sum.iter().map(|&v| v as i32 as f64 / (cfg.scale * survivors.len() as f64)).collect()
            }
        };
        self.opt.step(&mut self.weights, &mean);
        let report = RoundReport {
            round: self.round,
            participants: survivors,
            dropped,
            excluded,
            abandoned: None,
            epsilon: self
                .cfg
                .privacy
                .as_ref()
                .map(|pc| self.accountant.spent_epsilon(&self.cfg.dataset, pc.budget.delta)),
        };
        self.history.push(report.clone());
        if self.is_finished() {
            self.state = "finished".into();
        }
        Ok(Progress::RoundDone(report))
    }

    fn abandon(&mut self, who: &[String], why: String) -> RoundReport {
        let r = RoundReport {
            round: self.round,
            participants: who.to_vec(),
            abandoned: Some(why),
            epsilon: self
                .cfg
                .privacy
                .as_ref()
                .map(|pc| self.accountant.spent_epsilon(&self.cfg.dataset, pc.budget.delta)),
            ..RoundReport::default()
        };
        self.history.push(r.clone());
        if self.is_finished() {
            self.state = "finished".into();
        }
        r
    }

    /// The final model for every site (they answer with their metrics).
    pub fn finish(&mut self, available: &[String]) -> Vec<(String, Down)> {
        available.iter().map(|s| (s.clone(), Down::Finish { weights: self.weights.clone() })).collect()
    }

    pub fn status(&self) -> Status {
        Status {
            run: self.cfg.name.clone(),
            project: self.cfg.project.clone(),
            dataset: self.cfg.dataset.clone(),
            model: self.model.kind.name(),
            strategy: self.cfg.strategy.name().into(),
            metric: match self.model.kind.task() {
                Task::Classification => "accuracy".into(),
                Task::Survival => "C-index".into(),
            },
            secagg: self.cfg.secagg,
            round: self.round,
            rounds: self.cfg.rounds as u32,
            state: self.state.clone(),
            history: self.history.clone(),
            evals: self.evals.clone(),
            epsilon_spent: self
                .cfg
                .privacy
                .as_ref()
                .map(|p| self.accountant.spent_epsilon(&self.cfg.dataset, p.budget.delta)),
        }
    }
}

/// A site's training code: built in, or the site's own command.
pub trait Trainer {
    /// Train from `global`; the new weights and the number of samples used.
    fn train(
        &mut self,
        model: &Model,
        global: &[f64],
        local: &LocalConfig,
        rng: &mut Prg,
    ) -> Result<(Vec<f64>, usize), String>;
    /// The metric of `w` on the site's own test set, and its size.
    fn evaluate(&mut self, model: &Model, w: &[f64]) -> Result<(usize, f64), String>;
}

/// The built-in models on a site's own data.
pub struct BuiltinTrainer {
    pub data: SiteData,
}

impl Trainer for BuiltinTrainer {
    fn train(
        &mut self,
        model: &Model,
        global: &[f64],
        local: &LocalConfig,
        rng: &mut Prg,
    ) -> Result<(Vec<f64>, usize), String> {
        if model.inputs != self.data.train.features() {
            return Err(format!(
                "model expects {} features, the site's data has {}",
                model.inputs,
                self.data.train.features()
            ));
        }
        Ok((model.train(global, &self.data.train, local, rng), self.data.train.len()))
    }
    fn evaluate(&mut self, model: &Model, w: &[f64]) -> Result<(usize, f64), String> {
        if model.inputs != self.data.test.features() {
            return Err("feature count mismatch".into());
        }
        Ok((self.data.test.len(), model.metric(w, &self.data.test)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the coordinator sent {got} weights for a model of {want}")]
    Weights { got: usize, want: usize },
    #[error("training failed: {0}")]
    Trainer(String),
    #[error(transparent)]
    SecAgg(#[from] secagg::ClientError),
    #[error("the coordinator asked for an impossible model: {0}")]
    Model(String),
    #[error("unexpected message: no round in progress")]
    NoRound,
}

/// The site's side: holds the trainer and this round's SecAgg+ client.
pub struct Agent<T: Trainer> {
    pub trainer: T,
    rng: Prg,
    client: Option<secagg::Client>,
    version: u32,
    last: Option<Model>,
}

impl<T: Trainer> Agent<T> {
    pub fn new(trainer: T, rng: Prg) -> Self {
        Agent { trainer, rng, client: None, version: 0, last: None }
    }

    pub fn handle(&mut self, down: Down) -> Result<Vec<Up>, AgentError> {
        match down {
            Down::Round { round, model, inputs, weights, local, encoding, secagg } => {
                self.client = None;
                // A hostile coordinator must not make us allocate or overflow.
                let hidden = if let ModelKind::Mlp { hidden } = model { hidden } else { 0 };
                if round == 0 || inputs == 0 || inputs > 1_000_000 || hidden > 100_000 {
                    return Err(AgentError::Model(format!("round {round}, {inputs} inputs, {hidden} hidden units")));
                }
                let model = Model::new(model, inputs);
                self.last = Some(model);
                if weights.len() != model.n_params() || weights.iter().any(|w| !w.is_finite()) {
                    return Err(AgentError::Weights { got: weights.len(), want: model.n_params() });
                }
                let mut out = Vec::new();
                self.version = round - 1;
                if let Ok((n, metric)) = self.trainer.evaluate(&model, &weights) {
                    out.push(Up::Metrics { version: round - 1, n, metric });
                }
                let (new, n) =
                    self.trainer.train(&model, &weights, &local, &mut self.rng).map_err(AgentError::Trainer)?;
                if new.len() != weights.len() || new.iter().any(|w| !w.is_finite()) {
                    return Err(AgentError::Trainer(format!(
                        "trainer returned {} weights (expected {}) or non-finite values",
                        new.len(),
                        weights.len()
                    )));
                }
                let delta: Vec<f64> = new.iter().zip(&weights).map(|(a, b)| a - b).collect();
                // Drawn whether or not SecAgg+ is on, so both runs see the same stream.
                let client_seed = self.rng.bytes32();
                let encoded = encode(&delta, n, &encoding, &mut self.rng);
                match secagg {
                    Some(setup) => {
                        let mut c = secagg::Client::new(encoded, Prg::from_seed(client_seed));
                        if let Some(r) = c.handle(&setup)? {
                            out.push(Up::SecAgg(r));
                        }
                        self.client = Some(c);
                    }
                    None => out.push(Up::Plain(encoded)),
                }
                Ok(out)
            }
            Down::SecAgg(bytes) => {
                let c = self.client.as_mut().ok_or(AgentError::NoRound)?;
                let r = c.handle(&bytes);
                if c.is_done() || r.is_err() {
                    self.client = None;
                }
                Ok(r?.map(Up::SecAgg).into_iter().collect())
            }
            Down::Finish { weights } => {
                self.client = None;
                let mut out = vec![];
                // The model shape is whatever the weights say; the trainer checks features.
                if let Some(model) = self.last_model(weights.len()) {
                    if let Ok((n, metric)) = self.trainer.evaluate(&model, &weights) {
                        out.push(Up::Metrics { version: self.version + 1, n, metric });
                    }
                }
                Ok(out)
            }
        }
    }

    fn last_model(&self, n_params: usize) -> Option<Model> {
        self.last.filter(|m| m.n_params() == n_params)
    }
}

/// A site's update in Z/2^32, as the round's encoding says.
pub fn encode(delta: &[f64], n: usize, enc: &Encoding, rng: &mut Prg) -> Vec<u32> {
    match enc {
        Encoding::Weighted { fp, weight_cap, update_bound } => {
            let w = (n as f64).min(*weight_cap);
            let mut v: Vec<f64> = delta.iter().map(|d| d.clamp(-update_bound, *update_bound) * w).collect();
            v.push(w);
            fp.encode(&v)
        }
        Encoding::Private(p) => dp::privatise(delta, p, rng),
    }
}

/// What happens to a site's messages in a simulated round.
pub trait Network {
    /// Is `site` still there when stage `stage` (0 = round start, 1..=4
    /// SecAgg+ stages) of round `round` is delivered?
    fn alive(&mut self, round: u32, stage: u8, site: &str) -> bool;
}

/// Every site always answers.
pub struct Reliable;
impl Network for Reliable {
    fn alive(&mut self, _: u32, _: u8, _: &str) -> bool {
        true
    }
}

/// Run a whole federation in memory: one agent per trainer, messages moved
/// by value, rounds driven to the end. Returns the coordinator (its status,
/// weights and ledger).
pub fn simulate<T: Trainer>(
    cfg: RunConfig,
    accountant: Accountant,
    trainers: Vec<(String, T)>,
    net: &mut dyn Network,
) -> Result<Coordinator, RunError> {
    let seed = cfg.seed;
    let mut coord = Coordinator::new(cfg, accountant, Prg::seeded(seed))?;
    let mut agents: BTreeMap<String, Agent<T>> = trainers
        .into_iter()
        .enumerate()
        .map(|(i, (name, t))| (name, Agent::new(t, Prg::seeded(seed.wrapping_mul(7919).wrapping_add(i as u64 + 1)))))
        .collect();
    let names: Vec<String> = agents.keys().cloned().collect();
    while !coord.is_finished() {
        let mut out = coord.start_round(&names)?;
        let round = coord.round;
        let mut stage = 0u8;
        loop {
            for (site, down) in out {
                if !net.alive(round, stage, &site) {
                    continue;
                }
                let Some(agent) = agents.get_mut(&site) else { continue };
                if let Ok(ups) = agent.handle(down) {
                    for up in ups {
                        let _ = coord.receive(&site, up);
                    }
                }
            }
            match coord.advance()? {
                Progress::Send(next) => {
                    out = next;
                    stage += 1;
                }
                Progress::RoundDone(_) => break,
            }
        }
    }
    for (site, down) in coord.finish(&names) {
        if let Some(agent) = agents.get_mut(&site) {
            if let Ok(ups) = agent.handle(down) {
                for up in ups {
                    let _ = coord.receive(&site, up);
                }
            }
        }
    }
    Ok(coord)
}
