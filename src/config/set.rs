//! `CONFIG SET name value [name value ...]`: every pair is checked before any is applied, as
//! in Redis 7, so a refused pair (unknown, immutable, unparsable, out of range, given twice)
//! leaves every setting as it was. Errors are Redis' texts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use super::{parse_memory, parse_yes_no, Config, FsyncPolicy};

/// Keys CONFIG GET shows that only a restart can change.
const IMMUTABLE: &[&str] = &[
    "port",
    "bind",
    "dir",
    "block-cache-bytes",
    "entry-cache-bytes",
    "flush-interval-secs",
    "io-threads",
    "backup-dir",
    "backup-keep",
    // Redis tuning keys Redis itself will not change at run time.
    "databases",
    "appendfilename",
    "enable-debug-command",
];

/// One checked pair, ready to apply.
enum Change<'a> {
    Number(&'a AtomicU64, u64),
    Flag(&'a AtomicBool, bool),
    Fsync(FsyncPolicy),
    /// requirepass or masterauth; an empty value clears it.
    Secret(&'a RwLock<Option<String>>, Option<String>),
    /// A Redis tuning key that changes nothing here but is reported back.
    Compat(String, String),
}

fn failed(name: &str, why: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
}

/// Numeric keys that take a plain integer, as Redis' integer configs do: no unit, no `+`.
/// The others are sizes, which take Redis' units (`64mb`, `1gb`).
const PLAIN_INTEGERS: &[&str] = &[
    "maxclients",
    "repl-timeout",
    "repl-ping-replica-period",
    "repl-backlog-ttl",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "log-retention-hours",
];

fn out_of_range(name: &str, min: impl std::fmt::Display, max: impl std::fmt::Display) -> String {
    failed(
        name,
        &format!("argument must be between {min} and {max} inclusive"),
    )
}

/// A number as Redis reads one; a negative one is out of every range here.
fn parse_number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    let out_of_range = || out_of_range(name, min, max);
    match value.strip_prefix('-') {
        Some(magnitude) if parse_memory(magnitude).is_some() => Err(out_of_range()),
        _ => {
            let plain = PLAIN_INTEGERS.contains(&name);
            let v = if plain {
                Some(value)
                    .filter(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|v| v.parse().ok())
            } else {
                parse_memory(value)
            };
            let v = v.ok_or_else(|| failed(name, "argument couldn't be parsed into an integer"))?;
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(out_of_range())
            }
        }
    }
}

impl Config {
    /// Applies CONFIG SET's pairs (names lower-cased), all or none.
    pub fn set_all(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut changes = Vec::with_capacity(pairs.len());
        for (i, (name, value)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(failed(name, "duplicate parameter"));
            }
            changes.push(self.check(name, value)?);
        }
        let r = &self.runtime;
        for c in changes {
            match c {
                Change::Number(a, v) => a.store(v, Ordering::Relaxed),
                Change::Flag(a, v) => a.store(v, Ordering::Relaxed),
                Change::Fsync(p) => r.set_appendfsync(p),
                Change::Secret(lock, v) => {
                    *lock.write().unwrap_or_else(|p| p.into_inner()) = v;
                }
                Change::Compat(k, v) => {
                    r.compat
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(k, v);
                }
            }
        }
        Ok(())
    }

    fn check(&self, name: &str, value: &str) -> Result<Change<'_>, String> {
        let r = &self.runtime;
        if let Some((_, a, range)) = r.numbers().into_iter().find(|(k, _, _)| *k == name) {
            let v = parse_number(name, value, *range.start(), *range.end())?;
            return Ok(Change::Number(a, v));
        }
        let secret = || Some(value.to_string()).filter(|p| !p.is_empty());
        match name {
            "appendfsync" => FsyncPolicy::parse(value).map(Change::Fsync).ok_or_else(|| {
                failed(
                    name,
                    "argument(s) must be one of the following: everysec, always, no",
                )
            }),
            "requirepass" => Ok(Change::Secret(&r.requirepass, secret())),
            "masterauth" => Ok(Change::Secret(&r.masterauth, secret())),
            "replica-serve-stale-data" => parse_yes_no(value)
                .map(|b| Change::Flag(&r.replica_serve_stale_data, b))
                .ok_or_else(|| failed(name, "argument must be 'yes' or 'no'")),
            _ if IMMUTABLE.contains(&name) => Err(failed(name, "can't set immutable config")),
            _ => {
                let known = r
                    .compat
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(name);
                if known {
                    let shown = check_compat(name, value)?;
                    Ok(Change::Compat(name.to_string(), shown))
                } else {
                    Err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ))
                }
            }
        }
    }
}

/// What a Redis tuning key takes, checked as Redis checks it so a preamble that Redis would
/// refuse is refused here too (they change nothing here otherwise).
enum CompatKind {
    YesNo,
    /// An integer in a range (no unit suffix).
    Int(i64, i64),
    /// Bytes, with Redis' units (`1gb`); reported back as a number.
    Memory(u64),
    OneOf(&'static [&'static str]),
    /// `<seconds> <changes>` pairs, or empty.
    Save,
    /// Letters of Redis' keyspace event classes.
    Events,
    /// `<class> <hard> <soft> <seconds>` groups.
    BufferLimits,
    Protected,
}

fn compat_kind(name: &str) -> Option<CompatKind> {
    use CompatKind::*;
    const I32: i64 = i32::MAX as i64;
    Some(match name {
        "appendonly"
        | "lazyfree-lazy-eviction"
        | "lazyfree-lazy-expire"
        | "lazyfree-lazy-server-del"
        | "activerehashing"
        | "activedefrag"
        | "stop-writes-on-bgsave-error"
        | "rdbcompression"
        | "no-appendfsync-on-rewrite"
        | "repl-diskless-sync"
        | "replica-read-only"
        | "slave-read-only"
        | "protected-mode" => YesNo,
        "timeout"
        | "tcp-keepalive"
        | "hz"
        | "list-compress-depth"
        | "auto-aof-rewrite-percentage" => Int(0, I32),
        "list-max-ziplist-size" | "list-max-listpack-size" => Int(i32::MIN as i64, I32),
        "slowlog-log-slower-than" => Int(i64::MIN, i64::MAX),
        "hash-max-ziplist-entries"
        | "hash-max-listpack-entries"
        | "set-max-intset-entries"
        | "set-max-listpack-entries"
        | "zset-max-ziplist-entries"
        | "zset-max-listpack-entries"
        | "slowlog-max-len"
        | "latency-monitor-threshold"
        | "lua-time-limit"
        | "busy-reply-threshold" => Int(0, i64::MAX),
        "maxmemory"
        | "hash-max-ziplist-value"
        | "hash-max-listpack-value"
        | "set-max-listpack-value"
        | "zset-max-ziplist-value"
        | "zset-max-listpack-value"
        | "auto-aof-rewrite-min-size" => Memory(0),
        "repl-backlog-size" => Memory(1),
        "maxmemory-policy" => OneOf(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "loglevel" => OneOf(&["debug", "verbose", "notice", "warning"]),
        "save" => Save,
        "notify-keyspace-events" => Events,
        "client-output-buffer-limit" => BufferLimits,
        "dbfilename" => Protected,
        _ => return None,
    })
}

/// Checks a Redis tuning key's value; the value CONFIG GET reports from now on.
fn check_compat(name: &str, value: &str) -> Result<String, String> {
    use CompatKind::*;
    let int = |v: &str| v.parse::<i64>().ok();
    match compat_kind(name) {
        None => Ok(value.to_string()),
        Some(YesNo) => parse_yes_no(value)
            .map(|b| if b { "yes" } else { "no" }.to_string())
            .ok_or_else(|| failed(name, "argument must be 'yes' or 'no'")),
        Some(Int(min, max)) => {
            let v = int(value)
                .ok_or_else(|| failed(name, "argument couldn't be parsed into an integer"))?;
            if !(min..=max).contains(&v) {
                return Err(out_of_range(name, min, max));
            }
            Ok(v.to_string())
        }
        Some(Memory(min)) => {
            let v = parse_memory(value)
                .ok_or_else(|| failed(name, "argument must be a memory value"))?;
            if v < min || v > i64::MAX as u64 {
                return Err(out_of_range(name, min, i64::MAX));
            }
            // Redis never keeps a backlog under 16 KiB, and reports what it keeps.
            let kept = if name == "repl-backlog-size" {
                v.max(16 << 10)
            } else {
                v
            };
            Ok(kept.to_string())
        }
        Some(OneOf(choices)) => choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(value))
            .map(|c| c.to_string())
            .ok_or_else(|| {
                failed(
                    name,
                    &format!(
                        "argument(s) must be one of the following: {}",
                        choices.join(", ")
                    ),
                )
            }),
        Some(Save) => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) || parts.iter().any(|p| int(p).is_none_or(|v| v < 0))
            {
                return Err(failed(name, "Invalid save parameters"));
            }
            Ok(value.to_string())
        }
        Some(Events) => {
            if value.chars().all(|c| "Ag$lshzxeKEtmdn".contains(c)) {
                Ok(value.to_string())
            } else {
                Err(failed(
                    name,
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
                ))
            }
        }
        Some(BufferLimits) => {
            if !value.split_whitespace().count().is_multiple_of(4) {
                return Err(failed(
                    name,
                    "Wrong number of arguments in buffer limit configuration.",
                ));
            }
            Ok(value.to_string())
        }
        Some(Protected) => Err(failed(name, "can't set protected config")),
    }
}
