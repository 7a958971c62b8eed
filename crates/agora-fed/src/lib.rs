//! Federated training for data owners: hospitals train one model together
//! while their records never leave them.
//!
//! Everything in this crate is pure: no sockets, no clock, no files read at
//! run time (the datasets are embedded). Randomness comes from a [`prg::Prg`]
//! the caller seeds (from the OS in production, from a seed in tests).
//!
//! - [`data`]: the embedded real datasets, cleaned and split as FLamby does.
//! - [`model`]: logistic regression, a small MLP, Cox proportional hazards.
//! - [`strategy`]: FedAvg (sample-weighted), FedProx, FedAdam / FedYogi.
//! - [`secagg`]: SecAgg+ (Bell et al., CCS 2020) as sans-IO state machines.
//! - [`dp`]: distributed discrete Gaussian noise and a Rényi DP accountant.
//! - [`run`]: a federated run (rounds of select, train, securely aggregate).

pub mod data;
pub mod dp;
pub mod model;
pub mod prg;
pub mod report;
pub mod run;
pub mod secagg;
pub mod strategy;
