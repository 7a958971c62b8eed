use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A site TOML file; without it, the embedded example gigafactory.
    file: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let site = super::site_or_default(&a.file)?;
    let e = &site.entitlements;
    for t in 1..e.len() {
        let tenant = e.get(agora_core::TenantId(t as u32));
        let mut extra = Vec::new();
        if let Some(f) = tenant.floor {
            extra.push(format!("floor {f}"));
        }
        if let Some(b) = tenant.borrow_limit {
            extra.push(format!("borrow ≤ {b}"));
        }
        if let Some(l) = tenant.lend_limit {
            extra.push(format!("lend ≤ {l}"));
        }
        outln!(
            "{:indent$}{} ({}, weight {}){}",
            "",
            tenant.name,
            tenant.level,
            tenant.weight,
            if extra.is_empty() { String::new() } else { format!(": {}", extra.join(", ")) },
            indent = 2 * (tenant.depth - 1)
        );
    }
    outln!("{} projects", e.leaves().count());
    outln!("scheduler:");
    for (key, value) in agora_config::scheduler_settings(&site.scheduler) {
        outln!("  {key} = {value}");
    }
    Ok(())
}
