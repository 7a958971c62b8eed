//! agora-api: what crosses the wire, version 1 (`/v1`).
//!
//! Wire types are plain serde structs; they never leak into `agora-core`,
//! and the conversion to core types is written by hand (`convert`), so a
//! change of the core never silently changes the API. Every error a client
//! can cause is a `FieldError` naming the field and the problem.
//!
//! - `types`: requests and responses; `board`: the dashboard's views.
//! - `duration`: durations for people ("1h30m", Slurm's "2-12:00:00").
//! - `sbatch`: Slurm batch scripts (`#SBATCH` directives) → `JobSubmit`.
//! - `convert`: `JobSubmit` → `agora_core::JobSpec` against a site.

pub mod board;
pub mod convert;
pub mod duration;
pub mod sbatch;
pub mod types;

pub use board::{BlockDetail, MapBlock, MapPod, NodeDetail, NodeJob, ShareSeries, Shares, SiteMap, WhoAmI};
pub use convert::{to_spec, DepKind, Dependency, Site};
pub use types::*;

/// The API version in every path (`/v1/...`).
pub const API_VERSION: &str = "v1";

/// A client mistake: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Parse a job specification sent as JSON, TOML or a Slurm batch script,
/// by its content type (`application/json`, `application/toml`,
/// `text/x-shellscript` / `text/plain`).
pub fn parse_submission(content_type: &str, body: &str) -> Result<JobSubmit, FieldError> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match ct.as_str() {
        "" | "application/json" => from_json(body),
        "application/toml" | "text/toml" => {
            toml::from_str(body).map_err(|e| FieldError::new("body", format!("invalid TOML: {}", e.message())))
        }
        "text/x-shellscript" | "text/plain" | "application/x-sh" => sbatch::parse(body),
        other => Err(FieldError::new(
            "content-type",
            format!("`{other}` is not accepted; send application/json, application/toml or text/x-shellscript"),
        )),
    }
}

/// Parse JSON into `T`; errors name the field (by its path) and the problem.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_str(body);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = json_error(e.inner());
        let field = if path == "." || path.is_empty() { inner.field } else { path };
        FieldError { field, message: inner.message }
    })?;
    de.end().map_err(|e| json_error(&e))?;
    Ok(v)
}

/// A serde_json error in words, naming the field when serde knows it.
pub fn json_error(e: &serde_json::Error) -> FieldError {
    let msg = e.to_string();
    // serde says "unknown field `x`, expected one of ..." or "missing field `x`".
    let field = msg.split('`').nth(1).filter(|_| msg.contains("field")).unwrap_or("body").to_string();
    FieldError::new(field, format!("invalid JSON: {msg}"))
}
