//! Master/replica replication: partial sync (`+CONTINUE`, then raw log records from any
//! offset the log on disk holds), full sync (`+FULLRESYNC`, a RocksDB checkpoint's files,
//! then the stream from its offset), promotion with history checks, chaining, WAIT and
//! min-replicas, and the replication state INFO, ROLE and the replica task share.
//!
//! Why it looks like this: a replica appends the master's records byte for byte (invariant 4),
//! so the stream is simply the master's log read from the replica's offset; there is no output
//! buffer to overflow, a slow replica just reads older segments later. Segments record the
//! replid they were written under, and a promotion starts a new segment, so whether a
//! (replid, offset) pair is part of this node's history is read off the log itself.
//!
//! - [`master`]: the master side of a replica connection (REPLCONF, PSYNC, streaming, ACKs,
//!   WAIT);
//! - [`sync_source`]: the checkpoint full syncs download, and serving its files;
//! - [`replica`]: the replica task (handshake, record checks, hand-off to the writer, ACKs,
//!   reconnects with backoff);
//! - [`fullsync`]: the replica side of a full sync (staging, resume, verify, install).
//!
//! The role and master address persist in `<dir>/replication.json` (tmp + fsync + rename) so a
//! restarted replica resumes following its master.

pub mod fullsync;
pub mod master;
pub mod replica;
pub mod sync_source;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::config::Config;

const STATE_FILE: &str = "replication.json";

/// The master a replica follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// What `<dir>/replication.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Persisted {
    replicaof: Option<MasterAddr>,
}

/// A replica streaming the log (counts for WAIT and min-replicas-to-write).
pub const ONLINE: &str = "online";
/// A replica downloading a full sync's checkpoint (Redis' name for that phase).
pub const SEND_BULK: &str = "send_bulk";

/// One replica connected to this master, as INFO and ROLE report it.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    pub addr: SocketAddr,
    pub listening_port: u16,
    pub state: &'static str,
    pub ack_offset: u64,
    pub last_ack_ms: u64,
}

/// Replication state shared by connections, INFO and the replica task.
pub struct ReplShared {
    /// Master side: connected replicas by client id.
    pub replicas: Mutex<BTreeMap<u64, ReplicaInfo>>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Woken on every replica ACK (WAIT).
    pub acked: tokio::sync::Notify,
    /// Master side: the checkpoint full syncs download (see [`sync_source`]).
    pub checkpoint: tokio::sync::Mutex<Option<std::sync::Arc<sync_source::SyncCheckpoint>>>,
    /// Replica side: progress of a full sync for INFO.
    pub sync_in_progress: AtomicBool,
    pub sync_total_bytes: AtomicU64,
    pub sync_read_bytes: AtomicU64,
    pub sync_last_io_ms: AtomicU64,
    /// Replica side: the master to follow (`None`: this node is a master). The replica task
    /// watches it.
    pub target: tokio::sync::watch::Sender<Option<MasterAddr>>,
    pub link_up: AtomicBool,
    pub last_io_ms: AtomicU64,
    state_path: PathBuf,
}

/// Whether the node starts as a replica: `--replicaof`/`replicaof` when given, otherwise what
/// `<dir>/replication.json` says. The writer needs this before it starts (a replica must never
/// run active expiry, not even once).
pub fn initial_master(config: &Config) -> Option<MasterAddr> {
    if let Some((host, port)) = &config.fixed.replicaof {
        return Some(MasterAddr {
            host: host.clone(),
            port: *port,
        });
    }
    match load(&config.fixed.dir.join(STATE_FILE)) {
        Ok(p) => p.replicaof,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable replication state");
            None
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Persisted> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Persisted::default()),
        Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
}

impl ReplShared {
    pub fn new(config: &Config) -> ReplShared {
        let master = initial_master(config);
        ReplShared {
            replicas: Mutex::new(BTreeMap::new()),
            sync_full: AtomicU64::new(0),
            acked: tokio::sync::Notify::new(),
            checkpoint: tokio::sync::Mutex::new(None),
            sync_in_progress: AtomicBool::new(false),
            sync_total_bytes: AtomicU64::new(0),
            sync_read_bytes: AtomicU64::new(0),
            sync_last_io_ms: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            target: tokio::sync::watch::Sender::new(master),
            link_up: AtomicBool::new(false),
            last_io_ms: AtomicU64::new(0),
            state_path: config.fixed.dir.join(STATE_FILE),
        }
    }

    pub fn master(&self) -> Option<MasterAddr> {
        self.target.borrow().clone()
    }

    /// Persists the new role (tmp + fsync + rename + fsync dir), then switches to it.
    pub fn set_master(&self, master: Option<MasterAddr>) -> anyhow::Result<()> {
        let p = Persisted {
            replicaof: master.clone(),
        };
        crate::datadir::write_json_atomically(&self.state_path, &p)?;
        self.link_up.store(false, Ordering::Relaxed);
        self.target.send_replace(master);
        Ok(())
    }

    /// A snapshot of the connected replicas.
    pub fn replica_list(&self) -> Vec<ReplicaInfo> {
        self.replicas
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Replicas whose last ACK reached `offset`.
    pub fn acked_count(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .map(|r| {
                r.values()
                    .filter(|i| i.state == ONLINE && i.ack_offset >= offset)
                    .count()
            })
            .unwrap_or(0)
    }

    /// Replicas that acked within `max_lag_s` seconds (min-replicas-to-write).
    pub fn good_replicas(&self, max_lag_s: u64) -> usize {
        let now = crate::types::now_ms();
        self.replicas
            .lock()
            .map(|r| {
                r.values()
                    .filter(|i| {
                        i.state == ONLINE && now.saturating_sub(i.last_ack_ms) <= max_lag_s * 1000
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// Ends every replica stream (they reconnect and learn a new replid, or find a new
    /// history) as Redis does on a replid change.
    pub fn drop_replicas(
        &self,
        clients: &Mutex<
            std::collections::HashMap<u64, std::sync::Arc<crate::server::ClientHandle>>,
        >,
    ) {
        let ids: Vec<u64> = self
            .replicas
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        if let Ok(c) = clients.lock() {
            for id in ids {
                if let Some(h) = c.get(&id) {
                    h.killed.store(true, Ordering::Relaxed);
                    h.kill.notify_one();
                }
            }
        }
    }

    /// Writes the state file if it does not say what the node runs as (a `--replicaof` start).
    pub fn persist_initial(&self) {
        let now = self.master();
        let on_disk = load(&self.state_path).ok().and_then(|p| p.replicaof);
        if now != on_disk {
            if let Err(e) = self.set_master(now) {
                tracing::warn!(error = %e, "could not persist the replication state");
            }
        }
    }
}

/// Whether this log holds `offset` in history `id`: some segment written under `id` starts at
/// or before `offset` and ends at or after it (a segment ends where the next begins, the last
/// one at the log end). This is the PSYNC history check: after a promotion the old replid
/// covers only the offsets up to the promotion point, so a node that wrote past it under the
/// old replid gets a full sync.
pub fn history_holds(
    history: &[(crate::types::LogOffset, crate::types::ReplId)],
    end: crate::types::LogOffset,
    id: crate::types::ReplId,
    offset: crate::types::LogOffset,
) -> bool {
    history.iter().enumerate().any(|(i, &(base, rid))| {
        let seg_end = history.get(i + 1).map(|s| s.0).unwrap_or(end);
        rid == id && base <= offset && offset <= seg_end
    })
}

/// The replid before the current one and where the current one starts (INFO's
/// master_replid2 and second_repl_offset), read off the log's history.
pub fn previous_history(
    history: &[(crate::types::LogOffset, crate::types::ReplId)],
) -> Option<(crate::types::ReplId, crate::types::LogOffset)> {
    let cur = history.last()?.1;
    let first_cur = history.iter().rposition(|s| s.1 != cur)? + 1;
    Some((history[first_cur - 1].1, history[first_cur].0))
}

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and SLAVEOF).
pub async fn replicaof(sh: &crate::server::Shared, a: &[u8], b: &[u8]) -> crate::protocol::Reply {
    use crate::protocol::Reply;
    let master = if a.eq_ignore_ascii_case(b"no") && b.eq_ignore_ascii_case(b"one") {
        None
    } else {
        let host = String::from_utf8_lossy(a).into_owned();
        match std::str::from_utf8(b)
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
        {
            Some(port) if port > 0 => Some(MasterAddr { host, port }),
            _ => return Reply::err("ERR Invalid master port"),
        }
    };
    if master == sh.repl.master() {
        return match master {
            Some(_) => Reply::Simple("OK Already connected to specified master".into()),
            None => Reply::Ok,
        };
    }
    let was_replica = sh.repl.master().is_some();
    if let Err(e) = sh.repl.set_master(master.clone()) {
        return Reply::err(format!("ERR {e:#}"));
    }
    if master.is_some() {
        sh.writer.state.replica_mode.store(true, Ordering::Relaxed);
    }
    match &master {
        Some(m) => {
            tracing::info!(host = %m.host, port = m.port, "REPLICAOF: now a read-only replica")
        }
        None if was_replica => {
            // Promotion: a new history from here on; the old replid stays readable in the
            // log's earlier segments, so replicas of the old master continue with PSYNC. The
            // writer leaves replica mode once the new history started (still read-only if
            // that fails), so no client write lands under the old replid.
            let new_id = crate::types::ReplId::random();
            let (tx, rx) = tokio::sync::oneshot::channel();
            if !sh.writer.send(crate::writer::WriterMsg::SetReplid {
                replid: new_id,
                promote: true,
                reply: tx,
            }) {
                return Reply::err("ERR durakv writer is not running");
            }
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Reply::err(format!("ERR promotion: {e}")),
                Err(_) => return Reply::err("ERR durakv writer is not running"),
            }
            sh.repl.drop_replicas(&sh.clients);
            tracing::info!(replid = %new_id, at = sh.writer.state.end.load(Ordering::Acquire), "REPLICAOF NO ONE: promoted to master under a new replid");
        }
        None => {}
    }
    Reply::Ok
}

/// ROLE, with Redis' reply shapes.
pub fn role(sh: &crate::server::Shared) -> crate::protocol::Reply {
    use crate::protocol::Reply;
    let end = sh.writer.state.end.load(Ordering::Acquire) as i64;
    match sh.repl.master() {
        None => {
            let replicas = sh
                .repl
                .replica_list()
                .iter()
                .map(|i| {
                    Reply::Array(vec![
                        Reply::bulk(i.addr.ip().to_string()),
                        Reply::bulk(i.listening_port.to_string()),
                        Reply::bulk(i.ack_offset.to_string()),
                    ])
                })
                .collect();
            Reply::Array(vec![
                Reply::bulk("master"),
                Reply::Int(end),
                Reply::Array(replicas),
            ])
        }
        Some(m) => Reply::Array(vec![
            Reply::bulk("slave"),
            Reply::bulk(m.host),
            Reply::Int(m.port as i64),
            Reply::bulk(if sh.repl.link_up.load(Ordering::Relaxed) {
                "connected"
            } else {
                "connect"
            }),
            Reply::Int(end),
        ]),
    }
}

/// The `# Replication` section of INFO.
pub fn info_section(sh: &crate::server::Shared, o: &mut String) {
    use std::fmt::Write as _;
    let w = &sh.writer.state;
    let end = w.end.load(Ordering::Acquire);
    let start = w.log_start.load(Ordering::Relaxed);
    o.push_str("# Replication\r\n");
    match sh.repl.master() {
        None => {
            let n = sh.repl.replica_list().len();
            let _ = write!(o, "role:master\r\nconnected_slaves:{n}\r\n");
            write_replica_lines(sh, o);
        }
        Some(m) => {
            let up = sh.repl.link_up.load(Ordering::Relaxed);
            let last_io = sh.repl.last_io_ms.load(Ordering::Relaxed);
            let ago = if last_io == 0 {
                -1
            } else {
                (crate::types::now_ms().saturating_sub(last_io) / 1000) as i64
            };
            let r = &sh.repl;
            let syncing = r.sync_in_progress.load(Ordering::Relaxed);
            let _ = write!(
                o,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{ago}\r\nmaster_sync_in_progress:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                syncing as u8,
            );
            if syncing {
                let total = r.sync_total_bytes.load(Ordering::Relaxed);
                let read = r.sync_read_bytes.load(Ordering::Relaxed);
                let io_ago = crate::types::now_ms()
                    .saturating_sub(r.sync_last_io_ms.load(Ordering::Relaxed))
                    / 1000;
                let _ = write!(
                    o,
                    "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{io_ago}\r\n",
                    total.saturating_sub(read),
                    if total == 0 { 0.0 } else { read as f64 * 100.0 / total as f64 },
                );
            }
            let subs = r.replicas.lock().map(|x| x.len()).unwrap_or(0);
            let _ = write!(
                o,
                "slave_read_repl_offset:{end}\r\nslave_repl_offset:{end}\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:{subs}\r\n",
            );
            write_replica_lines(sh, o);
        }
    }
    let (id2, off2) = match previous_history(&w.history()) {
        Some((id, off)) => (id.to_string(), off.0 as i64),
        None => ("0".repeat(40), -1),
    };
    let _ = write!(
        o,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{id2}\r\nmaster_repl_offset:{end}\r\nsecond_repl_offset:{off2}\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{start}\r\nrepl_backlog_histlen:{}\r\n",
        w.replid(),
        end - start,
        end - start,
    );
}

/// `slaveN:` lines, with how many more log bytes each replica may fall behind before
/// `log-max-bytes` forces it into a full sync (`-1`: no cap).
fn write_replica_lines(sh: &crate::server::Shared, o: &mut String) {
    use std::fmt::Write as _;
    let replicas = sh.repl.replica_list();
    let end = sh.writer.state.end.load(Ordering::Acquire);
    let cap = sh.config.runtime.log_max_bytes.load(Ordering::Relaxed);
    let now = crate::types::now_ms();
    for (i, r) in replicas.iter().enumerate() {
        let left = if cap == 0 {
            -1
        } else {
            cap.saturating_sub(end.saturating_sub(r.ack_offset)) as i64
        };
        let _ = write!(
            o,
            "slave{i}:ip={},port={},state={},offset={},lag={},bytes_before_full_sync={left}\r\n",
            r.addr.ip(),
            r.listening_port,
            r.state,
            r.ack_offset,
            now.saturating_sub(r.last_ack_ms) / 1000
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::log::format::{encode_record, RecordKind, RECORD_HEADER_LEN};
    use crate::types::LogOffset;
    use crate::writer::split_records;

    fn records(n: usize, start: LogOffset) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let at = LogOffset(start.0 + out.len() as u64);
            let payload = format!("*2\r\n$3\r\nDEL\r\n$2\r\nk{i}\r\n");
            encode_record(&mut out, at, 1, 0, RecordKind::Commands, payload.as_bytes());
        }
        out
    }

    #[test]
    fn psync_history_check_follows_segment_replids() {
        use super::{history_holds, previous_history};
        use crate::types::ReplId;
        let a = ReplId::random();
        let b = ReplId::random();
        // Segments: [0, 100) and [100, 250) under a, then a promotion at 250 to b.
        let h = vec![(LogOffset(0), a), (LogOffset(100), a), (LogOffset(250), b)];
        let end = LogOffset(400);
        assert!(history_holds(&h, end, a, LogOffset(0)));
        assert!(
            history_holds(&h, end, a, LogOffset(250)),
            "up to the promotion point"
        );
        assert!(
            !history_holds(&h, end, a, LogOffset(251)),
            "past it: a diverged node"
        );
        assert!(history_holds(&h, end, b, LogOffset(250)));
        assert!(history_holds(&h, end, b, LogOffset(400)));
        assert!(
            !history_holds(&h, end, b, LogOffset(401)),
            "beyond the log end"
        );
        assert!(!history_holds(&h, end, b, LogOffset(249)));
        assert!(!history_holds(&h, end, ReplId::random(), LogOffset(10)));
        assert_eq!(previous_history(&h), Some((a, LogOffset(250))));
        assert_eq!(previous_history(&h[..2]), None);
    }

    #[test]
    fn replicated_records_are_checked_before_apply() {
        let start = LogOffset(1000);
        let bytes = records(3, start);
        let ok = split_records(&bytes, start).expect("valid records");
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].0, start);
        // Not where this log ends: refused.
        assert!(split_records(&bytes, LogOffset(999)).is_err());
        // Any flipped byte, in a header or a payload, is refused.
        for i in 0..bytes.len() {
            let mut c = bytes.clone();
            c[i] ^= 0x01;
            assert!(
                split_records(&c, start).is_err(),
                "flip of byte {i} accepted"
            );
        }
        // A partial record is refused.
        assert!(split_records(&bytes[..bytes.len() - 1], start).is_err());
        assert!(split_records(&bytes[..RECORD_HEADER_LEN - 1], start).is_err());
    }
}
