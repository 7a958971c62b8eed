pub mod bench;
pub mod bench_serve;
pub mod client;
pub mod cluster;
pub mod serve;
pub mod sim;
pub mod site;

use agora_config::SiteConfig;
use std::path::PathBuf;

/// The site file given, or the embedded example gigafactory.
pub fn site_or_default(path: &Option<PathBuf>) -> anyhow::Result<SiteConfig> {
    Ok(match path {
        Some(p) => agora_config::load_site(p)?,
        None => agora_config::default_site(),
    })
}
