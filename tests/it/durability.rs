//! Durability: with appendfsync always, kill -9 at a random moment loses no acknowledged write
//! and applies no write twice, over several rounds on the same data directory; with everysec, a
//! clean stop (SHUTDOWN or SIGTERM) loses nothing; a log write the disk refuses stops writes
//! (not reads) until restart, and loses no acknowledged write either.
//!
//! The crash test follows sled's `test_crash_recovery`: each writer thread runs a fixed sequence
//! of operations on its own keys, one at a time, so the state recovered for a thread must be a
//! prefix of that sequence that includes every acknowledged operation and at most the one that
//! was in flight when the process died.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, Value};

use crate::common::*;

const WRITERS: usize = 4;
const ROUNDS: usize = 4;
/// Upper bound on operations per thread per round; the kill comes long before.
const MAX_OPS_PER_ROUND: u64 = 5_000_000;

/// Thread `t`'s operation number `k` (0-based, counted across rounds):
/// iteration n = k / 3 + 1 does `INCR ctr:t` (replies n), `APPEND log:t x` (replies n),
/// `SET last:t n`.
fn do_op(con: &mut Connection, t: usize, k: u64) -> Result<(), redis::RedisError> {
    let n = (k / 3 + 1) as i64;
    match k % 3 {
        0 => {
            let v: i64 = redis::cmd("INCR").arg(format!("ctr:{t}")).query(con)?;
            check(v == n, || format!("INCR ctr:{t} replied {v}, expected {n}"))
        }
        1 => {
            let v: i64 = redis::cmd("APPEND")
                .arg(format!("log:{t}"))
                .arg("x")
                .query(con)?;
            check(v == n, || {
                format!("APPEND log:{t} replied {v}, expected {n}")
            })
        }
        _ => {
            let v: Value = redis::cmd("SET")
                .arg(format!("last:{t}"))
                .arg(n)
                .query(con)?;
            check(v == Value::Okay, || {
                format!("SET last:{t} {n} replied {v:?}")
            })
        }
    }
}

/// A wrong reply is not a connection error: it is reported through a distinct error kind.
fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), redis::RedisError> {
    if ok {
        Ok(())
    } else {
        Err(redis::RedisError::from((
            redis::ErrorKind::ClientError,
            "wrong reply",
            msg(),
        )))
    }
}

/// Runs thread `t`'s operations from `start` until the connection fails after the kill.
/// Returns the number of acknowledged operations (counted from 0, across rounds).
fn writer(
    mut con: Connection,
    t: usize,
    start: u64,
    killed: Arc<AtomicBool>,
) -> Result<u64, String> {
    let mut acked = start;
    for _ in 0..MAX_OPS_PER_ROUND {
        match do_op(&mut con, t, acked) {
            Ok(()) => acked += 1,
            Err(e) if e.kind() == redis::ErrorKind::ClientError => {
                return Err(format!("thread {t}, op {acked}: {}", err_text(&e)));
            }
            Err(e) => {
                if killed.load(Ordering::SeqCst) {
                    return Ok(acked);
                }
                return Err(format!(
                    "thread {t}, op {acked}: failed before the kill: {}",
                    err_text(&e)
                ));
            }
        }
    }
    Err(format!(
        "thread {t}: {MAX_OPS_PER_ROUND} operations without the kill arriving"
    ))
}

/// The number of thread `t`'s operations the server's state reflects, or why the state is not
/// a prefix of the thread's sequence.
fn applied_ops(con: &mut Connection, t: usize) -> Result<u64, String> {
    let ctr: Option<i64> = redis::cmd("GET")
        .arg(format!("ctr:{t}"))
        .query(con)
        .map_err(|e| err_text(&e))?;
    let log: Option<Vec<u8>> = redis::cmd("GET")
        .arg(format!("log:{t}"))
        .query(con)
        .map_err(|e| err_text(&e))?;
    let last: Option<i64> = redis::cmd("GET")
        .arg(format!("last:{t}"))
        .query(con)
        .map_err(|e| err_text(&e))?;
    let log = log.unwrap_or_default();
    if let Some(i) = log.iter().position(|&b| b != b'x') {
        return Err(format!(
            "log:{t} holds byte {:#04x} at {i}; only 'x' was appended",
            log[i]
        ));
    }
    let (c, l, s) = (ctr.unwrap_or(0), log.len() as i64, last.unwrap_or(0));
    let state = format!("ctr:{t}={c} strlen(log:{t})={l} last:{t}={s}");
    if c < 0 {
        return Err(format!("negative counter: {state}"));
    }
    if c == 0 {
        return if l == 0 && s == 0 {
            Ok(0)
        } else {
            Err(format!("writes without their INCR: {state}"))
        };
    }
    let base = 3 * (c as u64 - 1);
    match (l - c, s - c) {
        (-1, -1) => Ok(base + 1),
        (0, -1) => Ok(base + 2),
        (0, 0) => Ok(base + 3),
        _ => Err(format!(
            "not a prefix of thread {t}'s writes (lost or doubled operations): {state}"
        )),
    }
}

fn recovered_state(srv: &Server) -> Vec<u64> {
    let mut con = srv.client();
    (0..WRITERS)
        .map(|t| applied_ops(&mut con, t).unwrap_or_else(|e| panic!("after restart: {e}")))
        .collect()
}

#[test]
fn kill_9_loses_no_acknowledged_write_and_applies_none_twice() {
    kill_9_rounds(&["--appendfsync", "always"]);
}

/// The same with two I/O threads (the default is one): bursts committed by both in turn, and
/// by the writer thread when the other holds the writer's lock.
#[test]
fn kill_9_with_two_io_threads_loses_nothing_and_applies_none_twice() {
    kill_9_rounds(&["--appendfsync", "always", "--io-threads", "2"]);
}

fn kill_9_rounds(args: &[&str]) {
    let seed = seed_from_env("DURAKV_DURABILITY_SEED", "durability kill -9");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut srv = Server::start(args);
    let mut applied = vec![0u64; WRITERS];

    for round in 1..=ROUNDS {
        let killed = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..WRITERS)
            .map(|t| {
                let con = srv.client();
                let killed = killed.clone();
                let start = applied[t];
                thread::Builder::new()
                    .name(format!("writer-{t}"))
                    .spawn(move || writer(con, t, start, killed))
                    .expect("spawn writer thread")
            })
            .collect();

        let delay_ms = rng.random_range(200..=1500u64);
        thread::sleep(Duration::from_millis(delay_ms));
        killed.store(true, Ordering::SeqCst);
        srv.kill9();

        let mut acked = Vec::with_capacity(WRITERS);
        for (t, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(n)) => acked.push(n),
                Ok(Err(e)) => panic!("round {round} (seed {seed}): {e}"),
                Err(_) => panic!("round {round} (seed {seed}): writer thread {t} panicked"),
            }
        }
        let progress: u64 = acked.iter().zip(&applied).map(|(a, s)| a - s).sum();
        assert!(
            progress > 0,
            "round {round}: no operation acknowledged in {delay_ms} ms"
        );

        srv.restart();
        let recovered = recovered_state(&srv);
        eprintln!(
            "round {round}: killed after {delay_ms} ms; acknowledged ops {acked:?}; recovered ops {recovered:?}"
        );
        for (t, (&got, &ack)) in recovered.iter().zip(&acked).enumerate() {
            assert!(
                got >= ack,
                "round {round} (seed {seed}): thread {t} lost acknowledged writes: {ack} acknowledged, {got} recovered"
            );
            assert!(
                got <= ack + 1,
                "round {round} (seed {seed}): thread {t} has {got} operations applied but only {ack} acknowledged \
                 and one in flight (applied twice?)"
            );
        }
        applied = recovered;
    }

    // A clean stop after the crashes keeps exactly what is there.
    srv.shutdown();
    srv.restart();
    assert_eq!(
        recovered_state(&srv),
        applied,
        "state changed across a clean restart"
    );
}

/// Writes 1000 keys in one pipeline, 500 INCRs and 200 APPENDs; returns nothing, checked by
/// [`verify_everysec_writes`].
fn everysec_writes(con: &mut Connection) {
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET")
            .arg(format!("key:{i}"))
            .arg(format!("value:{i}"))
            .ignore();
    }
    p.query::<()>(con).expect("pipeline of 1000 SETs");
    for i in 1..=500i64 {
        assert_eq!(run_as::<i64>(con, &["INCR", "counter"]), i);
    }
    for i in 1..=200i64 {
        assert_eq!(run_as::<i64>(con, &["APPEND", "appended", "ab"]), 2 * i);
    }
    run(con, &["DEL", "key:0"]);
}

fn verify_everysec_writes(con: &mut Connection) {
    let keys: Vec<String> = (0..1000).map(|i| format!("key:{i}")).collect();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(keys.as_slice())
        .query(con)
        .expect("MGET");
    assert_eq!(got.len(), 1000);
    assert_eq!(got[0], None, "key:0 was deleted");
    for (i, v) in got.iter().enumerate().skip(1) {
        assert_eq!(v.as_deref(), Some(format!("value:{i}").as_str()), "key:{i}");
    }
    assert_eq!(get_s(con, "counter").as_deref(), Some("500"));
    assert_eq!(run(con, &["STRLEN", "appended"]), Value::Int(400));
    assert_eq!(run(con, &["DBSIZE"]), Value::Int(1001));
}

#[test]
fn everysec_shutdown_command_loses_nothing() {
    let mut srv = Server::start(&["--appendfsync", "everysec"]);
    {
        let mut con = srv.client();
        everysec_writes(&mut con);
    }
    let status = srv.shutdown_command();
    assert!(
        status.success(),
        "SHUTDOWN: exit status {status}, expected 0\n--- stderr ---\n{}",
        tail_lines(&srv.stderr_text(), 60)
    );
    srv.restart();
    let mut con = srv.client();
    verify_everysec_writes(&mut con);
}

#[test]
fn everysec_sigterm_loses_nothing() {
    let mut srv = Server::start(&["--appendfsync", "everysec"]);
    {
        let mut con = srv.client();
        everysec_writes(&mut con);
    }
    srv.shutdown();
    srv.restart();
    let mut con = srv.client();
    verify_everysec_writes(&mut con);
    // And once more after the replayed state is itself stopped cleanly.
    drop(con);
    srv.shutdown();
    srv.restart();
    let mut con = srv.client();
    verify_everysec_writes(&mut con);
}

/// Limits the size of any file the process `pid` writes (`prlimit --fsize`): a write crossing
/// it fails with EFBIG, as one on a full disk fails with ENOSPC.
fn limit_file_size(pid: u32, bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: prlimit reads `lim` and writes nothing (no old-limit pointer).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(
        rc,
        0,
        "prlimit --fsize on durakv: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn a_log_write_the_disk_refuses_stops_writes_not_reads_and_loses_no_acknowledged_write() {
    let mut server = Server::start(&["--appendfsync", "always"]);
    let mut c = server.client();
    run(&mut c, &["SET", "before", "limit"]);
    // The active segment is 4 MiB of preallocated space: the limit bites a few MiB of records
    // later, on the append itself.
    limit_file_size(server.pid(), 6 << 20);
    let value = "v".repeat(4096);
    let (mut sets, mut incrs) = (0u64, 0i64);
    let refusal = loop {
        assert!(
            sets < 4000,
            "16 MB of SETs went through a 6 MiB file size limit"
        );
        match cmd(&["SET", &format!("big:{sets}"), &value]).query::<Value>(&mut c) {
            Ok(_) => sets += 1,
            Err(e) => break err_text(&e),
        }
        match cmd(&["INCR", "counter"]).query::<Value>(&mut c) {
            Ok(_) => incrs += 1,
            Err(e) => break err_text(&e),
        }
    };
    assert!(
        refusal.contains("refuses writes until restart") && refusal.contains("too large"),
        "the failed write's reply: {refusal}"
    );
    // The process lives on (SIGXFSZ does not kill it), refuses every write, serves reads.
    assert!(server.is_running(), "durakv died at the file size limit");
    let again = run_err(&mut c, &["SET", "after", "refusal"]);
    assert!(again.contains("refuses writes until restart"), "{again}");
    assert_eq!(get_s(&mut c, "before").as_deref(), Some("limit"));
    assert_eq!(get_s(&mut c, "big:0").as_deref(), Some(value.as_str()));
    assert_eq!(run_as::<i64>(&mut c, &["GET", "counter"]), incrs);
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_write_status").as_deref(),
        Some("err")
    );

    // Restarted without the limit: every acknowledged write, and not the refused one.
    server.kill9();
    server.restart();
    let mut c = server.client();
    assert_eq!(run_as::<i64>(&mut c, &["GET", "counter"]), incrs);
    for i in 0..sets {
        let got = get_s(&mut c, &format!("big:{i}"));
        assert_eq!(
            got.as_deref(),
            Some(value.as_str()),
            "big:{i} after restart"
        );
    }
    assert_eq!(
        get_s(&mut c, &format!("big:{sets}")),
        None,
        "the refused SET"
    );
    assert_eq!(get_s(&mut c, "after"), None);
    run(&mut c, &["SET", "after", "restart"]);
    assert_eq!(get_s(&mut c, "after").as_deref(), Some("restart"));
}

#[test]
fn a_rocksdb_flush_the_disk_refuses_stops_writes_not_reads_and_loses_no_acknowledged_write() {
    flush_refused(1);
}

/// MSETs of 100 keys: each is one batch for the applier thread, whose write fails after the
/// reply went out. What it wrote stays readable until restart, then is replayed.
#[test]
fn a_background_write_the_disk_refuses_stays_readable_and_loses_no_acknowledged_write() {
    flush_refused(100);
}

/// 4 KiB values that do not compress, `keys` to a command (SET, or MSET), until the first
/// memtable flush fails at a 4 MiB file size limit (small log segments stay under it). Every
/// acknowledged write must be readable at once and after kill -9 and restart.
fn flush_refused(keys: usize) {
    // No retention: its pass flushes RocksDB when the log has several segments, which must
    // not be the write that meets the limit first.
    let mut server = Server::start(&[
        "--appendfsync",
        "everysec",
        "--log-segment-bytes",
        "1048576",
        "--log-retention-hours",
        "0",
    ]);
    let mut c = server.client();
    limit_file_size(server.pid(), 4 << 20);
    let mut rng = StdRng::seed_from_u64(7);
    let mut values: Vec<Vec<u8>> = Vec::new();
    let refusal = loop {
        assert!(values.len() < 15_000, "60 MB of SETs never needed a flush");
        let batch: Vec<Vec<u8>> = (0..keys)
            .map(|_| (0..4096).map(|_| rng.random()).collect())
            .collect();
        let mut set = redis::cmd(if keys == 1 { "SET" } else { "MSET" });
        for (i, v) in batch.iter().enumerate() {
            set.arg(format!("k:{}", values.len() + i)).arg(v);
        }
        match set.query::<Value>(&mut c) {
            Ok(_) => values.extend(batch),
            Err(e) => break err_text(&e),
        }
    };
    assert!(
        refusal.contains("refuses writes until restart"),
        "the failed write's reply: {refusal}"
    );
    assert!(server.is_running(), "durakv died at the file size limit");
    let again = run_err(&mut c, &["SET", "after", "refusal"]);
    assert!(again.contains("refuses writes until restart"), "{again}");
    let check_all = |c: &mut Connection, when: &str| {
        for (i, v) in values.iter().enumerate() {
            let got = get_b(c, &format!("k:{i}"));
            assert_eq!(got.as_deref(), Some(&v[..]), "k:{i} {when}");
        }
    };
    check_all(&mut c, "after the refusal");
    if keys >= 64 {
        assert!(
            server
                .stderr_text()
                .contains("background RocksDB write failed"),
            "the applier thread's write was the one refused\n{}",
            tail_lines(&server.stderr_text(), 20)
        );
    }

    server.kill9();
    server.restart();
    let mut c = server.client();
    check_all(&mut c, "after restart");
    run(&mut c, &["SET", "after", "restart"]);
    assert_eq!(get_s(&mut c, "after").as_deref(), Some("restart"));
}
