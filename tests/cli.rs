//! End-to-end: the real `agora` binary, each run in its own directory.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn agora(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora")).args(args).current_dir(dir).output().expect("agora runs")
}

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("cli", name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON summary without the fields that measure this machine's time.
fn without_timings(json: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    for run in v.as_array_mut().unwrap() {
        let o = run.as_object_mut().unwrap();
        o.remove("sim_wall_s");
        o.remove("sched_wall_s");
        o.remove("sim_cpu_s");
    }
    v
}

#[test]
fn sim_without_arguments_replays_philly_under_six_policies_and_writes_the_report() {
    let d = tempdir("default");
    let o = agora(&d, &["sim", "--csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout.clone()).unwrap();
    for p in ["fifo", "easy", "las", "drf", "agora", "oracle"] {
        assert!(table.contains(p), "summary lacks {p}:\n{table}");
        assert!(d.join(format!("out/sim/jobs-{p}.csv")).exists());
    }
    // Philly names no group or user: the report must say its fairness
    // figures are artificial.
    assert!(table.contains("spread over the site's tenants by job id"), "{table}");
    assert!(stderr(&o).contains("0 hot spare nodes per block"), "{}", stderr(&o));
    let html = std::fs::read_to_string(d.join("out/sim/report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6 + 8, "a utilization chart per policy, then the comparisons");
    assert!(html.contains("In short:") && html.contains("by job id"));
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "the report must open offline"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sim_json_has_the_documented_keys_and_runs_are_reproducible() {
    let d = tempdir("json");
    let args =
        ["sim", "--workload", "lingjun", "--policy", "easy,agora", "--seed", "7", "--json", "--csv", "--out", "a"];
    let first = agora(&d, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = String::from_utf8(first.stdout.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = v.as_array().expect("a JSON array, one object per policy");
    assert_eq!(runs.len(), 2);
    for run in runs {
        for key in [
            "policy",
            "jobs",
            "completed",
            "utilization",
            "jct_mean_s",
            "jct_p99_s",
            "wait_mean_s",
            "wait_p99_s",
            "jain_index",
            "share_error_max",
            "ettr",
            "sim_wall_s",
        ] {
            assert!(run.get(key).is_some(), "missing {key}");
        }
        assert_eq!(run["jobs"], 2_498);
        assert_eq!(run["completed"], 2_498);
    }
    // Same inputs and seed: the same runs, byte for byte.
    let mut again = args;
    again[10] = "b";
    let second = agora(&d, &again);
    assert_eq!(without_timings(&text), without_timings(&String::from_utf8(second.stdout).unwrap()));
    for p in ["easy", "agora"] {
        let a = std::fs::read(d.join(format!("a/jobs-{p}.csv"))).unwrap();
        let b = std::fs::read(d.join(format!("b/jobs-{p}.csv"))).unwrap();
        assert!(a == b, "jobs-{p}.csv differs between identical runs");
        assert_eq!(String::from_utf8_lossy(&a).lines().count(), 2_498 + 1);
    }
    // Another seed draws other failures.
    let other = agora(
        &d,
        &["sim", "--workload", "lingjun", "--policy", "agora", "--seed", "8", "--json", "--csv", "--out", "c"],
    );
    let a = std::fs::read(d.join("a/jobs-agora.csv")).unwrap();
    let c = std::fs::read(d.join("c/jobs-agora.csv")).unwrap();
    assert!(other.status.success() && a != c, "a different seed should change the run");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let d = tempdir("bad");
    let swf = d.join("bad.swf");
    std::fs::write(&swf, "; MaxNodes: 4\n; MaxProcs: 4\n1 0 0 100 2 -1 -1 2 200 -1 1 1 1 -1 1 -1 -1 -1\n2 10 0 abc 2 -1 -1 2 200 -1 1 1 1 -1 1 -1 -1 -1\n3 20 0 100 1 -1 -1 1 200 -1 1 1 1 -1 1 -1 -1 -1\n").unwrap();
    let spec = format!("swf:{}", swf.display());
    std::fs::write(d.join("a-file"), "not a directory").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["sim", "--workload", "nosuch"], "unknown workload `nosuch`"),
        (&["sim", "--workload", "swf:/no/such/file.swf"], "/no/such/file.swf"),
        (&["sim", "--workload", &spec, "--no-report"], "bad.swf:4"),
        (&["sim", "--policy", "sjf", "--no-report"], "unknown policy `sjf`"),
        (&["sim", "--workload", "kth-sp2", "--failures", "often", "--no-report"], "--failures"),
        (&["sim", "--workload", "synthetic:jobs=10,colour=red"], "unknown key `colour`"),
        (&["sim", "--workload", "synthetic:jobs=4294967296300"], "jobs: must be between 1 and 10,000,000"),
        (&["sim", "--cycle-interval", "18446744073709551615"], "--cycle-interval"),
        (&["sim", "--load-factor", "0"], "--load-factor"),
        (&["sim", "--workload", "kth-sp2", "--out", "a-file/report"], "cannot write the report to a-file/report"),
        (&["cluster", "nosuch"], "neither a preset"),
        (&["bench", "sched", "--cluster", "philly", "--queued", "0"], "at least 1"),
    ];
    for (args, want) in cases {
        let o = agora(&d, args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(stderr(&o).contains(want), "{args:?}: expected `{want}` in: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?} panicked");
    }
    // Skipping the bad row instead: the run goes on and says so.
    let o = agora(&d, &["sim", "--workload", &spec, "--skip-bad-rows", "--policy", "easy", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 skipped: 1 malformed"), "{}", stderr(&o));

    assert!(stderr(&o).contains("4 accelerators"), "runs on the header's machine: {}", stderr(&o));
    // The OS message once, not twice.
    let o = agora(&d, &["sim", "--workload", "swf:/no/such/file.swf"]);
    assert_eq!(stderr(&o).matches("No such file").count(), 1, "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bench_sched_prints_the_documented_json() {
    let d = tempdir("bench");
    let o = agora(
        &d,
        &[
            "bench",
            "sched",
            "--cluster",
            "philly",
            "--queued",
            "3000",
            "--cycles",
            "5",
            "--completions",
            "20",
            "--baseline-cycles",
            "2",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["accelerators", "queued_jobs", "admissions_per_sec", "cycle_ms_p50", "cycle_ms_p99"] {
        assert!(v[key].is_number(), "{key}");
        assert!(v["baseline"][key].is_number(), "baseline.{key}");
        assert!(v["careful_baseline"][key].is_number(), "careful_baseline.{key}");
    }
    assert_eq!(v["accelerators"], 2_490);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_example_cluster_files_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, want) in [
        ("examples/ai-factory-8k.toml", "8,192 accelerators"),
        ("examples/mixed-lab.toml", "40 accelerators (32 h100, 8 l40s)"),
    ] {
        let o = agora(root, &["cluster", file]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(want), "{file}");
    }
}

#[test]
fn jobs_that_can_never_fit_are_counted_not_lost() {
    let d = tempdir("reject");
    let swf = d.join("big.swf");
    // A 4-processor machine; job 2 asks for 8.
    std::fs::write(&swf, "; MaxNodes: 4\n; MaxProcs: 4\n1 0 0 100 2 -1 -1 2 200 -1 1 1 1 -1 1 -1 -1 -1\n2 10 0 100 8 -1 -1 8 200 -1 1 1 1 -1 1 -1 -1 -1\n3 20 0 100 1 -1 -1 1 200 -1 1 1 1 -1 1 -1 -1 -1\n").unwrap();
    let o = agora(
        &d,
        &["sim", "--workload", &format!("swf:{}", swf.display()), "--policy", "easy", "--json", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["rows"], 3);
    assert_eq!(v[0]["skipped_rows"]["too_big"], 1);
    assert_eq!(v[0]["skipped_rows"]["total"], 1);
    assert_eq!(v[0]["jobs"], 2);
    assert_eq!(v[0]["completed"], 2);
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs `agora args`, reads one line of its stdout and closes the pipe.
fn read_one_line_then_close(args: &[&str]) -> Output {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("agora runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(!line.is_empty());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let d = tempdir("pipe");
    for args in
        [&["site"][..], &["sim", "--workload", "kth-sp2", "--policy", "easy", "--failures", "off", "--no-report"]]
    {
        let o = read_one_line_then_close(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked") && !stderr(&o).contains("Broken pipe"), "{args:?}: {}", stderr(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn agora_site_prints_settings_as_the_site_file_writes_them() {
    let o = agora(Path::new("."), &["site"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("  half_life = \"7d\"") && text.contains("  backfill = \"easy\""), "{text}");
    assert!(!text.contains("Config {"), "{text}");
}

#[test]
fn swf_rows_with_unknown_fields_and_a_headerless_machine_are_handled() {
    let d = tempdir("swf-unknown");
    let swf = d.join("noheader.swf");
    // No MaxNodes/MaxProcs; job 2 has an unknown (-1) submit time, job 4 never ran.
    std::fs::write(&swf, "1 0 0 100 2 -1 -1 2 200 -1 1 1 1 -1 1 -1 -1 -1\n2 -1 0 100 8 -1 -1 8 200 -1 1 1 1 -1 1 -1 -1 -1\n3 20 0 100 6 -1 -1 6 200 -1 1 1 1 -1 1 -1 -1 -1\n4 30 0 0 1 -1 -1 1 200 -1 5 1 1 -1 1 -1 -1 -1\n").unwrap();
    let spec = format!("swf:{}", swf.display());
    let o = agora(&d, &["sim", "--workload", &spec, "--policy", "easy", "--json", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("simulating a machine of 6 processors"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v[0]["total_accels"].as_u64(), v[0]["rows"].as_u64()), (Some(6), Some(4)));
    assert_eq!(v[0]["skipped_rows"]["unknown_submit"], 1);
    assert_eq!(v[0]["skipped_rows"]["zero_runtime"], 1);
    assert_eq!(v[0]["completed"], 2);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn naming_the_workloads_own_machine_changes_nothing() {
    let d = tempdir("own-machine");
    let run = |extra: &[&str]| {
        let mut args =
            vec!["sim", "--workload", "kth-sp2", "--policy", "easy", "--failures", "off", "--json", "--no-report"];
        args.extend_from_slice(extra);
        let o = agora(&d, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        (without_timings(&String::from_utf8(o.stdout.clone()).unwrap()), stderr(&o))
    };
    let (plain, _) = run(&[]);
    let (named, _) = run(&["--cluster", "kth-sp2"]);
    assert_eq!(plain, named);
    assert_eq!(plain[0]["spare_accels"], 0);
    // Asking for more spares than a block has nodes is said.
    let (_, warn) = run(&["--spares", "1000"]);
    assert!(warn.contains("1000 hot spares per block, but the smallest block has"), "{warn}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn warnings_for_settings_that_do_not_fit_the_run() {
    let d = tempdir("warnings");
    std::fs::write(d.join("map.txt"), "no-such-group = eu/open-research/climate-institute/km-scale-weather\n").unwrap();
    let o = agora(
        &d,
        &[
            "sim",
            "--workload",
            "kth-sp2",
            "--policy",
            "easy",
            "--failures",
            "off",
            "--no-report",
            "--tenant-map",
            "map.txt",
        ],
    );
    let err = stderr(&o);
    assert!(err.contains("the example site's floors are for 100,000 accelerators: scaled"), "{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("tenant map: 1 key(s) match no group or user of the trace: no-such-group"), "{err}");
    // A site file of the user's is not scaled, but floors beyond the machine are said.
    std::fs::write(
        d.join("site.toml"),
        "[[tenants]]\nname = \"a\"\nfloor = 80\n[[tenants]]\nname = \"b\"\nfloor = 80\n",
    )
    .unwrap();
    let o = agora(
        &d,
        &[
            "sim",
            "--workload",
            "kth-sp2",
            "--policy",
            "easy",
            "--failures",
            "off",
            "--no-report",
            "--site",
            "site.toml",
        ],
    );
    assert!(
        stderr(&o).contains("the site's floors add up to 160 accelerators, more than this machine's 100"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn utilization_of_a_synthetic_load_matches_the_load_offered() {
    // The README's example, smaller: 80% offered gives about 80% used,
    // measured over the offered window against all accelerators.
    let d = tempdir("util");
    let o = agora(
        &d,
        &[
            "sim",
            "--workload",
            "synthetic:jobs=3000,load=0.8",
            "--cluster",
            "philly",
            "--policy",
            "easy",
            "--json",
            "--no-report",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (util, offered) = (v[0]["utilization"].as_f64().unwrap(), v[0]["offered_load"].as_f64().unwrap());
    assert!((offered - 0.8).abs() < 0.05, "offered {offered}");
    assert!((util - offered).abs() < 0.05, "utilization {util} against offered {offered}");
    let _ = std::fs::remove_dir_all(&d);
}
