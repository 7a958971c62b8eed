use agora_core::thousands;

#[derive(clap::Args)]
pub struct Args {
    /// A preset name or a cluster TOML file; without it, list the presets.
    spec: Option<String>,
    /// Read the topology from a Slurm cluster's slurmrestd (http://host:port)
    /// and print it as a cluster file (`agora serve --cluster FILE` reads it).
    #[arg(long, conflicts_with = "spec")]
    from_slurm: Option<String>,
    #[command(flatten)]
    slurm: super::slurm::Auth,
    /// The live site from a running `agora serve` instead (capacity, free
    /// accelerators per pod, stranded capacity, failed nodes); the server
    /// and token come from --url/--token, the environment or `agora login`.
    #[arg(long, conflicts_with_all = ["spec", "from_slurm"])]
    live: bool,
    #[command(flatten)]
    conn: super::client::Conn,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if a.live {
        return super::client::run(super::client::Command::Status { conn: a.conn });
    }
    if let Some(url) = &a.from_slurm {
        let api = a.slurm.connect(url)?;
        let t = a.slurm.import(api.as_ref(), "slurm")?;
        outln!("# {} (imported from Slurm at {url}, API {})", t.summary(), api.version());
        outln!("{}", agora_slurm::topology::to_toml(&t));
        return Ok(());
    }
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
