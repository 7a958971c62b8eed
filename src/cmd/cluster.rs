use agora_core::thousands;

#[derive(clap::Args)]
pub struct Args {
    /// A preset name or a cluster TOML file; without it, list the presets.
    spec: Option<String>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.spec {
        None => {
            for (name, about) in agora_config::PRESETS {
                outln!("{name:<24} {about}");
            }
        }
        Some(spec) => {
            let t = agora_config::cluster(&spec)?;
            outln!("{}", t.summary());
            let largest = t.blocks.iter().map(|b| b.nodes.len()).max().unwrap_or(0);
            outln!(
                "largest block: {} nodes; largest pod: {} nodes",
                largest,
                thousands(t.pods.iter().map(|p| p.nodes.len() as u64).max().unwrap_or(0))
            );
        }
    }
    Ok(())
}
