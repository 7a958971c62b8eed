//! End-to-end federated training: the real `agora` binary as coordinator
//! and as site agents, over loopback TLS, each in its own directory.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

fn agora(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora")).args(args).current_dir(dir).output().expect("agora runs")
}

fn spawn(dir: &Path, args: &[&str], log: &str) -> Child {
    let out = std::fs::File::create(dir.join(format!("{log}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{log}.err"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(args)
        .current_dir(dir)
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("agora starts")
}

fn tempdir(name: &str) -> PathBuf {
    common::tempdir("fed", name)
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn fed_demo_trains_the_four_hospitals_over_tls_and_writes_the_report() {
    let d = tempdir("demo");
    let o = agora(&d, &["fed", "demo", "--rounds", "15", "--out", "out"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    for h in ["Cleveland", "Hungary", "Switzerland", "VA Long Beach"] {
        assert!(out.contains(&format!("site joined: {h}")), "{out}");
    }
    assert!(out.contains("round  15/15: 4 sites"), "{out}");
    let acc: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("final model: pooled test accuracy "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("final accuracy printed");
    // FLamby FedAvg: 0.748 ± 0.027.
    assert!(acc > 0.748 - 2.0 * 0.027, "{acc}");
    let report = std::fs::read_to_string(d.join("out/report.html")).unwrap();
    assert!(report.contains("<svg") && report.contains("against ε"));
    let points: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/privacy.json")).unwrap()).unwrap();
    let eps: Vec<f64> = points.as_array().unwrap().iter().map(|p| p["epsilon"].as_f64().unwrap()).collect();
    assert_eq!(eps.len(), 6);
    assert!(eps.windows(2).all(|w| w[1] < w[0]), "more noise, less ε: {eps:?}");
}

#[test]
fn serve_and_join_with_a_builtin_site_and_a_bring_your_own_trainer() {
    let d = tempdir("serve");
    let run = "name = \"two-hospitals\"\nproject = \"health/federation-coordinator/fed-cardio\"\ndataset = \"fed-heart-disease\"\n\
               inputs = 13\nrounds = 3\nsites = [\"Cleveland\", \"Hungary\"]\nmin_sites = 2\n[model]\nkind = \"logistic\"\n\
               [local]\nsteps = 50\nbatch = 4\nlr = 0.01\noptimizer = \"sgd\"\nprox_mu = 0.0\n[strategy]\nname = \"fedavg\"\n";
    std::fs::write(d.join("run.toml"), run).unwrap();
    let o = agora(&d, &["fed", "serve", "--run", "run.toml", "--dir", "state", "--init-only"]);
    assert!(o.status.success(), "{:?}", text(&o));
    // Hungary's data sits at a private path that must never reach the coordinator.
    let secret = d.join("secret-hungary-records");
    let o = agora(
        &d,
        &["fed", "export", "--dataset", "fed-heart-disease", "--site", "Hungary", "--out", secret.to_str().unwrap()],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = spawn(
        &d,
        &["fed", "serve", "--run", "run.toml", "--dir", "state", "--listen", &addr, "--join-timeout", "60"],
        "serve",
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fed/byo_logreg.py");
    let cmd = format!("python3 {} {}/train.csv {}/test.csv", script.display(), secret.display(), secret.display());
    let mut a = spawn(
        &d,
        &[
            "fed",
            "join",
            "--coordinator",
            &addr,
            "--credentials",
            "state/sites/Cleveland.pem",
            "--data",
            "fed-heart-disease:Cleveland",
        ],
        "cleveland",
    );
    let mut b = spawn(
        &d,
        &[
            "fed",
            "join",
            "--coordinator",
            &addr,
            "--credentials",
            "state/sites/Hungary.pem",
            "--command",
            &cmd,
            "--workdir",
            "hungary-work",
        ],
        "hungary",
    );
    let sa = a.wait().unwrap();
    let sb = b.wait().unwrap();
    let ss = server.wait().unwrap();
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert!(
        ss.success() && sa.success() && sb.success(),
        "serve: {} {}\nA: {}\nB: {} {}",
        read("serve.out"),
        read("serve.err"),
        read("cleveland.err"),
        read("hungary.out"),
        read("hungary.err")
    );
    let status = read("state/status.json");
    let st: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(st["state"], "finished");
    assert_eq!(st["project"], "health/federation-coordinator/fed-cardio");
    assert_eq!(st["history"].as_array().unwrap().len(), 3);
    for r in st["history"].as_array().unwrap() {
        assert_eq!(r["participants"].as_array().unwrap().len(), 2, "{status}");
    }
    // Both sites reported metrics on the final model, Hungary through its own script.
    let finals: Vec<&serde_json::Value> =
        st["evals"].as_array().unwrap().iter().filter(|e| e["version"] == 3).collect();
    assert_eq!(finals.len(), 2, "{status}");
    for f in ["serve.out", "serve.err", "state/status.json", "state/report.html"] {
        assert!(!read(f).contains("secret-hungary-records"), "{f} names the site's data");
    }
    let o = agora(&d, &["fed", "status", "--dir", "state"]);
    assert!(text(&o).0.contains("finished"), "{:?}", text(&o));
}

#[test]
fn a_site_with_credentials_from_another_coordinator_is_refused() {
    let d = tempdir("creds");
    let run = "name = \"r\"\ndataset = \"fed-heart-disease\"\ninputs = 13\nrounds = 1\nsites = [\"Cleveland\", \"Hungary\"]\n\
               [model]\nkind = \"logistic\"\n[local]\nsteps = 1\nbatch = 4\nlr = 0.01\noptimizer = \"sgd\"\nprox_mu = 0.0\n[strategy]\nname = \"fedavg\"\n";
    std::fs::write(d.join("run.toml"), run).unwrap();
    for dir in ["real", "other"] {
        assert!(agora(&d, &["fed", "serve", "--run", "run.toml", "--dir", dir, "--init-only"]).status.success());
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = spawn(
        &d,
        &["fed", "serve", "--run", "run.toml", "--dir", "real", "--listen", &addr, "--join-timeout", "3"],
        "serve",
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = agora(
        &d,
        &[
            "fed",
            "join",
            "--coordinator",
            &addr,
            "--credentials",
            "other/sites/Cleveland.pem",
            "--data",
            "fed-heart-disease:0",
        ],
    );
    assert!(!o.status.success(), "an impostor joined: {:?}", text(&o));
    // The coordinator saw nobody it knows: it ends without training.
    let s = server.wait().unwrap();
    assert!(!s.success());
    let err = std::fs::read_to_string(d.join("serve.err")).unwrap();
    assert!(err.contains("only 0 sites"), "{err}");
}

#[test]
fn bad_run_files_are_clear_errors() {
    let d = tempdir("bad");
    std::fs::write(d.join("run.toml"), "name = \"x\"\nrounds = 0\n").unwrap();
    let o = agora(&d, &["fed", "serve", "--run", "run.toml", "--dir", "s", "--init-only"]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("run.toml"), "{:?}", text(&o));
    let o = agora(&d, &["fed", "join", "--coordinator", "127.0.0.1:1", "--credentials", "nope.pem", "--data", "x:y"]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("nope.pem"));
}

#[test]
fn bench_fed_json_has_one_object_per_shape() {
    let d = tempdir("bench");
    let o = agora(&d, &["bench", "fed", "--no-flower", "--shapes", "5x1000,12x300", "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (r, (n, p)) in rows.iter().zip([(5, 1000), (12, 300)]) {
        assert_eq!((r["sites"].as_u64(), r["params"].as_u64()), (Some(n), Some(p)));
        assert_eq!(r["dropout"].as_f64(), Some(0.1));
        assert!(r["agora_round_s"].as_f64().unwrap() > 0.0);
        assert!(r["flower_round_s"].is_null());
        // A masked vector of p words plus framing.
        assert!(r["bytes_per_site"].as_f64().unwrap() > 4.0 * p as f64);
    }
    let o = agora(&d, &["bench", "fed", "--no-flower", "--shapes", "2x10"]);
    assert!(!o.status.success() && text(&o).1.contains("at least 3 sites"));
}
