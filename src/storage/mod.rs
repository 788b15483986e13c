//! RocksDB storage: column families, key encoding, and the atomic batch that carries the
//! applied log offset.
//!
//! Keeps invariant 3 (exactly-once apply): every batch the writer commits carries the log offset
//! it covers in the `meta` column family, and RocksDB's own WAL is off with `atomic_flush` on,
//! so whatever state survives a crash carries the offset to replay from.
//!
//! Column families:
//! - `meta`: node state (applied offset, replid, key counts per database).
//! - `data`: one entry per key, `[db u8][key]` -> `[type u8][expire-at ms u64 LE][payload]`.
//! - `expire`: `[db u8][expire-at ms u64 BE][key]` -> empty; the active expiry cycle walks it
//!   in time order instead of scanning every key.
//! - `elements`: one entry per element of a collection, under
//!   `[db u8][key len u32 BE][key][version u64 BE][sub-key]` (see [`coll_prefix`]): hash field ->
//!   value, set member -> empty, sorted-set member -> score, list position u64 BE -> value.
//! - `scores`: the sorted-set score index, `[prefix][score, order-preserving u64 BE][member]`
//!   -> empty, so ranges by score and ranks walk the index in order.
//! - `ranks`: sorted-set rank blocks, `[prefix][first index suffix of the block]` -> count; a
//!   rank is the sum of the counts before the member's block plus a walk inside it.
//!
//! A collection's version lives in its `data` entry; deleting or overwriting the collection
//! drops the entry and range-deletes the old version's prefix in the same batch (O(1) on the
//! request path, space reclaimed by compaction). A new collection under the same name gets a
//! fresh version from a counter kept in `meta`, so it never sees its predecessor's elements.
//!
//! Batches of plain key writes reach RocksDB on a background thread ([`applier`]), their
//! entries pending in the entry cache meanwhile; reads that bypass that cache settle first.

mod applier;
pub mod cache;
pub mod entry;

use std::path::Path;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, IteratorMode, Options,
    WriteBatch, WriteOptions, DB,
};

use applier::Applier;
use cache::EntryCache;
pub use entry::{CollMeta, Entry, ValueType, LIST_MIDDLE};

use crate::types::{LogOffset, ReplId};

pub const CF_META: &str = "meta";
pub const CF_DATA: &str = "data";
pub const CF_EXPIRE: &str = "expire";
pub const CF_ELEMENTS: &str = "elements";
pub const CF_SCORES: &str = "scores";
pub const CF_RANKS: &str = "ranks";
const ALL_CFS: [&str; 6] = [
    CF_META,
    CF_DATA,
    CF_EXPIRE,
    CF_ELEMENTS,
    CF_SCORES,
    CF_RANKS,
];

/// The two element key spaces a collection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    Elements = 0,
    Scores = 1,
    Ranks = 2,
}

impl Space {
    pub const ALL: [Space; 3] = [Space::Elements, Space::Scores, Space::Ranks];

    /// The spaces a collection of `kind` has keys in: only sorted sets use scores and ranks.
    pub fn used_by(kind: ValueType) -> &'static [Space] {
        match kind {
            ValueType::ZSet => &Space::ALL,
            _ => &Space::ALL[..1],
        }
    }

    pub fn cf_name(self) -> &'static str {
        match self {
            Space::Elements => CF_ELEMENTS,
            Space::Scores => CF_SCORES,
            Space::Ranks => CF_RANKS,
        }
    }
}

const META_APPLIED: &[u8] = b"applied_offset";
const META_REPLID: &[u8] = b"replid";
const META_COUNTS: &[u8] = b"counts:";
const META_VERSION: &[u8] = b"next_version";

pub const DATABASES: usize = 16;

// The single-threaded mode only means column families are not created at run time; reads
// and writes are thread-safe, and handles are plain references (no lock per lookup).
type Db = DB;

#[derive(Debug, thiserror::Error)]
#[error("rocksdb {what} in {path}: {source}")]
pub struct StorageError {
    pub what: &'static str,
    pub path: String,
    pub source: StorageCause,
}

/// What went wrong under a [`StorageError`]: RocksDB, or starting the applier thread.
#[derive(Debug, thiserror::Error)]
pub enum StorageCause {
    #[error(transparent)]
    RocksDb(#[from] rocksdb::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Keys and keys-with-TTL in one database, kept by the writer and stored with every batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbCounts {
    pub keys: u64,
    pub expires: u64,
}

pub struct Storage {
    db: Arc<Db>,
    path: String,
    write_opts: WriteOptions,
    cache: Arc<EntryCache>,
    applier: Applier,
    /// Held exclusively while a batch becomes visible (written here, or turned pending for
    /// the applier), shared by reads of several keys ([`Storage::isolated`]): such a read
    /// sees each batch whole or not at all, as every read does in Redis. Point reads of one
    /// key need it not: a batch turns visible key by key only behind busy shards. The cost:
    /// a batch written here holds it across RocksDB's write, so a multi-key read waits out a
    /// RocksDB write stall (as a write does) where a GET does not.
    publishing: RwLock<()>,
}

/// A batch that could not be written, with its `data` entries (see [`Storage::write`]).
type Refused = (StorageError, Vec<(Vec<u8>, Option<Entry>)>);

/// A RocksDB write batch and the `data` entries it writes, so that [`Storage::write`] can
/// keep the entry cache coherent with it.
#[derive(Default)]
pub struct Batch {
    wb: WriteBatch,
    /// Each `data` key written, with what it holds after the batch (`None`: deleted).
    data: Vec<(Vec<u8>, Option<Entry>)>,
    /// Range-deletes a whole database: the cache is emptied.
    clears: bool,
    /// Writes what readers take from RocksDB without the entry cache (elements, the replid,
    /// the version counter): written before [`Storage::write`] returns, not in the background.
    sync: bool,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.wb.is_empty()
    }
}

impl Storage {
    /// Opens (or creates) the database at `path` with a RocksDB block cache of
    /// `block_cache_bytes` and an entry cache ([`cache`]) of `entry_cache_bytes` (0 = none).
    pub fn open(
        path: &Path,
        block_cache_bytes: usize,
        entry_cache_bytes: usize,
    ) -> Result<Storage, StorageError> {
        let path_s = path.display().to_string();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_atomic_flush(true);
        opts.increase_parallelism(2);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_max_background_jobs(2);
        let cache = Cache::new_lru_cache(block_cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        let mut data_opts = opts.clone();
        data_opts.set_block_based_table_factory(&table);
        // Profiled under redis-benchmark SET: the memtable skiplist insert is the largest single
        // cost of a write. 16, 4 and 1 MiB memtables measured the same CPU per SET (sessions 5
        // and 6); a memtable bloom filter lets lookups of keys not in it skip the search.
        data_opts.set_write_buffer_size(16 << 20);
        data_opts.set_max_write_buffer_number(4);
        data_opts.set_memtable_prefix_bloom_ratio(0.1);
        data_opts.set_memtable_whole_key_filtering(true);
        let mut elem_opts = opts.clone();
        elem_opts.set_block_based_table_factory(&table);
        elem_opts.set_write_buffer_size(16 << 20);
        elem_opts.set_max_write_buffer_number(4);
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_META, Options::default()),
            ColumnFamilyDescriptor::new(CF_DATA, data_opts),
            ColumnFamilyDescriptor::new(CF_EXPIRE, Options::default()),
            ColumnFamilyDescriptor::new(CF_ELEMENTS, elem_opts.clone()),
            ColumnFamilyDescriptor::new(CF_SCORES, elem_opts.clone()),
            ColumnFamilyDescriptor::new(CF_RANKS, elem_opts),
        ];
        let db = Db::open_cf_descriptors(&opts, path, cfs).map_err(|source| StorageError {
            what: "open",
            path: path_s.clone(),
            source: source.into(),
        })?;
        let db = Arc::new(db);
        let cache = Arc::new(EntryCache::new(entry_cache_bytes));
        let applier = Applier::start(db.clone(), cache.clone(), path_s.clone()).map_err(|e| {
            StorageError {
                what: "start the applier thread",
                path: path_s.clone(),
                source: e.into(),
            }
        })?;
        Ok(Storage {
            db,
            path: path_s,
            write_opts: applier::write_options(),
            cache,
            applier,
            publishing: RwLock::new(()),
        })
    }

    /// Runs `f`, a read of several keys, while no batch becomes visible.
    pub fn isolated<R>(&self, f: impl FnOnce() -> R) -> R {
        let _no_batch = self.publishing.read().unwrap_or_else(|p| p.into_inner());
        f()
    }

    fn publishing(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.publishing.write().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, what: &'static str) -> impl FnOnce(rocksdb::Error) -> StorageError + '_ {
        move |source| StorageError {
            what,
            path: self.path.clone(),
            source: source.into(),
        }
    }

    pub fn cf(&self, name: &str) -> &ColumnFamily {
        // The families are created at open; a missing one is a programming error.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} missing"))
    }

    /// The entry stored for `key` in database `db`, expired or not: from the entry cache when
    /// it holds the key, else from RocksDB (and then remembered).
    pub fn get_raw(&self, db: u8, key: &[u8]) -> Result<Option<Entry>, StorageError> {
        let k = data_key(db, key);
        let ticket = match self.cache.get(&k) {
            Ok(hit) => return Ok(hit),
            Err(ticket) => ticket,
        };
        let v = self
            .db
            .get_pinned_cf(&self.cf(CF_DATA), &k)
            .map_err(self.err("get"))?;
        let e = v.and_then(|v| Entry::decode(&v));
        if let Some(t) = ticket {
            self.cache.fill(t, &k, &e);
        }
        Ok(e)
    }

    /// Atomically writes `batch` (which must carry the applied offset), without RocksDB's WAL:
    /// the replication log is the write-ahead log. A batch of plain key writes goes to the
    /// [`applier`] when it is large or the applier is still busy with earlier ones (readers see
    /// it at once through the entry cache); any other is written here, after the applier
    /// caught up, and its entries then recorded in the entry cache (after, never before: see
    /// [`cache`]). Fails if this or an earlier batch could not be written; the batch's entries
    /// are then served from the entry cache until restart, since the log holds them.
    pub fn write(&self, batch: Batch) -> Result<(), StorageError> {
        let Batch {
            wb,
            data,
            clears,
            sync,
        } = batch;
        let background = !sync
            && !clears
            && (data.len() >= applier::BACKGROUND_MIN_KEYS || self.applier.is_behind());
        let written = if background {
            self.applier.wait_for_room();
            let _publishing = self.publishing();
            self.applier.submit(&self.cache, wb, data)
        } else {
            self.write_now(wb, data, clears)
        };
        written.map_err(|(e, data)| {
            // The log holds the batch and its replies stand: serve what it wrote until the
            // restart replays it.
            if !clears {
                let _publishing = self.publishing();
                self.cache.hold_pending(data, cache::HELD_UNTIL_RESTART);
            }
            e
        })
    }

    /// [`Storage::write`] on this thread, once the applier has caught up.
    fn write_now(
        &self,
        wb: WriteBatch,
        data: Vec<(Vec<u8>, Option<Entry>)>,
        clears: bool,
    ) -> Result<(), Refused> {
        if let Err(e) = self.settle() {
            // An earlier background write failed, so nothing more is written.
            return Err((e, data));
        }
        let _publishing = self.publishing();
        if clears {
            self.cache.clear_around_write(true);
        }
        for (k, _) in &data {
            self.cache.begin_write(k);
        }
        let result = self
            .db
            .write_opt(wb, &self.write_opts)
            .map_err(self.err("write batch"));
        let stored = result.is_ok() && !clears;
        // In batch order: a key written twice ends with its last write, and its shard stays
        // busy (serves nothing) until then.
        for (k, e) in &data {
            self.cache.finish_write(k, stored.then(|| e.clone()));
        }
        if clears {
            self.cache.clear_around_write(false);
        }
        result.map_err(|e| (e, data))
    }

    /// Waits until RocksDB holds every batch written so far: before any read that does not go
    /// through the entry cache. Fails if a background write failed.
    pub fn settle(&self) -> Result<(), StorageError> {
        self.applier.settle()
    }

    /// Bytes held by the entry cache (INFO memory).
    pub fn entry_cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Flushes every memtable (atomically across column families) so the applied offset on
    /// disk catches up with memory.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.settle()?;
        let cfs = ALL_CFS.map(|n| self.cf(n));
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())
            .map_err(self.err("flush"))
    }

    pub fn applied_offset(&self) -> Result<LogOffset, StorageError> {
        self.settle()?;
        let v = self
            .db
            .get_cf(&self.cf(CF_META), META_APPLIED)
            .map_err(self.err("read applied offset"))?;
        Ok(LogOffset(v.map(|v| read_u64(&v)).unwrap_or(0)))
    }

    pub fn put_applied_offset(&self, batch: &mut Batch, off: LogOffset) {
        batch
            .wb
            .put_cf(&self.cf(CF_META), META_APPLIED, off.0.to_le_bytes());
    }

    pub fn replid(&self) -> Result<Option<ReplId>, StorageError> {
        self.settle()?;
        let v = self
            .db
            .get_cf(&self.cf(CF_META), META_REPLID)
            .map_err(self.err("read replid"))?;
        Ok(v.and_then(|v| ReplId::parse(&v)))
    }

    pub fn put_replid(&self, batch: &mut Batch, id: ReplId) {
        batch.sync = true;
        batch.wb.put_cf(&self.cf(CF_META), META_REPLID, id.0);
    }

    pub fn load_counts(&self) -> Result<[DbCounts; DATABASES], StorageError> {
        self.settle()?;
        let mut out = [DbCounts::default(); DATABASES];
        for (db, c) in out.iter_mut().enumerate() {
            let mut k = META_COUNTS.to_vec();
            k.push(db as u8);
            if let Some(v) = self
                .db
                .get_cf(&self.cf(CF_META), &k)
                .map_err(self.err("read counts"))?
            {
                if v.len() == 16 {
                    c.keys = read_u64(&v[0..8]);
                    c.expires = read_u64(&v[8..16]);
                }
            }
        }
        Ok(out)
    }

    /// The next collection version to hand out (persisted with every batch that used one).
    pub fn next_version(&self) -> Result<u64, StorageError> {
        self.settle()?;
        let v = self
            .db
            .get_cf(&self.cf(CF_META), META_VERSION)
            .map_err(self.err("read version counter"))?;
        Ok(v.map(|v| read_u64(&v)).unwrap_or(1).max(1))
    }

    pub fn put_next_version(&self, batch: &mut Batch, v: u64) {
        batch.sync = true;
        batch
            .wb
            .put_cf(&self.cf(CF_META), META_VERSION, v.to_le_bytes());
    }

    /// One element of a collection, by its full element key.
    pub fn elem_get(
        &self,
        space: Space,
        snap: Option<&rocksdb::Snapshot<'_>>,
        k: &[u8],
    ) -> Result<Option<Bytes>, StorageError> {
        let cf = self.cf(space.cf_name());
        let v = match snap {
            Some(s) => s.get_cf(&cf, k).map_err(self.err("get element"))?,
            None => self.db.get_cf(&cf, k).map_err(self.err("get element"))?,
        };
        Ok(v.map(Bytes::from))
    }

    /// A raw iterator over element keys in `[lo, hi)` of `space`.
    pub fn elem_iter(
        &self,
        space: Space,
        snap: Option<&rocksdb::Snapshot<'_>>,
        lo: &[u8],
        hi: &[u8],
    ) -> rocksdb::DBRawIterator<'_> {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_lower_bound(lo.to_vec());
        ro.set_iterate_upper_bound(hi.to_vec());
        if let Some(s) = snap {
            ro.set_snapshot(s);
        }
        self.db.raw_iterator_cf_opt(&self.cf(space.cf_name()), ro)
    }

    /// The entry stored for `key` as of `snap`.
    pub fn get_raw_at(
        &self,
        snap: &rocksdb::Snapshot<'_>,
        db: u8,
        key: &[u8],
    ) -> Result<Option<Entry>, StorageError> {
        let v = snap
            .get_cf(&self.cf(CF_DATA), data_key(db, key))
            .map_err(self.err("get"))?;
        Ok(v.and_then(|v| Entry::decode(&v)))
    }

    /// A consistent view for a read that touches several keys (a collection's entry and its
    /// elements): a group commit landing in the middle cannot tear it.
    pub fn snapshot(&self) -> rocksdb::Snapshot<'_> {
        // A failed background write poisons the writer; the reader still gets RocksDB's state.
        let _ = self.settle();
        self.db.snapshot()
    }

    pub fn put_counts(&self, batch: &mut Batch, db: u8, c: DbCounts) {
        let mut k = META_COUNTS.to_vec();
        k.push(db);
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&c.keys.to_le_bytes());
        v.extend_from_slice(&c.expires.to_le_bytes());
        batch.wb.put_cf(&self.cf(CF_META), k, v);
    }

    /// Iterates the keys of database `db` in key order, starting at `from` (inclusive), calling
    /// `f(key, entry)` until it returns false.
    pub fn scan_db(
        &self,
        db: u8,
        from: &[u8],
        snap: Option<&rocksdb::Snapshot<'_>>,
        mut f: impl FnMut(&[u8], Entry) -> bool,
    ) -> Result<(), StorageError> {
        if snap.is_none() {
            self.settle()?;
        }
        let start = data_key(db, from);
        let cf = self.cf(CF_DATA);
        let mut ro = rocksdb::ReadOptions::default();
        if let Some(s) = snap {
            ro.set_snapshot(s);
        }
        let iter = self.db.iterator_cf_opt(
            &cf,
            ro,
            IteratorMode::From(&start, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(self.err("scan"))?;
            if k.first() != Some(&db) {
                break;
            }
            let Some(e) = Entry::decode(&v) else { continue };
            if !f(&k[1..], e) {
                break;
            }
        }
        Ok(())
    }

    /// Keys of database `db` whose expire-at is at or before `now_ms`, oldest first, at most
    /// `limit` of them.
    pub fn due_expiries(
        &self,
        db: u8,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        self.settle()?;
        let start = [db];
        let cf = self.cf(CF_EXPIRE);
        let iter = self
            .db
            .iterator_cf(&cf, IteratorMode::From(&start, rocksdb::Direction::Forward));
        let mut out = Vec::new();
        for item in iter {
            let (k, _) = item.map_err(self.err("scan expiries"))?;
            if k.len() < 9 || k[0] != db {
                break;
            }
            let at = u64::from_be_bytes(k[1..9].try_into().unwrap_or([0xff; 8]));
            if at > now_ms || out.len() >= limit {
                break;
            }
            out.push((at, k[9..].to_vec()));
        }
        Ok(out)
    }

    /// The RocksDB directory.
    pub fn path(&self) -> &Path {
        Path::new(&self.path)
    }

    /// Writes a consistent RocksDB checkpoint into `target` (which must not exist): memtables
    /// are flushed atomically first, so the checkpoint carries the applied offset it covers.
    pub fn checkpoint(&self, target: &Path) -> Result<(), StorageError> {
        self.settle()?;
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(target))
            .map_err(|source| StorageError {
                what: "checkpoint",
                path: target.display().to_string(),
                source: source.into(),
            })
    }

    /// The applied offset and replid stored in a RocksDB directory (a checkpoint), read
    /// without modifying it. A checkpoint's offset comes from its own meta, never from the
    /// live counter.
    pub fn read_node_state(path: &Path) -> Result<(LogOffset, Option<ReplId>), StorageError> {
        let err = |source: rocksdb::Error| StorageError {
            what: "open read-only",
            path: path.display().to_string(),
            source: source.into(),
        };
        let cfs = DB::list_cf(&Options::default(), path).map_err(err)?;
        let db = DB::open_cf_for_read_only(&Options::default(), path, cfs, false).map_err(err)?;
        let Some(meta) = db.cf_handle(CF_META) else {
            return Ok((LogOffset::ZERO, None));
        };
        let off = db.get_cf(meta, META_APPLIED).map_err(err)?;
        let id = db.get_cf(meta, META_REPLID).map_err(err)?;
        Ok((
            LogOffset(off.map(|v| read_u64(&v)).unwrap_or(0)),
            id.and_then(|v| ReplId::parse(&v)),
        ))
    }

    /// Size of the live SST files plus memtables, for INFO memory/persistence.
    pub fn disk_bytes(&self) -> u64 {
        let cf = self.cf(CF_DATA);
        self.db
            .property_int_value_cf(&cf, "rocksdb.total-sst-files-size")
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    pub fn memtable_bytes(&self) -> u64 {
        let mut total = 0;
        for name in ALL_CFS {
            total += self
                .db
                .property_int_value_cf(&self.cf(name), "rocksdb.cur-size-all-mem-tables")
                .ok()
                .flatten()
                .unwrap_or(0);
        }
        total
    }

    // Batch helpers used by the writer.

    pub fn batch_put_entry(&self, batch: &mut Batch, db: u8, key: &[u8], e: &Entry) {
        let k = data_key(db, key);
        batch.wb.put_cf(&self.cf(CF_DATA), &k, e.encode());
        batch.data.push((k, Some(e.clone())));
    }

    pub fn batch_delete_entry(&self, batch: &mut Batch, db: u8, key: &[u8]) {
        let k = data_key(db, key);
        batch.wb.delete_cf(&self.cf(CF_DATA), &k);
        batch.data.push((k, None));
    }

    pub fn batch_put_expire(&self, batch: &mut Batch, db: u8, at: u64, key: &[u8]) {
        batch
            .wb
            .put_cf(&self.cf(CF_EXPIRE), expire_key(db, at, key), []);
    }

    pub fn batch_delete_expire(&self, batch: &mut Batch, db: u8, at: u64, key: &[u8]) {
        batch
            .wb
            .delete_cf(&self.cf(CF_EXPIRE), expire_key(db, at, key));
    }

    pub fn batch_put_elem(&self, batch: &mut Batch, space: Space, k: &[u8], v: &[u8]) {
        batch.sync = true;
        batch.wb.put_cf(&self.cf(space.cf_name()), k, v);
    }

    pub fn batch_delete_elem(&self, batch: &mut Batch, space: Space, k: &[u8]) {
        batch.sync = true;
        batch.wb.delete_cf(&self.cf(space.cf_name()), k);
    }

    /// Drops every element of one collection version: O(1) now, reclaimed by compaction.
    pub fn batch_drop_collection(&self, batch: &mut Batch, prefix: &[u8]) {
        batch.sync = true;
        let end = prefix_end(prefix);
        for space in Space::ALL {
            batch
                .wb
                .delete_range_cf(&self.cf(space.cf_name()), prefix, &end[..]);
        }
    }

    /// Compacts the element ranges of a dropped collection so its space comes back now rather
    /// than whenever compaction would reach those files. Slow; run off the writer.
    pub fn reclaim_collection(&self, prefix: &[u8]) {
        let end = prefix_end(prefix);
        for space in Space::ALL {
            self.db
                .compact_range_cf(&self.cf(space.cf_name()), Some(prefix), Some(&end[..]));
        }
    }

    /// Range-deletes everything in database `db`: O(1) on the request path, space reclaimed by
    /// compaction.
    pub fn batch_clear_db(&self, batch: &mut Batch, db: u8) {
        batch.clears = true;
        batch.wb.delete_range_cf(&self.cf(CF_DATA), [db], [db + 1]);
        batch
            .wb
            .delete_range_cf(&self.cf(CF_EXPIRE), [db], [db + 1]);
        batch
            .wb
            .delete_range_cf(&self.cf(CF_ELEMENTS), [db], [db + 1]);
        batch
            .wb
            .delete_range_cf(&self.cf(CF_SCORES), [db], [db + 1]);
        batch.wb.delete_range_cf(&self.cf(CF_RANKS), [db], [db + 1]);
    }
}

pub fn data_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(db);
    k.extend_from_slice(key);
    k
}

pub fn expire_key(db: u8, at: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.push(db);
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// `[db u8][key len u32 BE][key][version u64 BE]`: the length makes one key's prefix never a
/// prefix of another key's, and the version separates successive lives of the same name.
pub fn coll_prefix(db: u8, key: &[u8], version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(13 + key.len() + 16);
    k.push(db);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut e = prefix.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return e;
        }
    }
    // All 0xff: no finite successor; a longer all-0xff key bounds every realistic key.
    vec![0xff; prefix.len() + 1]
}

fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(a)
}
