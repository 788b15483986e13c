//! The master side of a full sync: the checkpoint replicas download, and serving its files.
//!
//! `PSYNC` that cannot continue answers `+FULLRESYNC <replid> <offset>` followed by the
//! checkpoint's manifest as one bulk string (JSON: offset, replid, files with sizes and
//! crc32c, and the checkpoint's `id`). The replica then asks for each file it lacks with
//! `SYNCFILE <id> <name> <from>` and gets `$<len>\r\n<bytes>\r\n`, throttled to
//! `full-sync-max-bytes-per-sec`. Asking from a byte offset is what lets a cut transfer resume.
//! Finally it sends `PSYNC <replid> <offset>` on the same connection and streams from there.
//!
//! One checkpoint is shared: replicas asking while it is fresh get the same one (the creation
//! is serialised, so replicas asking at once wait for the same checkpoint). It is reused only
//! while the log still holds its offset; a replaced checkpoint's files are deleted when the
//! last transfer using it ends. Checkpoints live in `<dir>/sync-checkpoints/` (hard links into
//! the live RocksDB, so they cost little space until compaction rewrites the files).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::checkpoint::{Manifest, ManifestFile};
use crate::protocol::Reply;
use crate::server::connection::ConnState;
use crate::server::Shared;
use crate::types::{now_ms, LogOffset, ReplId};

const DIR: &str = "sync-checkpoints";
/// Bytes read from a file and written to the socket at a time.
const CHUNK: usize = 256 * 1024;

/// What the replica receives after `+FULLRESYNC`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncManifest {
    pub id: String,
    pub offset: u64,
    pub replid: String,
    pub files: Vec<ManifestFile>,
}

impl SyncManifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A checkpoint on disk that full syncs download. Its directory goes with the last user.
pub struct SyncCheckpoint {
    pub dir: PathBuf,
    pub manifest: SyncManifest,
    pub created_ms: u64,
}

impl Drop for SyncCheckpoint {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => tracing::info!(dir = %self.dir.display(), "full sync checkpoint removed"),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove a full sync checkpoint")
            }
        }
    }
}

/// Removes checkpoints a previous run left behind.
pub fn clean_leftovers(data_dir: &Path) {
    let d = data_dir.join(DIR);
    if d.exists() {
        if let Err(e) = std::fs::remove_dir_all(&d) {
            tracing::warn!(dir = %d.display(), error = %e, "could not remove old full sync checkpoints");
        }
    }
}

/// How long a checkpoint is offered to new full syncs. Its hard links pin SST files that
/// compaction has since replaced, so an old one costs disk space.
const REUSE_FOR_MS: u64 = 3_600_000;

/// The checkpoint to send: the current one while the log still holds its offset in the same
/// history (and it is less than an hour old), otherwise a new one. A node that installed a
/// full sync from another master since has a new history: the old checkpoint's data and
/// replid belong to one it threw away.
pub async fn checkpoint_for(sh: &Arc<Shared>) -> anyhow::Result<Arc<SyncCheckpoint>> {
    let mut cur = sh.repl.checkpoint.lock().await;
    let w = &sh.writer.state;
    let log_start = LogOffset(w.log_start.load(Ordering::Relaxed));
    let end = LogOffset(w.end.load(Ordering::Acquire));
    if let Some(c) = cur.as_ref() {
        let fresh = now_ms().saturating_sub(c.created_ms) < REUSE_FOR_MS;
        let at = LogOffset(c.manifest.offset);
        let in_history = ReplId::parse(c.manifest.replid.as_bytes())
            .is_some_and(|id| super::history_holds(&w.history(), end, id, at));
        if fresh && at >= log_start && in_history {
            tracing::info!(id = %c.manifest.id, offset = c.manifest.offset, "full sync reuses the current checkpoint");
            return Ok(c.clone());
        }
    }
    let dir = sh
        .config
        .fixed
        .dir
        .join(DIR)
        .join(format!("ckpt-{}", now_ms()));
    let storage = sh.writer.state.storage();
    let started = Instant::now();
    let d = dir.clone();
    let m: Manifest = tokio::task::spawn_blocking(move || crate::checkpoint::export(&storage, &d))
        .await
        .map_err(|e| anyhow::anyhow!("checkpoint task: {e}"))??;
    let created_ms = m.created_ms;
    let manifest = SyncManifest {
        id: format!("{}-{}", m.offset, m.created_ms),
        offset: m.offset,
        replid: m.replid,
        files: m.files,
    };
    tracing::info!(id = %manifest.id, offset = manifest.offset, files = manifest.files.len(), bytes = manifest.total_bytes(), elapsed_ms = started.elapsed().as_millis() as u64, "full sync checkpoint taken");
    let c = Arc::new(SyncCheckpoint {
        dir,
        manifest,
        created_ms,
    });
    *cur = Some(c.clone());
    Ok(c)
}

/// The `+FULLRESYNC` reply's payload: the manifest as a RESP bulk string.
pub fn manifest_frame(m: &SyncManifest) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_vec(m)?;
    let mut out = format!("${}\r\n", json.len()).into_bytes();
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// `SYNCFILE <id> <name> <from>`: the rest of one checkpoint file from byte `from`, as a bulk
/// string, throttled. Errors are replied as `-ERR`; an I/O error on the socket ends the
/// connection.
pub async fn send_file(
    st: &mut ConnState,
    args: &[Bytes],
    sock: &mut TcpStream,
) -> std::io::Result<()> {
    let reply_err = |msg: String| {
        let mut out = bytes::BytesMut::new();
        Reply::err(msg).encode(false, &mut out);
        out
    };
    let Some(ckpt) = st.repl.checkpoint.clone() else {
        return sock
            .write_all(&reply_err(
                "ERR SYNCFILE without a full sync in progress".into(),
            ))
            .await;
    };
    let id = String::from_utf8_lossy(&args[1]);
    let name = String::from_utf8_lossy(&args[2]);
    let from = crate::commands::parse_i64(&args[3]).filter(|v| *v >= 0);
    let file = ckpt.manifest.files.iter().find(|f| f.name == name);
    let (Some(file), Some(from)) = (file, from) else {
        return sock
            .write_all(&reply_err(format!(
                "ERR no file {name:?} at that position in checkpoint {id}"
            )))
            .await;
    };
    if id != ckpt.manifest.id || from as u64 > file.size {
        return sock
            .write_all(&reply_err(format!(
                "ERR checkpoint {id} is not the one being sent ({})",
                ckpt.manifest.id
            )))
            .await;
    }
    let path = ckpt.dir.join(&file.name);
    let mut f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            return sock
                .write_all(&reply_err(format!("ERR opening {}: {e}", path.display())))
                .await
        }
    };
    use tokio::io::AsyncSeekExt;
    f.seek(std::io::SeekFrom::Start(from as u64)).await?;
    let len = file.size - from as u64;
    sock.write_all(format!("${len}\r\n").as_bytes()).await?;
    let rate = &st.sh.config.runtime.full_sync_max_bytes_per_sec;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while sent < len {
        let want = ((len - sent) as usize).min(CHUNK);
        let n = f.read(&mut buf[..want]).await?;
        if n == 0 {
            // The file is shorter than its manifest says: the replica's crc check fails it.
            return Err(std::io::Error::other(format!(
                "{} ended at {} of {} bytes",
                path.display(),
                from as u64 + sent,
                file.size
            )));
        }
        // A replica that stopped reading is dropped after repl-timeout, as a streaming one is.
        let timeout = crate::config::RuntimeConfig::secs(&st.sh.config.runtime.repl_timeout);
        match tokio::time::timeout(timeout, sock.write_all(&buf[..n])).await {
            Ok(r) => r?,
            Err(_) => {
                tracing::warn!(replica = %st.repl.replica_key(st.client.addr), file = %file.name, "replica stopped reading the full sync for repl-timeout: dropping it");
                return Err(std::io::Error::other("repl-timeout"));
            }
        }
        sent += n as u64;
        st.sh.stats.net_out.fetch_add(n as u64, Ordering::Relaxed);
        let limit = rate.load(Ordering::Relaxed);
        if limit > 0 {
            let due = std::time::Duration::from_secs_f64(sent as f64 / limit as f64);
            let elapsed = started.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
    sock.write_all(b"\r\n").await
}
