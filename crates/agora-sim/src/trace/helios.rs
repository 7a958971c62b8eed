//! Helios job logs (SenseTime, SC'21): one `cluster_log.csv` per cluster.
//!
//! Header `job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,
//! start_time,end_time,duration,queue`; columns are found by name. Times
//! are wall-clock `YYYY-MM-DD HH:MM:SS` without a zone; they become seconds
//! from the earliest submit in the file.
//!
//! Mapping:
//! - id is the 0-based data row; `job_id` is not kept.
//! - accels = `gpu_num` (0 for CPU jobs); nodes = `node_num`; group = `vc`.
//! - duration = `duration`, or `end_time` - `start_time` when it is empty,
//!   or 0 for a job that never started.
//! - recorded_wait = `start_time` - `submit_time`; none if it never started.
//! - status: `COMPLETED` completed; `FAILED`, `NODE_FAIL`, `TIMEOUT`,
//!   `OUT_OF_MEMORY`, `BOOT_FAIL`, `DEADLINE` failed; `CANCELLED` (also
//!   Slurm's `CANCELLED by <uid>`) cancelled; anything else unknown.

use agora_core::ids::{days_from_civil, days_in_month};
use std::io::BufRead;

use super::{read_csv, Bad, Columns, Field, JobStatus, LoadOptions, Schema, Trace, TraceError, TraceJob};

const SCHEMA: Schema<9> = Schema {
    header: "job_id,user,vc,gpu_num,cpu_num,node_num,state,\
             submit_time,start_time,end_time,duration,queue",
    columns: ["user", "vc", "gpu_num", "node_num", "state", "submit_time", "start_time", "end_time", "duration"],
    missing: |name| format!("missing column `{name}` in the Helios header"),
};

pub(super) fn parse(reader: impl BufRead, opts: &LoadOptions, trace: &mut Trace) -> Result<(), TraceError> {
    let lines = read_csv(reader, &trace.origin, opts, &SCHEMA, row)?;
    // Submit times are absolute until the earliest one is known.
    let first = lines.items.iter().map(|(_, submit)| *submit).min().unwrap_or(0);
    trace.jobs = lines
        .items
        .into_iter()
        .map(|(job, submit)| TraceJob {
            // Both are whole-second times of years 1..=9999: no overflow.
            submit: (submit - first) as u64,
            ..job
        })
        .collect();
    (trace.rows, trace.skipped) = (lines.rows, lines.skipped);
    Ok(())
}

fn row(cols: &Columns<9>, id: u64, line: &str) -> Result<(TraceJob, i64), Bad> {
    let [user, vc, gpus, nodes, state, submit, start, end, duration] = cols.split(line)?;
    let submit = datetime(submit)?;
    let start = optional(start, datetime)?;
    let end = optional(end, datetime)?;
    let since = |from: i64, to: i64, what: &str| u64::try_from(to - from).map_err(|_| Bad::Row(what.to_owned()));
    let wait = start.map(|s| since(submit, s, "start_time is before submit_time")).transpose()?;
    let duration = match (optional(duration, Field::secs)?, start, end) {
        (Some(d), _, _) => d,
        (None, Some(s), Some(e)) => since(s, e, "end_time is before start_time")?,
        (None, _, _) => 0,
    };
    let job = TraceJob {
        id,
        submit: 0, // set once the first submit is known
        accels: gpus.uint()?,
        duration,
        time_limit: None,
        recorded_wait: wait,
        user: user.opt_string(),
        group: vc.opt_string(),
        accel_type: None,
        nodes: Some(nodes.uint()?),
        status: status(state.text),
    };
    Ok((job, submit))
}

fn status(state: &str) -> JobStatus {
    match state {
        "COMPLETED" => JobStatus::Completed,
        "FAILED" | "NODE_FAIL" | "TIMEOUT" | "OUT_OF_MEMORY" | "BOOT_FAIL" | "DEADLINE" => JobStatus::Failed,
        s if s.starts_with("CANCELLED") => JobStatus::Cancelled,
        _ => JobStatus::Unknown,
    }
}

fn optional<'a, T>(field: Field<'a>, parse: impl FnOnce(Field<'a>) -> Result<T, Bad>) -> Result<Option<T>, Bad> {
    match field.text {
        "" => Ok(None),
        _ => parse(field).map(Some),
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with a `T`) as seconds since 1970-01-01.
fn datetime(field: Field<'_>) -> Result<i64, Bad> {
    parse_datetime(field.text).ok_or_else(|| field.bad("is not a `YYYY-MM-DD HH:MM:SS` time"))
}

fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19 || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b[from..to].iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let valid = year >= 1
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let cases = [
            ("1970-01-01 00:00:00", 0),
            ("1970-01-02 00:00:01", 86_401),
            ("2000-03-01 00:00:00", 951_868_800),
            ("2020-02-29 23:59:59", 1_583_020_799),
            ("2020-03-01T00:00:00", 1_583_020_800),
            ("2020-12-31 12:00:00", 1_609_416_000),
            ("1969-12-31 23:59:59", -1),
            ("0001-01-01 00:00:00", -62_135_596_800),
        ];
        for (text, want) in cases {
            assert_eq!(parse_datetime(text), Some(want), "{text}");
        }
        for bad in [
            "2019-02-29 00:00:00",
            "2020-13-01 00:00:00",
            "2020-04-31 00:00:00",
            "2020-01-01 24:00:00",
            "2020-01-01 00:60:00",
            "0000-01-01 00:00:00",
            "2020-1-01 00:00:00",
            "2020/01/01 00:00:00",
            "2020-01-01 00:00:00.5",
            "+020-01-01 00:00:00",
            "2020-01-01",
            "",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
