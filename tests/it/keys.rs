//! Keyspace commands through the `redis` crate: existence, renames, TTL semantics (relative,
//! absolute, NX/XX/GT/LT), databases, SCAN and KEYS, and data plus TTLs surviving a clean
//! restart and a kill -9.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use crate::common::*;

#[track_caller]
fn assert_int_in(v: Value, lo: i64, hi: i64, what: &str) {
    match v {
        Value::Int(n) => assert!((lo..=hi).contains(&n), "{what}: {n} not in {lo}..={hi}"),
        other => panic!("{what}: expected an integer, got {other:?}"),
    }
}

fn simple(s: &str) -> Value {
    Value::SimpleString(s.to_string())
}

#[test]
fn del_unlink_and_exists_count_keys() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        run(&mut con, &["EXISTS", "a", "b", "nosuch"]),
        Value::Int(2)
    );
    assert_eq!(
        run(&mut con, &["EXISTS", "a", "a", "a"]),
        Value::Int(3),
        "repeated keys count each time"
    );
    assert_eq!(run(&mut con, &["DEL", "a", "nosuch"]), Value::Int(1));
    assert_eq!(run(&mut con, &["DEL", "a"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["UNLINK", "b", "c", "nosuch"]),
        Value::Int(2)
    );
    assert_eq!(run(&mut con, &["EXISTS", "a", "b", "c"]), Value::Int(0));
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));

    assert_err(
        &mut con,
        &["DEL"],
        "ERR wrong number of arguments for 'del' command",
    );
    assert_err(
        &mut con,
        &["UNLINK"],
        "ERR wrong number of arguments for 'unlink' command",
    );
    assert_err(
        &mut con,
        &["EXISTS"],
        "ERR wrong number of arguments for 'exists' command",
    );
}

#[test]
fn type_reports_string_or_none() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "s", "v"]);
    assert_eq!(run(&mut con, &["TYPE", "s"]), simple("string"));
    assert_eq!(run(&mut con, &["TYPE", "nosuch"]), simple("none"));
}

#[test]
fn rename_and_renamenx() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "src", "v", "EX", "100"]);
    assert_eq!(run(&mut con, &["RENAME", "src", "dst"]), Value::Okay);
    assert_eq!(run(&mut con, &["EXISTS", "src"]), Value::Int(0));
    assert_eq!(get_s(&mut con, "dst").as_deref(), Some("v"));
    assert_int_in(
        run(&mut con, &["TTL", "dst"]),
        1,
        100,
        "RENAME carries the TTL",
    );

    run(&mut con, &["SET", "other", "o"]);
    assert_eq!(
        run(&mut con, &["RENAME", "dst", "other"]),
        Value::Okay,
        "RENAME overwrites"
    );
    assert_eq!(get_s(&mut con, "other").as_deref(), Some("v"));
    assert_int_in(
        run(&mut con, &["TTL", "other"]),
        1,
        100,
        "the source's TTL replaces the target's",
    );

    run(&mut con, &["SET", "t1", "x"]);
    run(&mut con, &["SET", "t2", "y", "EX", "100"]);
    assert_eq!(run(&mut con, &["RENAME", "t1", "t2"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["TTL", "t2"]),
        Value::Int(-1),
        "a source without TTL clears the target's"
    );

    assert_err(&mut con, &["RENAME", "nosuch", "x"], "ERR no such key");
    assert_err(&mut con, &["RENAME", "nosuch", "nosuch"], "ERR no such key");
    assert_eq!(
        run(&mut con, &["RENAME", "other", "other"]),
        Value::Okay,
        "RENAME onto itself"
    );
    assert_eq!(
        get_s(&mut con, "other").as_deref(),
        Some("v"),
        "and the key is still there"
    );
    assert_int_in(run(&mut con, &["TTL", "other"]), 1, 100, "with its TTL");

    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["SET", "b", "2"]);
    assert_eq!(run(&mut con, &["RENAMENX", "a", "b"]), Value::Int(0));
    assert_eq!(get_s(&mut con, "a").as_deref(), Some("1"));
    assert_eq!(get_s(&mut con, "b").as_deref(), Some("2"));
    assert_eq!(run(&mut con, &["RENAMENX", "a", "c"]), Value::Int(1));
    assert_eq!(run(&mut con, &["EXISTS", "a"]), Value::Int(0));
    assert_eq!(get_s(&mut con, "c").as_deref(), Some("1"));
    assert_eq!(
        run(&mut con, &["RENAMENX", "c", "c"]),
        Value::Int(0),
        "RENAMENX onto itself"
    );
    assert_err(&mut con, &["RENAMENX", "nosuch", "x"], "ERR no such key");
}

#[test]
fn ttl_expire_pexpire_and_persist() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-2), "missing key");
    assert_eq!(run(&mut con, &["PTTL", "k"]), Value::Int(-2));
    run(&mut con, &["SET", "k", "v"]);
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-1), "no expiry");
    assert_eq!(run(&mut con, &["PTTL", "k"]), Value::Int(-1));

    assert_eq!(run(&mut con, &["EXPIRE", "k", "100"]), Value::Int(1));
    assert_int_in(run(&mut con, &["TTL", "k"]), 1, 100, "TTL after EXPIRE 100");
    assert_int_in(
        run(&mut con, &["PTTL", "k"]),
        1,
        100_000,
        "PTTL after EXPIRE 100",
    );
    assert_eq!(run(&mut con, &["PEXPIRE", "k", "50000"]), Value::Int(1));
    assert_int_in(
        run(&mut con, &["PTTL", "k"]),
        1,
        50_000,
        "PTTL after PEXPIRE 50000",
    );

    assert_eq!(run(&mut con, &["PERSIST", "k"]), Value::Int(1));
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-1));
    assert_eq!(
        run(&mut con, &["PERSIST", "k"]),
        Value::Int(0),
        "nothing to persist"
    );
    assert_eq!(run(&mut con, &["PERSIST", "nosuch"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXPIRE", "nosuch", "100"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["EXISTS", "nosuch"]),
        Value::Int(0),
        "EXPIRE creates nothing"
    );

    assert_err(
        &mut con,
        &["EXPIRE", "k", "abc"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut con,
        &["EXPIRE", "k", "100", "FOO"],
        "ERR Unsupported option FOO",
    );
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-1));

    assert_eq!(run(&mut con, &["EXPIRETIME", "nosuch"]), Value::Int(-2));
    assert_eq!(run(&mut con, &["EXPIRETIME", "k"]), Value::Int(-1));
    assert_eq!(run(&mut con, &["PEXPIRETIME", "k"]), Value::Int(-1));
    let at = now_secs() + 1000;
    assert_eq!(
        run(&mut con, &["EXPIREAT", "k", &at.to_string()]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["EXPIRETIME", "k"]), Value::Int(at as i64));
    assert_eq!(
        run(&mut con, &["PEXPIRETIME", "k"]),
        Value::Int(at as i64 * 1000)
    );
    assert_int_in(
        run(&mut con, &["TTL", "k"]),
        990,
        1000,
        "TTL after EXPIREAT now+1000",
    );
    let pat = (now_secs() + 2000) * 1000;
    assert_eq!(
        run(&mut con, &["PEXPIREAT", "k", &pat.to_string()]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["PEXPIRETIME", "k"]), Value::Int(pat as i64));
    assert_eq!(
        run(&mut con, &["EXPIRETIME", "k"]),
        Value::Int(pat as i64 / 1000)
    );
}

#[test]
fn expire_nx_xx_gt_lt_options() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "k", "v"]);
    assert_eq!(
        run(&mut con, &["EXPIRE", "k", "100", "XX"]),
        Value::Int(0),
        "XX needs an existing TTL"
    );
    assert_eq!(
        run(&mut con, &["EXPIRE", "k", "100", "GT"]),
        Value::Int(0),
        "no TTL counts as infinite for GT"
    );
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-1));

    assert_eq!(run(&mut con, &["EXPIRE", "k", "100", "NX"]), Value::Int(1));
    assert_int_in(run(&mut con, &["TTL", "k"]), 1, 100, "after NX");
    assert_eq!(
        run(&mut con, &["EXPIRE", "k", "200", "NX"]),
        Value::Int(0),
        "NX with a TTL set"
    );
    assert_int_in(run(&mut con, &["TTL", "k"]), 1, 100, "NX refused");

    assert_eq!(run(&mut con, &["EXPIRE", "k", "200", "XX"]), Value::Int(1));
    assert_int_in(run(&mut con, &["TTL", "k"]), 101, 200, "after XX 200");

    assert_eq!(
        run(&mut con, &["EXPIRE", "k", "50", "GT"]),
        Value::Int(0),
        "50 is not greater"
    );
    assert_int_in(run(&mut con, &["TTL", "k"]), 101, 200, "GT refused");
    assert_eq!(run(&mut con, &["EXPIRE", "k", "300", "GT"]), Value::Int(1));
    assert_int_in(run(&mut con, &["TTL", "k"]), 201, 300, "after GT 300");

    assert_eq!(
        run(&mut con, &["EXPIRE", "k", "400", "LT"]),
        Value::Int(0),
        "400 is not less"
    );
    assert_int_in(run(&mut con, &["TTL", "k"]), 201, 300, "LT refused");
    assert_eq!(run(&mut con, &["EXPIRE", "k", "150", "LT"]), Value::Int(1));
    assert_int_in(run(&mut con, &["TTL", "k"]), 101, 150, "after LT 150");

    assert_eq!(
        run(&mut con, &["PEXPIRE", "k", "10000", "GT"]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["PEXPIRE", "k", "10000", "LT"]),
        Value::Int(1)
    );
    assert_int_in(run(&mut con, &["PTTL", "k"]), 1, 10_000, "after PEXPIRE LT");
    let at = now_secs() + 5000;
    assert_eq!(
        run(&mut con, &["EXPIREAT", "k", &at.to_string(), "GT"]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["EXPIRETIME", "k"]), Value::Int(at as i64));

    run(&mut con, &["SET", "k2", "v"]);
    assert_eq!(
        run(&mut con, &["EXPIRE", "k2", "100", "LT"]),
        Value::Int(1),
        "no TTL counts as infinite for LT"
    );
    assert_int_in(
        run(&mut con, &["TTL", "k2"]),
        1,
        100,
        "after LT on a key without TTL",
    );
    assert_eq!(
        run(&mut con, &["EXPIRE", "nosuch", "100", "NX"]),
        Value::Int(0)
    );

    let nx_xx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_err(&mut con, &["EXPIRE", "k", "100", "NX", "XX"], nx_xx);
    assert_err(&mut con, &["EXPIRE", "k", "100", "NX", "GT"], nx_xx);
    assert_err(
        &mut con,
        &["EXPIRE", "k", "100", "GT", "LT"],
        "ERR GT and LT options at the same time are not compatible",
    );
    assert_eq!(
        run(&mut con, &["EXPIRETIME", "k"]),
        Value::Int(at as i64),
        "refused EXPIREs change nothing"
    );
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(
        &mut con,
        &["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"],
    );
    let past = now_secs() - 10;
    assert_eq!(
        run(&mut con, &["EXPIREAT", "a", &past.to_string()]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["GET", "a"]), Value::Nil);
    assert_eq!(run(&mut con, &["TTL", "a"]), Value::Int(-2));
    let past_ms = now_ms() - 1000;
    assert_eq!(
        run(&mut con, &["PEXPIREAT", "b", &past_ms.to_string()]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["EXISTS", "b"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXPIRE", "c", "-1"]), Value::Int(1));
    assert_eq!(run(&mut con, &["EXISTS", "c"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXPIRE", "d", "0"]), Value::Int(1));
    assert_eq!(run(&mut con, &["EXISTS", "d"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["EXPIREAT", "nosuch", &past.to_string()]),
        Value::Int(0)
    );
    // A GT condition is checked before the deletion: a key without TTL counts as infinite.
    assert_eq!(
        run(&mut con, &["EXPIREAT", "e", "100", "GT"]),
        Value::Int(0)
    );
    assert_eq!(run(&mut con, &["EXISTS", "e"]), Value::Int(1));
    assert_eq!(
        run(&mut con, &["DBSIZE"]),
        Value::Int(1),
        "the deleted keys are gone, not merely hidden"
    );
    assert_eq!(
        run_as::<Vec<String>>(&mut con, &["KEYS", "*"]),
        vec!["e".to_string()]
    );
}

#[test]
fn key_expires_after_pexpire_100_and_a_sleep() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "k", "v"]);
    run(&mut con, &["SET", "keep", "v"]);
    assert_eq!(run(&mut con, &["PEXPIRE", "k", "100"]), Value::Int(1));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(run(&mut con, &["GET", "k"]), Value::Nil);
    assert_eq!(run(&mut con, &["EXISTS", "k"]), Value::Int(0));
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-2));
    assert_eq!(run(&mut con, &["TYPE", "k"]), simple("none"));
    assert_eq!(
        run_as::<Vec<String>>(&mut con, &["KEYS", "*"]),
        vec!["keep".to_string()]
    );
    assert_err(&mut con, &["RENAME", "k", "k2"], "ERR no such key");
}

#[test]
fn select_isolates_the_16_databases() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "k", "db0"]);
    assert_eq!(run(&mut con, &["SELECT", "1"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["GET", "k"]),
        Value::Nil,
        "db1 does not see db0"
    );
    run(&mut con, &["SET", "k", "db1"]);
    run(&mut con, &["SET", "only1", "x"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(2));
    assert_eq!(run(&mut con, &["SELECT", "15"]), Value::Okay);
    assert_eq!(run(&mut con, &["GET", "k"]), Value::Nil);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SELECT", "0"]), Value::Okay);
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("db0"));
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(1));
    assert_eq!(run(&mut con, &["EXISTS", "only1"]), Value::Int(0));

    assert_err(&mut con, &["SELECT", "16"], "ERR DB index is out of range");
    assert_err(&mut con, &["SELECT", "-1"], "ERR DB index is out of range");
    assert_err(
        &mut con,
        &["SELECT", "abc"],
        "ERR value is not an integer or out of range",
    );
    assert_eq!(
        get_s(&mut con, "k").as_deref(),
        Some("db0"),
        "a refused SELECT keeps the database"
    );

    // The selected database belongs to the connection.
    let mut other = srv.client();
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(get_s(&mut other, "k").as_deref(), Some("db0"));
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("db1"));
    assert_eq!(run(&mut other, &["RENAME", "k", "moved"]), Value::Okay);
    assert_eq!(
        get_s(&mut con, "k").as_deref(),
        Some("db1"),
        "RENAME stays inside its database"
    );
}

#[test]
fn flushdb_empties_one_database_flushall_all_of_them() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["MSET", "a", "1", "b", "2"]);
    run(&mut con, &["SELECT", "1"]);
    run(&mut con, &["SET", "c", "3"]);
    run(&mut con, &["SELECT", "2"]);
    run(&mut con, &["SET", "d", "4", "EX", "100"]);

    run(&mut con, &["SELECT", "1"]);
    assert_eq!(run(&mut con, &["FLUSHDB"]), Value::Okay);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(
        run(&mut con, &["DBSIZE"]),
        Value::Int(2),
        "FLUSHDB in db1 spares db0"
    );
    run(&mut con, &["SELECT", "2"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(1), "and db2");

    assert_eq!(run(&mut con, &["FLUSHALL"]), Value::Okay);
    for db in ["0", "1", "2"] {
        run(&mut con, &["SELECT", db]);
        assert_eq!(
            run(&mut con, &["DBSIZE"]),
            Value::Int(0),
            "db{db} after FLUSHALL"
        );
        assert_eq!(
            run_as::<Vec<String>>(&mut con, &["KEYS", "*"]),
            Vec::<String>::new()
        );
    }
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(run(&mut con, &["GET", "a"]), Value::Nil);
    run(&mut con, &["SET", "a", "new"]);
    assert_eq!(
        get_s(&mut con, "a").as_deref(),
        Some("new"),
        "writes work after FLUSHALL"
    );
}

/// Runs SCAN to completion with the given options; returns every key returned, in order.
fn full_scan(con: &mut Connection, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for round in 0..100_000 {
        let (next, batch): (String, Vec<String>) = {
            let mut args = vec!["SCAN", cursor.as_str()];
            args.extend_from_slice(opts);
            run_as(con, &args)
        };
        keys.extend(batch);
        if next == "0" {
            return keys;
        }
        assert!(
            Instant::now() < deadline,
            "SCAN {opts:?} not finished after {round} rounds"
        );
        cursor = next;
    }
    panic!("SCAN {opts:?} did not return cursor 0 within 100000 rounds");
}

/// Asserts `got` holds exactly `expected`, each key once.
#[track_caller]
fn assert_each_once(got: &[String], expected: &BTreeSet<String>, what: &str) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for k in got {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "{what}: keys returned more than once: {dups:?}"
    );
    let got_set: BTreeSet<String> = got.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, unexpected {extra:?}"
    );
}

#[test]
fn scan_returns_every_key_exactly_once() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    let users: BTreeSet<String> = (0..300).map(|i| format!("user:{i}")).collect();
    let items: BTreeSet<String> = (0..200).map(|i| format!("item:{i}")).collect();
    let all: BTreeSet<String> = users.union(&items).cloned().collect();
    let all_vec: Vec<&String> = all.iter().collect();
    for chunk in all_vec.chunks(50) {
        let mut c = redis::cmd("MSET");
        for k in chunk {
            c.arg(k.as_str()).arg("v");
        }
        let _: Value = c.query(&mut con).expect("MSET batch");
    }
    // A key in another database must not show up.
    run(&mut con, &["SELECT", "3"]);
    run(&mut con, &["SET", "user:elsewhere", "v"]);
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(500));

    assert_each_once(&full_scan(&mut con, &[]), &all, "SCAN");
    assert_each_once(
        &full_scan(&mut con, &["COUNT", "17"]),
        &all,
        "SCAN COUNT 17",
    );
    assert_each_once(
        &full_scan(&mut con, &["COUNT", "1000"]),
        &all,
        "SCAN COUNT 1000",
    );
    assert_each_once(
        &full_scan(&mut con, &["MATCH", "user:*", "COUNT", "25"]),
        &users,
        "SCAN MATCH user:*",
    );
    let item_1x: BTreeSet<String> = (10..20).map(|i| format!("item:{i}")).collect();
    assert_each_once(
        &full_scan(&mut con, &["MATCH", "item:1?", "COUNT", "7"]),
        &item_1x,
        "SCAN MATCH item:1?",
    );
    assert_each_once(
        &full_scan(&mut con, &["TYPE", "string", "COUNT", "50"]),
        &all,
        "SCAN TYPE string",
    );
    assert_each_once(
        &full_scan(&mut con, &["TYPE", "hash"]),
        &BTreeSet::new(),
        "SCAN TYPE hash",
    );
    assert_each_once(
        &full_scan(&mut con, &["MATCH", "nomatch*"]),
        &BTreeSet::new(),
        "SCAN MATCH nomatch*",
    );

    assert_err(&mut con, &["SCAN", "abc"], "ERR invalid cursor");
    assert_err(&mut con, &["SCAN", "0", "COUNT", "0"], "ERR syntax error");
    assert_err(
        &mut con,
        &["SCAN", "0", "COUNT", "abc"],
        "ERR value is not an integer or out of range",
    );
}

#[test]
fn keys_glob_patterns() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run_as::<Vec<String>>(&mut con, &["KEYS", "*"]),
        Vec::<String>::new()
    );
    run(
        &mut con,
        &[
            "MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
            "other", "6",
        ],
    );
    let keys = |con: &mut Connection, pat: &str| -> Vec<String> {
        let mut v: Vec<String> = run_as(con, &["KEYS", pat]);
        v.sort();
        v
    };
    let s = |v: &[&str]| -> Vec<String> { v.iter().map(|x| x.to_string()).collect() };
    assert_eq!(keys(&mut con, "h?llo"), s(&["hallo", "hello", "hxllo"]));
    assert_eq!(
        keys(&mut con, "h*llo"),
        s(&["hallo", "heeeello", "hello", "hllo", "hxllo"])
    );
    assert_eq!(keys(&mut con, "h[ae]llo"), s(&["hallo", "hello"]));
    assert_eq!(keys(&mut con, "h[^e]llo"), s(&["hallo", "hxllo"]));
    assert_eq!(keys(&mut con, "h[a-b]llo"), s(&["hallo"]));
    assert_eq!(
        keys(&mut con, "*"),
        s(&["hallo", "heeeello", "hello", "hllo", "hxllo", "other"])
    );
    assert_eq!(keys(&mut con, "nomatch*"), Vec::<String>::new());
    run(&mut con, &["SET", "a*b", "x"]);
    assert_eq!(
        keys(&mut con, "a\\*b"),
        s(&["a*b"]),
        "an escaped * matches itself"
    );
}

#[test]
fn randomkey_and_dbsize() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["RANDOMKEY"]), Value::Nil);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    run(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(3));
    for _ in 0..10 {
        let k: String = run_as(&mut con, &["RANDOMKEY"]);
        assert!(
            ["a", "b", "c"].contains(&k.as_str()),
            "RANDOMKEY returned {k:?}"
        );
    }
    run(&mut con, &["DEL", "a", "b"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(1));
    assert_eq!(run(&mut con, &["RANDOMKEY"]), bulk("c"));
}

/// What [`write_fixture`] wrote and must come back after a restart.
struct Fixture {
    ttl_pexpiretime: i64,
    abs_expiretime: u64,
}

/// Writes keys covering values, TTLs, a persisted key, an already-expired key, another database.
fn write_fixture(con: &mut Connection, tag: &str) -> Fixture {
    let key = |name: &str| format!("{tag}:{name}");
    run(con, &["SET", &key("plain"), "value"]);
    let bin: &[u8] = b"\x00\x01\xff\r\nbin";
    let _: Value = cmd_b(&[b"SET", key("binary").as_bytes(), bin])
        .query(con)
        .unwrap();
    run(con, &["SET", &key("ttl"), "v", "EX", "1000"]);
    let ttl_pexpiretime: i64 = run_as(con, &["PEXPIRETIME", &key("ttl")]);
    let abs_expiretime = now_secs() + 5000;
    run(con, &["SET", &key("abs"), "v"]);
    assert_eq!(
        run(con, &["EXPIREAT", &key("abs"), &abs_expiretime.to_string()]),
        Value::Int(1)
    );
    run(con, &["SET", &key("persisted"), "v", "EX", "1000"]);
    assert_eq!(run(con, &["PERSIST", &key("persisted")]), Value::Int(1));
    run(con, &["SET", &key("gone"), "v", "PX", "100"]);
    run(con, &["SET", &key("deleted"), "v"]);
    run(con, &["DEL", &key("deleted")]);
    run(con, &["INCRBY", &key("counter"), "41"]);
    run(con, &["INCR", &key("counter")]);
    run(con, &["APPEND", &key("log"), "abc"]);
    run(con, &["APPEND", &key("log"), "def"]);
    run(con, &["SELECT", "3"]);
    run(con, &["SET", &key("in3"), "db3"]);
    run(con, &["SELECT", "0"]);
    thread::sleep(Duration::from_millis(250)); // let `gone` expire
    Fixture {
        ttl_pexpiretime,
        abs_expiretime,
    }
}

fn verify_fixture(con: &mut Connection, tag: &str, f: &Fixture) {
    let key = |name: &str| format!("{tag}:{name}");
    assert_eq!(
        get_s(con, &key("plain")).as_deref(),
        Some("value"),
        "{tag}: plain value"
    );
    assert_eq!(
        get_b(con, &key("binary")).as_deref(),
        Some(&b"\x00\x01\xff\r\nbin"[..]),
        "{tag}: binary value"
    );
    assert_eq!(
        run(con, &["PEXPIRETIME", &key("ttl")]),
        Value::Int(f.ttl_pexpiretime),
        "{tag}: a relative TTL is kept as the same absolute expiry"
    );
    assert_int_in(
        run(con, &["TTL", &key("ttl")]),
        900,
        1000,
        "TTL after restart",
    );
    assert_eq!(
        run(con, &["EXPIRETIME", &key("abs")]),
        Value::Int(f.abs_expiretime as i64),
        "{tag}: EXPIREAT survives"
    );
    assert_eq!(
        run(con, &["TTL", &key("persisted")]),
        Value::Int(-1),
        "{tag}: PERSIST survives"
    );
    assert_eq!(get_s(con, &key("persisted")).as_deref(), Some("v"));
    assert_eq!(
        run(con, &["GET", &key("gone")]),
        Value::Nil,
        "{tag}: an expired key stays expired"
    );
    assert_eq!(
        run(con, &["EXISTS", &key("deleted")]),
        Value::Int(0),
        "{tag}: DEL survives"
    );
    assert_eq!(
        get_s(con, &key("counter")).as_deref(),
        Some("42"),
        "{tag}: counter"
    );
    assert_eq!(
        get_s(con, &key("log")).as_deref(),
        Some("abcdef"),
        "{tag}: appended value"
    );
    assert_eq!(
        run(con, &["EXISTS", &key("in3")]),
        Value::Int(0),
        "{tag}: db3 key not in db0"
    );
    run(con, &["SELECT", "3"]);
    assert_eq!(
        get_s(con, &key("in3")).as_deref(),
        Some("db3"),
        "{tag}: db3 key"
    );
    run(con, &["SELECT", "0"]);
}

#[test]
fn data_and_ttls_survive_a_clean_restart() {
    let mut srv = Server::start(&[]);
    let f1 = {
        let mut con = srv.client();
        write_fixture(&mut con, "first")
    };
    srv.shutdown();
    srv.restart();
    let f2 = {
        let mut con = srv.client();
        verify_fixture(&mut con, "first", &f1);
        write_fixture(&mut con, "second")
    };
    srv.shutdown();
    srv.restart();
    let mut con = srv.client();
    verify_fixture(&mut con, "first", &f1);
    verify_fixture(&mut con, "second", &f2);
}

#[test]
fn data_and_ttls_survive_kill_9_with_appendfsync_always() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let f1 = {
        let mut con = srv.client();
        write_fixture(&mut con, "first")
    };
    srv.kill9();
    srv.restart();
    let f2 = {
        let mut con = srv.client();
        verify_fixture(&mut con, "first", &f1);
        write_fixture(&mut con, "second")
    };
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    verify_fixture(&mut con, "first", &f1);
    verify_fixture(&mut con, "second", &f2);
}

#[test]
fn move_carries_a_collection_and_its_ttl_to_another_database_across_a_restart() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "k", "a", "b", "c"]);
    run(&mut con, &["EXPIRE", "k", "1000"]);
    run(&mut con, &["SELECT", "1"]);
    run(&mut con, &["SET", "taken", "x"]);
    run(&mut con, &["SELECT", "0"]);
    run(&mut con, &["SET", "taken", "y"]);
    assert_eq!(run(&mut con, &["MOVE", "k", "1"]), Value::Int(1));
    assert_eq!(
        run(&mut con, &["MOVE", "taken", "1"]),
        Value::Int(0),
        "target has the key"
    );
    assert_eq!(run(&mut con, &["MOVE", "nokey", "1"]), Value::Int(0));
    assert_eq!(
        run_err(&mut con, &["MOVE", "taken", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        run_err(&mut con, &["MOVE", "taken", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(run(&mut con, &["EXISTS", "k"]), Value::Int(0));
    drop(con);
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(run(&mut con, &["SCARD", "k"]), Value::Int(3));
    match run(&mut con, &["TTL", "k"]) {
        Value::Int(t) => assert!((990..=1000).contains(&t), "TTL moved with the key: {t}"),
        other => panic!("TTL replied {other:?}"),
    }
    assert_eq!(
        run(&mut con, &["GET", "taken"]),
        Value::BulkString(b"x".to_vec())
    );
}
