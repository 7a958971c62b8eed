//! The PostgreSQL journal: the same schema and migration numbering as
//! SQLite (`meta`, `journal(seq, entry)`), selected by a `postgres://` URL.
//!
//! Durability: each `append` is one transaction committed with the
//! server's `synchronous_commit` (on by default: the commit is flushed to
//! PostgreSQL's WAL before `append` returns).
//!
//! The `postgres` client runs its own small runtime, which must not live on
//! a tokio worker thread; so the client lives on a dedicated thread and
//! `PgJournal` talks to it over channels.

use crate::{Journal, StoreError, Visit, SCHEMA_VERSION};
use std::sync::mpsc;

/// Numbered migrations (the same versions as SQLite's).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE journal (seq BIGINT PRIMARY KEY, entry BYTEA NOT NULL);",
    "CREATE TABLE snapshot (seq BIGINT PRIMARY KEY, data BYTEA NOT NULL);",
];

/// `migrate`'s answer when another server holds the writer lock.
const LOCKED: &str = "\u{0}locked";

/// A snapshot's bytes and the journal entry it follows.
type Snapshot = (u64, Vec<u8>);

type Chunk = Result<Vec<(u64, Vec<u8>)>, String>;

enum Op {
    Append(Vec<Vec<u8>>, mpsc::Sender<Result<u64, String>>),
    Replay(u64, mpsc::SyncSender<Chunk>),
    SaveSnapshot(u64, Vec<u8>, mpsc::Sender<Result<(), String>>),
    LoadSnapshot(mpsc::Sender<Result<Option<Snapshot>, String>>),
}

pub struct PgJournal {
    tx: Option<mpsc::Sender<Op>>,
    last: u64,
    /// The client's thread: joined on drop, so the connection (and its
    /// advisory lock) is gone when the journal is.
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The session advisory lock that makes one server the journal's only
/// writer ("agora" in ASCII).
const WRITER_LOCK: i64 = 0x61_676f_7261;

impl Drop for PgJournal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn err(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("postgres: {}", d.message()),
        None => format!("postgres: {e}"),
    }
}

fn connect(url: &str) -> Result<postgres::Client, String> {
    postgres::Client::connect(url, postgres::NoTls).map_err(err)
}

fn migrate(c: &mut postgres::Client) -> Result<u64, String> {
    let locked = crate::wait_for_lock(|| {
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
            .map_err(|e| crate::StoreError::Other(err(e)))?
            .get(0);
        Ok(got.then_some(()))
    })
    .map_err(|e| e.to_string())?;
    if locked.is_none() {
        return Err(LOCKED.into());
    }
    c.batch_execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").map_err(err)?;
    let found: u32 = c
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .map_err(err)?
        .and_then(|r| r.get::<_, String>(0).parse().ok())
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(format!(
            "store schema version {found} is newer than this build understands ({SCHEMA_VERSION}); upgrade agora"
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let mut tx = c.transaction().map_err(err)?;
        tx.batch_execute(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = $1",
            &[&(i + 1).to_string()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    let last: i64 = c.query_one("SELECT COALESCE(MAX(seq), 0) FROM journal", &[]).map_err(err)?.get(0);
    Ok(last as u64)
}

fn serve(mut c: postgres::Client, rx: mpsc::Receiver<Op>, mut last: u64) {
    for op in rx {
        match op {
            Op::Append(entries, reply) => {
                let seqs: Vec<i64> = (1..=entries.len() as i64).map(|i| last as i64 + i).collect();
                let res = (|| {
                    let mut tx = c.transaction().map_err(err)?;
                    tx.execute(
                        "INSERT INTO journal (seq, entry) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])",
                        &[&seqs, &entries],
                    )
                    .map_err(err)?;
                    tx.commit().map_err(err)
                })();
                if res.is_ok() {
                    last += entries.len() as u64;
                }
                let _ = reply.send(res.map(|_| last));
            }
            Op::SaveSnapshot(seq, bytes, reply) => {
                let res = (|| {
                    let mut tx = c.transaction().map_err(err)?;
                    tx.execute("DELETE FROM snapshot", &[]).map_err(err)?;
                    tx.execute("INSERT INTO snapshot (seq, data) VALUES ($1, $2)", &[&(seq as i64), &bytes])
                        .map_err(err)?;
                    tx.commit().map_err(err)
                })();
                let _ = reply.send(res);
            }
            Op::LoadSnapshot(reply) => {
                let res = c
                    .query_opt("SELECT seq, data FROM snapshot ORDER BY seq DESC LIMIT 1", &[])
                    .map(|r| r.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1))))
                    .map_err(err);
                let _ = reply.send(res);
            }
            Op::Replay(after, out) => {
                let res = (|| {
                    let mut tx = c.transaction().map_err(err)?;
                    let after = after as i64;
                    let portal = tx
                        .bind("SELECT seq, entry FROM journal WHERE seq > $1 ORDER BY seq", &[&after])
                        .map_err(err)?;
                    loop {
                        let rows = tx.query_portal(&portal, 10_000).map_err(err)?;
                        if rows.is_empty() {
                            return Ok(());
                        }
                        let chunk = rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1))).collect();
                        if out.send(Ok(chunk)).is_err() {
                            return Ok(());
                        }
                    }
                })();
                if let Err(e) = res {
                    let _ = out.send(Err(e));
                }
            }
        }
    }
}

impl PgJournal {
    pub fn open(url: &str) -> Result<PgJournal, StoreError> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let name = url.rsplit_once('@').map_or(url, |(_, h)| h).to_string();
        let url = url.to_string();
        let thread = std::thread::Builder::new()
            .name("agora-pg".into())
            .spawn(move || {
                let opened = connect(&url).and_then(|mut c| migrate(&mut c).map(|last| (c, last)));
                match opened {
                    Ok((c, last)) => {
                        let _ = ready_tx.send(Ok(last));
                        serve(c, rx, last);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(StoreError::Io)?;
        let last = ready_rx.recv().map_err(|_| StoreError::Other("postgres thread died".into()))?.map_err(|e| {
            if e == LOCKED {
                StoreError::Locked(format!("postgres://…@{name}"))
            } else {
                StoreError::Other(e)
            }
        })?;
        Ok(PgJournal { tx: Some(tx), last, thread: Some(thread) })
    }
}

impl PgJournal {
    fn sender(&self) -> Result<&mpsc::Sender<Op>, StoreError> {
        self.tx.as_ref().ok_or_else(|| StoreError::Other("postgres thread died".into()))
    }
}

impl Journal for PgJournal {
    fn append(&mut self, entries: &[Vec<u8>]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(self.last);
        }
        let (tx, rx) = mpsc::channel();
        self.sender()?
            .send(Op::Append(entries.to_vec(), tx))
            .map_err(|_| StoreError::Other("postgres thread died".into()))?;
        self.last =
            rx.recv().map_err(|_| StoreError::Other("postgres thread died".into()))?.map_err(StoreError::Other)?;
        Ok(self.last)
    }

    fn replay_after(&mut self, after: u64, f: &mut Visit) -> Result<u64, StoreError> {
        let (tx, rx) = mpsc::sync_channel(4);
        self.sender()?.send(Op::Replay(after, tx)).map_err(|_| StoreError::Other("postgres thread died".into()))?;
        let mut n = 0;
        for chunk in rx {
            for (seq, e) in chunk.map_err(StoreError::Other)? {
                f(seq, &e).map_err(|e| StoreError::Other(format!("journal entry {seq}: {e}")))?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.last)
    }

    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::channel();
        self.sender()?
            .send(Op::SaveSnapshot(seq, bytes.to_vec(), tx))
            .map_err(|_| StoreError::Other("postgres thread died".into()))?;
        rx.recv().map_err(|_| StoreError::Other("postgres thread died".into()))?.map_err(StoreError::Other)
    }

    fn load_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let (tx, rx) = mpsc::channel();
        self.sender()?.send(Op::LoadSnapshot(tx)).map_err(|_| StoreError::Other("postgres thread died".into()))?;
        rx.recv().map_err(|_| StoreError::Other("postgres thread died".into()))?.map_err(StoreError::Other)
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}

/// A fresh, empty database `name` on the server at `url` (dropped first if
/// it exists); returns its URL. For tests and benchmarks.
pub fn fresh_database(url: &str, name: &str) -> Result<String, StoreError> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Other(format!("`{name}` is not a plain database name")));
    }
    let (url, name) = (url.to_string(), name.to_string());
    // On its own thread: the client must not run on a tokio worker.
    std::thread::spawn(move || -> Result<String, StoreError> {
        let mut c = connect(&url).map_err(StoreError::Other)?;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .map_err(|e| StoreError::Other(err(e)))?;
        c.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| StoreError::Other(err(e)))?;
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        Ok(format!("{base}/{name}"))
    })
    .join()
    .map_err(|_| StoreError::Other("postgres thread panicked".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PostgreSQL server the tests use: `AGORA_TEST_PG_URL` (set by
    /// `.ci/run` after `scripts/pg-local.sh start`). Under CI its absence is
    /// a failure, never a silent skip.
    pub fn pg_url() -> Option<String> {
        match std::env::var("AGORA_TEST_PG_URL") {
            Ok(u) if !u.is_empty() => Some(u),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("AGORA_TEST_PG_URL is not set: run scripts/pg-local.sh start and export its URL (CI=true requires the PostgreSQL tests)")
            }
            _ => {
                eprintln!("AGORA_TEST_PG_URL is not set: PostgreSQL store test not run (scripts/pg-local.sh start)");
                None
            }
        }
    }

    #[test]
    fn postgres_journal_appends_batches_and_replays_them_in_order() {
        let Some(url) = pg_url() else { return };
        let db = fresh_database(&url, "agora_store_test").unwrap();
        {
            let mut j = PgJournal::open(&db).unwrap();
            assert_eq!(j.append(&[b"a".to_vec(), b"b".to_vec()]).unwrap(), 2);
            assert_eq!(j.append(&[b"c".to_vec()]).unwrap(), 3);
        }
        let mut j = PgJournal::open(&db).unwrap();
        assert_eq!(j.last_seq().unwrap(), 3);
        let mut seen = Vec::new();
        j.replay(&mut |s, e| {
            seen.push((s, e.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(1, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())]);
        let mut after = Vec::new();
        j.replay_after(1, &mut |s, _| {
            after.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(after, [2, 3]);
        assert_eq!(j.load_snapshot().unwrap(), None);
        j.save_snapshot(1, b"one").unwrap();
        j.save_snapshot(3, b"three").unwrap();
        assert_eq!(j.load_snapshot().unwrap(), Some((3, b"three".to_vec())));
        let err = PgJournal::open(&db).err().expect("a second writer must be refused");
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        drop(j);
        let mut again = PgJournal::open(&db).unwrap();
        assert_eq!(again.last_seq().unwrap(), 3, "the refused open changed nothing");
        let e = PgJournal::open("postgres://postgres@127.0.0.1:1/none").err().unwrap().to_string();
        assert!(e.starts_with("store: postgres:"), "{e}");
    }
}
