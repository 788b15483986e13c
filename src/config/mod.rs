//! Configuration: command-line flags over `config/durakv.toml`-style files over defaults, and
//! the runtime-changeable part that `CONFIG GET/SET` reads and writes.
//!
//! Every key is kebab-case and documented with its default in config/durakv.toml. Redis tuning
//! keys that mean nothing here (save, list-max-ziplist-size, ...) are accepted by CONFIG SET and
//! reported back by CONFIG GET, so client preambles never fail.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, RwLock};

use clap::Parser;
use serde::Deserialize;

mod set;

/// When the writer fsyncs the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// After every group of writes, before any of them is acknowledged.
    Always,
    /// About once a second.
    Everysec,
    /// Never explicitly; the OS decides.
    No,
}

impl FsyncPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<FsyncPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::Everysec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> FsyncPolicy {
        match v {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::Everysec,
            _ => FsyncPolicy::No,
        }
    }
}

/// Command-line flags. Every flag also exists as a key in the config file.
#[derive(Parser, Debug, Default)]
#[command(
    name = "durakv",
    version,
    about = "A Redis-compatible server on RocksDB with a durable replication log"
)]
pub struct Flags {
    /// Config file (TOML, keys as in config/durakv.toml). Flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// TCP port [default: 6380]
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    pub bind: Option<String>,
    /// Data directory (RocksDB and the log) [default: ./data]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Log fsync policy [default: everysec]
    #[arg(long, value_enum)]
    pub appendfsync: Option<FsyncPolicy>,
    /// Password clients must AUTH with
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Most simultaneous clients [default: 10000]
    #[arg(long)]
    pub maxclients: Option<u64>,
    /// Largest bulk string a client may send, bytes [default: 536870912]
    #[arg(long)]
    pub proto_max_bulk_len: Option<u64>,
    /// Roll log segments at this size, bytes [default: 67108864]
    #[arg(long)]
    pub log_segment_bytes: Option<u64>,
    /// Delete old segments beyond this total, bytes; 0 = no size limit [default: 0]
    #[arg(long)]
    pub log_retention_bytes: Option<u64>,
    /// Delete segments older than this, hours; 0 = no age limit [default: 168]
    #[arg(long)]
    pub log_retention_hours: Option<u64>,
    /// RocksDB block cache, bytes [default: 134217728]
    #[arg(long)]
    pub block_cache_bytes: Option<u64>,
    /// Cache of recently read keys in front of RocksDB, bytes; 0 = off [default: 67108864]
    #[arg(long)]
    pub entry_cache_bytes: Option<u64>,
    /// Flush RocksDB memtables at least this often, seconds, so retention can advance [default: 300]
    #[arg(long)]
    pub flush_interval_secs: Option<u64>,
    /// Log level filter for tracing (e.g. info, debug) [default: info]
    #[arg(long)]
    pub loglevel: Option<String>,
    /// Threads serving client connections, each with its own event loop [default: 1]
    #[arg(long)]
    pub io_threads: Option<usize>,
    /// Where BGSAVE writes its timestamped checkpoints [default: <dir>/backups]
    #[arg(long)]
    pub backup_dir: Option<PathBuf>,
    /// How many BGSAVE checkpoints to keep; older ones are deleted [default: 3]
    #[arg(long)]
    pub backup_keep: Option<usize>,
    /// Start as a replica of this master, "host port" (overrides <dir>/replication.json)
    #[arg(long)]
    pub replicaof: Option<String>,
    /// Password this replica sends to its master with AUTH
    #[arg(long)]
    pub masterauth: Option<String>,
    /// Full sync: most checkpoint bytes per second sent to one replica; 0 = no limit [default: 0]
    #[arg(long)]
    pub full_sync_max_bytes_per_sec: Option<u64>,
    /// Drop a replication link silent for this long, seconds [default: 60]
    #[arg(long)]
    pub repl_timeout: Option<u64>,
    /// Heartbeat an idle replication stream this often, seconds [default: 10]
    #[arg(long)]
    pub repl_ping_replica_period: Option<u64>,
    /// Keep the log a disconnected replica needs for this long, seconds [default: 3600]
    #[arg(long)]
    pub repl_backlog_ttl: Option<u64>,
    /// Hard cap on the log, bytes, even if a replica still needs it; 0 = no cap [default: 0]
    #[arg(long)]
    pub log_max_bytes: Option<u64>,
    /// Refuse writes unless this many replicas are connected and acking [default: 0]
    #[arg(long)]
    pub min_replicas_to_write: Option<u64>,
    /// A replica counts for min-replicas-to-write if it acked within this many seconds [default: 10]
    #[arg(long)]
    pub min_replicas_max_lag: Option<u64>,
    /// A replica without a link to its master still serves reads (yes) or answers MASTERDOWN (no) [default: yes]
    #[arg(long)]
    pub replica_serve_stale_data: Option<String>,
}

/// The config file: the same keys as the flags, kebab-case.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub dir: Option<PathBuf>,
    pub appendfsync: Option<FsyncPolicy>,
    pub requirepass: Option<String>,
    pub maxclients: Option<u64>,
    pub proto_max_bulk_len: Option<u64>,
    pub log_segment_bytes: Option<u64>,
    pub log_retention_bytes: Option<u64>,
    pub log_retention_hours: Option<u64>,
    pub block_cache_bytes: Option<u64>,
    pub entry_cache_bytes: Option<u64>,
    pub flush_interval_secs: Option<u64>,
    pub loglevel: Option<String>,
    pub io_threads: Option<usize>,
    pub backup_dir: Option<PathBuf>,
    pub backup_keep: Option<usize>,
    pub replicaof: Option<String>,
    pub masterauth: Option<String>,
    pub full_sync_max_bytes_per_sec: Option<u64>,
    pub repl_timeout: Option<u64>,
    pub repl_ping_replica_period: Option<u64>,
    pub repl_backlog_ttl: Option<u64>,
    pub log_max_bytes: Option<u64>,
    pub min_replicas_to_write: Option<u64>,
    pub min_replicas_max_lag: Option<u64>,
    pub replica_serve_stale_data: Option<String>,
}

/// Settings fixed at start-up.
#[derive(Debug, Clone)]
pub struct StaticConfig {
    pub port: u16,
    pub bind: String,
    pub dir: PathBuf,
    pub block_cache_bytes: u64,
    pub entry_cache_bytes: u64,
    pub flush_interval_secs: u64,
    pub loglevel: String,
    pub io_threads: usize,
    pub backup_dir: PathBuf,
    pub backup_keep: usize,
    pub config_file: Option<PathBuf>,
    /// `--replicaof "host port"` / `replicaof`: the master to follow from start-up.
    pub replicaof: Option<(String, u16)>,
}

/// Settings CONFIG SET may change while the server runs.
pub struct RuntimeConfig {
    appendfsync: AtomicU8,
    pub maxclients: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub log_segment_bytes: AtomicU64,
    pub log_retention_bytes: AtomicU64,
    pub log_retention_hours: AtomicU64,
    pub requirepass: RwLock<Option<String>>,
    pub masterauth: RwLock<Option<String>>,
    pub full_sync_max_bytes_per_sec: AtomicU64,
    pub repl_timeout: AtomicU64,
    pub repl_ping_replica_period: AtomicU64,
    pub repl_backlog_ttl: AtomicU64,
    pub log_max_bytes: AtomicU64,
    pub min_replicas_to_write: AtomicU64,
    pub min_replicas_max_lag: AtomicU64,
    pub replica_serve_stale_data: AtomicBool,
    /// Redis tuning keys accepted for compatibility; they change nothing here.
    pub compat: Mutex<BTreeMap<String, String>>,
}

impl RuntimeConfig {
    pub fn appendfsync(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.appendfsync.load(Ordering::Relaxed))
    }

    pub fn set_appendfsync(&self, p: FsyncPolicy) {
        self.appendfsync.store(p.to_u8(), Ordering::Relaxed);
    }

    pub fn requirepass(&self) -> Option<String> {
        self.requirepass.read().map(|g| g.clone()).unwrap_or(None)
    }

    pub fn masterauth(&self) -> Option<String> {
        self.masterauth.read().map(|g| g.clone()).unwrap_or(None)
    }

    /// Every numeric key CONFIG GET and SET know, with the values it may take (Redis' range
    /// for Redis' keys).
    pub fn numbers(&self) -> [(&'static str, &AtomicU64, RangeInclusive<u64>); 12] {
        const ANY: RangeInclusive<u64> = 0..=i64::MAX as u64;
        const SECS: RangeInclusive<u64> = 1..=i32::MAX as u64;
        [
            ("maxclients", &self.maxclients, 1..=u32::MAX as u64),
            (
                "proto-max-bulk-len",
                &self.proto_max_bulk_len,
                1 << 20..=i64::MAX as u64,
            ),
            (
                "log-segment-bytes",
                &self.log_segment_bytes,
                4096..=i64::MAX as u64,
            ),
            ("log-retention-bytes", &self.log_retention_bytes, ANY),
            // Hours become milliseconds.
            (
                "log-retention-hours",
                &self.log_retention_hours,
                0..=u64::MAX / 3_600_000,
            ),
            (
                "full-sync-max-bytes-per-sec",
                &self.full_sync_max_bytes_per_sec,
                ANY,
            ),
            ("repl-timeout", &self.repl_timeout, SECS),
            (
                "repl-ping-replica-period",
                &self.repl_ping_replica_period,
                SECS,
            ),
            ("repl-backlog-ttl", &self.repl_backlog_ttl, ANY),
            ("log-max-bytes", &self.log_max_bytes, ANY),
            (
                "min-replicas-to-write",
                &self.min_replicas_to_write,
                0..=i32::MAX as u64,
            ),
            (
                "min-replicas-max-lag",
                &self.min_replicas_max_lag,
                0..=i32::MAX as u64,
            ),
        ]
    }

    /// A timeout setting in seconds as a Duration, at least one second.
    pub fn secs(a: &AtomicU64) -> std::time::Duration {
        std::time::Duration::from_secs(a.load(Ordering::Relaxed).max(1))
    }
}

fn parse_yes_no(v: &str) -> Option<bool> {
    crate::commands::two_way(v.as_bytes(), "yes", "no")
}

/// Redis keys a client or tool may CONFIG GET/SET, with the value reported until set.
pub const COMPAT_KEYS: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "yes"),
    ("databases", "16"),
    ("maxmemory", "0"),
    ("maxmemory-policy", "noeviction"),
    ("timeout", "0"),
    ("tcp-keepalive", "300"),
    ("hz", "10"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("list-max-ziplist-size", "-2"),
    ("list-max-listpack-size", "-2"),
    ("list-compress-depth", "0"),
    ("hash-max-ziplist-entries", "512"),
    ("hash-max-ziplist-value", "64"),
    ("hash-max-listpack-entries", "512"),
    ("hash-max-listpack-value", "64"),
    ("set-max-intset-entries", "512"),
    ("set-max-listpack-entries", "128"),
    ("set-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("activerehashing", "yes"),
    ("activedefrag", "no"),
    ("notify-keyspace-events", ""),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("latency-monitor-threshold", "0"),
    ("lua-time-limit", "5000"),
    ("busy-reply-threshold", "5000"),
    ("stop-writes-on-bgsave-error", "yes"),
    ("rdbcompression", "yes"),
    ("dbfilename", "dump.rdb"),
    ("appendfilename", "appendonly.aof"),
    ("no-appendfsync-on-rewrite", "no"),
    ("auto-aof-rewrite-percentage", "100"),
    ("auto-aof-rewrite-min-size", "67108864"),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    ("repl-diskless-sync", "no"),
    ("repl-backlog-size", "1048576"),
    ("replica-read-only", "yes"),
    ("slave-read-only", "yes"),
    ("protected-mode", "no"),
    ("enable-debug-command", "no"),
    ("loglevel", "notice"),
];

pub struct Config {
    pub fixed: StaticConfig,
    pub runtime: RuntimeConfig,
}

impl Config {
    /// Merges flags over the file named by `--config` over defaults.
    pub fn load(flags: Flags) -> anyhow::Result<Config> {
        let file: FileConfig = match &flags.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("reading config file {}: {e}", p.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("parsing config file {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let compat = COMPAT_KEYS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dir = flags
            .dir
            .clone()
            .or(file.dir.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let replicaof = match flags.replicaof.clone().or(file.replicaof.clone()) {
            None => None,
            Some(v) => Some(parse_replicaof(&v)?),
        };
        let stale = match flags
            .replica_serve_stale_data
            .clone()
            .or(file.replica_serve_stale_data.clone())
        {
            None => true,
            Some(v) => parse_yes_no(&v).ok_or_else(|| {
                anyhow::anyhow!("replica-serve-stale-data must be yes or no, got {v:?}")
            })?,
        };
        let n = |flag: Option<u64>, file: Option<u64>, default: u64| {
            AtomicU64::new(flag.or(file).unwrap_or(default))
        };
        let appendfsync = flags
            .appendfsync
            .or(file.appendfsync)
            .unwrap_or(FsyncPolicy::Everysec);
        let config = Config {
            fixed: StaticConfig {
                port: flags.port.or(file.port).unwrap_or(6380),
                bind: flags
                    .bind
                    .or(file.bind)
                    .unwrap_or_else(|| "127.0.0.1".into()),
                backup_dir: flags
                    .backup_dir
                    .or(file.backup_dir)
                    .unwrap_or_else(|| dir.join("backups")),
                backup_keep: flags.backup_keep.or(file.backup_keep).unwrap_or(3).max(1),
                dir,
                block_cache_bytes: flags
                    .block_cache_bytes
                    .or(file.block_cache_bytes)
                    .unwrap_or(128 << 20),
                entry_cache_bytes: flags
                    .entry_cache_bytes
                    .or(file.entry_cache_bytes)
                    .unwrap_or(64 << 20),
                flush_interval_secs: flags
                    .flush_interval_secs
                    .or(file.flush_interval_secs)
                    .unwrap_or(300),
                loglevel: flags
                    .loglevel
                    .or(file.loglevel)
                    .unwrap_or_else(|| "info".into()),
                io_threads: flags
                    .io_threads
                    .or(file.io_threads)
                    .unwrap_or(1)
                    .clamp(1, 64),
                config_file: flags.config,
                replicaof,
            },
            runtime: RuntimeConfig {
                appendfsync: AtomicU8::new(appendfsync.to_u8()),
                maxclients: AtomicU64::new(flags.maxclients.or(file.maxclients).unwrap_or(10000)),
                proto_max_bulk_len: AtomicU64::new(
                    flags
                        .proto_max_bulk_len
                        .or(file.proto_max_bulk_len)
                        .unwrap_or(512 << 20),
                ),
                log_segment_bytes: AtomicU64::new(
                    flags
                        .log_segment_bytes
                        .or(file.log_segment_bytes)
                        .unwrap_or(64 << 20),
                ),
                log_retention_bytes: AtomicU64::new(
                    flags
                        .log_retention_bytes
                        .or(file.log_retention_bytes)
                        .unwrap_or(0),
                ),
                log_retention_hours: AtomicU64::new(
                    flags
                        .log_retention_hours
                        .or(file.log_retention_hours)
                        .unwrap_or(168),
                ),
                requirepass: RwLock::new(
                    flags
                        .requirepass
                        .or(file.requirepass)
                        .filter(|p| !p.is_empty()),
                ),
                masterauth: RwLock::new(
                    flags
                        .masterauth
                        .or(file.masterauth)
                        .filter(|p| !p.is_empty()),
                ),
                full_sync_max_bytes_per_sec: n(
                    flags.full_sync_max_bytes_per_sec,
                    file.full_sync_max_bytes_per_sec,
                    0,
                ),
                repl_timeout: n(flags.repl_timeout, file.repl_timeout, 60),
                repl_ping_replica_period: n(
                    flags.repl_ping_replica_period,
                    file.repl_ping_replica_period,
                    10,
                ),
                repl_backlog_ttl: n(flags.repl_backlog_ttl, file.repl_backlog_ttl, 3600),
                log_max_bytes: n(flags.log_max_bytes, file.log_max_bytes, 0),
                min_replicas_to_write: n(
                    flags.min_replicas_to_write,
                    file.min_replicas_to_write,
                    0,
                ),
                min_replicas_max_lag: n(flags.min_replicas_max_lag, file.min_replicas_max_lag, 10),
                replica_serve_stale_data: AtomicBool::new(stale),
                compat: Mutex::new(compat),
            },
        };
        // A flag or file value outside what CONFIG SET would take stops start-up.
        for (name, a, range) in config.runtime.numbers() {
            let v = a.load(Ordering::Relaxed);
            if !range.contains(&v) {
                anyhow::bail!(
                    "{name} must be between {} and {} inclusive, got {v}",
                    range.start(),
                    range.end()
                );
            }
        }
        Ok(config)
    }

    /// All `(name, value)` pairs CONFIG GET knows, durakv's own first.
    pub fn all_values(&self) -> Vec<(String, String)> {
        let r = &self.runtime;
        let f = &self.fixed;
        let mut v = vec![
            ("port".to_string(), f.port.to_string()),
            ("bind".to_string(), f.bind.clone()),
            ("dir".to_string(), f.dir.display().to_string()),
            (
                "appendfsync".to_string(),
                r.appendfsync().as_str().to_string(),
            ),
            (
                "requirepass".to_string(),
                r.requirepass().unwrap_or_default(),
            ),
            ("masterauth".to_string(), r.masterauth().unwrap_or_default()),
            (
                "block-cache-bytes".to_string(),
                f.block_cache_bytes.to_string(),
            ),
            (
                "entry-cache-bytes".to_string(),
                f.entry_cache_bytes.to_string(),
            ),
            (
                "flush-interval-secs".to_string(),
                f.flush_interval_secs.to_string(),
            ),
        ];
        for (k, a, _) in r.numbers() {
            v.push((k.to_string(), a.load(Ordering::Relaxed).to_string()));
        }
        v.push((
            "replica-serve-stale-data".to_string(),
            if r.replica_serve_stale_data.load(Ordering::Relaxed) {
                "yes"
            } else {
                "no"
            }
            .to_string(),
        ));
        if let Ok(c) = r.compat.lock() {
            v.extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        v
    }
}

/// `"host port"` (Redis' replicaof syntax).
pub fn parse_replicaof(v: &str) -> anyhow::Result<(String, u16)> {
    let mut it = v.split_whitespace();
    match (it.next(), it.next().map(|p| p.parse::<u16>()), it.next()) {
        (Some(h), Some(Ok(p)), None) if p > 0 => Ok((h.to_string(), p)),
        _ => Err(anyhow::anyhow!(
            "replicaof must be \"host port\", got {v:?}"
        )),
    }
}

/// Parses "100", "64mb", "1gb" as Redis does for memory-ish values.
pub fn parse_memory(v: &str) -> Option<u64> {
    let l = v.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = l.strip_suffix("gb") {
        (n, 1u64 << 30)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = l.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = l.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = l.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = l.strip_suffix('k') {
        (n, 1000)
    } else {
        (l.as_str(), 1)
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "port = 7000\nappendfsync = \"always\"\nbind = \"127.0.0.2\"\n",
        )
        .expect("w");
        let flags = Flags::parse_from([
            "durakv",
            "--config",
            p.to_str().unwrap_or(""),
            "--port",
            "7001",
        ]);
        let c = Config::load(flags).expect("load");
        assert_eq!(c.fixed.port, 7001);
        assert_eq!(c.fixed.bind, "127.0.0.2");
        assert_eq!(c.runtime.appendfsync(), FsyncPolicy::Always);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "prot = 7000\n").expect("w");
        let flags = Flags::parse_from(["durakv", "--config", p.to_str().unwrap_or("")]);
        assert!(Config::load(flags).is_err());
    }

    #[test]
    fn sample_config_parses() {
        let text = include_str!("../../config/durakv.toml");
        let f: FileConfig = toml::from_str(text).expect("config/durakv.toml parses");
        assert_eq!(f.port, Some(6380));
    }
}
