//! `durakv backup --from host:port --to DIR`: a consistent backup of a running server taken
//! over the network, through the same full sync a replica gets.
//!
//! It connects like a replica (`AUTH`, `REPLCONF rdb-only 1`, `PSYNC ? -1`), so the server
//! takes (or reuses) a checkpoint and sends its manifest; the files are downloaded into
//! `DIR/db`, each checked against the manifest's crc32c, and `DIR/MANIFEST.json` is written
//! last. The result has the shape of `CHECKPOINT EXPORT`'s output: `durakv --dir DIR` starts
//! from it, and `durakv restore --checkpoint DIR` replays a log on top of it. An interrupted
//! backup run again into the same DIR resumes the files it already has.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::checkpoint::Manifest;
use crate::replication::fullsync;
use crate::replication::replica::{command, expect_ok};
use crate::types::now_ms;

const TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished backup holds.
pub struct BackupReport {
    pub offset: u64,
    pub files: usize,
    pub bytes: u64,
}

pub async fn backup_from(
    host: &str,
    port: u16,
    password: Option<&str>,
    dir: &Path,
) -> anyhow::Result<BackupReport> {
    if dir.join("MANIFEST.json").exists() {
        bail!("{} already holds a finished backup", dir.display());
    }
    // New, empty, or an interrupted backup (only `db/`): never files of something else.
    if let Ok(entries) = std::fs::read_dir(dir) {
        let other = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .find(|n| n != "db");
        if let Some(n) = other {
            bail!(
                "{} is not empty and not an interrupted backup (it holds {:?})",
                dir.display(),
                n
            );
        }
    }
    let mut sock = tokio::time::timeout(TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| anyhow!("connecting to {host}:{port} timed out"))?
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let _ = sock.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    if let Some(pw) = password {
        let r = command(&mut sock, &mut buf, &[b"AUTH", pw.as_bytes()]).await?;
        expect_ok("AUTH", r)?;
    }
    let r = command(&mut sock, &mut buf, &[b"REPLCONF", b"rdb-only", b"1"]).await?;
    expect_ok("REPLCONF rdb-only", r)?;
    let r = command(&mut sock, &mut buf, &[b"PSYNC", b"?", b"-1"]).await?;
    let Some(rest) = r.strip_prefix("+FULLRESYNC") else {
        bail!("PSYNC ? -1: server replied {r}");
    };
    tracing::info!(reply = %rest.trim(), "backup: +FULLRESYNC");
    let m = fullsync::read_manifest(&mut sock, &mut buf, TIMEOUT).await?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fullsync::download(&mut sock, &mut buf, &m, dir, TIMEOUT, &|_| {}).await?;
    let manifest = Manifest {
        format: 1,
        offset: m.offset,
        replid: m.replid.clone(),
        created_ms: now_ms(),
        files: m.files.clone(),
    };
    crate::datadir::write_json_atomically(&dir.join("MANIFEST.json"), &manifest)?;
    Ok(BackupReport {
        offset: m.offset,
        files: m.files.len(),
        bytes: m.total_bytes(),
    })
}
