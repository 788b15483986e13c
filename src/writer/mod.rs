//! The single writer: one thread that orders every write, logs it, fsyncs per policy (group
//! commit), applies it to RocksDB with the applied offset in the same batch, and only then
//! replies.
//!
//! Keeps invariants 1-3 and 5:
//! - one order: jobs are executed in the order they arrive on one channel; the log order is the
//!   apply order;
//! - durability: with `always`, replies are sent after the fsync that covers the group;
//! - exactly-once: each RocksDB batch carries the offset of the last record it covers; recovery
//!   replays the log after the stored offset, through the same command code, with the clock
//!   switched off so nothing expires on replay;
//! - a failed log write or fsync is sticky: writes are refused until restart.
//!
//! Its state sits behind one lock, taken by its own OS thread (blocking commands, replication,
//! expiry, flushes, retention) and by each I/O thread committing a burst of its clients' writes
//! ([`handoff`]). It never waits on a socket: replies go through oneshot channels.

pub mod handoff;
mod holds;
mod replicated;
mod syncer;
pub mod waiters;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::commands::ctx::{ExpireSink, GroupState, WriteCtx};
use crate::commands::{self, Exec};
use crate::config::{Config, FsyncPolicy};
use crate::log::format::{encode_record, RecordKind, MAX_PAYLOAD_LEN};
use crate::log::reader::LogReader;
use crate::log::{Log, LogError};
use crate::protocol::{decode_commands, encode_command, Reply};
use crate::storage::{DbCounts, Storage, DATABASES};
use crate::types::{now_ms, LogOffset, ReplId};
use handoff::ReplyTx;
use waiters::{Waiter, Waiters, WatchFlag, Watches};

/// Most jobs folded into one group commit, and most record bytes: bounds latency of a group.
const MAX_GROUP_JOBS: usize = 1024;
const MAX_GROUP_BYTES: usize = 8 << 20;
/// The payload buffer the writer reuses keeps at most this much between records.
const MAX_KEPT_PAYLOAD: usize = 1 << 20;
const ACTIVE_EXPIRE_EVERY: Duration = Duration::from_millis(100);
const ACTIVE_EXPIRE_KEYS_PER_DB: usize = 200;
const RETENTION_EVERY: Duration = Duration::from_secs(10);

pub type Command = Vec<Bytes>;

/// A command as the connection resolved it: its handler and its arguments. Plain jobs carry
/// writes only; a transaction carries reads too.
pub type WriteCommand = (Exec, Command);

/// What kind of work a job is.
pub enum JobKind {
    /// Consecutive writes of a pipeline.
    Plain,
    /// One blocking command (BLPOP, BZPOPMIN, ...): it may park its client.
    Blocking,
    /// MULTI ... EXEC: all commands as one record and one batch, unless the watch broke.
    Exec { watch: Option<Arc<WatchFlag>> },
    /// WATCH: registers the keys; the reply waits for the group so reads after it see every
    /// write ordered before it.
    Watch {
        keys: Vec<Bytes>,
        flag: Arc<WatchFlag>,
    },
}

/// A write on a replica (Redis' wording, here and below).
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
const EXEC_ON_REPLICA: &str =
    "ERR Transaction contains write commands but instance is now a read-only replica. EXEC aborted.";
const NOT_A_REPLICA: &str = "this node was promoted: the replication link's data is refused";
const UNBLOCKED_BY_DEMOTION: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/// A job's reply channel and the replies computed for it, sent once the group is committed.
type PendingReply = (ReplyTx, Vec<Reply>);

pub enum WriterMsg {
    /// Consecutive write commands of one client, executed in order in database `db`.
    Job {
        db: u8,
        cmds: Vec<WriteCommand>,
        kind: JobKind,
        reply: ReplyTx,
    },
    /// A reader saw `key` expired: delete it (after re-checking) and log the DEL.
    Expired { db: u8, key: Bytes },
    /// Sync the log, flush RocksDB, and stop.
    Shutdown { done: mpsc::Sender<()> },
    /// Replica: records received from the master, already checked (header and payload CRC,
    /// offsets contiguous from this log's end). Appended byte for byte, then applied with the
    /// applied offset in the same batch. Replies with the new end.
    Replicated {
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<LogOffset, String>>,
    },
    /// A new history: a replica with an empty log adopting its master's replid (the log
    /// restarts at 0 under it), a promotion, or a replica whose master was promoted (the log
    /// starts a new segment under `replid` at its end).
    SetReplid {
        replid: ReplId,
        /// REPLICAOF NO ONE: once the new history started, the node leaves replica mode
        /// (on this thread, so no message of the cancelled replication link is applied
        /// after a client write). Otherwise the link's own message, refused once promoted.
        promote: bool,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Replica full sync: `staged_db` holds the master's verified checkpoint at `offset` under
    /// `replid`. Swapped in as the live data, the log restarted at `offset`.
    InstallCheckpoint {
        staged_db: std::path::PathBuf,
        offset: LogOffset,
        replid: ReplId,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// A replica's claim on the log: segments from `offset` on are kept (up to `log-max-bytes`)
/// while the replica is connected or was seen within `repl-backlog-ttl`.
#[derive(Clone, Copy, Debug)]
pub struct Hold {
    pub offset: LogOffset,
    pub seen_ms: u64,
    pub connected: bool,
}

/// What the rest of the server sees of the writer: counters for INFO and the job channel.
pub struct WriterState {
    pub end: AtomicU64,
    pub synced_end: AtomicU64,
    pub log_start: AtomicU64,
    pub segments: AtomicU64,
    pub last_fsync_ms: AtomicU64,
    pub fsyncs: AtomicU64,
    /// Microseconds spent in log fsyncs, in total (INFO: divided by `fsyncs`, how fast the
    /// disk makes a write durable).
    pub fsync_us: AtomicU64,
    pub groups: AtomicU64,
    pub records: AtomicU64,
    pub expired_keys: AtomicU64,
    pub counts: [AtomicU64; DATABASES * 2],
    pub poisoned: Mutex<Option<String>>,
    pub is_poisoned: AtomicBool,
    /// Set by the fsync thread when an fsync of the log failed: the groups after the last good
    /// one were told they failed, so the writer (taking the flag) cuts their bytes off the log.
    pub fsync_failed: AtomicBool,
    pub replid: Mutex<ReplId>,
    pub truncated_at_open: Mutex<Option<String>>,
    pub last_flush_ms: AtomicU64,
    /// Clients parked by a blocking command (INFO blocked_clients).
    pub blocked: AtomicU64,
    /// The log end, published after every group commit: replication streams wait on it.
    pub end_watch: tokio::sync::watch::Sender<u64>,
    /// This node is a replica: no active expiry, no lazy-expiry DELs, no client writes.
    pub replica_mode: AtomicBool,
    /// The RocksDB connections read: replaced as a whole when a full sync swaps data in.
    storage: RwLock<Arc<Storage>>,
    /// Base offset and replid of every log segment: the histories a PSYNC may continue.
    pub history: Mutex<Vec<(LogOffset, ReplId)>>,
    /// Replicas' claims on the log, by replica address (ip:listening-port).
    pub holds: Mutex<HashMap<String, Hold>>,
}

impl WriterState {
    /// Counts a successful fsync of the log that began at `began` (INFO persistence).
    pub fn count_fsync(&self, began: Instant) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_us
            .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.last_fsync_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn counts(&self) -> [DbCounts; DATABASES] {
        let mut out = [DbCounts::default(); DATABASES];
        for (i, c) in out.iter_mut().enumerate() {
            c.keys = self.counts[i * 2].load(Ordering::Relaxed);
            c.expires = self.counts[i * 2 + 1].load(Ordering::Relaxed);
        }
        out
    }

    fn publish_counts(&self, c: &[DbCounts; DATABASES]) {
        for (i, c) in c.iter().enumerate() {
            self.counts[i * 2].store(c.keys, Ordering::Relaxed);
            self.counts[i * 2 + 1].store(c.expires, Ordering::Relaxed);
        }
    }

    /// Refuses every later write until restart; the first reason is the one reported.
    pub fn poison(&self, why: String) {
        tracing::error!(error = %why, "storage failure: refusing writes until restart");
        if let Ok(mut g) = self.poisoned.lock() {
            g.get_or_insert(why);
        }
        self.is_poisoned.store(true, Ordering::Relaxed);
    }

    pub fn poison_reason(&self) -> Option<String> {
        self.poisoned.lock().ok().and_then(|g| g.clone())
    }

    pub fn replid(&self) -> ReplId {
        self.replid
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|_| ReplId([b'0'; 40]))
    }

    /// Publishes a log end no lower than the one already published (the syncer publishes
    /// after its fsync, possibly behind the writer's own publishing).
    fn publish_end_at_least(&self, end: LogOffset) {
        self.end.fetch_max(end.0, Ordering::Release);
        self.end_watch.send_if_modified(|v| {
            let newer = end.0 > *v;
            if newer {
                *v = end.0;
            }
            newer
        });
    }

    /// The live storage. Hold it for one command, not longer: a full sync waits for the old
    /// one to be released before deleting its files.
    pub fn storage(&self) -> Arc<Storage> {
        match self.storage.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn history(&self) -> Vec<(LogOffset, ReplId)> {
        self.history.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Records or refreshes a replica's claim on the log. A disconnect (`connected` false)
    /// only updates a claim that is still there: one a full sync install cleared named
    /// offsets of the replaced log.
    pub fn hold(&self, who: &str, offset: LogOffset, connected: bool) {
        if let Ok(mut h) = self.holds.lock() {
            if !connected && !h.contains_key(who) {
                return;
            }
            h.insert(
                who.to_string(),
                Hold {
                    offset,
                    seen_ms: now_ms(),
                    connected,
                },
            );
        }
    }
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<WriterMsg>,
    direct: DirectWriter,
    pub state: Arc<WriterState>,
}

impl WriterHandle {
    /// Installs the batched hand-off on the calling I/O thread (see [`handoff`]): from then
    /// on its jobs and replies cross to the writer a group at a time.
    pub fn install_handoff(&self) {
        handoff::install(self.direct.clone());
    }

    /// Submits a job; the reply arrives once the job's records are durable per policy and
    /// applied.
    pub fn submit(&self, db: u8, cmds: Vec<WriteCommand>) -> oneshot::Receiver<Vec<Reply>> {
        self.submit_kind(db, cmds, JobKind::Plain)
    }

    pub fn submit_kind(
        &self,
        db: u8,
        cmds: Vec<WriteCommand>,
        kind: JobKind,
    ) -> oneshot::Receiver<Vec<Reply>> {
        let (tx, rx) = oneshot::channel();
        // If the writer is gone the receiver errors, which the caller reports.
        // A blocking command goes to the writer thread, which keeps the parked clients'
        // deadlines; everything else is committed by the hand-off in the next burst.
        let via = match kind {
            JobKind::Blocking => None,
            _ => handoff::current(),
        };
        let msg = WriterMsg::Job {
            db,
            cmds,
            kind,
            reply: ReplyTx::new(tx, via.clone()),
        };
        match via {
            Some(h) => h.queue_job(msg),
            None => {
                let _ = self.tx.send(msg);
            }
        }
        rx
    }

    /// Sends a message to the writer thread; false if it has stopped.
    pub fn send(&self, msg: WriterMsg) -> bool {
        self.tx.send(msg).is_ok()
    }

    pub fn shutdown(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(WriterMsg::Shutdown { done: tx }).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(60));
        }
    }
}

impl ExpireSink for WriterHandle {
    fn key_expired(&self, db: u8, key: &[u8]) {
        let _ = self.tx.send(WriterMsg::Expired {
            db,
            key: Bytes::copy_from_slice(key),
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("log record at offset {offset} does not decode as commands")]
    BadPayload { offset: LogOffset },
    #[error("log record at offset {offset} holds {cmd:?}, a command this durakv does not know (written by a newer version?); skipping it would leave this node's data different from the log's")]
    UnknownCommand { offset: LogOffset, cmd: String },
}

/// Why a logged command could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("a log record holds {0:?}, a command this durakv does not know")]
    UnknownCommand(String),
}

struct Writer {
    storage: Arc<Storage>,
    log: Log,
    config: Arc<Config>,
    state: Arc<WriterState>,
    group: GroupState,
    records: Vec<u8>,
    /// A record's payload while it is encoded, reused from record to record.
    payload: Vec<u8>,
    last_sync: Instant,
    last_expire: Instant,
    last_retention: Instant,
    /// Replicas' claims as last saved (see [`holds`]).
    saved_holds: Vec<(String, u64)>,
    last_flush: Instant,
    /// Applied offset as of the last RocksDB flush: what crash recovery needs kept.
    flushed_applied: LogOffset,
    waiters: Waiters,
    watches: Watches,
    /// fsyncs groups under `appendfsync always` (see [`syncer`]).
    syncer: syncer::Syncer,
    /// Groups handed to the syncer and not yet known to be answered.
    sync_pending: bool,
    /// Closed at shutdown: I/O threads still handing jobs over get an error.
    stopped: bool,
}

/// The writer is shared by its own thread and the I/O threads that commit their bursts
/// directly; a panic while one held it leaves the state as the panic left it, as it would on
/// the writer's own thread.
fn lock_writer(w: &Mutex<Writer>) -> std::sync::MutexGuard<'_, Writer> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// Answers a job that reached a writer which has stopped.
fn refuse_stopped(m: WriterMsg) {
    if let WriterMsg::Job { reply, cmds, .. } = m {
        reply.send(vec![
            Reply::err("ERR durakv writer is not running");
            cmds.len()
        ]);
    }
}

/// What an I/O thread commits through: the writer's state, locked for one burst, or the
/// writer thread when someone else holds it.
#[derive(Clone)]
pub struct DirectWriter {
    shared: Arc<Mutex<Writer>>,
    thread: mpsc::Sender<WriterMsg>,
}

impl DirectWriter {
    /// Runs and commits `batch` (drained) as the writer thread would: on the calling thread
    /// when the writer is free. When it is not (the writer thread in a RocksDB flush or an
    /// expiry cycle, or another I/O thread committing), the burst goes to the writer thread
    /// instead of waiting here, where every client of this I/O thread (and its timers) would
    /// wait too; the replies still come back through this thread's hand-off. A connection has
    /// one job in flight at a time, so its writes keep their order either way.
    pub fn commit(&self, batch: &mut Vec<WriterMsg>) {
        let mut w = match self.shared.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                for m in batch.drain(..) {
                    if let Err(mpsc::SendError(m)) = self.thread.send(m) {
                        refuse_stopped(m);
                    }
                }
                return;
            }
        };
        w.commit_direct(batch);
    }
}

/// Opens the log, recovers (truncating a torn tail, replaying after the applied offset), and
/// starts the writer thread.
pub fn start(
    storage: Arc<Storage>,
    config: Arc<Config>,
) -> Result<(WriterHandle, std::thread::JoinHandle<()>), StartError> {
    let log_dir = config.fixed.dir.join("log");
    let stored_replid = storage.replid()?;
    let mut replid = stored_replid.unwrap_or_else(ReplId::random);
    let has_log = log_dir.exists() && !crate::log::list_segments(&log_dir)?.is_empty();
    let checkpoint_offset = storage.applied_offset()?;
    if !has_log && (checkpoint_offset > LogOffset::ZERO || stored_replid.is_some()) {
        // A data dir made from a checkpoint (CHECKPOINT EXPORT, BGSAVE, a restore; also one
        // taken at offset 0, which still carries its source's replid): the data stands at
        // its offset and has no log. Its future differs from the node it was taken from, so
        // it gets a new history.
        replid = ReplId::random();
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| LogError::io("create log dir", &log_dir, e))?;
        let seg_bytes = config.runtime.log_segment_bytes.load(Ordering::Relaxed);
        Log::create_fresh(&log_dir, seg_bytes, replid, checkpoint_offset)?;
        tracing::info!(offset = %checkpoint_offset, replid = %replid, "data dir restored from a checkpoint: new log starts at its offset under a new replid");
    }
    let seg_bytes = config.runtime.log_segment_bytes.load(Ordering::Relaxed);
    let (mut log, report) = Log::open(&log_dir, seg_bytes, replid)?;
    // The log's newest segment names the history: a new segment is created before the
    // replid is stored with the data, so after a crash between the two the log is right.
    replid = log.replid();
    let mut truncated_note = None;
    if let Some((off, why)) = &report.truncated {
        let msg = format!(
            "torn tail of the log truncated at offset {off} ({why}); the record there was never completely written, so it was never acknowledged or streamed"
        );
        tracing::warn!("{msg}");
        truncated_note = Some(msg);
    }
    let applied = checkpoint_offset;
    // Read once: a replica must never run active expiry, not even before the server starts.
    let is_replica = crate::replication::initial_master(&config).is_some();
    if applied > log.end() && is_replica {
        // The same on a replica: but its data is its master's history up to `applied` (a
        // replica applies nothing else), so the log restarts there under the same replid and
        // the replica continues with PSYNC from that offset.
        let same = log.replid();
        tracing::error!(
            applied = %applied,
            log_end = %log.end(),
            "replica data is ahead of its log (power cut before fsync?): restarting the log at the applied offset under the master's replid {same}; old segments moved aside"
        );
        log.reset_at(applied, same)?;
        replid = same;
    } else if applied > log.end() {
        // Power cut: RocksDB persisted state beyond the log's fsynced end. The data is ahead of
        // the log, so the log restarts at the applied offset under a new history.
        let new_id = ReplId::random();
        tracing::error!(
            applied = %applied,
            log_end = %log.end(),
            "data is ahead of the log (power cut before fsync?): restarting the log at the applied offset with new replid {new_id}; old segments moved aside; replicas will full-sync"
        );
        log.reset_at(applied, new_id)?;
        replid = new_id;
    } else if applied < log.start() {
        return Err(StartError::Log(LogError::OffsetNotInLog {
            offset: applied,
        }));
    }
    let group = GroupState::load(&storage)?;
    let state = Arc::new(WriterState {
        end: AtomicU64::new(log.end().0),
        synced_end: AtomicU64::new(log.end().0),
        log_start: AtomicU64::new(log.start().0),
        segments: AtomicU64::new(log.segment_count() as u64),
        last_fsync_ms: AtomicU64::new(now_ms()),
        fsyncs: AtomicU64::new(0),
        fsync_us: AtomicU64::new(0),
        groups: AtomicU64::new(0),
        records: AtomicU64::new(0),
        expired_keys: AtomicU64::new(0),
        counts: std::array::from_fn(|_| AtomicU64::new(0)),
        poisoned: Mutex::new(None),
        is_poisoned: AtomicBool::new(false),
        replid: Mutex::new(replid),
        truncated_at_open: Mutex::new(truncated_note),
        last_flush_ms: AtomicU64::new(now_ms()),
        blocked: AtomicU64::new(0),
        end_watch: tokio::sync::watch::Sender::new(log.end().0),
        replica_mode: AtomicBool::new(is_replica),
        fsync_failed: AtomicBool::new(false),
        storage: RwLock::new(storage.clone()),
        history: Mutex::new(log.history()),
        holds: Mutex::new(holds::load(&config.fixed.dir)),
    });
    let mut w = Writer {
        storage,
        log,
        config,
        state: state.clone(),
        group,
        records: Vec::with_capacity(1 << 20),
        payload: Vec::new(),
        last_sync: Instant::now(),
        last_expire: Instant::now(),
        last_retention: Instant::now(),
        saved_holds: Vec::new(),
        last_flush: Instant::now(),
        flushed_applied: applied,
        waiters: Waiters::default(),
        watches: Watches::default(),
        syncer: syncer::Syncer::start(state.clone())
            .map_err(|e| LogError::io("spawn fsync thread", &log_dir, e))?,
        sync_pending: false,
        stopped: false,
    };
    if stored_replid != Some(replid) {
        let mut b = crate::storage::Batch::default();
        w.storage.put_replid(&mut b, replid);
        w.storage
            .put_applied_offset(&mut b, applied.max(w.log.start()));
        w.storage.write(b)?;
        w.storage.flush()?;
    }
    w.replay_from(applied.max(w.log.start()))?;
    state.publish_counts(&w.group.counts);
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Mutex::new(w));
    let direct = DirectWriter {
        shared: shared.clone(),
        thread: tx.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("durakv-writer".into())
        .spawn(move || Writer::run(shared, rx))
        .map_err(|e| LogError::io("spawn writer thread", &log_dir, e))?;
    Ok((WriterHandle { tx, direct, state }, thread))
}

impl Writer {
    /// Replays log records after `from` through the command code with the clock off.
    fn replay_from(&mut self, from: LogOffset) -> Result<(), StartError> {
        let end = self.log.end();
        if from >= end {
            return Ok(());
        }
        let started = Instant::now();
        let mut reader = LogReader::open(self.log.dir(), from)?;
        let mut n = 0u64;
        let mut applied = from;
        while let Some(rec) = reader.next(end)? {
            self.apply_record(rec.offset(), rec.header.db, rec.payload())?;
            applied = rec.end();
            n += 1;
            if n.is_multiple_of(1024) {
                self.commit_batch(applied)?;
            }
        }
        self.commit_batch(applied)?;
        tracing::info!(records = n, from = %from, to = %applied, elapsed_ms = started.elapsed().as_millis() as u64, "replayed log after the applied offset");
        Ok(())
    }

    fn max_bulk_len(&self) -> u64 {
        self.config
            .runtime
            .proto_max_bulk_len
            .load(Ordering::Relaxed)
    }

    /// Applies one log record's commands (replay and replicas), into the current batch.
    fn apply_record(
        &mut self,
        offset: LogOffset,
        db: u8,
        payload: &[u8],
    ) -> Result<(), StartError> {
        let cmds = decode_commands(payload).ok_or(StartError::BadPayload { offset })?;
        let mut db = db;
        let max = self.max_bulk_len();
        for args in cmds {
            db = match apply_logged(&self.storage, &mut self.group, db, &args, max) {
                Ok(db) => db,
                Err(ApplyError::Storage(e)) => return Err(e.into()),
                Err(ApplyError::UnknownCommand(cmd)) => {
                    return Err(StartError::UnknownCommand { offset, cmd })
                }
            };
        }
        Ok(())
    }

    fn commit_batch(&mut self, applied: LogOffset) -> Result<(), crate::storage::StorageError> {
        commit_applied(&self.storage, &mut self.group, applied)
    }

    /// Runs one message as part of the current group. Returns the caller to answer when it is
    /// a shutdown (which ends the group).
    fn handle(
        &mut self,
        m: WriterMsg,
        now: u64,
        jobs: &mut Vec<PendingReply>,
    ) -> Option<mpsc::Sender<()>> {
        self.group.track_touches = !self.waiters.is_empty() || !self.watches.is_empty();
        match m {
            WriterMsg::Job {
                db,
                cmds,
                kind,
                reply,
            } => self.run_job(db, cmds, kind, reply, now, jobs),
            WriterMsg::Expired { .. } if self.state.replica_mode.load(Ordering::Relaxed) => {}
            WriterMsg::Expired { db, key } => {
                self.exec_internal(db, now, |ctx| {
                    ctx.lookup(&key)?;
                    Ok(())
                });
            }
            WriterMsg::Shutdown { done } => return Some(done),
            // A replication link's message that arrives after a promotion: its session was
            // cancelled while this was on its way, and the node now takes client writes.
            WriterMsg::Replicated { reply, .. }
                if !self.state.replica_mode.load(Ordering::Relaxed) =>
            {
                let _ = reply.send(Err(NOT_A_REPLICA.into()));
            }
            WriterMsg::SetReplid {
                reply,
                promote: false,
                ..
            }
            | WriterMsg::InstallCheckpoint { reply, .. }
                if !self.state.replica_mode.load(Ordering::Relaxed) =>
            {
                let _ = reply.send(Err(NOT_A_REPLICA.into()));
            }
            WriterMsg::Replicated { bytes, reply } => {
                // Its own batch: whatever is pending goes first, in order.
                self.commit_group(jobs);
                self.sync_barrier();
                let _ = reply.send(self.apply_replicated(&bytes));
            }
            WriterMsg::SetReplid {
                replid,
                promote,
                reply,
            } => {
                self.commit_group(jobs);
                self.sync_barrier();
                let r = self.set_replid(replid);
                if promote && r.is_ok() {
                    // From here on client writes are taken, under the new history only.
                    self.state.replica_mode.store(false, Ordering::Relaxed);
                }
                let _ = reply.send(r);
            }
            WriterMsg::InstallCheckpoint {
                staged_db,
                offset,
                replid,
                reply,
            } => {
                self.commit_group(jobs);
                self.sync_barrier();
                let _ = reply.send(self.install_checkpoint(&staged_db, offset, replid));
            }
        }
        self.after_writes(now, jobs);
        None
    }

    fn group_full(&self, n: usize) -> bool {
        n >= MAX_GROUP_JOBS || self.records.len() >= MAX_GROUP_BYTES
    }

    /// After a group: time out blocked clients (and unpark all of them on a node that turned
    /// replica, as Redis does), publish how many are parked.
    fn after_group(&mut self) {
        if !self.waiters.is_empty() {
            if self.state.replica_mode.load(Ordering::Relaxed) {
                self.waiters.release_all(&Reply::err(UNBLOCKED_BY_DEMOTION));
            }
            self.waiters.expire(Instant::now());
        }
        self.state
            .blocked
            .store(self.waiters.len() as u64, Ordering::Relaxed);
    }

    /// Commits a burst of jobs an I/O thread handed over, on that thread (see [`handoff`]):
    /// one group, or several if it exceeds a group's bounds.
    fn commit_direct(&mut self, batch: &mut Vec<WriterMsg>) {
        let mut jobs = Vec::with_capacity(batch.len());
        if self.stopped {
            batch.drain(..).for_each(refuse_stopped);
            return;
        }
        let now = now_ms();
        let mut n = 0;
        for m in batch.drain(..) {
            if let Some(done) = self.handle(m, now, &mut jobs) {
                // Never queued by a hand-off; answered rather than lost.
                let _ = done.send(());
            }
            n += 1;
            if self.group_full(n) {
                self.commit_group(&mut jobs);
                n = 0;
            }
        }
        self.commit_group(&mut jobs);
        self.after_group();
    }

    fn run(shared: Arc<Mutex<Writer>>, rx: mpsc::Receiver<WriterMsg>) {
        let mut jobs: Vec<PendingReply> = Vec::new();
        loop {
            let timeout = lock_writer(&shared).next_tick_in();
            let first = match rx.recv_timeout(timeout) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    let mut w = lock_writer(&shared);
                    w.close();
                    return;
                }
            };
            let mut w = lock_writer(&shared);
            let mut shutdown = None;
            if let Some(first) = first {
                let mut msg = Some(first);
                let mut n = 0;
                let now = now_ms();
                while let Some(m) = msg.take() {
                    shutdown = w.handle(m, now, &mut jobs);
                    n += 1;
                    if shutdown.is_some() || w.group_full(n) {
                        break;
                    }
                    msg = rx.try_recv().ok();
                }
                w.commit_group(&mut jobs);
            }
            w.after_group();
            w.housekeeping();
            if let Some(done) = shutdown {
                w.close();
                let _ = done.send(());
                return;
            }
        }
    }

    fn next_tick_in(&self) -> Duration {
        let mut t = ACTIVE_EXPIRE_EVERY.saturating_sub(self.last_expire.elapsed());
        if let Some(d) = self.waiters.next_deadline() {
            t = t.min(d.saturating_duration_since(Instant::now()));
        }
        t.max(Duration::from_millis(1))
    }

    fn run_job(
        &mut self,
        db: u8,
        cmds: Vec<WriteCommand>,
        kind: JobKind,
        reply: ReplyTx,
        now: u64,
        jobs: &mut Vec<PendingReply>,
    ) {
        // The connection refuses writes on a replica when it parses them; a job parsed (or a
        // transaction queued) before the node turned replica is refused here.
        if self.state.replica_mode.load(Ordering::Relaxed)
            && cmds.iter().any(|(e, _)| matches!(e, Exec::Write(_)))
        {
            let replies = match kind {
                JobKind::Exec { .. } => vec![Reply::err(EXEC_ON_REPLICA)],
                _ => vec![Reply::err(READONLY); cmds.len()],
            };
            jobs.push((reply, replies));
            return;
        }
        match kind {
            JobKind::Blocking => match cmds.as_slice() {
                [(Exec::Write(f), args)] => match self.try_blocking(db, *f, args, now) {
                    Ok(r) => jobs.push((reply, vec![r])),
                    Err(w) => self.waiters.park(Waiter { reply, ..*w }),
                },
                _ => {
                    let replies = self.exec_job(db, &cmds, now);
                    jobs.push((reply, replies));
                }
            },
            JobKind::Plain => {
                let replies = self.exec_job(db, &cmds, now);
                jobs.push((reply, replies));
            }
            JobKind::Exec { watch } => {
                let broken = watch.is_some_and(|w| w.dirty.load(Ordering::Acquire));
                let r = if broken {
                    Reply::NilArray
                } else {
                    self.exec_transaction(db, &cmds, now)
                };
                jobs.push((reply, vec![r]));
            }
            JobKind::Watch { keys, flag } => {
                for k in keys {
                    self.watches.watch(db, k, &flag);
                }
                jobs.push((reply, vec![Reply::Ok]));
            }
        }
    }

    /// Runs a blocking command. `Ok(reply)`: it was served now (or refused); `Err(waiter)`:
    /// park it.
    fn try_blocking(
        &mut self,
        db: u8,
        f: commands::WriteFn,
        args: &[Bytes],
        now: u64,
    ) -> Result<Reply, Box<Waiter>> {
        if let Some(r) = self.poisoned_reply() {
            return Ok(r);
        }
        let max = self.max_bulk_len();
        let mut ctx = WriteCtx::new(&self.storage, &mut self.group, db, Some(now), max);
        ctx.may_block = true;
        let result = f(&mut ctx, args);
        let effects = ctx.take_effects();
        let block = ctx.block.take();
        match (result, block) {
            (Err(e), _) => {
                self.poison(format!("{e}"));
                Ok(self.poisoned_reply().unwrap_or(Reply::err("ERR storage")))
            }
            (Ok(r), None) => {
                self.add_record(db, now, &effects);
                Ok(r)
            }
            (Ok(r), Some(b)) => {
                // Parking changes nothing the client sees, but looking the keys up may have
                // deleted expired ones: those DELs are in the batch, so they must be logged.
                if !effects.is_empty() {
                    self.add_record(db, now, &effects);
                }
                let (tx, _) = oneshot::channel();
                Err(Box::new(Waiter {
                    db,
                    f,
                    args: args.to_vec(),
                    reply: ReplyTx::new(tx, None),
                    deadline: (b.timeout_ms > 0)
                        .then(|| Instant::now() + Duration::from_millis(b.timeout_ms)),
                    timeout_reply: r,
                    keys: b.keys,
                }))
            }
        }
    }

    /// MULTI/EXEC: every queued command in order, reads included, as one record.
    fn exec_transaction(&mut self, db: u8, cmds: &[WriteCommand], now: u64) -> Reply {
        if let Some(r) = self.poisoned_reply() {
            return r;
        }
        let max = self.max_bulk_len();
        let mut replies = Vec::with_capacity(cmds.len());
        let mut effects = Vec::new();
        // A replica never expires keys itself (only its master's DELs do), so a read-only
        // transaction there runs with the clock off.
        let clock = (!self.state.replica_mode.load(Ordering::Relaxed)).then_some(now);
        let mut cur_db = db;
        for (exec, args) in cmds {
            if let Exec::Conn = exec {
                // SELECT, the one connection command run inside a transaction.
                // Queued only after its arity was checked.
                match commands::db_index(&args[1]) {
                    Ok(n) => {
                        cur_db = n;
                        effects.push(vec![
                            Bytes::from_static(b"SELECT"),
                            Bytes::from(n.to_string()),
                        ]);
                        replies.push(Reply::Ok);
                    }
                    Err(r) => replies.push(r),
                }
                continue;
            }
            let mut ctx = WriteCtx::new(&self.storage, &mut self.group, cur_db, clock, max);
            let result = match exec {
                Exec::Write(f) => f(&mut ctx, args),
                Exec::Read(f) => f(&ctx, args),
                Exec::Conn => Ok(Reply::err("ERR command not allowed inside a transaction")),
            };
            effects.append(&mut ctx.take_effects());
            match result {
                Ok(r) => replies.push(r),
                Err(e) => {
                    self.poison(format!("{e}"));
                    return self.poisoned_reply().unwrap_or(Reply::err("ERR storage"));
                }
            }
        }
        self.add_record(db, now, &effects);
        Reply::Array(replies)
    }

    /// After a job: break the watches of the keys it wrote, and serve clients parked on them
    /// (each served pop is its own record in this group, after the write that fed it).
    fn after_writes(&mut self, now: u64, jobs: &mut Vec<PendingReply>) {
        let mut rounds = 0;
        while !self.group.touched.is_empty() {
            let touched = std::mem::take(&mut self.group.touched);
            let storage = &self.storage;
            for (db, key) in &touched {
                // After a flush RocksDB still holds the database's keys until the batch is
                // applied: that is what "existed" means for the flush.
                let existed = |k: &[u8]| matches!(storage.get_raw(*db, k), Ok(Some(_)));
                self.watches.touched(*db, key, existed);
            }
            // A replica's data changes only by its master's records: a parked client is
            // released (see `after_group`), never served by a pop of its own.
            if self.waiters.is_empty() || self.state.replica_mode.load(Ordering::Relaxed) {
                continue;
            }
            // A served BLMOVE writes its destination, which may serve someone else; bounded
            // so a cycle of moves cannot spin the writer.
            rounds += 1;
            if rounds > 1024 {
                self.group.touched.clear();
                break;
            }
            for (db, key) in touched {
                self.serve_parked(db, &key, now, jobs);
            }
        }
        self.group.track_touches = false;
    }

    fn serve_parked(&mut self, db: u8, key: &Bytes, now: u64, jobs: &mut Vec<PendingReply>) {
        if key.is_empty() {
            return;
        }
        for seq in self.waiters.waiting_on(db, key) {
            let Some(w) = self.waiters.get(seq) else {
                continue;
            };
            if w.reply.is_closed() {
                self.waiters.remove(seq);
                continue;
            }
            let (f, args) = (w.f, w.args.clone());
            match self.try_blocking(db, f, &args, now) {
                Ok(r) => {
                    if let Some(w) = self.waiters.remove(seq) {
                        jobs.push((w.reply, vec![r]));
                    }
                }
                // Still nothing for this client, so nothing for those after it either.
                Err(_) => break,
            }
        }
    }

    fn poisoned_reply(&self) -> Option<Reply> {
        if self.state.is_poisoned.load(Ordering::Relaxed) {
            let why = self.state.poison_reason().unwrap_or_default();
            return Some(Reply::err(format!(
                "ERR durakv refuses writes until restart after a storage failure: {why}"
            )));
        }
        None
    }

    /// Executes one client's commands, appending their records to the group.
    fn exec_job(&mut self, db: u8, cmds: &[WriteCommand], now: u64) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(cmds.len());
        let max = self.max_bulk_len();
        for (exec, args) in cmds {
            if let Some(r) = self.poisoned_reply() {
                replies.push(r);
                continue;
            }
            let Exec::Write(f) = exec else {
                replies.push(Reply::err("ERR internal: a read in a write job"));
                continue;
            };
            let mut ctx = WriteCtx::new(&self.storage, &mut self.group, db, Some(now), max);
            let result = f(&mut ctx, args);
            let effects = ctx.take_effects();
            match result {
                Ok(reply) => {
                    self.add_record(db, now, &effects);
                    replies.push(reply);
                }
                Err(e) => {
                    self.poison(format!("{e}"));
                    replies.push(self.poisoned_reply().unwrap_or(Reply::err("ERR storage")));
                }
            }
        }
        replies
    }

    /// Runs writer-internal work (lazy and active expiry) as one record.
    fn exec_internal(
        &mut self,
        db: u8,
        now: u64,
        f: impl FnOnce(&mut WriteCtx) -> Result<(), crate::storage::StorageError>,
    ) {
        if self.state.is_poisoned.load(Ordering::Relaxed) {
            return;
        }
        let max = self.max_bulk_len();
        let mut ctx = WriteCtx::new(&self.storage, &mut self.group, db, Some(now), max);
        let r = f(&mut ctx);
        let effects = ctx.take_effects();
        match r {
            Ok(()) => self.add_record(db, now, &effects),
            Err(e) => self.poison(format!("{e}")),
        }
    }

    fn add_record(&mut self, db: u8, now: u64, effects: &[Command]) {
        if effects.is_empty() {
            return;
        }
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        for e in effects {
            encode_command(&mut payload, e);
        }
        if payload.len() as u64 > MAX_PAYLOAD_LEN as u64 {
            self.poison(format!(
                "a record of {} bytes exceeds the log's maximum",
                payload.len()
            ));
            return;
        }
        let at = LogOffset(self.log.end().0 + self.records.len() as u64);
        encode_record(
            &mut self.records,
            at,
            now,
            db,
            RecordKind::Commands,
            &payload,
        );
        // Kept for the next record, unless one large record (a big MSET, a 512 MB value)
        // made it large.
        if payload.capacity() <= MAX_KEPT_PAYLOAD {
            self.payload = payload;
        }
        self.state.records.fetch_add(1, Ordering::Relaxed);
    }

    fn poison(&mut self, why: String) {
        self.state.poison(why);
    }

    /// Appends encoded records to the log and fsyncs per policy, on this thread (replicated
    /// records; the caller has drained the syncer). On failure the writer is poisoned and the
    /// bytes are cut off again.
    fn append_durably(&mut self, bytes: &[u8]) -> Result<(), String> {
        let start_end = self.log.end();
        self.append(bytes)?;
        if self.config.runtime.appendfsync() == FsyncPolicy::Always {
            if let Err(e) = self.sync_log() {
                return Err(self.fail_append(start_end, format!("{e}")));
            }
        }
        Ok(())
    }

    /// Appends encoded records to the log without fsyncing. On failure the writer is
    /// poisoned and the bytes are cut off again: whoever sent them is told they failed, so
    /// they must not be replayed at restart.
    fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        let start_end = self.log.end();
        if let Err(e) = self.log.append(bytes) {
            return Err(self.fail_append(start_end, format!("{e}")));
        }
        Ok(())
    }

    /// A failed append or fsync: poison the writer and cut the bytes back off the log, so
    /// records whose senders were told they failed are never replayed.
    fn fail_append(&mut self, start_end: LogOffset, why: String) -> String {
        self.poison(why.clone());
        if let Err(e2) = self.log.truncate_to(start_end) {
            tracing::error!(error = %e2, "could not cut back a failed log append");
        }
        why
    }

    /// After the fsync thread failed: the groups it had not fsynced were told they failed, so
    /// their bytes are cut off the log (as a failed append's are) and never replayed. RocksDB
    /// may hold them already; start-up then finds its data ahead of the log and handles it as
    /// after a power cut. Only within the active segment (a roll fsyncs the segment it closes).
    fn cut_unsynced_after_fsync_failure(&mut self) {
        // A load first: this runs before every group, and the flag is almost never set.
        if !self.state.fsync_failed.load(Ordering::Relaxed)
            || !self.state.fsync_failed.swap(false, Ordering::Relaxed)
        {
            return;
        }
        self.sync_barrier();
        let good = LogOffset(self.state.synced_end.load(Ordering::Relaxed));
        match self.log.truncate_to(good) {
            Ok(()) => {
                tracing::error!(offset = %good, "log cut back to the last fsynced offset after a failed fsync")
            }
            Err(e) => {
                tracing::error!(error = %e, "could not cut the log back after a failed fsync")
            }
        }
    }

    /// Logs the group's records, fsyncs per policy, applies the batch, then replies.
    fn commit_group(&mut self, jobs: &mut Vec<PendingReply>) {
        self.cut_unsynced_after_fsync_failure();
        let mut ok = !self.state.is_poisoned.load(Ordering::Relaxed);
        // With `always` the fsync runs on the syncer thread, overlapping the next group.
        let offload = self.config.runtime.appendfsync() == FsyncPolicy::Always;
        if ok && !self.records.is_empty() {
            let records = std::mem::take(&mut self.records);
            ok = self.append(&records).is_ok();
            self.records = records;
        }
        self.records.clear();
        if ok && !self.group.is_empty() {
            let applied = self.log.end();
            let expired = self.group.expired_keys;
            if let Err(e) = self.commit_batch(applied) {
                // Logged, so durable, and replayed at restart: the replies stand, but nothing
                // more is accepted until then.
                self.poison(format!("{e}"));
            }
            self.state
                .expired_keys
                .fetch_add(expired, Ordering::Relaxed);
        } else {
            self.group.reset();
            if !ok {
                // Forget what the failed group changed in memory.
                if let Ok(c) = self.storage.load_counts() {
                    self.group.counts = c;
                }
            }
        }
        self.state.publish_counts(&self.group.counts);
        self.state.groups.fetch_add(1, Ordering::Relaxed);
        self.publish_log_stats();
        if !ok {
            let r = self
                .poisoned_reply()
                .unwrap_or(Reply::err("ERR log write failed"));
            for (_, replies) in jobs.iter_mut() {
                replies.iter_mut().for_each(|x| *x = r.clone());
            }
        }
        if offload
            && ok
            && self.log.end() > LogOffset(self.state.synced_end.load(Ordering::Relaxed))
        {
            self.syncer
                .submit(self.log.active_file(), self.log.end(), std::mem::take(jobs));
            self.sync_pending = true;
            return;
        }
        self.publish_end();
        handoff::deliver(jobs);
    }

    /// Waits for the syncer to fsync and answer every group handed to it, before anything
    /// that resets the log or publishes its end directly.
    fn sync_barrier(&mut self) {
        if self.sync_pending {
            self.syncer.barrier();
            self.sync_pending = false;
        }
    }

    /// Fsyncs the log on this thread and counts it (INFO persistence).
    fn sync_log(&mut self) -> Result<(), LogError> {
        let began = Instant::now();
        self.log.sync()?;
        self.last_sync = Instant::now();
        self.state.count_fsync(began);
        self.state
            .synced_end
            .store(self.log.synced_end().0, Ordering::Relaxed);
        Ok(())
    }

    fn housekeeping(&mut self) {
        if self.state.is_poisoned.load(Ordering::Relaxed) {
            return;
        }
        if self.config.runtime.appendfsync() == FsyncPolicy::Everysec
            && self.last_sync.elapsed() >= Duration::from_secs(1)
            && self.log.synced_end() < self.log.end()
        {
            if let Err(e) = self.sync_log() {
                self.poison(format!("{e}"));
            }
        }
        if self.last_expire.elapsed() >= ACTIVE_EXPIRE_EVERY {
            self.last_expire = Instant::now();
            if !self.state.replica_mode.load(Ordering::Relaxed) {
                self.active_expire_cycle();
            }
        }
        if self.last_flush.elapsed()
            >= Duration::from_secs(self.config.fixed.flush_interval_secs.max(1))
        {
            self.last_flush = Instant::now();
            self.flush_storage();
        }
        if self.last_retention.elapsed() >= RETENTION_EVERY {
            self.last_retention = Instant::now();
            self.watches.sweep();
            self.retention();
        }
    }

    /// Deletes keys whose TTL passed, walking the expire index (no full scans); each database's
    /// deletions are one record of DELs.
    fn active_expire_cycle(&mut self) {
        let now = now_ms();
        let mut any = false;
        for db in 0..DATABASES as u8 {
            if self.group.counts[db as usize].expires == 0 {
                continue;
            }
            let due = match self
                .storage
                .due_expiries(db, now, ACTIVE_EXPIRE_KEYS_PER_DB)
            {
                Ok(d) => d,
                Err(e) => {
                    self.poison(format!("{e}"));
                    return;
                }
            };
            if due.is_empty() {
                continue;
            }
            any = true;
            self.exec_internal(db, now, |ctx| {
                for (_, key) in &due {
                    ctx.lookup(key)?;
                }
                Ok(())
            });
        }
        if any {
            let mut none = Vec::new();
            self.commit_group(&mut none);
        }
    }

    fn flush_storage(&mut self) {
        let applied = self.log.end();
        // Fsync the log first: data flushed past the log's fsynced end would, after a power
        // cut, be ahead of the log, which costs a new history and full syncs for replicas.
        if self.log.synced_end() < applied {
            if let Err(e) = self.sync_log() {
                self.poison(format!("{e}"));
                return;
            }
        }
        match self.storage.flush() {
            Ok(()) => {
                self.flushed_applied = applied;
                self.state.last_flush_ms.store(now_ms(), Ordering::Relaxed);
            }
            Err(e) => self.poison(format!("{e}")),
        }
    }

    fn retention(&mut self) {
        if let Ok(h) = self.state.holds.lock() {
            holds::save_if_changed(&self.config.fixed.dir, &h, &mut self.saved_holds);
        }
        let rt = &self.config.runtime;
        self.log
            .set_segment_bytes(rt.log_segment_bytes.load(Ordering::Relaxed));
        let bytes = rt.log_retention_bytes.load(Ordering::Relaxed);
        let ms = rt
            .log_retention_hours
            .load(Ordering::Relaxed)
            .saturating_mul(3_600_000);
        let cap = rt.log_max_bytes.load(Ordering::Relaxed);
        if bytes == 0 && ms == 0 && cap == 0 {
            return;
        }
        // Crash recovery needs everything after the flushed applied offset; flush first when
        // that is what holds a segment back.
        if self.flushed_applied < self.log.end() && self.log.segment_count() > 1 {
            self.flush_storage();
        }
        let held = self.replica_holds();
        let keep = held.map_or(self.flushed_applied, |h| h.min(self.flushed_applied));
        if let Err(e) = self.log.apply_retention(keep, bytes, ms) {
            tracing::warn!(error = %e, "log retention failed");
        }
        // The hard cap overrides what replicas still need; they will need a full sync.
        if cap > 0 {
            match self.log.apply_retention(self.flushed_applied, cap, 0) {
                Ok(n) if n > 0 && held.is_some_and(|h| h < self.log.start()) => {
                    tracing::warn!(log_max_bytes = cap, log_start = %self.log.start(), "log-max-bytes reached: deleted segments a replica still needed; it will need a full sync")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "log retention (log-max-bytes) failed"),
            }
        }
        self.publish_log_stats();
    }

    /// The oldest offset a connected or recently seen replica still needs; forgets replicas
    /// not seen for `repl-backlog-ttl`.
    fn replica_holds(&self) -> Option<LogOffset> {
        let ttl_ms = self
            .config
            .runtime
            .repl_backlog_ttl
            .load(Ordering::Relaxed)
            .saturating_mul(1000);
        let now = now_ms();
        let mut holds = self.state.holds.lock().ok()?;
        holds.retain(|who, h| {
            let keep = h.connected || now.saturating_sub(h.seen_ms) <= ttl_ms;
            if !keep {
                tracing::info!(replica = %who, offset = %h.offset, "replica not seen for repl-backlog-ttl: the log no longer keeps its position");
            }
            keep
        });
        holds.values().map(|h| h.offset).min()
    }

    /// Publishes the log end for INFO and wakes the replication streams waiting on it.
    fn publish_end(&self) {
        let end = self.log.end().0;
        self.state.end.store(end, Ordering::Release);
        self.state.end_watch.send_if_modified(|v| {
            let changed = *v != end;
            *v = end;
            changed
        });
    }

    fn publish_log_stats(&self) {
        // Called after every group: the history only changes when segments come or go.
        let (first, last) = (self.log.history_first(), self.log.history_last());
        if let Ok(mut h) = self.state.history.lock() {
            if h.len() != self.log.segment_count()
                || h.first().copied() != first
                || h.last().copied() != last
            {
                *h = self.log.history();
            }
        }
        self.state
            .log_start
            .store(self.log.start().0, Ordering::Relaxed);
        self.state
            .segments
            .store(self.log.segment_count() as u64, Ordering::Relaxed);
    }

    /// Clean stop: fsync the log and flush RocksDB so the next start replays nothing.
    fn close(&mut self) {
        self.stopped = true;
        self.sync_barrier();
        self.cut_unsynced_after_fsync_failure();
        if let Err(e) = self.log.sync() {
            tracing::error!(error = %e, "fsync at shutdown failed");
            return;
        }
        if !self.state.is_poisoned.load(Ordering::Relaxed) {
            if let Err(e) = self.storage.flush() {
                tracing::error!(error = %e, "RocksDB flush at shutdown failed; the log will be replayed at the next start");
            }
        }
        tracing::info!(end = %self.log.end(), "writer stopped: log synced, storage flushed");
    }
}

/// A checked record inside a buffer: its offset, database and payload.
pub type RecordRef<'a> = (LogOffset, u8, &'a [u8]);

/// Splits framed records that must start at `expected`, checking header and payload CRCs and
/// that offsets are contiguous: (offset, db, payload) for each.
pub fn split_records(
    mut bytes: &[u8],
    mut expected: LogOffset,
) -> Result<Vec<RecordRef<'_>>, String> {
    use crate::log::format::{RecordHeader, RECORD_HEADER_LEN};
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Some(hb) = bytes.get(..RECORD_HEADER_LEN) else {
            return Err(format!("partial record header at offset {expected}"));
        };
        let mut h = [0u8; RECORD_HEADER_LEN];
        h.copy_from_slice(hb);
        let header = RecordHeader::decode(&h)
            .map_err(|e| format!("bad record at offset {expected}: {e}"))?;
        if header.offset != expected {
            return Err(format!(
                "record claims offset {} but {expected} was expected",
                header.offset
            ));
        }
        let len = header.record_len() as usize;
        let Some(rec) = bytes.get(..len) else {
            return Err(format!("partial record at offset {expected}"));
        };
        let payload = &rec[RECORD_HEADER_LEN..];
        header
            .check_payload(payload)
            .map_err(|e| format!("bad record at offset {expected}: {e}"))?;
        out.push((expected, header.db, payload));
        expected = header.end();
        bytes = &bytes[len..];
    }
    Ok(out)
}

/// Applies one logged command with the clock off (replay, point-in-time restore, replicas).
/// Returns the database the next command of the record applies to; fails on a command this
/// build does not know rather than skip it.
pub fn apply_logged(
    storage: &Storage,
    group: &mut GroupState,
    db: u8,
    args: &[Bytes],
    max_bulk_len: u64,
) -> Result<u8, ApplyError> {
    if commands::eq_ignore_case(&args[0], "SELECT") {
        if let Some(Ok(n)) = args.get(1).map(|a| commands::db_index(a)) {
            return Ok(n);
        }
    }
    let Some(spec) = commands::lookup(&args[0]) else {
        // Skipping it would make this node's data differ from the log (invariant 6).
        return Err(ApplyError::UnknownCommand(
            String::from_utf8_lossy(&args[0]).into_owned(),
        ));
    };
    if let Exec::Write(f) = spec.exec {
        let mut ctx = WriteCtx::new(storage, group, db, None, max_bulk_len);
        f(&mut ctx, args)?;
    }
    Ok(db)
}

/// Writes the group's batch with the key counts it changed and the applied offset it covers,
/// in one atomic RocksDB write.
pub fn commit_applied(
    storage: &Arc<Storage>,
    group: &mut GroupState,
    applied: LogOffset,
) -> Result<(), crate::storage::StorageError> {
    let mut batch = std::mem::take(&mut group.batch);
    for db in 0..DATABASES {
        if group.counts_dirty[db] {
            storage.put_counts(&mut batch, db as u8, group.counts[db]);
        }
    }
    if group.version_dirty {
        storage.put_next_version(&mut batch, group.next_version);
    }
    storage.put_applied_offset(&mut batch, applied);
    let prefixes = std::mem::take(&mut group.reclaim);
    group.reset();
    storage.write(batch)?;
    if !prefixes.is_empty() {
        let storage = storage.clone();
        // Off the writer: compaction of a large range takes a while.
        let spawned = std::thread::Builder::new()
            .name("durakv-reclaim".into())
            .spawn(move || {
                for p in prefixes {
                    storage.reclaim_collection(&p);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the reclaim thread; compaction will reclaim the space later");
        }
    }
    Ok(())
}
