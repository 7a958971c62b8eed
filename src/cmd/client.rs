//! The client commands: a thin blocking HTTP client (ureq) over `/v1`,
//! tables for people (squeue-like) and `-o json` for programs.

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(clap::Args, Clone)]
pub struct Conn {
    /// Server URL.
    #[arg(long, env = "AGORA_URL", default_value = "http://127.0.0.1:8080", global = true)]
    url: String,
    /// API token.
    #[arg(long, env = "AGORA_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Output: `table` or `json`.
    #[arg(short = 'o', long = "output", default_value = "table", global = true)]
    output: String,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Submit a job: a JSON or TOML spec, a Slurm batch script, or flags.
    Submit {
        #[command(flatten)]
        conn: Conn,
        /// A file (.json, .toml, or a batch script with #SBATCH lines); `-` for stdin.
        file: Option<String>,
        #[arg(long, short = 'A')]
        project: Option<String>,
        #[arg(long, short = 'G')]
        accelerators: Option<u32>,
        #[arg(long, short = 'J')]
        name: Option<String>,
        /// Time limit ("1h", "2-00:00:00").
        #[arg(long, short = 't')]
        time: Option<String>,
        /// How long the job really runs (virtual executor).
        #[arg(long)]
        duration: Option<String>,
        /// Shell command (local executor).
        #[arg(long)]
        command: Option<String>,
        /// A retried submission with the same key creates nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List jobs (squeue-like).
    Jobs {
        #[command(flatten)]
        conn: Conn,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one job.
    Job {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// Cancel a job.
    Cancel {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// Hold a pending job.
    Hold {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// Release a held job.
    Release {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// Why a job is waiting, and when it is expected to start.
    Why {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// A job's history.
    Events {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// A job's output (local executor).
    Log {
        #[command(flatten)]
        conn: Conn,
        id: u64,
    },
    /// The live site: capacity, free accelerators per pod, failed nodes.
    Status {
        #[command(flatten)]
        conn: Conn,
    },
    /// Accelerator-hours per tenant or user.
    Usage {
        #[command(flatten)]
        conn: Conn,
        /// funder, programme, organisation, project or user.
        #[arg(long, default_value = "project")]
        by: String,
        #[arg(long)]
        from: Option<u64>,
        #[arg(long)]
        to: Option<u64>,
        /// Print CSV.
        #[arg(long)]
        csv: bool,
    },
    /// The entitlement tree with each tenant's entitlement, allocation and usage.
    Tenants {
        #[command(flatten)]
        conn: Conn,
    },
    /// List API tokens, or create one (shown once).
    Tokens {
        #[command(flatten)]
        conn: Conn,
        /// Create a token for this user.
        #[arg(long)]
        create: Option<String>,
        /// site-admin, programme-manager, org-admin or member.
        #[arg(long, default_value = "member")]
        role: String,
        /// The tenant the role applies to.
        #[arg(long)]
        scope: Option<String>,
    },
}

struct Client {
    conn: Conn,
    agent: ureq::Agent,
}

impl Client {
    fn new(conn: Conn) -> Client {
        Client { conn, agent: ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(30)).build() }
    }
    fn req(&self, method: &str, path: &str) -> anyhow::Result<ureq::Request> {
        let token = self.conn.token.as_deref().context("no API token: pass --token or set AGORA_TOKEN")?;
        let url = format!("{}{path}", self.conn.url.trim_end_matches('/'));
        Ok(self.agent.request(method, &url).set("authorization", &format!("Bearer {token}")))
    }
    fn done(&self, r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<ureq::Response> {
        match r {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                let msg = body["message"].as_str().unwrap_or("(no message)");
                bail!("server answered {code}: {msg}")
            }
            Err(e) => bail!("cannot reach {}: {e}", self.conn.url),
        }
    }
    fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Ok(self.done(self.req("GET", path)?.call())?.into_json()?)
    }
    fn post<T: DeserializeOwned>(&self, path: &str, ct: &str, body: &str) -> anyhow::Result<T> {
        Ok(self.done(self.req("POST", path)?.set("content-type", ct).send_string(body))?.into_json()?)
    }
    fn json(&self) -> bool {
        self.conn.output == "json"
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn jobs_table(jobs: &[agora_api::Job]) {
    println!("{:>8}  {:<20} {:<28} {:<10} {:<10} {:>6}  NODES", "JOBID", "NAME", "PROJECT", "USER", "STATE", "ACCEL");
    for j in jobs {
        let nodes: Vec<&str> = j.allocation.iter().map(|a| a.node.as_str()).collect();
        println!(
            "{:>8}  {:<20} {:<28} {:<10} {:<10} {:>6}  {}",
            j.id,
            trunc(&j.name, 20),
            trunc(&j.project, 28),
            trunc(&j.user, 10),
            j.state.name(),
            j.accelerators,
            trunc(&nodes.join(","), 40)
        );
    }
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().rev().take(n - 1).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{t}")
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Submit { conn, file, project, accelerators, name, time, duration, command, idempotency_key } => {
            let c = Client::new(conn);
            let (ct, body) = match &file {
                Some(f) => {
                    let text = if f == "-" {
                        std::io::read_to_string(std::io::stdin())?
                    } else {
                        std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?
                    };
                    let ct = if f.ends_with(".json") {
                        "application/json"
                    } else if f.ends_with(".toml") {
                        "application/toml"
                    } else {
                        "text/x-shellscript"
                    };
                    (ct, text)
                }
                None => {
                    let mut m = serde_json::Map::new();
                    m.insert("project".into(), project.context("give a file or --project")?.into());
                    if let Some(a) = accelerators {
                        m.insert("accelerators".into(), a.into());
                    }
                    for (k, v) in [("name", name), ("time_limit", time), ("duration", duration), ("command", command)] {
                        if let Some(v) = v {
                            m.insert(k.into(), v.into());
                        }
                    }
                    ("application/json", Value::Object(m).to_string())
                }
            };
            let mut r = c.req("POST", "/v1/jobs")?.set("content-type", ct);
            if let Some(k) = &idempotency_key {
                r = r.set("idempotency-key", k);
            }
            let resp: agora_api::SubmitResponse = c.done(r.send_string(&body))?.into_json()?;
            if c.json() {
                return print_json(&resp);
            }
            let ids: Vec<String> = resp.jobs.iter().map(|j| j.to_string()).collect();
            println!("{} job {}", if resp.replayed { "already submitted:" } else { "submitted" }, ids.join(" "));
        }
        Command::Jobs { conn, state, project, user, limit, cursor } => {
            let c = Client::new(conn);
            let mut q = format!("/v1/jobs?limit={limit}");
            for (k, v) in [("state", state), ("project", project), ("user", user), ("cursor", cursor)] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            let page: agora_api::JobPage = c.get(&q)?;
            if c.json() {
                return print_json(&page);
            }
            jobs_table(&page.jobs);
            if let Some(n) = page.next_cursor {
                println!("(more: --cursor {n})");
            }
        }
        Command::Job { conn, id } => {
            let c = Client::new(conn);
            let j: agora_api::Job = c.get(&format!("/v1/jobs/{id}"))?;
            if c.json() {
                return print_json(&j);
            }
            jobs_table(std::slice::from_ref(&j));
        }
        Command::Cancel { conn, id } => act(conn, id, "cancel")?,
        Command::Hold { conn, id } => act(conn, id, "hold")?,
        Command::Release { conn, id } => act(conn, id, "release")?,
        Command::Why { conn, id } => {
            let c = Client::new(conn);
            let w: agora_api::Why = c.get(&format!("/v1/jobs/{id}/why"))?;
            if c.json() {
                return print_json(&w);
            }
            println!("job {id} ({}): {}", w.state.name(), w.reason);
            if let Some(t) = w.estimated_start {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                println!("expected to start in {}", agora_core::human_duration(t.saturating_sub(now)));
            }
        }
        Command::Events { conn, id } => {
            let c = Client::new(conn);
            let ev: Vec<agora_api::JobEvent> = c.get(&format!("/v1/jobs/{id}/events"))?;
            if c.json() {
                return print_json(&ev);
            }
            for e in ev {
                println!("{:>12}  {:<12} {}", e.time, e.kind, e.detail);
            }
        }
        Command::Log { conn, id } => {
            let c = Client::new(conn);
            let r = c.done(c.req("GET", &format!("/v1/jobs/{id}/log"))?.call())?;
            print!("{}", r.into_string()?);
        }
        Command::Status { conn } => {
            let c = Client::new(conn);
            let cl: agora_api::Cluster = c.get("/v1/cluster")?;
            if c.json() {
                return print_json(&cl);
            }
            println!(
                "{}: {} of {} accelerators free ({} stranded); {} running, {} pending; {} failed nodes",
                cl.name,
                cl.free,
                cl.capacity,
                cl.stranded,
                cl.running,
                cl.pending,
                cl.failed_nodes.len()
            );
            println!("{:<16} {:>10} {:>10}", "POD", "CAPACITY", "FREE");
            for p in &cl.pods {
                println!("{:<16} {:>10} {:>10}", p.name, p.capacity, p.free);
            }
        }
        Command::Usage { conn, by, from, to, csv } => {
            let c = Client::new(conn);
            let mut q = format!("/v1/usage?by={}", enc(&by));
            if let Some(f) = from {
                q.push_str(&format!("&from={f}"));
            }
            if let Some(t) = to {
                q.push_str(&format!("&to={t}"));
            }
            if csv {
                let r = c.done(c.req("GET", &format!("{q}&format=csv"))?.call())?;
                print!("{}", r.into_string()?);
                return Ok(());
            }
            let rows: Vec<agora_api::UsageRow> = c.get(&q)?;
            if c.json() {
                return print_json(&rows);
            }
            println!("{:<48} {:>14} {:>8}", by.to_uppercase(), "ACCEL-HOURS", "JOBS");
            for r in rows {
                println!("{:<48} {:>14.3} {:>8}", r.key, r.accelerator_hours, r.jobs);
            }
        }
        Command::Tenants { conn } => {
            let c = Client::new(conn);
            let ts: Vec<agora_api::Tenant> = c.get("/v1/tenants")?;
            if c.json() {
                return print_json(&ts);
            }
            println!("{:<56} {:<13} {:>12} {:>10} {:>12}", "TENANT", "LEVEL", "ENTITLEMENT", "ALLOCATED", "USAGE-H");
            for t in ts {
                println!(
                    "{:<56} {:<13} {:>12.1} {:>10} {:>12.1}",
                    t.path, t.level, t.entitlement, t.allocated, t.usage_hours
                );
            }
        }
        Command::Tokens { conn, create, role, scope } => {
            let c = Client::new(conn);
            match create {
                Some(user) => {
                    let body = serde_json::json!({"user": user, "role": role, "scope": scope});
                    let mut body = body;
                    if scope_is_none(&body) {
                        body.as_object_mut().unwrap().remove("scope");
                    }
                    let t: agora_api::TokenCreated = c.post("/v1/tokens", "application/json", &body.to_string())?;
                    if c.json() {
                        return print_json(&t);
                    }
                    println!("token for {} ({} of `{}`), shown once:\n{}", t.user, t.role.name(), t.scope, t.token);
                }
                None => {
                    let ts: Vec<agora_api::TokenInfo> = c.get("/v1/tokens")?;
                    if c.json() {
                        return print_json(&ts);
                    }
                    println!("{:<14} {:<16} {:<18} SCOPE", "ID", "USER", "ROLE");
                    for t in ts {
                        println!("{:<14} {:<16} {:<18} {}", t.id, t.user, t.role.name(), t.scope);
                    }
                }
            }
        }
    }
    Ok(())
}

fn scope_is_none(v: &Value) -> bool {
    v["scope"].is_null()
}

fn act(conn: Conn, id: u64, what: &str) -> anyhow::Result<()> {
    let c = Client::new(conn);
    let j: agora_api::Job = c.post(&format!("/v1/jobs/{id}/{what}"), "application/json", "")?;
    if c.json() {
        return print_json(&j);
    }
    println!("job {id}: {}", j.state.name());
    Ok(())
}
