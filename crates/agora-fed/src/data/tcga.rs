//! Fed-TCGA-BRCA: TCGA breast-cancer clinical data, survival, 6 regions.
//!
//! FLamby's own split file gives each patient's fold (train/test) and
//! region `k`; the 39 features are columns 1..=39 of `brca.csv`, the target
//! `(E, T)` (event, time in days). Age is expressed in decades from 60 (a
//! fixed unit, no statistic of anyone's data), the one-hot columns as they are.

use super::{DataError, Samples, SiteData};
use ndarray::{Array1, Array2};
use std::collections::HashMap;
use std::io::Read;

const BRCA_GZ: &[u8] = include_bytes!("../../data/fed-tcga-brca/brca.csv.gz");
const SPLIT: &str = include_str!("../../data/fed-tcga-brca/train_test_split.csv");
pub const CENTERS: &str = include_str!("../../data/fed-tcga-brca/centers.csv");

pub const FEATURES: usize = 39;
pub const REGIONS: [&str; 6] = ["Northeast", "South", "West", "Midwest", "Europe", "Canada"];

/// One patient: features, event, time.
pub struct Patient {
    pub pid: String,
    pub x: [f64; FEATURES],
    pub event: f64,
    pub time: f64,
}

pub fn patients() -> Result<Vec<Patient>, DataError> {
    let file = "brca.csv";
    let mut text = String::new();
    flate2::read::GzDecoder::new(BRCA_GZ).read_to_string(&mut text).map_err(|e| DataError::Parse {
        file,
        line: 0,
        msg: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        // Only the header has quoted commas; rows are plain numbers.
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 42 {
            return Err(DataError::Parse { file, line: i + 1, msg: format!("{} fields, expected 42", f.len()) });
        }
        let num = |s: &str| s.parse::<f64>().map_err(|e| DataError::Parse { file, line: i + 1, msg: e.to_string() });
        let mut x = [0.0; FEATURES];
        for j in 0..FEATURES {
            x[j] = num(f[1 + j])?;
        }
        x[0] = (x[0] - 60.0) / 10.0;
        out.push(Patient { pid: f[0].to_string(), x, event: num(f[40])?, time: num(f[41])? });
    }
    Ok(out)
}

/// The six regions' train and test sets, from FLamby's split file.
pub fn sites() -> Result<Vec<SiteData>, DataError> {
    let pats = patients()?;
    let by_pid: HashMap<&str, &Patient> = pats.iter().map(|p| (p.pid.as_str(), p)).collect();
    let mut rows: Vec<[Vec<&Patient>; 2]> = (0..6).map(|_| [Vec::new(), Vec::new()]).collect();
    let file = "train_test_split.csv";
    for (i, line) in SPLIT.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = |msg: String| DataError::Parse { file, line: i + 1, msg };
        if f.len() != 3 {
            return Err(bad(format!("{} fields, expected 3", f.len())));
        }
        let p = by_pid.get(f[0]).ok_or_else(|| bad(format!("unknown patient {}", f[0])))?;
        let (fold, k) = f[2].split_once('_').ok_or_else(|| bad(format!("bad fold2 {}", f[2])))?;
        let k: usize = k.parse().map_err(|_| bad(format!("bad fold2 {}", f[2])))?;
        let which = match fold {
            "train" => 0,
            "test" => 1,
            _ => return Err(bad(format!("bad fold {fold}"))),
        };
        rows.get_mut(k).ok_or_else(|| bad(format!("region {k} out of range")))?[which].push(p);
    }
    let to_samples = |ps: &[&Patient]| {
        let mut x = Array2::zeros((ps.len(), FEATURES));
        for (r, p) in ps.iter().enumerate() {
            for j in 0..FEATURES {
                x[[r, j]] = p.x[j];
            }
        }
        Samples {
            x,
            y: Array1::from_iter(ps.iter().map(|p| p.event)),
            time: Array1::from_iter(ps.iter().map(|p| p.time)),
        }
    };
    Ok(rows
        .iter()
        .enumerate()
        .map(|(k, [tr, te])| SiteData { name: REGIONS[k].to_string(), train: to_samples(tr), test: to_samples(te) })
        .collect())
}

/// Region of a TCGA barcode through `centers.csv` (TSS code = 2nd field).
pub fn region_of(pid: &str) -> Option<&'static str> {
    let tss = pid.split('-').nth(1)?;
    CENTERS.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (f.first() == Some(&tss)).then(|| f.last().copied()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_flambys_counts() {
        let pats = patients().unwrap();
        assert_eq!(pats.len(), 1096);
        assert_eq!(pats.iter().filter(|p| p.event > 0.5).count(), 151);
        let sites = sites().unwrap();
        // (train, test, train events, test events) per region, README table.
        let expected =
            [(248, 63, 45, 14), (156, 40, 35, 4), (164, 42, 14, 8), (129, 33, 16, 3), (129, 33, 7, 2), (40, 11, 2, 1)];
        for (s, (tr, te, etr, ete)) in sites.iter().zip(expected) {
            assert_eq!((s.train.len(), s.test.len()), (tr, te), "{}", s.name);
            assert_eq!((s.train.y.sum() as usize, s.test.y.sum() as usize), (etr, ete), "{}", s.name);
        }
        assert_eq!(sites.iter().map(|s| s.train.len()).sum::<usize>(), 866);
        assert_eq!(sites.iter().map(|s| s.test.len()).sum::<usize>(), 222);
    }

    #[test]
    fn regions_match_centers_csv() {
        let pats = patients().unwrap();
        let sites = sites().unwrap();
        let _ = sites;
        // Every patient FLamby keeps is in the region its TSS code maps to.
        let by_pid: HashMap<&str, &Patient> = pats.iter().map(|p| (p.pid.as_str(), p)).collect();
        let mut left_out = 0;
        for line in SPLIT.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert!(by_pid.contains_key(f[0]));
            let k: usize = f[2].split_once('_').unwrap().1.parse().unwrap();
            assert_eq!(region_of(f[0]), Some(REGIONS[k]), "{}", f[0]);
        }
        for p in &pats {
            if region_of(&p.pid) == Some("Other") {
                left_out += 1;
            }
        }
        assert_eq!(left_out, 8);
    }
}
