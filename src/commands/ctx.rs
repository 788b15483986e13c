//! The two contexts commands run in.
//!
//! - [`ReadCtx`]: on a connection's task, straight against RocksDB. Expired keys are hidden
//!   and reported to the writer, which re-checks and logs the DEL (invariant 5).
//! - [`WriteCtx`]: on the writer thread, inside a group commit. Reads go through the group's
//!   overlay so a command sees the writes made before it in the same group, even though the
//!   group's RocksDB batch is applied only after the log holds it (reads never see a write that
//!   is not in the log). Each command records its effect as normalised commands, which become
//!   its log record.

use std::collections::HashMap;

use bytes::Bytes;
use rocksdb::WriteBatch;

use super::errors::ExecResult;
use crate::storage::{DbCounts, Entry, Storage, DATABASES};
use crate::types::now_ms;

/// Called when a read finds an expired key, so the writer can delete (and log) it.
pub trait ExpireSink: Sync {
    fn key_expired(&self, db: u8, key: &[u8]);
}

pub struct ReadCtx<'a> {
    pub storage: &'a Storage,
    pub db: u8,
    pub now: u64,
    /// `None` on a replica: it never expires keys itself, it only hides them.
    pub expire_sink: Option<&'a dyn ExpireSink>,
    /// Keys in `db` as of the last group commit (DBSIZE).
    pub db_keys: u64,
}

impl ReadCtx<'_> {
    /// The live entry for `key`, hiding an expired one.
    pub fn get(&self, key: &[u8]) -> ExecResult<Option<Entry>> {
        match self.storage.get_raw(self.db, key)? {
            Some(e) if e.is_expired(self.now) => {
                if let Some(s) = self.expire_sink {
                    s.key_expired(self.db, key);
                }
                Ok(None)
            }
            other => Ok(other),
        }
    }
}

/// Per-group state kept by the writer across the commands of one group commit.
pub struct GroupState {
    pub batch: WriteBatch,
    overlay: HashMap<(u8, Bytes), Option<Entry>>,
    pub counts: [DbCounts; DATABASES],
    pub counts_dirty: [bool; DATABASES],
    /// Databases emptied earlier in this group: RocksDB still holds their old keys until the
    /// batch is applied, so unseen keys there read as missing.
    flushed: [bool; DATABASES],
    pub expired_keys: u64,
}

impl GroupState {
    pub fn new(counts: [DbCounts; DATABASES]) -> GroupState {
        GroupState {
            batch: WriteBatch::default(),
            overlay: HashMap::new(),
            counts,
            counts_dirty: [false; DATABASES],
            flushed: [false; DATABASES],
            expired_keys: 0,
        }
    }

    /// Starts the next group: a fresh batch and overlay, counts carried over.
    pub fn reset(&mut self) {
        self.batch = WriteBatch::default();
        self.overlay.clear();
        self.counts_dirty = [false; DATABASES];
        self.flushed = [false; DATABASES];
        self.expired_keys = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }
}

pub struct WriteCtx<'a> {
    pub storage: &'a Storage,
    pub group: &'a mut GroupState,
    pub db: u8,
    /// The clock for expiry decisions: `Some(now)` on a master, `None` when applying a log
    /// record (replay or replica), where nothing expires by the clock: expiry arrives as DEL.
    pub now: Option<u64>,
    /// The normalised commands this command's record will carry.
    pub effects: Vec<Vec<Bytes>>,
    pub max_bulk_len: u64,
}

impl<'a> WriteCtx<'a> {
    pub fn new(
        storage: &'a Storage,
        group: &'a mut GroupState,
        db: u8,
        now: Option<u64>,
        max_bulk_len: u64,
    ) -> WriteCtx<'a> {
        WriteCtx {
            storage,
            group,
            db,
            now,
            effects: Vec::new(),
            max_bulk_len,
        }
    }

    /// Wall-clock time for turning relative TTLs into absolute ones.
    pub fn clock(&self) -> u64 {
        self.now.unwrap_or_else(now_ms)
    }

    /// True if an absolute expire-at is already in the past on a master (the key is deleted
    /// instead of stored). Never true when applying the log.
    pub fn already_expired(&self, at: u64) -> bool {
        matches!(self.now, Some(now) if at <= now)
    }

    /// The stored entry, expired or not, as of this point in the group.
    pub fn raw(&mut self, key: &[u8]) -> ExecResult<Option<Entry>> {
        let k = (self.db, Bytes::copy_from_slice(key));
        if let Some(e) = self.group.overlay.get(&k) {
            return Ok(e.clone());
        }
        let e = if self.group.flushed[self.db as usize] {
            None
        } else {
            self.storage.get_raw(self.db, key)?
        };
        self.group.overlay.insert(k, e.clone());
        Ok(e)
    }

    /// The live entry for `key`. An expired one is deleted here and a DEL is logged before this
    /// command's own effect, so every node replays the same thing.
    pub fn lookup(&mut self, key: &[u8]) -> ExecResult<Option<Entry>> {
        let e = self.raw(key)?;
        match (e, self.now) {
            (Some(e), Some(now)) if e.is_expired(now) => {
                self.remove(key)?;
                self.group.expired_keys += 1;
                self.log(vec![
                    Bytes::from_static(b"DEL"),
                    Bytes::copy_from_slice(key),
                ]);
                Ok(None)
            }
            (e, _) => Ok(e),
        }
    }

    /// Stores `entry` under `key`, keeping the expire index and the key counts in step.
    pub fn put(&mut self, key: &[u8], entry: Entry) -> ExecResult<()> {
        let old = self.raw(key)?;
        let db = self.db;
        let c = &mut self.group.counts[db as usize];
        match &old {
            None => c.keys += 1,
            Some(o) if o.expire_at != 0 => c.expires = c.expires.saturating_sub(1),
            _ => {}
        }
        if entry.expire_at != 0 {
            c.expires += 1;
        }
        self.group.counts_dirty[db as usize] = true;
        if let Some(o) = &old {
            if o.expire_at != 0 && o.expire_at != entry.expire_at {
                self.storage
                    .batch_delete_expire(&mut self.group.batch, db, o.expire_at, key);
            }
        }
        if entry.expire_at != 0 && old.as_ref().map(|o| o.expire_at) != Some(entry.expire_at) {
            self.storage
                .batch_put_expire(&mut self.group.batch, db, entry.expire_at, key);
        }
        self.storage
            .batch_put_entry(&mut self.group.batch, db, key, &entry);
        self.group
            .overlay
            .insert((db, Bytes::copy_from_slice(key)), Some(entry));
        Ok(())
    }

    /// Deletes `key`; true if it was stored (expired or not).
    pub fn remove(&mut self, key: &[u8]) -> ExecResult<bool> {
        let Some(old) = self.raw(key)? else {
            return Ok(false);
        };
        let db = self.db;
        let c = &mut self.group.counts[db as usize];
        c.keys = c.keys.saturating_sub(1);
        if old.expire_at != 0 {
            c.expires = c.expires.saturating_sub(1);
            self.storage
                .batch_delete_expire(&mut self.group.batch, db, old.expire_at, key);
        }
        self.group.counts_dirty[db as usize] = true;
        self.storage
            .batch_delete_entry(&mut self.group.batch, db, key);
        self.group
            .overlay
            .insert((db, Bytes::copy_from_slice(key)), None);
        Ok(true)
    }

    /// Empties database `db` with a range delete.
    pub fn clear_db(&mut self, db: u8) {
        self.storage.batch_clear_db(&mut self.group.batch, db);
        self.group.counts[db as usize] = DbCounts::default();
        self.group.counts_dirty[db as usize] = true;
        // Entries cached for this db are now gone; mark every one as deleted and let
        // storage reads for unseen keys be answered by the flag below.
        self.group.overlay.retain(|(d, _), _| *d != db);
        self.group.flushed[db as usize] = true;
    }

    /// Records a normalised command for this command's log record.
    pub fn log(&mut self, args: Vec<Bytes>) {
        self.effects.push(args);
    }

    /// Logs the command as it was received (for commands that are deterministic as they are).
    pub fn log_verbatim(&mut self, args: &[Bytes]) {
        self.effects.push(args.to_vec());
    }
}
