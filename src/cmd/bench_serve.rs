//! `agora bench serve`: the control plane under load, over loopback.
//!
//! 1. Start `agora serve` in this process (fresh data directory or
//!    database, virtual executor, no rate limit) and submit from a pool of
//!    client threads, one keep-alive connection each, for `--seconds`:
//!    sustained acknowledged (durable) submissions per second, p50/p99.
//! 2. Stop it, bulk-load the journal up to `--jobs-stored` jobs (arrays of
//!    10,000 jobs, cancelled, so the queue stays as phase 1 left it),
//!    restart (replaying everything), then time `GET /v1/jobs` pages of
//!    100 at random cursors and `GET /v1/jobs/{id}`: p99.
//! 3. Stop it cleanly (which snapshots the state) and start again: the
//!    restart restores the snapshot instead of replaying the journal.

use anyhow::Context;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Stores to measure: sqlite, postgres, or both (postgres needs --pg-url
    /// or AGORA_TEST_PG_URL).
    #[arg(long, default_value = "sqlite")]
    store: String,
    #[arg(long, env = "AGORA_TEST_PG_URL")]
    pg_url: Option<String>,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of sustained submission.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Jobs in the store for the list/get phase.
    #[arg(long, default_value_t = 1_000_000)]
    jobs_stored: u64,
    /// The cluster the server runs.
    #[arg(long, default_value = "gigafactory-100k-hgx")]
    cluster: String,
    /// Print a JSON array, one object per store.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Figures {
    store: String,
    connections: usize,
    submissions: u64,
    submissions_per_sec: f64,
    submit_ms_p50: f64,
    submit_ms_p99: f64,
    jobs_stored: u64,
    replay_s: f64,
    snapshot_restore_s: f64,
    snapshot_mb: f64,
    list_ms_p50: f64,
    list_ms_p99: f64,
    get_ms_p99: f64,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    // Seconds in, milliseconds out (to the microsecond).
    (v[rank.min(v.len()) - 1] * 1e6).round() / 1000.0
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let stores: Vec<&str> = match a.store.as_str() {
        "both" => vec!["sqlite", "postgres"],
        s @ ("sqlite" | "postgres") => vec![s],
        s => anyhow::bail!("--store `{s}`: use sqlite, postgres or both"),
    };
    let mut all = Vec::new();
    for s in stores {
        let f = one(&a, s)?;
        if !a.json {
            outln!(
                "{:<9} {:>8.0} durable submissions/s over {} connections (p50 {:.2} ms, p99 {:.2} ms); {} jobs stored (replayed in {:.1} s): GET /v1/jobs page of 100 p50 {:.2} ms, p99 {:.2} ms; GET /v1/jobs/{{id}} p99 {:.2} ms",
                f.store, f.submissions_per_sec, f.connections, f.submit_ms_p50, f.submit_ms_p99, f.jobs_stored, f.replay_s, f.list_ms_p50, f.list_ms_p99, f.get_ms_p99
            );
            outln!(
                "{:<9} restart from a {:.0} MB snapshot: {:.1} s (replaying the whole journal: {:.1} s, {:.1}x)",
                "",
                f.snapshot_mb,
                f.snapshot_restore_s,
                f.replay_s,
                f.replay_s / f.snapshot_restore_s.max(0.05)
            );
        }
        all.push(f);
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        outln!("(targets with SQLite: >= 10,000 submissions/s, submit p99 <= 20 ms, list p99 <= 10 ms at 10^6 jobs)");
    }
    Ok(())
}

fn one(a: &ServeArgs, store: &str) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!("agora-bench-serve-{}-{store}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec = match store {
        "sqlite" => dir.to_string_lossy().into_owned(),
        _ => {
            let url = a.pg_url.clone().context("postgres: pass --pg-url or set AGORA_TEST_PG_URL")?;
            agora_store::reset(&url)?;
            url
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let start = |spec: &str, snapshot_every: u64| {
        let site = agora_config::default_site();
        let topo = agora_config::cluster(&a.cluster)?;
        let cfg = agora_server::ServeConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.clone(),
            store: spec.to_string(),
            executor: agora_server::ExecutorKind::Virtual,
            time_scale: 1.0,
            fail_every: None,
            cycle_interval: Duration::from_secs(5),
            min_cycle_gap: Duration::from_secs(1),
            rate_limit: 0,
            body_limit: 1 << 20,
            demo: None,
            snapshot_every,
            run_logs: None,
        };
        rt.block_on(agora_server::start(topo, site.entitlements, site.scheduler, cfg)).map_err(anyhow::Error::from)
    };

    // Phase 1: sustained submissions (no snapshot: phase 2 replays it all).
    let server = start(&spec, 0)?;
    let url = format!("http://{}", server.addr);
    let token = server.admin_token.clone().context("a fresh store creates an admin token")?;
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let projects =
        ["km-scale-weather", "ocean-emulator", "crop-vision", "radiology-fm", "national-llm", "drug-discovery"];
    let mut threads = Vec::new();
    for c in 0..a.connections {
        let (url, token, stop, measuring) = (url.clone(), token.clone(), stop.clone(), measuring.clone());
        threads.push(std::thread::spawn(move || {
            let agent =
                ureq::AgentBuilder::new().max_idle_connections_per_host(1).timeout(Duration::from_secs(30)).build();
            let mut lat = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = format!(
                    r#"{{"project":"{}","accelerators":{},"duration":"6h","time_limit":"8h","name":"b{c}-{i}"}}"#,
                    projects[(c + i as usize) % projects.len()],
                    [1, 8, 16, 64][i as usize % 4]
                );
                let t0 = Instant::now();
                let r = agent
                    .post(&format!("{url}/v1/jobs"))
                    .set("authorization", &format!("Bearer {token}"))
                    .set("content-type", "application/json")
                    .send_string(&body);
                let dt = t0.elapsed().as_secs_f64();
                if r.is_err() {
                    return Err(format!("submission failed: {:?}", r.err()));
                }
                if measuring.load(Ordering::Relaxed) {
                    lat.push(dt);
                }
                i += 1;
            }
            Ok(lat)
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.seconds));
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in threads {
        lat.extend(t.join().map_err(|_| anyhow::anyhow!("client thread panicked"))?.map_err(anyhow::Error::msg)?);
    }
    let submissions = lat.len() as u64;
    let rate = submissions as f64 / elapsed;
    let (p50, p99) = (pct(&mut lat.clone(), 50.0), pct(&mut lat, 99.0));
    rt.block_on(server.shutdown());

    // Phase 2: bulk-load to `jobs_stored` jobs, restart, read.
    let mut journal = agora_store::open(&spec)?;
    let mut stored = 0u64;
    journal.replay(&mut |_, bytes| {
        if let Ok(agora_server::input::Input::Submit { spec, .. }) = agora_server::input::decode(bytes) {
            stored += spec.array.as_deref().map_or(1, |_| 10_000);
        }
        Ok(())
    })?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 1;
    let mut next_id = stored + 1;
    while stored < a.jobs_stored {
        let mut batch = Vec::new();
        for _ in 0..10 {
            if stored >= a.jobs_stored {
                break;
            }
            let n = (a.jobs_stored - stored).min(10_000);
            let spec = agora_api::JobSubmit {
                project: projects[(next_id % 6) as usize].into(),
                accelerators: Some(8),
                name: Some("bulk".into()),
                array: Some(format!("0-{}", n - 1)),
                ..Default::default()
            };
            let submit = agora_server::input::Input::Submit {
                now,
                user: "bulk".into(),
                spec: Box::new(spec),
                idempotency_key: None,
            };
            batch.push(agora_server::input::encode(&submit));
            for id in next_id..next_id + n {
                batch.push(agora_server::input::encode(&agora_server::input::Input::Cancel { now, job: id }));
            }
            next_id += n;
            stored += n;
        }
        journal.append(&batch)?;
    }
    drop(journal);
    let t0 = Instant::now();
    // Snapshots only when it stops (phase 3 restarts from that one).
    let server = start(&spec, u64::MAX)?;
    let replay_s = t0.elapsed().as_secs_f64();
    let url = format!("http://{}", server.addr);
    let total = next_id - 1;
    let mut threads = Vec::new();
    for c in 0..8u64 {
        let (url, token) = (url.clone(), token.clone());
        threads.push(std::thread::spawn(move || -> Result<(Vec<f64>, Vec<f64>), String> {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
            let mut rng = agora_core::rng::Rng::new(c + 1);
            let (mut list, mut get) = (Vec::new(), Vec::new());
            for _ in 0..300 {
                let cursor = rng.below(total.saturating_sub(100).max(1));
                let t0 = Instant::now();
                let r = agent
                    .get(&format!("{url}/v1/jobs?limit=100&cursor={cursor}"))
                    .set("authorization", &format!("Bearer {token}"))
                    .call();
                let body = r.map_err(|e| e.to_string())?.into_string().map_err(|e| e.to_string())?;
                list.push(t0.elapsed().as_secs_f64());
                if body.len() < 1000 {
                    return Err(format!("short page: {body}"));
                }
                let id = 1 + rng.below(total);
                let t0 = Instant::now();
                agent
                    .get(&format!("{url}/v1/jobs/{id}"))
                    .set("authorization", &format!("Bearer {token}"))
                    .call()
                    .map_err(|e| e.to_string())?;
                get.push(t0.elapsed().as_secs_f64());
            }
            Ok((list, get))
        }));
    }
    let (mut list, mut get) = (Vec::new(), Vec::new());
    for t in threads {
        let (l, g) = t.join().map_err(|_| anyhow::anyhow!("reader panicked"))?.map_err(anyhow::Error::msg)?;
        list.extend(l);
        get.extend(g);
    }
    rt.block_on(server.shutdown());

    // Phase 3: restart from the snapshot the clean stop took.
    let snapshot_mb = agora_store::open(&spec)?.load_snapshot()?.map_or(0.0, |(_, b)| b.len() as f64 / 1e6);
    let t0 = Instant::now();
    let server = start(&spec, u64::MAX)?;
    let snapshot_restore_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(server.snapshot.is_some(), "the restart did not use the snapshot");
    rt.block_on(server.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Figures {
        snapshot_restore_s: (snapshot_restore_s * 10.0).round() / 10.0,
        snapshot_mb: snapshot_mb.round(),
        store: store.into(),
        connections: a.connections,
        submissions,
        submissions_per_sec: rate.round(),
        submit_ms_p50: p50,
        submit_ms_p99: p99,
        jobs_stored: total,
        replay_s: (replay_s * 10.0).round() / 10.0,
        list_ms_p50: pct(&mut list.clone(), 50.0),
        list_ms_p99: pct(&mut list, 99.0),
        get_ms_p99: pct(&mut get, 99.0),
    })
}
