//! Integration tests for durakv: real server processes on free loopback ports, driven through
//! the `redis` crate and through raw TCP, killed with SIGKILL and restarted on the same data
//! directory, with their on-disk log damaged on purpose, and compared reply for reply against a
//! stock redis-server.
//!
//! Every test starts its own server in its own temporary directory and every wait has a
//! deadline. Seeds of randomised tests are printed so a failure replays:
//! `DURAKV_DIFF_SEED`, `DURAKV_DURABILITY_SEED`. Set `DURAKV_KEEP_TEST_DIRS=1` to keep the data
//! and log directories of a failed test, `DURAKV_TEST_LOG` to change the server's log filter.

mod background_apply;
mod checkpoint;
mod common;

mod corruption;
mod differential;
mod digest;
mod durability;
mod entry_cache;
mod expiry;
mod hashes;
mod keys;
mod lists;
mod protocol;
mod protocol_edges;
mod replication;
mod replication_roles;
mod replication_sync;
mod restore;
mod retention;
mod server_cmds;
mod sets;
mod strings;
mod transactions;
mod types;
mod zsets;
