//! Options shared by `agora serve --executor slurm` and
//! `agora cluster --from-slurm`: how to reach slurmrestd and read the
//! machine from it.

use agora_slurm::{SlurmApi, Token};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug)]
pub struct Auth {
    /// JWT for slurmrestd (`scontrol token`); or set SLURM_JWT.
    #[arg(long, env = "SLURM_JWT", hide_env_values = true)]
    pub slurm_token: Option<String>,
    /// A file holding the JWT, read again before each call (rotate it in place).
    #[arg(long)]
    pub slurm_token_file: Option<PathBuf>,
    /// The Slurm user the token belongs to.
    #[arg(long, default_value = "root")]
    pub slurm_user: String,
    /// Slurm's topology.conf (topology/tree): its leaf switches become
    /// blocks, the switches above them pods. slurmrestd 22.05 does not serve it.
    #[arg(long)]
    pub slurm_topology: Option<PathBuf>,
}

impl Auth {
    pub fn token(&self) -> anyhow::Result<Token> {
        match (&self.slurm_token_file, &self.slurm_token) {
            (Some(f), _) => Ok(Token::File(f.clone())),
            (None, Some(t)) => Ok(Token::Value(t.clone())),
            (None, None) => {
                anyhow::bail!("no Slurm token: give --slurm-token, --slurm-token-file or SLURM_JWT (`scontrol token`)")
            }
        }
    }

    /// A client, checked with a ping so that a wrong URL or token is a
    /// clear error at once.
    pub fn connect(&self, url: &str) -> anyhow::Result<Box<dyn SlurmApi>> {
        let api = agora_slurm::connect(url, &self.slurm_user, self.token()?)?;
        api.ping().with_context(|| format!("checking slurmrestd at {url}"))?;
        Ok(api)
    }

    /// The Slurm cluster as an Agora topology named `name`.
    pub fn import(&self, api: &dyn SlurmApi, name: &str) -> anyhow::Result<agora_core::Topology> {
        let nodes = api.nodes().context("reading Slurm's nodes")?;
        let parts = api.partitions().context("reading Slurm's partitions")?;
        let switches = match &self.slurm_topology {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                Some(agora_slurm::topology::parse_topology_conf(&text).with_context(|| p.display().to_string())?)
            }
            None => None,
        };
        Ok(agora_slurm::topology::import(name, &nodes, &parts, switches.as_deref())?)
    }
}

/// This Agora instance's id (`<data>/slurm-instance`, made on first use):
/// it marks the Slurm jobs this instance submitted.
pub fn instance(data: &std::path::Path) -> anyhow::Result<String> {
    let path = data.join("slurm-instance");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(s);
        }
        anyhow::bail!("{} is damaged (expected letters and digits)", path.display());
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let id = format!("{:016x}", agora_core::fnv1a(format!("{nanos}:{}", std::process::id()).as_bytes()));
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let tmp = data.join("slurm-instance.tmp");
    std::fs::write(&tmp, &id)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}
