//! Failure injection and checkpoint arithmetic, calibrated on Llama 3.
//!
//! Role: the simulator asks `FailureModel::next_failure` when and where the
//! next unexpected interruption hits the site, and `repair_time` how long the
//! node stays out. The free functions give the classic checkpoint results
//! (Young 1974, Daly 2006) used to pick intervals and to check simulated waste.
//!
//! Calibration ("The Llama 3 Herd of Models", 2024, section 3.3.4 and Table 5):
//! 16,384 H100 GPUs (2,048 nodes of 8) ran 54 days with 466 interruptions,
//! 419 of them unexpected: one every 3.1 h. Failures are modelled as a
//! Poisson process per node, so
//! node MTBF = 2,048 x 54 x 86,400 s / 419 = 22,804,651 s (about 264 days;
//! 5.8 years per GPU), and a job on `n` nodes fails every MTBF / n: 3.1 h at
//! 2,048 nodes, 30.4 min at 12,500 nodes (100,000 accelerators), which is
//! REFERENCE.md's "about every 30 minutes".
//!
//! Cause mix: Table 5 counts (they sum to 419). The printed percentages
//! agree with count / 419 for every row except "Faulty GPU", printed as
//! 30.1% while its count, 148, is 35.3% of 419 (the printed column sums to
//! 94.9%). We use the counts, so the shares sum to exactly 100%:
//! faulty GPU 148 (35.3%), HBM3 72 (17.2%), software bug 54 (12.9%),
//! network switch/cable 35 (8.4%), host maintenance 32 (7.6%), GPU SRAM 19
//! (4.5%), GPU system processor 17 (4.1%), NIC 7 (1.7%), NCCL watchdog 7
//! (1.7%), silent data corruption 6 (1.4%), and `CpuOther` 22 (5.3%) =
//! the table's remaining host rows (thermal interface 6, SSD 3, power
//! supply 3, chassis 2, IO board 2, dependency 2, CPU 2, system memory 2).
//!
//! Assumptions (the paper gives no repair times or blast radius):
//! software bugs and NCCL watchdog timeouts kill the job but leave the node
//! up; every other cause takes one node down. Repair times are log-normal
//! (sigma 0.8) around a median per cause: 8 h for parts swapped under RMA
//! (GPU, HBM, SDC, host parts), 6 h for a NIC, 4 h for a switch port or
//! cable, 2 h for unplanned host maintenance, 30 min for reboot-class GPU
//! faults (SRAM ECC, GSP hang: a GPU reset clears them). Job-only causes are
//! charged to nodes like the rest, so job MTBF scales with size for them too.
//!
//! Invariants: `scale == 0` (or no nodes) means no failure ever
//! (`next_failure` returns an infinite delay and draws nothing); the
//! `Rng` passed in is the only randomness.

use agora_core::rng::Rng;

/// GPUs in Llama 3's pretraining cluster.
pub const LLAMA3_GPUS: u64 = 16_384;
/// Nodes of 8 GPUs in that cluster.
pub const LLAMA3_NODES: u64 = LLAMA3_GPUS / 8;
/// Length of the reported pretraining snapshot, in days.
pub const LLAMA3_DAYS: u64 = 54;
/// Unexpected interruptions in that snapshot.
pub const LLAMA3_UNEXPECTED: u64 = 419;
/// Seconds between failures of one node: 2,048 x 54 d / 419 ≈ 22.8e6 s.
pub const LLAMA3_NODE_MTBF_S: f64 = (LLAMA3_NODES * LLAMA3_DAYS * 86_400) as f64 / LLAMA3_UNEXPECTED as f64;

/// Why an interruption happened (Llama 3, Table 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    FaultyGpu,
    Hbm3,
    SoftwareBug,
    NetworkSwitchCable,
    HostMaintenance,
    GpuSram,
    GpuSystemProcessor,
    Nic,
    NcclWatchdog,
    SilentDataCorruption,
    /// Every other host component (thermal, SSD, power, chassis, CPU, memory...).
    CpuOther,
}

impl Cause {
    pub const ALL: [Cause; 11] = [
        Cause::FaultyGpu,
        Cause::Hbm3,
        Cause::SoftwareBug,
        Cause::NetworkSwitchCable,
        Cause::HostMaintenance,
        Cause::GpuSram,
        Cause::GpuSystemProcessor,
        Cause::Nic,
        Cause::NcclWatchdog,
        Cause::SilentDataCorruption,
        Cause::CpuOther,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::FaultyGpu => "faulty-gpu",
            Cause::Hbm3 => "hbm3",
            Cause::SoftwareBug => "software-bug",
            Cause::NetworkSwitchCable => "network-switch-cable",
            Cause::HostMaintenance => "host-maintenance",
            Cause::GpuSram => "gpu-sram",
            Cause::GpuSystemProcessor => "gpu-system-processor",
            Cause::Nic => "nic",
            Cause::NcclWatchdog => "nccl-watchdog",
            Cause::SilentDataCorruption => "silent-data-corruption",
            Cause::CpuOther => "cpu-other",
        }
    }

    /// Interruptions of this cause among Llama 3's 419.
    pub fn llama3_count(self) -> u32 {
        match self {
            Cause::FaultyGpu => 148,
            Cause::Hbm3 => 72,
            Cause::SoftwareBug => 54,
            Cause::NetworkSwitchCable => 35,
            Cause::HostMaintenance => 32,
            Cause::GpuSram => 19,
            Cause::GpuSystemProcessor => 17,
            Cause::Nic => 7,
            Cause::NcclWatchdog => 7,
            Cause::SilentDataCorruption => 6,
            Cause::CpuOther => 22,
        }
    }

    /// Fraction of unexpected interruptions (count / 419).
    pub fn share(self) -> f64 {
        self.llama3_count() as f64 / LLAMA3_UNEXPECTED as f64
    }

    /// Whether the node is out until repaired; otherwise only the job dies.
    pub fn takes_node_down(self) -> bool {
        !matches!(self, Cause::SoftwareBug | Cause::NcclWatchdog)
    }

    /// Median seconds a downed node stays out (assumed; see the module docs).
    pub fn median_repair_s(self) -> f64 {
        const H: f64 = 3600.0;
        match self {
            Cause::SoftwareBug | Cause::NcclWatchdog => 0.0,
            Cause::GpuSram | Cause::GpuSystemProcessor => 0.5 * H,
            Cause::HostMaintenance => 2.0 * H,
            Cause::NetworkSwitchCable => 4.0 * H,
            Cause::Nic => 6.0 * H,
            Cause::FaultyGpu | Cause::Hbm3 | Cause::SilentDataCorruption | Cause::CpuOther => 8.0 * H,
        }
    }
}

/// Spread of repair times around their median (sigma of the underlying normal).
const REPAIR_SIGMA: f64 = 0.8;

/// Independent exponential failures per node, with a cause mix.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureModel {
    /// Mean seconds between unexpected interruptions charged to one node.
    pub node_mtbf_s: f64,
    /// Multiplies the failure rate; 0 turns failures off.
    pub scale: f64,
    /// Causes and their relative weights.
    pub causes: Vec<(Cause, f64)>,
}

impl FailureModel {
    /// Llama 3's rate and cause mix.
    pub fn llama3() -> Self {
        FailureModel {
            node_mtbf_s: LLAMA3_NODE_MTBF_S,
            scale: 1.0,
            causes: Cause::ALL.iter().map(|&c| (c, c.share())).collect(),
        }
    }

    /// No failures.
    pub fn off() -> Self {
        FailureModel { scale: 0.0, ..Self::llama3() }
    }

    /// Failures per second anywhere on a site of `nodes` nodes.
    pub fn site_rate_per_s(&self, nodes: u64) -> f64 {
        let rate = self.scale * nodes as f64 / self.node_mtbf_s;
        if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            0.0
        }
    }

    /// Seconds until the next failure anywhere on the site, its cause and
    /// the node it hits (uniform over `0..nodes`). Infinite when off.
    pub fn next_failure(&self, rng: &mut Rng, nodes: u64) -> (f64, Cause, u64) {
        let rate = self.site_rate_per_s(nodes);
        if rate <= 0.0 || self.causes.is_empty() {
            return (f64::INFINITY, Cause::FaultyGpu, 0);
        }
        let dt = rng.exp(1.0 / rate);
        let cause = self.cause(rng);
        (dt, cause, rng.below(nodes))
    }

    fn cause(&self, rng: &mut Rng) -> Cause {
        let total: f64 = self.causes.iter().map(|c| c.1).sum();
        let mut x = rng.f64() * total;
        for &(c, w) in &self.causes {
            if x < w {
                return c;
            }
            x -= w;
        }
        self.causes[self.causes.len() - 1].0
    }

    /// Seconds the hit node stays out; 0 for causes that only kill the job.
    pub fn repair_time(&self, rng: &mut Rng, cause: Cause) -> u64 {
        if !cause.takes_node_down() {
            return 0;
        }
        rng.lognormal(cause.median_repair_s(), REPAIR_SIGMA).round().max(1.0) as u64
    }
}

/// With asynchronous checkpointing the training loop stalls only to copy
/// its state to host memory; the write to storage overlaps training. PyTorch
/// Distributed Checkpoint's `async_save` cut checkpoint downtime by more than
/// 10x on 7B-70B models (PyTorch blog, "Reducing Model Checkpointing Times by
/// Over 10x with PyTorch Distributed Asynchronous Checkpointing", 2024);
/// CheckFreq (Mohan et al., FAST'21) splits snapshot and persist the same
/// way. The stall is this fraction of a synchronous write.
pub const ASYNC_STALL_FRACTION: f64 = 0.1;

/// The stall of an asynchronous checkpoint whose synchronous write takes
/// `cost` seconds (at least a second).
pub fn async_stall(cost: u64) -> u64 {
    ((cost as f64 * ASYNC_STALL_FRACTION).ceil() as u64).max(1).min(cost.max(1))
}

/// Young's optimal checkpoint interval, sqrt(2 δ M), for write cost δ and MTBF M.
pub fn young_interval(checkpoint_cost: f64, mtbf: f64) -> f64 {
    (2.0 * checkpoint_cost * mtbf).sqrt()
}

/// Daly's higher-order optimum (FGCS 2006, eq. 37):
/// sqrt(2δM) [1 + sqrt(δ/2M)/3 + (δ/2M)/9] − δ for δ < 2M, else M.
/// In Daly's model the restart time R scales the wall time by e^(R/M) and so
/// does not move the optimum; it is taken for symmetry with `expected_waste`.
pub fn daly_interval(checkpoint_cost: f64, mtbf: f64, _restart: f64) -> f64 {
    if checkpoint_cost >= 2.0 * mtbf {
        return mtbf;
    }
    let x = checkpoint_cost / (2.0 * mtbf);
    young_interval(checkpoint_cost, mtbf) * (1.0 + x.sqrt() / 3.0 + x / 9.0) - checkpoint_cost
}

/// Fraction of wall time not spent on useful work, checkpointing every
/// `interval` seconds of work, in Daly's exponential model (failures may
/// also strike during checkpoints and restarts):
/// wall / work = M e^(R/M) (e^((τ+δ)/M) − 1) / τ.
/// To first order at Young's optimum this is sqrt(2δ/M) + R/M.
pub fn expected_waste(interval: f64, cost: f64, mtbf: f64, restart: f64) -> f64 {
    if !mtbf.is_finite() {
        return cost / (interval + cost);
    }
    let wall_per_work = mtbf * (restart / mtbf).exp() * ((interval + cost) / mtbf).exp_m1() / interval;
    1.0 - 1.0 / wall_per_work
}

/// MTBF of a job spanning `nodes` nodes: failures are independent, so it
/// shrinks inversely with size. Infinite for zero nodes.
pub fn job_mtbf(node_mtbf: f64, nodes: u32) -> f64 {
    node_mtbf / nodes as f64
}

/// Accelerators per node in the Llama 3 cluster the node MTBF is measured on.
pub const LLAMA3_ACCELS_PER_NODE: u64 = LLAMA3_GPUS / LLAMA3_NODES;

/// MTBF of a gang of `accels` accelerators when failures strike per
/// accelerator at Llama 3's rate (most causes are GPU parts), whatever the
/// node size: 16,384 accelerators give Llama 3's ~3.1 h.
pub fn gang_mtbf(node_mtbf: f64, accels: u32) -> f64 {
    node_mtbf * LLAMA3_ACCELS_PER_NODE as f64 / accels.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;
    const H: f64 = 3600.0;

    fn close(got: f64, want: f64, rel: f64) {
        assert!((got - want).abs() <= rel * want.abs(), "got {got}, want {want} ± {}%", rel * 100.0);
    }

    /// Failures on `nodes` nodes over `secs`, counted per cause.
    fn sample(model: &FailureModel, seed: u64, nodes: u64, secs: f64) -> Vec<Cause> {
        let mut rng = Rng::new(seed);
        let (mut t, mut out) = (0.0, Vec::new());
        loop {
            let (dt, cause, node) = model.next_failure(&mut rng, nodes);
            t += dt;
            if t > secs {
                return out;
            }
            assert!(node < nodes);
            out.push(cause);
        }
    }

    #[test]
    fn llama3_expects_419_failures_on_2048_nodes_in_54_days() {
        let m = FailureModel::llama3();
        close(m.site_rate_per_s(2048) * 54.0 * DAY, 419.0, 1e-12);
        close(m.node_mtbf_s, 22_804_651.0, 1e-6);
        // One every 3.1 h on the whole cluster.
        close(job_mtbf(m.node_mtbf_s, 2048) / H, 3.09, 0.01);
    }

    #[test]
    fn seeded_samples_match_the_poisson_expectation() {
        // The count in 54 days is Poisson(419): sd = sqrt(419) ≈ 20.5. Each
        // run must fall within 5 sd (a false alarm every ~3.5 million runs)
        // and the mean of 100 runs within 4 sd of a mean (4 x 2.05 ≈ 8.2).
        let m = FailureModel::llama3();
        let runs: Vec<usize> = (0..100).map(|s| sample(&m, s, 2048, 54.0 * DAY).len()).collect();
        let sd = 419f64.sqrt();
        for &n in &runs {
            assert!((n as f64 - 419.0).abs() < 5.0 * sd, "{n} failures");
        }
        let mean = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        assert!((mean - 419.0).abs() < 4.0 * sd / 10.0, "mean {mean}");
    }

    #[test]
    fn cause_frequencies_follow_the_mix() {
        let shares: f64 = Cause::ALL.iter().map(|c| c.share()).sum();
        close(shares, 1.0, 1e-12);
        let m = FailureModel::llama3();
        let mut rng = Rng::new(5);
        let n = 200_000;
        let mut counts = [0u32; 11];
        for _ in 0..n {
            let c = m.next_failure(&mut rng, 12_500).1;
            counts[Cause::ALL.iter().position(|&x| x == c).unwrap()] += 1;
        }
        for (c, k) in Cause::ALL.iter().zip(counts) {
            let p = c.share();
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            let got = k as f64 / n as f64;
            assert!((got - p).abs() < 4.0 * sd, "{}: {got} vs {p}", c.name());
        }
    }

    #[test]
    fn repairs_take_hours_for_swaps_minutes_for_resets_nothing_for_job_only_causes() {
        let m = FailureModel::llama3();
        let mut rng = Rng::new(9);
        for c in [Cause::SoftwareBug, Cause::NcclWatchdog] {
            assert!(!c.takes_node_down());
            assert_eq!(m.repair_time(&mut rng, c), 0);
        }
        let median = |rng: &mut Rng, c| {
            let mut v: Vec<u64> = (0..4001).map(|_| m.repair_time(rng, c)).collect();
            v.sort_unstable();
            v[2000] as f64
        };
        close(median(&mut rng, Cause::FaultyGpu), 8.0 * H, 0.1);
        close(median(&mut rng, Cause::GpuSram), 0.5 * H, 0.1);
    }

    #[test]
    fn off_never_fails() {
        let mut rng = Rng::new(1);
        assert_eq!(FailureModel::off().next_failure(&mut rng, 12_500).0, f64::INFINITY);
        assert_eq!(FailureModel::llama3().next_failure(&mut rng, 0).0, f64::INFINITY);
        assert_eq!(FailureModel::off().site_rate_per_s(12_500), 0.0);
    }

    #[test]
    fn a_100k_accelerator_job_fails_about_every_30_minutes() {
        let mtbf = job_mtbf(LLAMA3_NODE_MTBF_S, 100_000 / 8);
        close(mtbf, 1824.4, 0.001);
        assert!((25.0 * 60.0..35.0 * 60.0).contains(&mtbf), "{mtbf}");
        assert_eq!(job_mtbf(LLAMA3_NODE_MTBF_S, 0), f64::INFINITY);
    }

    #[test]
    fn young_interval_worked_example() {
        // δ = 60 s, M = 3.1 h = 11,160 s: sqrt(2 x 60 x 11,160) = sqrt(1,339,200) ≈ 1,157.2 s.
        close(young_interval(60.0, 3.1 * H), 1157.24, 1e-5);
    }

    #[test]
    fn daly_is_young_minus_about_delta_and_finds_the_true_optimum() {
        // δ = 60, M = 11,160: x = δ/2M = 0.002688; 1,157.24 x 1.017582 − 60 ≈ 1,117.6 s.
        let (d, m, r) = (60.0, 3.1 * H, 600.0);
        close(daly_interval(d, m, r), 1117.6, 1e-4);
        for (d, m) in [(60.0, 3.1 * H), (300.0, 1824.5), (30.0, DAY), (600.0, 2.0 * H)] {
            let (y, dl) = (young_interval(d, m), daly_interval(d, m, r));
            assert!(dl < y && dl > y - d, "δ={d} M={m}: daly {dl} young {y}");
            // Golden-section search for the true minimum of the waste.
            let waste = |t: f64| expected_waste(t, d, m, r);
            let (mut a, mut b) = (1.0, 4.0 * m);
            let g = (5f64.sqrt() - 1.0) / 2.0;
            for _ in 0..200 {
                let (c1, c2) = (b - g * (b - a), a + g * (b - a));
                if waste(c1) < waste(c2) {
                    b = c2;
                } else {
                    a = c1;
                }
            }
            let best = (a + b) / 2.0;
            assert!((dl - best).abs() < (y - best).abs(), "δ={d} M={m}: daly {dl} young {y} best {best}");
            close(waste(dl), waste(best), 1e-3);
        }
        assert_eq!(daly_interval(5000.0, 2000.0, 0.0), 2000.0);
    }

    #[test]
    fn waste_at_the_optimum_is_about_sqrt_2_delta_over_m_plus_r_over_m() {
        let approx = |d: f64, m: f64, r: f64| (2.0 * d / m).sqrt() + r / m;
        // Far from failure (δ/M, R/M < 1%): first order is within 2%.
        let (d, m, r) = (30.0, DAY, 300.0);
        close(expected_waste(young_interval(d, m), d, m, r), approx(d, m, r), 0.02);
        // Llama 3 scale (M = 3.1 h): second-order terms cost ~5%; 0.124 vs 0.131.
        let (d, m, r) = (60.0, 3.1 * H, 300.0);
        close(expected_waste(young_interval(d, m), d, m, r), approx(d, m, r), 0.1);
        // Without failures only the checkpoint writes are waste.
        close(expected_waste(540.0, 60.0, f64::INFINITY, 600.0), 0.1, 1e-12);
    }
}
