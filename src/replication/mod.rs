//! Master/replica replication, milestone 1: partial sync only (`PSYNC` answered with
//! `+CONTINUE`, then raw log records), read-only replicas, and the replication state that
//! INFO, ROLE and the replica task share.
//!
//! Why it looks like this: a replica appends the master's records byte for byte (invariant 4),
//! so the stream is simply the master's log read from the replica's offset; there is no output
//! buffer to overflow, a slow replica just reads older segments later.
//!
//! - [`master`]: the master side of a replica connection (REPLCONF, PSYNC, streaming, ACKs);
//! - [`replica`]: the replica task (handshake, record checks, hand-off to the writer, ACKs,
//!   reconnects with backoff).
//!
//! The role and master address persist in `<dir>/replication.json` (tmp + fsync + rename) so a
//! restarted replica resumes following its master.

pub mod master;
pub mod replica;

use std::collections::BTreeMap;
use std::io::Write;
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
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
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
        let tmp = self.state_path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&p)?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.state_path)?;
            if let Some(d) = self.state_path.parent() {
                std::fs::File::open(d)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| anyhow::anyhow!("writing {}: {e}", self.state_path.display()))?;
        self.link_up.store(false, Ordering::Relaxed);
        self.target.send_replace(master);
        Ok(())
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

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and SLAVEOF).
pub fn replicaof(sh: &crate::server::Shared, a: &[u8], b: &[u8]) -> crate::protocol::Reply {
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
    if let Err(e) = sh.repl.set_master(master.clone()) {
        return Reply::err(format!("ERR {e:#}"));
    }
    sh.writer
        .state
        .replica_mode
        .store(master.is_some(), Ordering::Relaxed);
    match &master {
        Some(m) => tracing::info!(host = %m.host, port = m.port, "REPLICAOF: now a read-only replica"),
        None => tracing::info!("REPLICAOF NO ONE: now a master (same replid; promotion with replid2 is not implemented yet)"),
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
                .replicas
                .lock()
                .map(|r| {
                    r.values()
                        .map(|i| {
                            Reply::Array(vec![
                                Reply::bulk(i.addr.ip().to_string()),
                                Reply::bulk(i.listening_port.to_string()),
                                Reply::bulk(i.ack_offset.to_string()),
                            ])
                        })
                        .collect()
                })
                .unwrap_or_default();
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
            let replicas: Vec<ReplicaInfo> = sh
                .repl
                .replicas
                .lock()
                .map(|r| r.values().cloned().collect())
                .unwrap_or_default();
            let _ = write!(o, "role:master\r\nconnected_slaves:{}\r\n", replicas.len());
            let now = crate::types::now_ms();
            for (i, r) in replicas.iter().enumerate() {
                let _ = write!(
                    o,
                    "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                    r.addr.ip(),
                    r.listening_port,
                    r.state,
                    r.ack_offset,
                    now.saturating_sub(r.last_ack_ms) / 1000
                );
            }
        }
        Some(m) => {
            let up = sh.repl.link_up.load(Ordering::Relaxed);
            let last_io = sh.repl.last_io_ms.load(Ordering::Relaxed);
            let ago = if last_io == 0 {
                -1
            } else {
                (crate::types::now_ms().saturating_sub(last_io) / 1000) as i64
            };
            let _ = write!(
                o,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{ago}\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:{end}\r\nslave_repl_offset:{end}\r\nslave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
            );
        }
    }
    let _ = write!(
        o,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:{end}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{start}\r\nrepl_backlog_histlen:{}\r\n",
        w.replid(),
        end - start,
        end - start,
    );
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
