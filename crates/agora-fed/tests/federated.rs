//! Model quality against FLamby's published federated baselines, with
//! SecAgg+ on, through the same coordinator and agents as `agora fed`.
//! Baselines (crates/agora-fed/data/README.md): Fed-Heart-Disease FedAvg
//! pooled-test accuracy 0.748 ± 0.027; Fed-TCGA-BRCA FedAvg pooled-test
//! C-index 0.735 ± 0.175, pooled training 0.704.

use agora_fed::data::{self, Samples, SiteData};
use agora_fed::dp::{Accountant, Budget, PrivacyConfig};
use agora_fed::model::{LocalConfig, Model, ModelKind, Optimizer};
use agora_fed::run::{simulate, BuiltinTrainer, Network, Reliable, RunConfig, RunError};
use agora_fed::strategy::Strategy;

fn sites(name: &str) -> Vec<SiteData> {
    data::load(name).unwrap().1
}

fn trainers(sites: &[SiteData]) -> Vec<(String, BuiltinTrainer)> {
    sites.iter().map(|s| (s.name.clone(), BuiltinTrainer { data: s.clone() })).collect()
}

fn pooled_test(sites: &[SiteData]) -> Samples {
    Samples::concat(&sites.iter().map(|s| &s.test).collect::<Vec<_>>())
}

/// FLamby's Fed-Heart-Disease FedAvg: logistic regression, SGD lr 0.001,
/// batch 4, 100 local updates, 15 rounds.
fn heart_cfg(strategy: Strategy, secagg: bool, seed: u64) -> RunConfig {
    RunConfig {
        name: "heart".into(),
        project: Some("health/federation-coordinator/fed-cardio".into()),
        dataset: "fed-heart-disease".into(),
        model: ModelKind::Logistic,
        inputs: 13,
        rounds: 15,
        local: LocalConfig { steps: 100, batch: 4, lr: 0.001, optimizer: Optimizer::Sgd, prox_mu: strategy.prox_mu() },
        strategy,
        secagg,
        sites: sites("fed-heart-disease").iter().map(|s| s.name.clone()).collect(),
        min_sites: 2,
        weight_cap: 1000.0,
        update_bound: 10.0,
        privacy: None,
        seed,
    }
}

#[test]
fn heart_disease_fedavg_with_secagg_matches_flamby() {
    let s = sites("fed-heart-disease");
    let pooled = pooled_test(&s);
    let model = Model::new(ModelKind::Logistic, 13);
    let mut accs = Vec::new();
    for seed in 42..45 {
        let c = simulate(heart_cfg(Strategy::FedAvg, true, seed), Accountant::default(), trainers(&s), &mut Reliable)
            .unwrap();
        let acc = model.metric(c.weights(), &pooled);
        // The coordinator's own view (sites report on their test sets) is the same number.
        let st = c.status();
        assert!((st.pooled(15).unwrap() - acc).abs() < 1e-12);
        assert_eq!(st.history.len(), 15);
        assert!(st.history.iter().all(|r| r.participants.len() == 4 && r.abandoned.is_none()));
        accs.push(acc);
    }
    let mean = accs.iter().sum::<f64>() / accs.len() as f64;
    // FLamby: 0.748 ± 0.027 (mean ± sd over 5 seeds): within two sd.
    eprintln!("FIGURE heart fedavg secagg pooled acc mean {mean:.4} {accs:?}");
    assert!((0.748 - 2.0 * 0.027..=0.748 + 2.0 * 0.027).contains(&mean), "FedAvg pooled accuracy {mean:.3} ({accs:?})");
}

#[test]
fn secagg_on_and_off_give_the_same_model_up_to_fixed_point_error() {
    let s = sites("fed-heart-disease");
    let mut cfg = heart_cfg(Strategy::FedAvg, true, 7);
    cfg.rounds = 5;
    let on = simulate(cfg.clone(), Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    cfg.secagg = false;
    let off = simulate(cfg, Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    // Same encoding both ways: the sums are bit-identical, so the models are.
    assert_eq!(on.weights(), off.weights());
    // The fixed-point encoding's own error against float sums is bounded in
    // secagg::tests::secagg_on_equals_off_up_to_fixed_point_error; here the
    // run's encoding (4 sites, bound 1e4) resolves a weighted delta to:
    let fp = agora_fed::secagg::FixedPoint::for_sum(4, 10.0 * 1000.0);
    assert!(fp.sum_error(4) < 1e-4, "{}", fp.sum_error(4));
}

#[test]
fn heart_disease_fedprox_and_fedyogi_train() {
    let s = sites("fed-heart-disease");
    let pooled = pooled_test(&s);
    let model = Model::new(ModelKind::Logistic, 13);
    let prox = simulate(
        heart_cfg(Strategy::FedProx { mu: 0.01 }, true, 42),
        Accountant::default(),
        trainers(&s),
        &mut Reliable,
    )
    .unwrap();
    assert!(model.metric(prox.weights(), &pooled) > 0.69);
    let mut cfg = heart_cfg(Strategy::FedYogi { lr: 0.01, beta1: 0.9, beta2: 0.999, tau: 1e-3 }, true, 42);
    cfg.local.lr = 0.003162;
    let yogi = simulate(cfg, Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    // FLamby FedYogi: 0.779 ± 0.015 on its own split; ours reaches about
    // 0.744 with FLamby's learning rates: held to FedAvg's band.
    let acc = model.metric(yogi.weights(), &pooled);
    eprintln!("FIGURE heart fedyogi acc {acc:.4} fedprox acc {:.4}", model.metric(prox.weights(), &pooled));
    assert!(acc > 0.748 - 2.0 * 0.027, "FedYogi pooled accuracy {acc:.3}");
}

#[test]
fn heart_disease_mlp_trains_federated() {
    let s = sites("fed-heart-disease");
    let mut cfg = heart_cfg(Strategy::FedAvg, true, 3);
    cfg.model = ModelKind::Mlp { hidden: 8 };
    cfg.local.lr = 0.01;
    let c = simulate(cfg, Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    let acc = Model::new(ModelKind::Mlp { hidden: 8 }, 13).metric(c.weights(), &pooled_test(&s));
    eprintln!("FIGURE heart mlp acc {acc:.4}");
    assert!(acc > 0.7, "MLP pooled accuracy {acc:.3}");
}

#[test]
fn tcga_brca_cox_fedavg_with_secagg_matches_flamby() {
    let s = sites("fed-tcga-brca");
    let pooled = pooled_test(&s);
    let model = Model::new(ModelKind::Cox, 39);
    let local = LocalConfig { steps: 100, batch: 8, lr: 0.1, optimizer: Optimizer::Sgd, prox_mu: 0.0 };
    let cfg = RunConfig {
        name: "brca".into(),
        project: Some("health/federation-coordinator/fed-oncology".into()),
        dataset: "fed-tcga-brca".into(),
        model: ModelKind::Cox,
        inputs: 39,
        rounds: 5,
        local,
        strategy: Strategy::FedAvg,
        secagg: true,
        sites: s.iter().map(|x| x.name.clone()).collect(),
        min_sites: 2,
        weight_cap: 1000.0,
        update_bound: 10.0,
        privacy: None,
        seed: 42,
    };
    let c = simulate(cfg, Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    let fed = model.metric(c.weights(), &pooled);
    // Pooled training as FLamby does it (Adam lr 0.1, batch 8, 30 epochs) on the union of train sets.
    let all_train = Samples::concat(&s.iter().map(|x| &x.train).collect::<Vec<_>>());
    let steps = 30 * all_train.len() / 8;
    let pooled_local = LocalConfig { steps, batch: 8, lr: 0.1, optimizer: Optimizer::Adam, prox_mu: 0.0 };
    let mut rng = agora_fed::prg::Prg::seeded(42);
    let w = model.train(&vec![0.0; 40], &all_train, &pooled_local, &mut rng);
    let pooled_c = model.metric(&w, &pooled);
    // FLamby: FedAvg 0.735 ± 0.175, pooled 0.704 ± 0.114: federated within 0.1 of pooled.
    eprintln!("FIGURE tcga fedavg secagg C {fed:.4} pooled-training C {pooled_c:.4}");
    assert!(fed > 0.6 && fed >= pooled_c - 0.1, "federated C-index {fed:.3}, pooled {pooled_c:.3}");
}

/// Sites vanish: Hungary after sharing keys in round 3, VA after its masked upload in round 5.
struct Flaky;
impl Network for Flaky {
    fn alive(&mut self, round: u32, stage: u8, site: &str) -> bool {
        !matches!((round, stage, site), (3, 2, "Hungary") | (5, 3, "VA Long Beach"))
    }
}

#[test]
fn dropouts_mid_round_keep_training_with_the_survivors() {
    let s = sites("fed-heart-disease");
    let mut cfg = heart_cfg(Strategy::FedAvg, true, 5);
    cfg.rounds = 6;
    let c = simulate(cfg, Accountant::default(), trainers(&s), &mut Flaky).unwrap();
    let h = &c.status().history;
    assert_eq!(h[2].participants, vec!["Cleveland", "Switzerland", "VA Long Beach"]);
    assert_eq!(h[2].dropped, vec!["Hungary"]);
    // VA's masked input arrived before it vanished: it is in the sum.
    assert_eq!(h[4].participants.len(), 4);
    assert!(h.iter().all(|r| r.abandoned.is_none()));
}

fn private_cfg(noise: f64, epsilon: f64, rounds: usize) -> RunConfig {
    let mut cfg = heart_cfg(Strategy::FedAvg, true, 11);
    cfg.rounds = rounds;
    cfg.local = LocalConfig { steps: 100, batch: 4, lr: 0.01, optimizer: Optimizer::Sgd, prox_mu: 0.0 };
    cfg.min_sites = 3;
    cfg.privacy = Some(PrivacyConfig { clip: 1.0, scale: 1000.0, noise, budget: Budget { epsilon, delta: 1e-5 } });
    cfg
}

#[test]
fn distributed_dp_trains_and_spends_what_it_says() {
    let s = sites("fed-heart-disease");
    let c = simulate(private_cfg(1.0, 20.0, 15), Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    let st = c.status();
    let eps = st.epsilon_spent.unwrap();
    assert!(eps > 0.0 && eps <= 20.0, "{eps}");
    let acc = Model::new(ModelKind::Logistic, 13).metric(c.weights(), &pooled_test(&s));
    assert!(acc > 0.65, "DP accuracy {acc:.3} at eps {eps:.2}");
    // ε grows round by round.
    let e: Vec<f64> = st.history.iter().map(|r| r.epsilon.unwrap()).collect();
    assert!(e.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn a_run_that_would_exceed_the_budget_is_refused_before_training() {
    let s = sites("fed-heart-disease");
    let err = simulate(private_cfg(0.05, 1.0, 15), Accountant::default(), trainers(&s), &mut Reliable).err().unwrap();
    assert!(matches!(err, RunError::Budget(_)), "{err}");
    assert!(err.to_string().contains("budget"), "{err}");
    // Across runs: a first run spends, a second one that would overflow is refused.
    let c = simulate(private_cfg(2.0, 6.0, 10), Accountant::default(), trainers(&s), &mut Reliable).unwrap();
    let ledger = c.accountant.clone();
    let spent = ledger.spent_epsilon("fed-heart-disease", 1e-5);
    assert!(spent > 3.0 && spent <= 6.0, "{spent}");
    let again = simulate(private_cfg(2.0, 6.0, 10), ledger, trainers(&s), &mut Reliable);
    assert!(matches!(again, Err(RunError::Budget(_))));
}

#[test]
fn an_agent_refuses_impossible_orders_from_a_coordinator() {
    use agora_fed::run::{Agent, Down, Encoding};
    use agora_fed::secagg::FixedPoint;
    let site = sites("fed-heart-disease").remove(0);
    let mut agent = Agent::new(BuiltinTrainer { data: site }, agora_fed::prg::Prg::seeded(1));
    let local = LocalConfig { steps: 1, batch: 4, lr: 0.01, optimizer: Optimizer::Sgd, prox_mu: 0.0 };
    let enc = Encoding::Weighted { fp: FixedPoint::for_sum(4, 1e4), weight_cap: 1000.0, update_bound: 10.0 };
    let round = |round, model, inputs, weights: Vec<f64>| Down::Round {
        round,
        model,
        inputs,
        weights,
        local,
        encoding: enc.clone(),
        secagg: None,
    };
    for bad in [
        round(0, ModelKind::Logistic, 13, vec![0.0; 14]),
        round(1, ModelKind::Logistic, 13, vec![0.0; 3]),
        round(1, ModelKind::Logistic, 13, vec![f64::NAN; 14]),
        round(1, ModelKind::Logistic, usize::MAX, vec![]),
        round(1, ModelKind::Mlp { hidden: usize::MAX }, 13, vec![]),
        round(1, ModelKind::Logistic, 12, vec![0.0; 13]),
        Down::SecAgg(vec![1, 2, 3]),
    ] {
        assert!(agent.handle(bad).is_err());
    }
    // And it still works afterwards.
    assert!(agent.handle(round(1, ModelKind::Logistic, 13, vec![0.0; 14])).is_ok());
}
