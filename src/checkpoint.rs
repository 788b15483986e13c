//! Checkpoint export: a consistent copy of the node's data that starts as a normal server.
//!
//! `CHECKPOINT EXPORT <dir>` writes `<dir>/db` (a RocksDB checkpoint: hard links where the file
//! system allows, taken after an atomic flush) and `<dir>/MANIFEST.json` (offset, replid,
//! files, sizes, crc32c, time). The offset is read back from the checkpoint's own meta, never
//! from the live counter. `durakv --dir <dir>` starts from it under a new replid (writer.rs).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::Storage;
use crate::types::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("target directory {0} is not empty")]
    NotEmpty(PathBuf),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("encoding manifest: {0}")]
    Json(#[from] serde_json::Error),
}

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CheckpointError + 'a {
    move |source| CheckpointError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ManifestFile {
    pub name: String,
    pub size: u64,
    pub crc32c: u32,
}

#[derive(Serialize, Debug)]
pub struct Manifest {
    pub format: u32,
    /// Log offset the data covers: a log replayed from here continues it.
    pub offset: u64,
    /// History the data was taken from.
    pub replid: String,
    pub created_ms: u64,
    pub files: Vec<ManifestFile>,
}

/// Size and crc32c of a file's contents.
pub fn file_crc32c(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = fs::File::open(path)?;
    let mut crc = 0u32;
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((size, crc));
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        size += n as u64;
    }
}

/// Exports a checkpoint into `dir` (new, or existing and empty).
pub fn export(storage: &Storage, dir: &Path) -> Result<Manifest, CheckpointError> {
    if dir.exists() {
        let mut entries = fs::read_dir(dir).map_err(io("read dir", dir))?;
        if entries.next().is_some() {
            return Err(CheckpointError::NotEmpty(dir.to_path_buf()));
        }
    }
    fs::create_dir_all(dir).map_err(io("create dir", dir))?;
    let db_dir = dir.join("db");
    storage.checkpoint(&db_dir)?;
    let (offset, replid) = Storage::read_node_state(&db_dir)?;
    let mut files = Vec::new();
    let mut names: Vec<_> = fs::read_dir(&db_dir)
        .map_err(io("read dir", &db_dir))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let path = e.path();
        let (size, crc) = file_crc32c(&path).map_err(io("read", &path))?;
        files.push(ManifestFile {
            name: format!("db/{}", e.file_name().to_string_lossy()),
            size,
            crc32c: crc,
        });
    }
    let manifest = Manifest {
        format: 1,
        offset: offset.0,
        replid: replid.map(|r| r.to_string()).unwrap_or_default(),
        created_ms: now_ms(),
        files,
    };
    let fin = dir.join("MANIFEST.json");
    crate::datadir::write_json_atomically(&fin, &manifest).map_err(io("write", &fin))?;
    tracing::info!(dir = %dir.display(), offset = manifest.offset, files = manifest.files.len(), "checkpoint exported");
    Ok(manifest)
}
