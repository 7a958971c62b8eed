//! The SQLite journal (see the crate docs for the durability contract).

use crate::{Journal, StoreError, Visit, SCHEMA_VERSION};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// Numbered migrations; entry i brings the schema to version i + 1.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE journal (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL);",
    "CREATE TABLE snapshot (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);",
];

pub struct SqliteJournal {
    conn: Connection,
    last: u64,
    /// Held (locked) for the journal's lifetime: one writer per directory.
    _lock: std::fs::File,
}

impl SqliteJournal {
    pub fn open(dir: &Path) -> Result<SqliteJournal, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("agora.lock");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        let lock = crate::wait_for_lock(|| match file.try_lock() {
            Ok(()) => Ok(Some(())),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(e)),
        })?;
        if lock.is_none() {
            return Err(StoreError::Locked(dir.display().to_string()));
        }
        let conn = Connection::open(dir.join("journal.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")?;
        let found: u32 = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found, supported: SCHEMA_VERSION });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
                params![(i + 1).to_string()],
            )?;
            tx.commit()?;
        }
        let last: u64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get::<_, i64>(0))? as u64;
        Ok(SqliteJournal { conn, last, _lock: file })
    }
}

impl Journal for SqliteJournal {
    fn append(&mut self, entries: &[Vec<u8>]) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(self.last);
        }
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO journal (seq, entry) VALUES (?1, ?2)")?;
            let mut seq = self.last;
            for e in entries {
                seq += 1;
                st.execute(params![seq as i64, e])?;
            }
        }
        tx.commit()?;
        self.last += entries.len() as u64;
        Ok(self.last)
    }

    fn replay_after(&mut self, after: u64, f: &mut Visit) -> Result<u64, StoreError> {
        let mut st = self.conn.prepare("SELECT seq, entry FROM journal WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = st.query(params![after as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let entry = row.get_ref(1)?.as_blob().map_err(|e| StoreError::Other(e.to_string()))?;
            f(seq as u64, entry).map_err(|e| StoreError::Other(format!("journal entry {seq}: {e}")))?;
            n += 1;
        }
        Ok(n)
    }

    fn last_seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.last)
    }

    fn save_snapshot(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM snapshot", [])?;
        tx.execute("INSERT INTO snapshot (seq, data) VALUES (?1, ?2)", params![seq as i64, bytes])?;
        tx.commit()?;
        Ok(())
    }

    fn load_snapshot(&mut self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT seq, data FROM snapshot ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?)
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_batches_survive_reopening_in_order() {
        let dir = std::env::temp_dir().join(format!("agora-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let mut j = SqliteJournal::open(&dir).unwrap();
            assert_eq!(j.append(&[b"a".to_vec(), b"b".to_vec()]).unwrap(), 2);
            assert_eq!(j.append(&[b"c".to_vec()]).unwrap(), 3);
        }
        let mut j = SqliteJournal::open(&dir).unwrap();
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
        assert_eq!(
            j.load_snapshot().unwrap(),
            Some((3, b"three".to_vec())),
            "the latest snapshot replaces the one before"
        );
        let err = j.replay(&mut |_, _| Err("bad".into())).unwrap_err();
        assert_eq!(err.to_string(), "store: journal entry 1: bad");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("agora-store-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut first = SqliteJournal::open(&dir).unwrap();
        first.append(&[b"a".to_vec()]).unwrap();
        let t = std::time::Instant::now();
        let err = SqliteJournal::open(&dir).err().expect("a second writer must be refused");
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("in use by another agora serve"), "{err}");
        assert!(t.elapsed() >= crate::LOCK_WAIT, "it waits for the first writer before giving up");
        drop(first);
        let mut again = SqliteJournal::open(&dir).unwrap();
        assert_eq!(again.last_seq().unwrap(), 1, "the refused open changed nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
