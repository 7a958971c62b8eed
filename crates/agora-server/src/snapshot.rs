//! Snapshots of the whole server state (core, engine, read model), so a
//! restart replays only the journal entries after the latest one.
//!
//! Layout: `AGSV`, the format version, an FNV-1a checksum of the body,
//! then the body: the site fingerprint, the core's own snapshot
//! (`Scheduler::snapshot`), the engine's fields, the read model's jobs,
//! events and tokens. The cluster and tenant summaries are recomputed.
//! A snapshot that does not read back (damaged, another version, another
//! site) is reported and ignored: the journal alone still rebuilds all.

use crate::engine::Engine;
use crate::view::{JobRec, TokenRec, View};
use agora_api::{JobEvent, JobState};
use agora_core::persist::{put_varint, Persist, Reader, SnapshotError};
use agora_core::{Config, Entitlements, Scheduler, TenantId, Topology};

const MAGIC: &[u8; 4] = b"AGSV";
/// The snapshot format this build writes and reads.
pub const VERSION: u32 = 2;

fn err(s: impl Into<String>) -> SnapshotError {
    SnapshotError(s.into())
}

/// A job state by its API name (`JobState::name` / `parse`).
pub(crate) fn put_state(s: JobState, w: &mut Vec<u8>) {
    s.name().to_string().put(w);
}

pub(crate) fn get_state(r: &mut Reader) -> Result<JobState, SnapshotError> {
    let name = String::get(r)?;
    JobState::parse(&name).ok_or_else(|| err(format!("unknown job state `{name}`")))
}

fn checksum(b: &[u8]) -> u64 {
    agora_core::fnv1a(b)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("API types serialize")
}

fn unjson<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, SnapshotError> {
    serde_json::from_str(s).map_err(|e| err(format!("a record does not read back: {e}")))
}

/// A job record without its project path (it is the tenant's).
fn put_job(j: &agora_api::Job, w: &mut Vec<u8>) {
    // Every field named: a field added to `Job` must be added here.
    let agora_api::Job {
        id,
        name,
        project: _,
        user,
        state,
        accelerators,
        submitted,
        started,
        ended,
        time_limit,
        allocation,
        exit_code,
        array_job,
        array_index,
        restarts,
    } = j;
    (*id, name.clone(), user.clone()).put(w);
    put_state(*state, w);
    (*accelerators, *submitted, *started, *ended).put(w);
    time_limit.put(w);
    allocation.len().put(w);
    for a in allocation {
        (a.node.clone(), a.accelerators.clone()).put(w);
    }
    (*exit_code, *array_job, *array_index, *restarts).put(w);
}

fn get_job(r: &mut Reader, project: String) -> Result<agora_api::Job, SnapshotError> {
    let (id, name, user): (u64, String, String) = Persist::get(r)?;
    let state = get_state(r)?;
    let (accelerators, submitted, started, ended) = Persist::get(r)?;
    let time_limit = Persist::get(r)?;
    let n = r.len()?;
    let mut allocation = Vec::with_capacity(n);
    for _ in 0..n {
        let (node, accelerators) = Persist::get(r)?;
        allocation.push(agora_api::Allocation { node, accelerators });
    }
    let (exit_code, array_job, array_index, restarts) = Persist::get(r)?;
    Ok(agora_api::Job {
        id,
        name,
        project,
        user,
        state,
        accelerators,
        submitted,
        started,
        ended,
        time_limit,
        allocation,
        exit_code,
        array_job,
        array_index,
        restarts,
    })
}

/// The state after the last applied input, as bytes.
pub fn encode(engine: &Engine, view: &View) -> Vec<u8> {
    // Every field named: a field added to the read model must be kept here
    // or be one that `refresh` recomputes. The dashboard's board is laid
    // out again by `refresh`; its share history is an hour of live samples
    // that no replay rebuilds either, so it starts afresh after a restart.
    let View { ents: _, jobs: _, tokens: _, cluster: _, tenants: _, ready: _, board: _ } = view;
    let mut body = Vec::new();
    engine.fingerprint().put(&mut body);
    let core = engine.core().snapshot();
    put_varint(&mut body, core.len() as u64);
    body.extend_from_slice(&core);
    drop(core);
    engine.put_state(&mut body);
    view.jobs.len().put(&mut body);
    for (id, r) in &view.jobs {
        id.put(&mut body);
        r.tenant.put(&mut body);
        put_job(&r.job, &mut body);
        r.events.len().put(&mut body);
        for e in &r.events {
            e.time.put(&mut body);
            e.kind.put(&mut body);
            e.detail.put(&mut body);
        }
        r.segments.put(&mut body);
        r.open.put(&mut body);
    }
    let mut tokens: Vec<_> = view.tokens.iter().collect();
    tokens.sort_unstable_by(|a, b| a.0.cmp(b.0));
    tokens.len().put(&mut body);
    for (hash, t) in tokens {
        hash.put(&mut body);
        t.id.put(&mut body);
        t.user.put(&mut body);
        json(&t.role).put(&mut body);
        t.scope.put(&mut body);
    }
    let mut w = Vec::with_capacity(body.len() + 16);
    w.extend_from_slice(MAGIC);
    w.extend_from_slice(&VERSION.to_le_bytes());
    w.extend_from_slice(&checksum(&body).to_le_bytes());
    w.extend_from_slice(&body);
    w
}

/// The engine and read model a snapshot holds, for this site and settings.
pub fn decode(bytes: &[u8], topo: Topology, ents: Entitlements, cfg: Config) -> Result<(Engine, View), SnapshotError> {
    if bytes.len() < 16 || &bytes[..4] != MAGIC {
        return Err(err("not an agora snapshot"));
    }
    let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(err(format!("format version {version}; this build reads version {VERSION}")));
    }
    let body = &bytes[16..];
    if checksum(body).to_le_bytes() != bytes[8..16] {
        return Err(err("checksum mismatch: the snapshot is damaged"));
    }
    let mut r = Reader::new(body);
    let fingerprint = String::get(&mut r)?;
    let n = r.len()?;
    let core_bytes = r.bytes(n)?;
    // The topology's size is checked by the core's restore; the settings
    // and tenants by the engine's fingerprint, once restored.
    let core = Scheduler::restore(topo, ents.clone(), cfg, core_bytes)?;
    let engine = Engine::get_state(core, &mut r)?;
    if engine.fingerprint() != fingerprint {
        return Err(err(format!(
            "taken on another site or with other settings ({fingerprint}, this one is {})",
            engine.fingerprint()
        )));
    }
    let mut view = View::new(ents);
    let n = r.len()?;
    for _ in 0..n {
        let id = u64::get(&mut r)?;
        let tenant = TenantId::get(&mut r)?;
        if tenant.idx() >= view.ents.len() {
            return Err(err(format!("job {id} belongs to no tenant of this site")));
        }
        let job = get_job(&mut r, view.ents.get(tenant).path.clone())?;
        let k = r.len()?;
        let mut events = Vec::with_capacity(k);
        for _ in 0..k {
            let (time, kind, detail) = Persist::get(&mut r)?;
            events.push(JobEvent { job: id, time, kind, detail });
        }
        let segments = Persist::get(&mut r)?;
        let open = Persist::get(&mut r)?;
        view.jobs.insert(id, JobRec { job, tenant, events, segments, open });
    }
    let n = r.len()?;
    for _ in 0..n {
        let hash = String::get(&mut r)?;
        let id = String::get(&mut r)?;
        let user = String::get(&mut r)?;
        let role = unjson(&String::get(&mut r)?)?;
        let scope = TenantId::get(&mut r)?;
        view.tokens.insert(hash, TokenRec { id, user, role, scope });
    }
    if !r.is_empty() {
        return Err(err("bytes left over after the read model"));
    }
    view.refresh(engine.core(), true);
    Ok((engine, view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Input;
    use agora_core::rng::Rng;

    fn site() -> (Topology, Entitlements, Config) {
        let s = agora_config::default_site();
        (agora_config::cluster("philly").unwrap(), s.entitlements, s.scheduler)
    }

    /// A random but valid stream of inputs: submissions (some held, some
    /// with dependencies), cycles, endings, cancellations, node failures.
    fn next_input(rng: &mut Rng, e: &Engine, now: &mut u64, ids: &mut u64) -> Input {
        *now += rng.below(120);
        let n = *now;
        let projects = ["ocean-emulator", "crop-vision", "national-llm", "radiology-fm"];
        let running = e.running();
        match rng.below(10) {
            0..=3 => {
                *ids += 1;
                let mut spec = agora_api::JobSubmit {
                    project: projects[rng.below(4) as usize].into(),
                    accelerators: Some([1, 8, 16, 64, 256][rng.below(5) as usize]),
                    duration: Some(agora_api::Duration::Secs(60 + rng.below(3600))),
                    time_limit: Some(agora_api::Duration::Secs(7200)),
                    ..Default::default()
                };
                if *ids > 3 && rng.below(5) == 0 {
                    spec.dependency = Some(format!("afterany:{}", *ids - 2));
                }
                Input::Submit { now: n, user: "u".into(), spec: Box::new(spec), idempotency_key: None }
            }
            4 | 5 => Input::Tick { now: n },
            6 if !running.is_empty() => {
                let l = &running[rng.below(running.len() as u64) as usize];
                Input::Exited { now: n, job: l.job, run: l.run, code: [0, 0, 1][rng.below(3) as usize] }
            }
            7 => Input::Cancel { now: n, job: 1 + rng.below(*ids + 1) },
            8 => Input::Hold { now: n, job: 1 + rng.below(*ids + 1) },
            _ if rng.below(2) == 0 => Input::NodeFailed { now: n, node: rng.below(40) as u32 },
            _ => Input::NodeRepaired { now: n, node: rng.below(40) as u32 },
        }
    }

    #[test]
    fn a_restored_snapshot_continues_exactly_like_the_original() {
        let (topo, ents, cfg) = site();
        let mut a = Engine::new(Scheduler::new(topo.clone(), ents.clone(), cfg.clone()));
        let mut va = View::new(ents.clone());
        let mut sink = Vec::new();
        let (mut rng, mut now, mut ids) = (Rng::new(7), 1_000_000u64, 0u64);
        let mut b: Option<(Engine, View)> = None;
        let (mut accepted, mut refused) = (0, 0);
        for step in 0..1500 {
            if step == 700 {
                let bytes = encode(&a, &va);
                let restored = decode(&bytes, topo.clone(), ents.clone(), cfg.clone()).unwrap();
                assert!(encode(&restored.0, &restored.1) == bytes, "the restored state encodes alike");
                b = Some(restored);
            }
            let input = next_input(&mut rng, &a, &mut now, &mut ids);
            let ra = a.apply(&input);
            if let Some((eb, vb)) = &mut b {
                let rb = eb.apply(&input);
                assert_eq!(ra.is_ok(), rb.is_ok(), "step {step}: {input:?}");
                if let (Ok(x), Ok(y)) = (&ra, &rb) {
                    assert_eq!(x.reply, y.reply);
                    assert_eq!(format!("{:?}", x.ops), format!("{:?}", y.ops), "step {step}: same executor work");
                    for e in y.effects.clone() {
                        vb.apply(e, &mut sink);
                    }
                }
            }
            match ra {
                Ok(x) => {
                    accepted += 1;
                    for e in x.effects {
                        va.apply(e, &mut sink);
                    }
                }
                Err(_) => refused += 1,
            }
            if let Some((eb, vb)) = &b {
                if step % 50 == 0 {
                    assert_eq!(eb.core().state_digest(), a.core().state_digest(), "step {step}");
                    assert!(encode(eb, vb) == encode(&a, &va), "step {step}: the whole state differs");
                }
            }
        }
        assert!(accepted > 1000 && refused > 10, "the stream exercises both paths: {accepted} / {refused}");
        assert!(a.core().stats().started > 100 && a.core().stats().requeues > 0, "{:?}", a.core().stats());
    }

    #[test]
    fn damaged_or_foreign_snapshots_are_refused_not_trusted() {
        let (topo, ents, cfg) = site();
        let mut e = Engine::new(Scheduler::new(topo.clone(), ents.clone(), cfg.clone()));
        let mut v = View::new(ents.clone());
        let (mut rng, mut now, mut ids) = (Rng::new(3), 1_000_000u64, 0u64);
        for _ in 0..200 {
            let input = next_input(&mut rng, &e, &mut now, &mut ids);
            if let Ok(a) = e.apply(&input) {
                for x in a.effects {
                    v.apply(x, &mut Vec::new());
                }
            }
        }
        let bytes = encode(&e, &v);
        for i in [0, 5, 12, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad, topo.clone(), ents.clone(), cfg.clone()).is_err(), "byte {i} flipped");
        }
        for cut in [0, 10, 16, bytes.len() / 3, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], topo.clone(), ents.clone(), cfg.clone()).is_err(), "cut at {cut}");
        }
        let other = agora_config::cluster("kth-sp2").unwrap();
        let err = decode(&bytes, other, ents.clone(), cfg.clone()).err().unwrap();
        assert!(err.0.contains("another site"), "{err}");
        let mut cfg2 = cfg.clone();
        cfg2.preemption_grace += 1;
        assert!(decode(&bytes, topo, ents, cfg2).err().unwrap().0.contains("another site"));
    }
}
