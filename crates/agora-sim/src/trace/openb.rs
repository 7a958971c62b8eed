//! Alibaba openb pod and node lists (cluster-trace-gpu-v2023, FGD ATC'23).
//!
//! Pods: header `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,
//! pod_phase,creation_time,deletion_time,scheduled_time`, times in seconds
//! from the trace start. Columns are found by name.
//!
//! Mapping:
//! - id is the 0-based data row (which equals the number in `openb-pod-NNNN`).
//! - accels = `num_gpu`. A pod that shares a GPU (`gpu_milli` < 1000 with
//!   `num_gpu` = 1) counts as one whole accelerator: `TraceJob` has no
//!   fractional accelerators, and the share is dropped.
//! - submit = `creation_time`; recorded_wait = `scheduled_time` -
//!   `creation_time`.
//! - duration = `deletion_time` - `scheduled_time`. A pod that was never
//!   scheduled (the `Pending` ones, with an empty `scheduled_time`) gets
//!   `deletion_time` - `creation_time`: how long its demand stood.
//! - accel_type = the first type listed in `gpu_spec` (`A|B` allows either);
//!   group = `qos`.
//! - status: `Succeeded` is completed, `Failed` failed, `Pending` (deleted
//!   before it was scheduled) cancelled, `Running` (still running when the
//!   trace ended) and anything else unknown.
//!
//! The `multigpu*` variants have only the first five columns and no times;
//! they cannot be replayed and are rejected with a clear error.
//!
//! Nodes: header `sn,cpu_milli,memory_mib,gpu,model`, read by [`openb_nodes`].

use std::io::BufRead;

use super::{decompressed, read_csv, Bad, Columns, JobStatus, LoadOptions, Schema, Trace, TraceError, TraceJob};

// Timing columns first: a header without them (the multigpu variants) is
// reported as such rather than as missing some other column.
const PODS: Schema<7> = Schema {
    header: "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,\
             pod_phase,creation_time,deletion_time,scheduled_time",
    columns: ["creation_time", "deletion_time", "scheduled_time", "num_gpu", "gpu_spec", "qos", "pod_phase"],
    missing: |name| match name {
        "creation_time" | "deletion_time" | "scheduled_time" => {
            "no timing columns (creation_time, deletion_time, scheduled_time): \
             the multigpu variants list pods without times and cannot be replayed"
                .to_owned()
        }
        _ => format!("missing column `{name}` in the openb pod header"),
    },
};

pub(super) fn parse(reader: impl BufRead, opts: &LoadOptions, trace: &mut Trace) -> Result<(), TraceError> {
    trace.set(read_csv(reader, &trace.origin, opts, &PODS, pod)?);
    Ok(())
}

fn pod(cols: &Columns<7>, id: u64, line: &str) -> Result<TraceJob, Bad> {
    let [created, deleted, scheduled, num_gpu, spec, qos, phase] = cols.split(line)?;
    let (created, deleted) = (created.secs()?, deleted.secs()?);
    let scheduled = match scheduled.text {
        "" => None,
        _ => Some(scheduled.secs()?),
    };
    let start = scheduled.unwrap_or(created);
    if start < created {
        return Err(Bad::Row(format!("scheduled_time {start} is before creation_time {created}")));
    }
    if deleted < start {
        return Err(Bad::Row(format!("deletion_time {deleted} is before scheduled_time {start}")));
    }
    Ok(TraceJob {
        id,
        submit: created,
        accels: num_gpu.uint()?,
        duration: deleted - start,
        time_limit: None,
        recorded_wait: scheduled.map(|s| s - created),
        user: None,
        group: qos.opt_string(),
        accel_type: spec.text.split('|').next().filter(|s| !s.is_empty()).map(str::to_owned),
        nodes: None,
        status: match phase.text {
            "Succeeded" => JobStatus::Completed,
            "Failed" => JobStatus::Failed,
            "Pending" => JobStatus::Cancelled,
            _ => JobStatus::Unknown,
        },
    })
}

/// One machine of an openb node list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenbNode {
    pub name: String,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpus: u32,
    /// GPU model (`T4`, `V100M16`, `G2`, …); `None` for CPU-only nodes.
    pub model: Option<String>,
}

const NODES: Schema<5> = Schema {
    header: "sn,cpu_milli,memory_mib,gpu,model",
    columns: ["sn", "cpu_milli", "memory_mib", "gpu", "model"],
    missing: |name| format!("missing column `{name}` in the openb node header"),
};

/// Reads an openb node list (plain or gzip); `origin` names it in errors.
/// Every row must be valid.
pub fn openb_nodes(reader: impl BufRead, origin: &str) -> Result<Vec<OpenbNode>, TraceError> {
    let reader = decompressed(reader).map_err(|source| TraceError::Io { file: origin.to_owned(), error: source })?;
    let strict = LoadOptions::default();
    let nodes = read_csv(reader, origin, &strict, &NODES, |cols, _, line| {
        let [name, cpu, mem, gpus, model] = cols.split(line)?;
        Ok(OpenbNode {
            name: name.text.to_owned(),
            cpu_milli: cpu.uint()?,
            memory_mib: mem.uint()?,
            gpus: gpus.uint()?,
            model: model.opt_string(),
        })
    })?;
    Ok(nodes.items)
}

static GPU_NODES: &[u8] = include_bytes!("../../data/alibaba-gpu-v2023-openb/openb_node_list_gpu_node.csv.gz");

/// The embedded openb GPU node list: 1,213 nodes with 6,212 GPUs.
pub fn builtin_openb_nodes() -> Result<Vec<OpenbNode>, TraceError> {
    openb_nodes(GPU_NODES, "embedded:alibaba-gpu-v2023-openb/openb_node_list_gpu_node.csv.gz")
}
