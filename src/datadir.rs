//! Which RocksDB directory of a data dir is live, and how a replica's full sync swaps a new
//! one in without a window where data and log disagree.
//!
//! A data dir starts with its RocksDB in `<dir>/db`. A full sync stages the master's checkpoint
//! under `<dir>/fullsync/`, renames it to `<dir>/db-<ms>`, opens it, and then commits by
//! writing `<dir>/CURRENT_DB.json` (tmp + fsync + rename + fsync dir), which names the new
//! directory and the log reset still owed: the log must restart at the checkpoint's offset
//! under the master's replid. Once the log is reset the pointer is rewritten without it. A
//! crash anywhere is finished at the next start by [`open_current`]: before the commit the old
//! directory is still live (the half-installed one is removed), after it the log reset is
//! redone (idempotent) before the writer looks at the log.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde::{Deserialize, Serialize};

use crate::log::{sync_dir, Log};
use crate::types::{now_ms, LogOffset, ReplId};

const POINTER: &str = "CURRENT_DB.json";
const DEFAULT_DB: &str = "db";
/// Where a full sync stages the master's checkpoint.
pub const STAGING: &str = "fullsync";

#[derive(Debug, Serialize, Deserialize)]
struct Pointer {
    db: String,
    /// A log reset owed by a full sync: restart the log at `offset` under `replid`.
    pending_log_reset: Option<PendingReset>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingReset {
    offset: u64,
    replid: String,
}

fn read_pointer(dir: &Path) -> anyhow::Result<Option<Pointer>> {
    let p = dir.join(POINTER);
    match fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .with_context(|| format!("parsing {}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("reading {}: {e}", p.display())),
    }
}

/// Writes `value` as JSON to `path` so that a crash leaves either the old file or the new
/// one: a temporary file, fsync, rename, fsync of the directory. Errors name the file.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let named = |what: &str, p: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = fs::File::create(&tmp).map_err(|e| named("creating", &tmp, e))?;
    f.write_all(&text)
        .and_then(|_| f.sync_all())
        .map_err(|e| named("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| named("renaming", &tmp, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| named("fsync of directory", dir, e))
}

fn write_pointer(dir: &Path, ptr: &Pointer) -> anyhow::Result<()> {
    Ok(write_json_atomically(&dir.join(POINTER), ptr)?)
}

fn reset_log(dir: &Path, segment_bytes: u64, r: &PendingReset) -> anyhow::Result<Log> {
    let replid = ReplId::parse(r.replid.as_bytes())
        .ok_or_else(|| anyhow!("bad replid {:?} in {POINTER}", r.replid))?;
    Ok(Log::discard_and_restart(
        &dir.join("log"),
        segment_bytes,
        LogOffset(r.offset),
        replid,
    )?)
}

/// The live RocksDB directory of `dir`. Finishes a full sync interrupted after its commit
/// point, and removes RocksDB directories that are not live (old data a full sync replaced, a
/// half-installed checkpoint).
pub fn open_current(dir: &Path, segment_bytes: u64) -> anyhow::Result<PathBuf> {
    let ptr = read_pointer(dir)?;
    let live = ptr
        .as_ref()
        .map(|p| p.db.clone())
        .unwrap_or_else(|| DEFAULT_DB.to_string());
    if let Some(p) = ptr {
        if let Some(r) = &p.pending_log_reset {
            tracing::warn!(offset = r.offset, replid = %r.replid, "finishing an interrupted full sync: restarting the log at the checkpoint's offset");
            reset_log(dir, segment_bytes, r)?;
            write_pointer(
                dir,
                &Pointer {
                    db: p.db.clone(),
                    pending_log_reset: None,
                },
            )?;
        }
    }
    remove_stale(dir, &live);
    Ok(dir.join(live))
}

/// Deletes `db` / `db-*` directories other than `live`.
fn remove_stale(dir: &Path, live: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_db = name == DEFAULT_DB || name.starts_with("db-");
        if is_db && name != live && e.path().is_dir() {
            match fs::remove_dir_all(e.path()) {
                Ok(()) => {
                    tracing::info!(dir = %e.path().display(), "removed a RocksDB directory that is no longer live")
                }
                Err(err) => {
                    tracing::warn!(dir = %e.path().display(), error = %err, "could not remove an old RocksDB directory")
                }
            }
        }
    }
}

/// First half of a full sync's swap: moves the staged checkpoint to its final name and
/// returns it. Not live until [`commit`].
pub fn place_staged(dir: &Path, staged_db: &Path) -> anyhow::Result<PathBuf> {
    let name = format!("db-{}", now_ms());
    let to = dir.join(&name);
    fs::rename(staged_db, &to).with_context(|| {
        format!(
            "moving the staged checkpoint {} to {}",
            staged_db.display(),
            to.display()
        )
    })?;
    sync_dir(dir)?;
    Ok(to)
}

/// The commit point of a full sync: `new_db` becomes live and the log reset is owed. Then
/// resets the log and clears the debt; returns the new log.
pub fn commit(
    dir: &Path,
    new_db: &Path,
    offset: LogOffset,
    replid: ReplId,
    segment_bytes: u64,
) -> anyhow::Result<Log> {
    let db = new_db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("bad RocksDB directory {}", new_db.display()))?;
    let reset = PendingReset {
        offset: offset.0,
        replid: replid.to_string(),
    };
    write_pointer(
        dir,
        &Pointer {
            db: db.clone(),
            pending_log_reset: Some(reset.clone()),
        },
    )?;
    let log = reset_log(dir, segment_bytes, &reset)?;
    write_pointer(
        dir,
        &Pointer {
            db,
            pending_log_reset: None,
        },
    )?;
    let staging = dir.join(STAGING);
    if staging.exists() {
        let _ = fs::remove_dir_all(&staging);
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_interrupted_before_the_log_reset_is_finished_at_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        fs::create_dir_all(d.join("db")).expect("db");
        fs::create_dir_all(d.join("db-5")).expect("db-5");
        // An old log with history of its own.
        let (_log, _) = Log::open(&d.join("log"), 4096, ReplId::random()).expect("log");
        let id = ReplId::random();
        write_pointer(
            d,
            &Pointer {
                db: "db-5".into(),
                pending_log_reset: Some(PendingReset {
                    offset: 1234,
                    replid: id.to_string(),
                }),
            },
        )
        .expect("pointer");
        let live = open_current(d, 4096).expect("open");
        assert_eq!(live, d.join("db-5"));
        assert!(!d.join("db").exists(), "the replaced directory is removed");
        let (log, _) = Log::open(&d.join("log"), 4096, ReplId::random()).expect("reopen");
        assert_eq!(log.start(), LogOffset(1234));
        assert_eq!(log.end(), LogOffset(1234));
        assert_eq!(log.replid(), id);
        let p = read_pointer(d).expect("read").expect("pointer");
        assert!(p.pending_log_reset.is_none());
    }

    #[test]
    fn a_placed_but_uncommitted_checkpoint_is_not_live() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        fs::create_dir_all(d.join("db")).expect("db");
        let staged = d.join(STAGING).join("db");
        fs::create_dir_all(&staged).expect("staged");
        let placed = place_staged(d, &staged).expect("place");
        assert!(placed.exists());
        let live = open_current(d, 4096).expect("open");
        assert_eq!(live, d.join("db"));
        assert!(!placed.exists(), "the uncommitted copy is removed");
    }
}
