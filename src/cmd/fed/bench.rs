//! `agora bench fed`: one SecAgg+ round per shape, all sites on this
//! machine, 10% of them vanishing after sharing keys (the expensive
//! recovery path), against Flower's SecAgg+ on the same shape in the same
//! run. Both are timed the same way: per stage, the coordinator's time plus
//! the slowest site's (the round's latency when each site has its own
//! machine). Agora's messages go through the real wire encoding; Flower's
//! are passed as Python objects (no gRPC), which only favours Flower.

use agora_fed::prg::Prg;
use agora_fed::secagg::{Client, Params, Server, Step};
use anyhow::{bail, Context};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Shapes as SITESxPARAMS, comma-separated.
    #[arg(long, default_value = "100x1000000,1000x100000")]
    shapes: String,
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Skip Flower (no Python environment needed).
    #[arg(long)]
    no_flower: bool,
    /// Python environment for Flower (created with `pip install flwr` if absent).
    #[arg(long)]
    flower_venv: Option<PathBuf>,
    /// Run Flower on at most this many sites (same params, same k, t), if the
    /// full shape is too slow here; the output says so.
    #[arg(long)]
    flower_max_sites: Option<u32>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub struct Figures {
    pub coordinator_s: f64,
    pub per_site_s: f64,
    pub round_s: f64,
    pub bytes_per_site: f64,
}

/// One SecAgg+ round of `n` sites x `len` words, `dropout` vanishing after sharing keys.
pub fn agora_round(n: u32, len: u32, dropout: f64) -> anyhow::Result<(Params, Figures)> {
    let params = Params::for_sites(n, len);
    let mut rng = Prg::seeded(1);
    let t0 = Instant::now();
    let (mut server, setup) = Server::new(params.clone(), &mut rng)?;
    let mut coord = t0.elapsed().as_secs_f64();
    let mut clients: Vec<Option<Client>> = (0..n)
        .map(|i| {
            let mut r = Prg::seeded(1000 + i as u64);
            let x: Vec<u32> = (0..len).map(|_| r.next_u32() >> 12).collect();
            Some(Client::new(x, r))
        })
        .collect();
    let mut order: Vec<u32> = (0..n).collect();
    rng.shuffle(&mut order);
    let gone: std::collections::BTreeSet<u32> =
        order[..(dropout * n as f64).round() as usize].iter().copied().collect();
    let mut site_s = vec![0.0f64; n as usize];
    let mut sent = vec![0usize; n as usize];
    let mut stage_max = 0.0;
    let mut inbox = setup;
    let mut stage = 1;
    let agg = loop {
        let mut worst = 0.0f64;
        for (u, msg) in inbox {
            if stage == 3 && gone.contains(&u) {
                clients[u as usize] = None;
            }
            let Some(c) = clients[u as usize].as_mut() else { continue };
            let t = Instant::now();
            let reply = c.handle(&msg).map_err(|e| anyhow::anyhow!("site {u}: {e}"))?;
            let dt = t.elapsed().as_secs_f64();
            site_s[u as usize] += dt;
            worst = worst.max(dt);
            if let Some(r) = reply {
                sent[u as usize] += r.len();
                let t = Instant::now();
                server.receive(u, &r)?;
                coord += t.elapsed().as_secs_f64();
            }
        }
        stage_max += worst;
        let t = Instant::now();
        let step = server.advance()?;
        coord += t.elapsed().as_secs_f64();
        stage += 1;
        match step {
            Step::Send(m) => inbox = m,
            Step::Done(a) => break a,
        }
    };
    if agg.survivors.len() != (n as usize - gone.len()) {
        bail!("the round lost sites it should not have");
    }
    let alive: Vec<usize> = (0..n as usize).filter(|i| !gone.contains(&(*i as u32))).collect();
    Ok((
        params,
        Figures {
            coordinator_s: coord,
            per_site_s: alive.iter().map(|&i| site_s[i]).sum::<f64>() / alive.len() as f64,
            round_s: coord + stage_max,
            bytes_per_site: alive.iter().map(|&i| sent[i] as f64).sum::<f64>() / alive.len() as f64,
        },
    ))
}

fn flower_python(venv: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match venv {
        Some(d) => d.clone(),
        None => PathBuf::from(std::env::var("HOME").context("HOME is not set")?).join(".cache/agora/flwr-venv"),
    };
    let py = dir.join("bin/python");
    let ok = py.exists()
        && Command::new(&py).args(["-c", "import flwr"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("installing Flower into {} (pip install flwr==1.42.0)...", dir.display());
        let st = Command::new("python3").arg("-m").arg("venv").arg(&dir).status().context("python3 -m venv")?;
        if !st.success() {
            bail!("cannot create a Python venv at {}", dir.display());
        }
        let st = Command::new(dir.join("bin/pip"))
            .args(["install", "-q", "flwr==1.42.0"])
            .status()
            .context("pip install flwr")?;
        if !st.success() {
            bail!("pip install flwr failed");
        }
    }
    Ok(py)
}

fn flower_round(py: &PathBuf, n: u32, len: u32, dropout: f64, p: &Params) -> anyhow::Result<Figures> {
    let script = std::env::temp_dir().join(format!("agora-flower-secaggplus-{}.py", std::process::id()));
    std::fs::write(&script, include_str!("flower_secaggplus.py"))?;
    let o = Command::new(py)
        .arg(&script)
        .args(["--sites", &n.to_string(), "--params", &len.to_string(), "--dropout", &dropout.to_string()])
        .args(["--neighbours", &p.k.to_string(), "--threshold", &p.t.to_string()])
        .output()
        .context("running Flower")?;
    let _ = std::fs::remove_file(&script);
    if !o.status.success() {
        bail!("Flower's round failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).context("Flower's output")?;
    let f = |k: &str| v[k].as_f64().with_context(|| format!("Flower's output lacks {k}"));
    Ok(Figures {
        coordinator_s: f("coordinator_s")?,
        per_site_s: f("per_site_s")?,
        round_s: f("round_s")?,
        bytes_per_site: f("bytes_per_site")?,
    })
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if !(0.0..0.5).contains(&a.dropout) {
        bail!("--dropout must be in [0, 0.5)");
    }
    let mut shapes = Vec::new();
    for s in a.shapes.split(',') {
        let (n, p) = s.split_once('x').with_context(|| format!("shape `{s}`: expected SITESxPARAMS"))?;
        let n: u32 = n.trim().parse().with_context(|| format!("shape `{s}`: sites"))?;
        let p: u32 = p.trim().parse().with_context(|| format!("shape `{s}`: params"))?;
        if n < 3 || p == 0 {
            bail!("shape `{s}`: need at least 3 sites and 1 parameter");
        }
        shapes.push((n, p));
    }
    let py = if a.no_flower { None } else { Some(flower_python(&a.flower_venv)?) };
    let mut rows = Vec::new();
    for (n, p) in shapes {
        let (params, ag) = agora_round(n, p, a.dropout)?;
        let mut row = json!({
            "sites": n, "params": p, "dropout": a.dropout, "neighbours": params.k, "threshold": params.t,
            "agora_round_s": ag.round_s, "agora_coordinator_s": ag.coordinator_s, "agora_per_site_s": ag.per_site_s,
            "bytes_per_site": ag.bytes_per_site,
        });
        if let Some(py) = &py {
            let fn_ = a.flower_max_sites.map_or(n, |m| m.min(n));
            let fp = if fn_ == n { params.clone() } else { Params::for_sites(fn_, p) };
            let fl = flower_round(py, fn_, p, a.dropout, &fp)?;
            let o = row.as_object_mut().expect("object");
            o.insert("flower_sites".into(), json!(fn_));
            o.insert("flower_round_s".into(), json!(fl.round_s));
            o.insert("flower_coordinator_s".into(), json!(fl.coordinator_s));
            o.insert("flower_per_site_s".into(), json!(fl.per_site_s));
            o.insert("flower_bytes_per_site".into(), json!(fl.bytes_per_site));
            if fn_ == n {
                o.insert("speedup".into(), json!(fl.round_s / ag.round_s));
            } else {
                // Compare like with like: Agora on Flower's smaller shape too.
                let (_, small) = agora_round(fn_, p, a.dropout)?;
                o.insert("agora_round_s_at_flower_shape".into(), json!(small.round_s));
                o.insert("speedup".into(), json!(fl.round_s / small.round_s));
            }
        } else {
            row.as_object_mut().expect("object").insert("flower_round_s".into(), serde_json::Value::Null);
        }
        rows.push(row);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("SecAgg+ round, all sites on this machine, {:.0}% of sites vanish after sharing keys", a.dropout * 100.0);
    println!("round time = per stage, coordinator + slowest site (each site on its own machine)");
    println!(
        "agora expands masks on up to {} threads (coordinator and each site); Flower's code is single-threaded numpy",
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    );
    for r in &rows {
        println!(
            "\n{} sites x {} params (k = {}, t = {}):\n  agora : round {:.3} s, coordinator {:.3} s, per site {:.3} s, {:.0} bytes sent per site",
            r["sites"], r["params"], r["neighbours"], r["threshold"],
            r["agora_round_s"].as_f64().unwrap_or(0.0), r["agora_coordinator_s"].as_f64().unwrap_or(0.0),
            r["agora_per_site_s"].as_f64().unwrap_or(0.0), r["bytes_per_site"].as_f64().unwrap_or(0.0)
        );
        if let Some(f) = r["flower_round_s"].as_f64() {
            let note = if r["flower_sites"] != r["sites"] {
                format!(" (on {} sites: the full shape is too slow here)", r["flower_sites"])
            } else {
                String::new()
            };
            println!(
                "  flower: round {:.3} s, coordinator {:.3} s, per site {:.3} s, {:.0} bytes sent per site{note}",
                f,
                r["flower_coordinator_s"].as_f64().unwrap_or(0.0),
                r["flower_per_site_s"].as_f64().unwrap_or(0.0),
                r["flower_bytes_per_site"].as_f64().unwrap_or(0.0)
            );
            println!("  agora is {:.1}x faster per round", r["speedup"].as_f64().unwrap_or(0.0));
        }
    }
    Ok(())
}
