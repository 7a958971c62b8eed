//! End-to-end: the real `agora serve` on a free port with its own data
//! directory, driven over HTTP; stopped cleanly and with kill -9.

mod common;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    url: String,
    token: Option<String>,
    /// The journal entry of the snapshot restored at start, if one was.
    snapshot: Option<u64>,
    /// Journal entries replayed at start (after the snapshot).
    replayed: u64,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut args =
            vec!["--listen", "127.0.0.1:0", "--data", "data", "--cluster", "philly", "--cycle-interval", "0.05"];
        args.extend_from_slice(&["--min-cycle-gap", "0.02"]);
        args.extend_from_slice(extra);
        let log = dir.join(format!("server-{}.log", Instant::now().elapsed().as_nanos()));
        let s = common::serve(&args, dir, &log, &[]);
        let replayed = s.replayed.expect("the server prints what it replayed");
        Server { child: s.child, url: s.url, token: s.token, snapshot: s.snapshot, replayed }
    }

    fn stop(mut self) {
        // SAFETY: signals exactly our child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(10), "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
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

/// The stores every durability and isolation test runs against: SQLite in
/// the data directory, and a fresh database on the PostgreSQL server named
/// by `AGORA_TEST_PG_URL` (started by `scripts/pg-local.sh`; `.ci/run` sets
/// it). Under CI (CI=true) a missing server fails the test instead of
/// skipping it.
fn stores(name: &str) -> Vec<Vec<String>> {
    let mut v = vec![vec![]];
    match std::env::var("AGORA_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            let db = agora_store::pg::fresh_database(&url, &format!("agora_e2e_{name}"))
                .expect("a fresh PostgreSQL database");
            v.push(vec!["--store".into(), db]);
        }
        _ if std::env::var("CI").is_ok_and(|c| c == "true") => {
            panic!("AGORA_TEST_PG_URL is not set: run scripts/pg-local.sh start and export its URL; CI requires the PostgreSQL tests")
        }
        _ => eprintln!("AGORA_TEST_PG_URL is not set: {name} runs against SQLite only"),
    }
    v
}

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("serve", name)
}

/// (status, body as JSON or as a string)
fn call(method: &str, url: &str, token: &str, ct: &str, body: &str) -> (u16, Value) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
    let mut r = agent.request(method, url);
    if !token.is_empty() {
        r = r.set("authorization", &format!("Bearer {token}"));
    }
    let res = if method == "GET" { r.call() } else { r.set("content-type", ct).send_string(body) };
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

struct Api<'a> {
    url: &'a str,
    token: String,
}

impl Api<'_> {
    fn get(&self, path: &str) -> (u16, Value) {
        call("GET", &format!("{}{path}", self.url), &self.token, "", "")
    }
    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        call("POST", &format!("{}{path}", self.url), &self.token, "application/json", &body.to_string())
    }
    fn submit(&self, body: Value) -> u64 {
        let (s, v) = self.post("/v1/jobs", body.clone());
        assert_eq!(s, 201, "{body}: {v}");
        v["jobs"][0].as_u64().unwrap()
    }
    /// Every job, page by page.
    fn all_jobs(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let (s, v) = self.get(&format!("/v1/jobs?limit=37{cursor}"));
            assert_eq!(s, 200, "{v}");
            out.extend(v["jobs"].as_array().unwrap().iter().cloned());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return out,
            }
        }
    }
    fn token(&self, user: &str, role: &str, scope: &str) -> String {
        let (s, v) = self.post("/v1/tokens", json!({"user": user, "role": role, "scope": scope}));
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
}

fn wait_for(what: &str, f: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(20), f);
}

/// No accelerator appears in two running jobs' allocations.
fn assert_no_double_booking(jobs: &[Value]) {
    let mut seen = std::collections::HashSet::new();
    for j in jobs {
        for a in j["allocation"].as_array().into_iter().flatten() {
            for i in a["accelerators"].as_array().unwrap() {
                assert!(seen.insert((a["node"].to_string(), i.as_u64())), "accelerator {a} booked twice");
            }
        }
    }
}

/// A workload with every kind of input: short jobs that complete, long
/// ones that run, a queue that waits, cancels, holds, a release, an
/// array and a dependency.
fn workload(api: &Api) -> Vec<u64> {
    let projects =
        ["km-scale-weather", "ocean-emulator", "crop-vision", "radiology-fm", "national-llm", "drug-discovery"];
    let mut ids = Vec::new();
    for i in 0..60u32 {
        let dur = if i % 3 == 0 { "1s" } else { "2h" };
        let acc = [8, 16, 64, 128, 2][i as usize % 5];
        ids.push(api.submit(json!({"project": projects[i as usize % 6], "accelerators": acc, "duration": dur, "time_limit": "3h", "name": format!("w{i}")})));
    }
    // Big jobs that must wait on a busy 2,330-accelerator site.
    for _ in 0..6 {
        ids.push(
            api.submit(json!({"project": "national-llm", "accelerators": 1024, "duration": "2h", "time_limit": "3h"})),
        );
    }
    let (s, v) =
        api.post("/v1/jobs", json!({"project": "radiology-fm", "accelerators": 4, "duration": "1s", "array": "0-4"}));
    assert_eq!(s, 201, "{v}");
    let dep = api.submit(json!({"project": "crop-vision", "accelerators": 8, "duration": "2h", "dependency": format!("afterok:{}", ids[0])}));
    ids.push(dep);
    let last = ids[ids.len() - 2];
    assert_eq!(api.post(&format!("/v1/jobs/{}/cancel", ids[1]), json!({})).0, 200);
    let (s, v) = api.post(&format!("/v1/jobs/{last}/hold"), json!({}));
    assert!(s == 200 || s == 409, "{v}");
    ids
}

#[test]
fn restart_rebuilds_the_same_state_job_for_job_and_allocation_for_allocation() {
    for store in stores("restart") {
        let store: Vec<&str> = store.iter().map(|s| s.as_str()).collect();
        restart_case(&store);
    }
}

fn restart_case(store: &[&str]) {
    let d = tempdir(&format!("restart{}", store.len()));
    let no_snapshots: Vec<&str> = [&["--snapshot-every", "0"], store].concat();
    let s = Server::start(&d, &no_snapshots);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    workload(&api);
    wait_for("the short jobs to complete", || {
        api.all_jobs().iter().filter(|j| j["state"] == "completed").count() >= 20
    });
    // Compare a quiet state: the short jobs still running on a loaded
    // machine would end between the snapshot and the stop. Two reads 2 s
    // apart (longer than a short job runs) that agree mean none runs.
    let mut before = api.all_jobs();
    wait_for("the site to settle", || {
        std::thread::sleep(Duration::from_millis(2000));
        let now = api.all_jobs();
        std::mem::replace(&mut before, now) == before
    });
    assert!(before.len() >= 70);
    assert_no_double_booking(&before);
    for st in ["completed", "running", "pending", "cancelled"] {
        assert!(before.iter().any(|j| j["state"] == st), "no {st} job in the workload");
    }
    // The job at the head of the queue has nodes held for it: its timeline says so.
    let reserved = before.iter().filter(|j| j["state"] == "pending").any(|j| {
        let (_, ev) = api.get(&format!("/v1/jobs/{}/events", j["id"]));
        ev.as_array().unwrap().iter().any(|e| e["kind"] == "reserved")
    });
    assert!(reserved, "no pending job's timeline shows its reservation");
    let cluster_before = api.get("/v1/cluster").1;
    let token = api.token.clone();
    s.stop();

    let s = Server::start(&d, store);
    assert!(s.token.is_none(), "the admin token is created once");
    assert_eq!(s.snapshot, None, "no snapshot was taken: the whole journal is replayed");
    assert!(s.replayed > 70, "{}", s.replayed);
    let api = Api { url: &s.url, token };
    let after = api.all_jobs();
    let differ: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(after.len() == before.len() && differ.is_empty(), "jobs differ after a clean restart: {differ:#?}");
    let cluster_after = api.get("/v1/cluster").1;
    assert_eq!(cluster_after["free"], cluster_before["free"]);
    assert_eq!(cluster_after["running"], cluster_before["running"]);
    assert_eq!(cluster_after["pending"], cluster_before["pending"]);
    // The restarted server keeps working: a new job gets the next id.
    let id = api.submit(json!({"project": "ocean-emulator", "accelerators": 1}));
    assert_eq!(id, before.iter().map(|j| j["id"].as_u64().unwrap()).max().unwrap() + 1);
    // One writer per journal: a second server on the same store is refused
    // while the first runs, and leaves the journal alone.
    let second = |cluster: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args([&["serve", "--listen", "127.0.0.1:0", "--data", "data", "--cluster", cluster], store].concat())
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = second("philly");
    assert!(err.contains("is in use by another agora serve"), "{err}");
    assert_eq!(api.all_jobs().len(), before.len() + 1, "the refused server wrote nothing");
    s.stop();
    // A journal replays only on the site it was written for.
    let err = second("kth-sp2");
    assert!(err.contains("the journal was written for site `philly`"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_job_and_retries_create_no_duplicates() {
    for store in stores("kill9") {
        let store: Vec<&str> = store.iter().map(|s| s.as_str()).collect();
        kill9_case(&store);
    }
}

fn kill9_case(store: &[&str]) {
    let d = tempdir(&format!("kill9{}", store.len()));
    // Snapshots every 300 entries, taken under load: the restart after the
    // crash restores the last one and replays only what followed it.
    let args: Vec<&str> = [&["--rate-limit", "0", "--snapshot-every", "300"], store].concat();
    let s = Server::start(&d, &args);
    let token = s.token.clone().unwrap();
    let url = s.url.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for t in 0..4 {
        let (url, token, stop) = (url.clone(), token.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
            let mut acked = Vec::new();
            let mut unacked = Vec::new();
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let key = format!("t{t}-{i}");
                let body =
                    json!({"project": "ocean-emulator", "accelerators": 1 + i % 8, "duration": "2h", "name": key})
                        .to_string();
                let r = agent
                    .post(&format!("{url}/v1/jobs"))
                    .set("authorization", &format!("Bearer {token}"))
                    .set("idempotency-key", &key)
                    .set("content-type", "application/json")
                    .send_string(&body);
                match r {
                    Ok(r) => {
                        let v: Value = r.into_json().unwrap();
                        acked.push((key, v["jobs"][0].as_u64().unwrap()));
                    }
                    Err(_) => {
                        unacked.push(key);
                        break;
                    }
                }
            }
            (acked, unacked)
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut unacked = Vec::new();
    for h in handles {
        let (a, u) = h.join().unwrap();
        acked.extend(a);
        unacked.extend(u);
    }
    assert!(acked.len() > 100, "only {} submissions were acknowledged", acked.len());

    let s = Server::start(&d, &args);
    let at = s.snapshot.expect("a snapshot taken under load is restored");
    assert!(at >= 300 && s.replayed < 600, "snapshot after entry {at}, then {} entries replayed", s.replayed);
    let api = Api { url: &s.url, token: token.clone() };
    let jobs = api.all_jobs();
    let by_id: std::collections::HashMap<u64, &Value> = jobs.iter().map(|j| (j["id"].as_u64().unwrap(), j)).collect();
    for (key, id) in &acked {
        let j = by_id.get(id).unwrap_or_else(|| panic!("acknowledged job {id} ({key}) lost"));
        assert_eq!(j["name"], key.as_str());
    }
    assert_no_double_booking(&jobs);
    // Clients retry what was in flight and what was acknowledged: nothing doubles.
    for (key, id) in
        acked.iter().take(20).map(|(k, i)| (k.clone(), Some(*i))).chain(unacked.iter().map(|k| (k.clone(), None)))
    {
        let r = ureq::post(&format!("{}/v1/jobs", s.url))
            .set("authorization", &format!("Bearer {token}"))
            .set("idempotency-key", &key)
            .send_string(&json!({"project": "ocean-emulator", "accelerators": 1, "name": key}).to_string())
            .unwrap();
        let v: Value = r.into_json().unwrap();
        if let Some(id) = id {
            assert_eq!(v["jobs"][0].as_u64(), Some(id));
            assert_eq!(v["replayed"], true);
        }
    }
    let after = api.all_jobs();
    let names: std::collections::HashSet<&str> = after.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), after.len(), "a retried submission created a second job");
    // And a clean restart after the crash gives the same state again.
    std::thread::sleep(Duration::from_millis(200));
    let before = api.all_jobs();
    s.stop();
    let s = Server::start(&d, store);
    assert!(s.snapshot.is_some() && s.replayed == 0, "a clean stop leaves a snapshot of everything");
    let api = Api { url: &s.url, token };
    assert_eq!(api.all_jobs(), before);
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn isolation_matrix_no_foreign_read_or_write_succeeds_and_denials_look_like_absence() {
    for store in stores("isolation") {
        let store: Vec<&str> = store.iter().map(|s| s.as_str()).collect();
        isolation_case(&store);
    }
}

fn isolation_case(store: &[&str]) {
    let d = tempdir(&format!("isolation{}", store.len()));
    let s = Server::start(&d, store);
    let admin = Api { url: &s.url, token: s.token.clone().unwrap() };
    // Own side: eu/open-research/climate-institute/km-scale-weather.
    // Foreign side: eu/startups-sme/agritech-startup/crop-vision.
    let roles = [
        ("programme-manager", "eu/open-research"),
        ("org-admin", "eu/open-research/climate-institute"),
        ("member", "eu/open-research/climate-institute/km-scale-weather"),
    ];
    let missing = 999_999u64;
    for (role, scope) in roles {
        let api = Api { url: &s.url, token: admin.token(role, role, scope) };
        let own = admin.submit(json!({"project": "km-scale-weather", "accelerators": 4, "duration": "2h"}));
        let foreign = admin.submit(json!({"project": "crop-vision", "accelerators": 4, "duration": "2h"}));
        let foreign2 = admin.submit(json!({"project": "crop-vision", "accelerators": 4, "duration": "2h"}));
        // Per-job endpoints: own succeeds, foreign answers exactly like a missing job.
        let endpoints: [(&str, &str); 7] = [
            ("GET", ""),
            ("GET", "/events"),
            ("GET", "/why"),
            ("GET", "/log"),
            ("POST", "/hold"),
            ("POST", "/release"),
            ("POST", "/cancel"),
        ];
        for (method, suffix) in endpoints {
            let req = |id: u64| {
                let path = format!("/v1/jobs/{id}{suffix}");
                if method == "GET" {
                    api.get(&path)
                } else {
                    api.post(&path, json!({}))
                }
            };
            let (fs, fb) = req(foreign);
            let (_, mb) = req(missing);
            assert_eq!(fs, 404, "{role} {method} {suffix} on a foreign job: {fb}");
            let fb = fb.to_string().replace(&foreign.to_string(), "N");
            let mb = mb.to_string().replace(&missing.to_string(), "N");
            assert_eq!(fb, mb, "{role} {method} {suffix}: a denial must look like absence");
            let (os, ob) = req(own);
            let ok = match suffix {
                "/log" => os == 404 && ob["message"].as_str().unwrap().contains("has no log"),
                "/release" | "/hold" => os == 200 || os == 409,
                _ => os == 200,
            };
            assert!(ok, "{role} {method} {suffix} on its own job: {os} {ob}");
        }
        // The foreign job is untouched.
        for f in [foreign, foreign2] {
            let st = admin.get(&format!("/v1/jobs/{f}")).1["state"].clone();
            assert!(st == "running" || st == "pending", "{role} changed a foreign job: {st}");
        }
        // Lists, tenants, usage and streams show nothing foreign.
        let jobs = api.all_jobs();
        assert!(!jobs.is_empty());
        assert!(jobs.iter().all(|j| j["project"].as_str().unwrap().starts_with(scope)), "{role} lists a foreign job");
        for filter in ["project=crop-vision", "programme=eu/startups-sme"] {
            let (st, v) = api.get(&format!("/v1/jobs?{filter}"));
            let (st2, v2) = api.get(&format!(
                "/v1/jobs?{}",
                filter.replace("crop-vision", "no-such").replace("startups-sme", "no-such")
            ));
            assert_eq!((st, st2), (400, 400), "{role} {filter}: {v}");
            assert_eq!(
                v["message"].as_str().unwrap().replace("crop-vision", "X").replace("eu/startups-sme", "X"),
                v2["message"].as_str().unwrap().replace("no-such", "X").replace("eu/X", "X")
            );
        }
        let (_, t) = api.get("/v1/tenants");
        assert!(t.as_array().unwrap().iter().all(|t| t["path"].as_str().unwrap().starts_with(scope)), "{role}: {t}");
        let (_, u) = api.get("/v1/usage?by=user");
        assert!(u.as_array().unwrap().len() <= 1);
        let (ws, _) = api.get(&format!("/v1/watch?job={foreign}"));
        assert_eq!(ws, 404);
        // Writes into foreign projects fail like writes into missing ones.
        let (s1, b1) = api.post("/v1/jobs", json!({"project": "crop-vision"}));
        let (s2, b2) = api.post("/v1/jobs", json!({"project": "no-such"}));
        assert_eq!((s1, s2), (400, 400));
        assert_eq!(b1.to_string().replace("crop-vision", "X"), b2.to_string().replace("no-such", "X"));
        let (s1, b1) =
            api.post("/v1/jobs", json!({"project": "km-scale-weather", "dependency": format!("afterok:{foreign}")}));
        let (s2, b2) =
            api.post("/v1/jobs", json!({"project": "km-scale-weather", "dependency": format!("afterok:{missing}")}));
        assert_eq!((s1, s2), (400, 400));
        assert_eq!(
            b1.to_string().replace(&foreign.to_string(), "N"),
            b2.to_string().replace(&missing.to_string(), "N")
        );
        // Tokens: nobody mints one outside its scope or above its role.
        let (ts, _) = api.post("/v1/tokens", json!({"user": "x", "role": "member", "scope": "crop-vision"}));
        let expected = if role == "member" { 403 } else { 400 };
        assert_eq!(ts, expected, "{role} minted a foreign token");
        let (ts, _) = api.post("/v1/tokens", json!({"user": "x", "role": "site-admin"}));
        assert_eq!(ts, 403);
        if role != "member" {
            let (_, list) = api.get("/v1/tokens");
            assert!(list.as_array().unwrap().iter().all(|t| t["scope"].as_str().unwrap().starts_with(scope)));
        }
    }
    let (s401, b) = call("GET", &format!("{}/v1/jobs", s.url), "agora_wrong", "", "");
    assert_eq!((s401, b["code"].as_str()), (401, Some("unauthorized")));
    let (s401, _) = call("GET", &format!("{}/v1/cluster", s.url), "", "", "");
    assert_eq!(s401, 401);
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_gets_a_4xx_naming_the_field_and_changes_nothing() {
    let d = tempdir("bad");
    let s = Server::start(&d, &["--body-limit", "4096", "--rate-limit", "0"]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    let raw = |ct: &str, body: &str| call("POST", &format!("{}/v1/jobs", s.url), &api.token, ct, body);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{".into(), 400, "invalid JSON"),
        ("application/json", r#"{"project":"ocean-emulator","gpus":3}"#.into(), 400, "unknown field `gpus`"),
        ("application/json", r#"{"project":"ocean-emulator","accelerators":"many"}"#.into(), 400, "invalid type"),
        ("application/json", r#"{"accelerators":1}"#.into(), 400, "missing field `project`"),
        ("application/json", r#"{"project":"ocean-emulator","time_limit":"1000000y"}"#.into(), 400, "time_limit"),
        ("application/json", r#"{"project":"ocean-emulator","time_limit":31536000000000}"#.into(), 400, "time_limit"),
        (
            "application/json",
            r#"{"project":"ocean-emulator","accelerators":1000000000000}"#.into(),
            400,
            "accelerators",
        ),
        (
            "application/json",
            r#"{"project":"ocean-emulator","accelerators":4000000000}"#.into(),
            400,
            "more than the site has",
        ),
        ("application/json", r#"{"project":"atlantis"}"#.into(), 400, "`atlantis` is not a project"),
        ("application/json", r#"{"project":"ocean-emulator","array":"0-999999"}"#.into(), 400, "array"),
        ("application/json", r#"{"project":"ocean-emulator","dependency":"afterok:zz"}"#.into(), 400, "dependency"),
        (
            "application/json",
            format!(r#"{{"project":"ocean-emulator","name":"{}"}}"#, "x".repeat(5000)),
            413,
            "larger than 4096",
        ),
        ("text/x-shellscript", "#SBATCH -A ocean-emulator\n#SBATCH --mem=4G\n".into(), 400, "script line 2"),
        ("text/x-shellscript", "#SBATCH -N 2\n".into(), 400, "no `#SBATCH -A"),
        ("application/toml", "project = ".into(), 400, "invalid TOML"),
        ("image/png", "x".into(), 400, "content-type"),
    ];
    for (ct, body, status, needle) in &cases {
        let (st, v) = raw(ct, body);
        assert_eq!(st, *status, "{body}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{body}: `{msg}` lacks `{needle}`");
        assert!(v["code"].is_string());
    }
    for (path, needle) in [
        ("/v1/jobs/abc", "id"),
        ("/v1/jobs/-1", "id"),
        ("/v1/jobs?state=sleeping", "state"),
        ("/v1/jobs?limit=0", "limit"),
        ("/v1/jobs?cursor=x", "cursor"),
        ("/v1/jobs?bogus=1", "query"),
        ("/v1/usage?by=planet", "by"),
        ("/v1/usage?format=xml", "format"),
    ] {
        let (st, v) = api.get(path);
        assert_eq!(st, 400, "{path}: {v}");
        assert_eq!(v["field"], needle, "{path}: {v}");
    }
    assert_eq!(api.get("/v1/nowhere").0, 404);
    // Nothing was created by all that.
    assert!(api.all_jobs().is_empty());
    // TOML and JSON and scripts that are right are accepted.
    assert_eq!(raw("application/toml", "project = \"ocean-emulator\"\naccelerators = 8\ntime_limit = \"2h\"\n").0, 201);
    let (st, v) = raw(
        "text/x-shellscript",
        "#!/bin/sh\n#SBATCH -J s -A ocean-emulator --gpus=8 -t 30 --qos=standard --array=1,3\nsrun x\n",
    );
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["jobs"].as_array().unwrap().len(), 2);
    // Idempotency: the same key twice is one job.
    let sub = |key: &str| {
        let r = ureq::post(&format!("{}/v1/jobs", s.url))
            .set("authorization", &format!("Bearer {}", api.token))
            .set("idempotency-key", key)
            .send_string(r#"{"project":"ocean-emulator"}"#)
            .unwrap();
        (r.status(), r.into_json::<Value>().unwrap())
    };
    let (s1, a) = sub("k1");
    let (s2, b) = sub("k1");
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(a["jobs"], b["jobs"]);
    assert_eq!(b["replayed"], true);
    assert_eq!(api.all_jobs().len(), 4);
    // Health, readiness, metrics.
    assert_eq!(call("GET", &format!("{}/healthz", s.url), "", "", "").0, 200);
    assert_eq!(call("GET", &format!("{}/readyz", s.url), "", "", "").0, 200);
    let (_, m) = call("GET", &format!("{}/metrics", s.url), "", "", "");
    let m = m.as_str().unwrap().to_string();
    for k in [
        "agora_cycle_seconds_bucket",
        "agora_journal_commit_seconds_count",
        "agora_queue_depth",
        "agora_admissions_total",
    ] {
        assert!(m.contains(k), "metrics lack {k}");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_token_over_its_rate_gets_429_with_a_clear_message() {
    let d = tempdir("rate");
    let s = Server::start(&d, &["--rate-limit", "5"]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    let statuses: Vec<u16> = (0..30).map(|_| api.get("/v1/cluster").0).collect();
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    let (st, v) = api.get("/v1/cluster");
    assert_eq!(st, 429);
    assert!(v["message"].as_str().unwrap().contains("at most 5 requests per second"));
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn holds_dependencies_arrays_and_why_follow_the_job_through_its_life() {
    let d = tempdir("life");
    let s = Server::start(&d, &[]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    let first = api.submit(json!({"project": "ocean-emulator", "accelerators": 8, "duration": "1s"}));
    let bad = api.submit(json!({"project": "ocean-emulator", "accelerators": 8, "duration": "1s", "exit_code": 3}));
    let ok_dep = api.submit(json!({"project": "ocean-emulator", "accelerators": 8, "duration": "2h", "dependency": format!("afterok:{first}")}));
    let broken =
        api.submit(json!({"project": "ocean-emulator", "accelerators": 8, "dependency": format!("afterok:{bad}")}));
    let any_dep = api.submit(json!({"project": "ocean-emulator", "accelerators": 8, "duration": "2h", "dependency": format!("afterany:{bad}")}));
    assert_eq!(api.get(&format!("/v1/jobs/{ok_dep}")).1["state"], "dependency");
    let why = api.get(&format!("/v1/jobs/{ok_dep}/why")).1;
    assert!(why["reason"].as_str().unwrap().contains(&format!("job {first} (afterok)")), "{why}");
    wait_for("dependencies to resolve", || api.get(&format!("/v1/jobs/{ok_dep}")).1["state"] == "running");
    assert_eq!(api.get(&format!("/v1/jobs/{first}")).1["state"], "completed");
    let b = api.get(&format!("/v1/jobs/{bad}")).1;
    assert_eq!((b["state"].as_str(), b["exit_code"].as_i64()), (Some("failed"), Some(3)));
    assert_eq!(api.get(&format!("/v1/jobs/{broken}")).1["state"], "cancelled");
    wait_for("afterany", || api.get(&format!("/v1/jobs/{any_dep}")).1["state"] == "running");
    // Fill the site so that a job waits, then hold and release it.
    let big = api.submit(json!({"project": "national-llm", "accelerators": 1600, "duration": "2h"}));
    wait_for("the big job", || api.get(&format!("/v1/jobs/{big}")).1["state"] == "running");
    let waiting = api.submit(json!({"project": "national-llm", "accelerators": 1024, "duration": "2h"}));
    std::thread::sleep(Duration::from_millis(200));
    let why = api.get(&format!("/v1/jobs/{waiting}/why")).1;
    assert_eq!(why["state"], "pending", "{why}");
    assert!(why["reason"].as_str().unwrap().contains("1,024 accelerators"), "{why}");
    assert_eq!(api.post(&format!("/v1/jobs/{waiting}/hold"), json!({})).1["state"], "held");
    assert_eq!(api.get(&format!("/v1/jobs/{waiting}/why")).1["reason"], "held by its owner; release it to queue it");
    let (st, v) = api.post(&format!("/v1/jobs/{waiting}/hold"), json!({}));
    assert_eq!((st, v["code"].as_str()), (409, Some("conflict")));
    assert_eq!(api.post(&format!("/v1/jobs/{waiting}/release"), json!({})).1["state"], "pending");
    assert_eq!(api.post(&format!("/v1/jobs/{big}/cancel"), json!({})).1["state"], "cancelled");
    wait_for("the waiting job to start", || api.get(&format!("/v1/jobs/{waiting}")).1["state"] == "running");
    let kinds: Vec<String> = api
        .get(&format!("/v1/jobs/{waiting}/events"))
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    // Reserved while it waited at the head of the queue (and perhaps again
    // after its release, if a cycle came before the big job's cancel).
    assert_eq!(kinds[..2], ["submitted", "reserved"], "{kinds:?}");
    let rest: Vec<&String> = kinds.iter().filter(|k| *k != "reserved").collect();
    assert_eq!(rest, ["submitted", "held", "released", "started"]);
    let (st, _) = api.post(&format!("/v1/jobs/{big}/cancel"), json!({}));
    assert_eq!(st, 409);
    // Accounting: the completed and the running jobs are charged.
    let (_, u) = api.get("/v1/usage?by=programme");
    assert!(u.as_array().unwrap().iter().any(|r| r["key"] == "eu/open-research"), "{u}");
    let (st, csv) = api.get("/v1/usage?by=user&format=csv");
    assert_eq!(st, 200);
    assert!(csv.as_str().unwrap().starts_with("user,accelerator_hours,jobs\nadmin,"), "{csv}");
    // Per job (what `agora slurm reconcile` compares): one row per
    // charged job, keyed by its id.
    let (_, by_job) = api.get("/v1/usage?by=job");
    let rows = by_job.as_array().unwrap();
    assert!(!rows.is_empty(), "{by_job}");
    for r in rows {
        let id: u64 = r["key"].as_str().unwrap().parse().unwrap_or_else(|_| panic!("{r}"));
        assert_eq!(api.get(&format!("/v1/jobs/{id}")).1["id"], id, "{r}");
        assert_eq!(r["jobs"], 1, "{r}");
        assert!(r["accelerator_hours"].as_f64().unwrap() > 0.0, "{r}");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn local_executor_runs_commands_with_their_accelerators_and_cancels_with_sigterm() {
    let d = tempdir("local");
    let s = Server::start(&d, &["--executor", "local"]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    let echo = api.submit(json!({"project": "ocean-emulator", "accelerators": 2, "per_node": 2, "command": "echo \"acc=$AGORA_ACCELERATORS cuda=$CUDA_VISIBLE_DEVICES\"; exit 3"}));
    let ok = api.submit(json!({"project": "ocean-emulator", "accelerators": 1, "command": "echo fine"}));
    let sleeper = api.submit(json!({"project": "ocean-emulator", "accelerators": 1, "command": "trap 'echo got-term; exit 143' TERM; sleep 60 & wait"}));
    wait_for("the commands", || {
        api.get(&format!("/v1/jobs/{echo}")).1["state"] == "failed"
            && api.get(&format!("/v1/jobs/{ok}")).1["state"] == "completed"
    });
    assert_eq!(api.get(&format!("/v1/jobs/{echo}")).1["exit_code"], 3);
    let (st, log) = api.get(&format!("/v1/jobs/{echo}/log"));
    assert_eq!(st, 200);
    let log = log.as_str().unwrap().to_string();
    assert!(log.starts_with("acc=") && log.contains(":0,") && log.contains("cuda=0,1"), "{log}");
    wait_for("the sleeper to run", || api.get(&format!("/v1/jobs/{sleeper}")).1["state"] == "running");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(api.post(&format!("/v1/jobs/{sleeper}/cancel"), json!({})).1["state"], "cancelled");
    wait_for("SIGTERM to reach the job", || {
        api.get(&format!("/v1/jobs/{sleeper}/log")).1.as_str().is_some_and(|l| l.contains("got-term"))
    });
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_openapi_document_names_every_route_and_the_docs_page_works_offline() {
    let d = tempdir("openapi");
    let s = Server::start(&d, &[]);
    let (st, doc) = call("GET", &format!("{}/v1/openapi.json", s.url), "", "", "");
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let src = include_str!("../crates/agora-server/src/http.rs");
    for line in src.lines().filter(|l| l.trim_start().starts_with(".route(\"")) {
        let route = line.split('"').nth(1).unwrap();
        assert!(paths.iter().any(|p| p.as_str() == route), "{route} is served but not in the OpenAPI document");
    }
    let (st, html) = call("GET", &format!("{}/docs", s.url), "", "", "");
    assert_eq!(st, 200);
    let html = html.as_str().unwrap();
    assert!(
        html.contains("/v1/openapi.json") && !html.contains("http://") && !html.contains("https://"),
        "the docs page must need no network"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_cli_submits_lists_explains_and_cancels_with_url_and_token_from_the_environment() {
    let d = tempdir("cli");
    let s = Server::start(&d, &[]);
    let cli = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .env("AGORA_URL", &s.url)
            .env("AGORA_TOKEN", s.token.as_deref().unwrap())
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, out, err) = cli(&["submit", "-A", "ocean-emulator", "-G", "16", "-J", "train", "--duration", "2h"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "submitted job 1");
    std::fs::write(
        d.join("job.sh"),
        "#!/bin/sh\n#SBATCH -J big -A national-llm --gpus=64 -t 1:00:00 --dependency=afterok:1\nsrun x\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&["submit", d.join("job.sh").to_str().unwrap(), "-o", "json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jobs"], json!([2]));
    wait_for("job 1 to start", || cli(&["job", "1", "-o", "json"]).1.contains("\"running\""));
    let (ok, out, _) = cli(&["jobs"]);
    assert!(ok);
    assert!(out.lines().next().unwrap().contains("JOBID") && out.contains("train") && out.contains("running"), "{out}");
    let (ok, out, err) = cli(&["why", "2"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "job 2 (dependency): waiting for job 1 (afterok)");
    let (ok, out, _) = cli(&["cancel", "2"]);
    assert!(ok);
    assert_eq!(out.trim(), "job 2: cancelled");
    let (ok, _, err) = cli(&["cancel", "2"]);
    assert!(!ok);
    assert!(err.contains("server answered 409: job 2 has already ended"), "{err}");
    let (ok, out, _) = cli(&["events", "1", "-o", "json"]);
    assert!(ok);
    assert!(serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().len() >= 2);
    for args in [&["status"][..], &["tenants"], &["usage", "--by", "user", "--csv"], &["tokens"]] {
        let (ok, out, err) = cli(args);
        assert!(ok && !out.is_empty(), "{args:?}: {err}");
    }
    // A reader that is gone before the answer comes (`agora tenants | true`)
    // ends the command quietly, for every output path.
    for args in [&["tenants"][..], &["jobs", "-o", "json"], &["usage", "--csv"], &["cluster", "--live"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .args(["--url", &s.url, "--token", s.token.as_deref().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && !err.contains("panicked"), "{args:?}: {err}");
    }
    let (ok, out, err) = cli(&["cluster", "--live"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("philly: ") && out.contains("of 2,330 accelerators free") || out.contains("of 2330"),
        "{out}"
    );
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("POD")), "{out}");
    let (ok, out, err) = cli(&["tokens", "--create", "alice", "--role", "member", "--scope", "ocean-emulator"]);
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("agora_"));
    let o =
        Command::new(env!("CARGO_BIN_EXE_agora")).args(["jobs", "--url", &s.url, "--token", &token]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("train") && !out.contains("big"), "alice sees only ocean-emulator: {out}");
    let o = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["jobs", "--url", &s.url])
        .env_remove("AGORA_TOKEN")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("no API token"));
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn watchers_get_a_jobs_events_as_a_server_sent_event_stream() {
    let d = tempdir("watch");
    let s = Server::start(&d, &[]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    let first = api.submit(json!({"project": "ocean-emulator", "accelerators": 1, "duration": "2h"}));
    let resp = ureq::get(&format!("{}/v1/watch?tenant=ocean-emulator", s.url))
        .set("authorization", &format!("Bearer {}", api.token))
        .call()
        .unwrap();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let mut lines = BufReader::new(resp.into_reader()).lines();
    let id = api.submit(json!({"project": "ocean-emulator", "accelerators": 1, "duration": "2h"}));
    api.submit(json!({"project": "crop-vision", "accelerators": 1, "duration": "2h"}));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = lines.next().unwrap().unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let e: Value = serde_json::from_str(data).unwrap();
            if e["job"] == first {
                continue; // it may start after the watch began
            }
            assert_eq!(e["job"], id, "only the watched tenant's events: {e}");
            seen.push(e["kind"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ["submitted", "started"]);
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_demo_stream_submits_jobs_from_the_example_tenants() {
    let d = tempdir("demo");
    let s = Server::start(&d, &["--demo", "100"]);
    let api = Api { url: &s.url, token: s.token.clone().unwrap() };
    wait_for("demo jobs", || api.get("/v1/jobs?user=demo").1["jobs"].as_array().is_some_and(|j| j.len() >= 10));
    let jobs = api.get("/v1/jobs?user=demo").1;
    let projects: std::collections::HashSet<&str> =
        jobs["jobs"].as_array().unwrap().iter().map(|j| j["project"].as_str().unwrap()).collect();
    assert!(projects.len() >= 3, "{projects:?}");
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn login_keeps_url_and_token_in_a_private_config_file_and_watch_follows_a_job_to_its_end() {
    use std::io::Write;
    let d = tempdir("login");
    let s = Server::start(&d, &["--time-scale", "60"]);
    let config = d.join("home/agora/config.toml");
    let cli = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
            .args(args)
            .env("AGORA_CONFIG", &config)
            .env_remove("AGORA_URL")
            .env_remove("AGORA_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // A wrong token is refused by the server and nothing is written.
    let (ok, _, err) = cli(&["login", "--url", &s.url], "agora_wrong\n");
    assert!(!ok && err.contains("server answered 401"), "{err}");
    assert!(!config.exists(), "a refused login writes no config file");
    // The right one, typed on standard input, is checked and kept, readable by its owner only.
    let token = s.token.clone().unwrap();
    let (ok, out, err) = cli(&["login", "--url", &s.url], &format!("{token}\n"));
    assert!(ok, "{err}");
    assert!(out.contains(&format!("logged in to {}", s.url)), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    // Later commands need neither flags nor environment; a flag still wins.
    let (ok, out, err) = cli(&["submit", "-A", "ocean-emulator", "-G", "8", "--duration", "2m"], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "submitted job 1");
    let (ok, _, err) = cli(&["jobs", "--url", "http://127.0.0.1:1"], "");
    assert!(!ok && err.contains("cannot reach http://127.0.0.1:1"), "{err}");
    // `events --watch` prints the history, follows, and ends with the job (2 site minutes = 2 s).
    let (ok, out, err) = cli(&["events", "1", "--watch"], "");
    assert!(ok, "{err}");
    let kinds: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(kinds, ["submitted", "started", "completed"], "{out}");
    assert!(out.lines().all(|l| l.get(4..5) == Some("-") && l.get(19..20) == Some("Z")), "UTC times: {out}");
    // Usage over a period given as dates; a date that does not exist is refused by name.
    let (ok, out, err) = cli(&["usage", "--by", "user", "--from", "1970-01-01", "--to", "2999-12-31T23:59"], "");
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("admin") && l.contains("0.267")), "8 accelerators × 2 min: {out}");
    let (ok, _, err) = cli(&["usage", "--from", "2026-02-30"], "");
    assert!(!ok && err.contains("`2026-02-30` is neither Unix seconds nor a UTC date"), "{err}");
    // Logging out forgets the token only.
    let (ok, _, _) = cli(&["logout"], "");
    assert!(ok);
    let (ok, _, err) = cli(&["jobs"], "");
    assert!(!ok && err.contains("no API token: run `agora login`"), "{err}");
    assert!(std::fs::read_to_string(&config).unwrap().contains(&s.url));
    // Completions name the subcommands.
    let (ok, out, _) = cli(&["completions", "bash"], "");
    assert!(ok && out.contains("login") && out.contains("submit"), "{out}");
    drop(s);
    let _ = std::fs::remove_dir_all(&d);
}
