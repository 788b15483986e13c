//! Replication, milestone 2: full sync and what surrounds it.
//!
//! A replica whose position the master's log no longer holds, or whose data diverged, gets a
//! RocksDB checkpoint of the master (throttled, staged file by file under `<dir>/fullsync/`,
//! resumable after kill -9 or a cut link) and then streams on from the checkpoint's offset.
//! Segments a syncing replica still needs outlive log retention; a 100 MB gap in the log is
//! still a partial sync; a promoted replica keeps the old history under `master_replid2`, so
//! its siblings continue with +CONTINUE while the old master, which took writes after the
//! split, is overwritten by a full sync; replicas chain; a stalled link is dropped after
//! `repl-timeout`; WAIT counts acknowledging replicas; `min-replicas-to-write` refuses writes
//! without them.
//!
//! Every wait is on an INFO condition with a 60 s deadline and prints the stderr tails of the
//! servers involved when it expires.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use redis::{Connection, Value};

use crate::common::*;
use crate::replication::{digest, field_u64, get_i64, write_load_sized as write_load};

/// Deadline for every wait on replication progress.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a wait polls INFO.
const POLL: Duration = Duration::from_millis(50);
/// The error line of a write refused by `min-replicas-to-write`.
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

fn replid(con: &mut Connection) -> String {
    info_field(con, "replication", "master_replid").expect("INFO replication has master_replid")
}

/// The last 40 lines of every start of each server, for failure messages.
fn tails(servers: &[&Server]) -> String {
    servers
        .iter()
        .map(|s| {
            format!(
                "--- durakv last on port {} ({}), last 40 lines over all starts ---\n{}\n",
                s.port(),
                s.dir().display(),
                tail_lines(&s.all_stderr_text(), 40)
            )
        })
        .collect()
}

/// Polls `cond` until it holds; after [`SYNC_TIMEOUT`] panics with `what` and the stderr tails
/// of `servers`.
fn wait_for(servers: &[&Server], what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + SYNC_TIMEOUT;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {SYNC_TIMEOUT:?} waiting for: {what}\n{}",
                tails(servers)
            );
        }
        thread::sleep(POLL);
    }
}

/// What a replica's INFO replication says about its link and a full sync in flight.
#[derive(Debug)]
struct SyncInfo {
    link_up: bool,
    in_progress: bool,
    total: u64,
    read: u64,
    /// `slave_repl_offset` (0 when absent).
    offset: u64,
}

fn sync_info(con: &mut Connection) -> SyncInfo {
    let info = info_section(con, "replication");
    let get = |k: &str| info.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    SyncInfo {
        link_up: get("master_link_status") == Some("up"),
        in_progress: get("master_sync_in_progress") == Some("1"),
        total: num("master_sync_total_bytes"),
        read: num("master_sync_read_bytes"),
        offset: num("slave_repl_offset"),
    }
}

/// Waits until the replica's link is up, no full sync is in flight, and it has applied
/// everything its master logged (`slave_repl_offset` == the master's `master_repl_offset`).
fn wait_synced(master: &Server, replica: &Server) {
    let mut m = master.client();
    let mut r = replica.client();
    let what = format!(
        "the replica on port {} to apply everything the node on port {} logged",
        replica.port(),
        master.port()
    );
    wait_for(&[master, replica], &what, || {
        let target = repl_offset(&mut m);
        let s = sync_info(&mut r);
        s.link_up && !s.in_progress && s.offset == target
    });
}

fn start_replica_of(port: u16, extra: &[&str]) -> Server {
    let of = format!("127.0.0.1 {port}");
    let mut args = vec!["--appendfsync", "everysec", "--replicaof", of.as_str()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn replicaof(con: &mut Connection, port: u16) {
    assert_eq!(
        run(con, &["REPLICAOF", "127.0.0.1", &port.to_string()]),
        Value::Okay,
        "REPLICAOF 127.0.0.1 {port}"
    );
}

/// `chunks` × `keys` SETs of random (incompressible: the data column family is LZ4) values of
/// `value_len` bytes. After each chunk a CHECKPOINT EXPORT into `exports` flushes the
/// memtables, so every chunk becomes SST files of its own and the checkpoint a full sync
/// sends is several files of similar size, not one.
fn load_incompressible(
    con: &mut Connection,
    prefix: &str,
    chunks: usize,
    keys: usize,
    value_len: usize,
    seed: u64,
    exports: &Path,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut value = vec![0u8; value_len];
    for c in 0..chunks {
        for start in (0..keys).step_by(250) {
            let mut pipe = redis::pipe();
            for i in start..(start + 250).min(keys) {
                rng.fill_bytes(&mut value);
                pipe.cmd("SET")
                    .arg(format!("{prefix}:{c}:{i}"))
                    .arg(&value[..])
                    .ignore();
            }
            pipe.query::<()>(con)
                .unwrap_or_else(|e| panic!("loading {prefix} chunk {c}: {}", err_text(&e)));
        }
        let target = exports.join(format!("{prefix}-{c}"));
        run(
            con,
            &[
                "CHECKPOINT",
                "EXPORT",
                target.to_str().expect("temporary path is UTF-8"),
            ],
        );
    }
}

/// Strings, a float, hashes, lists, sets, sorted sets (small and a few hundred elements), a
/// key with a TTL and a hash given one, all under `{p}:`.
fn populate_types(con: &mut Connection, p: &str) {
    let k = |s: &str| format!("{p}:{s}");
    run(con, &["SET", &k("s"), "v"]);
    run(con, &["APPEND", &k("s"), "w"]);
    run(con, &["INCRBY", &k("n"), "41"]);
    run(con, &["INCRBYFLOAT", &k("f"), "1.5"]);
    run(con, &["HSET", &k("h"), "a", "1", "b", "2", "c", "3"]);
    run(con, &["HINCRBY", &k("h"), "a", "10"]);
    run(con, &["RPUSH", &k("l"), "1", "2", "3", "4"]);
    run(con, &["LPUSH", &k("l"), "0"]);
    run(con, &["LSET", &k("l"), "1", "one"]);
    run(con, &["SADD", &k("set"), "a", "b", "c", "d"]);
    run(con, &["SREM", &k("set"), "a"]);
    run(con, &["ZADD", &k("z"), "1", "a", "2", "b", "3", "c"]);
    run(con, &["ZINCRBY", &k("z"), "5", "a"]);
    run(con, &["SET", &k("ttl"), "v", "EX", "1000"]);
    run(con, &["EXPIRE", &k("h"), "5000"]);
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("HSET")
            .arg(k("bigh"))
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
        pipe.cmd("RPUSH").arg(k("bigl")).arg(i).ignore();
        pipe.cmd("SADD")
            .arg(k("bigs"))
            .arg(format!("m{i}"))
            .ignore();
        pipe.cmd("ZADD")
            .arg(k("bigz"))
            .arg(i * 7 % 101)
            .arg(format!("m{i}"))
            .ignore();
    }
    pipe.query::<()>(con)
        .unwrap_or_else(|e| panic!("populating {p}: {}", err_text(&e)));
}

/// Changes to every key [`populate_types`] wrote under `{p}:`.
fn mutate_types(con: &mut Connection, p: &str) {
    let k = |s: &str| format!("{p}:{s}");
    run(con, &["APPEND", &k("s"), "x"]);
    run(con, &["INCRBY", &k("n"), "-2"]);
    run(con, &["DEL", &k("f")]);
    run(con, &["HDEL", &k("h"), "b"]);
    run(con, &["HSET", &k("h"), "d", "4"]);
    run(con, &["PERSIST", &k("h")]);
    run(con, &["LPOP", &k("l")]);
    run(con, &["RPUSH", &k("l"), "tail"]);
    run(con, &["SREM", &k("set"), "b"]);
    run(con, &["SADD", &k("set"), "e"]);
    run(con, &["ZREM", &k("z"), "b"]);
    run(con, &["ZADD", &k("z"), "9", "d"]);
    run(con, &["PEXPIRE", &k("s"), "700000"]);
    run(con, &["HDEL", &k("bigh"), "f1", "f2", "f3"]);
    run(con, &["LTRIM", &k("bigl"), "10", "-10"]);
    run(con, &["SPOP", &k("bigs"), "5"]);
    run(con, &["ZREMRANGEBYSCORE", &k("bigz"), "0", "10"]);
}

/// Data of a node's own, before it becomes a replica: keys in database 0 and 3, and `shared`,
/// which the masters in these tests also hold with another value.
fn make_divergent(con: &mut Connection) {
    run(con, &["SET", "mine:s", "local"]);
    run(con, &["HSET", "mine:h", "a", "1"]);
    run(con, &["RPUSH", "mine:l", "a", "b"]);
    run(con, &["SET", "shared", "from-replica"]);
    run(con, &["SELECT", "3"]);
    run(con, &["SET", "mine:db3", "x"]);
    run(con, &["SELECT", "0"]);
}

/// A standalone node (everysec, plus `extra` flags) with data of its own
/// ([`make_divergent`]) that is then made a replica of `port` at run time.
fn divergent_replica_of(port: u16, extra: &[&str]) -> (Server, Connection) {
    let mut args = vec!["--appendfsync", "everysec"];
    args.extend_from_slice(extra);
    let replica = Server::start(&args);
    let mut r = replica.client();
    make_divergent(&mut r);
    replicaof(&mut r, port);
    (replica, r)
}

/// Whether every key [`make_divergent`] wrote is gone.
fn own_keys_gone(con: &mut Connection) -> bool {
    let in_db0: i64 = run_as(con, &["EXISTS", "mine:s", "mine:h", "mine:l"]);
    run(con, &["SELECT", "3"]);
    let in_db3: i64 = run_as(con, &["DBSIZE"]);
    run(con, &["SELECT", "0"]);
    in_db0 == 0 && in_db3 == 0
}

/// Waits for the replica's full sync to make progress, then returns `true`; returns `false`
/// instead if the sync finished first. Progress means: a transfer in flight, not complete,
/// with `share` (a fraction of the total, as 1/`share`) read since the first look.
fn wait_transfer_progress(servers: &[&Server], r: &mut Connection, share: u64, what: &str) -> bool {
    let mut first: Option<u64> = None;
    let mut finished = false;
    wait_for(servers, what, || {
        let s = sync_info(r);
        if s.in_progress && s.total > 0 {
            let f = *first.get_or_insert(s.read);
            return s.read >= f + s.total / share && s.read < s.total;
        }
        finished = !s.in_progress && s.link_up && own_keys_gone(r);
        finished
    });
    !finished
}

// ---------------------------------------------------------------------------------------------
// full sync
// ---------------------------------------------------------------------------------------------

#[test]
fn full_sync_of_every_type_then_live_stream() {
    let master = Server::start(&["--appendfsync", "everysec"]);
    let mut m = master.client();
    populate_types(&mut m, "a");
    run(&mut m, &["SET", "shared", "from-master"]);
    run(&mut m, &["SELECT", "2"]);
    run(&mut m, &["SET", "in-db2", "yes"]);
    run(&mut m, &["SELECT", "0"]);
    let mut acked = write_load(&mut m, "pre", 3, 100, 100, 512);

    // A standalone node with data of its own becomes a replica at run time.
    let (replica, mut r) = divergent_replica_of(master.port(), &[]);
    let e = run_err(&mut r, &["SET", "x", "1"]);
    assert!(e.starts_with("READONLY"), "a replica refuses writes: {e}");
    wait_synced(&master, &replica);

    assert_eq!(
        field_u64(&mut m, "stats", "sync_full"),
        1,
        "a replica with data of its own gets a full sync\n{}",
        tails(&[&master, &replica])
    );
    assert!(
        own_keys_gone(&mut r),
        "the replica's own keys are gone after the full sync"
    );
    assert_eq!(get_s(&mut r, "shared").as_deref(), Some("from-master"));
    assert_eq!(
        digest(&mut m),
        digest(&mut r),
        "digests after the full sync"
    );
    assert_eq!(
        run_as::<i64>(&mut r, &["DBSIZE"]),
        run_as::<i64>(&mut m, &["DBSIZE"])
    );
    let pttl: i64 = run_as(&mut r, &["PTTL", "a:ttl"]);
    assert!(
        pttl > 0 && pttl <= 1_000_000,
        "the TTL came over with the key: PTTL {pttl}"
    );
    run(&mut r, &["SELECT", "2"]);
    assert_eq!(get_s(&mut r, "in-db2").as_deref(), Some("yes"));
    run(&mut r, &["SELECT", "0"]);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(replid(&mut r), replid(&mut m));
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("slave")
    );
    assert!(
        replica.stderr_text().contains("full sync"),
        "the replica logs the full sync\n{}",
        tail_lines(&replica.stderr_text(), 40)
    );

    // The stream goes on from the checkpoint's offset.
    mutate_types(&mut m, "a");
    populate_types(&mut m, "b");
    acked += write_load(&mut m, "live", 5, 100, 100, 512);
    run(&mut m, &["SET", "shared", "changed"]);
    wait_synced(&master, &replica);
    assert_eq!(digest(&mut m), digest(&mut r), "digests after streaming");
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(get_s(&mut r, "shared").as_deref(), Some("changed"));
    assert_eq!(
        field_u64(&mut m, "stats", "sync_full"),
        1,
        "streaming after the full sync needs no second one"
    );
    let e = run_err(&mut r, &["HSET", "a:h", "z", "1"]);
    assert!(e.starts_with("READONLY"), "still read-only: {e}");
}

#[test]
fn full_sync_when_the_log_no_longer_holds_the_offset() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--log-segment-bytes",
        "65536",
        "--log-retention-bytes",
        "1",
        "--flush-interval-secs",
        "1",
        // A disconnected replica's position holds segments for 1 s only.
        "--repl-backlog-ttl",
        "1",
    ]);
    let mut m = master.client();
    let mut replica = start_replica_of(master.port(), &[]);
    let mut acked = write_load(&mut m, "a", 5, 100, 100, 1024);
    wait_synced(&master, &replica);
    let at_stop = field_u64(&mut replica.client(), "replication", "slave_repl_offset");
    replica.shutdown();

    // ~2 MB while the replica is away: some 30 segments of 64 KiB.
    acked += write_load(&mut m, "b", 20, 100, 50, 1024);
    wait_for(
        &[&master],
        "retention to delete the segments holding the stopped replica's offset",
        || field_u64(&mut m, "replication", "repl_backlog_first_byte_offset") > at_stop,
    );

    replica.restart();
    // Writes go on while the replica syncs.
    acked += write_load(&mut m, "c", 3, 50, 50, 1024);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(
        field_u64(&mut m, "stats", "sync_full"),
        1,
        "the offset the log no longer holds was served by a full sync\n{}",
        tails(&[&master, &replica])
    );
    assert_eq!(get_i64(&mut m, "counter"), acked);
    assert_eq!(
        get_i64(&mut r, "counter"),
        acked,
        "every INCR exactly once on the replica"
    );
    assert_eq!(digest(&mut m), digest(&mut r));
    acked += write_load(&mut m, "d", 2, 50, 50, 1024);
    wait_synced(&master, &replica);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 1);
}

#[test]
fn kill9_of_the_replica_during_full_sync_resumes_the_files_it_has() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--full-sync-max-bytes-per-sec",
        "4000000",
    ]);
    let exports = tempfile::tempdir().expect("tempdir for exports");
    let mut m = master.client();
    // ~30 MB in three SST files of ~10 MB: about 7.5 s at 4 MB/s.
    load_incompressible(&mut m, "big", 3, 2500, 4096, 3, exports.path());
    populate_types(&mut m, "t");

    let mut replica = Server::start(&["--appendfsync", "everysec"]);
    {
        let mut r = replica.client();
        make_divergent(&mut r);
        replicaof(&mut r, master.port());
    }
    let mut kills = 0;
    for round in 0..3 {
        let mut r = replica.client();
        // First round: half the total (so at least one whole file is staged); later rounds:
        // another fifth.
        let share = if round == 0 { 2 } else { 5 };
        let what = format!("round {round}: the full sync to be in flight and progress");
        if !wait_transfer_progress(&[&master, &replica], &mut r, share, &what) {
            break;
        }
        drop(r);
        replica.kill9();
        kills += 1;
        replica.restart();
    }
    wait_synced(&master, &replica);

    let log = replica.all_stderr_text();
    assert!(
        kills >= 2,
        "the throttled transfer was killed mid-way at least twice (killed {kills} times)\n{}",
        tail_lines(&log, 40)
    );
    assert!(
        log.contains("full sync"),
        "the replica logs the full sync\n{}",
        tail_lines(&log, 40)
    );
    assert!(
        log.contains("already staged"),
        "a restarted full sync keeps the files staged before kill -9\n{}",
        tail_lines(&log, 60)
    );
    let mut r = replica.client();
    assert!(own_keys_gone(&mut r), "the replica's own keys are gone");
    assert_eq!(digest(&mut m), digest(&mut r));
    assert!(field_u64(&mut m, "stats", "sync_full") >= 1);
    assert_eq!(
        get_s(&mut r, "t:s").as_deref(),
        Some("vw"),
        "data written before the sync is there"
    );
    // And it streams afterwards.
    let acked = write_load(&mut m, "after", 2, 100, 100, 256);
    wait_synced(&master, &replica);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn link_cuts_during_full_sync_converge() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--full-sync-max-bytes-per-sec",
        "4000000",
    ]);
    let exports = tempfile::tempdir().expect("tempdir for exports");
    let mut m = master.client();
    // ~20 MB in two files: about 5 s at 4 MB/s.
    load_incompressible(&mut m, "big", 2, 2500, 4096, 4, exports.path());
    let mut acked = write_load(&mut m, "small", 2, 100, 100, 256);

    let proxy = Proxy::start(master.port());
    let (replica, mut r) = divergent_replica_of(proxy.port(), &[]);
    let mut cuts = 0;
    while cuts < 3 {
        let what = format!("the full sync to progress before cut {}", cuts + 1);
        if !wait_transfer_progress(&[&master, &replica], &mut r, 6, &what) {
            break;
        }
        proxy.cut();
        cuts += 1;
    }
    // Writes while the replica finishes.
    acked += write_load(&mut m, "during", 3, 100, 100, 256);
    wait_synced(&master, &replica);
    assert!(
        cuts >= 2,
        "the link was cut at least twice mid-transfer (cut {cuts} times)\n{}",
        tails(&[&master, &replica])
    );
    assert!(own_keys_gone(&mut r), "the replica's own keys are gone");
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
    assert!(field_u64(&mut m, "stats", "sync_full") >= 1);
}

#[test]
fn master_kill9_and_a_stalled_link_during_full_sync_converge() {
    let mut master = Server::start(&[
        "--appendfsync",
        "always",
        "--full-sync-max-bytes-per-sec",
        "4000000",
        "--repl-timeout",
        "2",
    ]);
    let exports = tempfile::tempdir().expect("tempdir for exports");
    let mut m = master.client();
    load_incompressible(&mut m, "big", 2, 2500, 4096, 9, exports.path());
    let mut acked = write_load(&mut m, "small", 2, 100, 100, 256);

    let proxy = Proxy::start(master.port());
    let (replica, mut r) = divergent_replica_of(proxy.port(), &["--repl-timeout", "2"]);

    // A stall mid-transfer: both sides give up after repl-timeout, the replica comes back.
    let stalled =
        wait_transfer_progress(&[&master, &replica], &mut r, 6, "progress before the stall");
    if stalled {
        // Listed on the master while it downloads, in Redis' state for that phase.
        let line = info_field(&mut m, "replication", "slave0").unwrap_or_default();
        assert!(
            line.contains("state=send_bulk"),
            "slave0 during the full sync: {line}"
        );
        assert_eq!(field_u64(&mut m, "replication", "connected_slaves"), 1);
        proxy.stall(true);
        wait_for(
            &[&master, &replica],
            "the replica to see the link down",
            || !sync_info(&mut r).in_progress,
        );
        wait_for(
            &[&master, &replica],
            "the master to drop the silent replica after repl-timeout",
            || master.all_stderr_text().contains("repl-timeout"),
        );
        proxy.stall(false);
    }
    // The master killed mid-transfer and restarted: a new checkpoint, the same SST files.
    let killed =
        wait_transfer_progress(&[&master, &replica], &mut r, 6, "progress before the kill");
    if killed {
        drop(m);
        master.kill9();
        master.restart();
        proxy.set_target(master.port());
        proxy.cut();
        m = master.client();
    }
    acked += write_load(&mut m, "during", 3, 100, 100, 256);
    wait_synced(&master, &replica);
    assert!(
        stalled && killed,
        "both faults hit a transfer in flight (stalled {stalled}, killed {killed})\n{}",
        tails(&[&master, &replica])
    );
    assert!(own_keys_gone(&mut r), "the replica's own keys are gone");
    assert_eq!(get_i64(&mut m, "counter"), acked);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn replica_restart_after_100mb_of_log_continues_without_full_sync() {
    let master = Server::start(&["--appendfsync", "everysec"]);
    let mut m = master.client();
    let mut replica = start_replica_of(master.port(), &[]);
    let mut acked = write_load(&mut m, "warm", 3, 100, 100, 512);
    wait_synced(&master, &replica);
    let partial_before = field_u64(&mut m, "stats", "sync_partial_ok");

    replica.kill9();
    // >= 100 MB of log: pipelines of 100 SETs of 4 KiB (over 2000 keys, so the data set
    // stays small) and 10 INCRs.
    let value = "v".repeat(4096);
    let start = repl_offset(&mut m);
    let mut p = 0usize;
    while repl_offset(&mut m) < start + 100_000_000 {
        assert!(
            p < 400,
            "400 pipelines of 400 KiB did not make 100 MB of log"
        );
        let mut pipe = redis::pipe();
        for i in 0..100 {
            pipe.cmd("SET")
                .arg(format!("big:{}", (p * 100 + i) % 2000))
                .arg(&value)
                .ignore();
            if i < 10 {
                pipe.cmd("INCR").arg("counter").ignore();
            }
        }
        pipe.query::<()>(&mut m)
            .unwrap_or_else(|e| panic!("pipeline {p}: {}", err_text(&e)));
        acked += 10;
        p += 1;
    }
    assert!(repl_offset(&mut m) - start >= 100_000_000);

    replica.restart();
    acked += write_load(&mut m, "during", 3, 100, 100, 512);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert!(
        field_u64(&mut m, "stats", "sync_partial_ok") > partial_before,
        "the restarted replica continued with +CONTINUE"
    );
    assert_eq!(
        field_u64(&mut m, "stats", "sync_full"),
        0,
        "a 100 MB gap the log still holds is no reason for a full sync\n{}",
        tails(&[&master, &replica])
    );
    assert_eq!(get_i64(&mut m, "counter"), acked);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn write_burst_beyond_retention_during_full_sync_does_not_loop() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--log-segment-bytes",
        "65536",
        "--log-retention-bytes",
        "1",
        "--flush-interval-secs",
        "1",
        "--full-sync-max-bytes-per-sec",
        "1000000",
    ]);
    let exports = tempfile::tempdir().expect("tempdir for exports");
    let mut m = master.client();
    // ~12 MB: over 10 s at 1 MB/s, so a retention pass (every 10 s) falls inside the transfer.
    load_incompressible(&mut m, "big", 2, 1500, 4096, 8, exports.path());
    let base = write_load(&mut m, "base", 2, 100, 100, 256);

    let (replica, mut r) = divergent_replica_of(master.port(), &[]);
    wait_for(&[&master, &replica], "the full sync to start", || {
        sync_info(&mut r).in_progress
    });
    // ~6 MB of writes (about 90 segments of 64 KiB) while the files are in flight.
    let port = master.port();
    let writer = thread::spawn(move || {
        let mut c = connect_client(port, None);
        let mut acked = 0;
        for round in 0..40 {
            acked += write_load(&mut c, &format!("burst{round}"), 1, 150, 150, 1024);
            thread::sleep(Duration::from_millis(150));
        }
        acked
    });
    let burst = writer.join().expect("writer thread");
    assert_eq!(burst, 40 * 150, "every burst pipeline acknowledged");
    wait_synced(&master, &replica);

    assert_eq!(
        field_u64(&mut m, "stats", "sync_full"),
        1,
        "exactly one full sync: the segments from the checkpoint's offset on were kept for \
         the syncing replica\n{}",
        tails(&[&master, &replica])
    );
    assert!(own_keys_gone(&mut r));
    assert_eq!(get_i64(&mut r, "counter"), base + burst);
    assert_eq!(digest(&mut m), digest(&mut r));
    // Premise: retention is active on this master (once nobody needs the old segments).
    wait_for(&[&master], "retention to delete old segments", || {
        field_u64(&mut m, "replication", "repl_backlog_first_byte_offset") > 0
    });
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 1, "no loop later");
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status").as_deref(),
        Some("up")
    );
}

// ---------------------------------------------------------------------------------------------
// promotion and chaining
// ---------------------------------------------------------------------------------------------

#[test]
fn promotion_keeps_history_and_old_master_is_overwritten() {
    // appendfsync always: the old master's post-split writes must survive its kill -9, so
    // their disappearance at the end is the full sync's doing.
    let mut old = Server::start(&["--appendfsync", "always"]);
    let p1 = Proxy::start(old.port());
    let p2 = Proxy::start(old.port());
    let r1 = start_replica_of(p1.port(), &[]);
    let r2 = start_replica_of(p2.port(), &[]);
    let mut m = old.client();
    populate_types(&mut m, "pre");
    run(&mut m, &["SET", "shared", "before-split"]);
    write_load(&mut m, "pre", 3, 100, 100, 256);
    wait_synced(&old, &r1);
    wait_synced(&old, &r2);
    let old_id = replid(&mut m);
    let split = repl_offset(&mut m);

    // Cut the old master off: the replicas' reconnects go to a port nobody listens on.
    let dead = free_port();
    for p in [&p1, &p2] {
        p.set_target(dead);
        p.cut();
    }
    wait_for(&[&old], "the old master to lose both replicas", || {
        field_u64(&mut m, "replication", "connected_slaves") == 0
    });
    // Writes only the old master takes.
    run(&mut m, &["SET", "split:only-old", "1"]);
    run(&mut m, &["SET", "shared", "old-after-split"]);
    run(&mut m, &["RPUSH", "pre:l", "old-after-split"]);
    write_load(&mut m, "split", 2, 50, 50, 256);
    assert!(repl_offset(&mut m) > split);
    drop(m);
    old.kill9();

    // Promote R1.
    let mut c1 = r1.client();
    assert_eq!(
        field_u64(&mut c1, "replication", "slave_repl_offset"),
        split
    );
    assert_eq!(run(&mut c1, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    assert_eq!(
        info_field(&mut c1, "replication", "role").as_deref(),
        Some("master")
    );
    let new_id = replid(&mut c1);
    assert_ne!(new_id, old_id, "promotion starts a new history");
    assert_eq!(
        info_field(&mut c1, "replication", "master_replid2").as_deref(),
        Some(old_id.as_str()),
        "the old history is kept as replid2"
    );
    assert_eq!(
        info_field(&mut c1, "replication", "second_repl_offset"),
        Some(split.to_string()),
        "replid2 is valid up to the offset at promotion"
    );
    assert_eq!(run(&mut c1, &["SET", "after:1", "x"]), Value::Okay);

    // R2 follows R1 and continues.
    let mut c2 = r2.client();
    replicaof(&mut c2, r1.port());
    wait_synced(&r1, &r2);
    assert!(
        field_u64(&mut c1, "stats", "sync_partial_ok") >= 1,
        "R2 continued R1's history under the old replid"
    );
    assert_eq!(
        field_u64(&mut c1, "stats", "sync_full"),
        0,
        "a sibling of the promoted replica needs no full sync\n{}",
        tails(&[&r1, &r2])
    );
    assert_eq!(replid(&mut c2), new_id);
    assert_eq!(get_s(&mut c2, "after:1").as_deref(), Some("x"));
    populate_types(&mut c1, "post");
    mutate_types(&mut c1, "pre");
    write_load(&mut c1, "post", 3, 100, 100, 256);
    wait_synced(&r1, &r2);
    assert_eq!(digest(&mut c1), digest(&mut c2));

    // The old master comes back with its post-split writes, then follows R1.
    old.restart();
    let mut m = old.client();
    assert_eq!(
        get_s(&mut m, "split:only-old").as_deref(),
        Some("1"),
        "the old master kept its acknowledged post-split write through kill -9"
    );
    replicaof(&mut m, r1.port());
    wait_synced(&r1, &old);
    assert_eq!(
        field_u64(&mut c1, "stats", "sync_full"),
        1,
        "the old master, ahead on another history, gets a full sync\n{}",
        tails(&[&r1, &old])
    );
    assert_eq!(run(&mut m, &["EXISTS", "split:only-old"]), Value::Int(0));
    assert_eq!(get_s(&mut m, "shared").as_deref(), Some("before-split"));
    assert_eq!(get_i64(&mut m, "counter"), get_i64(&mut c1, "counter"));
    assert_eq!(replid(&mut m), new_id);
    let d = digest(&mut c1);
    assert_eq!(digest(&mut c2), d, "R2");
    assert_eq!(digest(&mut m), d, "the old master");
    // All three follow further writes.
    run(&mut c1, &["SET", "final", "1"]);
    wait_synced(&r1, &r2);
    wait_synced(&r1, &old);
    let d = digest(&mut c1);
    assert_eq!(digest(&mut c2), d);
    assert_eq!(digest(&mut m), d);
}

#[test]
fn chained_replicas_follow() {
    let master = Server::start(&["--appendfsync", "everysec"]);
    let r1 = start_replica_of(master.port(), &[]);
    let mut r2 = start_replica_of(r1.port(), &[]);
    let mut m = master.client();
    populate_types(&mut m, "a");
    let mut acked = write_load(&mut m, "a", 5, 100, 100, 512);
    mutate_types(&mut m, "a");
    wait_synced(&master, &r1);
    wait_synced(&master, &r2);
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    let d = digest(&mut m);
    assert_eq!(digest(&mut c1), d, "R1");
    assert_eq!(digest(&mut c2), d, "R2 (replica of R1)");
    assert_eq!(
        field_u64(&mut c1, "replication", "connected_slaves"),
        1,
        "R1 serves R2"
    );
    assert_eq!(replid(&mut c2), replid(&mut m));
    assert!(run_err(&mut c2, &["SET", "x", "1"]).starts_with("READONLY"));
    let served = field_u64(&mut c1, "stats", "sync_partial_ok");
    assert!(served >= 1, "R1 served R2's PSYNC from its own log");

    drop(c2);
    r2.kill9();
    acked += write_load(&mut m, "b", 5, 100, 100, 512);
    populate_types(&mut m, "b");
    r2.restart();
    acked += write_load(&mut m, "c", 2, 100, 100, 512);
    wait_synced(&master, &r1);
    wait_synced(&master, &r2);
    let mut c2 = r2.client();
    assert!(
        field_u64(&mut c1, "stats", "sync_partial_ok") > served,
        "the restarted R2 continued from R1's log"
    );
    assert_eq!(field_u64(&mut c1, "stats", "sync_full"), 0);
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert_eq!(get_i64(&mut c2, "counter"), acked);
    let d = digest(&mut m);
    assert_eq!(digest(&mut c1), d);
    assert_eq!(digest(&mut c2), d);
}

// ---------------------------------------------------------------------------------------------
// link health, WAIT, min-replicas-to-write
// ---------------------------------------------------------------------------------------------

#[test]
fn stalled_replica_is_dropped_after_repl_timeout_then_resumes() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--repl-timeout",
        "3",
        "--repl-ping-replica-period",
        "1",
    ]);
    let proxy = Proxy::start(master.port());
    let replica = start_replica_of(proxy.port(), &["--repl-timeout", "3"]);
    let mut m = master.client();
    let mut r = replica.client();
    let mut acked = write_load(&mut m, "warm", 3, 100, 100, 256);
    wait_synced(&master, &replica);
    let partial_before = field_u64(&mut m, "stats", "sync_partial_ok");
    let timeouts_logged = || master.stderr_text().matches("repl-timeout").count();
    let idle_timeouts = timeouts_logged();

    // An idle healthy link lives on heartbeats (master pings every 1 s, the replica ACKs
    // every 1 s): nothing times out in 5 s of silence. A sleep: nothing should happen.
    thread::sleep(Duration::from_secs(5));
    assert_eq!(
        field_u64(&mut m, "replication", "connected_slaves"),
        1,
        "idle link kept\n{}",
        tails(&[&master, &replica])
    );
    assert_eq!(
        field_u64(&mut m, "stats", "sync_partial_ok"),
        partial_before,
        "no reconnect while idle"
    );
    assert!(sync_info(&mut r).link_up, "the replica kept the idle link");
    assert_eq!(
        timeouts_logged(),
        idle_timeouts,
        "no repl-timeout on an idle link"
    );

    // The link hangs without closing while the master writes.
    proxy.stall(true);
    let stalled_at = Instant::now();
    acked += write_load(&mut m, "stalled", 5, 100, 100, 256);
    wait_for(
        &[&master, &replica],
        "the master to drop the stalled replica",
        || field_u64(&mut m, "replication", "connected_slaves") == 0,
    );
    assert!(
        stalled_at.elapsed() >= Duration::from_millis(1500),
        "dropped after about repl-timeout, not at once ({:?})",
        stalled_at.elapsed()
    );
    wait_for(&[&master], "the master to log the repl-timeout", || {
        timeouts_logged() > idle_timeouts
    });
    wait_for(
        &[&replica],
        "the replica to drop a link silent for repl-timeout",
        || !sync_info(&mut r).link_up,
    );

    proxy.stall(false);
    acked += write_load(&mut m, "after", 2, 100, 100, 256);
    wait_synced(&master, &replica);
    assert_eq!(field_u64(&mut m, "replication", "connected_slaves"), 1);
    assert!(
        field_u64(&mut m, "stats", "sync_partial_ok") > partial_before,
        "the replica came back with +CONTINUE"
    );
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let master = Server::start(&["--appendfsync", "everysec"]);
    let r1 = start_replica_of(master.port(), &[]);
    let proxy = Proxy::start(master.port());
    let r2 = start_replica_of(proxy.port(), &[]);
    let mut m = master.client();
    run(&mut m, &["SET", "w", "0"]);
    wait_synced(&master, &r1);
    wait_synced(&master, &r2);
    wait_for(&[&master], "two connected replicas", || {
        field_u64(&mut m, "replication", "connected_slaves") == 2
    });

    run(&mut m, &["SET", "w", "1"]);
    assert_eq!(
        run(&mut m, &["WAIT", "2", "10000"]),
        Value::Int(2),
        "both replicas acknowledge the write"
    );

    proxy.stall(true);
    run(&mut m, &["SET", "w", "2"]);
    assert_eq!(
        run(&mut m, &["WAIT", "1", "10000"]),
        Value::Int(1),
        "the replica not stalled acknowledges"
    );
    let t0 = Instant::now();
    assert_eq!(
        run(&mut m, &["WAIT", "2", "500"]),
        Value::Int(1),
        "only the replica not stalled acknowledges"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "WAIT 2 500 with one replica stalled waits out its timeout: {took:?}"
    );
    let t0 = Instant::now();
    match run(&mut m, &["WAIT", "0", "0"]) {
        Value::Int(n) => assert!((0..=2).contains(&n), "WAIT 0 0 replied {n}"),
        other => panic!("WAIT 0 0 replied {other:?}"),
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "WAIT 0 0 returns at once"
    );
    proxy.stall(false);
    assert_eq!(
        run(&mut m, &["WAIT", "2", "10000"]),
        Value::Int(2),
        "the unstalled replica catches up and acknowledges"
    );

    let mut c1 = r1.client();
    let e = run_err(&mut c1, &["WAIT", "1", "100"]);
    assert!(
        e.contains("WAIT cannot be used with replica instances"),
        "WAIT on a replica: {e}"
    );
}

#[test]
fn min_replicas_to_write_refuses_without_replicas() {
    let master = Server::start(&[
        "--appendfsync",
        "everysec",
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "2",
    ]);
    let mut m = master.client();
    assert_err(&mut m, &["SET", "k", "v"], NOREPLICAS);
    assert_err(&mut m, &["INCR", "counter"], NOREPLICAS);
    assert_err(&mut m, &["RPUSH", "l", "a"], NOREPLICAS);
    assert_eq!(run(&mut m, &["GET", "k"]), Value::Nil, "reads still work");
    assert_eq!(
        run(&mut m, &["DBSIZE"]),
        Value::Int(0),
        "nothing was written"
    );

    let mut replica = start_replica_of(master.port(), &[]);
    wait_for(
        &[&master, &replica],
        "a write to be accepted once a replica is connected and acknowledging",
        || match cmd(&["SET", "k", "v"]).query::<Value>(&mut m) {
            Ok(v) => {
                assert_eq!(v, Value::Okay);
                true
            }
            Err(e) => {
                let t = err_text(&e);
                assert_eq!(t, NOREPLICAS, "only NOREPLICAS while no replica is good");
                false
            }
        },
    );
    run(&mut m, &["INCR", "counter"]);
    run(&mut m, &["RPUSH", "l", "a"]);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(get_s(&mut r, "k").as_deref(), Some("v"));
    assert_eq!(digest(&mut m), digest(&mut r));
    drop(r);

    replica.kill9();
    let mut n = 0;
    wait_for(
        &[&master],
        "writes to be refused again once the replica is gone",
        || {
            n += 1;
            match cmd(&["SET", &format!("late:{n}"), "v"]).query::<Value>(&mut m) {
                Ok(_) => false,
                Err(e) => {
                    assert_eq!(err_text(&e), NOREPLICAS);
                    true
                }
            }
        },
    );
    assert_eq!(
        run(&mut m, &["EXISTS", &format!("late:{n}")]),
        Value::Int(0),
        "a refused write is not applied"
    );
    assert_eq!(get_s(&mut m, "k").as_deref(), Some("v"), "reads still work");
    assert_err(&mut m, &["DEL", "k"], NOREPLICAS);

    // The setting changes at run time.
    run(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "0"]);
    assert_eq!(run(&mut m, &["SET", "k", "w"]), Value::Okay);
}

#[test]
fn replica_kill9_during_streaming_repeatedly_no_duplicates() {
    let master = Server::start(&["--appendfsync", "everysec"]);
    let mut replica = start_replica_of(master.port(), &[]);
    let port = master.port();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, done) = (stop.clone(), done.clone());
        thread::spawn(move || {
            let mut c = connect_client(port, None);
            let mut next = 0u64;
            while !stop.load(Ordering::Relaxed) && next < 300_000 {
                let mut pipe = redis::pipe();
                for i in next..next + 20 {
                    pipe.cmd("INCR").arg("counter").ignore();
                    pipe.cmd("RPUSH").arg("seq").arg(i).ignore();
                }
                pipe.query::<()>(&mut c)
                    .unwrap_or_else(|e| panic!("writer at {next}: {}", err_text(&e)));
                next += 20;
            }
            done.store(true, Ordering::SeqCst);
            next
        })
    };

    for round in 0..3 {
        let mut r = replica.client();
        let from = sync_info(&mut r).offset;
        let what = format!("round {round}: the replica to apply more of the stream");
        wait_for(&[&master, &replica], &what, || {
            let s = sync_info(&mut r);
            s.link_up && (s.offset > from + 200_000 || done.load(Ordering::SeqCst))
        });
        drop(r);
        replica.kill9();
        replica.restart();
    }
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().expect("writer thread");
    wait_synced(&master, &replica);

    let mut m = master.client();
    let mut r = replica.client();
    let on_master: Vec<u64> = run_as(&mut m, &["LRANGE", "seq", "0", "-1"]);
    assert_eq!(on_master.len() as u64, n);
    assert!(
        on_master.iter().copied().eq(0..n),
        "the master's list is the sequence"
    );
    let on_replica: Vec<u64> = run_as(&mut r, &["LRANGE", "seq", "0", "-1"]);
    assert_eq!(
        on_replica.len(),
        on_master.len(),
        "no record lost or applied twice"
    );
    assert!(
        on_replica == on_master,
        "the replica's list equals the master's"
    );
    assert_eq!(get_i64(&mut m, "counter"), n as i64);
    assert_eq!(get_i64(&mut r, "counter"), n as i64);
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert!(field_u64(&mut m, "stats", "sync_partial_ok") >= 4);
}
