//! Clients the writer holds on to between jobs: those parked by a blocking command (BLPOP,
//! BZPOPMIN, ...) and those watching keys for MULTI/EXEC.
//!
//! Both live on the writer thread because both are about the order of writes: a parked client
//! is served by re-running its command right after the write that made its key non-empty, in
//! the same group commit, and a watch is broken by any write the writer orders after it. No
//! locks: the connection only holds a oneshot receiver (parked) or an atomic flag (watch).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;

use crate::commands::WriteFn;
use crate::protocol::Reply;

/// A client parked by a blocking command.
pub struct Waiter {
    pub db: u8,
    pub f: WriteFn,
    pub args: Vec<Bytes>,
    pub reply: super::handoff::ReplyTx,
    pub deadline: Option<Instant>,
    /// What the client gets when the timeout passes.
    pub timeout_reply: Reply,
    pub keys: Vec<Bytes>,
}

/// Parked clients in the order they blocked, indexed by the keys they wait on.
#[derive(Default)]
pub struct Waiters {
    next_seq: u64,
    by_seq: BTreeMap<u64, Waiter>,
    by_key: HashMap<(u8, Bytes), VecDeque<u64>>,
}

impl Waiters {
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    pub fn park(&mut self, w: Waiter) {
        let seq = self.next_seq;
        self.next_seq += 1;
        for k in &w.keys {
            self.by_key
                .entry((w.db, k.clone()))
                .or_default()
                .push_back(seq);
        }
        self.by_seq.insert(seq, w);
    }

    /// Parked clients waiting on `key`, oldest first.
    pub fn waiting_on(&self, db: u8, key: &Bytes) -> Vec<u64> {
        self.by_key
            .get(&(db, key.clone()))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, seq: u64) -> Option<&Waiter> {
        self.by_seq.get(&seq)
    }

    pub fn remove(&mut self, seq: u64) -> Option<Waiter> {
        let w = self.by_seq.remove(&seq)?;
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|s| *s != seq);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        Some(w)
    }

    /// The earliest deadline of any parked client.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_seq.values().filter_map(|w| w.deadline).min()
    }

    /// Unparks every client with `reply` (the node turned replica: nothing here will be
    /// served by this node's own writes any more).
    pub fn release_all(&mut self, reply: &Reply) {
        for (_, w) in std::mem::take(&mut self.by_seq) {
            w.reply.send(vec![reply.clone()]);
        }
        self.by_key.clear();
    }

    /// Removes clients whose deadline passed (they get their timeout reply) or whose
    /// connection is gone.
    pub fn expire(&mut self, now: Instant) {
        let done: Vec<u64> = self
            .by_seq
            .iter()
            .filter(|(_, w)| w.reply.is_closed() || w.deadline.is_some_and(|d| d <= now))
            .map(|(s, _)| *s)
            .collect();
        for seq in done {
            if let Some(w) = self.remove(seq) {
                w.reply.send(vec![w.timeout_reply]);
            }
        }
    }
}

/// One client's WATCH: set when any watched key is written after the WATCH.
#[derive(Default)]
pub struct WatchFlag {
    pub dirty: AtomicBool,
}

/// Watched keys and the flags of the clients watching them. A client that UNWATCHes or
/// disconnects drops its flag; the weak references left here are swept lazily.
#[derive(Default)]
pub struct Watches {
    by_key: HashMap<(u8, Bytes), Vec<Weak<WatchFlag>>>,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Registers `flag` on `key`. The key is copied: the request's bytes are a slice of the
    /// connection's read buffer, which a held slice would keep alive whole. Watching a key
    /// twice registers it once.
    pub fn watch(&mut self, db: u8, key: Bytes, flag: &Arc<WatchFlag>) {
        let weak = Arc::downgrade(flag);
        let flags = self
            .by_key
            .entry((db, Bytes::copy_from_slice(&key)))
            .or_default();
        if !flags.iter().any(|w| w.ptr_eq(&weak)) {
            flags.push(weak);
        }
    }

    /// A write to `key` (an empty key: the whole database was flushed, which, as in Redis,
    /// breaks only the watches of keys that `existed`).
    pub fn touched(&mut self, db: u8, key: &Bytes, existed: impl Fn(&[u8]) -> bool) {
        if key.is_empty() {
            self.by_key.retain(|(d, k), flags| {
                if *d == db && existed(k) {
                    mark(flags);
                    false
                } else {
                    true
                }
            });
        } else if let Some(flags) = self.by_key.remove(&(db, key.clone())) {
            mark(&flags);
        }
    }

    /// Breaks every watch: the data was replaced as a whole (a full sync).
    pub fn break_all(&mut self) {
        for flags in self.by_key.values() {
            mark(flags);
        }
        self.by_key.clear();
    }

    /// Forgets entries whose clients are gone.
    pub fn sweep(&mut self) {
        self.by_key.retain(|_, flags| {
            flags.retain(|f| f.strong_count() > 0);
            !flags.is_empty()
        });
    }
}

fn mark(flags: &[Weak<WatchFlag>]) {
    for f in flags {
        if let Some(f) = f.upgrade() {
            f.dirty.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_is_broken_by_a_write_to_its_key_or_a_flush() {
        let mut w = Watches::default();
        let a = Arc::new(WatchFlag::default());
        let b = Arc::new(WatchFlag::default());
        w.watch(0, Bytes::from_static(b"k"), &a);
        w.watch(1, Bytes::from_static(b"k"), &b);
        let c = Arc::new(WatchFlag::default());
        w.watch(1, Bytes::from_static(b"missing"), &c);
        let yes = |_: &[u8]| true;
        w.touched(0, &Bytes::from_static(b"other"), yes);
        assert!(!a.dirty.load(Ordering::Acquire));
        w.touched(0, &Bytes::from_static(b"k"), yes);
        assert!(a.dirty.load(Ordering::Acquire));
        assert!(!b.dirty.load(Ordering::Acquire));
        w.touched(1, &Bytes::new(), |k| k == b"k");
        assert!(b.dirty.load(Ordering::Acquire));
        assert!(
            !c.dirty.load(Ordering::Acquire),
            "a flush spares watches of missing keys"
        );
    }
}
