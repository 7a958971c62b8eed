//! Real workload traces: loaders for published GPU and HPC cluster logs.
//!
//! Role: turn a trace file into [`TraceJob`]s that the simulator replays
//! against the production scheduler. Supported formats are SWF (Parallel
//! Workloads Archive), the RFold CSV conversions of Philly and Lingjun, the
//! Alibaba openb pod lists and the Helios job logs; four traces are embedded
//! in the binary ([`builtin`], listed in [`BUILTINS`]). Where each one comes
//! from, its licence and its citation are in `crates/agora-sim/data/README.md`.
//!
//! Invariants:
//! - `Trace::jobs` is sorted by `submit`, stably (equal submits keep file
//!   order). Submit times are seconds from the trace's own start and are
//!   never negative.
//! - Loaders never panic on input. A malformed row is an error naming the
//!   file, the 1-based line and the reason; with
//!   [`LoadOptions::skip_bad_rows`] it is dropped and counted in
//!   `Trace::skipped` instead. Problems with the input as a whole (IO, a
//!   wrong or missing header, no valid row at all, a last line cut in its
//!   middle) are always errors.
//! - Every data row is accounted for: `Trace::rows` = `jobs.len()` + the
//!   rows counted in `Trace::skipped` by reason. A row that is well formed
//!   but cannot be simulated (SWF's `-1` for an unknown submit time, size
//!   or run time) is skipped and counted even without `skip_bad_rows`.
//! - Input may be plain or gzip-compressed; gzip is recognised by its magic
//!   bytes, not by the file name.
//! - Parsing is pure: the same bytes give the same `Trace`.

mod helios;
mod openb;
mod rfold;
mod swf;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::str::FromStr;

use agora_core::{Secs, Time};

pub use openb::{builtin_openb_nodes, openb_nodes, OpenbNode};

/// How a job ended, as far as the trace records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Completed,
    Failed,
    Cancelled,
    Unknown,
}

/// One job of a trace, in the form every format is converted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceJob {
    /// The trace's own job id; the 0-based data row for formats without a
    /// numeric id (openb, Helios).
    pub id: u64,
    /// Seconds from the trace start; the first job may be later than 0.
    pub submit: Time,
    /// GPUs (or processors, for SWF); 0 means CPU-only or unknown.
    pub accels: u32,
    /// Actual run time in seconds.
    pub duration: Secs,
    /// Requested run time in seconds.
    pub time_limit: Option<Secs>,
    /// Queueing delay the traced scheduler produced, in seconds.
    pub recorded_wait: Option<Secs>,
    pub user: Option<String>,
    /// Virtual cluster (Helios), group (SWF) or QoS class (openb).
    pub group: Option<String>,
    pub accel_type: Option<String>,
    pub nodes: Option<u32>,
    pub status: JobStatus,
}

/// Size of the traced machine, from the SWF `MaxNodes`/`MaxProcs` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    pub nodes: u32,
    pub procs: u32,
}

/// A loaded trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Short name: the built-in's name, or the file name without extensions.
    pub name: String,
    /// Sorted by `submit`, stably.
    pub jobs: Vec<TraceJob>,
    pub machine: Option<Machine>,
    /// The SWF `MaxRecords` header: how many records the log declares. It is
    /// a check, not a limit: cleaned PWA logs keep the uncleaned count.
    pub max_records: Option<u64>,
    /// Data rows read (not header or comment lines).
    pub rows: usize,
    /// Rows not in `jobs`, by reason.
    pub skipped: Skipped,
    /// Where the trace was read from (a path, or `embedded:<file>`).
    pub origin: String,
}

/// Rows of a workload that were not simulated, by reason. The loader
/// fills the first four; mapping onto a site adds `cpu_only`, and a run
/// adds the jobs the scheduler refused (`too_big`, `absurd_limit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Rows that could not be parsed (only under `skip_bad_rows`).
    pub malformed: usize,
    /// The submit time is unknown (SWF `-1`).
    pub unknown_submit: usize,
    /// Neither allocated nor requested processors are known (SWF).
    pub unknown_size: usize,
    /// The job ran for no time or an unknown time (SWF), so it cannot be
    /// replayed.
    pub zero_runtime: usize,
    /// The job asks for no accelerator (openb CPU pods, GPU traces' CPU jobs).
    pub cpu_only: usize,
    /// Bigger than the machine (or of a type it lacks): can never start.
    pub too_big: usize,
    /// Refused for an absurd limit (a time limit or estimate over 100 years).
    pub absurd_limit: usize,
}

impl Skipped {
    /// (JSON key, words for people, count), in a fixed order.
    pub fn entries(&self) -> [(&'static str, &'static str, usize); 7] {
        [
            ("malformed", "malformed", self.malformed),
            ("unknown_submit", "unknown submit time", self.unknown_submit),
            ("unknown_size", "unknown size", self.unknown_size),
            ("zero_runtime", "zero or unknown run time", self.zero_runtime),
            ("cpu_only", "CPU-only", self.cpu_only),
            ("too_big", "bigger than the machine", self.too_big),
            ("absurd_limit", "absurd time limit", self.absurd_limit),
        ]
    }

    pub fn total(&self) -> usize {
        self.entries().iter().map(|e| e.2).sum()
    }

    /// `12 skipped: 8 zero or unknown run time, 4 unknown size`, or "" if none.
    pub fn describe(&self) -> String {
        let parts: Vec<String> =
            self.entries().iter().filter(|e| e.2 > 0).map(|(_, words, n)| format!("{n} {words}")).collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("{} skipped: {}", self.total(), parts.join(", "))
        }
    }

    fn count(&mut self, reason: Skip) {
        *match reason {
            Skip::UnknownSubmit => &mut self.unknown_submit,
            Skip::UnknownSize => &mut self.unknown_size,
            Skip::ZeroRuntime => &mut self.zero_runtime,
        } += 1;
    }
}

/// Why a well-formed row cannot be simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Skip {
    UnknownSubmit,
    UnknownSize,
    ZeroRuntime,
}

/// A trace file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Standard Workload Format v2.2 (Parallel Workloads Archive).
    Swf,
    /// Microsoft Philly, RFold's 6-column CSV conversion.
    Philly,
    /// Alibaba openb pod list (cluster-trace-gpu-v2023).
    Openb,
    /// Alibaba Lingjun, RFold's conversion (same columns as Philly).
    Lingjun,
    /// Helios (SenseTime) `cluster_log.csv`; Acme job logs use the same columns.
    Helios,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Swf, Format::Philly, Format::Openb, Format::Lingjun, Format::Helios];

    pub fn name(self) -> &'static str {
        match self {
            Format::Swf => "swf",
            Format::Philly => "philly",
            Format::Openb => "openb",
            Format::Lingjun => "lingjun",
            Format::Helios => "helios",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown trace format `{0}` (expected swf, philly, openb, lingjun or helios)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Drop malformed rows (counting them in `Trace::skipped`) instead of
    /// failing on the first one.
    pub skip_bad_rows: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The OS error is part of the message (not a `source`), so that it is
    /// shown once however the error is printed.
    #[error("{file}: {error}")]
    Io { file: String, error: io::Error },
    /// A bad row, or a bad header line.
    #[error("{file}:{line}: {reason}")]
    Row { file: String, line: u64, reason: String },
    /// A problem with the input as a whole.
    #[error("{file}: {reason}")]
    Input { file: String, reason: String },
}

impl Trace {
    fn set(&mut self, lines: Lines<TraceJob>) {
        (self.jobs, self.rows, self.skipped) = (lines.items, lines.rows, lines.skipped);
    }
}

/// Reads a trace file, plain or gzip-compressed.
pub fn load(format: Format, path: &Path, opts: &LoadOptions) -> Result<Trace, TraceError> {
    let origin = path.display().to_string();
    let file = File::open(path).map_err(|source| TraceError::Io { file: origin.clone(), error: source })?;
    parse(format, BufReader::with_capacity(1 << 16, file), &origin, opts)
}

/// Parses a trace from `reader` (plain or gzip); `origin` names it in errors.
pub fn parse(format: Format, reader: impl BufRead, origin: &str, opts: &LoadOptions) -> Result<Trace, TraceError> {
    let reader = decompressed(reader).map_err(|source| TraceError::Io { file: origin.to_owned(), error: source })?;
    let mut trace = Trace {
        name: trace_name(origin),
        jobs: Vec::new(),
        machine: None,
        max_records: None,
        rows: 0,
        skipped: Skipped::default(),
        origin: origin.to_owned(),
    };
    match format {
        Format::Swf => swf::parse(reader, opts, &mut trace)?,
        Format::Philly | Format::Lingjun => rfold::parse(reader, opts, &mut trace)?,
        Format::Openb => openb::parse(reader, opts, &mut trace)?,
        Format::Helios => helios::parse(reader, opts, &mut trace)?,
    }
    if trace.jobs.is_empty() && trace.skipped.malformed > 0 {
        // Skipping every row usually means the wrong format was chosen.
        return Err(TraceError::Input {
            file: trace.origin,
            reason: format!("no valid {format} row ({} malformed)", trace.skipped.malformed),
        });
    }
    debug_assert_eq!(trace.rows, trace.jobs.len() + trace.skipped.total());
    trace.jobs.sort_by_key(|j| j.submit);
    Ok(trace)
}

/// The embedded traces: name and description with source and licence.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "philly",
        "Microsoft Philly (2017), 111,549 GPU jobs over 129 days; RFold's conversion \
         (shuoshuc/RFold, MIT) of msr-fiddle/philly-traces, data CC-BY-4.0; \
         cite Jeon et al., USENIX ATC'19",
    ),
    (
        "kth-sp2",
        "KTH IBM SP2 (1996-97), 100 nodes, 28,476 jobs, EASY backfilling; \
         Parallel Workloads Archive cleaned log; cite Feitelson, Tsafrir & Krakov, JPDC 2014",
    ),
    (
        "lingjun",
        "Alibaba Lingjun LLM training cluster (Aug 2023), 2,498 GPU jobs over 16 days; \
         RFold's conversion (MIT) of alibaba/alibaba-lingjun-dataset-2023, Apache-2.0; \
         cite Cao et al., SIGCOMM'24",
    ),
    (
        "openb",
        "Alibaba openb GPU-sharing cluster, 8,152 pods over 149 days; \
         alibaba/clusterdata cluster-trace-gpu-v2023, research or study use; \
         cite Weng et al., USENIX ATC'23",
    ),
];

static PHILLY: &[u8] = include_bytes!("../../data/philly/philly_trace_rfold.csv.gz");
static KTH_SP2: &[u8] = include_bytes!("../../data/swf/KTH-SP2-1996-2.1-cln.swf.gz");
static LINGJUN: &[u8] = include_bytes!("../../data/alibaba-lingjun-2023/lingjun_jobs_rfold.csv.gz");
static OPENB_PODS: &[u8] = include_bytes!("../../data/alibaba-gpu-v2023-openb/openb_pod_list_default.csv.gz");

/// Loads an embedded trace by name (see [`BUILTINS`]); `None` if unknown.
pub fn builtin(name: &str) -> Option<Result<Trace, TraceError>> {
    let (format, file, bytes) = match name {
        "philly" => (Format::Philly, "philly/philly_trace_rfold.csv.gz", PHILLY),
        "kth-sp2" => (Format::Swf, "swf/KTH-SP2-1996-2.1-cln.swf.gz", KTH_SP2),
        "lingjun" => (Format::Lingjun, "alibaba-lingjun-2023/lingjun_jobs_rfold.csv.gz", LINGJUN),
        "openb" => (Format::Openb, "alibaba-gpu-v2023-openb/openb_pod_list_default.csv.gz", OPENB_PODS),
        _ => return None,
    };
    let origin = format!("embedded:{file}");
    Some(parse(format, bytes, &origin, &LoadOptions::default()).map(|mut t| {
        t.name = name.to_owned();
        t
    }))
}

/// `reader`, decompressed if it starts with the gzip magic bytes.
fn decompressed<'a>(mut reader: impl BufRead + 'a) -> io::Result<Box<dyn BufRead + 'a>> {
    Ok(if reader.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(reader);
        Box::new(BufReader::with_capacity(1 << 16, gz))
    } else {
        Box::new(reader)
    })
}

/// "dir/KTH-SP2-1996-2.1-cln.swf.gz" -> "KTH-SP2-1996-2.1-cln".
fn trace_name(origin: &str) -> String {
    let base = origin.rsplit(['/', '\\', ':']).next().unwrap_or(origin);
    let base = base.strip_suffix(".gz").unwrap_or(base);
    let base = [".csv", ".swf"].into_iter().find_map(|ext| base.strip_suffix(ext)).unwrap_or(base);
    base.to_owned()
}

/// Why a line was rejected.
enum Bad {
    /// A malformed data row: skippable.
    Row(String),
    /// A line that makes the rest unreadable (a wrong header).
    Fatal(String),
    /// A well-formed row that cannot be simulated: always skipped, counted.
    Skip(Skip),
}

/// What [`read_lines`] read: the items, the data rows seen and the skipped ones.
struct Lines<T> {
    items: Vec<T>,
    rows: usize,
    skipped: Skipped,
}

/// Feeds every non-blank line (without its line ending) to `row`, which
/// returns an item, `None` for header and comment lines, or why the line is
/// bad. A last line without its line ending that does not parse is taken
/// for a file cut short: an error, even when bad rows are skipped.
fn read_lines<T>(
    mut reader: impl BufRead,
    origin: &str,
    opts: &LoadOptions,
    mut row: impl FnMut(&str) -> Result<Option<T>, Bad>,
) -> Result<Lines<T>, TraceError> {
    let mut buf = Vec::with_capacity(256);
    let mut out = Lines { items: Vec::new(), rows: 0, skipped: Skipped::default() };
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io { file: origin.to_owned(), error: source })?;
        if n == 0 {
            return Ok(out);
        }
        line += 1;
        let cut = !buf.ends_with(b"\n");
        let result = match std::str::from_utf8(&buf) {
            Ok(text) => {
                let text = text.trim_end_matches(['\n', '\r']);
                if text.trim_ascii().is_empty() {
                    continue;
                }
                row(text)
            }
            Err(_) => Err(Bad::Row("not valid UTF-8".to_owned())),
        };
        if !matches!(result, Ok(None)) {
            out.rows += 1;
        }
        match result {
            Ok(Some(item)) => out.items.push(item),
            Ok(None) => {}
            Err(Bad::Skip(why)) => out.skipped.count(why),
            Err(Bad::Row(reason)) if cut => {
                let reason = format!("{reason}; the file ends in the middle of this line (truncated?)");
                return Err(TraceError::Row { file: origin.to_owned(), line, reason });
            }
            Err(Bad::Row(_)) if opts.skip_bad_rows => out.skipped.malformed += 1,
            Err(Bad::Row(reason) | Bad::Fatal(reason)) => {
                return Err(TraceError::Row { file: origin.to_owned(), line, reason })
            }
        }
    }
}

/// What a CSV loader needs from a header line.
struct Schema<const N: usize> {
    /// The header of the published files, for messages.
    header: &'static str,
    /// The columns the loader reads, found by name.
    columns: [&'static str; N],
    /// Phrases the error for a missing column.
    missing: fn(&'static str) -> String,
}

/// Reads a CSV whose first line is a header naming its columns. `row` gets
/// the located columns, the 0-based number of the data row and the line.
fn read_csv<const N: usize, T>(
    reader: impl BufRead,
    origin: &str,
    opts: &LoadOptions,
    schema: &Schema<N>,
    mut row: impl FnMut(&Columns<N>, u64, &str) -> Result<T, Bad>,
) -> Result<Lines<T>, TraceError> {
    let mut columns = None;
    let mut data_rows = 0;
    let rows = read_lines(reader, origin, opts, |line| {
        let Some(cols) = &columns else {
            let found = Columns::find(line, schema.columns);
            columns = Some(found.map_err(|name| Bad::Fatal((schema.missing)(name)))?);
            return Ok(None);
        };
        data_rows += 1;
        row(cols, data_rows - 1, line).map(Some)
    })?;
    if columns.is_none() {
        return Err(TraceError::Input {
            file: origin.to_owned(),
            reason: format!("empty input: expected the header `{}`", schema.header),
        });
    }
    Ok(rows)
}

/// Bound on rounded numbers (about 285 million years in seconds), so that
/// conversions from `f64` are exact and sums cannot overflow.
const LIMIT: i64 = 9_000_000_000_000_000;

/// One field of a row, with its 1-based position and name for errors.
#[derive(Clone, Copy)]
struct Field<'a> {
    no: usize,
    name: &'static str,
    text: &'a str,
}

impl Field<'_> {
    fn bad(self, what: &str) -> Bad {
        // Keep messages readable when a field holds garbage.
        let shown = match self.text.char_indices().nth(40) {
            Some((i, _)) => format!("{}…", &self.text[..i]),
            None => self.text.to_owned(),
        };
        Bad::Row(format!("field {} ({}): `{shown}` {what}", self.no, self.name))
    }

    fn int(self) -> Result<i64, Bad> {
        self.text.parse().map_err(|_| self.bad("is not an integer"))
    }

    fn uint<T: FromStr>(self) -> Result<T, Bad> {
        self.text.parse().map_err(|_| self.bad("is not a non-negative integer"))
    }

    /// A number, possibly fractional, rounded to an integer.
    fn rounded(self) -> Result<i64, Bad> {
        if let Ok(v) = self.text.parse::<i64>() {
            return Ok(v);
        }
        match self.text.parse::<f64>() {
            // Below 2^53 in magnitude every whole number is exact.
            Ok(v) if v.abs() < LIMIT as f64 => Ok(v.round() as i64),
            Ok(v) if v.is_finite() => Err(self.bad("is out of range")),
            _ => Err(self.bad("is not a number")),
        }
    }

    /// Non-negative seconds, possibly fractional, rounded to whole seconds.
    fn secs(self) -> Result<u64, Bad> {
        let (int, frac) = match self.text.bytes().position(|b| b == b'.') {
            Some(dot) => (&self.text[..dot], &self.text[dot + 1..]),
            None => (self.text, ""),
        };
        // The usual `123` or `123.0` is parsed exactly, and fast.
        let exact = || {
            let whole: u64 = int.parse().ok()?;
            let round_up = frac.bytes().next().is_some_and(|d| d >= b'5');
            frac.bytes().all(|b| b.is_ascii_digit()).then_some(whole.checked_add(u64::from(round_up))?)
        };
        let v = exact().or_else(|| match self.text.parse::<f64>() {
            Ok(v) if (0.0..LIMIT as f64).contains(&v) => Some(v.round() as u64),
            _ => None,
        });
        v.filter(|v| *v < LIMIT as u64).ok_or_else(|| self.bad("is not a non-negative number of seconds"))
    }

    fn opt_string(self) -> Option<String> {
        (!self.text.is_empty()).then(|| self.text.to_owned())
    }
}

/// The positions of named columns in a CSV header, for formats whose
/// columns are addressed by name. Fields are plain (no quoting), as in
/// every published file this module reads.
struct Columns<const N: usize> {
    names: [&'static str; N],
    pos: [usize; N],
    width: usize,
    /// For each column of the file, the slot it fills, if wanted.
    slot: Vec<Option<usize>>,
}

impl<const N: usize> Columns<N> {
    /// Locates `names` in `header`; `Err` holds the first missing name.
    fn find(header: &str, names: [&'static str; N]) -> Result<Self, &'static str> {
        let header: Vec<&str> = header.split(',').map(str::trim).collect();
        let mut pos = [0; N];
        let mut slot = vec![None; header.len()];
        for (i, name) in names.into_iter().enumerate() {
            pos[i] = header.iter().position(|h| *h == name).ok_or(name)?;
            slot[pos[i]] = Some(i);
        }
        Ok(Columns { names, pos, width: header.len(), slot })
    }

    /// The wanted fields of `line`, in the order of `names`.
    fn split<'a>(&self, line: &'a str) -> Result<[Field<'a>; N], Bad> {
        let mut fields = [""; N];
        let mut count = 0;
        for (i, text) in split_ascii(line, b',').enumerate() {
            if let Some(Some(s)) = self.slot.get(i) {
                fields[*s] = text.trim_ascii();
            }
            count = i + 1;
        }
        if count != self.width {
            return Err(Bad::Row(format!("expected {} fields, found {count}", self.width)));
        }
        Ok(std::array::from_fn(|i| Field { no: self.pos[i] + 1, name: self.names[i], text: fields[i] }))
    }
}

/// `line.split(sep)` for an ASCII separator: as fast as a byte scan, where
/// `str::split(char)` pays a search set-up per field.
fn split_ascii(line: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}
