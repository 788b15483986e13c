//! Replication, partial sync: a replica started with `--replicaof` follows
//! its master's log byte for byte, is read-only, survives kill -9 of either side, and ends with
//! the same DEBUG DIGEST and exactly the acknowledged number of INCRs (no duplicate, no gap).

use std::time::Duration;

use redis::Value;

use crate::common::*;

const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn digest(con: &mut redis::Connection) -> String {
    match run(con, &["DEBUG", "DIGEST"]) {
        Value::BulkString(b) => String::from_utf8(b).expect("digest is text"),
        other => panic!("DEBUG DIGEST replied {other:?}"),
    }
}

pub(super) fn field_u64(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let v =
        info_field(con, section, field).unwrap_or_else(|| panic!("INFO {section} has no {field}"));
    v.parse()
        .unwrap_or_else(|e| panic!("INFO {section} {field} = {v:?}: {e}"))
}

/// Waits until the replica's link is up and it has applied everything the master logged.
pub(super) fn wait_synced(master: &Server, replica: &Server) {
    wait_synced_con(&mut master.client(), &mut replica.client());
}

fn wait_synced_con(m: &mut redis::Connection, r: &mut redis::Connection) {
    wait_until(
        SYNC_TIMEOUT,
        "replica slave_repl_offset to reach the master's master_repl_offset",
        || {
            let target = repl_offset(m);
            info_field(r, "replication", "master_link_status").as_deref() == Some("up")
                && field_u64(r, "replication", "slave_repl_offset") == target
        },
    );
}

pub(super) fn start_replica_of(port: u16, extra: &[&str]) -> Server {
    let of = format!("127.0.0.1 {port}");
    let mut args = vec!["--replicaof", of.as_str()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

pub(super) fn get_i64(con: &mut redis::Connection, key: &str) -> i64 {
    get_s(con, key)
        .map(|s| s.parse().expect("counter is an integer"))
        .unwrap_or(0)
}

/// Pipelines of `sets` SETs of `value_len` bytes, each pipeline also INCRing `counter` `incrs`
/// times; returns how many INCRs were acknowledged (stops at the first failed pipeline).
pub(super) fn write_load_sized(
    con: &mut redis::Connection,
    prefix: &str,
    pipelines: usize,
    sets: usize,
    incrs: usize,
    value_len: usize,
) -> i64 {
    let value = "x".repeat(value_len);
    let mut acked = 0;
    for p in 0..pipelines {
        let mut pipe = redis::pipe();
        for i in 0..sets.max(incrs) {
            if i < sets {
                pipe.cmd("SET")
                    .arg(format!("{prefix}:{p}:{i}"))
                    .arg(&value)
                    .ignore();
            }
            if i < incrs {
                pipe.cmd("INCR").arg("counter").ignore();
            }
        }
        if pipe.query::<()>(con).is_err() {
            return acked;
        }
        acked += incrs as i64;
    }
    acked
}

/// [`write_load_sized`] with 1 KiB values.
fn write_load(
    con: &mut redis::Connection,
    prefix: &str,
    pipelines: usize,
    sets: usize,
    incrs: usize,
) -> i64 {
    write_load_sized(con, prefix, pipelines, sets, incrs, 1024)
}

#[test]
fn replica_follows_every_type_and_is_read_only() {
    let master = Server::start(&["--appendfsync", "always"]);
    let mut m = master.client();
    // Some history before the replica exists: a fresh replica starts from offset 0.
    run(&mut m, &["SET", "before", "1"]);
    let replica = start_replica_of(master.port(), &[]);
    let mut r = replica.client();

    run(&mut m, &["SET", "s", "v"]);
    run(&mut m, &["SET", "ttl", "v", "EX", "1000"]);
    run(&mut m, &["APPEND", "s", "w"]);
    run(&mut m, &["INCRBY", "n", "41"]);
    run(&mut m, &["INCRBYFLOAT", "f", "1.5"]);
    run(&mut m, &["HSET", "h", "a", "1", "b", "2"]);
    run(&mut m, &["HINCRBY", "h", "a", "10"]);
    run(&mut m, &["HDEL", "h", "b"]);
    run(&mut m, &["RPUSH", "l", "1", "2", "3", "4"]);
    run(&mut m, &["LPUSH", "l", "0"]);
    run(&mut m, &["LPOP", "l"]);
    run(&mut m, &["LSET", "l", "1", "two"]);
    run(&mut m, &["SADD", "set", "a", "b", "c", "d"]);
    run(&mut m, &["SREM", "set", "a"]);
    run(&mut m, &["SPOP", "set"]);
    run(&mut m, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    run(&mut m, &["ZINCRBY", "z", "5", "a"]);
    run(&mut m, &["ZREM", "z", "b"]);
    run(&mut m, &["SINTERSTORE", "set2", "set", "set"]);
    run(&mut m, &["EXPIRE", "h", "5000"]);
    run(&mut m, &["SET", "gone", "x"]);
    run(&mut m, &["DEL", "gone"]);
    let _: Vec<Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx1")
        .arg("a")
        .cmd("INCR")
        .arg("n")
        .cmd("RPUSH")
        .arg("l")
        .arg("tx")
        .query(&mut m)
        .expect("MULTI/EXEC");
    run(&mut m, &["SELECT", "2"]);
    run(&mut m, &["SET", "in-db2", "yes"]);
    run(&mut m, &["SELECT", "3"]);
    run(&mut m, &["SET", "flushed", "yes"]);
    run(&mut m, &["FLUSHDB"]);
    run(&mut m, &["SELECT", "0"]);

    wait_synced(&master, &replica);
    assert_eq!(
        digest(&mut m),
        digest(&mut r),
        "replica digest equals master's"
    );
    assert_eq!(get_s(&mut r, "s").as_deref(), Some("vw"));
    assert_eq!(get_i64(&mut r, "n"), 42);

    // Read-only.
    for args in [
        &["SET", "x", "1"][..],
        &["HSET", "h", "c", "3"][..],
        &["DEL", "s"][..],
        &["FLUSHALL"][..],
    ] {
        let e = run_err(&mut r, args);
        assert!(
            e.starts_with("READONLY You can't write against a read only replica."),
            "{args:?} on the replica: {e}"
        );
    }

    // WATCH on the replica is broken by a replicated write; a read-only MULTI runs.
    let mut w = replica.client();
    run(&mut w, &["WATCH", "s"]);
    run(&mut w, &["MULTI"]);
    run(&mut w, &["GET", "s"]);
    run(&mut m, &["SET", "s", "changed"]);
    wait_synced(&master, &replica);
    assert_eq!(
        run(&mut w, &["EXEC"]),
        Value::Nil,
        "watch broken by replication"
    );
    run(&mut w, &["MULTI"]);
    run(&mut w, &["GET", "s"]);
    assert_eq!(run(&mut w, &["EXEC"]), Value::Array(vec![bulk("changed")]));
    run(&mut w, &["MULTI"]);
    assert!(run_err(&mut w, &["SET", "s", "1"]).starts_with("READONLY"));
    assert!(run_err(&mut w, &["EXEC"]).starts_with("EXECABORT"));

    // INFO and ROLE on both sides.
    assert_eq!(
        info_field(&mut m, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let slave0 = info_field(&mut m, "replication", "slave0").expect("slave0 line");
    assert!(
        slave0.contains(&format!("port={}", replica.port())) && slave0.contains("state=online"),
        "{slave0}"
    );
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("slave")
    );
    assert_eq!(
        info_field(&mut r, "replication", "master_replid"),
        info_field(&mut m, "replication", "master_replid"),
        "the replica adopted the master's replid"
    );
    assert_eq!(
        info_field(&mut r, "replication", "slave_read_only").as_deref(),
        Some("1")
    );
    match run(&mut r, &["ROLE"]) {
        Value::Array(v) => {
            assert_eq!(v[0], bulk("slave"));
            assert_eq!(v[2], Value::Int(master.port() as i64));
            assert_eq!(v[3], bulk("connected"));
        }
        other => panic!("ROLE on the replica: {other:?}"),
    }
    match run(&mut m, &["ROLE"]) {
        Value::Array(v) => {
            assert_eq!(v[0], bulk("master"));
            let Value::Array(replicas) = &v[2] else {
                panic!("ROLE replicas: {v:?}")
            };
            assert_eq!(replicas.len(), 1);
        }
        other => panic!("ROLE on the master: {other:?}"),
    }
    // The master's ACK view catches up within a couple of ACK periods.
    let end = repl_offset(&mut m);
    wait_until(
        Duration::from_secs(10),
        "the master to see the replica's ACK",
        || {
            info_field(&mut m, "replication", "slave0")
                .is_some_and(|l| l.contains(&format!("offset={end},")))
        },
    );
}

#[test]
fn replica_catches_up_after_kill9_with_exact_counters() {
    let master = Server::start(&[]);
    let mut m = master.client();
    let mut replica = start_replica_of(master.port(), &[]);
    let mut acked = write_load(&mut m, "warm", 5, 100, 100);
    wait_synced(&master, &replica);
    let partial_before = field_u64(&mut m, "stats", "sync_partial_ok");

    replica.kill9();
    // ~20 MB while the replica is down: 20 pipelines of 1000 SETs of 1 KiB, with INCRs.
    acked += write_load(&mut m, "bulk", 20, 1000, 250);
    assert!(repl_offset(&mut m) > 20_000_000);
    replica.restart();
    // Writes go on while the replica catches up.
    acked += write_load(&mut m, "during", 10, 50, 50);

    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert!(
        field_u64(&mut m, "stats", "sync_partial_ok") > partial_before,
        "the restarted replica continued with a partial sync"
    );
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert_eq!(get_i64(&mut m, "counter"), acked);
    assert_eq!(
        get_i64(&mut r, "counter"),
        acked,
        "every acknowledged INCR applied exactly once on the replica"
    );
    assert_eq!(digest(&mut m), digest(&mut r));
    // The role survived the restart through the data dir too.
    let state =
        std::fs::read_to_string(replica.dir().join("replication.json")).expect("replication.json");
    assert!(state.contains(&master.port().to_string()), "{state}");
}

#[test]
fn replica_reconnects_after_master_kill9_mid_stream() {
    let mut master = Server::start(&["--appendfsync", "always"]);
    // The replica follows a proxy, so the restarted master (on a new port) is the same address.
    let proxy = Proxy::start(master.port());
    let replica = start_replica_of(proxy.port(), &[]);
    let mut m = master.client();
    write_load(&mut m, "warm", 2, 100, 100);
    wait_synced(&master, &replica);

    // A client writing continuously while the master is killed.
    let port = master.port();
    let load = std::thread::spawn(move || {
        let mut c = connect_client(port, None);
        write_load(&mut c, "live", 100_000, 200, 200)
    });
    std::thread::sleep(Duration::from_millis(1500));
    drop(m);
    master.kill9();
    let acked_live = load.join().expect("load thread");
    assert!(
        acked_live > 0,
        "some writes were acknowledged before the kill"
    );

    master.restart();
    proxy.set_target(master.port());
    let mut m = master.client();
    let after = write_load(&mut m, "after", 3, 100, 100);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(field_u64(&mut m, "stats", "sync_partial_ok"), 1);
    let total = get_i64(&mut m, "counter");
    assert!(
        total >= 200 + acked_live + after,
        "the master kept every acknowledged INCR: {total} < {}",
        200 + acked_live + after
    );
    assert_eq!(get_i64(&mut r, "counter"), total);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn link_cut_and_stalled_during_streaming() {
    let master = Server::start(&[]);
    let proxy = Proxy::start(master.port());
    let replica = start_replica_of(proxy.port(), &[]);
    let mut m = master.client();
    let port = master.port();
    let load = std::thread::spawn(move || {
        let mut c = connect_client(port, None);
        write_load(&mut c, "k", 60, 500, 100)
    });
    for i in 0..8 {
        std::thread::sleep(Duration::from_millis(300));
        if i % 3 == 2 {
            proxy.stall(true);
            std::thread::sleep(Duration::from_millis(300));
            proxy.stall(false);
        } else {
            proxy.cut();
        }
    }
    let acked = load.join().expect("load thread");
    assert_eq!(acked, 6000);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(get_i64(&mut r, "counter"), acked);
    assert_eq!(digest(&mut m), digest(&mut r));
    assert!(
        field_u64(&mut m, "stats", "sync_partial_ok") >= 2,
        "cut links came back with +CONTINUE"
    );
}

#[test]
fn psync_refusals_masterauth_and_replicaof_at_runtime() {
    let master = Server::start(&["--requirepass", "secret"]);
    let mut m = master.client_with_password("secret");
    run(&mut m, &["SET", "a", "1"]);
    let replid = info_field(&mut m, "replication", "master_replid").expect("replid");

    // PSYNC that cannot continue (another history, an offset inside a record, past the end)
    // gets a full sync: +FULLRESYNC with the checkpoint's offset, then its manifest.
    for (id, off) in [
        ("f".repeat(40), "0"),
        (replid.clone(), "1"),
        (replid.clone(), "999999"),
    ] {
        let mut raw = master.raw();
        raw.command_str(&["AUTH", "secret"]);
        let reply = raw.command_str(&["PSYNC", &id, off]).raw_str();
        assert!(
            reply.starts_with(&format!("+FULLRESYNC {replid} ")),
            "PSYNC {id} {off}: {reply}"
        );
    }
    assert_eq!(field_u64(&mut m, "stats", "sync_partial_err"), 3);
    assert_eq!(field_u64(&mut m, "stats", "sync_partial_ok"), 0);
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 3);

    // A plain node with data of its own becomes a replica at runtime, authenticating with
    // masterauth: its history differs, so it gets a full sync and only the master's data.
    let replica = Server::start(&[]);
    let mut r = replica.client();
    run(&mut r, &["SET", "local", "x"]);
    run(&mut r, &["CONFIG", "SET", "masterauth", "secret"]);
    assert_eq!(
        run(
            &mut r,
            &["REPLICAOF", "127.0.0.1", &master.port().to_string()]
        ),
        Value::Okay
    );
    assert!(run_err(&mut r, &["SET", "x", "1"]).starts_with("READONLY"));
    wait_synced_con(&mut m, &mut r);
    assert_eq!(get_s(&mut r, "local"), None, "its own data was replaced");
    assert_eq!(get_s(&mut r, "a").as_deref(), Some("1"));
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 4);
    run(&mut r, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(
        run(&mut r, &["SET", "x", "1"]),
        Value::Okay,
        "writable again"
    );
    drop(r);
    drop(replica);

    // A fresh node: REPLICAOF at runtime, then the role survives kill -9 without any flag.
    let mut replica = Server::start(&["--masterauth", "secret"]);
    let mut r = replica.client();
    run(
        &mut r,
        &["SLAVEOF", "127.0.0.1", &master.port().to_string()],
    );
    wait_synced_con(&mut m, &mut r);
    assert_eq!(get_s(&mut r, "a").as_deref(), Some("1"));
    drop(r);
    replica.kill9();
    run(&mut m, &["SET", "b", "2"]);
    replica.restart();
    let mut r = replica.client();
    wait_synced_con(&mut m, &mut r);
    assert_eq!(get_s(&mut r, "b").as_deref(), Some("2"));
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(field_u64(&mut m, "stats", "sync_partial_ok"), 3);
    run(&mut r, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("master")
    );
    run(&mut r, &["SET", "c", "3"]);
    drop(r);
    replica.kill9();
    replica.restart();
    let mut r = replica.client();
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("master"),
        "REPLICAOF NO ONE persisted"
    );
    assert_eq!(get_s(&mut r, "c").as_deref(), Some("3"));
}

#[test]
fn replica_whose_data_is_ahead_of_its_log_continues_under_the_same_replid() {
    let master = Server::start(&[]);
    let mut m = master.client();
    let mut replica = start_replica_of(master.port(), &[]);
    write_load(&mut m, "a", 3, 100, 100);
    wait_synced(&master, &replica);
    // Clean stop (RocksDB flushed at the end), then lose the log's tail as a power cut would:
    // the data now stands beyond the log's end.
    replica.shutdown();
    let seg = replica.last_segment();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open last segment");
    f.set_len(80).expect("truncate to the segment header");
    drop(f);
    write_load(&mut m, "b", 3, 100, 100);
    replica.restart();
    assert!(
        replica
            .stderr_text()
            .contains("replica data is ahead of its log"),
        "the restart took the data-ahead path"
    );
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(get_i64(&mut r, "counter"), 600);
    assert_eq!(digest(&mut m), digest(&mut r));
    assert_eq!(
        info_field(&mut r, "replication", "master_replid"),
        info_field(&mut m, "replication", "master_replid")
    );
}

/// A master whose retention keeps nothing but what replicas hold (64 KiB segments,
/// `log-retention-bytes 1`, RocksDB flushed every second), plus `extra` flags, and a replica
/// of it that applied a first load.
pub(super) fn retention_pair(extra: &[&str]) -> (Server, Server) {
    let mut args = vec![
        "--log-segment-bytes",
        "65536",
        "--log-retention-bytes",
        "1",
        "--flush-interval-secs",
        "1",
    ];
    args.extend_from_slice(extra);
    let master = Server::start(&args);
    let replica = start_replica_of(master.port(), &[]);
    write_load(&mut master.client(), "warm", 2, 100, 100);
    wait_synced(&master, &replica);
    (master, replica)
}

fn backlog_start(con: &mut redis::Connection) -> u64 {
    field_u64(con, "replication", "repl_backlog_first_byte_offset")
}

#[test]
fn retention_keeps_what_a_stopped_replica_needs_until_log_max_bytes() {
    let (master, mut replica) = retention_pair(&[]);
    let mut m = master.client();
    let slave_line = info_field(&mut m, "replication", "slave0").expect("slave0");
    assert!(
        slave_line.contains("bytes_before_full_sync=-1"),
        "no cap: {slave_line}"
    );

    // Stopped replica: retention (1 byte!) must still keep every segment it needs.
    let stopped_at = field_u64(&mut replica.client(), "replication", "slave_repl_offset");
    replica.terminate();
    write_load(&mut m, "gap", 10, 100, 100);
    // Two retention passes (every 10 s) with closed segments to delete.
    std::thread::sleep(Duration::from_secs(21));
    assert!(
        backlog_start(&mut m) <= stopped_at,
        "retention deleted what the stopped replica needs: log starts at {} > {stopped_at}",
        backlog_start(&mut m)
    );
    replica.restart();
    wait_synced(&master, &replica);
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert!(field_u64(&mut m, "stats", "sync_partial_ok") >= 2);

    // With a hard cap, the log stops waiting for it: the replica needs a full sync.
    run(&mut m, &["CONFIG", "SET", "log-max-bytes", "300000"]);
    let slave_line = info_field(&mut m, "replication", "slave0").expect("slave0");
    let left: i64 = slave_line
        .split(',')
        .find_map(|kv| kv.strip_prefix("bytes_before_full_sync="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no bytes_before_full_sync in {slave_line}"));
    assert!((0..=300000).contains(&left), "{slave_line}");
    let stopped_at = field_u64(&mut replica.client(), "replication", "slave_repl_offset");
    replica.kill9();
    let acked = write_load(&mut m, "capped", 10, 100, 100);
    assert_eq!(acked, 1000);
    wait_until(
        Duration::from_secs(40),
        "log-max-bytes to delete segments the stopped replica needs",
        || backlog_start(&mut m) > stopped_at,
    );
    replica.restart();
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 1);
    assert_eq!(get_i64(&mut r, "counter"), get_i64(&mut m, "counter"));
    assert_eq!(digest(&mut m), digest(&mut r));
    assert!(master.all_stderr_text().contains("log-max-bytes reached"));
}

#[test]
fn a_restarted_master_still_keeps_what_a_stopped_replica_needs() {
    let (mut master, mut replica) = retention_pair(&[]);
    // The retention pass (every 10 s) saves the replicas' claims.
    let saved = master.dir().join("replica-holds.json");
    wait_until(Duration::from_secs(30), "the claims to be saved", || {
        saved.exists()
    });
    let stopped_at = field_u64(&mut replica.client(), "replication", "slave_repl_offset");
    replica.terminate();
    master.kill9();
    master.restart();
    let mut m = master.client();
    write_load(&mut m, "gap", 10, 100, 100);
    // Two retention passes with closed segments to delete, and nobody connected.
    std::thread::sleep(Duration::from_secs(21));
    assert!(
        backlog_start(&mut m) <= stopped_at,
        "retention after a restart deleted what the stopped replica needs: log starts at {} > {stopped_at}",
        backlog_start(&mut m)
    );
    replica.restart();
    let mut r = replica.client();
    // The master may have come back on another port.
    let mport = master.port().to_string();
    run(&mut r, &["REPLICAOF", "127.0.0.1", &mport]);
    wait_synced(&master, &replica);
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 0);
    assert!(field_u64(&mut m, "stats", "sync_partial_ok") >= 1);
    assert_eq!(digest(&mut m), digest(&mut r));
}

#[test]
fn replicas_asking_at_once_share_one_checkpoint() {
    let master = Server::start(&[]);
    let mut m = master.client();
    write_load(&mut m, "data", 5, 200, 100);
    // Two nodes with data of their own: both need a full sync.
    let a = Server::start(&[]);
    let b = Server::start(&[]);
    run(&mut a.client(), &["SET", "own", "a"]);
    run(&mut b.client(), &["SET", "own", "b"]);
    let port = master.port().to_string();
    let (pa, pb) = (a.port(), b.port());
    let ta = std::thread::spawn({
        let port = port.clone();
        move || {
            run(
                &mut connect_client(pa, None),
                &["REPLICAOF", "127.0.0.1", &port],
            )
        }
    });
    let tb = std::thread::spawn(move || {
        run(
            &mut connect_client(pb, None),
            &["REPLICAOF", "127.0.0.1", &port],
        )
    });
    ta.join().expect("a");
    tb.join().expect("b");
    wait_synced(&master, &a);
    wait_synced(&master, &b);
    assert_eq!(field_u64(&mut m, "stats", "sync_full"), 2);
    let log = master.all_stderr_text();
    assert_eq!(
        log.matches("full sync checkpoint taken").count(),
        1,
        "{}",
        tail_lines(&log, 30)
    );
    for s in [&a, &b] {
        let mut c = s.client();
        assert_eq!(get_s(&mut c, "own"), None);
        assert_eq!(digest(&mut c), digest(&mut m));
    }
}

#[test]
fn replica_without_a_link_answers_masterdown_when_told_not_to_serve_stale_data() {
    // A master that is not there.
    let dead = free_port();
    let replica = start_replica_of(dead, &["--replica-serve-stale-data", "no"]);
    let mut r = replica.client();
    let e = run_err(&mut r, &["GET", "k"]);
    assert!(e.starts_with("MASTERDOWN"), "{e}");
    assert_eq!(run(&mut r, &["PING"]), Value::SimpleString("PONG".into()));
    run(
        &mut r,
        &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
    );
    assert_eq!(run(&mut r, &["GET", "k"]), Value::Nil);
}

/// A blocking pop that parks on an expired key deletes the key; the DEL must reach the log,
/// or a replica keeps a key its master no longer has.
#[test]
fn a_blocking_pop_parked_on_an_expired_key_logs_its_del() {
    let master = Server::start(&[]);
    let mut m = master.client();
    let replica = start_replica_of(master.port(), &[]);
    // Keys that expire first keep active expiry (200 keys per 100 ms, oldest first) busy, so
    // the blocking pops below are what finds their keys expired.
    let mut pipe = redis::pipe();
    for i in 0..4000 {
        pipe.cmd("SET")
            .arg(format!("filler:{i}"))
            .arg("x")
            .arg("PX")
            .arg(20)
            .ignore();
    }
    pipe.cmd("ZADD").arg("z").arg(1).arg("a").ignore();
    pipe.cmd("RPUSH").arg("l").arg("a").ignore();
    pipe.cmd("PEXPIRE").arg("z").arg(40).ignore();
    pipe.cmd("PEXPIRE").arg("l").arg(40).ignore();
    pipe.query::<()>(&mut m).expect("load");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(run(&mut m, &["BZPOPMIN", "z", "0.05"]), Value::Nil);
    assert_eq!(run(&mut m, &["BLPOP", "l", "0.05"]), Value::Nil);
    wait_until(SYNC_TIMEOUT, "active expiry to empty the master", || {
        run(&mut m, &["DBSIZE"]) == Value::Int(0)
    });
    wait_synced(&master, &replica);
    let mut r = replica.client();
    assert_eq!(
        run(&mut r, &["DBSIZE"]),
        Value::Int(0),
        "the replica applied the DELs of the expired keys"
    );
    assert_eq!(digest(&mut m), digest(&mut r));
}
