//! Privacy accounting per dataset, across rounds and runs. Loss is kept as
//! zCDP ρ (Rényi DP of order α is αρ for every α); ε at δ comes from the
//! RDP-to-DP conversion of Canonne, Kamath and Steinke (2020):
//! ε = min over α of αρ + (ln(1/δ) + (α-1) ln(1-1/α) - ln α) / (α-1).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub epsilon: f64,
    pub delta: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("privacy budget of `{dataset}` would be exceeded: ε would reach {would:.3} > {budget:.3} at δ = {delta:e} (spent so far: ε = {spent:.3})")]
pub struct BudgetExceeded {
    pub dataset: String,
    pub would: f64,
    pub budget: f64,
    pub delta: f64,
    pub spent: f64,
}

/// ε at δ of total zCDP ρ.
pub fn epsilon(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    if !rho.is_finite() {
        return f64::INFINITY;
    }
    let mut best = f64::INFINITY;
    let mut alpha = 1.001f64;
    while alpha < 10_000.0 {
        let e =
            alpha * rho + ((1.0 / delta).ln() + (alpha - 1.0) * (1.0 - 1.0 / alpha).ln() - alpha.ln()) / (alpha - 1.0);
        best = best.min(e);
        alpha *= 1.02;
    }
    best.max(0.0)
}

/// Spent ρ per dataset; persisted by the caller (JSON) between runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accountant {
    pub spent: BTreeMap<String, f64>,
}

impl Accountant {
    pub fn spent_epsilon(&self, dataset: &str, delta: f64) -> f64 {
        epsilon(self.spent.get(dataset).copied().unwrap_or(0.0), delta)
    }

    /// Would spending `rho` more on `dataset` stay within `budget`?
    pub fn check(&self, dataset: &str, rho: f64, budget: &Budget) -> Result<(), BudgetExceeded> {
        let now = self.spent.get(dataset).copied().unwrap_or(0.0);
        let would = epsilon(now + rho, budget.delta);
        if would > budget.epsilon || !would.is_finite() {
            return Err(BudgetExceeded {
                dataset: dataset.to_string(),
                would,
                budget: budget.epsilon,
                delta: budget.delta,
                spent: epsilon(now, budget.delta),
            });
        }
        Ok(())
    }

    /// Spend `rho` if the budget allows it; otherwise nothing changes.
    pub fn charge(&mut self, dataset: &str, rho: f64, budget: &Budget) -> Result<f64, BudgetExceeded> {
        self.check(dataset, rho, budget)?;
        let s = self.spent.entry(dataset.to_string()).or_insert(0.0);
        *s += rho;
        Ok(epsilon(*s, budget.delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_is_tighter_than_the_classic_bound() {
        let (rho, delta) = (0.1, 1e-5);
        let classic = rho + 2.0 * (rho * (1.0f64 / delta).ln()).sqrt();
        let e = epsilon(rho, delta);
        assert!(e < classic && e > 0.5 * classic, "{e} vs {classic}");
    }

    #[test]
    fn the_accountant_refuses_what_would_exceed_the_budget() {
        let budget = Budget { epsilon: 1.0, delta: 1e-5 };
        let mut a = Accountant::default();
        let mut rounds = 0;
        while a.charge("fed-heart-disease", 0.002, &budget).is_ok() {
            rounds += 1;
        }
        assert!(rounds > 0);
        let spent = a.spent["fed-heart-disease"];
        let e = a.charge("fed-heart-disease", 0.002, &budget).unwrap_err();
        assert!(e.would > 1.0 && e.spent <= 1.0);
        assert_eq!(a.spent["fed-heart-disease"], spent, "a refused charge spends nothing");
        // Another dataset has its own budget.
        assert!(a.charge("fed-tcga-brca", 0.002, &budget).is_ok());
    }
}
