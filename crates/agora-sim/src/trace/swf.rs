//! Standard Workload Format v2.2 (Parallel Workloads Archive).
//!
//! `;` lines are header comments; `MaxNodes`, `MaxProcs` and `MaxRecords`
//! are read from them. Each other line holds 18 whitespace-separated
//! fields, all of which are checked; -1 (any negative value) means unknown.
//! Time and memory fields may be fractional, as the format allows; times are
//! rounded to whole seconds.
//!
//! Mapping: accels = allocated processors, else requested processors;
//! duration = run time; time_limit = requested time; recorded_wait = wait
//! time; user and group are the numeric ids as strings. Status 1 is
//! completed, 0 failed, 5 cancelled; anything else (partial executions of
//! checkpointed jobs, unknown) is `Unknown`.
//!
//! A well-formed row that cannot be replayed is skipped and counted by
//! reason, never fatal: unknown (`-1`) submit time, no known processor
//! count, or a run time that is unknown or 0 (the job never ran).

use std::io::BufRead;

use super::{read_lines, Bad, Field, JobStatus, LoadOptions, Machine, Skip, Trace, TraceError, TraceJob};

/// Integer fields must be integers; the others may be fractional.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Num,
}

const FIELDS: [(&str, Kind); 18] = [
    ("job", Kind::Int),
    ("submit", Kind::Num),
    ("wait", Kind::Num),
    ("run", Kind::Num),
    ("alloc_procs", Kind::Int),
    ("avg_cpu", Kind::Num),
    ("used_mem", Kind::Num),
    ("req_procs", Kind::Int),
    ("req_time", Kind::Num),
    ("req_mem", Kind::Num),
    ("status", Kind::Int),
    ("user", Kind::Int),
    ("group", Kind::Int),
    ("app", Kind::Int),
    ("queue", Kind::Int),
    ("partition", Kind::Int),
    ("prev_job", Kind::Int),
    ("think_time", Kind::Num),
];

// Positions in `FIELDS` of the values a `TraceJob` keeps.
const JOB: usize = 0;
const SUBMIT: usize = 1;
const WAIT: usize = 2;
const RUN: usize = 3;
const ALLOC_PROCS: usize = 4;
const REQ_PROCS: usize = 7;
const REQ_TIME: usize = 8;
const STATUS: usize = 10;
const USER: usize = 11;
const GROUP: usize = 12;

#[derive(Default)]
struct Header {
    max_nodes: Option<u32>,
    max_procs: Option<u32>,
    max_records: Option<u64>,
}

impl Header {
    /// Reads `Key: value` from one comment line; other comments are ignored.
    fn read(&mut self, comment: &str) {
        let Some((key, value)) = comment.split_once(':') else {
            return;
        };
        let value = value.split_whitespace().next().unwrap_or("");
        match key.trim() {
            "MaxNodes" => self.max_nodes = value.parse().ok(),
            "MaxProcs" => self.max_procs = value.parse().ok(),
            "MaxRecords" => self.max_records = value.parse().ok(),
            _ => {}
        }
    }

    fn machine(&self) -> Option<Machine> {
        let (nodes, procs) = match (self.max_nodes, self.max_procs) {
            (Some(n), Some(p)) => (n, p),
            (Some(n), None) => (n, n),
            (None, Some(p)) => (p, p),
            (None, None) => return None,
        };
        Some(Machine { nodes, procs })
    }
}

pub(super) fn parse(reader: impl BufRead, opts: &LoadOptions, trace: &mut Trace) -> Result<(), TraceError> {
    let mut header = Header::default();
    let lines = read_lines(reader, &trace.origin, opts, |line| match line.trim_start().strip_prefix(';') {
        Some(comment) => {
            header.read(comment);
            Ok(None)
        }
        None => row(line).map(Some),
    })?;
    trace.set(lines);
    trace.machine = header.machine();
    trace.max_records = header.max_records;
    Ok(())
}

fn row(line: &str) -> Result<TraceJob, Bad> {
    let mut v = [0i64; 18];
    let mut found = 0;
    for text in line.split_ascii_whitespace() {
        if let Some(&(name, kind)) = FIELDS.get(found) {
            let field = Field { no: found + 1, name, text };
            v[found] = match kind {
                Kind::Int => field.int()?,
                Kind::Num => field.rounded()?,
            };
        }
        found += 1;
    }
    if found != FIELDS.len() {
        return Err(Bad::Row(format!("expected 18 fields, found {found}")));
    }
    job(&v)
}

fn job(v: &[i64; 18]) -> Result<TraceJob, Bad> {
    let known = |i: usize| u64::try_from(v[i]).ok();
    let must = |i: usize| {
        known(i).ok_or_else(|| {
            Bad::Row(format!("field {} ({}): `{}` must be known and non-negative", i + 1, FIELDS[i].0, v[i]))
        })
    };
    let id = must(JOB)?;
    let procs = known(ALLOC_PROCS).filter(|p| *p > 0).or(known(REQ_PROCS)).unwrap_or(0);
    let accels = u32::try_from(procs).map_err(|_| Bad::Row(format!("processor count {procs} is out of range")))?;
    let Some(submit) = known(SUBMIT) else { return Err(Bad::Skip(Skip::UnknownSubmit)) };
    if accels == 0 {
        return Err(Bad::Skip(Skip::UnknownSize));
    }
    let duration = known(RUN).unwrap_or(0);
    if duration == 0 {
        return Err(Bad::Skip(Skip::ZeroRuntime));
    }
    Ok(TraceJob {
        id,
        submit,
        accels,
        duration,
        time_limit: known(REQ_TIME),
        recorded_wait: known(WAIT),
        user: known(USER).map(|u| u.to_string()),
        group: known(GROUP).map(|g| g.to_string()),
        accel_type: None,
        nodes: None,
        status: match v[STATUS] {
            1 => JobStatus::Completed,
            0 => JobStatus::Failed,
            5 => JobStatus::Cancelled,
            _ => JobStatus::Unknown,
        },
    })
}
