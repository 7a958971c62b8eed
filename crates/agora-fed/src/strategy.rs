//! How the server turns the (securely) aggregated update into the next
//! global model. Sites send their model delta weighted by their sample
//! count; SecAgg+ reveals only Σ n_k δ_k and Σ n_k, so FedAvg's
//! sample-weighted mean is computed without seeing any single δ_k.
//!
//! - FedAvg (McMahan et al. 2017): w += Σ n_k δ_k / Σ n_k.
//! - FedProx (Li et al. 2020): the same server step; sites add a proximal
//!   term μ/2 ||w - w_global||² to their local loss (`LocalConfig::prox_mu`).
//! - FedAdam / FedYogi (Reddi et al. 2021, "Adaptive Federated
//!   Optimization"): the mean delta is a pseudo-gradient for a server-side
//!   Adam or Yogi step.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "name")]
pub enum Strategy {
    FedAvg,
    FedProx {
        mu: f64,
    },
    FedAdam {
        lr: f64,
        #[serde(default = "beta1")]
        beta1: f64,
        #[serde(default = "beta2")]
        beta2: f64,
        #[serde(default = "tau")]
        tau: f64,
    },
    FedYogi {
        lr: f64,
        #[serde(default = "beta1")]
        beta1: f64,
        #[serde(default = "beta2")]
        beta2: f64,
        #[serde(default = "tau")]
        tau: f64,
    },
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.99
}
fn tau() -> f64 {
    1e-3
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::FedAvg => "FedAvg",
            Strategy::FedProx { .. } => "FedProx",
            Strategy::FedAdam { .. } => "FedAdam",
            Strategy::FedYogi { .. } => "FedYogi",
        }
    }
    /// The proximal weight sites must use (0 unless FedProx).
    pub fn prox_mu(&self) -> f64 {
        match self {
            Strategy::FedProx { mu } => *mu,
            _ => 0.0,
        }
    }
}

/// The server's optimiser state across rounds.
#[derive(Clone, Debug)]
pub struct ServerOpt {
    strategy: Strategy,
    m: Vec<f64>,
    v: Vec<f64>,
}

impl ServerOpt {
    pub fn new(strategy: Strategy, n_params: usize) -> Self {
        let v0 = match strategy {
            Strategy::FedAdam { tau, .. } | Strategy::FedYogi { tau, .. } => tau * tau,
            _ => 0.0,
        };
        ServerOpt { strategy, m: vec![0.0; n_params], v: vec![v0; n_params] }
    }

    /// Apply the mean delta to the global weights.
    pub fn step(&mut self, w: &mut [f64], delta: &[f64]) {
        match self.strategy {
            Strategy::FedAvg | Strategy::FedProx { .. } => w.iter_mut().zip(delta).for_each(|(w, d)| *w += d),
            Strategy::FedAdam { lr, beta1, beta2, tau } | Strategy::FedYogi { lr, beta1, beta2, tau } => {
                let yogi = matches!(self.strategy, Strategy::FedYogi { .. });
                for i in 0..w.len() {
                    let d = delta[i];
                    self.m[i] = beta1 * self.m[i] + (1.0 - beta1) * d;
                    let d2 = d * d;
                    self.v[i] = if yogi {
                        self.v[i] - (1.0 - beta2) * d2 * (self.v[i] - d2).signum()
                    } else {
                        beta2 * self.v[i] + (1.0 - beta2) * d2
                    };
                    w[i] += lr * self.m[i] / (self.v[i].sqrt() + tau);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedavg_adds_the_mean_delta_and_adam_normalises_it() {
        let mut w = vec![1.0, 2.0];
        ServerOpt::new(Strategy::FedAvg, 2).step(&mut w, &[0.5, -1.0]);
        assert_eq!(w, vec![1.5, 1.0]);
        let mut w = vec![0.0, 0.0];
        let mut o = ServerOpt::new(Strategy::FedAdam { lr: 0.1, beta1: 0.0, beta2: 0.0, tau: 0.0 }, 2);
        o.step(&mut w, &[100.0, -0.001]);
        assert!((w[0] - 0.1).abs() < 1e-12 && (w[1] + 0.1).abs() < 1e-12);
    }
}
