/// `println!` that survives a closed pipe (`agora site | head`): once
/// stdout is gone, output is dropped quietly and the command finishes its
/// work (a simulation still writes its report).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cmd::out(format_args!($($arg)*)) };
}

pub mod bench;
pub mod bench_serve;
pub mod client;
pub mod cluster;
pub mod config;
pub mod fed;
pub mod serve;
pub mod sim;
pub mod site;
pub mod slurm;

use agora_config::SiteConfig;
use std::path::PathBuf;

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One line to stdout (see `outln!`). Other write errors are reported once.
pub fn out(args: std::fmt::Arguments) {
    use std::io::Write;
    use std::sync::atomic::Ordering::Relaxed;
    if STDOUT_CLOSED.load(Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(format_args!("{args}\n")).and_then(|()| stdout.flush()) {
        STDOUT_CLOSED.store(true, Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("agora: cannot write to stdout: {e}");
        }
    }
}

/// The site file given, or the embedded example gigafactory.
pub fn site_or_default(path: &Option<PathBuf>) -> anyhow::Result<SiteConfig> {
    Ok(match path {
        Some(p) => agora_config::load_site(p)?,
        None => agora_config::default_site(),
    })
}
