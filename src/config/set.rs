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

/// A number as Redis reads one (`64mb`, `1gb`...); a negative one is out of every range here.
fn parse_number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    let out_of_range = || {
        failed(
            name,
            &format!("argument must be between {min} and {max} inclusive"),
        )
    };
    match value.strip_prefix('-') {
        Some(magnitude) if parse_memory(magnitude).is_some() => Err(out_of_range()),
        _ => {
            let v = parse_memory(value)
                .ok_or_else(|| failed(name, "argument couldn't be parsed into an integer"))?;
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
                    Ok(Change::Compat(name.to_string(), value.to_string()))
                } else {
                    Err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ))
                }
            }
        }
    }
}
