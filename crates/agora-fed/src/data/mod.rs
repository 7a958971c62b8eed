//! The embedded datasets, cleaned and split as FLamby does.
//!
//! A site's data is a [`SiteData`]: its own train and test samples,
//! normalised with its own train statistics only (no site learns anything
//! about another's rows). Origins and licences: `data/README.md`.

pub mod heart;
pub mod tcga;

use ndarray::{Array1, Array2};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: line {line}: {msg}")]
    Parse { file: &'static str, line: usize, msg: String },
    #[error("unknown dataset `{0}` (known: fed-heart-disease, fed-tcga-brca)")]
    Unknown(String),
    #[error("dataset `{dataset}` has no site {site} (it has {n})")]
    NoSite { dataset: String, site: usize, n: usize },
}

/// Samples of one split. Classification: `y` in {0, 1}, `time` empty.
/// Survival: `y` is the event indicator, `time` the time in days.
#[derive(Clone, Debug)]
pub struct Samples {
    pub x: Array2<f64>,
    pub y: Array1<f64>,
    pub time: Array1<f64>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    pub fn features(&self) -> usize {
        self.x.ncols()
    }

    /// Rows `idx` of these samples.
    pub fn select(&self, idx: &[usize]) -> Samples {
        Samples {
            x: self.x.select(ndarray::Axis(0), idx),
            y: self.y.select(ndarray::Axis(0), idx),
            time: if self.time.is_empty() { Array1::zeros(0) } else { self.time.select(ndarray::Axis(0), idx) },
        }
    }

    /// The union of several sites' samples (the "pooled" test set).
    pub fn concat(parts: &[&Samples]) -> Samples {
        let xs: Vec<_> = parts.iter().map(|p| p.x.view()).collect();
        let ys: Vec<_> = parts.iter().map(|p| p.y.view()).collect();
        let ts: Vec<_> = parts.iter().map(|p| p.time.view()).collect();
        Samples {
            x: ndarray::concatenate(ndarray::Axis(0), &xs).expect("same feature count"),
            y: ndarray::concatenate(ndarray::Axis(0), &ys).expect("1-D"),
            time: ndarray::concatenate(ndarray::Axis(0), &ts).expect("1-D"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SiteData {
    pub name: String,
    pub train: Samples,
    pub test: Samples,
}

/// The task a dataset poses; it decides the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Classification,
    Survival,
}

/// A dataset by name: its sites, in FLamby's order.
pub fn load(name: &str) -> Result<(Task, Vec<SiteData>), DataError> {
    match name {
        "fed-heart-disease" => Ok((Task::Classification, heart::sites()?)),
        "fed-tcga-brca" => Ok((Task::Survival, tcga::sites()?)),
        other => Err(DataError::Unknown(other.to_string())),
    }
}

/// Standardise train and test with the train mean and standard deviation
/// (columns with no spread are centred only).
pub(crate) fn standardise(train: &mut Array2<f64>, test: &mut Array2<f64>) {
    for j in 0..train.ncols() {
        let col = train.column(j);
        let n = col.len().max(1) as f64;
        let mean = col.sum() / n;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let sd = if var > 1e-12 { var.sqrt() } else { 1.0 };
        train.column_mut(j).mapv_inplace(|v| (v - mean) / sd);
        test.column_mut(j).mapv_inplace(|v| (v - mean) / sd);
    }
}
