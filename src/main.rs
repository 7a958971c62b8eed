//! `agora`: the one binary. Each subcommand is a thin shell over the
//! library crates; errors from them are reported here, once, for people.

mod cmd;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "agora", version, about = "Agora: the open operating system for AI gigafactories")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the scheduler.
    Bench {
        #[command(subcommand)]
        what: cmd::bench::What,
    },
    /// Federated training: coordinator, site agent, demo.
    Fed {
        #[command(subcommand)]
        what: cmd::fed::What,
    },
    /// Show built-in clusters, or check and summarise a cluster file.
    Cluster(cmd::cluster::Args),
    /// Check a site file (entitlement tree and scheduler settings).
    Site(cmd::site::Args),
    /// Replay a workload on a simulated site under several policies.
    Sim(Box<cmd::sim::Args>),
    /// Run the control plane: the HTTP API, the scheduler, the journal.
    Serve(Box<cmd::serve::Args>),
    #[command(flatten)]
    Client(cmd::client::Command),
    /// Print a shell completion script: `agora completions bash > /etc/bash_completion.d/agora`.
    Completions { shell: clap_complete::Shell },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench { what } => cmd::bench::run(what),
        Command::Cluster(a) => cmd::cluster::run(a),
        Command::Fed { what } => cmd::fed::run(what),
        Command::Site(a) => cmd::site::run(a),
        Command::Sim(a) => cmd::sim::run(*a),
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Client(c) => cmd::client::run(c),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "agora", &mut std::io::stdout());
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("agora: {e:#}");
        std::process::exit(1);
    }
}
