//! The replica side of a full sync: download the master's checkpoint into
//! `<dir>/fullsync/`, verify every file against the manifest, and hand it to the writer to
//! swap in (see [`crate::datadir`] for the crash-safe swap).
//!
//! Resuming is what the staging directory is for: it keeps the manifest and the files across
//! cuts and restarts. On the next `+FULLRESYNC` a staged file with the manifest's size and
//! crc32c is kept, a shorter one is continued from its length (`SYNCFILE ... <from>`), and
//! anything else is fetched again. RocksDB never reuses an SST file name within a database, so
//! a file kept from an earlier checkpoint of the same master is the same file; its checksum
//! is verified all the same.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::sync_source::SyncManifest;
use crate::checkpoint::{file_crc32c, ManifestFile};
use crate::config::RuntimeConfig;
use crate::datadir::STAGING;
use crate::protocol::encode_command;
use crate::server::Shared;
use crate::types::{now_ms, LogOffset, ReplId};
use crate::writer::WriterMsg;

/// Largest manifest accepted (a checkpoint of many thousands of files stays far below).
const MAX_MANIFEST: usize = 64 << 20;
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Marks the full sync as in progress for INFO while it lives.
struct InProgress<'a>(&'a Shared);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.repl.sync_in_progress.store(false, Ordering::Relaxed);
    }
}

/// Reads what follows `+FULLRESYNC <replid> <offset>`: the manifest, then every file the
/// staging area lacks, then installs the checkpoint. On return the node's data and log stand
/// at `offset` under `replid`, ready for `PSYNC <replid> <offset>`.
pub async fn run(
    sh: &Arc<Shared>,
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    replid: ReplId,
    offset: LogOffset,
) -> anyhow::Result<()> {
    let timeout = RuntimeConfig::secs(&sh.config.runtime.repl_timeout);
    let m = read_manifest(sock, buf, timeout).await?;
    if m.offset != offset.0 || ReplId::parse(m.replid.as_bytes()) != Some(replid) {
        bail!(
            "manifest (replid {}, offset {}) does not match +FULLRESYNC {replid} {offset}",
            m.replid,
            m.offset
        );
    }
    let staging = sh.config.fixed.dir.join(STAGING);
    let r = &sh.repl;
    r.sync_total_bytes.store(m.total_bytes(), Ordering::Relaxed);
    r.sync_read_bytes.store(0, Ordering::Relaxed);
    r.sync_last_io_ms.store(now_ms(), Ordering::Relaxed);
    r.sync_in_progress.store(true, Ordering::Relaxed);
    let _flag = InProgress(sh);
    let report = |read: u64| {
        r.sync_read_bytes.store(read, Ordering::Relaxed);
        r.sync_last_io_ms.store(now_ms(), Ordering::Relaxed);
    };
    download(sock, buf, &m, &staging, timeout, &report).await?;
    let (tx, rx) = oneshot::channel();
    if !sh.writer.send(WriterMsg::InstallCheckpoint {
        staged_db: staging.join("db"),
        offset,
        replid,
        reply: tx,
    }) {
        bail!("writer stopped");
    }
    rx.await
        .map_err(|_| anyhow!("writer stopped"))?
        .map_err(|e| anyhow!("installing the checkpoint: {e}"))?;
    Ok(())
}

/// The manifest bulk string that follows `+FULLRESYNC`, checked: every file name stays
/// inside the checkpoint directory.
pub async fn read_manifest(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    timeout: Duration,
) -> anyhow::Result<SyncManifest> {
    let len = read_bulk_len(sock, buf, timeout).await?;
    if len > MAX_MANIFEST {
        bail!("full sync manifest of {len} bytes is larger than {MAX_MANIFEST}");
    }
    fill(sock, buf, len + 2, timeout).await?;
    let m: SyncManifest =
        serde_json::from_slice(&buf[..len]).context("parsing the full sync manifest")?;
    buf.advance(len + 2);
    for f in &m.files {
        check_name(&f.name)?;
    }
    Ok(m)
}

/// Downloads every file of `m` that `root` (a directory holding `db/`) lacks, resuming
/// partial files, and verifies each against the manifest. `report` gets the bytes held so far.
pub async fn download(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    m: &SyncManifest,
    root: &Path,
    timeout: Duration,
    report: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<()> {
    let db = root.join("db");
    tokio::fs::create_dir_all(&db)
        .await
        .with_context(|| format!("creating {}", db.display()))?;
    remove_unlisted(&db, &m.files)?;
    let total = m.total_bytes();
    // What is already staged, checked in full.
    let mut plan = Vec::new();
    let mut already = 0u64;
    for f in &m.files {
        let path = root.join(&f.name);
        let p = path.clone();
        let have = tokio::task::spawn_blocking(move || staged_state(&p))
            .await
            .map_err(|e| anyhow!("checking staged files: {e}"))??;
        match have {
            Some((size, crc)) if size == f.size && crc == f.crc32c => already += size,
            Some((size, crc)) if size < f.size => {
                already += size;
                plan.push((f.clone(), path, size, crc));
            }
            _ => plan.push((f.clone(), path, 0, 0)),
        }
    }
    report(already);
    if already > 0 {
        tracing::info!(
            already_staged = already,
            total,
            files_left = plan.len(),
            "full sync resumes: {already} of {total} bytes already staged"
        );
    }
    tracing::info!(id = %m.id, offset = m.offset, files = m.files.len(), total_bytes = total, "full sync: downloading the master's checkpoint");
    let mut progress = Progress::new(total, already);
    for (f, path, from, crc) in plan {
        let (mut from, mut crc) = (from, crc);
        loop {
            // The crc runs on over the bytes as they are written: no read-back of the file.
            crc = fetch(
                sock,
                buf,
                &m.id,
                &f,
                &path,
                from,
                crc,
                timeout,
                &mut progress,
                report,
            )
            .await?;
            if crc == f.crc32c {
                break;
            }
            if from == 0 {
                bail!(
                    "{} arrived with crc {crc:08x}, the manifest says {:08x}",
                    f.name,
                    f.crc32c
                );
            }
            // The part kept from before did not belong to this file: fetch it whole.
            tracing::warn!(file = %f.name, "resumed file failed its checksum: fetching it again");
            progress.read -= f.size;
            (from, crc) = (0, 0);
        }
    }
    progress.log(true);
    sync_staged(&db).await
}

/// Progress for INFO and the log: bytes, percent, rate, ETA.
struct Progress {
    total: u64,
    read: u64,
    started: Instant,
    started_at: u64,
    last_log: Instant,
}

impl Progress {
    fn new(total: u64, read: u64) -> Progress {
        Progress {
            total,
            read,
            started: Instant::now(),
            started_at: read,
            last_log: Instant::now(),
        }
    }

    fn log(&mut self, done: bool) {
        if !done && self.last_log.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_log = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.read - self.started_at) as f64 / secs;
        let left = self.total.saturating_sub(self.read);
        let eta = if rate > 0.0 { left as f64 / rate } else { -1.0 };
        tracing::info!(
            read_bytes = self.read,
            total_bytes = self.total,
            "full sync {}: {} of {} bytes ({:.1}%), {:.1} MB/s, ETA {:.0} s",
            if done { "transfer done" } else { "progress" },
            self.read,
            self.total,
            if self.total == 0 {
                100.0
            } else {
                self.read as f64 * 100.0 / self.total as f64
            },
            rate / 1e6,
            eta.max(0.0)
        );
    }
}

/// Asks for one file from `from` and appends what arrives to `path`; returns the crc32c of
/// the whole file, continuing `crc` (that of its first `from` bytes).
#[allow(clippy::too_many_arguments)]
async fn fetch(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    id: &str,
    f: &ManifestFile,
    path: &Path,
    from: u64,
    crc: u32,
    timeout: Duration,
    progress: &mut Progress,
    report: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<u32> {
    let mut crc = crc;
    let mut out = Vec::new();
    encode_command(
        &mut out,
        &[
            bytes::Bytes::from_static(b"SYNCFILE"),
            bytes::Bytes::copy_from_slice(id.as_bytes()),
            bytes::Bytes::copy_from_slice(f.name.as_bytes()),
            bytes::Bytes::from(from.to_string()),
        ],
    );
    sock.write_all(&out).await.context("writing to master")?;
    let len = read_bulk_len(sock, buf, timeout).await? as u64;
    if from + len != f.size {
        bail!(
            "master sends {len} bytes of {} from {from}, the manifest says {} in all",
            f.name,
            f.size
        );
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    file.set_len(from)
        .await
        .with_context(|| format!("truncating {}", path.display()))?;
    use tokio::io::AsyncSeekExt;
    file.seek(std::io::SeekFrom::Start(from)).await?;
    let mut left = len;
    while left > 0 {
        if buf.is_empty() {
            read_some(sock, buf, timeout).await?;
        }
        let n = (buf.len() as u64).min(left) as usize;
        file.write_all(&buf[..n])
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        buf.advance(n);
        left -= n as u64;
        progress.read += n as u64;
        report(progress.read);
        progress.log(false);
    }
    file.sync_all()
        .await
        .with_context(|| format!("fsync {}", path.display()))?;
    fill(sock, buf, 2, timeout).await?;
    if &buf[..2] != b"\r\n" {
        bail!("file {} not followed by CRLF", f.name);
    }
    buf.advance(2);
    Ok(crc)
}

/// Size and crc of a staged file, `None` when it is not there.
fn staged_state(path: &Path) -> anyhow::Result<Option<(u64, u32)>> {
    match file_crc32c(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow!("reading {}: {e}", path.display())),
    }
}

/// Manifest names are `db/<file>`: nothing that could leave the staging directory.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name
        .strip_prefix("db/")
        .is_some_and(|f| !f.is_empty() && !f.contains('/') && f != "." && f != "..");
    if !ok {
        bail!("manifest names a file outside the checkpoint: {name:?}");
    }
    Ok(())
}

fn remove_unlisted(db: &Path, files: &[ManifestFile]) -> anyhow::Result<()> {
    let listed: std::collections::HashSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.name.strip_prefix("db/").map(PathBuf::from))
        .collect();
    for e in std::fs::read_dir(db).with_context(|| format!("listing {}", db.display()))? {
        let e = e?;
        if !listed.contains(&PathBuf::from(e.file_name())) {
            let p = e.path();
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    Ok(())
}

async fn sync_staged(db: &Path) -> anyhow::Result<()> {
    let d = db.to_path_buf();
    tokio::task::spawn_blocking(move || crate::log::sync_dir(&d))
        .await
        .map_err(|e| anyhow!("fsync of the staging dir: {e}"))??;
    Ok(())
}

async fn read_some(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    timeout: Duration,
) -> anyhow::Result<()> {
    let n = tokio::time::timeout(timeout, sock.read_buf(buf))
        .await
        .map_err(|_| {
            anyhow!("no data from master for {timeout:?} (repl-timeout) during the full sync")
        })?
        .context("reading from master")?;
    if n == 0 {
        bail!("master closed the connection during the full sync");
    }
    Ok(())
}

async fn fill(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    while buf.len() < n {
        buf.reserve(n - buf.len());
        read_some(sock, buf, timeout).await?;
    }
    Ok(())
}

/// Reads `$<len>\r\n` (or fails on a `-ERR` line).
async fn read_bulk_len(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    timeout: Duration,
) -> anyhow::Result<usize> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            if let Some(n) = line.strip_prefix('$') {
                return n
                    .parse::<usize>()
                    .map_err(|_| anyhow!("bad bulk length line from master: {line}"));
            }
            bail!("master replied {line}");
        }
        if buf.len() > 4096 {
            bail!("no bulk length line from master");
        }
        read_some(sock, buf, timeout).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn manifest_names_cannot_leave_the_staging_dir() {
        assert!(check_name("db/000012.sst").is_ok());
        assert!(check_name("db/CURRENT").is_ok());
        for bad in [
            "../x",
            "db/../x",
            "db/a/b",
            "/etc/passwd",
            "db/",
            "db/..",
            "x/CURRENT",
        ] {
            assert!(check_name(bad).is_err(), "{bad} accepted");
        }
    }
}
