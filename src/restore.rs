//! Point-in-time restore: a new data dir built from a checkpoint (CHECKPOINT EXPORT) plus the
//! log replayed from the checkpoint's offset up to an offset or a time.
//!
//! `durakv restore --checkpoint DIR --log LOGDIR (--until-offset N | --until-time MS) --dir NEW`
//! Records are applied exactly as crash recovery applies them (writer::apply_logged, clock
//! off). The result stops on a record boundary: with `--until-offset N`, N must be the end of
//! a record the log holds, or the restore fails naming the nearest boundaries; with
//! `--until-time`, every record stamped at or before that time is applied. If the log does not
//! reach back to the checkpoint's offset, or does not reach the requested offset, the restore
//! fails and removes what it wrote. The new dir starts as a server under a new replid.

use std::fs;
use std::path::{Path, PathBuf};

use crate::commands::ctx::GroupState;
use crate::log::reader::LogReader;
use crate::protocol::decode_commands;
use crate::storage::Storage;
use crate::types::LogOffset;
use crate::writer::{apply_logged, commit_applied};

#[derive(Debug, Clone, Copy)]
pub enum Until {
    Offset(LogOffset),
    TimeMs(u64),
}

#[derive(Debug)]
pub struct RestoreReport {
    pub checkpoint_offset: LogOffset,
    pub reached: LogOffset,
    pub records: u64,
}

pub fn restore(
    checkpoint: &Path,
    log_dir: &Path,
    until: Until,
    new_dir: &Path,
) -> anyhow::Result<RestoreReport> {
    if new_dir.exists() && fs::read_dir(new_dir)?.next().is_some() {
        anyhow::bail!("target directory {} is not empty", new_dir.display());
    }
    let result = build(checkpoint, log_dir, until, new_dir);
    if result.is_err() {
        let _ = fs::remove_dir_all(new_dir.join("db"));
    }
    result
}

fn build(
    checkpoint: &Path,
    log_dir: &Path,
    until: Until,
    new_dir: &Path,
) -> anyhow::Result<RestoreReport> {
    let src_db = checkpoint.join("db");
    let dst_db = new_dir.join("db");
    fs::create_dir_all(&dst_db)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dst_db.display()))?;
    for entry in fs::read_dir(&src_db)
        .map_err(|e| anyhow::anyhow!("reading checkpoint {}: {e}", src_db.display()))?
    {
        let entry = entry?;
        let from: PathBuf = entry.path();
        if from.is_file() {
            fs::copy(&from, dst_db.join(entry.file_name()))
                .map_err(|e| anyhow::anyhow!("copying {}: {e}", from.display()))?;
        }
    }
    let storage = std::sync::Arc::new(Storage::open(&dst_db, 8 << 20, 0)?);
    let start = storage.applied_offset()?;
    let mut reader = LogReader::open(log_dir, start).map_err(|e| {
        anyhow::anyhow!(
            "the log in {} does not hold the checkpoint's offset {start}: {e}",
            log_dir.display()
        )
    })?;
    let mut group = GroupState::load(&storage)?;
    let mut reached = start;
    let mut records = 0u64;
    let limit = LogOffset(u64::MAX);
    while let Some(rec) = reader.next(limit).or_else(|e| match e {
        // The live tail of a running server's log: stop at what is complete.
        crate::log::LogError::Hole { .. } => Ok(None),
        e => Err(e),
    })? {
        let take = match until {
            Until::Offset(o) => rec.end() <= o,
            Until::TimeMs(t) => rec.header.timestamp_ms <= t,
        };
        if !take {
            break;
        }
        let cmds = decode_commands(rec.payload()).ok_or_else(|| {
            anyhow::anyhow!(
                "record at offset {} does not decode as commands",
                rec.offset()
            )
        })?;
        let mut db = rec.header.db;
        for args in cmds {
            db = apply_logged(&storage, &mut group, db, &args, u64::MAX)?;
        }
        reached = rec.end();
        records += 1;
        if records.is_multiple_of(1024) {
            commit_applied(&storage, &mut group, reached)?;
        }
    }
    commit_applied(&storage, &mut group, reached)?;
    if let Until::Offset(o) = until {
        if reached != o {
            anyhow::bail!(
                "cannot stop at offset {o}: the log from the checkpoint's offset {start} reaches record boundary {reached} and the next record ends past {o} (or the log ends there)"
            );
        }
    }
    storage.flush()?;
    Ok(RestoreReport {
        checkpoint_offset: start,
        reached,
        records,
    })
}
