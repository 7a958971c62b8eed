//! agora-store: the journal, the truth of the control plane.
//!
//! A journal is an append-only sequence of opaque entries (the server
//! serializes its inputs, with their own version); replaying it in order
//! through the deterministic core rebuilds the state. The store knows
//! nothing of jobs, so it depends on nothing of Agora.
//!
//! Durability: `append` writes a whole batch in one transaction and returns
//! only after the commit, so callers acknowledge requests after `append`
//! returns (group commit: one fsync for many requests).
//!
//! SQLite (`SqliteJournal`): one file `journal.sqlite` in the data
//! directory, `journal_mode=WAL`, `synchronous=FULL`: a committed batch is
//! fsynced to the WAL before `append` returns, so it survives a crash of
//! the process and of the machine (power loss) as far as the disk honours
//! fsync. The schema is created by numbered migrations recorded in `meta`.
//!
//! Snapshots: beside the journal, one table keeps the latest snapshot of
//! the server's state with the sequence number it follows, so a restart
//! replays only what came after it. The store does not read snapshots.
//!
//! One writer per journal: SQLite takes an exclusive lock on
//! `agora.lock` in the data directory, PostgreSQL a session advisory lock;
//! a second `agora serve` on the same store is refused with
//! `StoreError::Locked` instead of interleaving its entries.
//!
//! PostgreSQL (`PgJournal`, a `postgres://` URL): the same tables and
//! migration numbers; a batch is one transaction, durable per the server's
//! `synchronous_commit` (on by default).

use std::path::Path;

pub mod pg;
mod sqlite;
pub use pg::PgJournal;
pub use sqlite::SqliteJournal;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    #[error("store schema version {found} is newer than this build understands ({supported}); upgrade agora")]
    TooNew { found: u32, supported: u32 },
    /// Another process (a second `agora serve`) writes this journal.
    #[error("store {0} is in use by another agora serve (one writer per journal); stop it first, or give another --data or --store")]
    Locked(String),
    #[error("store: {0}")]
    Other(String),
}

/// How long `open` waits for a previous writer to let go of the journal
/// (a server that was just killed may take a moment to be noticed).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Try `f` until it answers `Some`, for at most `LOCK_WAIT`.
fn wait_for_lock<T>(mut f: impl FnMut() -> Result<Option<T>, StoreError>) -> Result<Option<T>, StoreError> {
    let start = std::time::Instant::now();
    loop {
        if let Some(t) = f()? {
            return Ok(Some(t));
        }
        if start.elapsed() >= LOCK_WAIT {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Called with each entry's sequence number and bytes during replay.
pub type Visit<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// What the server needs from a durable journal.
pub trait Journal: Send {
    /// Append entries in one transaction; returns the sequence number of the
    /// last one once it is durable.
    fn append(&mut self, entries: &[Vec<u8>]) -> Result<u64, StoreError>;
    /// Feed every entry, in order, to `f`.
    fn replay(&mut self, f: &mut Visit) -> Result<u64, StoreError> {
        self.replay_after(0, f)
    }
    /// Feed every entry after sequence number `seq`, in order, to `f`.
    fn replay_after(&mut self, seq: u64, f: &mut Visit) -> Result<u64, StoreError>;
    /// Keep `bytes` as the snapshot of the state after entry `seq`,
    /// replacing the previous one in the same transaction (a crash leaves
    /// one or the other whole).
    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError>;
    /// The latest snapshot: (the entry it follows, its bytes).
    fn load_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// The last sequence number written (0 if empty).
    fn last_seq(&mut self) -> Result<u64, StoreError>;
    /// A short name for logs and benchmarks ("sqlite").
    fn kind(&self) -> &'static str;
}

/// Empty the store at `spec` (benchmarks and tests only).
pub fn reset(spec: &str) -> Result<(), StoreError> {
    if is_postgres(spec) {
        let (base, name) =
            spec.rsplit_once('/').ok_or_else(|| StoreError::Other(format!("`{spec}` names no database")))?;
        pg::fresh_database(&format!("{base}/postgres"), name)?;
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(spec);
    Ok(())
}

/// Is `spec` a PostgreSQL URL?
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Open the store named by `spec`: a `postgres://` URL, or a directory
/// (SQLite inside it).
pub fn open(spec: &str) -> Result<Box<dyn Journal>, StoreError> {
    if is_postgres(spec) {
        return Ok(Box::new(PgJournal::open(spec)?));
    }
    Ok(Box::new(SqliteJournal::open(Path::new(spec))?))
}
