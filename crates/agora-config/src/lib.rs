//! agora-config: Agora's configuration files and built-in presets.
//!
//! The core's types are not serializable by design; this crate is the edge
//! where TOML comes in. Each file is read into private `serde` mirror types
//! (unknown keys are refused), then converted by hand into core types, whose
//! own constructors (`Topology::new`, `Entitlements::new`) do the validation.
//!
//! - `cluster`: cluster files (explicit or `[regular]`) → `Topology`.
//! - `presets`: built-in sites, e.g. `gigafactory-100k-nvl72` or the real
//!   Alibaba Lingjun topology.
//! - `site`: the entitlement tree and scheduler settings → `SiteConfig`.
//!
//! Invariants: bad input never panics, and every error says where: the
//! origin (a path, `preset X` or `<string>`), then a field path such as
//! `tenants[0].children[1].weight` or, for TOML syntax, unknown keys and
//! wrong types, toml's line and column.

mod cluster;
mod presets;
mod site;

pub use cluster::{cluster, load_cluster, parse_cluster, MAX_NODES};
pub use presets::{preset, PRESETS};
pub use site::{
    default_site, format_duration, load_site, parse_duration, parse_site, scheduler_settings, SiteConfig,
    GIGAFACTORY_SITE,
};

use std::ops::RangeInclusive;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: cannot read the file: {error}")]
    Read { origin: String, error: std::io::Error },
    /// TOML syntax, an unknown or missing key, or a value of the wrong type.
    /// toml's message names the line and column and shows the spot.
    #[error("{origin}: {}", error.to_string().trim_end())]
    Toml { origin: String, error: toml::de::Error },
    /// Well-formed TOML whose meaning is wrong.
    #[error("{origin}: {field}: {reason}")]
    Invalid { origin: String, field: String, reason: String },
    #[error("`{spec}` is neither a preset ({}) nor a cluster file", preset_names())]
    UnknownCluster { spec: String },
}

fn preset_names() -> String {
    PRESETS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

fn invalid(origin: &str, field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { origin: origin.into(), field: field.into(), reason: reason.into() }
}

fn from_toml<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|error| ConfigError::Toml { origin: origin.into(), error })
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::Read { origin: path.display().to_string(), error })
}

/// `v` as a `T`, if it lies in `range`. Files hold wide integers so that a
/// bad value gets this message with its field path, not a bare serde error.
fn ranged<T: TryFrom<i64>>(v: i64, range: RangeInclusive<i64>) -> Result<T, String> {
    if !range.contains(&v) {
        return Err(if *range.end() == i64::MAX {
            format!("{v} must be at least {}", range.start())
        } else {
            format!("{v} is out of range {}..={}", range.start(), range.end())
        });
    }
    T::try_from(v).map_err(|_| format!("{v} is too large"))
}
