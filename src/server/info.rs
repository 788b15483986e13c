//! INFO, with Redis' section and field names so redis_exporter and dashboards read it.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::connection::ConnState;
use crate::storage::DATABASES;

/// The Redis version durakv reports to clients that gate features on it.
pub const REDIS_VERSION: &str = "7.0.0";

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
];

pub fn render(st: &ConnState, args: &[Bytes]) -> String {
    let wanted: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "default" || w == "everything");
    let mut out = String::new();
    for s in SECTIONS {
        if all || wanted.iter().any(|w| w == s) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            section(st, s, &mut out);
        }
    }
    out
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// System and user CPU seconds of the whole process (getrusage), as INFO cpu reports them.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct it is given and reads nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_stime), secs(ru.ru_utime))
}

fn section(st: &ConnState, name: &str, o: &mut String) {
    let sh = &st.sh;
    let w = &sh.writer.state;
    let cfg = &sh.config;
    let uptime = sh.started.elapsed().as_secs();
    match name {
        "server" => {
            let _ = write!(
                o,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\ndurakv_version:{}\r\nredis_mode:standalone\r\nrun_id:{}\r\nhz:10\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                sh.run_id,
                std::env::consts::OS,
                std::process::id(),
                sh.port,
                uptime / 86400,
                std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                cfg.fixed.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            );
        }
        "clients" => {
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n",
                sh.client_count(),
                cfg.runtime.maxclients.load(Ordering::Relaxed),
                sh.writer.state.blocked.load(Ordering::Relaxed)
            );
        }
        "memory" => {
            let rss = rss_bytes();
            let storage = sh.writer.state.storage();
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{:.2}M\r\nused_memory_rss:{rss}\r\nused_memory_peak:{rss}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\nrocksdb_memtable_bytes:{}\r\nrocksdb_sst_bytes:{}\r\nentry_cache_bytes:{}\r\n",
                rss as f64 / (1 << 20) as f64,
                storage.memtable_bytes(),
                storage.disk_bytes(),
                storage.entry_cache_bytes(),
            );
        }
        "persistence" => {
            let end = w.end.load(Ordering::Acquire);
            let start = w.log_start.load(Ordering::Relaxed);
            let segs = w.segments.load(Ordering::Relaxed);
            let poisoned = w.poison_reason();
            let fsyncs = w.fsyncs.load(Ordering::Relaxed);
            let fsync_us = w.fsync_us.load(Ordering::Relaxed);
            let _ = write!(
                o,
                "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\nappendfsync:{}\r\nlog_first_offset:{start}\r\nlog_end_offset:{end}\r\nlog_synced_offset:{}\r\nlog_segments:{segs}\r\nlog_bytes:{}\r\nlog_records:{}\r\nlog_group_commits:{}\r\nlog_fsyncs:{}\r\nlog_fsync_avg_us:{}\r\nlog_fsync_total_us:{}\r\nlog_last_fsync_time:{}\r\nlog_writes_refused:{}\r\nrocksdb_last_flush_time:{}\r\nlog_torn_tail_at_open:{}\r\n",
                sh.bgsave_in_progress.load(Ordering::Relaxed) as u8,
                sh.last_save_ms.load(Ordering::Relaxed) / 1000,
                if sh.last_bgsave_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
                if poisoned.is_some() { "err" } else { "ok" },
                cfg.runtime.appendfsync().as_str(),
                w.synced_end.load(Ordering::Relaxed),
                end - start + segs * crate::log::format::SEGMENT_HEADER_LEN as u64,
                w.records.load(Ordering::Relaxed),
                w.groups.load(Ordering::Relaxed),
                fsyncs,
                fsync_us / fsyncs.max(1),
                fsync_us,
                w.last_fsync_ms.load(Ordering::Relaxed) / 1000,
                if poisoned.is_some() { 1 } else { 0 },
                w.last_flush_ms.load(Ordering::Relaxed) / 1000,
                w.truncated_at_open
                    .lock()
                    .ok()
                    .and_then(|t| t.clone())
                    .unwrap_or_else(|| "none".into())
                    .replace(['\r', '\n'], " "),
            );
        }
        "stats" => {
            let s = &sh.stats;
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
                s.connections.load(Ordering::Relaxed),
                s.commands.load(Ordering::Relaxed),
                s.net_in.load(Ordering::Relaxed),
                s.net_out.load(Ordering::Relaxed),
                s.rejected.load(Ordering::Relaxed),
                w.expired_keys.load(Ordering::Relaxed),
                s.hits.load(Ordering::Relaxed),
                s.misses.load(Ordering::Relaxed),
                sh.repl.sync_full.load(Ordering::Relaxed),
                sh.repl.sync_partial_ok.load(Ordering::Relaxed),
                sh.repl.sync_partial_err.load(Ordering::Relaxed),
            );
        }
        "replication" => crate::replication::info_section(sh, o),
        "cpu" => {
            let (sys, user) = cpu_seconds();
            let _ = write!(
                o,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
            );
        }
        "cluster" => o.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            let counts = w.counts();
            for (db, c) in counts.iter().enumerate().take(DATABASES) {
                if c.keys > 0 {
                    let _ = write!(
                        o,
                        "db{db}:keys={},expires={},avg_ttl=0\r\n",
                        c.keys, c.expires
                    );
                }
            }
        }
        _ => {}
    }
}
