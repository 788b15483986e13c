//! Large groups of plain writes reach RocksDB on a background thread, after their replies may
//! have gone out. A client must not be able to tell: every kind of read (point reads, KEYS,
//! SCAN, RANDOMKEY, collections, TTLs) sees an acknowledged write at once, from any
//! connection, with the entry cache on or off, and a kill -9 right after the replies loses
//! nothing and applies nothing twice.

use redis::{Connection, Value};

use crate::common::*;

/// Keys per pipeline: a pipeline makes groups of hundreds of keys, and groups of 64 keys or
/// more are applied in the background.
const KEYS: usize = 2000;

/// The server's applier waits this long before each write (a test hook), so every read below
/// arrives while the last group is still pending.
const DELAY: (&str, &str) = ("DURAKV_DEBUG_APPLY_DELAY_MS", "30");

fn value(round: usize, i: usize) -> String {
    format!("r{round}:{i}")
}

fn set_all(con: &mut Connection, round: usize) {
    let mut p = redis::pipe();
    for i in 0..KEYS {
        p.cmd("SET").arg(format!("k:{i}")).arg(value(round, i));
    }
    let replies: Vec<Value> = p.query(con).expect("pipelined SETs");
    assert!(replies.iter().all(|r| *r == Value::Okay), "{replies:?}");
}

fn keys_count(con: &mut Connection, pattern: &str) -> usize {
    run_as::<Vec<String>>(con, &["KEYS", pattern]).len()
}

fn scan_count(con: &mut Connection) -> usize {
    scan_all(con, "SCAN", None, &["COUNT", "100"], 10_000).len()
}

fn reads_see_every_acknowledged_write(args: &[&str]) {
    let srv = Server::start_with_env(args, &[DELAY]);
    let mut writer = srv.client();
    let mut reader = srv.client();
    for round in 0..5 {
        set_all(&mut writer, round);
        // Straight after the replies, from another connection: point reads first (the entry
        // cache's pending entries), then the iterators (which wait for the applier).
        for i in [0, KEYS / 2, KEYS - 1] {
            let v: String = redis::cmd("GET")
                .arg(format!("k:{i}"))
                .query(&mut reader)
                .expect("GET");
            assert!(v == value(round, i), "round {round}: GET k:{i}");
        }
        let dbsize: usize = redis::cmd("DBSIZE").query(&mut reader).expect("DBSIZE");
        assert_eq!(dbsize, KEYS);
        let random: Option<String> = redis::cmd("RANDOMKEY")
            .query(&mut reader)
            .expect("RANDOMKEY");
        assert!(random.is_some_and(|k| k.starts_with("k:")));
        assert_eq!(keys_count(&mut reader, "k:*"), KEYS, "round {round}: KEYS");
        assert_eq!(scan_count(&mut reader), KEYS, "round {round}: SCAN");
    }

    // Deletes, TTLs and a type change in large groups, then reads of each.
    let mut p = redis::pipe();
    for i in (0..KEYS).step_by(2) {
        p.cmd("DEL").arg(format!("k:{i}"));
    }
    for i in (1..KEYS).step_by(2) {
        p.cmd("EXPIRE").arg(format!("k:{i}")).arg(1000);
    }
    let _: Vec<Value> = p.query(&mut writer).expect("pipelined DEL and EXPIRE");
    let gone: Option<String> = redis::cmd("GET")
        .arg("k:0")
        .query(&mut reader)
        .expect("GET");
    assert_eq!(gone, None);
    let ttl: i64 = redis::cmd("TTL")
        .arg("k:1")
        .query(&mut reader)
        .expect("TTL");
    assert!((990..=1000).contains(&ttl), "TTL {ttl}");
    assert_eq!(keys_count(&mut reader, "k:*"), KEYS / 2, "after DEL");
    assert_eq!(scan_count(&mut reader), KEYS / 2, "SCAN after DEL");

    // A string written in a large group, then a hash of the same name (written by the writer
    // itself, after the group before it reached RocksDB).
    let mut p = redis::pipe();
    for i in 0..KEYS {
        p.cmd("SET").arg(format!("t:{i}")).arg("s");
    }
    p.cmd("DEL").arg("t:0");
    p.cmd("HSET").arg("t:0").arg("f").arg("v");
    let _: Vec<Value> = p.query(&mut writer).expect("strings then a hash");
    let h: Vec<String> = redis::cmd("HGETALL")
        .arg("t:0")
        .query(&mut reader)
        .expect("HGETALL");
    assert_eq!(h, vec!["f".to_string(), "v".to_string()]);
    let t: String = redis::cmd("TYPE")
        .arg("t:1")
        .query(&mut reader)
        .expect("TYPE");
    assert_eq!(t, "string");
    assert_eq!(keys_count(&mut reader, "t:*"), KEYS);
}

#[test]
fn every_read_sees_large_groups_at_once_with_everysec() {
    reads_see_every_acknowledged_write(&["--appendfsync", "everysec"]);
}

#[test]
fn every_read_sees_large_groups_at_once_without_the_entry_cache() {
    reads_see_every_acknowledged_write(&["--appendfsync", "always", "--entry-cache-bytes", "0"]);
}

/// INCRs read the value the group before left, which may not be in RocksDB yet.
#[test]
fn counters_in_back_to_back_large_groups_are_exact_and_survive_kill_9() {
    const COUNTERS: usize = 20;
    const PIPELINES: usize = 15;
    const PER_PIPELINE: usize = 200;
    let mut srv = Server::start_with_env(&["--appendfsync", "always"], &[DELAY]);
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let mut con = srv.client();
            std::thread::spawn(move || {
                for round in 0..PIPELINES {
                    let mut p = redis::pipe();
                    for i in 0..PER_PIPELINE {
                        p.cmd("INCR").arg(format!("c:{}", i % COUNTERS));
                        p.cmd("SET")
                            .arg(format!("s:{round}:{i}"))
                            .arg(format!("{round}"));
                    }
                    let _: Vec<Value> = p.query(&mut con).expect("pipelined INCR and SET");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread panicked");
    }
    let expected = (2 * PIPELINES * PER_PIPELINE / COUNTERS) as i64;
    let check_counters = |con: &mut Connection, when: &str| {
        for c in 0..COUNTERS {
            let v: i64 = redis::cmd("GET")
                .arg(format!("c:{c}"))
                .query(con)
                .expect("GET counter");
            assert_eq!(v, expected, "{when}: counter c:{c}");
        }
    };
    // Point reads only: the last groups are still pending when the server is killed, so
    // the restart must replay them from the log.
    check_counters(&mut srv.client(), "before the kill");
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    check_counters(&mut con, "after kill -9 and restart");
    assert_eq!(keys_count(&mut con, "s:*"), PIPELINES * PER_PIPELINE);
}
