//! The master side of a replica connection: `REPLCONF`, `PSYNC`, then streaming (full syncs
//! are in [`super::sync_source`]), and `WAIT`.
//!
//! After `+CONTINUE` the connection only streams: records are read from the log on disk with
//! [`LogReader`] (at most [`CHUNK`] bytes at a time: read, write, repeat), and once the replica
//! has caught up the stream waits for the writer to publish a new end. Nothing is buffered per
//! replica beyond one chunk, so a slow replica costs nothing but reading older segments later.
//! Meanwhile `REPLCONF ACK <offset>` lines from the replica update the registry INFO reads.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::sync_source::SyncCheckpoint;
use super::ReplicaInfo;
use crate::commands::{eq_ignore_case, parse_i64};
use crate::config::RuntimeConfig;
use crate::log::format::encode_heartbeat;
use crate::log::reader::LogReader;
use crate::protocol::{parse_request, Limits, Reply};
use crate::server::connection::ConnState;
use crate::server::Shared;
use crate::types::{now_ms, LogOffset, ReplId};

/// `PSYNC ? -1` replays the log from 0 instead of a full sync while the log is this short.
const FRESH_REPLAY_MAX_BYTES: u64 = 64 << 20;

/// Most bytes read from the log and held for one replica at a time.
const CHUNK: usize = 1 << 20;

/// A connection's replication state: its handshake as a replica, and WAIT's target.
#[derive(Default)]
pub struct ConnRepl {
    pub listening_port: Option<u16>,
    /// Set by a successful PSYNC: the connection switches to streaming after its reply.
    pub stream: Option<(LogOffset, LogReader)>,
    /// The checkpoint this replica is downloading (after +FULLRESYNC).
    pub checkpoint: Option<Arc<SyncCheckpoint>>,
    /// Raw bytes to send right after the current reply (the manifest after +FULLRESYNC).
    pub raw_after: Option<Vec<u8>>,
    /// The log end after this client's last write: what WAIT waits for.
    pub woff: u64,
    /// `REPLCONF rdb-only 1`: PSYNC always answers with a full sync and holds no log.
    pub rdb_only: bool,
    /// `REPLCONF last-record <crc>:<timestamp>`: the replica's record ending at the offset it
    /// will PSYNC from. A PSYNC continues only if this log's record there is the same.
    pub last_record: Option<crate::log::segment::RecordFingerprint>,
}

impl ConnRepl {
    /// How the master names a replica in holds and logs: ip:listening-port.
    pub fn replica_key(&self, addr: SocketAddr) -> String {
        format!(
            "{}:{}",
            addr.ip(),
            self.listening_port.unwrap_or(addr.port())
        )
    }
}

/// `REPLCONF listening-port <p> | capa <x> ... | ACK <offset> | GETACK *`.
pub fn replconf(st: &mut ConnState, args: &[Bytes]) -> Reply {
    if args.len() < 2 || args.len().is_multiple_of(2) {
        return Reply::err("ERR syntax error");
    }
    let mut i = 1;
    while i + 1 < args.len() {
        let (k, v) = (&args[i], &args[i + 1]);
        if eq_ignore_case(k, "listening-port") {
            match parse_i64(v).filter(|p| (0..=65535).contains(p)) {
                Some(p) => st.repl.listening_port = Some(p as u16),
                None => return Reply::err("ERR value is out of range"),
            }
        } else if eq_ignore_case(k, "last-record") {
            match parse_fingerprint(v) {
                Some(f) => st.repl.last_record = Some(f),
                None => return Reply::err("ERR invalid last-record (expected <crc hex>:<ms>)"),
            }
        } else if eq_ignore_case(k, "rdb-only") {
            // A backup (`durakv backup --from`, `redis-cli --rdb`): a snapshot, never a stream.
            st.repl.rdb_only = &v[..] == b"1";
        } else if !eq_ignore_case(k, "capa")
            && !eq_ignore_case(k, "ack")
            && !eq_ignore_case(k, "ip-address")
            && !eq_ignore_case(k, "getack")
        {
            return Reply::err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(k)
            ));
        }
        i += 2;
    }
    Reply::Ok
}

/// `<payload crc, hex>:<timestamp ms>`, as [`fingerprint_arg`] writes it.
fn parse_fingerprint(v: &[u8]) -> Option<crate::log::segment::RecordFingerprint> {
    let (crc, ts) = std::str::from_utf8(v).ok()?.split_once(':')?;
    Some((u32::from_str_radix(crc, 16).ok()?, ts.parse().ok()?))
}

/// The `REPLCONF last-record` value for a record fingerprint.
pub fn fingerprint_arg(f: crate::log::segment::RecordFingerprint) -> String {
    format!("{:08x}:{}", f.0, f.1)
}

/// `PSYNC <replid> <offset>`: `+CONTINUE <replid>` when this log holds `offset` under that
/// history (see [`super::history_holds`]; `? -1` continues from 0 while the whole log, from
/// offset 0, is at most 64 MiB); otherwise `+FULLRESYNC <replid> <offset>` and the checkpoint's manifest
/// ([`super::sync_source`]). A replica serves PSYNC from its own log the same way (chaining).
pub async fn psync(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sh = st.sh.clone();
    let w = &sh.writer.state;
    let my_id = w.replid();
    let start = LogOffset(w.log_start.load(Ordering::Relaxed));
    let end = LogOffset(w.end.load(Ordering::Acquire));
    let asked_fresh = &args[1][..] == b"?";
    let from = if asked_fresh {
        // A fresh replica replays a short log from 0; a long one costs more to replay than
        // a checkpoint costs to copy, so it gets a full sync, as Redis always gives one.
        let short = end.0 <= FRESH_REPLAY_MAX_BYTES;
        (start == LogOffset::ZERO && short && parse_i64(&args[2]) == Some(-1))
            .then_some(LogOffset::ZERO)
    } else {
        match (ReplId::parse(&args[1]), parse_i64(&args[2])) {
            (Some(id), Some(off)) if off >= 0 => {
                let off = LogOffset(off as u64);
                super::history_holds(&w.history(), end, id, off).then_some(off)
            }
            _ => None,
        }
    };
    let key = st.repl.replica_key(st.client.addr);
    let from = from.filter(|_| !st.repl.rdb_only);
    // The claim is about the offset of this PSYNC only (after a full sync the replica asks
    // again at the checkpoint's offset, without one).
    let claimed = st.repl.last_record.take();
    if let Some(from) = from {
        let dir = sh.config.fixed.dir.join("log");
        match tokio::task::spawn_blocking(move || LogReader::open(&dir, from)).await {
            // The replica's last record differs from ours at that offset: a power cut took
            // records from this log after the replica had them, and this log has since
            // written other records over the same offsets (brief 4b).
            Ok(Ok(reader)) if matches!((claimed, reader.record_before()), (Some(a), Some(b)) if a != b) =>
            {
                tracing::warn!(client = st.client.id, replica = %key, offset = %from, "replica PSYNC: its last record differs from this log's at that offset (diverged history): full sync");
            }
            Ok(Ok(reader)) => {
                sh.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(client = st.client.id, replica = %key, offset = %from, "replica PSYNC accepted: +CONTINUE");
                st.repl.stream = Some((from, reader));
                return Reply::Simple(format!("CONTINUE {my_id}"));
            }
            Ok(Err(e)) => {
                tracing::info!(offset = %from, error = %e, "PSYNC offset not readable from the log: full sync");
            }
            Err(e) => return Reply::err(format!("ERR internal: {e}")),
        }
    }
    if !asked_fresh {
        sh.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
    }
    tracing::info!(client = st.client.id, replica = %key, replid = %String::from_utf8_lossy(&args[1]), offset = %String::from_utf8_lossy(&args[2]), log_start = %start, log_end = %end, "PSYNC cannot continue: full sync");
    let ckpt = match super::sync_source::checkpoint_for(&sh).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "full sync: checkpoint failed");
            return Reply::err(format!("ERR full sync checkpoint failed: {e:#}"));
        }
    };
    let frame = match super::sync_source::manifest_frame(&ckpt.manifest) {
        Ok(f) => f,
        Err(e) => return Reply::err(format!("ERR encoding the manifest: {e}")),
    };
    // The checkpoint's offset stays in the log until this replica has caught up past it.
    if !st.repl.rdb_only {
        w.hold(&key, LogOffset(ckpt.manifest.offset), true);
    }
    sh.repl.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!(replica = %key, id = %ckpt.manifest.id, offset = ckpt.manifest.offset, bytes = ckpt.manifest.total_bytes(), "full sync: +FULLRESYNC, manifest sent");
    let reply = Reply::Simple(format!(
        "FULLRESYNC {} {}",
        ckpt.manifest.replid, ckpt.manifest.offset
    ));
    st.repl.checkpoint = Some(ckpt);
    st.repl.raw_after = Some(frame);
    // Listed (state send_bulk) until it streams or leaves: see `stream` and `left_mid_sync`.
    if !st.repl.rdb_only {
        if let Ok(mut r) = sh.repl.replicas.lock() {
            r.insert(
                st.client.id,
                ReplicaInfo {
                    addr: st.client.addr,
                    listening_port: st.repl.listening_port.unwrap_or(st.client.addr.port()),
                    state: super::SEND_BULK,
                    ack_offset: 0,
                    last_ack_ms: now_ms(),
                },
            );
        }
    }
    reply
}

/// `WAIT numreplicas timeout`: how many replicas acknowledged this client's last write, once
/// `numreplicas` have or the timeout (ms, 0 = none) passed.
pub async fn wait(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sh = st.sh.clone();
    if sh.repl.master().is_some() {
        return Reply::err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let (Some(n), Some(t)) = (parse_i64(&args[1]), parse_i64(&args[2])) else {
        return Reply::err("ERR value is not an integer or out of range");
    };
    if t < 0 {
        return Reply::err("ERR timeout is negative");
    }
    let target = st.repl.woff;
    let deadline =
        (t > 0).then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(t as u64));
    loop {
        let notified = sh.repl.acked.notified();
        let count = sh.repl.acked_count(target);
        if count >= n.max(0) as usize {
            return Reply::Int(count as i64);
        }
        match deadline {
            Some(d) => {
                if tokio::time::timeout_at(d, notified).await.is_err() {
                    return Reply::Int(sh.repl.acked_count(target) as i64);
                }
            }
            None => notified.await,
        }
    }
}

/// A replica's connection closed during its full sync: it leaves the registry, and its claim
/// on the checkpoint's offset lasts repl-backlog-ttl, so it can come back and resume.
pub fn left_mid_sync(st: &mut ConnState, peer: SocketAddr, error: Option<io::Error>) {
    let Some(c) = st.repl.checkpoint.take() else {
        return;
    };
    let reason = error.map_or_else(|| "it closed the connection".to_string(), |e| e.to_string());
    tracing::info!(replica = %st.repl.replica_key(peer), id = %c.manifest.id, %reason, "replica left during a full sync");
    if let Ok(mut r) = st.sh.repl.replicas.lock() {
        r.remove(&st.client.id);
    }
    if !st.repl.rdb_only {
        let key = st.repl.replica_key(peer);
        st.sh
            .writer
            .state
            .hold(&key, LogOffset(c.manifest.offset), false);
    }
}

/// Removes a replica from the registry when its stream ends, however it ends; its hold on
/// the log stays (disconnected) for `repl-backlog-ttl`.
struct Registered<'a> {
    sh: &'a Shared,
    id: u64,
    key: String,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let info = self
            .sh
            .repl
            .replicas
            .lock()
            .ok()
            .and_then(|mut r| r.remove(&self.id));
        if let Some(i) = info {
            self.sh
                .writer
                .state
                .hold(&self.key, LogOffset(i.ack_offset), false);
        }
        self.sh.repl.acked.notify_waiters();
    }
}

/// Streams records from `from` until the replica goes away, the client is killed, the link
/// is silent for `repl-timeout`, or the log cannot be read (reported with its offset; the
/// replica will reconnect and ask again). An idle stream gets a heartbeat every
/// `repl-ping-replica-period`.
pub async fn stream(
    st: &mut ConnState,
    sock: &mut TcpStream,
    mut rbuf: BytesMut,
    from: LogOffset,
    reader: LogReader,
) -> io::Result<()> {
    let sh = st.sh.clone();
    let id = st.client.id;
    let addr = st.client.addr;
    let key = st.repl.replica_key(addr);
    st.repl.checkpoint = None;
    if let Ok(mut r) = sh.repl.replicas.lock() {
        r.insert(
            id,
            ReplicaInfo {
                addr,
                listening_port: st.repl.listening_port.unwrap_or(addr.port()),
                state: super::ONLINE,
                ack_offset: from.0,
                last_ack_ms: now_ms(),
            },
        );
    }
    sh.writer.state.hold(&key, from, true);
    let _registered = Registered {
        sh: &sh,
        id,
        key: key.clone(),
    };
    let rt = &sh.config.runtime;
    let (mut rd, mut wr) = sock.split();
    let acks = async {
        loop {
            while let Ok(Some(args)) = parse_request(&mut rbuf, Limits::new(1 << 20)) {
                if args.len() == 3
                    && eq_ignore_case(&args[0], "replconf")
                    && eq_ignore_case(&args[1], "ack")
                {
                    if let Some(off) = parse_i64(&args[2]) {
                        let off = off.max(0) as u64;
                        if let Ok(mut r) = sh.repl.replicas.lock() {
                            if let Some(info) = r.get_mut(&id) {
                                info.ack_offset = off;
                                info.last_ack_ms = now_ms();
                            }
                        }
                        sh.writer.state.hold(&key, LogOffset(off), true);
                        sh.repl.acked.notify_waiters();
                    }
                }
            }
            if rbuf.len() > 1 << 20 {
                return Err(io::Error::other("replica sent an oversized request"));
            }
            let timeout = RuntimeConfig::secs(&rt.repl_timeout);
            match tokio::time::timeout(timeout, rd.read_buf(&mut rbuf)).await {
                Ok(Ok(0)) => return Ok::<(), io::Error>(()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    tracing::warn!(replica = %key, timeout_s = timeout.as_secs(), "replica sent no ACK within repl-timeout: dropping it");
                    return Err(io::Error::other("repl-timeout"));
                }
            }
        }
    };
    let send = async {
        let mut end_rx = sh.writer.state.end_watch.subscribe();
        let mut reader = Some(reader);
        let mut pos = from;
        loop {
            let end = LogOffset(*end_rx.borrow_and_update());
            if pos >= end {
                let ping = RuntimeConfig::secs(&rt.repl_ping_replica_period);
                match tokio::time::timeout(ping, end_rx.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Ok(()),
                    Err(_) => {
                        let hb = encode_heartbeat(pos, now_ms());
                        write_within(&mut wr, &hb, rt, &key).await?;
                    }
                }
                continue;
            }
            let Some(mut r) = reader.take() else {
                return Err(io::Error::other("log reader lost"));
            };
            let (r, chunk) = tokio::task::spawn_blocking(move || {
                let mut buf = Vec::new();
                let res = loop {
                    if buf.len() >= CHUNK {
                        break Ok(());
                    }
                    match r.next(end) {
                        Ok(Some(rec)) => buf.extend_from_slice(&rec.bytes),
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                (r, res.map(|_| buf))
            })
            .await
            .map_err(io::Error::other)?;
            reader = Some(r);
            let chunk = chunk.map_err(|e| {
                tracing::warn!(replica = %key, error = %e, offset = %pos, "replication stream stopped: the log no longer holds what this replica needs; it will need a full sync");
                io::Error::other(e.to_string())
            })?;
            if chunk.is_empty() {
                return Err(io::Error::other(format!(
                    "no record readable at {pos} below the published end {end}"
                )));
            }
            write_within(&mut wr, &chunk, rt, &key).await?;
            sh.stats
                .net_out
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            pos = pos.advance(chunk.len() as u64);
        }
    };
    let client = st.client.clone();
    let r = tokio::select! {
        r = acks => r,
        r = send => r,
        _ = client.kill.notified() => Ok(()),
    };
    tracing::info!(client = id, replica = %key, "replica stream ended");
    r
}

/// Writes to a replica, giving up after `repl-timeout` (a replica that stopped reading).
async fn write_within(
    wr: &mut tokio::net::tcp::WriteHalf<'_>,
    bytes: &[u8],
    rt: &RuntimeConfig,
    key: &str,
) -> io::Result<()> {
    let timeout = RuntimeConfig::secs(&rt.repl_timeout);
    match tokio::time::timeout(timeout, wr.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(replica = %key, timeout_s = timeout.as_secs(), "replica stopped reading the stream for repl-timeout: dropping it");
            Err(io::Error::other("repl-timeout"))
        }
    }
}
