//! RFold's job CSV, used for its Philly and Lingjun (Crux) conversions.
//!
//! Header `#job id,arrival time (sec),topology,shape,size,duration (sec)`,
//! then one row per job. Times may be written as decimals (`266563.0`).
//! accels = size (the GPU count); `topology` (always `CLOS`) and `shape`
//! (equal to size in both files) are not kept. The files record neither
//! users, limits, waits nor outcomes, so status is `Unknown`.

use std::io::BufRead;

use super::{read_csv, JobStatus, LoadOptions, Schema, Trace, TraceError, TraceJob};

const SCHEMA: Schema<4> = Schema {
    header: "#job id,arrival time (sec),topology,shape,size,duration (sec)",
    columns: ["#job id", "arrival time (sec)", "size", "duration (sec)"],
    missing: |name| format!("missing column `{name}` in the RFold job header"),
};

pub(super) fn parse(reader: impl BufRead, opts: &LoadOptions, trace: &mut Trace) -> Result<(), TraceError> {
    let lines = read_csv(reader, &trace.origin, opts, &SCHEMA, |cols, _, line| {
        let [id, arrival, size, duration] = cols.split(line)?;
        Ok(TraceJob {
            id: id.uint()?,
            submit: arrival.secs()?,
            accels: size.uint()?,
            duration: duration.secs()?,
            time_limit: None,
            recorded_wait: None,
            user: None,
            group: None,
            accel_type: None,
            nodes: None,
            status: JobStatus::Unknown,
        })
    })?;
    trace.set(lines);
    Ok(())
}
