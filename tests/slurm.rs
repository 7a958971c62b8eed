//! End-to-end against a real Slurm 22.05 cluster (scripts/slurm-local.sh:
//! 6 emulated nodes x 8 fake GPUs in two leaf switches, slurmrestd with
//! JWT), through `agora serve --executor slurm` and the `agora` CLI.
//!
//! `.ci/run` starts the cluster and sets AGORA_TEST_SLURM_URL,
//! AGORA_TEST_SLURM_TOKEN and AGORA_TEST_SLURM_DIR. Under CI (CI=true) a
//! missing cluster fails these tests instead of skipping them.
//!
//! The tests share the one cluster, so they run one at a time (a lock),
//! each with its own `agora serve` and data directory. The figures they
//! print (submission to running on Slurm, recovery times) are measured
//! here; see the README.

mod common;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static CLUSTER: Mutex<()> = Mutex::new(());

struct Slurm {
    url: String,
    token: String,
    dir: PathBuf,
}

fn slurm() -> Option<Slurm> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("AGORA_TEST_SLURM_URL"), get("AGORA_TEST_SLURM_TOKEN"), get("AGORA_TEST_SLURM_DIR")) {
        (Some(url), Some(token), Some(dir)) => Some(Slurm { url, token, dir: dir.into() }),
        _ if std::env::var("CI").is_ok_and(|c| c == "true") => panic!(
            "AGORA_TEST_SLURM_URL/_TOKEN/_DIR are not set: run scripts/slurm-local.sh start (see .ci/run); CI requires the Slurm tests"
        ),
        _ => {
            eprintln!("AGORA_TEST_SLURM_URL is not set: the Slurm tests need scripts/slurm-local.sh start");
            None
        }
    }
}

impl Slurm {
    /// scripts/slurm-local.sh with this cluster's directory.
    fn script(&self, args: &[&str]) -> Output {
        let o = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-local.sh"))
            .args(args)
            .env("SL_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "slurm-local.sh {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o
    }

    /// A Slurm command-line tool (sbatch, scancel, scontrol) on this cluster.
    fn tool(&self, tool: &str, args: &[&str]) -> String {
        let o = Command::new(tool).args(args).env("SLURM_CONF", self.dir.join("etc/slurm.conf")).output().unwrap();
        assert!(o.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn rest(&self, path: &str) -> Value {
        ureq::get(&format!("{}/slurm/v0.0.38{path}", self.url))
            .set("X-SLURM-USER-NAME", "root")
            .set("X-SLURM-USER-TOKEN", &self.token)
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// Nothing of an earlier test left running, every node back in use.
    fn quiesce(&self) {
        // Every daemon up (an earlier test may have killed a slurmd).
        self.script(&["start"]);
        for j in self.rest("/jobs")["jobs"].as_array().unwrap() {
            if matches!(j["job_state"].as_str(), Some("PENDING" | "RUNNING")) {
                let _ = Command::new("scancel")
                    .arg(j["job_id"].to_string())
                    .env("SLURM_CONF", self.dir.join("etc/slurm.conf"))
                    .status();
            }
        }
        wait("every node idle", Duration::from_secs(60), || {
            self.rest("/nodes")["nodes"].as_array().unwrap().iter().all(|n| n["state"] == "idle")
                && self.rest("/jobs")["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|j| !matches!(j["job_state"].as_str(), Some("PENDING" | "RUNNING" | "COMPLETING")))
        });
    }
}

use common::wait_until as wait;

const SITE: &str = r#"
[scheduler]
spares_per_block = 1
preemption_grace = "4s"
[[tenants]]
name = "train"
weight = 3
[[tenants]]
name = "scavenge"
"#;

struct Server {
    child: Child,
    url: String,
    token: String,
    dir: PathBuf,
}

impl Server {
    fn start(s: &Slurm, dir: &Path, token: Option<&str>) -> Server {
        Server::start_with(s, dir, token, &[])
    }

    fn start_with(s: &Slurm, dir: &Path, token: Option<&str>, extra: &[&str]) -> Server {
        std::fs::write(dir.join("site.toml"), SITE).unwrap();
        let topo = s.dir.join("etc/topology.conf");
        let topo = topo.to_str().unwrap();
        let mut args = vec!["--listen", "127.0.0.1:0", "--data", "data", "--site", "site.toml"];
        args.extend_from_slice(&["--executor", "slurm", "--slurm-url", &s.url, "--slurm-poll", "0.2"]);
        args.extend_from_slice(&["--slurm-topology", topo, "--cycle-interval", "0.2", "--min-cycle-gap", "0.05"]);
        args.extend_from_slice(extra);
        let conf = s.dir.join("etc/slurm.conf");
        let env = [("SLURM_JWT", s.token.as_str()), ("SLURM_CONF", conf.to_str().unwrap())];
        let started = common::serve(&args, dir, &dir.join("server.log"), &env);
        let token = started.token.or(token.map(String::from)).expect("an admin token");
        Server { child: started.child, url: started.url, token, dir: dir.to_path_buf() }
    }

    fn cli(&self, args: &[&str]) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .env("AGORA_URL", &self.url)
            .env("AGORA_TOKEN", &self.token)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "agora {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// Submit a JSON spec with `agora submit`; its id.
    fn submit(&self, spec: Value) -> u64 {
        let f = self.dir.join(format!("spec-{}.json", Instant::now().elapsed().as_nanos()));
        std::fs::write(&f, spec.to_string()).unwrap();
        let out = self.cli(&["submit", f.to_str().unwrap()]);
        out.trim().strip_prefix("submitted job ").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{out}"))
    }

    fn job(&self, id: u64) -> Value {
        serde_json::from_str(&self.cli(&["job", &id.to_string(), "-o", "json"])).unwrap()
    }

    fn wait_state(&self, id: u64, state: &str, limit: Duration) -> Value {
        let mut last = Value::Null;
        wait(&format!("job {id} {state}"), limit, || {
            last = self.job(id);
            last["state"] == state
        });
        last
    }

    /// Slurm jobs this Agora submitted for job `job` (any run).
    fn sj(&self, s: &Slurm, job: u64) -> Vec<Value> {
        let prefix = format!("agora-{job}.");
        let inst = std::fs::read_to_string(self.dir.join("data/slurm-instance")).unwrap();
        s.rest("/jobs")["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
            .filter(|j| j["comment"].as_str().is_some_and(|c| c.ends_with(&format!("inst={inst}"))))
            .cloned()
            .collect()
    }

    fn live_sj(&self, s: &Slurm, job: u64) -> Vec<Value> {
        self.sj(s, job)
            .into_iter()
            .filter(|j| matches!(j["job_state"].as_str(), Some("PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING")))
            .collect()
    }

    fn log(&self, job: u64, run: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("data/slurm/logs/{job}.{run}.out"))).unwrap_or_default()
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("slurm", name)
}

fn nodes_of(job: &Value) -> Vec<String> {
    let mut v: Vec<String> = job["allocation"]
        .as_array()
        .map(|a| a.iter().map(|a| a["node"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn slurm_nodes(j: &Value) -> Vec<String> {
    let mut v = expand(j["nodes"].as_str().unwrap_or(""));
    v.sort();
    v
}

/// n[1-2,5] -> n1 n2 n5 (enough for the test cluster's names).
fn expand(list: &str) -> Vec<String> {
    if list.is_empty() {
        return vec![];
    }
    let Some((prefix, rest)) = list.split_once('[') else { return list.split(',').map(String::from).collect() };
    rest.trim_end_matches(']')
        .split(',')
        .flat_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
            (a..=b).map(move |i| format!("{prefix}{i}"))
        })
        .collect()
}

#[test]
fn topology_import_prints_the_slurm_cluster() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let topo = s.dir.join("etc/topology.conf");
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["cluster", "--from-slurm", &s.url, "--slurm-topology", topo.to_str().unwrap()])
        .env("SLURM_JWT", &s.token)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for n in 1..=6 {
        assert!(out.contains(&format!("name = \"n{n}\"\naccelerators = 8")), "{out}");
    }
    assert!(out.contains("[[pods]]\nname = \"s0\""), "{out}");
    assert!(out.contains("name = \"s1\"\naccel_type = \"h100\""), "{out}");
    // What it prints is a cluster file Agora reads back.
    let f = tempdir("import").join("slurm.toml");
    std::fs::write(&f, out.as_bytes()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_agora")).args(["cluster", f.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("48"), "48 accelerators");

    // An expired token, a wrong one and a dead URL are clear errors, not hangs.
    let short = String::from_utf8(s.script(&["token", "root", "1"]).stdout).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["cluster", "--from-slurm", &s.url, "--slurm-token", short.trim()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("expired"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["cluster", "--from-slurm", &s.url, "--slurm-token", "not-a-jwt"])
        .env_remove("SLURM_JWT")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("token"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["cluster", "--from-slurm", "http://127.0.0.1:1", "--slurm-token", &s.token])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("unreachable"), "{err}");
}

#[test]
fn a_gang_runs_on_exactly_the_chosen_nodes_and_its_status_and_output_come_back() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("gang");
    let srv = Server::start(&s, &dir, None);
    let cmd = "echo \"rank $SLURM_PROCID node $SLURMD_NODENAME gpus $CUDA_VISIBLE_DEVICES job $AGORA_JOB_ID\"; sleep 2; exit 3";
    let t0 = Instant::now();
    let id = srv.submit(json!({"project": "train", "nodes": 2, "per_node": 8, "time_limit": "5m", "command": cmd}));
    let mut sj = Value::Null;
    let took = wait("the gang running on Slurm", Duration::from_secs(30), || {
        sj = srv.sj(&s, id).into_iter().next().unwrap_or(Value::Null);
        sj["job_state"] == "RUNNING" || sj["job_state"] == "FAILED"
    });
    eprintln!("FIGURE submission to running on Slurm (2 nodes x 8 GPUs): {:.0} ms", took.as_secs_f64() * 1000.0);
    let chosen = nodes_of(&srv.job(id));
    let j = srv.wait_state(id, "failed", Duration::from_secs(30));
    assert_eq!(j["exit_code"], 3, "{j}");
    assert_eq!(chosen.len(), 2);
    assert_eq!(slurm_nodes(&srv.sj(&s, id)[0]), chosen, "Slurm ran it on the nodes Agora chose");
    assert_eq!(sj["name"], format!("agora-{id}.1"));
    assert!(sj["comment"].as_str().unwrap().starts_with(&format!("agora job={id} run=1 gen=0 inst=")), "{sj}");
    let log = srv.log(id, 1);
    for n in &chosen {
        assert!(log.contains(&format!("node {n} gpus 0,1,2,3,4,5,6,7 job {id}")), "{log}");
    }
    assert_eq!(log.lines().filter(|l| l.starts_with("rank ")).count(), 2, "{log}");
    // The same output through Agora: `agora log` (GET /v1/jobs/{id}/log).
    assert_eq!(srv.cli(&["log", &id.to_string()]).trim_end(), log.trim_end(), "agora log shows the Slurm output");
    eprintln!(
        "FIGURE whole gang (submit, run, exit status back in Agora): {:.0} ms",
        t0.elapsed().as_secs_f64() * 1000.0
    );
    // The executor's own figure: its POST to Slurm until it saw the job RUNNING.
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    let line = log.lines().find(|l| l.contains("running on Slurm") && l.contains(&format!("job={id} "))).unwrap();
    eprintln!(
        "FIGURE executor: Slurm submission to RUNNING: {}",
        line.split("submit_to_running_ms=").nth(1).unwrap_or("?")
    );

    // A half node shares it; a clean exit completes.
    let id = srv.submit(json!({"project": "train", "accelerators": 4, "command": "echo gpus $CUDA_VISIBLE_DEVICES"}));
    let j = srv.wait_state(id, "completed", Duration::from_secs(30));
    assert_eq!(j["exit_code"], 0);
    assert!(srv.log(id, 1).contains("gpus 0,1,2,3"), "{}", srv.log(id, 1));
    assert_eq!(srv.sj(&s, id).len(), 1, "submitted once");
}

#[test]
fn cancel_hold_release_and_the_time_limit() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("cancel");
    let srv = Server::start(&s, &dir, None);
    // Fill the four usable nodes (two per block; the third is a spare).
    let big = srv.submit(json!({"project": "train", "accelerators": 32, "command": "sleep 300"}));
    wait("the big gang running", Duration::from_secs(30), || {
        srv.sj(&s, big).first().is_some_and(|j| j["job_state"] == "RUNNING")
    });
    let small = srv.submit(json!({"project": "train", "accelerators": 8, "command": "echo small ran"}));
    assert_eq!(srv.job(small)["state"], "pending");
    assert!(srv.cli(&["hold", &small.to_string()]).contains("held"));
    srv.cli(&["cancel", &big.to_string()]);
    wait("the big gang cancelled in Slurm", Duration::from_secs(30), || srv.live_sj(&s, big).is_empty());
    assert_eq!(srv.job(big)["state"], "cancelled");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(srv.job(small)["state"], "held");
    assert!(srv.sj(&s, small).is_empty(), "a held job is not in Slurm");
    srv.cli(&["release", &small.to_string()]);
    srv.wait_state(small, "completed", Duration::from_secs(30));
    assert!(srv.log(small, 1).contains("small ran"));

    // Over its time limit (seconds, not Slurm's minutes): timed out.
    let t = srv.submit(json!({"project": "train", "accelerators": 8, "time_limit": "3s", "command": "sleep 120"}));
    let j = srv.wait_state(t, "failed", Duration::from_secs(30));
    assert_eq!(j["exit_code"], 124, "{j}");
    wait("the timed-out job gone from Slurm", Duration::from_secs(30), || srv.live_sj(&s, t).is_empty());
}

#[test]
fn a_node_that_dies_under_a_gang_is_replaced_by_a_spare_and_the_gang_finishes() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("nodefail");
    let srv = Server::start(&s, &dir, None);
    // Resumes from its checkpoint: the second launch finds it and finishes.
    let cmd = "if [ -e \"$AGORA_CHECKPOINT_DIR/ckpt\" ]; then echo resumed on $SLURMD_NODENAME; sleep 2; exit 0; fi; \
               sleep 1; touch \"$AGORA_CHECKPOINT_DIR/ckpt\"; sleep 300";
    let id = srv.submit(json!({"project": "train", "nodes": 2, "per_node": 8, "scope": "block", "scope_required": true, "command": cmd}));
    wait("the gang running", Duration::from_secs(30), || {
        srv.sj(&s, id).first().is_some_and(|j| j["job_state"] == "RUNNING")
    });
    let before = nodes_of(&srv.job(id));
    let victim = before[0].clone();
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    s.script(&["crash-node", &victim]);
    let mut now_on = Vec::new();
    wait("the gang relaunched without the dead node", Duration::from_secs(60), || {
        // (The old job may linger COMPLETING until Slurm declares the node DOWN.)
        let running: Vec<Value> = srv.live_sj(&s, id).into_iter().filter(|j| j["job_state"] == "RUNNING").collect();
        now_on = running.first().map(slurm_nodes).unwrap_or_default();
        running.len() == 1 && !now_on.contains(&victim) && now_on.len() == 2
    });
    let recovered = t0.elapsed();
    assert_eq!(nodes_of(&srv.job(id)), now_on, "Agora's allocation is the relaunched job's");
    srv.wait_state(id, "completed", Duration::from_secs(30));
    eprintln!(
        "FIGURE node failure (slurmd killed) to the gang running again on a spare: {:.1} s; SlurmdTimeout=10s",
        recovered.as_secs_f64()
    );
    assert!(srv.log(id, 1).contains("resumed on"), "{}", srv.log(id, 1));
    let gens: Vec<String> = srv.sj(&s, id).iter().map(|j| j["comment"].as_str().unwrap().to_string()).collect();
    assert!(gens.iter().any(|g| g.starts_with(&format!("agora job={id} run=1 gen=1 "))), "{gens:?}");
    s.script(&["revive-node", &victim]);
    s.quiesce();
}

#[test]
fn restarting_slurmctld_or_killing_agora_loses_and_duplicates_nothing() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("restarts");
    let srv = Server::start(&s, &dir, None);
    let token = srv.token.clone();
    let a =
        srv.submit(json!({"project": "train", "accelerators": 16, "command": "echo started; sleep 6; echo a done"}));
    let b = srv.submit(json!({"project": "train", "accelerators": 8, "command": "echo started; sleep 8; echo b done"}));
    wait("both running on Slurm", Duration::from_secs(30), || {
        [a, b].iter().all(|&j| srv.sj(&s, j).first().is_some_and(|x| x["job_state"] == "RUNNING"))
            && [a, b].iter().all(|&j| srv.log(j, 1).contains("started"))
    });
    // slurmctld goes away and comes back while they run.
    let t0 = Instant::now();
    s.script(&["restart-ctld"]);
    eprintln!("FIGURE slurmctld restart: {:.1} s", t0.elapsed().as_secs_f64());
    // agora serve dies hard and comes back on the same journal.
    srv.kill9();
    let t0 = Instant::now();
    let srv = Server::start(&s, &dir, Some(&token));
    for (id, word) in [(a, "a done"), (b, "b done")] {
        let j = srv.wait_state(id, "completed", Duration::from_secs(40));
        assert_eq!(j["exit_code"], 0);
        assert!(srv.log(id, 1).contains(word));
        assert_eq!(srv.sj(&s, id).len(), 1, "job {id} was submitted to Slurm exactly once");
    }
    eprintln!(
        "FIGURE agora serve kill -9 and restart to both jobs reconciled and finished: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // A job submitted after the restart still runs.
    let c = srv.submit(json!({"project": "train", "accelerators": 8, "command": "true"}));
    srv.wait_state(c, "completed", Duration::from_secs(30));
}

#[test]
fn nodes_busy_with_plain_sbatch_jobs_are_avoided() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("foreign");
    let srv = Server::start(&s, &dir, None);
    let foreign =
        s.tool("sbatch", &["--parsable", "-w", "n1", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 300"]);
    wait("the sbatch job running", Duration::from_secs(20), || {
        s.tool("squeue", &["-h", "-j", &foreign, "-o", "%T"]) == "RUNNING"
    });
    std::thread::sleep(Duration::from_secs(1));
    // Three usable nodes are left (n2, n4, n5): three whole-node jobs run,
    // none on n1, and a fourth waits.
    let ids: Vec<u64> =
        (0..4).map(|_| srv.submit(json!({"project": "train", "accelerators": 8, "command": "sleep 300"}))).collect();
    wait("three running", Duration::from_secs(30), || {
        ids[..3].iter().all(|&j| srv.sj(&s, j).first().is_some_and(|x| x["job_state"] == "RUNNING"))
    });
    for &j in &ids[..3] {
        assert!(!nodes_of(&srv.job(j)).contains(&"n1".to_string()), "job {j} placed on the busy node");
    }
    assert_eq!(srv.job(ids[3])["state"], "pending");
    // The sbatch job leaves: the node is Agora's again.
    s.tool("scancel", &[&foreign]);
    wait("the fourth job on n1", Duration::from_secs(30), || nodes_of(&srv.job(ids[3])) == ["n1"]);
    for &j in &ids {
        srv.cli(&["cancel", &j.to_string()]);
    }
}

#[test]
fn preemption_signals_the_lower_class_job_gives_it_its_grace_and_requeues_it() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("preempt");
    let srv = Server::start(&s, &dir, None);
    let low_cmd = "trap 'echo got TERM on $SLURMD_NODENAME >> \"$AGORA_CHECKPOINT_DIR/term\"; sleep 1; exit 0' TERM; \
                   if [ -e \"$AGORA_CHECKPOINT_DIR/term\" ]; then echo second run; exit 0; fi; sleep 300 & wait";
    let low =
        srv.submit(json!({"project": "scavenge", "class": "opportunistic", "accelerators": 32, "command": low_cmd}));
    wait("the low-class job running", Duration::from_secs(30), || {
        srv.sj(&s, low).first().is_some_and(|j| j["job_state"] == "RUNNING")
    });
    std::thread::sleep(Duration::from_secs(1));
    let t0 = Instant::now();
    let high =
        srv.submit(json!({"project": "train", "class": "reserved", "accelerators": 16, "command": "echo high ran"}));
    srv.wait_state(low, "preempting", Duration::from_secs(10));
    let ckpt = dir.join(format!("data/slurm/checkpoints/{low}/term"));
    wait("the signal reaching the job", Duration::from_secs(10), || ckpt.exists());
    let signalled = t0.elapsed();
    srv.wait_state(high, "completed", Duration::from_secs(40));
    let preempted = t0.elapsed();
    assert!(preempted >= Duration::from_secs(4), "the grace period (4 s) was given: {preempted:?}");
    let j = srv.wait_state(low, "completed", Duration::from_secs(40));
    assert!(j["restarts"].as_u64().is_some() && srv.log(low, 2).contains("second run"), "{j} {}", srv.log(low, 2));
    eprintln!(
        "FIGURE preemption: signal at {:.1} s, higher-class job done at {:.1} s (grace 4 s)",
        signalled.as_secs_f64(),
        preempted.as_secs_f64()
    );
}

#[test]
fn a_job_slurm_refuses_fails_with_slurms_reason() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("refused");
    let srv = Server::start_with(&s, &dir, None, &["--slurm-partition", "no-such-partition"]);
    let id = srv.submit(json!({"project": "train", "accelerators": 8, "command": "true"}));
    let j = srv.wait_state(id, "failed", Duration::from_secs(20));
    assert_eq!(j["exit_code"], 1, "{j}");
    let log = srv.log(id, 1);
    assert!(log.contains("Slurm refused the job") && log.contains("artition"), "{log}");
    assert!(srv.sj(&s, id).is_empty());
}

#[test]
fn while_slurmrestd_is_down_a_start_waits_and_is_submitted_once_when_it_is_back() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    s.quiesce();
    let dir = tempdir("restdown");
    let srv = Server::start(&s, &dir, None);
    s.script(&["stop-rest"]);
    let id = srv.submit(json!({"project": "train", "accelerators": 8, "command": "echo ran once"}));
    // Agora decided; Slurm cannot be told: the run waits, nothing is lost.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(srv.job(id)["state"], "running");
    let t0 = Instant::now();
    s.script(&["start"]);
    let j = srv.wait_state(id, "completed", Duration::from_secs(30));
    eprintln!("FIGURE slurmrestd back to the waiting job completed: {:.1} s", t0.elapsed().as_secs_f64());
    assert_eq!(j["exit_code"], 0);
    assert_eq!(srv.sj(&s, id).len(), 1, "submitted exactly once");
    assert!(srv.log(id, 1).contains("ran once"));
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("unreachable"), "the outage is logged clearly: {log}");
}

#[test]
fn usage_reconciles_with_slurm_accounting_and_plain_sbatch_jobs_are_reported_outside_agora() {
    let Some(s) = slurm() else { return };
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let probe = ureq::get(&format!("{}/slurmdb/v0.0.38/jobs?job_name=none", s.url))
        .set("X-SLURM-USER-NAME", "root")
        .set("X-SLURM-USER-TOKEN", &s.token)
        .call();
    if let Err(ureq::Error::Status(404, _)) = probe {
        assert!(
            !std::env::var("CI").is_ok_and(|c| c == "true"),
            "CI starts the Slurm cluster with SL_ACCOUNTING=1 (slurmdbd), but slurmrestd has no /slurmdb"
        );
        eprintln!("Slurm accounting (slurmdbd) is off on this cluster: start it with SL_ACCOUNTING=1");
        return;
    }
    s.quiesce();
    let dir = tempdir("accounting");
    let srv = Server::start(&s, &dir, None);
    // Jobs cancelled by quiesce end before the window opens.
    std::thread::sleep(Duration::from_millis(1100));
    let from = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let plain = s.tool("sbatch", &["--parsable", "-N1", "--gpus-per-node=2", "-o", "/dev/null", "--wrap", "sleep 3"]);
    // Running before Agora places anything, so that Agora sees its node busy
    // (else a run placed there waits in Slurm and is relaunched elsewhere:
    // Agora counts from its placement, Slurm from the relaunch).
    wait("the sbatch job running", Duration::from_secs(20), || {
        s.tool("squeue", &["-h", "-j", &plain, "-o", "%T"]) == "RUNNING"
    });
    std::thread::sleep(Duration::from_millis(600));
    let a =
        srv.submit(json!({"project": "train", "nodes": 2, "per_node": 8, "time_limit": "5m", "command": "sleep 3"}));
    let b = srv.submit(json!({"project": "train", "accelerators": 4, "time_limit": "5m", "command": "sleep 2"}));
    srv.wait_state(a, "completed", Duration::from_secs(40));
    srv.wait_state(b, "completed", Duration::from_secs(40));
    let mut ids: Vec<String> = [a, b].iter().flat_map(|&j| srv.sj(&s, j)).map(|j| j["job_id"].to_string()).collect();
    ids.push(plain.clone());
    // slurmdbd gets a job's end from slurmctld a moment after it ends.
    wait("slurmdbd to record the three jobs' ends", Duration::from_secs(30), || {
        let out = s.tool("sacct", &["-n", "-X", "-P", "-o", "JobID,End", "-j", &ids.join(",")]);
        out.lines().filter(|l| !l.ends_with("|Unknown") && l.contains('|')).count() == ids.len()
    });
    let to = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let inst = std::fs::read_to_string(dir.join("data/slurm-instance")).unwrap();
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let args = [
        "slurm",
        "reconcile",
        "--slurm-url",
        &s.url,
        "--slurm-token",
        &s.token,
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--instance",
        &inst,
    ];
    let r: Value = serde_json::from_str(&srv.cli(&[&args[..], &["-o", "json"]].concat())).unwrap();
    let lines = r["jobs"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{r:#}");
    for (line, (id, accel)) in lines.iter().zip([(a, 16.0), (b, 4.0)]) {
        assert_eq!(line["job"], id);
        assert_eq!(line["verdict"], "matched", "{line}");
        // One Slurm job per run, more if the executor relaunched it (a
        // node taken by the sbatch job before Agora saw it busy).
        assert!(!line["slurm_jobs"].as_array().unwrap().is_empty(), "{line}");
        let (ag, sl) =
            (line["agora_accelerator_seconds"].as_f64().unwrap(), line["slurm_accelerator_seconds"].as_f64().unwrap());
        assert!(sl >= 2.0 * accel && ag >= 2.0 * accel, "both saw it run: {line}");
        eprintln!(
            "FIGURE reconcile job {id} ({accel} accelerators): Agora {ag:.1}, Slurm {sl:.1} accelerator-seconds, difference {:+.1} ({:+.2} s per accelerator)",
            sl - ag,
            (sl - ag) / accel
        );
    }
    let t = &r["totals"];
    assert_eq!(
        (t["differs"].as_u64(), t["only_in_agora"].as_u64(), t["only_in_slurm"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{t}"
    );
    let outside = r["outside"].as_array().unwrap();
    let o = outside
        .iter()
        .find(|o| o["slurm_job"].as_u64().map(|v| v.to_string()).as_deref() == Some(plain.as_str()))
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(o["why"], "not tagged by Agora");
    assert_eq!((o["accelerators"].as_u64(), o["name"].as_str()), (Some(2), Some("wrap")));
    assert!(o["accelerator_seconds"].as_f64().unwrap() >= 6.0, "{o}");
    // The table says the same for people.
    let table = srv.cli(&args);
    eprintln!("{table}");
    assert!(table.contains("2 matched, 0 differ, 0 only in Agora, 0 only in Slurm"), "{table}");
    assert!(table.contains(&format!("{plain:>10}  wrap")), "{table}");
    // Another instance's view: Agora's two jobs are on its side only; the
    // report is still printed, and the exit status (3) tells a script.
    let mut other = args;
    other[11] = "another-instance";
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(other)
        .env("AGORA_URL", &srv.url)
        .env("AGORA_TOKEN", &srv.token)
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(3), "{out}\n{err}");
    assert!(out.contains("0 matched, 0 differ, 2 only in Agora"), "{out}");
    assert!(err.contains("2 job(s) do not reconcile"), "{err}");

    // A slurmrestd without the accounting plugin (what a site without
    // slurmdbd runs): a clear error, no table.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut rest = Command::new("setpriv")
        .args(["--reuid=slurmrestd", "--regid=slurmrestd", "--init-groups", "/usr/sbin/slurmrestd"])
        .args(["-a", "rest_auth/jwt", "-s", "openapi/v0.0.38", &format!("127.0.0.1:{port}")])
        .env("SLURM_JWT", "daemon")
        .env("SLURM_CONF", s.dir.join("etc/slurm.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bare = format!("http://127.0.0.1:{port}");
    wait("a second slurmrestd", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["slurm", "reconcile", "--slurm-url", &bare, "--slurm-token", &s.token])
        .env("AGORA_URL", &srv.url)
        .env("AGORA_TOKEN", &srv.token)
        .output()
        .unwrap();
    let _ = rest.kill();
    let _ = rest.wait();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && o.stdout.is_empty(), "{err}");
    assert!(err.contains("Slurm accounting (slurmdbd) is not enabled"), "{err}");
}
