//! The two contexts commands run in.
//!
//! - [`ReadCtx`]: on a connection's task, straight against RocksDB. Expired keys are hidden
//!   and reported to the writer, which re-checks and logs the DEL (invariant 5).
//! - [`WriteCtx`]: on the writer thread, inside a group commit. Reads go through the group's
//!   overlay so a command sees the writes made before it in the same group, even though the
//!   group's RocksDB batch is applied only after the log holds it (reads never see a write that
//!   is not in the log). Each command records its effect as normalised commands, which become
//!   its log record.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use bytes::Bytes;

use super::errors::ExecResult;
use crate::protocol::Reply;
use crate::storage::{
    coll_prefix, Batch, DbCounts, Entry, Space, Storage, StorageError, DATABASES,
};
use crate::types::now_ms;

/// Called when a read finds an expired key, so the writer can delete (and log) it.
pub trait ExpireSink: Sync {
    fn key_expired(&self, db: u8, key: &[u8]);
}

/// What a read command sees: the connection's view of RocksDB ([`ReadCtx`]) or, inside
/// MULTI/EXEC and the writer's own reads, the group's view including its pending writes
/// ([`WriteCtx`]). Read commands are written once against this trait.
pub trait View {
    fn db(&self) -> u8;
    /// The clock expiry is judged by.
    fn now(&self) -> u64;
    /// Keys in this database as of the last group commit (DBSIZE).
    fn db_keys(&self) -> u64;
    /// Fixes a consistent point in time for the reads that follow (a command reading a
    /// collection's entry and then its elements).
    fn pin(&self) {}
    /// Runs `f`, a read of several keys, so that it sees each write batch whole or not at
    /// all (MGET after another client's MSET). The writer's own view is isolated already.
    fn isolated(&self, f: &mut dyn FnMut() -> ExecResult<Reply>) -> ExecResult<Reply> {
        f()
    }
    /// The live entry for `key`; an expired one reads as missing.
    fn get(&self, key: &[u8]) -> ExecResult<Option<Entry>>;
    /// One element by its full element key.
    fn elem_get(&self, space: Space, k: &[u8]) -> ExecResult<Option<Bytes>>;
    /// Element keys in `[lo, hi)` in order (descending if `reverse`), until `f` returns false.
    fn elem_scan(
        &self,
        space: Space,
        lo: &[u8],
        hi: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> ExecResult<()>;
    /// Keys of this database from `from` on, in key order, expired ones included, until `f`
    /// returns false.
    fn scan_keys(&self, from: &[u8], f: &mut dyn FnMut(&[u8], &Entry) -> bool) -> ExecResult<()>;
}

pub struct ReadCtx<'a> {
    pub storage: &'a Storage,
    pub db: u8,
    pub now: u64,
    /// `None` on a replica: it never expires keys itself, it only hides them.
    pub expire_sink: Option<&'a dyn ExpireSink>,
    /// Keys in `db` as of the last group commit (DBSIZE).
    pub db_keys: u64,
    pub snap: OnceCell<rocksdb::Snapshot<'a>>,
}

impl<'a> ReadCtx<'a> {
    pub fn new(
        storage: &'a Storage,
        db: u8,
        now: u64,
        expire_sink: Option<&'a dyn ExpireSink>,
        db_keys: u64,
    ) -> ReadCtx<'a> {
        ReadCtx {
            storage,
            db,
            now,
            expire_sink,
            db_keys,
            snap: OnceCell::new(),
        }
    }
}

impl View for ReadCtx<'_> {
    fn db(&self) -> u8 {
        self.db
    }

    fn now(&self) -> u64 {
        self.now
    }

    fn db_keys(&self) -> u64 {
        self.db_keys
    }

    fn pin(&self) {
        self.snap.get_or_init(|| self.storage.snapshot());
    }

    fn isolated(&self, f: &mut dyn FnMut() -> ExecResult<Reply>) -> ExecResult<Reply> {
        self.storage.isolated(f)
    }

    fn get(&self, key: &[u8]) -> ExecResult<Option<Entry>> {
        let e = match self.snap.get() {
            Some(s) => self.storage.get_raw_at(s, self.db, key)?,
            None => self.storage.get_raw(self.db, key)?,
        };
        match e {
            Some(e) if e.is_expired(self.now) => {
                if let Some(s) = self.expire_sink {
                    s.key_expired(self.db, key);
                }
                Ok(None)
            }
            other => Ok(other),
        }
    }

    fn elem_get(&self, space: Space, k: &[u8]) -> ExecResult<Option<Bytes>> {
        self.storage.elem_get(space, self.snap.get(), k)
    }

    fn elem_scan(
        &self,
        space: Space,
        lo: &[u8],
        hi: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> ExecResult<()> {
        merged_scan(
            self.storage,
            self.snap.get(),
            None,
            space,
            lo,
            hi,
            reverse,
            f,
        )
    }

    fn scan_keys(&self, from: &[u8], f: &mut dyn FnMut(&[u8], &Entry) -> bool) -> ExecResult<()> {
        // After `pin` (DEBUG DIGEST) keys, entries and elements come from one snapshot.
        self.storage
            .scan_db(self.db, from, self.snap.get(), |k, e| f(k, &e))
    }
}

/// Walks RocksDB's keys in `[lo, hi)` merged with a group's pending element writes (which win
/// over what RocksDB holds; a pending delete hides the key).
#[allow(clippy::too_many_arguments)]
fn merged_scan(
    storage: &Storage,
    snap: Option<&rocksdb::Snapshot<'_>>,
    overlay: Option<&BTreeMap<Vec<u8>, Option<Bytes>>>,
    space: Space,
    lo: &[u8],
    hi: &[u8],
    reverse: bool,
    f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> ExecResult<()> {
    if lo >= hi {
        return Ok(());
    }
    let mut it = storage.elem_iter(space, snap, lo, hi);
    if reverse {
        it.seek_to_last();
    } else {
        it.seek(lo);
    }
    let empty = BTreeMap::new();
    let ov = overlay.unwrap_or(&empty);
    let range = ov.range::<[u8], _>((std::ops::Bound::Included(lo), std::ops::Bound::Excluded(hi)));
    let mut pending: Box<dyn Iterator<Item = (&Vec<u8>, &Option<Bytes>)>> = if reverse {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut next_ov = pending.next();
    loop {
        let db_key = if it.valid() { it.key() } else { None };
        let take_db = match (db_key, next_ov) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(dk), Some((ok, _))) => {
                if dk == ok.as_slice() {
                    // The pending write shadows the stored one.
                    if reverse {
                        it.prev();
                    } else {
                        it.next();
                    }
                    false
                } else if reverse {
                    dk > ok.as_slice()
                } else {
                    dk < ok.as_slice()
                }
            }
        };
        if take_db {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !f(k, v) {
                return Ok(());
            }
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        } else if let Some((k, v)) = next_ov {
            if let Some(v) = v {
                if !f(k, v) {
                    return Ok(());
                }
            }
            next_ov = pending.next();
        }
    }
    it.status().map_err(|source| StorageError {
        what: "scan elements",
        path: String::new(),
        source: source.into(),
    })
}

/// Dropped collections at least this large get their space compacted right away.
const RECLAIM_AT_SIZE: u64 = 4096;

/// Dropped collections up to this size are deleted element by element instead of with a range
/// delete.
const POINT_DELETE_MAX: u64 = 128;

/// Per-group state kept by the writer across the commands of one group commit.
pub struct GroupState {
    pub batch: Batch,
    /// Per database: what the group's commands read or wrote, keyed by the user's key (a
    /// lookup by `&[u8]` copies nothing; foldhash rather than SipHash: hashed several times
    /// per command on the write path).
    overlay: [hashbrown::HashMap<Bytes, Option<Entry>>; DATABASES],
    /// Pending element writes per space, so commands later in the group read them.
    elems: [BTreeMap<Vec<u8>, Option<Bytes>>; 3],
    /// The next collection version; persisted with the batch when it moved.
    pub next_version: u64,
    pub version_dirty: bool,
    /// When set, every key written is recorded in `touched` (for WATCH and blocked clients).
    pub track_touches: bool,
    pub touched: Vec<(u8, Bytes)>,
    /// Prefixes of large collections dropped in this group, compacted in the background once
    /// the batch is applied.
    pub reclaim: Vec<Vec<u8>>,
    pub counts: [DbCounts; DATABASES],
    pub counts_dirty: [bool; DATABASES],
    /// Databases emptied earlier in this group: RocksDB still holds their old keys until the
    /// batch is applied, so unseen keys there read as missing.
    flushed: [bool; DATABASES],
    pub expired_keys: u64,
}

impl GroupState {
    /// The writer's starting state: key counts and the version counter as stored.
    pub fn load(storage: &Storage) -> Result<GroupState, StorageError> {
        Ok(GroupState::new(
            storage.load_counts()?,
            storage.next_version()?,
        ))
    }

    pub fn new(counts: [DbCounts; DATABASES], next_version: u64) -> GroupState {
        GroupState {
            batch: Batch::default(),
            overlay: std::array::from_fn(|_| hashbrown::HashMap::new()),
            elems: [BTreeMap::new(), BTreeMap::new(), BTreeMap::new()],
            next_version,
            version_dirty: false,
            track_touches: false,
            touched: Vec::new(),
            reclaim: Vec::new(),
            counts,
            counts_dirty: [false; DATABASES],
            flushed: [false; DATABASES],
            expired_keys: 0,
        }
    }

    /// Starts the next group: a fresh batch and overlay, counts carried over.
    pub fn reset(&mut self) {
        self.batch = Batch::default();
        for m in self.overlay.iter_mut() {
            m.clear();
        }
        for e in self.elems.iter_mut() {
            e.clear();
        }
        self.version_dirty = false;
        self.reclaim.clear();
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
    /// The database the effects logged so far leave the record in (a command that touches
    /// another database, MOVE or COPY ... DB, logs a SELECT before effects there).
    log_db: u8,
    start_db: u8,
    pub max_bulk_len: u64,
    /// True when a blocking command (BLPOP, BZPOPMIN, ...) may park its client: a plain
    /// client call. False inside MULTI, on replay, and when the writer retries a parked
    /// client (then the command answers as its non-blocking form would).
    pub may_block: bool,
    /// Set by a blocking command that found nothing to pop and may block: the writer parks
    /// the client on these keys until one is written or the timeout passes.
    pub block: Option<Block>,
}

/// What a parked client waits for.
#[derive(Clone, Debug)]
pub struct Block {
    pub keys: Vec<Bytes>,
    /// 0 = forever.
    pub timeout_ms: u64,
}

/// Parses a blocking command's timeout (seconds, fractions allowed) as Redis does.
pub fn parse_timeout(b: &[u8]) -> Result<u64, crate::protocol::Reply> {
    let bad = || crate::protocol::Reply::err("ERR timeout is not a float or out of range");
    let secs = super::parse_f64(b).ok_or_else(bad)?;
    if !secs.is_finite() || secs > 1e12 {
        return Err(bad());
    }
    if secs < 0.0 {
        return Err(crate::protocol::Reply::err("ERR timeout is negative"));
    }
    Ok((secs * 1000.0).ceil() as u64)
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
            log_db: db,
            start_db: db,
            max_bulk_len,
            may_block: false,
            block: None,
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
        if let Some(e) = self.group.overlay[self.db as usize].get(key) {
            return Ok(e.clone());
        }
        let e = if self.group.flushed[self.db as usize] {
            None
        } else {
            self.storage.get_raw(self.db, key)?
        };
        self.group.overlay[self.db as usize].insert(Bytes::copy_from_slice(key), e.clone());
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

    /// Marks `key` as written for WATCH and blocked clients, also when a command left it as it
    /// was (Redis' LTRIM signals the key even when it trims nothing).
    pub fn touch(&mut self, key: &[u8]) {
        if self.group.track_touches {
            self.group
                .touched
                .push((self.db, Bytes::copy_from_slice(key)));
        }
    }

    /// A version no collection on this node has used.
    pub fn new_version(&mut self) -> u64 {
        let v = self.group.next_version;
        self.group.next_version += 1;
        self.group.version_dirty = true;
        v
    }

    /// Drops the elements of `old` unless `new` is the same collection. Small collections are
    /// deleted element by element; large ones with one range delete per column family (O(1)
    /// now, reclaimed by compaction). Range tombstones are not free for RocksDB reads, so they
    /// are kept for the cases that need them.
    fn drop_elements(&mut self, key: &[u8], old: &Entry, new: Option<&Entry>) -> ExecResult<()> {
        let Some(m) = old.coll() else { return Ok(()) };
        if m.size == 0 {
            return Ok(());
        }
        if let Some(n) = new.and_then(|n| n.coll()) {
            if n.version == m.version {
                return Ok(());
            }
        }
        let prefix = coll_prefix(self.db, key, m.version);
        if m.size <= POINT_DELETE_MAX {
            let end = crate::storage::prefix_end(&prefix);
            for &space in Space::used_by(old.kind) {
                let mut keys = Vec::new();
                self.elem_scan(space, &prefix, &end, false, &mut |k, _| {
                    keys.push(k.to_vec());
                    true
                })?;
                for k in keys {
                    self.elem_del(space, k);
                }
            }
            return Ok(());
        }
        self.storage
            .batch_drop_collection(&mut self.group.batch, &prefix);
        if m.size >= RECLAIM_AT_SIZE {
            self.group.reclaim.push(prefix);
        }
        Ok(())
    }

    pub fn elem_put(&mut self, space: Space, k: Vec<u8>, v: Bytes) {
        self.storage
            .batch_put_elem(&mut self.group.batch, space, &k, &v);
        self.group.elems[space as usize].insert(k, Some(v));
    }

    pub fn elem_del(&mut self, space: Space, k: Vec<u8>) {
        self.storage
            .batch_delete_elem(&mut self.group.batch, space, &k);
        self.group.elems[space as usize].insert(k, None);
    }

    /// Stores `entry` under `key`, keeping the expire index and the key counts in step.
    pub fn put(&mut self, key: &[u8], entry: Entry) -> ExecResult<()> {
        let db = self.db;
        // The old entry's expiry (None: there was none).
        let old = self.raw(key)?;
        if let Some(o) = &old {
            self.drop_elements(key, o, Some(&entry))?;
        }
        let old_expire = old.map(|o| o.expire_at);
        self.touch(key);
        let c = &mut self.group.counts[db as usize];
        match old_expire {
            None => c.keys += 1,
            Some(at) if at != 0 => c.expires = c.expires.saturating_sub(1),
            _ => {}
        }
        if entry.expire_at != 0 {
            c.expires += 1;
        }
        self.group.counts_dirty[db as usize] = true;
        if let Some(at) = old_expire {
            if at != 0 && at != entry.expire_at {
                self.storage
                    .batch_delete_expire(&mut self.group.batch, db, at, key);
            }
        }
        if entry.expire_at != 0 && old_expire != Some(entry.expire_at) {
            self.storage
                .batch_put_expire(&mut self.group.batch, db, entry.expire_at, key);
        }
        self.storage
            .batch_put_entry(&mut self.group.batch, db, key, &entry);
        self.overlay_set(key, Some(entry));
        Ok(())
    }

    /// Records what `key` now holds for the rest of the group; usually the key is there
    /// already (read before the write), and its copy is reused.
    fn overlay_set(&mut self, key: &[u8], e: Option<Entry>) {
        let ov = &mut self.group.overlay[self.db as usize];
        match ov.get_mut(key) {
            Some(slot) => *slot = e,
            None => {
                ov.insert(Bytes::copy_from_slice(key), e);
            }
        }
    }

    /// Deletes `key`; true if it was stored (expired or not).
    pub fn remove(&mut self, key: &[u8]) -> ExecResult<bool> {
        let Some(old) = self.raw(key)? else {
            return Ok(false);
        };
        self.touch(key);
        self.drop_elements(key, &old, None)?;
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
        self.overlay_set(key, None);
        Ok(true)
    }

    /// Empties database `db` with a range delete (none when it is already empty: range
    /// tombstones cost every later read a little, so an idle FLUSHALL must not pile them up).
    pub fn clear_db(&mut self, db: u8) {
        let empty = self.group.counts[db as usize].keys == 0;
        if !empty {
            self.storage.batch_clear_db(&mut self.group.batch, db);
        }
        self.group.counts[db as usize] = DbCounts::default();
        self.group.counts_dirty[db as usize] = true;
        // Entries cached for this db are now gone; mark every one as deleted and let
        // storage reads for unseen keys be answered by the flag below.
        self.group.overlay[db as usize].clear();
        self.group.flushed[db as usize] = true;
        if self.group.track_touches {
            // An empty key stands for "every key of this database".
            self.group.touched.push((db, Bytes::new()));
        }
    }

    /// Records a normalised command for this command's log record, in the database the
    /// context is in now.
    pub fn log(&mut self, args: Vec<Bytes>) {
        if self.db != self.log_db {
            self.effects.push(select(self.db));
            self.log_db = self.db;
        }
        self.effects.push(args);
    }

    /// Logs the command as it was received (for commands that are deterministic as they are).
    pub fn log_verbatim(&mut self, args: &[Bytes]) {
        self.log(args.to_vec());
    }

    /// This command's effects, ending in the database it started in.
    pub fn take_effects(&mut self) -> Vec<Vec<Bytes>> {
        if self.log_db != self.start_db {
            self.effects.push(select(self.start_db));
            self.log_db = self.start_db;
        }
        std::mem::take(&mut self.effects)
    }
}

fn select(db: u8) -> Vec<Bytes> {
    vec![Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]
}

impl View for WriteCtx<'_> {
    fn db(&self) -> u8 {
        self.db
    }

    fn now(&self) -> u64 {
        // Applying the log: nothing expires by the clock.
        self.now.unwrap_or(0)
    }

    fn db_keys(&self) -> u64 {
        self.group.counts[self.db as usize].keys
    }

    fn get(&self, key: &[u8]) -> ExecResult<Option<Entry>> {
        let e = match self.group.overlay[self.db as usize].get(key) {
            Some(e) => e.clone(),
            None if self.group.flushed[self.db as usize] => None,
            None => self.storage.get_raw(self.db, key)?,
        };
        Ok(match (e, self.now) {
            (Some(e), Some(now)) if e.is_expired(now) => None,
            (e, _) => e,
        })
    }

    fn elem_get(&self, space: Space, k: &[u8]) -> ExecResult<Option<Bytes>> {
        match self.group.elems[space as usize].get(k) {
            Some(v) => Ok(v.clone()),
            None => self.storage.elem_get(space, None, k),
        }
    }

    fn elem_scan(
        &self,
        space: Space,
        lo: &[u8],
        hi: &[u8],
        reverse: bool,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> ExecResult<()> {
        let ov = &self.group.elems[space as usize];
        merged_scan(self.storage, None, Some(ov), space, lo, hi, reverse, f)
    }

    fn scan_keys(&self, from: &[u8], f: &mut dyn FnMut(&[u8], &Entry) -> bool) -> ExecResult<()> {
        let db = self.db;
        // The group's own writes in this database, in key order.
        let mut pending: BTreeMap<&[u8], &Option<Entry>> = self.group.overlay[db as usize]
            .iter()
            .filter(|(k, _)| k.as_ref() >= from)
            .map(|(k, e)| (k.as_ref(), e))
            .collect();
        let mut stop = false;
        if !self.group.flushed[db as usize] {
            self.storage.scan_db(db, from, None, |k, e| {
                while let Some((&pk, _)) = pending.first_key_value() {
                    if pk >= k {
                        break;
                    }
                    if let Some((pk, Some(pe))) = pending.pop_first() {
                        if !f(pk, pe) {
                            stop = true;
                            return false;
                        }
                    }
                }
                let cont = match pending.remove(k) {
                    Some(Some(pe)) => f(k, pe),
                    Some(None) => true,
                    None => f(k, &e),
                };
                if !cont {
                    stop = true;
                }
                cont
            })?;
        }
        if !stop {
            for (k, e) in pending {
                if let Some(e) = e {
                    if !f(k, e) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
