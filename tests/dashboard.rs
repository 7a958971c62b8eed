//! The web dashboard in a real browser: the `agora serve` binary on a free
//! port, headless Chromium from the distribution (`chromium`,
//! `chromium-driver`) driven over WebDriver by a small client on ureq.
//! Screenshots of every view go to `$CARGO_TARGET_TMPDIR/dashboard/`.
//! Under CI (CI=true) a missing chromedriver fails the tests; elsewhere
//! they say so and pass without a browser.

mod common;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One browser at a time: two Chromiums on a small CI machine would
/// distort the site map's timings.
static BROWSER: Mutex<()> = Mutex::new(());

struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Server {
    fn start(dir: &Path, cluster: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--listen", "127.0.0.1:0", "--data", "data", "--cluster", cluster];
        args.extend_from_slice(&["--cycle-interval", "0.2", "--min-cycle-gap", "0.05", "--rate-limit", "0"]);
        args.extend_from_slice(extra);
        let s = common::serve(&args, dir, &dir.join("server.log"), &[]);
        Server { child: s.child, url: s.url, token: s.token.expect("an admin token") }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let r = agent.request(method, &format!("{}{path}", self.url)).set("authorization", &format!("Bearer {token}"));
        let res = match body {
            None => r.call(),
            Some(b) => r.set("content-type", "application/json").send_string(&b.to_string()),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn token(&self, user: &str, scope: &str) -> String {
        let (s, v) =
            self.call("POST", "/v1/tokens", &self.token, Some(json!({"user": user, "role": "member", "scope": scope})));
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    fn submit(&self, token: &str, body: Value) -> u64 {
        let (s, v) = self.call("POST", "/v1/jobs", token, Some(body.clone()));
        assert_eq!(s, 201, "{body}: {v}");
        v["jobs"][0].as_u64().unwrap()
    }

    fn state(&self, id: u64) -> String {
        self.call("GET", &format!("/v1/jobs/{id}"), &self.token, None).1["state"].as_str().unwrap_or("").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("dash", name)
}

fn artefacts() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wait_for(what: &str, secs: u64, f: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(secs), f);
}

/// A WebDriver session on a chromedriver this test started.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// None when chromedriver is missing outside CI.
    fn start(dir: &Path) -> Option<Browser> {
        let driver_bin = ["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()));
        let Some(driver_bin) = driver_bin else {
            if std::env::var("CI").is_ok_and(|c| c == "true") {
                panic!("chromedriver is not installed: apt-get install chromium chromium-driver (.ci/run does); CI requires the browser tests");
            }
            eprintln!("chromedriver is not installed: the browser tests need chromium and chromium-driver");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(std::fs::File::create(dir.join("chromedriver.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let mut b = Browser { driver, base, session: String::new() };
        wait_for("chromedriver", 20, || {
            ureq::get(&format!("{}/status", b.base))
                .call()
                .is_ok_and(|r| r.into_json::<Value>().is_ok_and(|v| v["value"]["ready"] == true))
        });
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists());
        let mut opts = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1400,900", "--force-device-scale-factor=1", "--disable-extensions", "--no-first-run"]});
        if let Some(bin) = binary {
            opts["binary"] = json!(bin);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": opts}}});
        let v = b.raw("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_string();
        Some(b)
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
        let r = agent.request(method, &format!("{}{path}", self.base));
        let res = match body {
            Some(b) => r.set("content-type", "application/json").send_string(&b.to_string()),
            None => r.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("webdriver {method} {path}: {e}"),
        };
        let v: Value = resp.into_json().unwrap();
        v["value"].clone()
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.raw(method, &format!("/session/{}{path}", self.session), body);
        if let Some(err) = v.get("error") {
            panic!("webdriver {path}: {err}: {}", v["message"]);
        }
        v
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    fn js(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Wait until the JS expression is truthy; its value.
    fn wait_js(&self, what: &str, expr: &str) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.js(&format!("try {{ return ({expr}); }} catch (e) {{ return null; }}"));
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                panic!("timed out waiting for {what} ({expr}); on the page:\n{}", self.page_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let t0 = Instant::now();
        loop {
            let v = self.raw(
                "POST",
                &format!("/session/{}/element", self.session),
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_string();
            }
            if t0.elapsed() > Duration::from_secs(30) {
                panic!("no element {css}: {}\non the page:\n{}", v["message"], self.page_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd("POST", &format!("/element/{e}/value"), Some(json!({"text": text})));
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None).as_str().unwrap_or("").to_string()
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().expect("a screenshot"));
        assert_eq!(&png[..4], b"\x89PNG");
        let p = artefacts().join(format!("{name}.png"));
        std::fs::write(&p, png).unwrap();
        eprintln!("screenshot: {}", p.display());
        p
    }

    fn login(&self, url: &str, token: &str) {
        self.goto(&format!("{url}/"));
        self.js("sessionStorage.clear(); return 1;");
        self.goto(&format!("{url}/#/map"));
        self.type_into("#token", token);
        self.click("#login button[type=submit]");
        self.wait_js("the site map", "window.agoraMap && document.querySelector('#map-nodes')");
    }

    /// Navigate within the app and wait until the view has rendered.
    fn view(&self, hash: &str) {
        self.js(&format!(
            "document.getElementById('main').dataset.ready = ''; \
             if (location.hash === '{hash}') window.dispatchEvent(new HashChangeEvent('hashchange')); \
             else location.hash = '{hash}'; return 1;"
        ));
        self.wait_js(hash, "document.getElementById('main').dataset.ready");
    }

    fn page_text(&self) -> String {
        self.js("return document.body.innerText;").as_str().unwrap_or("").to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(|| self.raw("DELETE", &format!("/session/{}", self.session), None));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= (val(c) as u32) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn a_member_submits_watches_and_cancels_and_another_tenant_sees_none_of_it() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempdir("member");
    let s = Server::start(&d, "philly", &[]);
    let Some(b) = Browser::start(&d) else { return };
    let alice = s.token("alice", "ocean-emulator");
    let bob = s.token("bob", "radiology-fm");
    // Someone else fills most of the site, so that Alice's big job waits.
    let big = s.submit(&s.token, json!({"project": "national-llm", "accelerators": 1600, "duration": "2h"}));
    wait_for("the big job", 20, || s.state(big) == "running");

    // Alice logs in and submits through the form.
    b.login(&s.url, &alice);
    assert!(b.text("#who").contains("alice"), "{}", b.text("#who"));
    b.view("#/submit");
    b.click("#f-project option[value=ocean-emulator]");
    b.type_into("#f-name", "big-train");
    b.type_into("#f-accelerators", "1024");
    b.type_into("#f-time_limit", "3h");
    b.type_into("#f-duration", "2h");
    b.click("#submit-form button[type=submit]");
    let id: u64 = b
        .wait_js(
            "the job id",
            "document.querySelector('#submit-done a.submitted').getAttribute('href').split('/').pop()",
        )
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(s.state(id), "pending");

    // The queue shows it pending, with the server's reason in words.
    b.view("#/queue");
    let reason = b
        .wait_js(
            "the reason",
            &format!("document.querySelector('#queue-table tr[data-job=\"{id}\"] td.reason').textContent"),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("1,024 accelerators"), "{reason}");
    let why = s.call("GET", &format!("/v1/jobs/{id}/why"), &alice, None).1;
    // The server's words (the countdown in them moves on by the second).
    let first = |s: &str| s.split(';').next().unwrap().to_string();
    assert_eq!(first(&reason), first(why["reason"].as_str().unwrap()));
    b.screenshot("queue");
    // Live: a job submitted elsewhere shows up without a reload.
    let other = s.submit(&alice, json!({"project": "ocean-emulator", "accelerators": 1000, "name": "from-the-cli"}));
    b.wait_js("the new job, live", &format!("document.querySelector('#queue-table tr[data-job=\"{other}\"]')"));
    assert_eq!(s.call("POST", &format!("/v1/jobs/{other}/cancel"), &alice, Some(json!({}))).0, 200);
    b.wait_js(
        "it gone from the pending queue",
        &format!("!document.querySelector('#queue-table tr[data-job=\"{other}\"]')"),
    );

    // Hold and release from the job page.
    b.view(&format!("#/jobs/{id}"));
    b.click("#act-hold");
    b.wait_js("held", "document.getElementById('job-state').textContent === 'held'");
    assert_eq!(s.state(id), "held");
    b.click("#act-release");
    b.wait_js("pending again", "document.getElementById('job-state').textContent === 'pending'");
    assert_eq!(s.state(id), "pending");

    // The site map: nothing of Alice's runs yet; once the big job is gone,
    // hers starts and its nodes turn up as hers, live.
    b.view("#/map");
    assert_eq!(b.text("#map-mine"), "0");
    assert_eq!(s.call("POST", &format!("/v1/jobs/{big}/cancel"), &s.token, Some(json!({}))).0, 200);
    wait_for("Alice's job to start", 20, || s.state(id) == "running");
    let mine = b.wait_js("her nodes on the map", "window.agoraMap.counts.mine").as_u64().unwrap();
    assert_eq!(mine, 1024 / 8, "her 1,024 accelerators fill 128 eight-GPU nodes");
    b.js("window.agoraMap.select(window.agoraMap.blockOf(window.agoraMap.data.mine[0][0])); return 1;");
    b.wait_js("the block's jobs", &format!("document.querySelector('#block-table a[href=\"#/jobs/{id}\"]')"));
    b.screenshot("map");
    // The keyboard alone: ] selects the next block, Enter lists its nodes.
    let selected = b.js("return window.agoraMap.selected;").as_u64().unwrap();
    let canvas = b.find("#sitemap");
    b.cmd("POST", &format!("/element/{canvas}/value"), Some(json!({"text": "]\u{E007}"})));
    b.wait_js(
        "the next block",
        &format!("window.agoraMap.selected === {} && document.querySelector('aside.side h2')", selected + 1),
    );
    let next = b.js("return window.agoraMap.data.blocks[window.agoraMap.selected].name;");
    b.wait_js("its table", &format!("document.querySelector('aside.side h2').textContent.endsWith({next})"));

    // Her job's page: timeline, placement, log, and the cancel button.
    b.view(&format!("#/jobs/{id}"));
    assert_eq!(b.text("#job-state"), "running");
    let timeline = b.text("#timeline");
    assert!(timeline.contains("submitted") && timeline.contains("started"), "{timeline}");
    assert_eq!(b.js("return window.agoraMap ? 1 : 0;"), 1);
    b.wait_js("the placement", "document.getElementById('placement').width > 0");
    assert!(b.text("#job-log").contains("keeps none"), "the virtual executor keeps no logs: {}", b.text("#job-log"));
    b.screenshot("job");
    // Site time is counted in whole seconds: let a second pass, so that the
    // run shows in the usage view below.
    std::thread::sleep(Duration::from_millis(1100));
    b.click("#act-cancel");
    b.wait_js("cancelled", "document.getElementById('job-state').textContent === 'cancelled'");
    assert_eq!(s.state(id), "cancelled");
    assert!(b.text("#timeline").contains("cancelled"));

    // A bad submission: the server's message next to the field.
    b.view("#/submit");
    b.click("#f-project option[value=ocean-emulator]");
    b.type_into("#f-accelerators", "8");
    b.type_into("#f-time_limit", "soon");
    b.click("#submit-form button[type=submit]");
    let shown = b
        .wait_js("the field error", "document.getElementById('err-time_limit').textContent")
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = s.call(
        "POST",
        "/v1/jobs",
        &alice,
        Some(json!({"project": "ocean-emulator", "accelerators": 8, "time_limit": "soon"})),
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("time_limit")));
    assert_eq!(shown, v["message"].as_str().unwrap());
    assert_eq!(b.text("#err-general"), "");
    b.screenshot("submit-error");
    // And a bad script, next to the script.
    b.type_into("#f-script", "#!/bin/bash\n#SBATCH -A ocean-emulator\n#SBATCH --gpus=abc\n");
    b.click("#script-form button[type=submit]");
    let shown = b
        .wait_js("the script error", "document.getElementById('err-script').textContent")
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.contains("abc"), "{shown}");

    // Shares and usage as Alice: her own tenants only.
    let running = s.submit(
        &alice,
        json!({"project": "ocean-emulator", "accelerators": 16, "duration": "2h", "name": "alice-secret"}),
    );
    wait_for("Alice's second job", 20, || s.state(running) == "running");
    b.view("#/shares");
    b.wait_js("the share charts", "document.querySelectorAll('#share-charts .uplot').length");
    b.screenshot("shares");
    b.view("#/usage");
    b.wait_js("the usage table", "document.querySelector('#usage-table tbody tr')");
    b.screenshot("usage");
    // CSV export: the file the button hands the browser is the server's CSV.
    b.js("window.__csv = null; let text = null; const make = URL.createObjectURL; \
          URL.createObjectURL = (blob) => { blob.text().then((t) => { text = t; }); return make(blob); }; \
          HTMLAnchorElement.prototype.click = function () { \
            if (this.download) { const name = this.download; const wait = () => (text === null ? setTimeout(wait, 20) : (window.__csv = [name, text])); wait(); } }; \
          return 1;");
    b.click("#u-csv");
    let csv = b.wait_js("the CSV", "window.__csv");
    assert_eq!(csv[0], "agora-usage-programme.csv");
    let text = csv[1].as_str().unwrap();
    assert!(text.starts_with("programme,accelerator_hours,jobs\neu/open-research,"), "{text}");

    // Bob, of another tenant: Alice's jobs are nowhere.
    b.click("#logout");
    b.type_into("#token", &bob);
    b.click("#login button[type=submit]");
    b.wait_js("Bob's map", "window.agoraMap && document.querySelector('#map-nodes')");
    assert!(b.text("#who").contains("bob"));
    assert_eq!(b.text("#map-mine"), "0");
    // The block where Alice's job runs lists none of it for Bob.
    let (_, m) = s.call("GET", &format!("/v1/map?job={running}"), &alice, None);
    let node = m["job_nodes"][0].as_u64().unwrap();
    b.js(&format!("window.agoraMap.select(window.agoraMap.blockOf({node})); return 1;"));
    b.wait_js("the block", "document.querySelector('#block-table tbody tr')");
    let block = b.text("#block-table");
    assert!(!block.contains(&format!("#{running}")) && !block.contains("alice"), "{block}");
    let secrets = ["alice", "ocean-emulator", "climate-institute", "big-train", "alice-secret"];
    let views = ["#/map", "#/queue", "#/shares", "#/usage", "#/submit"];
    for v in views {
        b.view(v);
        std::thread::sleep(Duration::from_millis(300));
        if v == "#/queue" {
            b.click("#q-state option[value='']");
            b.click(".filters button[type=submit]");
            b.wait_js("Bob's queue", "document.getElementById('queue-status').textContent");
        }
        let text = b.page_text();
        for sec in secrets {
            assert!(!text.contains(sec), "Bob sees `{sec}` on {v}:\n{text}");
        }
        let html = b.js("return document.documentElement.outerHTML;").as_str().unwrap().to_string();
        assert!(
            !html.contains("ocean-emulator") && !html.contains(&format!("/jobs/{running}\"")),
            "{v} leaks in its HTML"
        );
        b.screenshot(&format!("other-tenant-{}", v.trim_start_matches("#/")));
    }
    // Alice's job URLs answer as if they did not exist.
    let nonexistent = 999_999;
    for (job, missing) in [(id, nonexistent), (running, nonexistent + 1)] {
        b.view(&format!("#/jobs/{job}"));
        let foreign = b.text("#job-error");
        b.screenshot(&format!("other-tenant-job-{job}"));
        b.view(&format!("#/jobs/{missing}"));
        let absent = b.text("#job-error");
        assert_eq!(foreign.replace(&job.to_string(), "N"), absent.replace(&missing.to_string(), "N"));
        assert_eq!(foreign, format!("job {job} not found"));
        for path in [format!("/v1/jobs/{job}"), format!("/v1/map?job={job}"), format!("/v1/jobs/{job}/events")] {
            let (st, v) = s.call("GET", &path, &bob, None);
            let (st2, v2) = s.call("GET", &path.replace(&job.to_string(), &missing.to_string()), &bob, None);
            assert_eq!((st, v["code"].clone()), (404, json!("not_found")), "{path}");
            assert_eq!(
                (st2, v2["message"].as_str().unwrap().replace(&missing.to_string(), "N")),
                (404, v["message"].as_str().unwrap().replace(&job.to_string(), "N"))
            );
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_100k_site_map_with_a_full_queue_renders_in_2s_and_pans_in_under_50ms() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempdir("map100k");
    // Site time 100 times faster and a node failing every 30 site seconds
    // (repaired an hour later): failed nodes on the map, jobs requeued.
    let s = Server::start(&d, "gigafactory-100k-nvl72", &["--time-scale", "100", "--fail-every", "30"]);
    let Some(b) = Browser::start(&d) else { return };
    // A full site and a deep queue: arrays of gangs from several projects.
    let arrays = [
        ("frontier-pretraining", 64, "0-1399"),
        ("national-llm", 4, "0-2999"),
        ("radiology-fm", 8, "0-1999"),
        ("crop-vision", 256, "0-499"),
        ("drug-discovery", 16, "0-1999"),
        ("speech-eval", 1, "0-999"),
        ("sme-sandbox", 2, "0-999"),
    ];
    for (p, acc, arr) in arrays {
        s.submit(
            &s.token,
            json!({"project": p, "accelerators": acc, "array": arr, "duration": "8h", "time_limit": "10h"}),
        );
    }
    wait_for("the site to fill", 120, || {
        let c = s.call("GET", "/v1/cluster", &s.token, None).1;
        c["running"].as_u64().unwrap_or(0) > 1000
            && c["pending"].as_u64().unwrap_or(0) > 1000
            && c["failed_nodes"].as_array().is_some_and(|f| f.len() >= 3)
    });
    let c = s.call("GET", "/v1/cluster", &s.token, None).1;
    eprintln!(
        "site: {} running, {} pending, {} of {} accelerators free",
        c["running"], c["pending"], c["free"], c["capacity"]
    );
    b.login(&s.url, &s.token);
    // A fresh navigation: performance.now() counts from its start.
    b.goto(&format!("{}/#/map", s.url));
    let first = b.wait_js("the first draw", "window.agoraMapFirstDraw").as_f64().unwrap();
    assert_eq!(b.text("#map-nodes"), "25,002");
    assert_eq!(b.text("#map-blocks"), "1,389");
    let counts = b.js("return window.agoraMap.counts;");
    assert!(counts["failed"].as_u64().unwrap() >= 3 && counts["spare"].as_u64().unwrap() > 1000, "{counts}");
    eprintln!("node classes on the map: {counts}");
    // Five frames to warm up, then 60 measured.
    b.js("return window.agoraMap.benchFrames(5);");
    let mut frames: Vec<f64> = serde_json::from_value(b.js("return window.agoraMap.benchFrames(60);")).unwrap();
    frames.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (median, p95, worst) = (frames[30], frames[56], frames[59]);
    let full: f64 = serde_json::from_value(b.js(
        "window.agoraMap.fit(); const t = performance.now(); window.agoraMap.draw(); return performance.now() - t;",
    ))
    .unwrap();
    println!(
        "site map, gigafactory-100k-nvl72 (25,002 nodes, {} running, {} pending): rendered {first:.0} ms after navigation; \
         pan/zoom frames over 60: median {median:.1} ms, 95th percentile {p95:.1} ms, worst {worst:.1} ms; whole site {full:.1} ms",
        c["running"], c["pending"]
    );
    b.screenshot("map-100k");
    assert!(first < 2000.0, "the site map took {first:.0} ms after navigation");
    // The 95th percentile: a single frame can lose the CPU to the server or
    // a build on a shared 2-core machine; the figures above are printed.
    assert!(p95 < 50.0, "pan/zoom frames took {p95:.1} ms (95th percentile)");
    // Zoomed into a pod, labels and nodes are legible.
    b.js("const m = window.agoraMap; m.select(40); const p = m.data.pods[2]; const bl = m.data.blocks[p.first_block + p.blocks - 1]; \
          m.zoomTo([0, bl.first_node + bl.nodes - 1]); m.draw(); return 1;");
    b.wait_js("the block", "document.querySelector('#block-table tbody tr')");
    b.screenshot("map-100k-zoomed");
    // The queue of thousands, a page at a time with reasons.
    b.view("#/queue");
    b.wait_js("reasons", "document.querySelector('#queue-table td.reason') && document.querySelector('#queue-table td.reason').textContent");
    assert_eq!(b.js("return document.querySelectorAll('#queue-table tbody tr').length;"), 50);
    b.click("#q-next");
    b.wait_js("page 2", "document.querySelector('#queue-table caption').textContent === 'Page 2'");
    b.js("window.scrollTo(0, 0); return 1;");
    b.screenshot("queue-100k");
    // Programmes against their entitlements on a full site: some borrow.
    b.view("#/shares");
    b.wait_js("the share charts", "document.querySelectorAll('#share-charts .uplot').length");
    let borrowing = b.text("#borrowing");
    assert!(borrowing.contains("borrows"), "{borrowing}");
    b.screenshot("shares-100k");
    let _ = std::fs::remove_dir_all(&d);
}

/// The dashboard's API, without a browser: shapes, scoping, errors.
#[test]
fn the_map_block_shares_and_whoami_endpoints_are_scoped_like_the_rest_of_the_api() {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let d = tempdir("api");
    let s = Server::start(&d, "philly", &[]);
    let alice = s.token("alice", "ocean-emulator");
    let bob = s.token("bob", "radiology-fm");
    let get = |path: &str, t: &str| s.call("GET", path, t, None);

    let (st, me) = get("/v1/whoami", &alice);
    assert_eq!(st, 200);
    assert_eq!(
        me,
        json!({"user": "alice", "role": "member", "scope": "eu/open-research/climate-institute/ocean-emulator"})
    );
    assert_eq!(get("/v1/whoami", &s.token).1["scope"], "");
    assert_eq!(get("/v1/whoami", "agora_nope").0, 401);

    let small = s.submit(&alice, json!({"project": "ocean-emulator", "accelerators": 16, "duration": "2h"}));
    let wide = s.submit(&alice, json!({"project": "ocean-emulator", "accelerators": 64, "duration": "2h"}));
    wait_for("Alice's jobs", 20, || s.state(small) == "running" && s.state(wide) == "running");

    // Every node once; hers marked for her, not for Bob.
    let (st, m) = get("/v1/map", &alice);
    assert_eq!(st, 200);
    let nodes = m["accels"].as_array().unwrap().len();
    assert_eq!(nodes, 552);
    assert_eq!(m["used"].as_array().unwrap().len(), nodes);
    assert_eq!(m["state"].as_str().unwrap().len(), nodes);
    assert_eq!(m["blocks"].as_array().unwrap().len(), 36);
    let covered: u64 = m["blocks"].as_array().unwrap().iter().map(|b| b["nodes"].as_u64().unwrap()).sum();
    assert_eq!(covered, nodes as u64);
    let mine: u64 = m["mine"].as_array().unwrap().iter().map(|p| p[1].as_u64().unwrap()).sum();
    assert_eq!(mine, 80, "{}", m["mine"]);
    let used: u64 = m["used"].as_array().unwrap().iter().map(|u| u.as_u64().unwrap()).sum();
    assert_eq!(used, 80);
    assert_eq!(get("/v1/map", &bob).1["mine"], json!([]));
    assert_eq!(get("/v1/map", &bob).1["used"], m["used"], "occupancy is site-wide, like /v1/cluster");

    // Placement of a job: hers only.
    let (st, mj) = get(&format!("/v1/map?job={wide}"), &alice);
    assert_eq!(st, 200);
    let job_nodes = mj["job_nodes"].as_array().unwrap().clone();
    assert_eq!(job_nodes.len(), 8);
    let (st, v) = get(&format!("/v1/map?job={wide}"), &bob);
    let (st2, v2) = get("/v1/map?job=987654", &bob);
    assert_eq!((st, st2), (404, 404));
    assert_eq!(
        v["message"].as_str().unwrap().replace(&wide.to_string(), "N"),
        v2["message"].as_str().unwrap().replace("987654", "N")
    );
    assert_eq!(get("/v1/map?job=x", &alice).0, 400);
    assert_eq!(get("/v1/map?bogus=1", &alice).0, 400);

    // A block: nodes, and the jobs on them for those who may see them.
    let node = job_nodes[0].as_u64().unwrap();
    let block = m["blocks"].as_array().unwrap().iter().position(|b| {
        let f = b["first_node"].as_u64().unwrap();
        (f..f + b["nodes"].as_u64().unwrap()).contains(&node)
    });
    let path = format!("/v1/map/blocks/{}", block.unwrap());
    let (st, b) = get(&path, &alice);
    assert_eq!(st, 200);
    let jobs: Vec<u64> = b["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_u64().unwrap()))
        .collect();
    assert!(jobs.contains(&wide), "{b}");
    let (_, b_bob) = get(&path, &bob);
    assert!(b_bob["nodes"].as_array().unwrap().iter().all(|n| n["jobs"] == json!([])), "{b_bob}");
    assert_eq!(b_bob["nodes"].as_array().unwrap().len(), b["nodes"].as_array().unwrap().len());
    assert_eq!(get("/v1/map/blocks/36", &alice).0, 404);
    assert_eq!(get("/v1/map/blocks/-1", &alice).0, 400);

    // Shares: levels, scope, one value per sample.
    wait_for("two share samples", 20, || get("/v1/shares", &s.token).1["times"].as_array().unwrap().len() >= 2);
    let (st, sh) = get("/v1/shares?level=programme", &s.token);
    assert_eq!(st, 200);
    let progs: Vec<&str> = sh["tenants"].as_array().unwrap().iter().map(|t| t["path"].as_str().unwrap()).collect();
    assert!(progs.contains(&"eu/open-research") && progs.iter().all(|p| p.matches('/').count() == 1), "{progs:?}");
    let times = sh["times"].as_array().unwrap();
    assert!(times.windows(2).all(|w| w[0].as_u64() < w[1].as_u64()), "{times:?}");
    for t in sh["tenants"].as_array().unwrap() {
        assert_eq!(t["allocated"].as_array().unwrap().len(), times.len());
        assert_eq!(t["entitlement"].as_array().unwrap().len(), times.len());
    }
    let open = sh["tenants"].as_array().unwrap().iter().find(|t| t["path"] == "eu/open-research").unwrap();
    assert_eq!(open["allocated"].as_array().unwrap().last().unwrap(), 80);
    let (_, bob_sh) = get("/v1/shares", &bob);
    let paths: Vec<&str> = bob_sh["tenants"].as_array().unwrap().iter().map(|t| t["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["member-states/health/university-hospital-a/radiology-fm"]);
    assert_eq!(get("/v1/shares?level=galaxy", &alice).0, 400);
    assert_eq!(get("/v1/shares?points=0", &alice).0, 400);
    assert_eq!(get("/v1/shares?points=1", &s.token).1["times"].as_array().unwrap().len(), 1);

    // Size filters on the job list.
    let ids = |q: &str| -> Vec<u64> {
        get(&format!("/v1/jobs?{q}"), &alice).1["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("min_accelerators=32"), [wide]);
    assert_eq!(ids("max_accelerators=32"), [small]);
    assert_eq!(ids("min_accelerators=17&max_accelerators=63"), Vec::<u64>::new());

    // The page and its files: served without a token, nothing from elsewhere.
    let agent = ureq::AgentBuilder::new().build();
    let page = agent.get(&format!("{}/", s.url)).call().unwrap();
    assert_eq!(page.content_type(), "text/html");
    assert!(page.header("content-security-policy").unwrap().contains("default-src 'self'"));
    let html = page.into_string().unwrap();
    for (name, body) in agora_server::dashboard::files() {
        let refs = body.matches("http://").count() + body.matches("https://").count();
        let attribution = body.matches("https://github.com/leeoniya/uPlot").count();
        assert_eq!(refs, attribution, "{name} refers to another site");
    }
    for src in ["/ui/app.js", "/ui/style.css", "/ui/vendor/uplot/uPlot.iife.min.js"] {
        assert!(html.contains(src) || src == "/ui/app.js" && html.contains("/ui/app.js"), "{src}");
        let r = agent.get(&format!("{}{src}", s.url)).call().unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(matches!(agent.get(&format!("{}/ui/nope.js", s.url)).call(), Err(ureq::Error::Status(404, _))));
    let _ = std::fs::remove_dir_all(&d);
}
