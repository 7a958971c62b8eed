//! The HTTP API (`/v1`). Handlers authenticate, check the caller's scope
//! against the read model, and send inputs to the scheduler task; they
//! never touch the core. A job, project or token outside the caller's scope
//! gets exactly the answer a non-existent one gets.

use crate::engine::Reply;
use crate::error::ApiError;
use crate::input::Input;
use crate::metrics::Metrics;
use crate::task::Cmd;
use crate::view::{TokenRec, View, Watched};
use agora_api::{JobPage, JobState, Role, SubmitResponse, TokenCreate, TokenCreated, TokenInfo, UsageRow, Why};
use agora_core::tenancy::ROOT;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

pub struct App {
    pub tx: mpsc::Sender<Cmd>,
    pub view: Arc<RwLock<View>>,
    pub metrics: Arc<Metrics>,
    pub watch: broadcast::Sender<Watched>,
    /// Requests per second per token (0 = unlimited); bursts of twice that.
    pub rate: u32,
    pub limiter: Mutex<HashMap<String, (f64, Instant)>>,
    pub body_limit: usize,
    /// Each run's output: `<dir>/<job>.<run>.<extension>`.
    pub logs: Option<(PathBuf, String)>,
    pub stats: Arc<RwLock<agora_core::Stats>>,
}

type St = State<Arc<App>>;
type R<T> = Result<T, ApiError>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(|| async { ([("content-type", "application/json")], crate::docs::OPENAPI) }))
        .route("/docs", get(|| async { ([("content-type", "text/html; charset=utf-8")], crate::docs::HTML) }))
        .route("/v1/jobs", post(submit).get(list))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/hold", post(hold))
        .route("/v1/jobs/{id}/release", post(release))
        .route("/v1/jobs/{id}/events", get(events))
        .route("/v1/jobs/{id}/why", get(why))
        .route("/v1/jobs/{id}/log", get(log))
        .route("/v1/watch", get(watch))
        .route("/v1/cluster", get(cluster))
        .route("/v1/tenants", get(tenants))
        .route("/v1/usage", get(usage))
        .route("/v1/tokens", post(create_token).get(list_tokens))
        .route("/v1/whoami", get(crate::board::whoami))
        .route("/v1/map", get(crate::board::map))
        .route("/v1/map/blocks/{index}", get(crate::board::block))
        .route("/v1/shares", get(crate::board::shares))
        .merge(crate::dashboard::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint; see /v1/openapi.json".into()) })
        .with_state(app)
}

pub fn hash_token(t: &str) -> String {
    let d = Sha256::digest(t.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random token: "agora_" + 32 random bytes in hex.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS has randomness");
    format!("agora_{}", b.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl App {
    pub(crate) fn auth(&self, h: &HeaderMap) -> R<TokenRec> {
        self.metrics.requests.fetch_add(1, Relaxed);
        let tok = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let rec = self
            .view
            .read()
            .expect("view")
            .tokens
            .get(&hash_token(tok.trim()))
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        if self.rate > 0 {
            let mut l = self.limiter.lock().expect("limiter");
            let now = Instant::now();
            let burst = 2.0 * self.rate as f64;
            let e = l.entry(rec.id.clone()).or_insert((burst, now));
            e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * self.rate as f64).min(burst);
            e.1 = now;
            if e.0 < 1.0 {
                return Err(ApiError::RateLimited(self.rate));
            }
            e.0 -= 1.0;
        }
        Ok(rec)
    }

    async fn send(&self, input: Input) -> R<Reply> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Input(input, tx)).await.map_err(|_| ApiError::Unavailable)?;
        rx.await.map_err(|_| ApiError::Unavailable)?
    }

    /// The job if the caller may see it; otherwise "not found".
    fn visible(&self, id: u64, who: &TokenRec) -> R<agora_api::Job> {
        let v = self.view.read().expect("view");
        v.visible_job(id, who.scope).map(|r| r.job.clone()).ok_or_else(|| ApiError::job_not_found(id))
    }
}

fn job_id(p: Result<Path<String>, axum::extract::rejection::PathRejection>) -> R<u64> {
    let Path(s) = p.map_err(|_| ApiError::invalid("id", "missing job id"))?;
    s.parse::<u64>().map_err(|_| ApiError::invalid("id", format!("`{s}` is not a job id (a positive integer)")))
}

pub(crate) fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> R<T> {
    q.map(|Query(t)| t).map_err(|e| ApiError::invalid("query", e.body_text()))
}

async fn readyz(State(app): St) -> Response {
    if app.view.read().expect("view").ready {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "replaying the journal\n").into_response()
    }
}

async fn metrics(State(app): St) -> Response {
    let stats = app.stats.read().expect("stats").clone();
    let body = app.metrics.render(&app.view.read().expect("view"), &stats);
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

async fn submit(State(app): St, h: HeaderMap, body: Body) -> R<Response> {
    let who = app.auth(&h)?;
    let bytes = axum::body::to_bytes(body, app.body_limit).await.map_err(|_| ApiError::TooLarge(app.body_limit))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::invalid("body", "not UTF-8"))?;
    let ct = h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let spec = agora_api::parse_submission(ct, text)?;
    {
        let v = app.view.read().expect("view");
        let foreign = v.ents.lookup(&spec.project).is_some_and(|t| !v.within(t, who.scope));
        if foreign {
            return Err(ApiError::invalid("project", format!("`{}` is not a project of this site", spec.project)));
        }
        if let Some(d) = &spec.dependency {
            for dep in agora_api::convert::parse_dependency(d)? {
                if v.visible_job(dep.job, who.scope).is_none() {
                    return Err(ApiError::invalid("dependency", format!("job {} does not exist", dep.job)));
                }
            }
        }
    }
    let key = match h.get("idempotency-key") {
        None => None,
        Some(k) => {
            let k = k
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| ApiError::invalid("idempotency-key", "must be 1 to 200 visible ASCII characters"))?;
            Some(format!("{}:{k}", who.id))
        }
    };
    let input = Input::Submit { now: 0, user: who.user.clone(), spec: Box::new(spec), idempotency_key: key };
    match app.send(input).await? {
        Reply::Submitted { jobs, replayed } => {
            let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
            Ok((status, Json(SubmitResponse { jobs, replayed })).into_response())
        }
        _ => Err(ApiError::Unavailable),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQ {
    state: Option<String>,
    project: Option<String>,
    programme: Option<String>,
    tenant: Option<String>,
    user: Option<String>,
    min_accelerators: Option<u32>,
    max_accelerators: Option<u32>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(app): St,
    h: HeaderMap,
    q: Result<Query<ListQ>, axum::extract::rejection::QueryRejection>,
) -> R<Json<JobPage>> {
    let who = app.auth(&h)?;
    let q = query(q)?;
    let state = match &q.state {
        None => None,
        Some(s) => {
            Some(JobState::parse(s).ok_or_else(|| ApiError::invalid("state", format!("`{s}` is not a job state")))?)
        }
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let after = match &q.cursor {
        None => 0,
        Some(c) => c.parse::<u64>().map_err(|_| ApiError::invalid("cursor", "not a cursor from an earlier page"))?,
    };
    let v = app.view.read().expect("view");
    let mut scope_filter = None;
    for (field, val) in [("project", &q.project), ("programme", &q.programme), ("tenant", &q.tenant)] {
        if let Some(p) = val {
            let t = v.ents.lookup(p).filter(|t| v.within(*t, who.scope));
            let t = t.ok_or_else(|| ApiError::invalid(field, format!("`{p}` is not a tenant of this site")))?;
            scope_filter = Some(t);
        }
    }
    let mut jobs = Vec::with_capacity(limit as usize);
    let mut next = None;
    for (id, r) in v.jobs.range(after.saturating_add(1)..) {
        if !v.within(r.tenant, who.scope)
            || !crate::view::state_matches(state, r.job.state)
            || scope_filter.is_some_and(|t| !v.within(r.tenant, t))
            || q.user.as_ref().is_some_and(|u| *u != r.job.user)
            || q.min_accelerators.is_some_and(|m| r.job.accelerators < m)
            || q.max_accelerators.is_some_and(|m| r.job.accelerators > m)
        {
            continue;
        }
        if jobs.len() == limit as usize {
            next = Some(jobs.last().map(|j: &agora_api::Job| j.id).unwrap_or(*id).to_string());
            break;
        }
        jobs.push(r.job.clone());
    }
    Ok(Json(JobPage { jobs, next_cursor: next }))
}

async fn job(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<agora_api::Job>> {
    let who = app.auth(&h)?;
    Ok(Json(app.visible(job_id(p)?, &who)?))
}

async fn act(
    app: Arc<App>,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
    make: fn(u64) -> Input,
) -> R<Json<agora_api::Job>> {
    let who = app.auth(&h)?;
    let id = job_id(p)?;
    app.visible(id, &who)?;
    app.send(make(id)).await?;
    Ok(Json(app.visible(id, &who)?))
}

async fn cancel(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<agora_api::Job>> {
    act(app, h, p, |job| Input::Cancel { now: 0, job }).await
}
async fn hold(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<agora_api::Job>> {
    act(app, h, p, |job| Input::Hold { now: 0, job }).await
}
async fn release(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<agora_api::Job>> {
    act(app, h, p, |job| Input::Release { now: 0, job }).await
}

async fn events(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<Vec<agora_api::JobEvent>>> {
    let who = app.auth(&h)?;
    let id = job_id(p)?;
    let v = app.view.read().expect("view");
    let r = v.visible_job(id, who.scope).ok_or_else(|| ApiError::job_not_found(id))?;
    Ok(Json(r.events.clone()))
}

async fn why(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Json<Why>> {
    let who = app.auth(&h)?;
    let id = job_id(p)?;
    let job = app.visible(id, &who)?;
    let (tx, rx) = oneshot::channel();
    app.tx.send(Cmd::Why(id, tx)).await.map_err(|_| ApiError::Unavailable)?;
    let ans = rx.await.map_err(|_| ApiError::Unavailable)?;
    Ok(Json(match ans {
        Some((state, reason, estimated_start)) => Why { job: id, state, reason, estimated_start },
        None => Why {
            job: id,
            state: job.state,
            reason: format!("{}: not waiting", job.state.name()),
            estimated_start: None,
        },
    }))
}

async fn log(
    State(app): St,
    h: HeaderMap,
    p: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> R<Response> {
    let who = app.auth(&h)?;
    let id = job_id(p)?;
    app.visible(id, &who)?;
    let runs = {
        let v = app.view.read().expect("view");
        v.jobs.get(&id).map_or(0, |r| r.events.iter().filter(|e| e.kind == "started").count() as u32)
    };
    let Some((dir, ext)) = &app.logs else {
        return Err(ApiError::NotFound(format!("job {id} has no log: this server's executor keeps none")));
    };
    let text = std::fs::read(dir.join(format!("{id}.{runs}.{ext}")))
        .map_err(|_| ApiError::NotFound(format!("job {id} has no log yet")))?;
    Ok(([("content-type", "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchQ {
    job: Option<u64>,
    tenant: Option<String>,
}

async fn watch(
    State(app): St,
    h: HeaderMap,
    q: Result<Query<WatchQ>, axum::extract::rejection::QueryRejection>,
) -> R<Response> {
    use tokio_stream::StreamExt;
    let who = app.auth(&h)?;
    let q = query(q)?;
    let (job, tenant) = {
        let v = app.view.read().expect("view");
        let tenant = match &q.tenant {
            None => who.scope,
            Some(t) => v
                .ents
                .lookup(t)
                .filter(|x| v.within(*x, who.scope))
                .ok_or_else(|| ApiError::invalid("tenant", format!("`{t}` is not a tenant of this site")))?,
        };
        if let Some(j) = q.job {
            v.visible_job(j, who.scope).ok_or_else(|| ApiError::job_not_found(j))?;
        }
        (q.job, tenant)
    };
    let view = app.view.clone();
    let rx = app.watch.subscribe();
    let stream = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |w| {
        let w = w.ok()?;
        if job.is_some_and(|j| j != w.event.job) || !view.read().ok()?.within(w.tenant, tenant) {
            return None;
        }
        Some(Ok::<_, std::convert::Infallible>(
            SseEvent::default().event(w.event.kind.clone()).data(serde_json::to_string(&w.event).ok()?),
        ))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

async fn cluster(State(app): St, h: HeaderMap) -> R<Json<agora_api::Cluster>> {
    app.auth(&h)?;
    Ok(Json(app.view.read().expect("view").cluster.clone()))
}

async fn tenants(State(app): St, h: HeaderMap) -> R<Json<Vec<agora_api::Tenant>>> {
    let who = app.auth(&h)?;
    let v = app.view.read().expect("view");
    let out = v
        .tenants
        .iter()
        .enumerate()
        .filter(|(i, _)| v.within(agora_core::TenantId(*i as u32 + 1), who.scope))
        .map(|(_, t)| t.clone())
        .collect();
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageQ {
    from: Option<u64>,
    to: Option<u64>,
    by: Option<String>,
    format: Option<String>,
}

async fn usage(
    State(app): St,
    h: HeaderMap,
    q: Result<Query<UsageQ>, axum::extract::rejection::QueryRejection>,
) -> R<Response> {
    let who = app.auth(&h)?;
    let q = query(q)?;
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or(u64::MAX));
    if from > to {
        return Err(ApiError::invalid("from", "is after `to`"));
    }
    let by = q.by.as_deref().unwrap_or("project");
    let depth = match by {
        "funder" => Some(1),
        "programme" => Some(2),
        "organisation" => Some(3),
        "project" => None,
        "user" | "job" => None,
        b => {
            return Err(ApiError::invalid(
                "by",
                format!("`{b}`: use funder, programme, organisation, project, user or job"),
            ))
        }
    };
    let v = app.view.read().expect("view");
    let mut rows: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for r in v.jobs.values() {
        if !v.within(r.tenant, who.scope) {
            continue;
        }
        let open = r.open.map(|(s, a)| (s, v.cluster.time, a));
        let mut secs = 0.0;
        for (s, e, a) in r.segments.iter().copied().chain(open) {
            let (s, e) = (s.max(from), e.min(to));
            if e > s {
                secs += (e - s) as f64 * a as f64;
            }
        }
        if secs == 0.0 {
            continue;
        }
        let key = match (by, depth) {
            ("user", _) => r.job.user.clone(),
            // Per job: what `agora slurm reconcile` compares with Slurm's accounting.
            ("job", _) => r.job.id.to_string(),
            (_, Some(d)) => v.ents.get(v.ents.ancestor_at(r.tenant, d)).path.clone(),
            _ => r.job.project.clone(),
        };
        let e = rows.entry(key).or_default();
        e.0 += secs / 3600.0;
        e.1 += 1;
    }
    let rows: Vec<UsageRow> = rows
        .into_iter()
        .map(|(key, (h, jobs))| UsageRow { key, accelerator_hours: (h * 1000.0).round() / 1000.0, jobs })
        .collect();
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(rows).into_response()),
        "csv" => {
            let mut s = format!("{by},accelerator_hours,jobs\n");
            for r in rows {
                s.push_str(&format!("{},{},{}\n", r.key, r.accelerator_hours, r.jobs));
            }
            Ok(([("content-type", "text/csv")], s).into_response())
        }
        f => Err(ApiError::invalid("format", format!("`{f}`: use json or csv"))),
    }
}

async fn create_token(State(app): St, h: HeaderMap, body: Body) -> R<Response> {
    let who = app.auth(&h)?;
    let bytes = axum::body::to_bytes(body, app.body_limit).await.map_err(|_| ApiError::TooLarge(app.body_limit))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::invalid("body", "not UTF-8"))?;
    let req: TokenCreate = agora_api::from_json(text)?;
    if who.role.rank() < Role::OrgAdmin.rank() {
        return Err(ApiError::Forbidden("members cannot create tokens".into()));
    }
    if req.role.rank() > who.role.rank() {
        return Err(ApiError::Forbidden(format!("a {} cannot create a {} token", who.role.name(), req.role.name())));
    }
    if req.user.is_empty() || req.user.len() > 100 || req.user.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid("user", "1 to 100 printable characters"));
    }
    let scope = {
        let v = app.view.read().expect("view");
        match (&req.role, &req.scope) {
            (Role::SiteAdmin, None) => String::new(),
            (Role::SiteAdmin, Some(_)) => return Err(ApiError::invalid("scope", "a site-admin token has no scope")),
            (_, None) => return Err(ApiError::invalid("scope", "name the tenant the role applies to")),
            (_, Some(s)) => {
                let t = v
                    .ents
                    .lookup(s)
                    .filter(|t| v.within(*t, who.scope))
                    .ok_or_else(|| ApiError::invalid("scope", format!("`{s}` is not a tenant of this site")))?;
                v.ents.get(t).path.clone()
            }
        }
    };
    let token = new_token();
    let id = hash_token(&token)[..12].to_string();
    let input = Input::Token {
        now: 0,
        id: id.clone(),
        hash: hash_token(&token),
        user: req.user.clone(),
        role: req.role.clone(),
        scope: scope.clone(),
    };
    app.send(input).await?;
    let body = TokenCreated { token, id, user: req.user, role: req.role, scope };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list_tokens(State(app): St, h: HeaderMap) -> R<Json<Vec<TokenInfo>>> {
    let who = app.auth(&h)?;
    if who.role.rank() < Role::OrgAdmin.rank() {
        return Err(ApiError::Forbidden("members cannot list tokens".into()));
    }
    let v = app.view.read().expect("view");
    let mut out: Vec<TokenInfo> = v
        .tokens
        .values()
        .filter(|t| v.within(t.scope, who.scope) && (t.scope != ROOT || who.scope == ROOT))
        .map(|t| TokenInfo {
            id: t.id.clone(),
            user: t.user.clone(),
            role: t.role.clone(),
            scope: v.ents.get(t.scope).path.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(out))
}
