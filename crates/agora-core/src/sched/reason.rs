//! Why a pending job is pending, in words a person can act on.
//!
//! Reasons are small values recorded during the cycle; the text is rendered
//! only when someone asks, so a 100,000-job queue costs no string work.

use crate::ids::{human_duration, thousands, JobId, TenantId, Time};
use crate::job::Scope;
use crate::tenancy::Entitlements;

/// Why the last cycle stopped before looking at every pending job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every job was looked at.
    Exhausted,
    /// Nothing more could start: no free accelerator and no preemption left.
    Full,
    /// The backfill scan reached its configured depth.
    ScanLimit,
    /// Strict order: the first job that could not start stops the cycle.
    Blocked,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Submitted since the last cycle.
    New,
    /// No room in any allowed domain right now.
    Resources { accels: u32, scope: Scope, required: bool },
    /// At the head of the queue: nodes are held for it.
    Reserved { accels: u32, scope: Scope, start: Time },
    /// Would fit only on nodes held for a reserved job and runs too long to
    /// finish before that job starts.
    BehindReservation { accels: u32, reserved: JobId, start: Time },
    /// The job would take a tenant on its path over its borrowing limit.
    /// `soak`: the job will run opportunistically on idle capacity.
    BorrowLimit { tenant: TenantId, used: u64, limit: u64, soak: bool },
    /// Idle capacity is kept for a tenant by its lending limit.
    KeptForLender { tenant: TenantId, kept: u64, soak: bool },
    /// Lower-class work is checkpointing to make room for this job.
    AwaitingPreemption { victims: u32, until: Time },
    /// The cycle stopped before reaching this job.
    NotReached(Stop),
}

impl Reason {
    pub fn describe(&self, now: Time, ents: &Entitlements) -> String {
        let within = |scope: Scope, required: bool| match (scope, required) {
            (Scope::Site, _) => "anywhere on the site".to_string(),
            (s, true) => format!("in one {}", s.name()),
            (s, false) => format!("(preferably in one {})", s.name()),
        };
        let name = |t: &TenantId| ents.get(*t).path.clone();
        let soaks = |soak: &bool| if *soak { "; runs opportunistically when capacity is idle" } else { "" };
        match self {
            Reason::New => "submitted; waiting for the next scheduling cycle".into(),
            Reason::Resources { accels, scope, required } => format!(
                "needs {} accelerators {}; not enough are free",
                thousands(*accels as u64),
                within(*scope, *required)
            ),
            Reason::Reserved { accels, scope, start } => format!(
                "needs {} accelerators {}; reserved to start in {}",
                thousands(*accels as u64),
                within(*scope, true),
                human_duration(start.saturating_sub(now))
            ),
            Reason::BehindReservation { accels, reserved, start } => format!(
                "needs {} accelerators; some of the free ones are held for job {reserved}, which starts in {}, and this job's time limit is too long to backfill",
                thousands(*accels as u64),
                human_duration(start.saturating_sub(now))
            ),
            Reason::BorrowLimit { tenant, used, limit, soak } => format!(
                "{} would go over its borrowing limit ({} of {} accelerators in use){}",
                name(tenant),
                thousands(*used),
                thousands(*limit),
                soaks(soak)
            ),
            Reason::KeptForLender { tenant, kept, soak } => format!(
                "the idle capacity is kept for {} by its lending limit ({} accelerators){}",
                name(tenant),
                thousands(*kept),
                soaks(soak)
            ),
            Reason::AwaitingPreemption { victims: 0, until } => format!(
                "the jobs on the nodes held for it reach their time limits within {}",
                human_duration(until.saturating_sub(now))
            ),
            Reason::AwaitingPreemption { victims, until } => format!(
                "preempting {victims} lower-priority job(s); they checkpoint and leave within {}",
                human_duration(until.saturating_sub(now))
            ),
            Reason::NotReached(Stop::Full) => {
                "waiting behind higher-priority jobs; the site is full".into()
            }
            Reason::NotReached(Stop::ScanLimit) => {
                "waiting behind higher-priority jobs; beyond this cycle's backfill depth".into()
            }
            Reason::NotReached(Stop::Exhausted) => "waiting behind higher-priority jobs".into(),
            Reason::NotReached(Stop::Blocked) => "waiting behind the first job in strict order".into(),
        }
    }
}

crate::persist_tags!(Stop { Exhausted = 0, Full = 1, ScanLimit = 2, Blocked = 3 });

impl crate::persist::Persist for Reason {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            Reason::New => w.push(0),
            Reason::Resources { accels, scope, required } => {
                w.push(1);
                (*accels, *scope, *required).put(w);
            }
            Reason::Reserved { accels, scope, start } => {
                w.push(2);
                (*accels, *scope, *start).put(w);
            }
            Reason::BehindReservation { accels, reserved, start } => {
                w.push(3);
                (*accels, *reserved, *start).put(w);
            }
            Reason::BorrowLimit { tenant, used, limit, soak } => {
                w.push(4);
                (*tenant, *used, *limit, *soak).put(w);
            }
            Reason::KeptForLender { tenant, kept, soak } => {
                w.push(5);
                (*tenant, *kept, *soak).put(w);
            }
            Reason::AwaitingPreemption { victims, until } => {
                w.push(6);
                (*victims, *until).put(w);
            }
            Reason::NotReached(stop) => {
                w.push(7);
                stop.put(w);
            }
        }
    }
    fn get(r: &mut crate::persist::Reader) -> Result<Self, crate::persist::SnapshotError> {
        use crate::persist::Persist as P;
        Ok(match u8::get(r)? {
            0 => Reason::New,
            1 => {
                let (accels, scope, required) = P::get(r)?;
                Reason::Resources { accels, scope, required }
            }
            2 => {
                let (accels, scope, start) = P::get(r)?;
                Reason::Reserved { accels, scope, start }
            }
            3 => {
                let (accels, reserved, start) = P::get(r)?;
                Reason::BehindReservation { accels, reserved, start }
            }
            4 => {
                let (tenant, used, limit, soak) = P::get(r)?;
                Reason::BorrowLimit { tenant, used, limit, soak }
            }
            5 => {
                let (tenant, kept, soak) = P::get(r)?;
                Reason::KeptForLender { tenant, kept, soak }
            }
            6 => {
                let (victims, until) = P::get(r)?;
                Reason::AwaitingPreemption { victims, until }
            }
            7 => Reason::NotReached(P::get(r)?),
            t => return Err(r.bad_tag("Reason", t as u64)),
        })
    }
}
