//! The background applier: writes the batches of plain key writes into RocksDB on its own
//! thread, so the thread that runs the commands does not pay for RocksDB's memtable insert.
//!
//! Why: profiled under `redis-benchmark -t set -P 16` with `always`, the memtable skiplist
//! insert and the rest of RocksDB's write were about 40% of the I/O thread, which was the
//! bottleneck (busy 92%, with the second core about half idle). The log is the write-ahead log, so
//! a batch may reach RocksDB after the group's replies; what must hold is that every reader
//! sees it from the moment the writer hands it over:
//! - a batch that only writes `data` entries, the expiry index and node counters
//!   ([`super::Batch`] not marked `sync`) is handed over here; its `data` entries are pending
//!   in the entry cache ([`super::cache`]) until RocksDB holds it, and point reads of `data`
//!   go through that cache;
//! - every other read of RocksDB (iterators, snapshots, the expiry index, the node counters,
//!   checkpoints, flushes) first waits until the applier has caught up ([`Applier::settle`]);
//! - a batch that writes collection elements, the replid or the version counter, or clears a
//!   database, is written by the writer itself after `settle`: those are read without the
//!   cache, and they are rare next to plain writes. This is also why the writer's own element
//!   reads (without a snapshot, in `WriteCtx`) need no settle: every batch that wrote
//!   elements is in RocksDB before the next one is built.
//!
//! Only batches of at least [`BACKGROUND_MIN_KEYS`] keys go to the thread (and smaller ones
//! while it is still busy, to keep the order): handing a batch over costs a wake-up on each
//! side and the other core's caches, which measured more than RocksDB's insert for the
//! 20-key groups of `redis-benchmark -t set` at pipeline 1.
//!
//! Order: one writer submits (serialised by the writer's lock), the applier writes in
//! submission order, and each batch carries the applied offset it covers (invariant 3). After a
//! failed write the applier writes nothing more (a later batch's applied offset would skip the
//! failed one's records); every later submit or settle returns the failure, so the writer's
//! next write poisons it. The records are in the log, so the restart replays them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rocksdb::{WriteBatch, WriteOptions};

use super::cache::EntryCache;
use super::{Db, StorageError};

/// Batches with fewer `data` keys are written by the writer itself when the applier is idle.
pub(super) const BACKGROUND_MIN_KEYS: usize = 64;
/// Batches queued before a submit waits: the pending entries of queued batches stay in memory.
const MAX_QUEUED_BATCHES: usize = 64;
/// Bytes of queued batches before a submit waits.
const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Test hook: milliseconds the applier waits before each write, so tests can hold batches in
/// the pending state long enough to read through it. Read once per start; unset in production.
const DELAY_ENV: &str = "DURAKV_DEBUG_APPLY_DELAY_MS";

/// A batch handed over, with the hashes of the `data` keys it holds pending.
struct Job {
    seq: u64,
    wb: WriteBatch,
    held: Vec<u64>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    bytes: usize,
    /// The applier thread is waiting for work (a submit wakes it).
    idle: bool,
    /// Threads waiting in `settle` or for queue space.
    waiting: usize,
    /// The first failed write; nothing is written after it.
    failed: Option<rocksdb::Error>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the applier thread.
    work: Condvar,
    /// Wakes threads waiting for the applier to catch up.
    caught_up: Condvar,
    /// Sequence number of the last batch submitted (set before its entries turn pending), and
    /// of the last one written (or skipped after a failure): equal when the applier has
    /// caught up.
    submitted: AtomicU64,
    done: AtomicU64,
    /// `Queue::failed` is set: read without the lock by `settle` and by the applier, which
    /// skips every batch after it.
    failed: AtomicBool,
    path: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, source: rocksdb::Error) -> StorageError {
        StorageError {
            what: "write batch (background)",
            path: self.path.clone(),
            source: source.into(),
        }
    }
}

pub(super) struct Applier {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How every batch is written: without RocksDB's WAL (the log is the WAL).
pub(super) fn write_options() -> WriteOptions {
    let mut opts = WriteOptions::default();
    opts.disable_wal(true);
    opts
}

impl Applier {
    pub(super) fn start(
        db: Arc<Db>,
        cache: Arc<EntryCache>,
        path: String,
    ) -> std::io::Result<Applier> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            caught_up: Condvar::new(),
            submitted: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            path,
        });
        let s = shared.clone();
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(std::time::Duration::from_millis);
        let thread = std::thread::Builder::new()
            .name("durakv-apply".into())
            .spawn(move || run(&s, &db, &cache, delay))?;
        Ok(Applier {
            shared,
            thread: Some(thread),
        })
    }

    /// Hands `wb` over; `data` (each `data` key with what it holds after the batch) is
    /// pending in `cache` until RocksDB holds it. Waits while the queue is full. Fails if an
    /// earlier batch failed: then `wb` is dropped (the writer must stop) and `data` comes
    /// back, for the caller to hold until restart.
    /// Waits while the queue is full; call it before [`Applier::submit`]. Only the writer
    /// submits, so there is still room then, and the wait stays out of the storage's
    /// publishing lock.
    pub(super) fn wait_for_room(&self) {
        let sh = &*self.shared;
        let mut q = sh.lock();
        while q.failed.is_none()
            && (q.jobs.len() >= MAX_QUEUED_BATCHES || q.bytes >= MAX_QUEUED_BYTES)
        {
            q.waiting += 1;
            q = sh.caught_up.wait(q).unwrap_or_else(|p| p.into_inner());
            q.waiting -= 1;
        }
    }

    pub(super) fn submit(
        &self,
        cache: &EntryCache,
        wb: WriteBatch,
        data: Vec<(Vec<u8>, Option<super::Entry>)>,
    ) -> Result<(), super::Refused> {
        let sh = &*self.shared;
        let seq = {
            let q = sh.lock();
            if let Some(e) = &q.failed {
                return Err((sh.error(e.clone()), data));
            }
            // Counted (under the lock) before its entries turn pending: a reader that sees
            // one and then settles must wait for this batch.
            let seq = sh.submitted.load(Ordering::Relaxed) + 1;
            sh.submitted.store(seq, Ordering::Release);
            seq
        };
        // Pending before the applier can see the batch: `promote` must find what it moves.
        let held = cache.hold_pending(data, seq);
        let bytes = wb.size_in_bytes();
        let mut q = sh.lock();
        q.jobs.push_back(Job { seq, wb, held });
        q.bytes += bytes;
        if q.idle {
            q.idle = false;
            sh.work.notify_one();
        }
        Ok(())
    }

    /// Whether a batch submitted earlier is not written yet.
    pub(super) fn is_behind(&self) -> bool {
        let sh = &*self.shared;
        sh.done.load(Ordering::Acquire) < sh.submitted.load(Ordering::Acquire)
    }

    /// Returns once RocksDB holds every batch submitted so far (at once when it does), or
    /// the failure that stopped the applier.
    pub(super) fn settle(&self) -> Result<(), StorageError> {
        let sh = &*self.shared;
        let target = sh.submitted.load(Ordering::Acquire);
        if sh.done.load(Ordering::Acquire) >= target && !sh.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut q = sh.lock();
        while sh.done.load(Ordering::Acquire) < target && q.failed.is_none() {
            q.waiting += 1;
            q = sh.caught_up.wait(q).unwrap_or_else(|p| p.into_inner());
            q.waiting -= 1;
        }
        match &q.failed {
            Some(e) => Err(sh.error(e.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for Applier {
    /// Writes what is queued, then stops the thread.
    fn drop(&mut self) {
        {
            let mut q = self.shared.lock();
            q.closed = true;
            self.shared.work.notify_one();
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the storage applier thread panicked");
            }
        }
    }
}

fn run(sh: &Shared, db: &Db, cache: &EntryCache, delay: Option<std::time::Duration>) {
    let opts = write_options();
    loop {
        let jobs = {
            let mut q = sh.lock();
            while q.jobs.is_empty() && !q.closed {
                q.idle = true;
                q = sh.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.jobs.is_empty() {
                return;
            }
            q.idle = false;
            std::mem::take(&mut q.jobs)
        };
        let mut bytes = 0;
        for job in jobs {
            bytes += job.wb.size_in_bytes();
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            if !sh.failed.load(Ordering::Relaxed) {
                match db.write_opt(job.wb, &opts) {
                    Ok(()) => job.held.iter().for_each(|&h| cache.promote(h, job.seq)),
                    // Its entries stay pending: they are what the log (and so the restart)
                    // says the keys hold.
                    Err(e) => {
                        tracing::error!(error = %e, path = %sh.path, "background RocksDB write failed; no further writes are applied");
                        sh.lock().failed = Some(e);
                        sh.failed.store(true, Ordering::Relaxed);
                    }
                }
            }
            sh.done.store(job.seq, Ordering::Release);
        }
        let mut q = sh.lock();
        q.bytes = q.bytes.saturating_sub(bytes);
        if q.waiting > 0 {
            sh.caught_up.notify_all();
        }
    }
}
