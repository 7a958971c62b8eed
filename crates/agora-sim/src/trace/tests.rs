//! Loader tests: small hand-written cases per format, then the counts
//! published for the real traces (see `crates/agora-sim/data/README.md`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use agora_core::rng::Rng;

use super::*;

const STRICT: LoadOptions = LoadOptions { skip_bad_rows: false };
const SKIP: LoadOptions = LoadOptions { skip_bad_rows: true };

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

/// One line per job, optional fields only when present.
fn render(trace: &Trace) -> String {
    let mut out = String::new();
    for j in &trace.jobs {
        out += &format!("{} @{} {}x{}s", j.id, j.submit, j.accels, j.duration);
        let opt = |key: &str, v: Option<String>| v.map(|v| format!(" {key}={v}"));
        let extras = [
            opt("limit", j.time_limit.map(|v| v.to_string())),
            opt("wait", j.recorded_wait.map(|v| v.to_string())),
            opt("user", j.user.clone()),
            opt("group", j.group.clone()),
            opt("type", j.accel_type.clone()),
            opt("nodes", j.nodes.map(|v| v.to_string())),
        ];
        out.extend(extras.into_iter().flatten());
        out += &format!(" {:?}\n", j.status);
    }
    out
}

fn unindent(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect()
}

fn check(format: Format, input: &str, expected: &str) {
    let trace = parse(format, input.as_bytes(), "t.csv", &STRICT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(render(&trace), unindent(expected));
}

fn check_err(format: Format, input: &[u8], opts: &LoadOptions, expected: &str) {
    match parse(format, input, "t.csv", opts) {
        Ok(t) => panic!("expected `{expected}`, parsed {} jobs", t.jobs.len()),
        Err(e) => assert_eq!(e.to_string(), expected),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// A scratch directory of this test process, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("agora-trace-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- formats, small cases -------------------------------------------------

#[test]
fn swf_rows() {
    let input = "\
; Version: 2.2
; MaxJobs: 5
; MaxRecords: 4
; MaxNodes: 64
; MaxProcs: 128
;
    1        0      5   3600    8     -1    -1    8   7200    -1  1  3  2  -1 -1 -1 -1 -1
    2       10     -1   10.6   -1 489.00   988   16     -1  1024  0 -1 -1  -1  1 -1 -1 -1
\t3\t20\t0\t-1\t-1\t-1\t-1\t-1\t60\t-1\t5\t4\t4\t-1\t-1\t-1\t-1\t-1\r
    4       15      0      7    1     -1    -1    1     60    -1  3  4  4  -1 -1 -1 -1 -1
    5       -1      0      7    1     -1    -1    1     60    -1  1  4  4  -1 -1 -1 -1 -1
    6       30      0      0    4     -1    -1    4     60    -1  1  4  4  -1 -1 -1 -1 -1
    7       40      0     -1    0     -1    -1    2     60    -1  1  4  4  -1 -1 -1 -1 -1
";
    check(
        Format::Swf,
        input,
        "
        1 @0 8x3600s limit=7200 wait=5 user=3 group=2 Completed
        2 @10 16x11s Failed
        4 @15 1x7s limit=60 wait=0 user=4 group=4 Unknown
        ",
    );
    // Rows that cannot be replayed are counted by reason, not fatal.
    let trace = parse(Format::Swf, input.as_bytes(), "dir/x.swf", &STRICT).unwrap();
    let want = Skipped { unknown_submit: 1, unknown_size: 1, zero_runtime: 2, ..Skipped::default() };
    assert_eq!((trace.rows, trace.skipped), (7, want));
    assert_eq!(
        trace.skipped.describe(),
        "4 skipped: 1 unknown submit time, 1 unknown size, 2 zero or unknown run time"
    );
    assert_eq!(trace.name, "x");
    assert_eq!(trace.machine, Some(Machine { nodes: 64, procs: 128 }));
    assert_eq!(trace.max_records, Some(4));
    let no_header = parse(Format::Swf, &b"1 0 0 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 -1"[..], "t", &STRICT);
    assert_eq!(no_header.unwrap().machine, None);
}

#[test]
fn rfold_rows() {
    let input = "#job id,arrival time (sec),topology,shape,size,duration (sec)\r
0,0.0,CLOS,1,1,3613033.0\r
2,266564.0,CLOS,8,8,0.5\r
1,266563.0,CLOS,2,2,64.4";
    let expected = "
        0 @0 1x3613033s Unknown
        1 @266563 2x64s Unknown
        2 @266564 8x1s Unknown
        ";
    check(Format::Philly, input, expected);
    check(Format::Lingjun, input, expected);
}

#[test]
fn openb_rows() {
    let input = "\
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
openb-pod-0001,6000,12288,1,460,V100M16|V100M32,BE,Succeeded,100,400,160
openb-pod-0002,8000,30517,0,0,,Burstable,Failed,200,260,200
openb-pod-0003,11908,47104,8,1000,G2,LS,Pending,300,425,
";
    check(
        Format::Openb,
        input,
        "
        0 @0 1x12537496s wait=0 group=LS Unknown
        1 @100 1x240s wait=60 group=BE type=V100M16 Completed
        2 @200 0x60s wait=0 group=Burstable Failed
        3 @300 8x125s group=LS type=G2 Cancelled
        ",
    );
}

#[test]
fn openb_node_rows() {
    let input = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,786432,0,\n";
    let nodes = openb_nodes(input.as_bytes(), "nodes.csv").unwrap();
    assert_eq!(
        nodes,
        [
            OpenbNode { name: "n0".into(), cpu_milli: 64000, memory_mib: 262144, gpus: 2, model: Some("P100".into()) },
            OpenbNode { name: "n1".into(), cpu_milli: 96000, memory_mib: 786432, gpus: 0, model: None },
        ]
    );
    let err = openb_nodes(&b"sn,cpu_milli,memory_mib,gpu,model\nn0,64000,lots,2,P100\n"[..], "nodes.csv");
    assert_eq!(err.unwrap_err().to_string(), "nodes.csv:2: field 3 (memory_mib): `lots` is not a non-negative integer");
}

#[test]
fn helios_fixture_times_are_relative_to_the_first_submit() {
    let trace = load(Format::Helios, &data("fixtures/helios_cluster_log.csv"), &STRICT).unwrap();
    assert_eq!(trace.name, "helios_cluster_log");
    // Row 3 (job 1000) is the earliest submit, 2020-03-31 23:59:50; rows 4
    // and 5 share a submit and keep file order.
    assert_eq!(
        render(&trace),
        unindent(
            "
            3 @0 1x86400s wait=5 user=u0004 group=vcKrW nodes=1 Failed
            0 @20 8x7200s wait=0 user=u0001 group=vc6YE nodes=1 Completed
            1 @310 0x30s wait=3 user=u0002 group=vcHvQ nodes=1 Completed
            2 @610 16x150s wait=3600 user=u0001 group=vc6YE nodes=2 Failed
            4 @1210 1x0s user=u0003 group=vcKrW nodes=1 Cancelled
            5 @1210 2x600s wait=60 user=u0002 group=vcHvQ nodes=1 Failed
            6 @86420 64x0s wait=0 user=u0005 group=vc6YE nodes=8 Unknown
            "
        )
    );
}

#[test]
fn helios_malformed_rows_name_file_line_and_reason_or_are_skipped() {
    let path = data("fixtures/helios_malformed.csv");
    let err = load(Format::Helios, &path, &STRICT).unwrap_err().to_string();
    assert_eq!(err, format!("{}:3: field 4 (gpu_num): `eight` is not a non-negative integer", path.display()));
    let trace = load(Format::Helios, &path, &SKIP).unwrap();
    assert_eq!(trace.skipped.malformed, 4);
    assert_eq!(
        render(&trace),
        unindent(
            "
            0 @0 8x3600s wait=30 user=u0001 group=vc6YE nodes=1 Completed
            5 @300 2x10s wait=10 user=u0003 group=vcKrW nodes=1 Cancelled
            "
        )
    );
}

#[test]
fn malformed_rows_give_line_and_reason() {
    use Format::*;
    let philly = "#job id,arrival time (sec),topology,shape,size,duration (sec)\n";
    let openb = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n";
    let helios = "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n";
    let cases: &[(Format, String, &str)] = &[
        (Swf, "1 0 0 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1".into(), "t.csv:1: expected 18 fields, found 17"),
        (Swf, "1 0 0 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 -1 7".into(), "t.csv:1: expected 18 fields, found 19"),
        (Swf, "1 0 0 1 4.5 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 -1".into(), "t.csv:1: field 5 (alloc_procs): `4.5` is not an integer"),
        (Swf, "1 0 0 1e300 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 -1".into(), "t.csv:1: field 4 (run): `1e300` is out of range"),
        (Swf, "1 0 0 1 1 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 NaN".into(), "t.csv:1: field 18 (think_time): `NaN` is not a number"),
        (Swf, "1 0 0 1 99999999999 -1 -1 1 1 -1 1 1 1 -1 -1 -1 -1 -1".into(), "t.csv:1: processor count 99999999999 is out of range"),
        (Philly, "job,arrival\n".into(), "t.csv:1: missing column `#job id` in the RFold job header"),
        (Philly, format!("{philly}0,abc,CLOS,1,1,5.0"), "t.csv:2: field 2 (arrival time (sec)): `abc` is not a non-negative number of seconds"),
        (Philly, format!("{philly}\n0,-3.0,CLOS,1,1,5.0"), "t.csv:3: field 2 (arrival time (sec)): `-3.0` is not a non-negative number of seconds"),
        (Lingjun, format!("{philly}0,0.0,CLOS,1,-1,5.0"), "t.csv:2: field 5 (size): `-1` is not a non-negative integer"),
        (Lingjun, format!("{philly}0,0.0,CLOS,1,1"), "t.csv:2: expected 6 fields, found 5"),
        (Openb, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-0000,12000,16384,1,1000\n".into(),
            "t.csv:1: no timing columns (creation_time, deletion_time, scheduled_time): the multigpu variants list pods without times and cannot be replayed"),
        (Openb, "name,num_gpu,creation_time,deletion_time,scheduled_time\n".into(), "t.csv:1: missing column `gpu_spec` in the openb pod header"),
        (Openb, format!("{openb}p,1,1,1,1000,,LS,Running,10,50,60"), "t.csv:2: deletion_time 50 is before scheduled_time 60"),
        (Openb, format!("{openb}p,1,1,1,1000,,LS,Running,100,500,60"), "t.csv:2: scheduled_time 60 is before creation_time 100"),
        (Openb, format!("{openb}p,1,1,x,1000,,LS,Running,0,1,0"), "t.csv:2: field 4 (num_gpu): `x` is not a non-negative integer"),
        (Helios, "job_id,user,gpu_num\n".into(), "t.csv:1: missing column `vc` in the Helios header"),
        (Helios, format!("{helios}1,u,vc,1,1,1,COMPLETED,2020-01-01 00:00:00,2020-01-01 00:00:09,2020-01-01 00:00:05,,0"), "t.csv:2: end_time is before start_time"),
        (Helios, format!("{helios}1,u,vc,1,1,1,COMPLETED,yesterday,,,,"), "t.csv:2: field 8 (submit_time): `yesterday` is not a `YYYY-MM-DD HH:MM:SS` time"),
    ];
    for (format, input, expected) in cases {
        check_err(*format, format!("{input}\n").as_bytes(), &STRICT, expected);
    }
}

#[test]
fn a_last_line_cut_in_its_middle_is_an_error_even_when_skipping() {
    let full = "1 0 0 5 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1\n2 9 0 5 1 -1 -1 1 60 -1 1 1 1 -1 -1 -1 -1 -1\n";
    let cut = &full[..full.len() - 10];
    let want = "t.csv:2: expected 18 fields, found 15; the file ends in the middle of this line (truncated?)";
    check_err(Format::Swf, cut.as_bytes(), &SKIP, want);
    // A complete last line without its line ending is fine.
    assert_eq!(parse(Format::Swf, full.trim_end().as_bytes(), "t", &STRICT).unwrap().jobs.len(), 2);
    let philly = "#job id,arrival time (sec),topology,shape,size,duration (sec)\n0,0.0,CLOS,1,1,36.0\n1,5.0,CLOS,1";
    check_err(
        Format::Philly,
        philly.as_bytes(),
        &SKIP,
        "t.csv:3: expected 6 fields, found 4; the file ends in the middle of this line (truncated?)",
    );
}

#[test]
fn huge_times_are_errors_not_overflows() {
    let philly = "#job id,arrival time (sec),topology,shape,size,duration (sec)\n";
    for arrival in ["18446744073709551615.9", "18446744073709551615", "9000000000000000000.5", "1e300"] {
        let input = format!("{philly}0,{arrival},CLOS,1,1,36.0\n");
        let err = parse(Format::Philly, input.as_bytes(), "t.csv", &STRICT).unwrap_err().to_string();
        assert!(err.contains("is not a non-negative number of seconds"), "{arrival}: {err}");
    }
}

#[test]
fn whole_input_errors() {
    let cases: &[(Format, &[u8], &str)] = &[
        (Format::Philly, b"", "t.csv: empty input: expected the header `#job id,arrival time (sec),topology,shape,size,duration (sec)`"),
        (Format::Helios, b"\n\n", "t.csv: empty input: expected the header `job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue`"),
        (Format::Openb, b"", "t.csv: empty input: expected the header `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`"),
        // A CSV read as SWF: every row is bad, so the format is probably wrong.
        (Format::Swf, b"a,b\n1,2\n", "t.csv: no valid swf row (2 malformed)"),
    ];
    for (format, input, expected) in cases {
        check_err(*format, input, &SKIP, expected);
    }
    // Bad bytes are a bad row, not a panic.
    let input = b"#job id,arrival time (sec),topology,shape,size,duration (sec)\n0,0,CLOS,1,1,1\n\xff\xfe,1\n";
    check_err(Format::Philly, input, &STRICT, "t.csv:3: not valid UTF-8");
    assert_eq!(parse(Format::Philly, &input[..], "t.csv", &SKIP).unwrap().skipped.malformed, 1);
    // An empty SWF file is an empty trace: SWF has no mandatory header.
    assert!(parse(Format::Swf, &b""[..], "t", &STRICT).unwrap().jobs.is_empty());
}

#[test]
fn io_errors_name_the_file() {
    let missing = data("fixtures/no-such-trace.swf");
    let err = load(Format::Swf, &missing, &STRICT).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("{}: ", missing.display())), "{err}");

    // A truncated gzip stream fails with an IO error, not a panic.
    let gz = std::fs::read(data("swf/KTH-SP2-1996-2.1-cln.swf.gz")).unwrap();
    let scratch = Scratch::new("truncated");
    let path = scratch.write("cut.swf.gz", &gz[..gz.len() / 2]);
    let err = load(Format::Swf, &path, &STRICT).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
}

#[test]
fn gzip_is_detected_by_magic_bytes_and_matches_plain() {
    let scratch = Scratch::new("gzip");
    let gz_path = data("swf/KTH-SP2-1996-2.1-cln.swf.gz");
    let plain = gunzip(&std::fs::read(&gz_path).unwrap());
    let plain_path = scratch.write("KTH-SP2-1996-2.1-cln.swf", &plain);
    let from_gz = load(Format::Swf, &gz_path, &STRICT).unwrap();
    let from_plain = load(Format::Swf, &plain_path, &STRICT).unwrap();
    assert_eq!(from_gz.jobs.len(), 28_467);
    assert_eq!((from_gz.name.as_str(), &from_gz.jobs), (from_plain.name.as_str(), &from_plain.jobs));
    assert_eq!(from_gz.machine, from_plain.machine);
    assert_eq!(builtin("kth-sp2").unwrap().unwrap().jobs, from_plain.jobs);

    // The file name says .csv, the bytes say gzip.
    let named_csv = load(Format::Helios, &data("fixtures/helios_cluster_log_gzipped.csv"), &STRICT).unwrap();
    let plain = load(Format::Helios, &data("fixtures/helios_cluster_log.csv"), &STRICT).unwrap();
    assert_eq!(named_csv.jobs, plain.jobs);
}

#[test]
fn kth_with_a_corrupted_row_fails_or_skips_it() {
    let text = String::from_utf8(gunzip(KTH_SP2)).unwrap();
    let corrupted: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| match i + 1 {
            1042 => {
                let mut fields: Vec<&str> = line.split_whitespace().collect();
                fields[4] = "abc";
                fields.join(" ") + "\n"
            }
            _ => format!("{line}\n"),
        })
        .collect();
    check_err(Format::Swf, corrupted.as_bytes(), &STRICT, "t.csv:1042: field 5 (alloc_procs): `abc` is not an integer");
    let err = parse(Format::Swf, corrupted.as_bytes(), "KTH.swf", &STRICT).unwrap_err();
    assert_eq!(err.to_string(), "KTH.swf:1042: field 5 (alloc_procs): `abc` is not an integer");
    let trace = parse(Format::Swf, corrupted.as_bytes(), "KTH.swf", &SKIP).unwrap();
    assert_eq!((trace.jobs.len(), trace.skipped.malformed), (28_466, 1));
}

/// Random damage to valid rows must give rows or errors, never a panic.
#[test]
fn damaged_input_never_panics() {
    let inputs = [
        (Format::Swf, "; MaxNodes: 4\n1 0 5 3600 8 -1 -1 8 7200 -1 1 3 2 -1 -1 -1 -1 -1\n"),
        (Format::Philly, "#job id,arrival time (sec),topology,shape,size,duration (sec)\n0,0.0,CLOS,1,1,36.0\n"),
        (Format::Openb, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\np,1,1,1,460,A|B,LS,Pending,300,425,\n"),
        (Format::Helios, "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n1,u,v,8,48,1,COMPLETED,2020-04-01 00:00:10,2020-04-01 00:00:10,2020-04-01 02:00:10,7200,0\n"),
    ];
    let alphabet = b"0123456789-.,;: \n\r\taeE|T\xff";
    let mut rng = Rng::new(7);
    for (format, input) in inputs {
        for _ in 0..2_000 {
            let mut bytes = input.as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len() as u64) as usize;
                let byte = alphabet[rng.below(alphabet.len() as u64) as usize];
                match rng.below(3) {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            for opts in [STRICT, SKIP] {
                if let Ok(trace) = parse(format, &bytes[..], "t", &opts) {
                    assert!(trace.jobs.windows(2).all(|w| w[0].submit <= w[1].submit));
                }
            }
        }
    }
}

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
    }
    assert_eq!(
        "csv".parse::<Format>().unwrap_err().to_string(),
        "unknown trace format `csv` (expected swf, philly, openb, lingjun or helios)"
    );
}

// ---- published counts -----------------------------------------------------

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

fn mean(values: impl Iterator<Item = u64>) -> f64 {
    let (sum, n) = values.fold((0u64, 0u64), |(s, n), v| (s + v, n + 1));
    sum as f64 / n as f64
}

fn histogram<K: Ord>(keys: impl Iterator<Item = K>) -> BTreeMap<K, usize> {
    let mut h = BTreeMap::new();
    for k in keys {
        *h.entry(k).or_default() += 1;
    }
    h
}

fn durations(t: &Trace) -> Vec<u64> {
    t.jobs.iter().map(|j| j.duration).collect()
}

fn span_days(t: &Trace) -> f64 {
    (t.jobs.last().unwrap().submit - t.jobs[0].submit) as f64 / 86_400.0
}

fn builtin_ok(name: &str) -> Trace {
    builtin(name).expect("known builtin").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_builtin_loads_and_unknown_names_do_not() {
    for (name, description) in BUILTINS {
        let trace = builtin_ok(name);
        assert_eq!(trace.name, *name);
        assert!(trace.origin.starts_with("embedded:"), "{}", trace.origin);
        assert_eq!(trace.skipped.malformed, 0);
        assert_eq!(trace.rows, trace.jobs.len() + trace.skipped.total());
        assert!(description.contains("cite"), "{name}: {description}");
    }
    assert!(builtin("helios-venus").is_none());
}

#[test]
fn philly_matches_published_counts() {
    let t = builtin_ok("philly");
    let accels = |j: &TraceJob| u64::from(j.accels);
    assert_eq!(t.jobs.len(), 111_549);
    assert_eq!(format!("{:.2}", mean(t.jobs.iter().map(accels))), "1.74");
    assert_eq!(t.jobs.iter().map(|j| j.accels).max(), Some(128));
    assert_eq!(t.jobs.iter().filter(|j| j.duration == 0).count(), 10);
    assert_eq!(median(durations(&t)), 1_321);
    assert_eq!(format!("{:.0}", mean(durations(&t).into_iter())), "35595");
    assert_eq!(durations(&t).into_iter().max(), Some(5_196_151));
    assert_eq!(format!("{:.2}", span_days(&t)), "129.36");
}

#[test]
fn lingjun_matches_published_counts() {
    let t = builtin_ok("lingjun");
    assert_eq!(t.jobs.len(), 2_498);
    let accels: Vec<u64> = t.jobs.iter().map(|j| u64::from(j.accels)).collect();
    assert_eq!(accels.iter().min().zip(accels.iter().max()), Some((&1, &744)));
    assert_eq!(median(accels.clone()), 8);
    assert_eq!(format!("{:.1}", mean(accels.into_iter())), "40.1");
    assert_eq!(median(durations(&t)), 420);
    assert_eq!(t.jobs.iter().filter(|j| j.duration == 0).count(), 241);
    assert!(t.jobs.iter().all(|j| j.submit % 60 == 0 && j.duration % 60 == 0));
    assert_eq!(format!("{:.1}", span_days(&t)), "15.9");
}

#[test]
fn kth_sp2_matches_published_counts() {
    let t = builtin_ok("kth-sp2");
    // Every row accounted for: 9 cannot be replayed.
    assert_eq!((t.rows, t.jobs.len()), (28_476, 28_467));
    assert_eq!(t.skipped, Skipped { zero_runtime: 8, unknown_size: 1, ..Skipped::default() });
    assert_eq!(t.max_records, Some(28_476));
    assert_eq!(t.machine, Some(Machine { nodes: 100, procs: 100 }));
    assert_eq!(median(durations(&t)), 847);
    let serial = t.jobs.iter().filter(|j| j.accels == 1).count();
    assert_eq!(format!("{:.1}", 100.0 * serial as f64 / t.jobs.len() as f64), "32.9");
}

#[test]
fn lanl_cm5_excerpt_accounts_for_every_row() {
    // Real rows of the LANL CM-5 log, in the repository (see data/README.md).
    let t =
        load(Format::Swf, &data("swf/LANL-CM5-1994-4.1-cln.excerpt.swf.gz"), &STRICT).unwrap_or_else(|e| panic!("{e}"));
    // The cleaned log keeps the header of the full one (201,387 records).
    assert_eq!(t.max_records, Some(201_387));
    assert_eq!(t.machine, Some(Machine { nodes: 1024, procs: 1024 }));
    assert_eq!((t.rows, t.jobs.len()), (2_017, 2_012));
    assert_eq!(t.skipped, Skipped { zero_runtime: 2, unknown_size: 3, ..Skipped::default() });
    assert_eq!(t.jobs.first().map(|j| (j.id, j.submit, j.accels)), Some((1, 0, 128)));
}

#[test]
fn openb_matches_published_counts() {
    let t = builtin_ok("openb");
    assert_eq!(t.jobs.len(), 8_152);
    assert_eq!(format!("{:?}", histogram(t.jobs.iter().map(|j| j.accels))), "{0: 1088, 1: 6989, 2: 16, 4: 15, 8: 44}");
    let pending = t.jobs.iter().filter(|j| j.recorded_wait.is_none());
    assert!(pending.clone().all(|j| j.status == JobStatus::Cancelled));
    assert_eq!(pending.count(), 897);
    assert_eq!(
        format!("{:?}", histogram(t.jobs.iter().filter_map(|j| j.group.as_deref()))),
        r#"{"BE": 3398, "Burstable": 100, "Guaranteed": 7, "LS": 4647}"#
    );
    let lifetimes = t.jobs.iter().map(|j| j.recorded_wait.unwrap_or(0) + j.duration);
    assert_eq!(median(lifetimes.collect()), 540);
    assert_eq!(format!("{:.1}", span_days(&t)), "149.3");
}

#[test]
fn openb_gpu_nodes_match_published_counts() {
    let nodes = builtin_openb_nodes().unwrap();
    assert_eq!(nodes.len(), 1_213);
    assert_eq!(nodes.iter().map(|n| n.gpus).sum::<u32>(), 6_212);
    assert_eq!(format!("{:?}", histogram(nodes.iter().map(|n| n.gpus))), "{1: 24, 2: 518, 4: 54, 8: 617}");
    assert_eq!(
        format!("{:?}", histogram(nodes.iter().filter_map(|n| n.model.as_deref()))),
        r#"{"A10": 2, "G2": 549, "G3": 39, "P100": 134, "T4": 404, "V100M16": 55, "V100M32": 30}"#
    );
}

// ---- mutation tests over the embedded samples ------------------------------

/// Extreme values a mutated number field takes.
const EXTREMES: &[&str] = &[
    "-1",
    "0",
    "-0",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807.9",
    "1e308",
    "1e-300",
    "NaN",
    "inf",
    "-inf",
    "99999999999999999999.5",
    "4294967296",
    "",
];

/// One seeded mutation of `bytes`: a bit flip, a cut, an extreme value in
/// place of a number, a deleted or duplicated line.
pub(crate) fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return b;
    }
    let at = rng.below(b.len() as u64) as usize;
    match rng.below(5) {
        0 => b[at] ^= 1 << rng.below(8),
        1 => b.truncate(at),
        2 => {
            // The number (digits, dots, signs) around `at`, replaced.
            let is_num = |c: u8| c.is_ascii_digit() || c == b'.' || c == b'-';
            let (mut s, mut e) = (at, at);
            while s > 0 && is_num(b[s - 1]) {
                s -= 1;
            }
            while e < b.len() && is_num(b[e]) {
                e += 1;
            }
            let v = EXTREMES[rng.below(EXTREMES.len() as u64) as usize];
            b.splice(s..e, v.bytes());
        }
        3 => {
            let start = b[..at].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
            let end = b[at..].iter().position(|&c| c == b'\n').map_or(b.len(), |i| at + i + 1);
            b.drain(start..end);
        }
        _ => {
            let start = b[..at].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
            let end = b[at..].iter().position(|&c| c == b'\n').map_or(b.len(), |i| at + i + 1);
            let line = b[start..end].to_vec();
            b.splice(start..start, line);
        }
    }
    b
}

/// The first `lines` lines of an embedded (gzip) sample.
fn head(gz: &[u8], lines: usize) -> Vec<u8> {
    let text = gunzip(gz);
    let end = text.iter().enumerate().filter(|(_, &c)| c == b'\n').nth(lines - 1).map_or(text.len(), |(i, _)| i + 1);
    text[..end].to_vec()
}

#[test]
fn mutated_embedded_samples_load_or_fail_cleanly() {
    // Each loader over the head of its real sample (SWF with its whole
    // header), 400 seeded mutants each, one to three mutations per mutant.
    let samples = [
        (Format::Swf, head(KTH_SP2, 60)),
        (Format::Philly, head(PHILLY, 40)),
        (Format::Lingjun, head(LINGJUN, 40)),
        (Format::Openb, head(OPENB_PODS, 40)),
        (Format::Helios, std::fs::read(data("fixtures/helios_cluster_log.csv")).unwrap()),
    ];
    let mut rng = Rng::new(2024);
    for (format, sample) in &samples {
        assert!(parse(*format, &sample[..], "t", &STRICT).is_ok(), "{format}: the unmutated sample loads");
        for _ in 0..400 {
            let mut bytes = sample.clone();
            for _ in 0..=rng.below(3) {
                bytes = mutate(&mut rng, &bytes);
            }
            for opts in [STRICT, SKIP] {
                // No panic (the test would fail), and a loaded trace keeps its invariants.
                if let Ok(t) = parse(*format, &bytes[..], "t", &opts) {
                    assert!(t.jobs.windows(2).all(|w| w[0].submit <= w[1].submit), "{format}: sorted");
                    assert_eq!(t.rows, t.jobs.len() + t.skipped.total(), "{format}: every row accounted for");
                    assert!(t.jobs.iter().all(|j| j.submit < LIMIT as u64 && j.duration < LIMIT as u64));
                }
            }
        }
    }
}
