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
//! Writes applied in the background ([`super::applier`]): between the moment the writer hands
//! a batch over and the moment RocksDB holds it, the batch's `data` entries are *pending* in
//! their shards ([`EntryCache::hold_pending`]). A pending entry is what the key holds, for every
//! reader, and is never evicted; once RocksDB holds the batch the applier moves it into the
//! cache proper ([`EntryCache::promote`]). A key that is not pending is thus never newer than
//! RocksDB, and a reader that misses may read RocksDB as before. Pending entries exist even
//! with a zero budget: they are part of the state, not a cache. A batch turns pending as a
//! whole, under the locks of all its shards, as RocksDB publishes a batch: no reader sees part
//! of it. After a failed RocksDB write the batch stays pending until restart
//! ([`HELD_UNTIL_RESTART`]), because the log holds it.
//!
//! Eviction: each shard keeps two generations; when the young one outgrows half the shard's
//! budget it becomes the old one and the previous old one is dropped. A hit in the old
//! generation moves the entry to the young one. Memory stays under the configured bytes
//! (counted as key + value + a fixed overhead per entry) and needs no per-hit bookkeeping.
//!
//! Layout: a key and its value share one allocation ([`Slot`]); the type and expiry sit in the
//! map. Profiled under pipelined GETs, a hit with the key, the value and a shared `Bytes`
//! header in three places spent most of its time waiting for memory.

use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::entry::{Entry, ValueType};

/// Enough that a write marks a small part of the cache busy. At most 64: a batch's shards are
/// a bit mask ([`EntryCache::hold_pending`]).
const SHARDS: usize = 64;
const _: () = assert!(SHARDS <= 64);
/// Bytes counted per entry on top of key and value: the map slot and the allocation's header.
const ENTRY_OVERHEAD: usize = 64;
/// Values larger than this are not cached: one would evict thousands of small ones.
const MAX_CACHED_VALUE: usize = 64 * 1024;

/// A key and its value in one allocation.
struct Slot {
    buf: Box<[u8]>,
    key_len: usize,
}

impl Slot {
    /// Copies `key` and the entry's value: a value parsed from a request is a slice of the
    /// connection's read buffer, which a cached slice would keep alive whole.
    fn new(key: &[u8], e: &Option<Entry>) -> Slot {
        let value = value_of(e);
        let mut buf = Vec::with_capacity(key.len() + value.len());
        buf.extend_from_slice(key);
        buf.extend_from_slice(value);
        Slot {
            buf: buf.into_boxed_slice(),
            key_len: key.len(),
        }
    }

    fn key(&self) -> &[u8] {
        &self.buf[..self.key_len]
    }

    fn value(&self) -> &[u8] {
        &self.buf[self.key_len..]
    }

    fn cost(&self) -> usize {
        self.buf.len() + ENTRY_OVERHEAD
    }

    /// Takes `e`'s value in place when it has the length of the one held (an overwrite with
    /// a same-sized value, a counter of as many digits): no allocation.
    fn overwrite(&mut self, e: &Option<Entry>) -> bool {
        let value = value_of(e);
        if value.len() != self.buf.len() - self.key_len {
            return false;
        }
        self.buf[self.key_len..].copy_from_slice(value);
        true
    }
}

fn value_of(e: &Option<Entry>) -> &[u8] {
    e.as_ref().map_or(&[], |e| &e.value)
}

/// What the map holds beside a slot: the key is absent, or its type and expiry.
#[derive(Clone, Copy)]
enum Meta {
    Absent,
    Present { kind: ValueType, expire_at: u64 },
}

impl Meta {
    fn of(e: &Option<Entry>) -> Meta {
        match e {
            None => Meta::Absent,
            Some(e) => Meta::Present {
                kind: e.kind,
                expire_at: e.expire_at,
            },
        }
    }

    fn entry(self, slot: &Slot) -> Option<Entry> {
        match self {
            Meta::Absent => None,
            Meta::Present { kind, expire_at } => Some(Entry {
                kind,
                expire_at,
                value: Bytes::copy_from_slice(slot.value()),
            }),
        }
    }
}

/// The sequence number of no batch: entries held pending with it stay so until the process
/// ends. After a failed RocksDB write the log still holds the batch (its replies stand, and the
/// restart replays it), so readers must go on seeing what it wrote.
pub const HELD_UNTIL_RESTART: u64 = u64::MAX;

/// A `data` entry written by a batch RocksDB does not hold yet: the key, what it holds after
/// the batch, and the batch's sequence number.
struct Pending {
    hash: u64,
    key: Vec<u8>,
    entry: Option<Entry>,
    seq: u64,
}

/// Slots with their hash stored beside them: a resize does not hash keys again, and a probe
/// compares the hash before touching the slot's memory.
type Map = HashTable<(u64, Slot, Meta)>;

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
    /// Entries of batches handed to the applier and not yet in RocksDB.
    pending: HashTable<Pending>,
}

fn in_map(h: u64, key: &[u8]) -> impl Fn(&(u64, Slot, Meta)) -> bool + '_ {
    move |(sh, slot, _)| *sh == h && slot.key() == key
}

fn stored_hash(e: &(u64, Slot, Meta)) -> u64 {
    e.0
}

/// Removes `key` (hash `h`) from `map`, taking its cost off `bytes`.
fn take(map: &mut Map, bytes: &mut usize, h: u64, key: &[u8]) -> Option<(Slot, Meta)> {
    let ((_, slot, m), _) = map.find_entry(h, in_map(h, key)).ok()?.remove();
    *bytes -= slot.cost();
    Some((slot, m))
}

impl Shard {
    fn forget_all(&mut self) {
        self.epoch += 1;
        self.young.clear();
        self.young_bytes = 0;
        self.old.clear();
        self.old_bytes = 0;
    }

    fn remove_old(&mut self, h: u64, key: &[u8]) -> Option<(Slot, Meta)> {
        take(&mut self.old, &mut self.old_bytes, h, key)
    }

    fn remove_young(&mut self, h: u64, key: &[u8]) -> Option<(Slot, Meta)> {
        take(&mut self.young, &mut self.young_bytes, h, key)
    }

    /// Records what `key` now holds (`None`: unknown, leave it out): overwrites a young slot
    /// in place, else replaces any old copy with a young one.
    fn store(&mut self, h: u64, key: &[u8], now: Option<&Option<Entry>>, young_budget: usize) {
        let Some(e) = now.filter(|e| !too_large(e) && young_budget > 0) else {
            // A key is in one generation at most.
            if self.remove_young(h, key).is_none() {
                self.remove_old(h, key);
            }
            return;
        };
        if let Some((_, slot, m)) = self.young.find_mut(h, in_map(h, key)) {
            // Overwritten while young: one probe, and no allocation when the value keeps its
            // length.
            *m = Meta::of(e);
            if !slot.overwrite(e) {
                let fresh = Slot::new(key, e);
                self.young_bytes = self.young_bytes - slot.cost() + fresh.cost();
                *slot = fresh;
                self.age_if_over(young_budget);
            }
            return;
        }
        self.remove_old(h, key);
        self.insert_young(h, Slot::new(key, e), Meta::of(e), young_budget);
    }

    /// Inserts a key known to be in neither generation, which turns old once over
    /// `young_budget`.
    fn insert_young(&mut self, h: u64, slot: Slot, m: Meta, young_budget: usize) {
        self.young_bytes += slot.cost();
        self.young.insert_unique(h, (h, slot, m), stored_hash);
        self.age_if_over(young_budget);
    }

    /// Once the young generation is over its budget it becomes the old one, dropping the
    /// previous old one.
    fn age_if_over(&mut self, young_budget: usize) {
        if self.young_bytes > young_budget {
            self.old = std::mem::take(&mut self.young);
            self.old_bytes = std::mem::take(&mut self.young_bytes);
        }
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
    /// Bytes the young generation of one shard may hold before it turns old; 0: nothing is
    /// cached (pending entries are still held).
    young_budget: usize,
    /// One hash per operation picks the shard and the slot within it (foldhash, keyed per
    /// process).
    hasher: DefaultHashBuilder,
}

fn too_large(e: &Option<Entry>) -> bool {
    e.as_ref().is_some_and(|e| e.value.len() > MAX_CACHED_VALUE)
}

impl EntryCache {
    /// A cache of at most about `bytes`; 0 turns caching off (every lookup of a key that is
    /// not pending misses).
    pub fn new(bytes: usize) -> EntryCache {
        EntryCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            young_budget: bytes / SHARDS / 2,
            hasher: DefaultHashBuilder::default(),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard for hash `h`: bits 32-37, which the tables use for neither the bucket
    /// (low bits) nor the tag byte (top seven bits) while they hold fewer than 2^32 slots.
    fn shard_of_hash(&self, h: u64) -> usize {
        (h >> 32) as usize % self.shards.len()
    }

    #[cfg(test)]
    fn shard_of(&self, key: &[u8]) -> usize {
        self.shard_of_hash(self.hash(key))
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave it inconsistent with RocksDB in a way
        // that matters more than losing the cache: recover the guard.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok(entry)` on a hit (`None`: the key is known to be absent); on a miss, a ticket for
    /// [`EntryCache::fill`] taken before the caller reads RocksDB (none while a write is
    /// under way in the key's shard: a fill could not land anyway).
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, Option<Ticket>> {
        let h = self.hash(key);
        let i = self.shard_of_hash(h);
        let mut s = self.lock(i);
        if let Some(p) = s.pending.find(h, |p| p.hash == h && p.key == key) {
            return Ok(p.entry.clone());
        }
        if s.writing > 0 || self.young_budget == 0 {
            return Err(None);
        }
        if let Some((_, slot, m)) = s.young.find(h, in_map(h, key)) {
            return Ok(m.entry(slot));
        }
        if let Some((slot, m)) = s.remove_old(h, key) {
            let out = m.entry(&slot);
            s.insert_young(h, slot, m, self.young_budget);
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
        if too_large(e) || self.young_budget == 0 {
            return;
        }
        let h = self.hash(key);
        let mut s = self.lock(ticket.shard);
        if s.epoch != ticket.epoch || s.writing > 0 {
            return;
        }
        // Another reader may have filled the key since this one missed: a key is never in
        // both generations (finish_write's single probe of the young one relies on that).
        s.remove_young(h, key);
        s.remove_old(h, key);
        s.insert_young(h, Slot::new(key, e), Meta::of(e), self.young_budget);
    }

    /// Before RocksDB applies a write of `key`: its shard serves and fills nothing until the
    /// matching [`EntryCache::finish_write`].
    pub fn begin_write(&self, key: &[u8]) {
        let mut s = self.lock(self.shard_of_hash(self.hash(key)));
        s.epoch += 1;
        s.writing += 1;
    }

    /// After RocksDB applied (or refused) the write begun for `key`: stores what it now holds
    /// (`Some(None)`: deleted), or leaves it out (`None`: unknown, as after a failed write).
    pub fn finish_write(&self, key: &[u8], now: Option<Option<Entry>>) {
        let h = self.hash(key);
        let mut s = self.lock(self.shard_of_hash(h));
        s.epoch += 1;
        s.writing = s.writing.saturating_sub(1);
        s.store(h, key, now.as_ref(), self.young_budget);
    }

    /// Before a batch goes to the applier: from now on every reader of each key in `data`
    /// gets what the batch leaves there, until [`EntryCache::promote`] with the same `seq` (or
    /// a later batch holds the key). Returns the keys' hashes, for `promote`.
    ///
    /// The whole batch turns pending at once: every shard it touches is locked (in index
    /// order, the only place that holds more than one) before the first entry is stored, so
    /// no reader sees one key of it and not another, nor the first of two writes of a key.
    pub fn hold_pending(&self, data: Vec<(Vec<u8>, Option<Entry>)>, seq: u64) -> Vec<u64> {
        let located: Vec<(u64, usize)> = data
            .iter()
            .map(|(k, _)| {
                let h = self.hash(k);
                (h, self.shard_of_hash(h))
            })
            .collect();
        let touched: u64 = located.iter().fold(0, |m, &(_, i)| m | 1 << i);
        let mut guards: Vec<Option<MutexGuard<'_, Shard>>> = (0..SHARDS)
            .map(|i| {
                (touched >> i & 1 == 1).then(|| {
                    let mut s = self.lock(i);
                    // A reader that missed before this must not fill what it read from
                    // RocksDB.
                    s.epoch += 1;
                    s
                })
            })
            .collect();
        for ((key, e), &(h, i)) in data.into_iter().zip(&located) {
            let Some(s) = guards[i].as_mut() else {
                continue;
            };
            match s
                .pending
                .entry(h, |p| p.hash == h && p.key == key, |p| p.hash)
            {
                hashbrown::hash_table::Entry::Occupied(mut o) => {
                    let p = o.get_mut();
                    p.entry = e;
                    p.seq = seq;
                }
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(Pending {
                        hash: h,
                        key,
                        entry: e,
                        seq,
                    });
                }
            }
        }
        located.into_iter().map(|(h, _)| h).collect()
    }

    /// After RocksDB holds batch `seq`: its entry for the key with hash `h` stops being pending
    /// and is cached like any write. A key a later batch holds stays pending.
    pub fn promote(&self, h: u64, seq: u64) {
        let mut s = self.lock(self.shard_of_hash(h));
        let Ok(found) = s.pending.find_entry(h, |p| p.hash == h && p.seq == seq) else {
            return;
        };
        let (p, _) = found.remove();
        s.epoch += 1;
        s.store(h, &p.key, Some(&p.entry), self.young_budget);
    }

    /// Entries held pending (tests).
    #[cfg(test)]
    fn pending_len(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock(i).pending.len())
            .sum()
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
            s.forget_all();
        }
    }

    /// Forgets everything.
    #[cfg(test)]
    fn clear(&self) {
        for i in 0..self.shards.len() {
            self.lock(i).forget_all();
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
        c.finish_write(b"k", Some(entry("new")));
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
        c.finish_write(b"k", Some(None));
        if c.shard_of(b"other") == c.shard_of(b"k") {
            assert!(
                c.get(b"other").is_err(),
                "no fill while its shard is written"
            );
        }
        assert_eq!(c.get(b"k"), Ok(None), "a delete is remembered as absent");

        // A failed write leaves the key out; a later read fills it.
        c.begin_write(b"k");
        c.finish_write(b"k", None);
        let t = miss(&c, b"k");
        c.fill(t, b"k", &entry("from rocksdb"));
        assert_eq!(c.get(b"k"), Ok(entry("from rocksdb")));

        let big = Some(Entry::string(
            Bytes::from(vec![7u8; MAX_CACHED_VALUE + 1]),
            0,
        ));
        c.begin_write(b"k");
        c.finish_write(b"k", Some(big));
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
        c.finish_write(b"k", Some(entry("first")));
        assert_eq!(
            c.get(b"k"),
            Err(None),
            "the first of two writes is never served"
        );
        c.finish_write(b"k", Some(entry("last")));
        assert_eq!(c.get(b"k"), Ok(entry("last")));
    }

    #[test]
    fn a_clear_refuses_fills_while_it_runs_and_empties_the_cache() {
        let c = EntryCache::new(1 << 20);
        c.begin_write(b"a");
        c.finish_write(b"a", Some(entry("1")));
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
    fn a_rewritten_key_holds_its_last_value_and_is_counted_once() {
        let c = EntryCache::new(1 << 20);
        let cost = |v: &str| 1 + v.len() + ENTRY_OVERHEAD;
        for v in ["aaaa", "bbbb", "cc", "dddddddd"] {
            // Same length (in place), shorter, longer.
            c.begin_write(b"k");
            c.finish_write(b"k", Some(entry(v)));
            assert_eq!(c.get(b"k"), Ok(entry(v)));
            assert_eq!(c.bytes(), cost(v), "one slot for k after writing {v:?}");
        }
        c.begin_write(b"k");
        c.finish_write(b"k", Some(None));
        assert_eq!(c.get(b"k"), Ok(None), "deleted");
        assert_eq!(c.bytes(), cost(""));
        c.begin_write(b"k");
        c.finish_write(b"k", None);
        assert!(c.get(b"k").is_err(), "a failed write leaves the key out");
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn a_pending_entry_is_served_until_rocksdb_holds_it_then_cached() {
        let c = EntryCache::new(1 << 20);
        c.begin_write(b"k");
        c.finish_write(b"k", Some(entry("old")));
        let t = miss(&c, b"k2");
        let h = c.hold_pending(vec![(b"k".to_vec(), entry("v1"))], 1)[0];
        assert_eq!(
            c.get(b"k"),
            Ok(entry("v1")),
            "pending wins over the cached value"
        );
        let h2 = c.hold_pending(vec![(b"k2".to_vec(), None)], 1)[0];
        c.fill(t, b"k2", &entry("read from rocksdb before the write"));
        assert_eq!(
            c.get(b"k2"),
            Ok(None),
            "a read that raced the hold never lands"
        );

        // A later batch rewrites k before the first is applied: k stays pending with the
        // later value when the first batch lands.
        c.hold_pending(vec![(b"k".to_vec(), entry("v2"))], 2);
        c.promote(h, 1);
        c.promote(h2, 1);
        assert_eq!(c.pending_len(), 1);
        assert_eq!(c.get(b"k"), Ok(entry("v2")));
        assert_eq!(c.get(b"k2"), Ok(None), "promoted: cached as absent");
        c.promote(h, 2);
        assert_eq!(c.pending_len(), 0);
        assert_eq!(c.get(b"k"), Ok(entry("v2")), "promoted: cached");
        assert_eq!(c.bytes(), 1 + 2 + ENTRY_OVERHEAD + 2 + ENTRY_OVERHEAD);
    }

    #[test]
    fn a_batch_turns_pending_all_at_once() {
        // A batch that writes k twice ("x" then "y", as in MULTI SET k x SET k y EXEC): a
        // reader on another thread sees "y" or what k held before, never "x".
        let c = std::sync::Arc::new(EntryCache::new(1 << 20));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (c, stop) = (c.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(Some(e)) = c.get(b"k") {
                        assert_ne!(&e.value[..], b"x", "saw the first of two writes in a batch");
                    }
                    reads += 1;
                }
                reads
            })
        };
        for seq in 1..=100_000u64 {
            let hashes = c.hold_pending(
                vec![(b"k".to_vec(), entry("x")), (b"k".to_vec(), entry("y"))],
                seq,
            );
            hashes.into_iter().for_each(|h| c.promote(h, seq));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().expect("the reader saw only whole batches");
        assert!(reads > 0);
    }

    #[test]
    fn pending_entries_are_held_even_with_a_zero_budget() {
        let c = EntryCache::new(0);
        let h = c.hold_pending(vec![(b"k".to_vec(), entry("v"))], 7)[0];
        assert_eq!(c.get(b"k"), Ok(entry("v")));
        c.promote(h, 7);
        assert!(
            matches!(c.get(b"k"), Err(None)),
            "after promote: read RocksDB"
        );
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let c = EntryCache::new(0);
        assert!(matches!(c.get(b"k"), Err(None)));
        c.begin_write(b"k");
        c.finish_write(b"k", Some(entry("v")));
        assert!(matches!(c.get(b"k"), Err(None)));
        c.clear();
    }
}
