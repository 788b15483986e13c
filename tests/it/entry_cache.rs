//! The entry cache in front of RocksDB (`entry-cache-bytes`): reads that hit it must answer
//! exactly what RocksDB holds. Readers racing a writer never see a value go back, and TTLs,
//! deletes, type changes, FLUSHDB, databases and replication all show through a warm cache.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use redis::Value;

use super::replication::{get_i64, start_replica_of};
use crate::common::*;

#[test]
fn readers_racing_a_writer_never_see_a_value_go_back() {
    let srv = Server::start(&[]);
    const WRITES: i64 = 3000;
    let acked = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let mut con = srv.client();
            let (acked, done) = (acked.clone(), done.clone());
            thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let floor = acked.load(Ordering::SeqCst);
                    let v = get_i64(&mut con, "counter");
                    assert!(
                        v >= floor,
                        "reader {r}: read {v} after {floor} was acknowledged"
                    );
                    assert!(v >= last, "reader {r}: read {v} after reading {last}");
                    last = v;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut con = srv.client();
    for i in 1..=WRITES {
        assert_eq!(
            run(&mut con, &["SET", "counter", &i.to_string()]),
            Value::Okay
        );
        acked.store(i, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        let reads = r.join().expect("reader thread panicked");
        assert!(reads > 0, "each reader read at least once");
    }
    assert_eq!(get_i64(&mut con, "counter"), WRITES);
}

#[test]
fn a_warm_cache_follows_ttls_deletes_types_flushes_and_databases() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let warm = |con: &mut redis::Connection, key: &str| {
        // Two reads: the first fills the cache, the second is served from it.
        let a = run(con, &["GET", key]);
        assert_eq!(run(con, &["GET", key]), a, "{key}: repeated GET");
        a
    };

    assert_eq!(
        run(&mut con, &["SET", "ttl", "v", "PX", "150"]),
        Value::Okay
    );
    assert_eq!(warm(&mut con, "ttl"), bulk("v"));
    thread::sleep(Duration::from_millis(250));
    assert_eq!(
        run(&mut con, &["GET", "ttl"]),
        Value::Nil,
        "expired while cached"
    );

    run(&mut con, &["SET", "later", "v"]);
    assert_eq!(warm(&mut con, "later"), bulk("v"));
    assert_eq!(run(&mut con, &["PEXPIRE", "later", "100"]), Value::Int(1));
    assert_eq!(run(&mut con, &["GET", "later"]), bulk("v"));
    thread::sleep(Duration::from_millis(200));
    assert_eq!(run(&mut con, &["GET", "later"]), Value::Nil);

    run(&mut con, &["SET", "gone", "v"]);
    assert_eq!(warm(&mut con, "gone"), bulk("v"));
    assert_eq!(run(&mut con, &["DEL", "gone"]), Value::Int(1));
    assert_eq!(run(&mut con, &["GET", "gone"]), Value::Nil);
    assert_eq!(warm(&mut con, "gone"), Value::Nil, "absence cached");
    run(&mut con, &["SET", "gone", "back"]);
    assert_eq!(run(&mut con, &["GET", "gone"]), bulk("back"));

    run(&mut con, &["SET", "kind", "v"]);
    assert_eq!(warm(&mut con, "kind"), bulk("v"));
    run(&mut con, &["DEL", "kind"]);
    run(&mut con, &["RPUSH", "kind", "a"]);
    assert!(
        run_err(&mut con, &["GET", "kind"]).starts_with("WRONGTYPE"),
        "GET of a key that became a list"
    );

    run(&mut con, &["APPEND", "grow", "ab"]);
    assert_eq!(warm(&mut con, "grow"), bulk("ab"));
    run(&mut con, &["APPEND", "grow", "cd"]);
    run(&mut con, &["INCR", "n"]);
    assert_eq!(warm(&mut con, "n"), bulk("1"));
    run(&mut con, &["INCRBY", "n", "41"]);
    assert_eq!(run(&mut con, &["GET", "grow"]), bulk("abcd"));
    assert_eq!(run(&mut con, &["GET", "n"]), bulk("42"));

    // A value too large for the cache still reads back whole, every time.
    let big = "b".repeat(200 * 1024);
    run(&mut con, &["SET", "big", &big]);
    assert_eq!(warm(&mut con, "big"), bulk(&big));

    // The same name in another database is another key.
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(warm(&mut con, "grow"), Value::Nil);
    run(&mut con, &["SET", "grow", "db1"]);
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(warm(&mut con, "grow"), bulk("abcd"));
    assert_eq!(run(&mut con, &["FLUSHDB"]), Value::Okay);
    assert_eq!(run(&mut con, &["GET", "grow"]), Value::Nil);
    assert_eq!(run(&mut con, &["GET", "n"]), Value::Nil);
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(run(&mut con, &["GET", "grow"]), bulk("db1"));
    assert_eq!(run(&mut con, &["FLUSHALL"]), Value::Okay);
    assert_eq!(run(&mut con, &["GET", "grow"]), Value::Nil);

    run(&mut con, &["SET", "x", "1"]);
    warm(&mut con, "x");
    let held: u64 = info_field(&mut con, "memory", "entry_cache_bytes")
        .expect("INFO memory has entry_cache_bytes")
        .parse()
        .expect("a number");
    assert!(held > 0, "a warm cache holds bytes");
    assert_eq!(
        run(&mut con, &["CONFIG", "GET", "entry-cache-bytes"]),
        Value::Array(vec![bulk("entry-cache-bytes"), bulk("67108864")])
    );
}

#[test]
fn a_disabled_cache_holds_nothing_and_reads_still_work() {
    let srv = Server::start(&["--entry-cache-bytes", "0"]);
    let mut con = srv.client();
    run(&mut con, &["SET", "k", "v"]);
    assert_eq!(run(&mut con, &["GET", "k"]), bulk("v"));
    assert_eq!(run(&mut con, &["GET", "k"]), bulk("v"));
    assert_eq!(
        info_field(&mut con, "memory", "entry_cache_bytes").as_deref(),
        Some("0")
    );
}

#[test]
fn a_replica_serves_each_applied_write_over_its_warm_cache() {
    let master = Server::start(&[]);
    let replica = start_replica_of(master.port(), &[]);
    let mut m = master.client();
    let mut r = replica.client();
    for i in 1..=20i64 {
        run(&mut m, &["SET", "k", &i.to_string()]);
        wait_until(
            Duration::from_secs(30),
            "the replica to apply the SET",
            || get_i64(&mut r, "k") == i,
        );
        // Read again: now from the replica's cache, which must hold the applied value.
        assert_eq!(get_i64(&mut r, "k"), i);
    }
    run(&mut m, &["DEL", "k"]);
    wait_until(
        Duration::from_secs(30),
        "the replica to apply the DEL",
        || run(&mut r, &["GET", "k"]) == Value::Nil,
    );
}
