//! The writer's replication side: applying records received from a master, starting a new
//! history (promotion, a master's new replid), and swapping in a full sync's checkpoint. Kept
//! apart from the group-commit path in `writer/mod.rs`; same thread, same `Writer`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{split_records, Writer};
use crate::commands::ctx::GroupState;
use crate::protocol::Reply;
use crate::storage::Storage;
use crate::types::{LogOffset, ReplId};

impl Writer {
    /// Replica: appends records received from the master exactly as they were framed, fsyncs
    /// per policy, then applies them with the new end as the applied offset in one batch.
    /// Crash-safe the same way as a client group: the log holds them before RocksDB does, and
    /// recovery replays whatever the batch did not cover.
    pub(super) fn apply_replicated(&mut self, bytes: &[u8]) -> Result<LogOffset, String> {
        if let Some(Reply::Error(e)) = self.poisoned_reply() {
            return Err(e);
        }
        let records = split_records(bytes, self.log.end())?;
        self.append_durably(bytes)?;
        let n = records.len() as u64;
        let mut result = Ok(());
        for (offset, db, payload) in records {
            if let Err(e) = self.apply_record(offset, db, payload) {
                result = Err(format!("{e}"));
                break;
            }
        }
        let applied = self.log.end();
        if let Err(e) = result.and_then(|_| self.commit_batch(applied).map_err(|e| format!("{e}")))
        {
            // The records are logged, so a restart replays them; until then stop here.
            self.poison(e.clone());
            return Err(e);
        }
        self.state.records.fetch_add(n, Ordering::Relaxed);
        self.state.publish_counts(&self.group.counts);
        self.publish_end();
        self.publish_log_stats();
        Ok(applied)
    }

    /// A new history (see [`WriterMsg::SetReplid`]); the replid is stored with the data too,
    /// so a checkpoint records the history it belongs to.
    pub(super) fn set_replid(&mut self, replid: ReplId) -> Result<(), String> {
        if self.log.replid() == replid {
            return Ok(());
        }
        self.log.start_history(replid).map_err(|e| format!("{e}"))?;
        let mut b = crate::storage::Batch::default();
        self.storage.put_replid(&mut b, replid);
        self.storage.write(b).map_err(|e| format!("{e}"))?;
        self.storage.flush().map_err(|e| format!("{e}"))?;
        self.flushed_applied = self.log.end();
        if let Ok(mut g) = self.state.replid.lock() {
            *g = replid;
        }
        self.publish_log_stats();
        tracing::info!(replid = %replid, at = %self.log.end(), "log continues under a new replid");
        Ok(())
    }

    /// Replica full sync: makes the staged checkpoint the live data (see [`crate::datadir`]
    /// for the crash-safe order), restarts the log at its offset, and swaps the storage
    /// connections read. The old RocksDB is deleted once the last reader lets go of it.
    pub(super) fn install_checkpoint(
        &mut self,
        staged: &std::path::Path,
        offset: LogOffset,
        replid: ReplId,
    ) -> Result<(), String> {
        let dir = self.config.fixed.dir.clone();
        let placed = crate::datadir::place_staged(&dir, staged).map_err(|e| format!("{e:#}"))?;
        let opened = Storage::open(
            &placed,
            self.config.fixed.block_cache_bytes as usize,
            self.config.fixed.entry_cache_bytes as usize,
        )
        .map_err(|e| format!("{e}"))
        .and_then(|s| {
            let at = s.applied_offset().map_err(|e| format!("{e}"))?;
            if at != offset {
                return Err(format!(
                    "the checkpoint in {} stands at offset {at}, the master announced {offset}",
                    placed.display()
                ));
            }
            let mut b = crate::storage::Batch::default();
            s.put_replid(&mut b, replid);
            s.write(b).map_err(|e| format!("{e}"))?;
            s.flush().map_err(|e| format!("{e}"))?;
            Ok(s)
        });
        let new = match opened {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&placed);
                return Err(e);
            }
        };
        let seg_bytes = self
            .config
            .runtime
            .log_segment_bytes
            .load(Ordering::Relaxed);
        let log = match crate::datadir::commit(&dir, &placed, offset, replid, seg_bytes) {
            Ok(l) => l,
            Err(e) => {
                // Past the commit point the next start finishes the swap; stop writing here.
                let msg = format!("installing the full sync checkpoint: {e:#}");
                self.poison(msg.clone());
                return Err(msg);
            }
        };
        self.log = log;
        // The log restarted at `offset`, maybe below the old end: what counts as fsynced
        // goes back with it, or `always` would acknowledge the next writes unsynced.
        self.state
            .synced_end
            .store(self.log.synced_end().0, Ordering::Relaxed);
        // Sub-replicas' claims name offsets of the log just replaced; they are dropped and
        // claim again when they reconnect.
        if let Ok(mut h) = self.state.holds.lock() {
            h.clear();
        }
        let old = std::mem::replace(&mut self.storage, new.clone());
        match self.state.storage.write() {
            Ok(mut g) => *g = new,
            Err(p) => *p.into_inner() = new,
        }
        self.group = GroupState::load(&self.storage).map_err(|e| format!("{e}"))?;
        self.flushed_applied = offset;
        if let Ok(mut g) = self.state.replid.lock() {
            *g = replid;
        }
        self.watches.break_all();
        self.state.publish_counts(&self.group.counts);
        self.publish_end();
        self.publish_log_stats();
        retire_storage(old);
        tracing::info!(offset = %offset, replid = %replid, "full sync installed: new data is live, log restarted at the checkpoint's offset");
        Ok(())
    }
}

/// Closes a replaced RocksDB once no reader holds it any more, then deletes its files.
fn retire_storage(old: Arc<Storage>) {
    let spawned = std::thread::Builder::new()
        .name("durakv-retire".into())
        .spawn(move || {
            let mut old = old;
            let path = old.path().to_path_buf();
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                match Arc::try_unwrap(old) {
                    Ok(s) => {
                        drop(s);
                        break;
                    }
                    Err(still) if Instant::now() < deadline => {
                        old = still;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => {
                        tracing::warn!(dir = %path.display(), "replaced RocksDB still in use after 10 minutes; it is removed at the next start");
                        return;
                    }
                }
            }
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(dir = %path.display(), "replaced RocksDB removed"),
                Err(e) => tracing::warn!(dir = %path.display(), error = %e, "could not remove the replaced RocksDB; it is removed at the next start"),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the thread that removes the replaced RocksDB");
    }
}
