//! Distributed differential privacy (Kairouz, Liu, Steinke, ICML 2021,
//! "The Distributed Discrete Gaussian Mechanism for Federated Learning with
//! Secure Aggregation"): each site clips its update, maps it to integers by
//! randomised rounding and adds discrete Gaussian noise; SecAgg+ sums the
//! integers, so the sum carries every site's noise and nobody ever sees a
//! site's noisy update alone.
//!
//! The sampler is Canonne, Kamath and Steinke's (NeurIPS 2020, Algorithms 1-3:
//! Bernoulli(exp(-x)), discrete Laplace, discrete Gaussian by rejection) on
//! our ChaCha20 `Prg`; the Bernoulli(exp(-x)) trials use f64 arithmetic
//! rather than CKS's exact rationals (a documented simplification).
//!
//! [`Accountant`] tracks privacy loss as zero-concentrated DP (ρ, which
//! composes by addition over rounds and runs) and reports ε at δ through
//! the Rényi-DP conversion of Canonne, Kamath and Steinke (2020, Prop. 12).

pub mod accountant;
pub use accountant::{Accountant, Budget, BudgetExceeded};

use crate::prg::Prg;
use serde::{Deserialize, Serialize};

/// The data owner's privacy settings for a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyConfig {
    /// L2 clipping norm of a site's update (model units).
    pub clip: f64,
    /// Integers per model unit (1/γ in KLS).
    pub scale: f64,
    /// Standard deviation of each site's discrete Gaussian noise, in model
    /// units (the sum over m sites has m times the variance).
    pub noise: f64,
    /// The data owner's budget.
    pub budget: Budget,
}

/// Bernoulli(exp(-gamma)), gamma >= 0 (CKS Algorithm 1, by repeated trials).
fn bernoulli_exp(gamma: f64, rng: &mut Prg) -> bool {
    if gamma <= 1.0 {
        // exp(-g) = sum over k of the event "A_1..A_{k-1} all 1, A_k 0" with A_k ~ Bern(g/k).
        let mut k = 1.0;
        loop {
            if rng.uniform() >= gamma / k {
                return (k as u64) % 2 == 1;
            }
            k += 1.0;
        }
    }
    let whole = gamma.floor() as u64;
    for _ in 0..whole {
        if !bernoulli_exp(1.0, rng) {
            return false;
        }
    }
    bernoulli_exp(gamma - whole as f64, rng)
}

/// Discrete Laplace with scale t (CKS Algorithm 2), t >= 1.
fn discrete_laplace(t: u64, rng: &mut Prg) -> i64 {
    loop {
        let u = rng.below(t);
        if !bernoulli_exp(u as f64 / t as f64, rng) {
            continue;
        }
        let mut v = 0u64;
        while bernoulli_exp(1.0, rng) {
            v += 1;
        }
        let x = (u + t * v) as i64;
        let neg = rng.below(2) == 1;
        if neg && x == 0 {
            continue;
        }
        return if neg { -x } else { x };
    }
}

/// Discrete Gaussian N_Z(0, sigma^2) (CKS Algorithm 3).
pub fn discrete_gaussian(sigma: f64, rng: &mut Prg) -> i64 {
    if sigma <= 0.0 {
        return 0;
    }
    let t = sigma.floor() as u64 + 1;
    let s2 = sigma * sigma;
    loop {
        let y = discrete_laplace(t, rng);
        let d = (y.unsigned_abs() as f64) - s2 / t as f64;
        if bernoulli_exp(d * d / (2.0 * s2), rng) {
            return y;
        }
    }
}

/// A site's privatised update in integers: clip to `clip` (L2), scale,
/// randomised rounding, plus discrete Gaussian noise. Returns Z/2^32 words.
pub fn privatise(update: &[f64], cfg: &PrivacyConfig, rng: &mut Prg) -> Vec<u32> {
    let norm = update.iter().map(|v| v * v).sum::<f64>().sqrt();
    let factor = if norm > cfg.clip { cfg.clip / norm } else { 1.0 };
    let sigma_int = cfg.noise * cfg.scale;
    update
        .iter()
        .map(|v| {
            let x = v * factor * cfg.scale;
            let fl = x.floor();
            let r = if rng.uniform() < x - fl { fl + 1.0 } else { fl };
            let noisy = r as i64 + discrete_gaussian(sigma_int, rng);
            noisy as i32 as u32
        })
        .collect()
}

/// zCDP ρ of one round: KLS Theorem 1 for `sites` noise shares of standard
/// deviation `noise * scale` each, sensitivity after clipping and rounding
/// Δ2 <= clip * scale + sqrt(d), over `dim` coordinates.
pub fn round_rho(cfg: &PrivacyConfig, dim: usize, sites: usize) -> f64 {
    let n = sites.max(1) as f64;
    let sigma = cfg.noise * cfg.scale;
    if sigma <= 0.0 {
        return f64::INFINITY;
    }
    let d = dim as f64;
    let delta2 = cfg.clip * cfg.scale + d.sqrt();
    let s2 = sigma * sigma;
    let tau: f64 = 10.0
        * (1..sites.max(1))
            .map(|k| (-2.0 * std::f64::consts::PI.powi(2) * s2 * k as f64 / (k as f64 + 1.0)).exp())
            .sum::<f64>();
    let e1 = (delta2 * delta2 / (n * s2) + 2.0 * tau * d).sqrt();
    let e2 = delta2 / (n.sqrt() * sigma) + tau * d.sqrt();
    let eps = e1.min(e2);
    eps * eps / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_gaussian_has_the_right_moments() {
        let mut rng = Prg::seeded(1);
        for sigma in [0.7, 3.0, 20.0] {
            let n = 40_000;
            let xs: Vec<f64> = (0..n).map(|_| discrete_gaussian(sigma, &mut rng) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
            // The discrete Gaussian's variance is at most sigma^2 and close to it for sigma >= 1.
            assert!(mean.abs() < 5.0 * sigma / (n as f64).sqrt(), "sigma {sigma}: mean {mean}");
            let lo = if sigma < 1.0 { 0.3 } else { 0.95 };
            assert!(var < sigma * sigma * 1.05 && var > sigma * sigma * lo, "sigma {sigma}: var {var}");
        }
    }

    #[test]
    fn privatise_clips_and_adds_noise_in_integers() {
        let mut rng = Prg::seeded(2);
        let cfg = PrivacyConfig { clip: 1.0, scale: 1000.0, noise: 0.0, budget: Budget { epsilon: 1.0, delta: 1e-5 } };
        let u = vec![3.0, 4.0]; // norm 5 -> clipped to (0.6, 0.8)
        let v = privatise(&u, &cfg, &mut rng);
        assert_eq!(v.iter().map(|&w| w as i32).collect::<Vec<_>>(), vec![600, 800]);
        let noisy = PrivacyConfig { noise: 0.01, ..cfg };
        let v = privatise(&u, &noisy, &mut rng);
        assert!(v.iter().map(|&w| w as i32).zip([600, 800]).any(|(a, b)| a != b));
    }

    #[test]
    fn more_noise_or_more_sites_cost_less_privacy() {
        let cfg = PrivacyConfig { clip: 1.0, scale: 100.0, noise: 1.0, budget: Budget { epsilon: 1.0, delta: 1e-5 } };
        let base = round_rho(&cfg, 14, 4);
        assert!(round_rho(&PrivacyConfig { noise: 2.0, ..cfg.clone() }, 14, 4) < base);
        assert!(round_rho(&cfg, 14, 8) < base);
        // Large sigma: close to the continuous Gaussian's Δ²/(2 n σ²).
        let want = (100.0f64 + 14f64.sqrt()).powi(2) / (2.0 * 4.0 * 100.0f64.powi(2));
        assert!((base - want).abs() / want < 1e-6, "{base} vs {want}");
    }
}
