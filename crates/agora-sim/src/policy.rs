//! The policies `agora sim` compares. Each is a configuration of the one
//! production scheduler, not a second implementation:
//!
//! | name   | ordering                      | backfill | preemption |
//! |--------|-------------------------------|----------|------------|
//! | fifo   | submission order              | strict   | no         |
//! | easy   | submission order              | EASY     | no         |
//! | las    | least attained service, 2 queues (Tiresias-style) | greedy | by attained service |
//! | drf    | fair share on current allocation only (no history) | EASY | no |
//! | agora  | the site's settings (hierarchical fair share with decayed usage, EASY, reclaim) | | |
//! | oracle | shortest remaining work first with exact runtimes and exact time limits | EASY | no |
//!
//! The oracle is a reference point that knows what no scheduler knows, not
//! a proven optimum.

use agora_core::{Backfill, Config, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fifo,
    Easy,
    Las,
    Drf,
    Agora,
    Oracle,
}

/// LAS queue threshold: 8 accelerator-hours of attained service.
pub const LAS_THRESHOLD: f64 = 8.0 * 3600.0;

impl Policy {
    pub const ALL: [Policy; 6] = [Policy::Fifo, Policy::Easy, Policy::Las, Policy::Drf, Policy::Agora, Policy::Oracle];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Easy => "easy",
            Policy::Las => "las",
            Policy::Drf => "drf",
            Policy::Agora => "agora",
            Policy::Oracle => "oracle",
        }
    }

    pub fn parse(s: &str) -> Result<Policy, String> {
        Policy::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
            format!("unknown policy `{s}` (expected one of {})", names.join(", "))
        })
    }

    /// A comma-separated list, in the order given, without repeats.
    pub fn parse_list(s: &str) -> Result<Vec<Policy>, String> {
        let mut out = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = Policy::parse(p)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err("no policy given".into());
        }
        Ok(out)
    }

    /// The scheduler configuration for this policy, from the site's.
    pub fn configure(self, site: &Config) -> Config {
        let mut c = site.clone();
        match self {
            Policy::Fifo => {
                c.ordering = Ordering::Fifo;
                c.backfill = Backfill::Strict;
                c.preemption = false;
            }
            Policy::Easy => {
                c.ordering = Ordering::Fifo;
                c.backfill = Backfill::Easy;
                c.preemption = false;
            }
            Policy::Las => {
                c.ordering = Ordering::Las { threshold: LAS_THRESHOLD };
                c.backfill = Backfill::Greedy;
                c.preemption = true;
            }
            Policy::Drf => {
                c.ordering = Ordering::FairShare;
                c.half_life = 0;
                c.alloc_weight = Some(1.0);
                c.backfill = Backfill::Easy;
                c.preemption = false;
            }
            Policy::Agora => {}
            Policy::Oracle => {
                c.ordering = Ordering::ShortestRemaining;
                c.backfill = Backfill::Easy;
                c.preemption = false;
            }
        }
        c
    }

    /// Does the scheduler see exact runtimes?
    pub fn exact_estimates(self) -> bool {
        self == Policy::Oracle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_in_order_and_bad_names_are_named() {
        assert_eq!(Policy::parse_list("agora, easy,agora").unwrap(), [Policy::Agora, Policy::Easy]);
        assert_eq!(
            Policy::parse_list("sjf").unwrap_err(),
            "unknown policy `sjf` (expected one of fifo, easy, las, drf, agora, oracle)"
        );
        assert!(Policy::parse_list(" , ").is_err());
        assert_eq!(Policy::Fifo.configure(&Config::default()).backfill, Backfill::Strict);
    }
}
