//! A bounded cache of point reads of the `data` column family: data key -> entry (or "no
//! such key"), in front of RocksDB's `get`.
//!
//! Why: profiled under `redis-benchmark -t get -P 16`, most of a GET's CPU is RocksDB finding
//! the key: a search of each memtable's skiplist (a cache miss per level), then filter, index
//! and data blocks of the SST files. RocksDB's own row cache does not help there, because the
//! memtables are searched before it. A hash lookup here answers a repeated read in one probe.
//!
//! Coherence with the single writer (a reader must never see a value older than one it, or
//! anyone, could already read from RocksDB):
//! - around each RocksDB write ([`super::Storage::write`], serialised by the writer),
//!   [`EntryCache::begin_write`] marks the shard of each key of the batch busy, and
//!   [`EntryCache::finish_write`] stores what the key now holds and takes the mark back. A busy
//!   shard serves nothing: its readers go to RocksDB, whose own publish is atomic, so no one
//!   reads the old value after anyone could read the new one, and a key written twice in one
//!   batch is only served once its last write is stored. Storing on write (not only dropping)
//!   lets the common read-after-write hit;
//! - a reader that misses takes a [`Ticket`] (its shard's epoch) *before* reading RocksDB;
//!   [`EntryCache::fill`] keeps what it read only if the shard saw no write begin or finish
//!   since and none is in progress. A read that raced with a write is thus refused, so an older
//!   value can never land after a newer one was readable.
//!
//! Eviction: each shard keeps two generations; when the young one outgrows half the shard's
//! budget it becomes the old one and the previous old one is dropped. A hit in the old
//! generation moves the entry to the young one. Memory stays under the configured bytes
//! (counted as key + value + a fixed overhead per entry) and needs no per-hit bookkeeping.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use super::entry::Entry;

/// Enough that a write marks a small part of the cache busy.
const SHARDS: usize = 64;
/// Bytes counted per entry on top of key and value: map slot, boxed key, `Bytes` header.
const ENTRY_OVERHEAD: usize = 96;
/// Values larger than this are not cached: one would evict thousands of small ones.
const MAX_CACHED_VALUE: usize = 64 * 1024;

type Map = HashMap<Box<[u8]>, Option<Entry>>;

#[derive(Default)]
struct Shard {
    /// Bumped when a write of a key in this shard begins and when it finishes; a fill must
    /// see the epoch of its ticket.
    epoch: u64,
    /// Writes begun and not finished in this shard: fills are refused meanwhile.
    writing: u32,
    young: Map,
    young_bytes: usize,
    old: Map,
    old_bytes: usize,
}

impl Shard {
    fn remove_old(&mut self, key: &[u8]) -> Option<(Box<[u8]>, Option<Entry>)> {
        let (k, e) = self.old.remove_entry(key)?;
        self.old_bytes -= cost(&k, &e);
        Some((k, e))
    }
}

/// What a miss hands back, to be presented with the value read from RocksDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    shard: usize,
    epoch: u64,
}

pub struct EntryCache {
    shards: Box<[Mutex<Shard>]>,
    /// Bytes the young generation of one shard may hold before it turns old.
    young_budget: usize,
}

/// The entry with a value of its own: a value parsed from a request is a slice of the
/// connection's read buffer, which a cached slice would keep alive whole.
fn own_value(mut e: Entry) -> Entry {
    e.value = Bytes::copy_from_slice(&e.value);
    e
}

fn cost(key: &[u8], e: &Option<Entry>) -> usize {
    key.len() + e.as_ref().map_or(0, |e| e.value.len()) + ENTRY_OVERHEAD
}

impl EntryCache {
    /// A cache of at most about `bytes`; 0 turns it off (every lookup misses).
    pub fn new(bytes: usize) -> EntryCache {
        let n = if bytes == 0 { 0 } else { SHARDS };
        EntryCache {
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
            young_budget: bytes / SHARDS / 2,
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        crc32c::crc32c(key) as usize % self.shards.len()
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave it inconsistent with RocksDB in a way
        // that matters more than losing the cache: recover the guard.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok(entry)` on a hit (`None`: the key is known to be absent); on a miss, a ticket for
    /// [`EntryCache::fill`] taken before the caller reads RocksDB.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, Option<Ticket>> {
        if self.shards.is_empty() {
            return Err(None);
        }
        let i = self.shard_of(key);
        let mut s = self.lock(i);
        if s.writing > 0 {
            return Err(None);
        }
        if let Some(e) = s.young.get(key) {
            return Ok(e.clone());
        }
        if let Some((k, e)) = s.remove_old(key) {
            let out = e.clone();
            self.insert_young(&mut s, k, e);
            return Ok(out);
        }
        Err(Some(Ticket {
            shard: i,
            epoch: s.epoch,
        }))
    }

    /// Stores what a reader found for `key` after a miss, unless a write touched the key's
    /// shard since the ticket was taken or is under way.
    pub fn fill(&self, ticket: Ticket, key: &[u8], e: &Option<Entry>) {
        if e.as_ref().is_some_and(|e| e.value.len() > MAX_CACHED_VALUE) {
            return;
        }
        let mut s = self.lock(ticket.shard);
        if s.epoch != ticket.epoch || s.writing > 0 {
            return;
        }
        // Read from RocksDB: the value already has its own allocation.
        self.insert_young(&mut s, key.into(), e.clone());
    }

    /// Inserts into the young generation (one probe), which turns old once over budget.
    fn insert_young(&self, s: &mut Shard, key: Box<[u8]>, e: Option<Entry>) {
        let key_len = key.len();
        s.young_bytes += cost(&key, &e);
        if let Some(prev) = s.young.insert(key, e) {
            s.young_bytes -= key_len + cost(&[], &prev);
        }
        if s.young_bytes > self.young_budget {
            s.old = std::mem::take(&mut s.young);
            s.old_bytes = std::mem::take(&mut s.young_bytes);
        }
    }

    /// Before RocksDB applies a write of `key`: its shard serves and fills nothing until the
    /// matching [`EntryCache::finish_write`].
    pub fn begin_write(&self, key: &[u8]) {
        if self.shards.is_empty() {
            return;
        }
        let mut s = self.lock(self.shard_of(key));
        s.epoch += 1;
        s.writing += 1;
    }

    /// After RocksDB applied (or refused) the write begun for `key`: stores what it now holds
    /// (`Some(None)`: deleted), or leaves it out (`None`: unknown, as after a failed write).
    pub fn finish_write(&self, key: Vec<u8>, now: Option<Option<Entry>>) {
        if self.shards.is_empty() {
            return;
        }
        let mut s = self.lock(self.shard_of(&key));
        s.epoch += 1;
        s.writing = s.writing.saturating_sub(1);
        match now {
            Some(e) if e.as_ref().is_none_or(|e| e.value.len() <= MAX_CACHED_VALUE) => {
                self.insert_young(&mut s, key.into_boxed_slice(), e.map(own_value));
            }
            _ => {
                if let Some(prev) = s.young.remove(key.as_slice()) {
                    s.young_bytes -= cost(&key, &prev);
                }
                s.remove_old(&key);
            }
        }
    }

    /// Around a write that clears whole databases: `busy` true before it (every shard refuses
    /// fills), false after. Both empty the cache.
    pub fn clear_around_write(&self, busy: bool) {
        for i in 0..self.shards.len() {
            let mut s = self.lock(i);
            if busy {
                s.writing += 1;
            } else {
                s.writing = s.writing.saturating_sub(1);
            }
            drop(s);
        }
        self.clear();
    }

    /// Forgets everything (FLUSHDB, FLUSHALL).
    pub fn clear(&self) {
        for i in 0..self.shards.len() {
            let mut s = self.lock(i);
            s.epoch += 1;
            s.young.clear();
            s.young_bytes = 0;
            s.old.clear();
            s.old_bytes = 0;
        }
    }

    /// Bytes held, as counted for the budget (INFO memory).
    pub fn bytes(&self) -> usize {
        (0..self.shards.len())
            .map(|i| {
                let s = self.lock(i);
                s.young_bytes + s.old_bytes
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str) -> Option<Entry> {
        Some(Entry::string(Bytes::copy_from_slice(v.as_bytes()), 0))
    }

    fn miss(c: &EntryCache, k: &[u8]) -> Ticket {
        match c.get(k) {
            Err(Some(t)) => t,
            other => panic!("expected a miss with a ticket, got {other:?}"),
        }
    }

    #[test]
    fn a_read_that_raced_a_write_never_lands() {
        let c = EntryCache::new(1 << 20);
        // Ticket before the write began, fill after it finished.
        let t = miss(&c, b"k");
        c.begin_write(b"k");
        c.finish_write(b"k".to_vec(), Some(entry("new")));
        c.fill(t, b"k", &entry("old"));
        assert_eq!(
            c.get(b"k"),
            Ok(entry("new")),
            "the stale read must not land"
        );

        // While a write is under way nothing in its shard is served, nor filled.
        let t = miss(&c, b"other");
        c.begin_write(b"k");
        assert_eq!(c.get(b"k"), Err(None), "a key being written is not served");
        c.fill(t, b"other", &entry("x"));
        c.finish_write(b"k".to_vec(), Some(None));
        if c.shard_of(b"other") == c.shard_of(b"k") {
            assert!(
                c.get(b"other").is_err(),
                "no fill while its shard is written"
            );
        }
        assert_eq!(c.get(b"k"), Ok(None), "a delete is remembered as absent");

        // A failed write leaves the key out; a later read fills it.
        c.begin_write(b"k");
        c.finish_write(b"k".to_vec(), None);
        let t = miss(&c, b"k");
        c.fill(t, b"k", &entry("from rocksdb"));
        assert_eq!(c.get(b"k"), Ok(entry("from rocksdb")));

        let big = Some(Entry::string(
            Bytes::from(vec![7u8; MAX_CACHED_VALUE + 1]),
            0,
        ));
        c.begin_write(b"k");
        c.finish_write(b"k".to_vec(), Some(big));
        assert!(
            c.get(b"k").is_err(),
            "a value too large to cache is left out"
        );
    }

    #[test]
    fn a_key_written_twice_in_a_batch_is_served_only_with_its_last_value() {
        let c = EntryCache::new(1 << 20);
        c.begin_write(b"k");
        c.begin_write(b"k");
        c.finish_write(b"k".to_vec(), Some(entry("first")));
        assert_eq!(
            c.get(b"k"),
            Err(None),
            "the first of two writes is never served"
        );
        c.finish_write(b"k".to_vec(), Some(entry("last")));
        assert_eq!(c.get(b"k"), Ok(entry("last")));
    }

    #[test]
    fn a_clear_refuses_fills_while_it_runs_and_empties_the_cache() {
        let c = EntryCache::new(1 << 20);
        c.begin_write(b"a");
        c.finish_write(b"a".to_vec(), Some(entry("1")));
        let t = miss(&c, b"b");
        c.clear_around_write(true);
        assert_eq!(c.get(b"a"), Err(None));
        c.fill(t, b"b", &entry("1"));
        c.clear_around_write(false);
        assert!(c.get(b"b").is_err(), "a fill during the clear is refused");
        assert!(c.get(b"a").is_err());
        let t = miss(&c, b"a");
        c.fill(t, b"a", &None);
        assert_eq!(c.get(b"a"), Ok(None));
    }

    #[test]
    fn absence_is_cached_and_clear_forgets_everything() {
        let c = EntryCache::new(1 << 20);
        let Err(Some(t)) = c.get(b"none") else {
            panic!("miss")
        };
        c.fill(t, b"none", &None);
        assert_eq!(c.get(b"none"), Ok(None));
        c.clear();
        assert!(c.get(b"none").is_err());
    }

    #[test]
    fn memory_stays_within_the_budget_and_recent_keys_survive() {
        let budget = 256 * 1024;
        let c = EntryCache::new(budget);
        for i in 0..20_000 {
            let k = format!("key:{i}");
            if let Err(Some(t)) = c.get(k.as_bytes()) {
                c.fill(t, k.as_bytes(), &entry("0123456789"));
            }
        }
        assert!(c.bytes() <= budget, "{} > {budget}", c.bytes());
        assert_eq!(c.get(b"key:19999"), Ok(entry("0123456789")));
        assert!(c.get(b"key:0").is_err(), "the oldest keys were evicted");
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let c = EntryCache::new(0);
        assert!(matches!(c.get(b"k"), Err(None)));
        c.begin_write(b"k");
        c.finish_write(b"k".to_vec(), Some(entry("v")));
        assert!(matches!(c.get(b"k"), Err(None)));
        c.clear();
    }
}
