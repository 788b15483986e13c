//! String keys the writer knows are stored, with their expiry: what a plain SET needs to know
//! of the entry it overwrites, without reading it.
//!
//! Every write first reads the old entry (key counts, the expire index and a collection's
//! elements depend on it). Profiled under `redis-benchmark -t set`, that read was the largest
//! single cost of the write path after the socket calls: a memtable search, and for keys
//! already flushed, filter, index and data block lookups. When the old entry is a string,
//! a SET only needs "it exists, with this expiry": this map keeps exactly that for keys the
//! writer wrote or deleted recently.
//!
//! It is kept exact: every write and delete of a key (and every FLUSHDB/FLUSHALL) updates it
//! in the same step as the group's overlay, so it is never older than what a read would give.
//! A group whose log append failed forgets it entirely, and a full sync starts a new one.
//!
//! Bounded: two generations of at most [`GENERATION`] keys each (keys up to
//! [`MAX_KEY_LEN`] bytes). New keys go into the young one; when it is full it becomes the old
//! one and the previous old one is dropped; a hit in the old one moves the key back to the
//! young one. That keeps the recently written keys, like an LRU, at a few tens of bytes per
//! key (about 20 MB when full of 16-byte keys).

use std::collections::HashMap;

/// Keys per generation.
pub const GENERATION: usize = 1 << 17;
/// Longer keys are not kept: they would make the bound on memory loose.
pub const MAX_KEY_LEN: usize = 128;

#[derive(Default)]
pub struct KnownStrings {
    young: HashMap<Vec<u8>, u64>,
    old: HashMap<Vec<u8>, u64>,
    /// Lookup key (database byte + key), reused so a lookup does not allocate.
    scratch: Vec<u8>,
}

impl KnownStrings {
    fn key(&mut self, db: u8, key: &[u8]) -> bool {
        if key.len() > MAX_KEY_LEN {
            return false;
        }
        self.scratch.clear();
        self.scratch.push(db);
        self.scratch.extend_from_slice(key);
        true
    }

    /// The expiry (0: none) of `key` when it is known to be a stored string.
    pub fn get(&mut self, db: u8, key: &[u8]) -> Option<u64> {
        if !self.key(db, key) {
            return None;
        }
        if let Some(at) = self.young.get(self.scratch.as_slice()) {
            return Some(*at);
        }
        let (k, at) = self.old.remove_entry(self.scratch.as_slice())?;
        self.insert_young(k, at);
        Some(at)
    }

    /// `key` now holds a string expiring at `expire_at` (0: never).
    pub fn note_string(&mut self, db: u8, key: &[u8], expire_at: u64) {
        if !self.key(db, key) {
            return;
        }
        self.old.remove(self.scratch.as_slice());
        if let Some(at) = self.young.get_mut(self.scratch.as_slice()) {
            *at = expire_at;
            return;
        }
        let k = self.scratch.clone();
        self.insert_young(k, expire_at);
    }

    /// `key` was deleted, or now holds something other than a string.
    pub fn forget(&mut self, db: u8, key: &[u8]) {
        if !self.key(db, key) {
            return;
        }
        self.young.remove(self.scratch.as_slice());
        self.old.remove(self.scratch.as_slice());
    }

    /// Database `db` was emptied.
    pub fn forget_db(&mut self, db: u8) {
        self.young.retain(|k, _| k.first() != Some(&db));
        self.old.retain(|k, _| k.first() != Some(&db));
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_young(&mut self, k: Vec<u8>, at: u64) {
        if self.young.len() >= GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_for_strings_it_was_told_about() {
        let mut k = KnownStrings::default();
        assert_eq!(k.get(0, b"a"), None);
        k.note_string(0, b"a", 0);
        k.note_string(1, b"a", 42);
        assert_eq!(k.get(0, b"a"), Some(0));
        assert_eq!(k.get(1, b"a"), Some(42));
        k.note_string(0, b"a", 7);
        assert_eq!(k.get(0, b"a"), Some(7));
        k.forget(0, b"a");
        assert_eq!(k.get(0, b"a"), None);
        assert_eq!(k.get(1, b"a"), Some(42));
        k.forget_db(1);
        assert!(k.is_empty());
        let long = vec![b'x'; MAX_KEY_LEN + 1];
        k.note_string(0, &long, 0);
        assert_eq!(k.get(0, &long), None);
    }

    #[test]
    fn stays_bounded_and_keeps_the_recently_used_keys() {
        let mut k = KnownStrings::default();
        let total = GENERATION * 3;
        for i in 0..total {
            k.note_string(0, &(i as u64).to_be_bytes(), i as u64);
            // Key 0 is used all along: it must survive every generation change.
            assert_eq!(k.get(0, &0u64.to_be_bytes()), Some(0));
        }
        assert!(k.len() <= 2 * GENERATION, "{} keys kept", k.len());
        let last = (total - 1) as u64;
        assert_eq!(k.get(0, &last.to_be_bytes()), Some(last));
        // The oldest keys are gone, and forgetting one reports nothing stale.
        assert_eq!(k.get(0, &1u64.to_be_bytes()), None);
    }
}
