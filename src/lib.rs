//! durakv: a Redis-compatible server that keeps its data in RocksDB and writes every change to
//! a durable, segmented replication log first.
//!
//! Layers, bottom up (docs/ARCHITECTURE.md draws them):
//! - [`types`]: offsets and replication ids;
//! - [`log`]: the on-disk replication log (format, segments, reader, recovery);
//! - [`storage`]: RocksDB column families and the atomic batch with the applied offset;
//! - [`commands`]: the command table and each command's semantics;
//! - [`writer`]: the single writer thread (group commit, fsync policy, replay);
//! - [`protocol`]: RESP parsing and encoding;
//! - [`server`]: connections, connection commands, INFO;
//! - [`replication`]: PSYNC on the master, the replica task, read-only replicas;
//! - [`checkpoint`]: CHECKPOINT EXPORT (consistent copies that start as a server);
//! - [`config`]: flags, config file, CONFIG GET/SET.

pub mod backup;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod datadir;
pub mod log;
pub mod protocol;
pub mod replication;
pub mod restore;
pub mod server;
pub mod storage;
pub mod types;
pub mod writer;
