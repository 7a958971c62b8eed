//! Built-in models for tabular medical data, on flat parameter vectors
//! (what strategies average and SecAgg+ sums): logistic regression and a
//! small MLP for classification, Cox proportional hazards for survival.
//! Linear algebra is ndarray's; local training is minibatch SGD or Adam
//! with an optional FedProx proximal term.

mod cox;
mod mlp;

use crate::data::{Samples, Task};
use crate::prg::Prg;
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

pub use cox::c_index;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ModelKind {
    Logistic,
    Mlp { hidden: usize },
    Cox,
}

impl ModelKind {
    pub fn task(self) -> Task {
        match self {
            ModelKind::Cox => Task::Survival,
            _ => Task::Classification,
        }
    }
    pub fn name(self) -> String {
        match self {
            ModelKind::Logistic => "logistic regression".into(),
            ModelKind::Mlp { hidden } => format!("MLP ({hidden} hidden)"),
            ModelKind::Cox => "Cox proportional hazards".into(),
        }
    }
}

/// A model's shape; parameters live outside, as `Vec<f64>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model {
    pub kind: ModelKind,
    pub inputs: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Sgd,
    Adam,
}

/// How a site trains locally in one round.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub optimizer: Optimizer,
    /// FedProx: weight of (mu/2)||w - w_global||^2; 0 for FedAvg.
    pub prox_mu: f64,
}

impl Model {
    pub fn new(kind: ModelKind, inputs: usize) -> Self {
        Model { kind, inputs }
    }

    pub fn n_params(&self) -> usize {
        match self.kind {
            ModelKind::Logistic | ModelKind::Cox => self.inputs + 1,
            ModelKind::Mlp { hidden } => mlp::n_params(self.inputs, hidden),
        }
    }

    /// Initial parameters (zeros for linear models, scaled normal for the MLP).
    pub fn init(&self, rng: &mut Prg) -> Vec<f64> {
        match self.kind {
            ModelKind::Logistic | ModelKind::Cox => vec![0.0; self.n_params()],
            ModelKind::Mlp { hidden } => mlp::init(self.inputs, hidden, rng),
        }
    }

    /// Scores: probability of the positive class, or the Cox risk score.
    pub fn predict(&self, w: &[f64], x: ArrayView2<f64>) -> Array1<f64> {
        match self.kind {
            ModelKind::Logistic => linear(w, x).mapv(sigmoid),
            ModelKind::Cox => linear(w, x),
            ModelKind::Mlp { hidden } => mlp::forward(w, self.inputs, hidden, x).0,
        }
    }

    /// Mean loss and its gradient on a batch.
    pub fn loss_grad(&self, w: &[f64], x: ArrayView2<f64>, y: ArrayView1<f64>, t: ArrayView1<f64>) -> (f64, Vec<f64>) {
        match self.kind {
            ModelKind::Logistic => {
                let p = linear(w, x).mapv(sigmoid);
                let n = y.len().max(1) as f64;
                let err = (&p - &y) / n;
                let mut g = x.t().dot(&err).to_vec();
                g.push(err.sum());
                let loss = p.iter().zip(y).map(|(p, y)| bce(*p, *y)).sum::<f64>() / n;
                (loss, g)
            }
            ModelKind::Cox => cox::loss_grad(w, x, y, t),
            ModelKind::Mlp { hidden } => mlp::loss_grad(w, self.inputs, hidden, x, y),
        }
    }

    /// The task's metric on `s`: accuracy (threshold 0.5) or Harrell's C-index.
    pub fn metric(&self, w: &[f64], s: &Samples) -> f64 {
        let p = self.predict(w, s.x.view());
        match self.kind.task() {
            Task::Classification => {
                let ok = p.iter().zip(&s.y).filter(|(p, y)| (**p >= 0.5) == (**y > 0.5)).count();
                ok as f64 / s.len().max(1) as f64
            }
            Task::Survival => c_index(s.time.view(), p.view(), s.y.view()),
        }
    }

    /// Local training from `global`: returns the site's new parameters.
    pub fn train(&self, global: &[f64], s: &Samples, cfg: &LocalConfig, rng: &mut Prg) -> Vec<f64> {
        let mut w = global.to_vec();
        if s.is_empty() {
            return w;
        }
        let n = s.len();
        let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        let mut order: Vec<usize> = (0..n).collect();
        let mut at = n;
        for step in 1..=cfg.steps {
            let mut idx = Vec::with_capacity(cfg.batch);
            while idx.len() < cfg.batch.min(n) {
                if at == n {
                    rng.shuffle(&mut order);
                    at = 0;
                }
                idx.push(order[at]);
                at += 1;
            }
            let b = s.select(&idx);
            let (_, mut g) = self.loss_grad(&w, b.x.view(), b.y.view(), b.time.view());
            if cfg.prox_mu > 0.0 {
                for i in 0..g.len() {
                    g[i] += cfg.prox_mu * (w[i] - global[i]);
                }
            }
            match cfg.optimizer {
                Optimizer::Sgd => w.iter_mut().zip(&g).for_each(|(w, g)| *w -= cfg.lr * g),
                Optimizer::Adam => {
                    let (c1, c2) = (1.0 - b1_pow(b1, step), 1.0 - b1_pow(b2, step));
                    for i in 0..w.len() {
                        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                        w[i] -= cfg.lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
                    }
                }
            }
        }
        w
    }
}

fn b1_pow(b: f64, t: usize) -> f64 {
    b.powi(t.min(i32::MAX as usize) as i32)
}

fn linear(w: &[f64], x: ArrayView2<f64>) -> Array1<f64> {
    let d = x.ncols();
    x.dot(&ArrayView1::from(&w[..d])) + w[d]
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

pub(crate) fn bce(p: f64, y: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_grad_check(model: Model, w: &[f64], s: &Samples) {
        let (_, g) = model.loss_grad(w, s.x.view(), s.y.view(), s.time.view());
        for i in 0..w.len() {
            let h = 1e-6;
            let (mut a, mut b) = (w.to_vec(), w.to_vec());
            a[i] += h;
            b[i] -= h;
            let fa = model.loss_grad(&a, s.x.view(), s.y.view(), s.time.view()).0;
            let fb = model.loss_grad(&b, s.x.view(), s.y.view(), s.time.view()).0;
            let num = (fa - fb) / (2.0 * h);
            assert!((num - g[i]).abs() < 1e-5 * (1.0 + num.abs()), "{:?} param {i}: {num} vs {}", model.kind, g[i]);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (_, heart) = crate::data::load("fed-heart-disease").unwrap();
        let s = heart[0].train.select(&(0..20).collect::<Vec<_>>());
        let mut rng = Prg::seeded(1);
        for kind in [ModelKind::Logistic, ModelKind::Mlp { hidden: 4 }] {
            let m = Model::new(kind, 13);
            let mut w = m.init(&mut rng);
            w.iter_mut().for_each(|v| *v += 0.1 * rng.normal());
            numeric_grad_check(m, &w, &s);
        }
        let (_, tcga) = crate::data::load("fed-tcga-brca").unwrap();
        let s = tcga[0].train.select(&(0..40).collect::<Vec<_>>());
        let m = Model::new(ModelKind::Cox, 39);
        let w: Vec<f64> = (0..40).map(|_| 0.1 * rng.normal()).collect();
        numeric_grad_check(m, &w, &s);
    }
}
