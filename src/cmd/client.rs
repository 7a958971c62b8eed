//! The client commands: a thin blocking HTTP client (ureq) over `/v1`,
//! tables for people (squeue-like) and `-o json` for programs. The server
//! URL and token come from flags, the environment or the config file that
//! `agora login` writes (`config.rs`).

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(clap::Args, Clone)]
pub struct Conn {
    /// Server URL [default: the config file's, else http://127.0.0.1:8080].
    #[arg(long, env = "AGORA_URL", global = true)]
    url: Option<String>,
    /// API token [default: the config file's, see `agora login`].
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
        /// After the table, follow the jobs' events as they happen (Ctrl-C ends).
        #[arg(long, short = 'w')]
        watch: bool,
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
        /// Keep following the job's events until it ends.
        #[arg(long, short = 'w')]
        watch: bool,
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
        /// funder, programme, organisation, project, user or job.
        #[arg(long, default_value = "project")]
        by: String,
        /// Start of the period: a date (2026-12-01), a UTC time (2026-12-01T08:00) or Unix seconds.
        #[arg(long, value_parser = parse_when)]
        from: Option<u64>,
        /// End of the period (as --from).
        #[arg(long, value_parser = parse_when)]
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
    /// Check a token against the server and keep it (with the URL) in the
    /// config file, so later commands need neither flags nor environment.
    Login {
        #[command(flatten)]
        conn: Conn,
    },
    /// Forget the token kept by `agora login`.
    Logout,
    /// Slurm: compare Agora's usage with Slurm's accounting.
    Slurm {
        #[command(subcommand)]
        what: SlurmWhat,
    },
}

#[derive(clap::Subcommand)]
pub enum SlurmWhat {
    /// Reconcile Agora's accelerator-seconds per job with what Slurm's
    /// accounting (slurmdbd) recorded: matched, differing, only on one side,
    /// and the Slurm jobs that did not come through Agora.
    Reconcile {
        #[command(flatten)]
        conn: Conn,
        /// slurmrestd, http://host:port.
        #[arg(long)]
        slurm_url: String,
        #[command(flatten)]
        auth: super::slurm::Auth,
        /// Start of the period (as for `agora usage`) [default: all].
        #[arg(long, value_parser = parse_when)]
        from: Option<u64>,
        /// End of the period [default: now].
        #[arg(long, value_parser = parse_when)]
        to: Option<u64>,
        /// Allowed difference per Slurm job (run), in seconds of each of its
        /// accelerators. Agora counts a run from its placement, Slurm from
        /// its start: a job on a given node list may wait for Slurm's
        /// backfill pass (bf_interval, 5 s in scripts/slurm-local.sh), and
        /// Agora sees the end a poll late.
        #[arg(long, default_value_t = 10)]
        tolerance: u64,
        /// This Agora's instance id (`<data>/slurm-instance` of `agora serve`):
        /// tagged jobs of another Agora on the same Slurm count as outside.
        #[arg(long)]
        instance: Option<String>,
    },
}

struct Client {
    url: String,
    token: Option<String>,
    output: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(conn: Conn) -> anyhow::Result<Client> {
        let (url, token) = super::config::resolve(conn.url, conn.token)?;
        let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(30)).build();
        Ok(Client { url, token, output: conn.output, agent })
    }
    fn req(&self, method: &str, path: &str) -> anyhow::Result<ureq::Request> {
        self.req_with(&self.agent, method, path)
    }
    fn req_with(&self, agent: &ureq::Agent, method: &str, path: &str) -> anyhow::Result<ureq::Request> {
        let token =
            self.token.as_deref().context("no API token: run `agora login`, pass --token or set AGORA_TOKEN")?;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        Ok(agent.request(method, &url).set("authorization", &format!("Bearer {token}")))
    }
    /// Follow `/v1/watch` (server-sent events), calling `f` with each event
    /// until it answers false. No overall timeout: a watch lasts; a server
    /// silent for a minute (it sends keep-alives every 15 s) is gone.
    fn watch(&self, query: &str, mut f: impl FnMut(agora_api::JobEvent) -> bool) -> anyhow::Result<()> {
        use std::io::BufRead;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(std::time::Duration::from_secs(10))
            .timeout_read(std::time::Duration::from_secs(60))
            .build();
        let r = self.done(self.req_with(&agent, "GET", &format!("/v1/watch{query}"))?.call())?;
        for line in std::io::BufReader::new(r.into_reader()).lines() {
            let line = line.with_context(|| format!("the event stream from {} broke", self.url))?;
            if let Some(data) = line.strip_prefix("data: ") {
                let e: agora_api::JobEvent = serde_json::from_str(data).context("an event the server sent")?;
                if !f(e) {
                    return Ok(());
                }
            }
        }
        bail!("the server closed the event stream")
    }
    fn done(&self, r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<ureq::Response> {
        match r {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                let msg = body["message"].as_str().unwrap_or("(no message)");
                bail!("server answered {code}: {msg}")
            }
            Err(e) => bail!("cannot reach {}: {e}", self.url),
        }
    }
    fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        Ok(self.done(self.req("GET", path)?.call())?.into_json()?)
    }
    fn post<T: DeserializeOwned>(&self, path: &str, ct: &str, body: &str) -> anyhow::Result<T> {
        Ok(self.done(self.req("POST", path)?.set("content-type", ct).send_string(body))?.into_json()?)
    }
    fn json(&self) -> bool {
        self.output == "json"
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn jobs_table(jobs: &[agora_api::Job]) {
    outln!("{:>8}  {:<20} {:<28} {:<10} {:<10} {:>6}  NODES", "JOBID", "NAME", "PROJECT", "USER", "STATE", "ACCEL");
    for j in jobs {
        let nodes: Vec<&str> = j.allocation.iter().map(|a| a.node.as_str()).collect();
        outln!(
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
        Command::Login { conn } => login(conn)?,
        Command::Logout => logout()?,
        Command::Slurm { what: SlurmWhat::Reconcile { conn, slurm_url, auth, from, to, tolerance, instance } } => {
            reconcile(conn, &slurm_url, &auth, from, to, tolerance, instance)?
        }
        Command::Submit { conn, file, project, accelerators, name, time, duration, command, idempotency_key } => {
            let c = Client::new(conn)?;
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
            outln!("{} job {}", if resp.replayed { "already submitted:" } else { "submitted" }, ids.join(" "));
        }
        Command::Jobs { conn, state, project, user, limit, cursor, watch } => {
            let c = Client::new(conn)?;
            let mut q = format!("/v1/jobs?limit={limit}");
            let tenant = project.clone();
            for (k, v) in [("state", state), ("project", project), ("user", user), ("cursor", cursor)] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            if watch {
                // Subscribe first, then list: no event falls between the two.
                let wq = tenant.map_or(String::new(), |t| format!("?tenant={}", enc(&t)));
                let page: agora_api::JobPage = c.get(&q)?;
                if !c.json() {
                    jobs_table(&page.jobs);
                    outln!("-- following events (Ctrl-C to stop)");
                }
                let json = c.json();
                return c.watch(&wq, |e| {
                    if json {
                        outln!("{}", serde_json::to_string(&e).unwrap_or_default());
                    } else {
                        outln!("{}  {:>8}  {:<12} {}", utc(e.time), e.job, e.kind, e.detail);
                    }
                    true
                });
            }
            let page: agora_api::JobPage = c.get(&q)?;
            if c.json() {
                return print_json(&page);
            }
            jobs_table(&page.jobs);
            if let Some(n) = page.next_cursor {
                outln!("(more: --cursor {n})");
            }
        }
        Command::Job { conn, id } => {
            let c = Client::new(conn)?;
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
            let c = Client::new(conn)?;
            let w: agora_api::Why = c.get(&format!("/v1/jobs/{id}/why"))?;
            if c.json() {
                return print_json(&w);
            }
            outln!("job {id} ({}): {}", w.state.name(), w.reason);
            if let Some(t) = w.estimated_start {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                outln!("expected to start in {}", agora_core::human_duration(t.saturating_sub(now)));
            }
        }
        Command::Events { conn, id, watch } => {
            let c = Client::new(conn)?;
            let ev: Vec<agora_api::JobEvent> = c.get(&format!("/v1/jobs/{id}/events"))?;
            let show = |e: &agora_api::JobEvent| {
                if c.json() && watch {
                    outln!("{}", serde_json::to_string(e).unwrap_or_default());
                } else {
                    outln!("{}  {:<12} {}", utc(e.time), e.kind, e.detail);
                }
            };
            if c.json() && !watch {
                return print_json(&ev);
            }
            ev.iter().for_each(show);
            if !watch || ev.last().is_some_and(|e| ends(&e.kind)) {
                return Ok(());
            }
            // The stream starts now: events between the history and the
            // subscription are fetched again and printed once.
            let seen = ev.len();
            let mut first = true;
            return c.watch(&format!("?job={id}"), |e| {
                if std::mem::take(&mut first) {
                    let again: Vec<agora_api::JobEvent> = c.get(&format!("/v1/jobs/{id}/events")).unwrap_or_default();
                    let pos = again.iter().position(|x| x == &e).unwrap_or(again.len());
                    again.iter().take(pos).skip(seen).for_each(show);
                }
                show(&e);
                !ends(&e.kind)
            });
        }
        Command::Log { conn, id } => {
            let c = Client::new(conn)?;
            let r = c.done(c.req("GET", &format!("/v1/jobs/{id}/log"))?.call())?;
            let text = r.into_string()?;
            outln!("{}", text.strip_suffix('\n').unwrap_or(&text));
        }
        Command::Status { conn } => {
            let c = Client::new(conn)?;
            let cl: agora_api::Cluster = c.get("/v1/cluster")?;
            if c.json() {
                return print_json(&cl);
            }
            outln!(
                "{}: {} of {} accelerators free ({} stranded); {} running, {} pending; {} failed nodes",
                cl.name,
                cl.free,
                cl.capacity,
                cl.stranded,
                cl.running,
                cl.pending,
                cl.failed_nodes.len()
            );
            outln!("{:<16} {:>10} {:>10}", "POD", "CAPACITY", "FREE");
            for p in &cl.pods {
                outln!("{:<16} {:>10} {:>10}", p.name, p.capacity, p.free);
            }
        }
        Command::Usage { conn, by, from, to, csv } => {
            let c = Client::new(conn)?;
            let mut q = format!("/v1/usage?by={}", enc(&by));
            if let Some(f) = from {
                q.push_str(&format!("&from={f}"));
            }
            if let Some(t) = to {
                q.push_str(&format!("&to={t}"));
            }
            if csv {
                let r = c.done(c.req("GET", &format!("{q}&format=csv"))?.call())?;
                let text = r.into_string()?;
                outln!("{}", text.strip_suffix('\n').unwrap_or(&text));
                return Ok(());
            }
            let rows: Vec<agora_api::UsageRow> = c.get(&q)?;
            if c.json() {
                return print_json(&rows);
            }
            outln!("{:<48} {:>14} {:>8}", by.to_uppercase(), "ACCEL-HOURS", "JOBS");
            for r in rows {
                outln!("{:<48} {:>14.3} {:>8}", r.key, r.accelerator_hours, r.jobs);
            }
        }
        Command::Tenants { conn } => {
            let c = Client::new(conn)?;
            let ts: Vec<agora_api::Tenant> = c.get("/v1/tenants")?;
            if c.json() {
                return print_json(&ts);
            }
            outln!("{:<56} {:<13} {:>12} {:>10} {:>12}", "TENANT", "LEVEL", "ENTITLEMENT", "ALLOCATED", "USAGE-H");
            for t in ts {
                outln!(
                    "{:<56} {:<13} {:>12.1} {:>10} {:>12.1}",
                    t.path,
                    t.level,
                    t.entitlement,
                    t.allocated,
                    t.usage_hours
                );
            }
        }
        Command::Tokens { conn, create, role, scope } => {
            let c = Client::new(conn)?;
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
                    outln!("token for {} ({} of `{}`), shown once:\n{}", t.user, t.role.name(), t.scope, t.token);
                }
                None => {
                    let ts: Vec<agora_api::TokenInfo> = c.get("/v1/tokens")?;
                    if c.json() {
                        return print_json(&ts);
                    }
                    outln!("{:<14} {:<16} {:<18} SCOPE", "ID", "USER", "ROLE");
                    for t in ts {
                        outln!("{:<14} {:<16} {:<18} {}", t.id, t.user, t.role.name(), t.scope);
                    }
                }
            }
        }
    }
    Ok(())
}

/// An event kind that ends a job (its kind is the final state's name).
fn ends(kind: &str) -> bool {
    agora_api::JobState::parse(kind).is_some_and(agora_api::JobState::is_terminal)
}

/// Unix seconds as a UTC time people read: `2026-12-02 23:51:06Z`.
pub fn utc(secs: u64) -> String {
    format!("{}Z", agora_core::ids::utc_datetime(secs, ' '))
}

/// `--from`/`--to`: Unix seconds, `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS]` (UTC).
fn parse_when(s: &str) -> Result<u64, String> {
    use agora_core::ids::days_in_month;
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let bad = || format!("`{s}` is neither Unix seconds nor a UTC date like 2026-12-01 or 2026-12-01T08:00");
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00"));
    let num = |t: &str| t.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.trim_end_matches('Z').split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&t.len()) {
        return Err(bad());
    }
    let (y, mo, da) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (h, mi, se) = (num(t[0])?, num(t[1])?, if t.len() == 3 { num(t[2])? } else { 0 });
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=days_in_month(y, mo)).contains(&da) {
        return Err(bad());
    }
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..60).contains(&se) {
        return Err(bad());
    }
    Ok((agora_core::ids::days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se) as u64)
}

/// `agora login`: the token from the flag or environment, else one line
/// of standard input; checked against the server before it is kept.
fn login(conn: Conn) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let token = match conn.token.clone() {
        Some(t) => t,
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("API token: ");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }
    };
    if token.is_empty() {
        bail!("no token given: pass --token, set AGORA_TOKEN or type it on standard input");
    }
    let c = Client::new(Conn { token: Some(token.clone()), ..conn })?;
    let tenants: Vec<agora_api::Tenant> = c.get("/v1/tenants")?;
    let scope = tenants.first().map_or("(nothing)".to_string(), |t| t.path.clone());
    let cfg = super::config::ClientConfig { url: Some(c.url.clone()), token: Some(token) };
    let path = super::config::save(&cfg)?;
    outln!("logged in to {}; this token sees {scope} ({} tenants)", c.url, tenants.len());
    outln!("saved to {}", path.display());
    Ok(())
}

fn logout() -> anyhow::Result<()> {
    let mut cfg = super::config::load()?;
    if cfg.token.take().is_none() {
        outln!("not logged in");
        return Ok(());
    }
    let path = super::config::save(&cfg)?;
    outln!("token removed from {}", path.display());
    Ok(())
}

fn scope_is_none(v: &Value) -> bool {
    v["scope"].is_null()
}

fn act(conn: Conn, id: u64, what: &str) -> anyhow::Result<()> {
    let c = Client::new(conn)?;
    let j: agora_api::Job = c.post(&format!("/v1/jobs/{id}/{what}"), "application/json", "")?;
    if c.json() {
        return print_json(&j);
    }
    outln!("job {id}: {}", j.state.name());
    Ok(())
}

/// `agora slurm reconcile`: Agora's per-job usage (`/v1/usage?by=job`)
/// against slurmdbd's records (see agora_slurm::reconcile).
fn reconcile(
    conn: Conn,
    slurm_url: &str,
    auth: &super::slurm::Auth,
    from: Option<u64>,
    to: Option<u64>,
    tolerance: u64,
    instance: Option<String>,
) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (from, to) = (from.unwrap_or(0), to.unwrap_or(now));
    if from > to {
        bail!("--from ({}) is after --to ({})", utc(from), utc(to));
    }
    let c = Client::new(conn)?;
    let api = agora_slurm::connect(slurm_url, &auth.slurm_user, auth.token()?)?;
    let slurm =
        api.accounted_jobs(Some((from, to))).with_context(|| format!("reading Slurm's accounting at {slurm_url}"))?;
    let rows: Vec<agora_api::UsageRow> = c.get(&format!("/v1/usage?by=job&from={from}&to={to}"))?;
    let mut agora = std::collections::BTreeMap::new();
    for r in rows {
        let job: u64 = r.key.parse().with_context(|| format!("the server's usage by job has a key `{}`", r.key))?;
        agora.insert(job, r.accelerator_hours * 3600.0);
    }
    let o = agora_slurm::reconcile::Options { from, to, now, tolerance_s: tolerance, instance };
    let r = agora_slurm::reconcile::reconcile(&agora, &slurm, &o);
    let t = &r.totals;
    let unreconciled = t.differs + t.only_in_agora + t.only_in_slurm;
    if c.json() {
        print_json(&r)?;
        return differences(unreconciled);
    }
    outln!("Agora vs Slurm accounting, {} to {}, tolerance {tolerance} s per run and accelerator", utc(from), utc(to));
    outln!(
        "{:>8} {:>14} {:>14} {:>10} {:>10}  {:<16} {:<20}",
        "JOB",
        "AGORA-ACCEL-S",
        "SLURM-ACCEL-S",
        "DIFF",
        "TOLERANCE",
        "VERDICT",
        "SLURM-JOBS"
    );
    for l in &r.jobs {
        let ids: Vec<String> = l.slurm_jobs.iter().map(|i| i.to_string()).collect();
        outln!(
            "{:>8} {:>14.1} {:>14.1} {:>+10.1} {:>10.1}  {:<16} {}",
            l.job,
            l.agora_accelerator_seconds,
            l.slurm_accelerator_seconds,
            l.difference,
            l.tolerance,
            l.verdict.name(),
            trunc(&ids.join(","), 40)
        );
    }
    if !r.outside.is_empty() {
        outln!("\nSlurm jobs outside Agora:");
        outln!("{:>10}  {:<24} {:<12} {:>6} {:>14}  WHY", "SLURM-JOB", "NAME", "STATE", "ACCEL", "ACCEL-S");
        for o in &r.outside {
            outln!(
                "{:>10}  {:<24} {:<12} {:>6} {:>14.1}  {}",
                o.slurm_job,
                trunc(&o.name, 24),
                trunc(&o.state, 12),
                o.accelerators,
                o.accelerator_seconds,
                o.why
            );
        }
    }
    outln!(
        "\ntotal: Agora {:.1} accelerator-seconds, Slurm {:.1} for Agora's jobs (difference {:+.1}); \
         {} matched, {} differ, {} only in Agora, {} only in Slurm; {} Slurm jobs outside Agora ({:.1} accelerator-seconds)",
        t.agora_accelerator_seconds,
        t.slurm_accelerator_seconds,
        t.difference,
        t.matched,
        t.differs,
        t.only_in_agora,
        t.only_in_slurm,
        t.outside,
        t.outside_accelerator_seconds
    );
    differences(unreconciled)
}

/// Like `diff`, `agora slurm reconcile` tells scripts whether the two sides
/// agree: after the report, exit status 3 if jobs differ or are on one side
/// only (1 stays for errors, 2 for bad arguments).
fn differences(n: usize) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("agora: {n} job(s) do not reconcile with Slurm's accounting");
    std::process::exit(3);
}
