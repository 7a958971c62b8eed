//! The client's config file: where `agora login` keeps the server URL and
//! token, so that later commands need neither flags nor environment.
//!
//! Precedence, highest first: a flag, the environment (`AGORA_URL`,
//! `AGORA_TOKEN`), the config file, the default URL. The file is
//! `$AGORA_CONFIG`, else `$XDG_CONFIG_HOME/agora/config.toml`, else
//! `~/.config/agora/config.toml`; it is written atomically with mode 0600
//! (it holds a secret).

use anyhow::{bail, Context};
use std::path::PathBuf;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub url: Option<String>,
    pub token: Option<String>,
}

/// Where the config file lives (it need not exist).
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("AGORA_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => {
            PathBuf::from(std::env::var_os("HOME").context("neither AGORA_CONFIG nor HOME is set")?).join(".config")
        }
    };
    Ok(base.join("agora").join("config.toml"))
}

/// The config file's settings; none if there is no file.
pub fn load() -> anyhow::Result<ClientConfig> {
    let p = path()?;
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClientConfig::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    toml::from_str(&text).with_context(|| format!("{} is not a valid agora config file", p.display()))
}

/// Write `cfg` to the config file: a temporary file beside it, then a
/// rename, so a crash leaves the old file or the new one, never half of one.
pub fn save(cfg: &ClientConfig) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = path()?;
    let dir = p.parent().context("the config path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = String::from("# Written by `agora login`. Flags and AGORA_URL / AGORA_TOKEN override it.\n");
    for (k, v) in [("url", &cfg.url), ("token", &cfg.token)] {
        if let Some(v) = v {
            // A JSON string is a valid TOML basic string.
            text.push_str(&format!("{k} = {}\n", serde_json::to_string(v)?));
        }
    }
    let tmp = p.with_extension(format!("toml.tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

/// The URL and token a command uses, after precedence.
pub fn resolve(url: Option<String>, token: Option<String>) -> anyhow::Result<(String, Option<String>)> {
    let needs_file = url.is_none() || token.is_none();
    let file = if needs_file { load()? } else { ClientConfig::default() };
    let url = url.or(file.url).unwrap_or_else(|| DEFAULT_URL.to_string());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("server URL `{url}` must start with http:// or https://");
    }
    Ok((url, token.or(file.token)))
}
