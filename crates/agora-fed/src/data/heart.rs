//! Fed-Heart-Disease: the four UCI hospitals, cleaned as FLamby does.
//!
//! Columns slope, ca and thal are dropped, then every row with a missing
//! value (`?`); cp and restecg are one-hot encoded with the first level
//! dropped (13 features); the label is `num > 0`. Each hospital is split
//! 66/34, stratified on the label (sklearn's `train_test_split` sizes:
//! test = ceil(0.34 n)), and standardised with its own train statistics.
//! The exact rows of FLamby's split come from sklearn's RNG and cannot be
//! reproduced outside Python; the counts are.

use super::{standardise, DataError, Samples, SiteData};
use crate::prg::Prg;
use ndarray::{Array1, Array2};

pub const HOSPITALS: [(&str, &str, &str); 4] = [
    ("Cleveland", "processed.cleveland.data", include_str!("../../data/fed-heart-disease/processed.cleveland.data")),
    ("Hungary", "processed.hungarian.data", include_str!("../../data/fed-heart-disease/processed.hungarian.data")),
    (
        "Switzerland",
        "processed.switzerland.data",
        include_str!("../../data/fed-heart-disease/processed.switzerland.data"),
    ),
    ("VA Long Beach", "processed.va.data", include_str!("../../data/fed-heart-disease/processed.va.data")),
];

pub const FEATURES: usize = 13;
/// Seed of the per-hospital stratified split (FLamby uses random_state=43).
pub const SPLIT_SEED: u64 = 43;

/// One cleaned record: 13 features and the binary label.
pub type Record = ([f64; FEATURES], f64);

/// Parse and clean one hospital's file.
pub fn clean(file: &'static str, text: &str) -> Result<Vec<Record>, DataError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 14 {
            return Err(DataError::Parse { file, line: i + 1, msg: format!("{} fields, expected 14", f.len()) });
        }
        // Keep age..oldpeak (0..=9) and num (13); slope, ca, thal are dropped first.
        let kept: Vec<&str> = f[..10].iter().chain(std::iter::once(&f[13])).copied().collect();
        if kept.contains(&"?") {
            continue;
        }
        let v: Vec<f64> = kept
            .iter()
            .map(|s| s.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| DataError::Parse { file, line: i + 1, msg: e.to_string() })?;
        let (cp, restecg) = (v[2] as i64, v[6] as i64);
        if !(1..=4).contains(&cp) || !(0..=2).contains(&restecg) {
            return Err(DataError::Parse { file, line: i + 1, msg: format!("cp={cp} restecg={restecg} out of range") });
        }
        let x = [
            v[0],
            v[1],
            v[3],
            v[4],
            v[5],
            v[7],
            v[8],
            v[9], // age sex trestbps chol fbs thalach exang oldpeak
            (cp == 2) as u8 as f64,
            (cp == 3) as u8 as f64,
            (cp == 4) as u8 as f64,
            (restecg == 1) as u8 as f64,
            (restecg == 2) as u8 as f64,
        ];
        out.push((x, if v[10] > 0.0 { 1.0 } else { 0.0 }));
    }
    Ok(out)
}

/// Stratified split sizes as sklearn computes them for test_size=0.34.
pub fn split_sizes(n: usize) -> (usize, usize) {
    let test = (0.34 * n as f64).ceil() as usize;
    (n - test, test)
}

/// Indices (train, test), stratified on `labels`, seeded.
pub fn stratified_split(labels: &[f64], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    let (_, n_test) = split_sizes(n);
    let mut rng = Prg::seeded(seed);
    let mut pos: Vec<usize> = (0..n).filter(|&i| labels[i] > 0.5).collect();
    let mut neg: Vec<usize> = (0..n).filter(|&i| labels[i] <= 0.5).collect();
    rng.shuffle(&mut pos);
    rng.shuffle(&mut neg);
    // Test rows per class in proportion, rounded so the total is n_test.
    let t_pos = ((n_test as f64) * pos.len() as f64 / n.max(1) as f64).round() as usize;
    let t_pos = t_pos.min(pos.len()).min(n_test);
    let t_neg = (n_test - t_pos).min(neg.len());
    let mut test: Vec<usize> = pos[..t_pos].iter().chain(&neg[..t_neg]).copied().collect();
    let mut train: Vec<usize> = pos[t_pos..].iter().chain(&neg[t_neg..]).copied().collect();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

fn samples(rows: &[Record], idx: &[usize]) -> Samples {
    let mut x = Array2::zeros((idx.len(), FEATURES));
    let mut y = Array1::zeros(idx.len());
    for (r, &i) in idx.iter().enumerate() {
        for j in 0..FEATURES {
            x[[r, j]] = rows[i].0[j];
        }
        y[r] = rows[i].1;
    }
    Samples { x, y, time: Array1::zeros(0) }
}

/// The four hospitals, split and standardised.
pub fn sites() -> Result<Vec<SiteData>, DataError> {
    HOSPITALS
        .iter()
        .map(|(name, file, text)| {
            let rows = clean(file, text)?;
            let labels: Vec<f64> = rows.iter().map(|r| r.1).collect();
            let (tr, te) = stratified_split(&labels, SPLIT_SEED);
            let (mut train, mut test) = (samples(&rows, &tr), samples(&rows, &te));
            standardise(&mut train.x, &mut test.x);
            Ok(SiteData { name: name.to_string(), train, test })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_and_split_reproduce_flambys_counts() {
        // README of the shared datasets: rows after cleaning, positives, train/test.
        let expected = [(303, 139, 199, 104), (261, 98, 172, 89), (46, 45, 30, 16), (130, 101, 85, 45)];
        let sites = sites().unwrap();
        let mut total = 0;
        for ((name, file, text), (rows, pos, tr, te)) in HOSPITALS.iter().zip(expected) {
            let cleaned = clean(file, text).unwrap();
            assert_eq!(cleaned.len(), rows, "{name}");
            assert_eq!(cleaned.iter().filter(|r| r.1 > 0.5).count(), pos, "{name}");
            total += cleaned.len();
            let s = sites.iter().find(|s| s.name == *name).unwrap();
            assert_eq!((s.train.len(), s.test.len()), (tr, te), "{name}");
            assert_eq!(s.train.features(), 13);
        }
        assert_eq!(total, 740);
    }

    #[test]
    fn split_is_stratified_and_disjoint() {
        let s = &sites().unwrap()[0];
        let rate = |v: &Array1<f64>| v.sum() / v.len() as f64;
        assert!((rate(&s.train.y) - rate(&s.test.y)).abs() < 0.02);
        let labels: Vec<f64> = clean("c", HOSPITALS[0].2).unwrap().iter().map(|r| r.1).collect();
        let (tr, te) = stratified_split(&labels, SPLIT_SEED);
        assert!(tr.iter().all(|i| !te.contains(i)));
        // Standardised with the site's own train statistics.
        let m = s.train.x.column(0).mean().unwrap();
        assert!(m.abs() < 1e-9);
    }

    #[test]
    fn a_malformed_row_is_a_clear_error() {
        let e = clean("bad.data", "63,1,1,145\n").unwrap_err();
        assert!(e.to_string().contains("bad.data: line 1"), "{e}");
    }
}
