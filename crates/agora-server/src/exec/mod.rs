//! Executors: the small trait between the scheduler task and the world.
//! The task tells an executor to start a run on a placement or stop it with
//! a grace period; what happens comes back as `Report`s on a channel and
//! becomes journaled inputs. The Slurm executor (crate `agora-slurm`)
//! implements the same trait; `crate::start_with` takes any executor.

pub mod local;
pub mod virt;

use crate::engine::Launch;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// Run `run` of `job` exited with `code` (124 = time limit reached).
    Exited {
        job: u64,
        run: u32,
        code: i32,
    },
    NodeFailed {
        node: u32,
    },
    NodeRepaired {
        node: u32,
    },
}

pub type Reporter = UnboundedSender<Report>;

pub trait Executor: Send {
    /// Start a run .
    fn start(&mut self, launch: Launch);
    /// Take over a run the journal says is running after a restart.
    fn adopt(&mut self, launch: Launch) {
        self.start(launch)
    }
    /// Stop a run: ask it to leave (SIGTERM), force it after `grace` seconds.
    fn stop(&mut self, job: u64, run: u32, grace: u64);
    /// The core replaced a failed node of a running gang by a spare: the
    /// same run goes on, on `launch.allocation`. Executors that do not
    /// place processes on nodes ignore it.
    fn relaunch(&mut self, _launch: Launch) {}
}
