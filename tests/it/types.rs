//! Behaviour across types: TYPE, the WRONGTYPE matrix, RENAME and COPY of collections (every
//! element and the TTL kept, no element of an overwritten or deleted collection reappearing),
//! SCAN TYPE, OBJECT ENCODING, and delete-then-recreate inside one pipeline and one MULTI.

use std::collections::BTreeMap;

use redis::{Connection, Value};

use crate::common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn simple(s: &str) -> Value {
    Value::SimpleString(s.to_string())
}

/// Creates `key` holding a value of `ty` ("string", "hash", "set", "list", "zset").
fn create(con: &mut Connection, ty: &str, key: &str) {
    match ty {
        "string" => assert_eq!(run(con, &["SET", key, "v"]), Value::Okay),
        "hash" => assert_eq!(run(con, &["HSET", key, "f", "v"]), Value::Int(1)),
        "set" => assert_eq!(run(con, &["SADD", key, "m"]), Value::Int(1)),
        "list" => assert_eq!(run(con, &["RPUSH", key, "e"]), Value::Int(1)),
        "zset" => assert_eq!(run(con, &["ZADD", key, "1", "m"]), Value::Int(1)),
        other => panic!("no creator for type {other}"),
    }
}

/// Commands of each type that must answer WRONGTYPE on a key of another type.
fn probes(ty: &str, k: &str) -> Vec<Vec<String>> {
    let cmds: Vec<Vec<&str>> = match ty {
        "string" => vec![
            vec!["GET", k],
            vec!["APPEND", k, "x"],
            vec!["INCR", k],
            vec!["INCRBYFLOAT", k, "1"],
            vec!["STRLEN", k],
            vec!["GETRANGE", k, "0", "1"],
            vec!["SETRANGE", k, "0", "x"],
            vec!["GETSET", k, "x"],
            vec!["GETDEL", k],
            vec!["GETEX", k],
        ],
        "hash" => vec![
            vec!["HSET", k, "f", "v"],
            vec!["HGET", k, "f"],
            vec!["HGETALL", k],
            vec!["HLEN", k],
            vec!["HDEL", k, "f"],
            vec!["HINCRBY", k, "f", "1"],
        ],
        "set" => vec![
            vec!["SADD", k, "m"],
            vec!["SMEMBERS", k],
            vec!["SCARD", k],
            vec!["SISMEMBER", k, "m"],
            vec!["SREM", k, "m"],
            vec!["SPOP", k],
            vec!["SINTER", k],
        ],
        // Not the commands that also take sets as sources (ZUNIONSTORE, ZINTER, ZDIFF, ...):
        // those accept a set holder.
        "list" => vec![
            vec!["LPUSH", k, "x"],
            vec!["RPUSHX", k, "x"],
            vec!["LRANGE", k, "0", "-1"],
            vec!["LLEN", k],
            vec!["LPOP", k],
            vec!["RPOP", k, "2"],
            vec!["LINDEX", k, "0"],
            vec!["LSET", k, "0", "x"],
            vec!["LREM", k, "0", "x"],
            vec!["LTRIM", k, "0", "1"],
            vec!["LINSERT", k, "BEFORE", "e", "x"],
            vec!["LPOS", k, "e"],
            vec!["LMOVE", k, k, "LEFT", "RIGHT"],
            vec!["RPOPLPUSH", k, k],
            vec!["LMPOP", "1", k, "LEFT"],
            vec!["BLPOP", k, "0.01"],
            vec!["BRPOP", k, "0.01"],
            vec!["BLMOVE", k, k, "LEFT", "LEFT", "0.01"],
            vec!["BLMPOP", "0.01", "1", k, "RIGHT"],
        ],
        "zset" => vec![
            vec!["ZADD", k, "1", "m"],
            vec!["ZINCRBY", k, "1", "m"],
            vec!["ZRANGE", k, "0", "-1"],
            vec!["ZRANGE", k, "-inf", "+inf", "BYSCORE"],
            vec!["ZRANGEBYLEX", k, "-", "+"],
            vec!["ZREVRANGEBYSCORE", k, "+inf", "-inf"],
            vec!["ZCARD", k],
            vec!["ZSCORE", k, "m"],
            vec!["ZMSCORE", k, "m"],
            vec!["ZRANK", k, "m"],
            vec!["ZCOUNT", k, "-inf", "+inf"],
            vec!["ZLEXCOUNT", k, "-", "+"],
            vec!["ZREM", k, "m"],
            vec!["ZREMRANGEBYRANK", k, "0", "0"],
            vec!["ZPOPMIN", k],
            vec!["ZPOPMAX", k, "2"],
            vec!["ZRANDMEMBER", k],
            vec!["ZRANGESTORE", "zrs-dst", k, "0", "-1"],
            vec!["ZMPOP", "1", k, "MIN"],
            vec!["BZPOPMIN", k, "0.01"],
            vec!["BZPOPMAX", k, "0.01"],
            vec!["BZMPOP", "0.01", "1", k, "MAX"],
        ],
        other => panic!("no probes for type {other}"),
    };
    cmds.into_iter()
        .map(|c| c.into_iter().map(String::from).collect())
        .collect()
}

/// Every type, each with a creator and WRONGTYPE probes above.
const TYPES: &[&str] = &["string", "hash", "set", "list", "zset"];

#[test]
fn type_reports_every_type() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for ty in TYPES {
        let k = format!("key-{ty}");
        create(&mut con, ty, &k);
        assert_eq!(run(&mut con, &["TYPE", &k]), simple(ty), "TYPE of a {ty}");
    }
    assert_eq!(run(&mut con, &["TYPE", "nokey"]), simple("none"));
    // A type follows the key's current value.
    run(&mut con, &["SET", "key-hash", "now a string"]);
    assert_eq!(run(&mut con, &["TYPE", "key-hash"]), simple("string"));
    run(&mut con, &["DEL", "key-set"]);
    assert_eq!(run(&mut con, &["TYPE", "key-set"]), simple("none"));
    // Lists and sorted sets stop existing with their last element.
    run(&mut con, &["LPOP", "key-list"]);
    assert_eq!(run(&mut con, &["TYPE", "key-list"]), simple("none"));
    run(&mut con, &["ZREM", "key-zset", "m"]);
    assert_eq!(run(&mut con, &["TYPE", "key-zset"]), simple("none"));
    run(&mut con, &["ZADD", "key-list", "1", "x"]);
    assert_eq!(run(&mut con, &["TYPE", "key-list"]), simple("zset"));
}

#[test]
fn wrongtype_on_every_type_pair() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let mut checked = 0;
    for holder in TYPES {
        let k = format!("holds-{holder}");
        create(&mut con, holder, &k);
        for other in TYPES.iter().filter(|t| *t != holder) {
            for c in probes(other, &k) {
                let args: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
                assert_err(&mut con, &args, WRONGTYPE);
                checked += 1;
            }
        }
        assert_eq!(
            run(&mut con, &["TYPE", &k]),
            simple(holder),
            "unchanged after refusals"
        );
    }
    // A list destination of another type: refused, and the source list is left as it was.
    run(&mut con, &["RPUSH", "src-list", "a", "b"]);
    for holder in TYPES.iter().filter(|t| **t != "list") {
        let k = format!("holds-{holder}");
        for c in [
            vec!["LMOVE", "src-list", &k, "LEFT", "RIGHT"],
            vec!["RPOPLPUSH", "src-list", &k],
            vec!["BLMOVE", "src-list", &k, "RIGHT", "LEFT", "0.01"],
            vec!["BRPOPLPUSH", "src-list", &k, "0.01"],
        ] {
            assert_err(&mut con, &c, WRONGTYPE);
            checked += 1;
        }
        assert_eq!(
            run(&mut con, &["LRANGE", "src-list", "0", "-1"]),
            Value::Array(vec![bulk("a"), bulk("b")]),
            "source list after a refused move to a {holder}"
        );
    }
    // Sources of ZUNION/ZINTER/ZDIFF and their STORE forms may be sets, not other types.
    for holder in ["string", "hash", "list"] {
        let k = format!("holds-{holder}");
        for c in [
            vec!["ZUNIONSTORE", "zdst", "1", &k],
            vec!["ZINTERSTORE", "zdst", "2", "holds-zset", &k],
            vec!["ZDIFFSTORE", "zdst", "2", "holds-zset", &k],
            vec!["ZUNION", "2", "holds-zset", &k],
            vec!["ZINTERCARD", "1", &k],
        ] {
            assert_err(&mut con, &c, WRONGTYPE);
            checked += 1;
        }
    }
    assert_eq!(
        run(
            &mut con,
            &["ZUNION", "2", "holds-zset", "holds-set", "WITHSCORES"]
        ),
        Value::Array(vec![bulk("m"), bulk("2")]),
        "a set member scores 1: m scores 1 + 1"
    );
    // The probes themselves work on their own type (they are not refused for another reason).
    for ty in TYPES {
        let k = format!("own-{ty}");
        create(&mut con, ty, &k);
        for c in probes(ty, &k) {
            let args: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
            if let Err(e) = cmd(&args).query::<Value>(&mut con) {
                let e = err_text(&e);
                assert!(!e.starts_with("WRONGTYPE"), "{args:?} on its own type: {e}");
            }
        }
    }
    eprintln!("{checked} WRONGTYPE cases over {} types", TYPES.len());
}

fn hash_of(con: &mut Connection, k: &str) -> BTreeMap<String, String> {
    run_pairs(con, &["HGETALL", k])
}

#[track_caller]
fn assert_ttl_near(con: &mut Connection, k: &str, hi: i64) {
    let ttl: i64 = run_as(con, &["TTL", k]);
    assert!(
        (hi - 10..=hi).contains(&ttl),
        "TTL of {k} is {ttl}, expected about {hi}"
    );
}

fn fill_hash(con: &mut Connection, k: &str, n: usize) -> BTreeMap<String, String> {
    let mut c = redis::cmd("HSET");
    c.arg(k);
    let mut m = BTreeMap::new();
    for i in 0..n {
        c.arg(format!("f{i}")).arg(format!("v{i}"));
        m.insert(format!("f{i}"), format!("v{i}"));
    }
    c.query::<i64>(con).expect("HSET");
    m
}

fn fill_set(con: &mut Connection, k: &str, n: usize) -> Vec<String> {
    let mut c = redis::cmd("SADD");
    c.arg(k);
    let mut m: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    for x in &m {
        c.arg(x);
    }
    c.query::<i64>(con).expect("SADD");
    m.sort();
    m
}

#[test]
fn rename_of_hashes_and_sets_keeps_elements_and_ttl() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let h = fill_hash(&mut con, "h", 300);
    let s = fill_set(&mut con, "s", 300);
    run(&mut con, &["EXPIRE", "h", "1000"]);
    run(&mut con, &["EXPIRE", "s", "2000"]);

    assert_eq!(run(&mut con, &["RENAME", "h", "h2"]), Value::Okay);
    assert_eq!(run(&mut con, &["RENAME", "s", "s2"]), Value::Okay);
    assert_eq!(run(&mut con, &["EXISTS", "h", "s"]), Value::Int(0));
    assert_eq!(hash_of(&mut con, "h2"), h);
    assert_eq!(run(&mut con, &["HLEN", "h2"]), Value::Int(300));
    assert_eq!(run_sorted(&mut con, &["SMEMBERS", "s2"]), s);
    assert_eq!(run(&mut con, &["SCARD", "s2"]), Value::Int(300));
    assert_ttl_near(&mut con, "h2", 1000);
    assert_ttl_near(&mut con, "s2", 2000);

    // The old names are free: new collections there start empty.
    assert_eq!(run(&mut con, &["HSET", "h", "x", "1"]), Value::Int(1));
    assert_eq!(hash_of(&mut con, "h").len(), 1);
    assert_eq!(run(&mut con, &["SADD", "s", "only"]), Value::Int(1));
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "s"]),
        vec!["only".to_string()]
    );

    // RENAME onto an existing collection replaces it entirely (no merge of elements).
    fill_hash(&mut con, "target", 10);
    run(&mut con, &["HSET", "target", "zzz", "old"]);
    assert_eq!(run(&mut con, &["RENAME", "h", "target"]), Value::Okay);
    let mut want = BTreeMap::new();
    want.insert("x".to_string(), "1".to_string());
    assert_eq!(hash_of(&mut con, "target"), want);
    assert_eq!(run(&mut con, &["HLEN", "target"]), Value::Int(1));
    assert_eq!(run(&mut con, &["TTL", "target"]), Value::Int(-1));
    assert_eq!(run(&mut con, &["RENAME", "s2", "s"]), Value::Okay);
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "s"]),
        s,
        "no 'only' left over"
    );
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(300));
    assert_ttl_near(&mut con, "s", 2000);

    // RENAMENX and renaming a set onto a hash (types change with the key).
    assert_eq!(run(&mut con, &["RENAMENX", "s", "h2"]), Value::Int(0));
    assert_eq!(run(&mut con, &["RENAME", "s", "h2"]), Value::Okay);
    assert_eq!(run(&mut con, &["TYPE", "h2"]), simple("set"));
    assert_eq!(run_sorted(&mut con, &["SMEMBERS", "h2"]), s);
    assert_eq!(run(&mut con, &["RENAMENX", "h2", "fresh"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SCARD", "fresh"]), Value::Int(300));
}

#[test]
fn copy_of_hashes_and_sets_keeps_elements_and_ttl() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let h = fill_hash(&mut con, "h", 200);
    let s = fill_set(&mut con, "s", 200);
    run(&mut con, &["EXPIRE", "h", "1000"]);

    assert_eq!(run(&mut con, &["COPY", "h", "hc"]), Value::Int(1));
    assert_eq!(run(&mut con, &["COPY", "s", "sc"]), Value::Int(1));
    assert_eq!(hash_of(&mut con, "hc"), h);
    assert_eq!(run_sorted(&mut con, &["SMEMBERS", "sc"]), s);
    assert_ttl_near(&mut con, "hc", 1000);
    assert_eq!(run(&mut con, &["TTL", "sc"]), Value::Int(-1));

    // The copy is independent of the source both ways.
    run(&mut con, &["HSET", "hc", "f0", "changed", "extra", "1"]);
    run(&mut con, &["HDEL", "h", "f1"]);
    assert_eq!(run(&mut con, &["HGET", "h", "f0"]), bulk("v0"));
    assert_eq!(run(&mut con, &["HEXISTS", "h", "extra"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HGET", "hc", "f1"]), bulk("v1"));
    assert_eq!(run(&mut con, &["HLEN", "hc"]), Value::Int(201));
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(199));
    run(&mut con, &["SREM", "sc", "m0"]);
    assert_eq!(run(&mut con, &["SISMEMBER", "s", "m0"]), Value::Int(1));
    run(&mut con, &["DEL", "s"]);
    assert_eq!(
        run(&mut con, &["SCARD", "sc"]),
        Value::Int(199),
        "deleting the source leaves the copy"
    );
    run(&mut con, &["COPY", "sc", "s"]);

    // Existing destination: 0 without REPLACE, replaced entirely with it.
    assert_eq!(run(&mut con, &["COPY", "s", "hc"]), Value::Int(0));
    assert_eq!(run(&mut con, &["TYPE", "hc"]), simple("hash"));
    assert_eq!(
        run(&mut con, &["COPY", "s", "hc", "REPLACE"]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["TYPE", "hc"]), simple("set"));
    assert_eq!(run(&mut con, &["SCARD", "hc"]), Value::Int(199));
    assert_eq!(
        run(&mut con, &["TTL", "hc"]),
        Value::Int(-1),
        "REPLACE takes the source's TTL"
    );
    run(&mut con, &["SADD", "small", "a"]);
    assert_eq!(
        run(&mut con, &["COPY", "small", "hc", "REPLACE"]),
        Value::Int(1)
    );
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "hc"]),
        vec!["a".to_string()],
        "no member of the replaced set remains"
    );

    // COPY ... DB 1.
    assert_eq!(run(&mut con, &["COPY", "h", "h", "DB", "1"]), Value::Int(1));
    assert_eq!(
        run(&mut con, &["COPY", "s", "sdb1", "DB", "1"]),
        Value::Int(1)
    );
    assert_eq!(
        run(&mut con, &["COPY", "s", "sdb1", "DB", "1"]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["COPY", "small", "sdb1", "DB", "1", "REPLACE"]),
        Value::Int(1)
    );
    let h0 = hash_of(&mut con, "h");
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(hash_of(&mut con, "h"), h0);
    assert_ttl_near(&mut con, "h", 1000);
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "sdb1"]),
        vec!["a".to_string()]
    );
    run(&mut con, &["HSET", "h", "db1only", "x"]);
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(run(&mut con, &["HEXISTS", "h", "db1only"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXISTS", "sdb1"]), Value::Int(0));

    assert_eq!(run(&mut con, &["COPY", "nokey", "x"]), Value::Int(0));
    assert_err(
        &mut con,
        &["COPY", "h", "h"],
        "ERR source and destination objects are the same",
    );
    assert_err(
        &mut con,
        &["COPY", "h", "x", "DB", "99"],
        "ERR DB index is out of range",
    );
    assert_err(&mut con, &["COPY", "h", "x", "FOO"], "ERR syntax error");
}

/// RPUSHes `n` elements `e0..` (in that order) to `k`; returns the list.
fn fill_list(con: &mut Connection, k: &str, n: usize) -> Vec<String> {
    let l: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    let mut c = redis::cmd("RPUSH");
    c.arg(k).arg(&l);
    c.query::<i64>(con).expect("RPUSH");
    l
}

/// ZADDs `n` members `m0..` with scores `n - i` (so member and score order differ) to `k`;
/// returns the ZRANGE 0 -1 WITHSCORES reply as text.
fn fill_zset(con: &mut Connection, k: &str, n: usize) -> Vec<String> {
    let mut c = redis::cmd("ZADD");
    c.arg(k);
    for i in 0..n {
        c.arg(n - i).arg(format!("m{i}"));
    }
    c.query::<i64>(con).expect("ZADD");
    (0..n)
        .rev()
        .flat_map(|i| [format!("m{i}"), (n - i).to_string()])
        .collect()
}

fn list_of(con: &mut Connection, k: &str) -> Vec<String> {
    run_as(con, &["LRANGE", k, "0", "-1"])
}

fn zset_of(con: &mut Connection, k: &str) -> Vec<String> {
    run_as(con, &["ZRANGE", k, "0", "-1", "WITHSCORES"])
}

#[test]
fn rename_and_copy_of_lists_and_zsets_keep_elements_and_ttl() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let l = fill_list(&mut con, "l", 300);
    let z = fill_zset(&mut con, "z", 300);
    assert_eq!(zset_of(&mut con, "z"), z);
    run(&mut con, &["EXPIRE", "l", "1000"]);
    run(&mut con, &["EXPIRE", "z", "2000"]);

    // RENAME keeps order, scores and TTL; the old names are free and start empty.
    assert_eq!(run(&mut con, &["RENAME", "l", "l2"]), Value::Okay);
    assert_eq!(run(&mut con, &["RENAME", "z", "z2"]), Value::Okay);
    assert_eq!(run(&mut con, &["EXISTS", "l", "z"]), Value::Int(0));
    assert_eq!(list_of(&mut con, "l2"), l);
    assert_eq!(run(&mut con, &["LLEN", "l2"]), Value::Int(300));
    assert_eq!(run(&mut con, &["LINDEX", "l2", "-1"]), bulk("e299"));
    assert_eq!(zset_of(&mut con, "z2"), z);
    assert_eq!(run(&mut con, &["ZCARD", "z2"]), Value::Int(300));
    assert_eq!(run(&mut con, &["ZSCORE", "z2", "m0"]), bulk("300"));
    assert_eq!(run(&mut con, &["ZRANK", "z2", "m0"]), Value::Int(299));
    assert_ttl_near(&mut con, "l2", 1000);
    assert_ttl_near(&mut con, "z2", 2000);
    assert_eq!(run(&mut con, &["RPUSH", "l", "only"]), Value::Int(1));
    assert_eq!(list_of(&mut con, "l"), vec!["only".to_string()]);
    assert_eq!(run(&mut con, &["ZADD", "z", "5", "only"]), Value::Int(1));
    assert_eq!(
        zset_of(&mut con, "z"),
        vec!["only".to_string(), "5".to_string()]
    );

    // RENAME onto an existing list or zset replaces it entirely.
    assert_eq!(run(&mut con, &["RENAME", "l", "l2"]), Value::Okay);
    assert_eq!(list_of(&mut con, "l2"), vec!["only".to_string()]);
    assert_eq!(run(&mut con, &["TTL", "l2"]), Value::Int(-1));
    fill_list(&mut con, "l", 300);
    assert_eq!(run(&mut con, &["RENAME", "z", "z2"]), Value::Okay);
    assert_eq!(run(&mut con, &["ZCARD", "z2"]), Value::Int(1));
    assert_eq!(run(&mut con, &["ZSCORE", "z2", "m0"]), Value::Nil);
    fill_zset(&mut con, "z", 300);
    // Across types: a zset renamed onto a list.
    assert_eq!(run(&mut con, &["RENAMENX", "z2", "l2"]), Value::Int(0));
    assert_eq!(run(&mut con, &["RENAME", "z2", "l2"]), Value::Okay);
    assert_eq!(run(&mut con, &["TYPE", "l2"]), simple("zset"));
    assert_eq!(
        zset_of(&mut con, "l2"),
        vec!["only".to_string(), "5".to_string()]
    );

    // COPY: equal and independent both ways, TTL kept.
    run(&mut con, &["EXPIRE", "l", "1000"]);
    assert_eq!(run(&mut con, &["COPY", "l", "lc"]), Value::Int(1));
    assert_eq!(run(&mut con, &["COPY", "z", "zc"]), Value::Int(1));
    assert_eq!(list_of(&mut con, "lc"), l);
    assert_eq!(zset_of(&mut con, "zc"), z);
    assert_ttl_near(&mut con, "lc", 1000);
    assert_eq!(run(&mut con, &["TTL", "zc"]), Value::Int(-1));
    run(&mut con, &["LPUSH", "lc", "front"]);
    run(&mut con, &["RPOP", "l"]);
    assert_eq!(run(&mut con, &["LLEN", "l"]), Value::Int(299));
    assert_eq!(run(&mut con, &["LLEN", "lc"]), Value::Int(301));
    assert_eq!(run(&mut con, &["LINDEX", "lc", "-1"]), bulk("e299"));
    assert_eq!(run(&mut con, &["LINDEX", "l", "0"]), bulk("e0"));
    run(&mut con, &["ZINCRBY", "zc", "1000", "m5"]);
    run(&mut con, &["ZREM", "z", "m6"]);
    assert_eq!(run(&mut con, &["ZSCORE", "z", "m5"]), bulk("295"));
    assert_eq!(run(&mut con, &["ZSCORE", "zc", "m6"]), bulk("294"));
    assert_eq!(run(&mut con, &["ZCARD", "z"]), Value::Int(299));

    // Existing destination: 0 without REPLACE, replaced entirely with it, across types.
    assert_eq!(run(&mut con, &["COPY", "z", "lc"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["COPY", "z", "lc", "REPLACE"]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["TYPE", "lc"]), simple("zset"));
    assert_eq!(run(&mut con, &["TTL", "lc"]), Value::Int(-1));
    assert_eq!(run(&mut con, &["ZCARD", "lc"]), Value::Int(299));
    run(&mut con, &["RPUSH", "small", "x"]);
    assert_eq!(
        run(&mut con, &["COPY", "small", "lc", "REPLACE"]),
        Value::Int(1)
    );
    assert_eq!(list_of(&mut con, "lc"), vec!["x".to_string()]);

    // COPY ... DB 1.
    assert_eq!(run(&mut con, &["COPY", "l", "l", "DB", "1"]), Value::Int(1));
    assert_eq!(run(&mut con, &["COPY", "z", "z", "DB", "1"]), Value::Int(1));
    let (l0, z0) = (list_of(&mut con, "l"), zset_of(&mut con, "z"));
    run(&mut con, &["SELECT", "1"]);
    assert_eq!(list_of(&mut con, "l"), l0);
    assert_eq!(zset_of(&mut con, "z"), z0);
    assert_ttl_near(&mut con, "l", 1000);
    run(&mut con, &["RPUSH", "l", "db1only"]);
    run(&mut con, &["ZADD", "z", "1", "db1only"]);
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(list_of(&mut con, "l"), l0);
    assert_eq!(zset_of(&mut con, "z"), z0);

    // Deleted, then recreated under the same name: empty.
    run(&mut con, &["DEL", "l", "z"]);
    assert_eq!(run(&mut con, &["LPUSH", "l", "new"]), Value::Int(1));
    assert_eq!(list_of(&mut con, "l"), vec!["new".to_string()]);
    assert_eq!(run(&mut con, &["ZADD", "z", "0", "new"]), Value::Int(1));
    assert_eq!(
        zset_of(&mut con, "z"),
        vec!["new".to_string(), "0".to_string()]
    );
}

#[test]
fn a_collection_recreated_under_the_same_name_starts_empty() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    fill_hash(&mut con, "k", 50);
    assert_eq!(run(&mut con, &["SET", "k", "string now"]), Value::Okay);
    assert_eq!(run(&mut con, &["TYPE", "k"]), simple("string"));
    assert_eq!(run(&mut con, &["DEL", "k"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HSET", "k", "new", "1"]), Value::Int(1));
    assert_eq!(
        hash_of(&mut con, "k").len(),
        1,
        "{:?}",
        hash_of(&mut con, "k")
    );
    assert_eq!(run(&mut con, &["HGET", "k", "f0"]), Value::Nil);
    assert_eq!(run(&mut con, &["HLEN", "k"]), Value::Int(1));

    // SET directly over a hash, then a hash again after the string is overwritten by a set.
    fill_hash(&mut con, "k2", 50);
    run(&mut con, &["SET", "k2", "x"]);
    run(&mut con, &["DEL", "k2"]);
    fill_set(&mut con, "k2", 30);
    run(&mut con, &["DEL", "k2"]);
    assert_eq!(run(&mut con, &["SADD", "k2", "only"]), Value::Int(1));
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "k2"]),
        vec!["only".to_string()]
    );
    assert_eq!(run(&mut con, &["SISMEMBER", "k2", "m1"]), Value::Int(0));

    // FLUSHDB and FLUSHALL drop elements too.
    fill_set(&mut con, "k3", 40);
    run(&mut con, &["FLUSHDB"]);
    run(&mut con, &["SADD", "k3", "z"]);
    assert_eq!(run(&mut con, &["SCARD", "k3"]), Value::Int(1));
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "k3"]),
        vec!["z".to_string()]
    );
    fill_hash(&mut con, "k4", 40);
    run(&mut con, &["FLUSHALL"]);
    run(&mut con, &["HSET", "k4", "f", "v"]);
    assert_eq!(hash_of(&mut con, "k4").len(), 1);
}

#[test]
fn scan_type_filters_every_type() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for i in 0..30 {
        create(&mut con, "string", &format!("str:{i}"));
        create(&mut con, "hash", &format!("hash:{i}"));
        create(&mut con, "set", &format!("set:{i}"));
        create(&mut con, "list", &format!("list:{i}"));
        create(&mut con, "zset", &format!("zset:{i}"));
    }
    for (ty, prefix) in [
        ("hash", "hash:"),
        ("set", "set:"),
        ("string", "str:"),
        ("list", "list:"),
        ("zset", "zset:"),
    ] {
        for count in ["3", "1000"] {
            let mut got = scan_all(&mut con, "SCAN", None, &["TYPE", ty, "COUNT", count], 1000);
            got.sort();
            let mut want: Vec<String> = (0..30).map(|i| format!("{prefix}{i}")).collect();
            want.sort();
            assert_eq!(got, want, "SCAN TYPE {ty} COUNT {count}");
        }
    }
    let got = scan_all(
        &mut con,
        "SCAN",
        None,
        &["TYPE", "hash", "MATCH", "*:1*"],
        1000,
    );
    assert_eq!(got.len(), 11, "{got:?}");
    assert!(got.iter().all(|k| k.starts_with("hash:1")));
    assert_eq!(
        scan_all(&mut con, "SCAN", None, &["TYPE", "stream"], 1000),
        Vec::<String>::new()
    );
    // A list or zset emptied by a pop is gone from SCAN TYPE too.
    run(&mut con, &["LPOP", "list:3"]);
    run(&mut con, &["ZPOPMIN", "zset:4"]);
    let lists = scan_all(
        &mut con,
        "SCAN",
        None,
        &["TYPE", "list", "MATCH", "*:[34]"],
        1000,
    );
    assert_eq!(lists, vec!["list:4".to_string()]);
    let zsets = scan_all(
        &mut con,
        "SCAN",
        None,
        &["TYPE", "zset", "MATCH", "*:[34]"],
        1000,
    );
    assert_eq!(zsets, vec!["zset:3".to_string()]);
}

#[test]
fn object_encoding_is_a_stable_name() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let mut names = BTreeMap::new();
    {
        let mut con = srv.client();
        for ty in TYPES {
            let k = format!("k-{ty}");
            create(&mut con, ty, &k);
            let e = value_text(&run(&mut con, &["OBJECT", "ENCODING", &k]));
            assert!(!e.is_empty(), "OBJECT ENCODING of a {ty} is empty");
            assert!(e.chars().all(|c| c.is_ascii_lowercase()), "{ty}: {e:?}");
            names.insert(ty.to_string(), e);
        }
        // Growing a collection does not change the answer within a run.
        fill_hash(&mut con, "k-hash", 1000);
        fill_set(&mut con, "k-set", 1000);
        fill_list(&mut con, "k-list", 1000);
        fill_zset(&mut con, "k-zset", 1000);
        for ty in ["hash", "set", "list", "zset"] {
            let e = value_text(&run(&mut con, &["OBJECT", "ENCODING", &format!("k-{ty}")]));
            assert_eq!(&e, &names[ty], "{ty} encoding after growth");
        }
        assert_eq!(run(&mut con, &["OBJECT", "ENCODING", "nokey"]), Value::Nil);
    }
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    for ty in TYPES {
        let e = value_text(&run(&mut con, &["OBJECT", "ENCODING", &format!("k-{ty}")]));
        assert_eq!(&e, &names[*ty], "{ty} encoding after restart");
    }
}

#[test]
fn delete_and_recreate_in_one_pipeline_and_one_multi() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    fill_hash(&mut con, "h", 100);
    fill_set(&mut con, "s", 100);

    let (d1, n1, all1, d2, n2, all2): (i64, i64, Value, i64, i64, Value) = redis::pipe()
        .cmd("DEL")
        .arg("h")
        .cmd("HSET")
        .arg("h")
        .arg("fresh")
        .arg("1")
        .cmd("HGETALL")
        .arg("h")
        .cmd("DEL")
        .arg("s")
        .cmd("SADD")
        .arg("s")
        .arg("fresh")
        .cmd("SMEMBERS")
        .arg("s")
        .query(&mut con)
        .expect("pipeline");
    assert_eq!((d1, n1, d2, n2), (1, 1, 1, 1));
    assert_eq!(all1, Value::Array(vec![bulk("fresh"), bulk("1")]));
    assert_eq!(all2, Value::Array(vec![bulk("fresh")]));
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(1));

    fill_hash(&mut con, "h", 100);
    fill_set(&mut con, "s", 100);
    let r: Value = redis::pipe()
        .atomic()
        .cmd("DEL")
        .arg("h")
        .arg("s")
        .cmd("HSET")
        .arg("h")
        .arg("again")
        .arg("2")
        .cmd("HLEN")
        .arg("h")
        .cmd("HGET")
        .arg("h")
        .arg("f5")
        .cmd("SADD")
        .arg("s")
        .arg("again")
        .cmd("SMEMBERS")
        .arg("s")
        .cmd("SET")
        .arg("h")
        .arg("str")
        .cmd("DEL")
        .arg("h")
        .cmd("HSET")
        .arg("h")
        .arg("third")
        .arg("3")
        .cmd("HGETALL")
        .arg("h")
        .query(&mut con)
        .expect("MULTI/EXEC");
    assert_eq!(
        r,
        Value::Array(vec![
            Value::Int(2),
            Value::Int(1),
            Value::Int(1),
            Value::Nil,
            Value::Int(1),
            Value::Array(vec![bulk("again")]),
            Value::Okay,
            Value::Int(1),
            Value::Int(1),
            Value::Array(vec![bulk("third"), bulk("3")]),
        ])
    );
    assert_eq!(hash_of(&mut con, "h").len(), 1);
    assert_eq!(
        run_sorted(&mut con, &["SMEMBERS", "s"]),
        vec!["again".to_string()]
    );
}

/// Redis' INCRBYFLOAT looks the key up and checks its type before parsing the increment
/// (t_string.c incrbyfloatCommand), so a bad increment on a hash answers WRONGTYPE. (INCRBY,
/// HINCRBY and HINCRBYFLOAT parse the increment first, in both servers.)
#[test]
fn incrbyfloat_checks_the_type_before_the_increment() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    create(&mut con, "hash", "h");
    create(&mut con, "set", "s");
    assert_err(&mut con, &["INCRBYFLOAT", "h", "abc"], WRONGTYPE);
    assert_err(&mut con, &["INCRBYFLOAT", "s", ""], WRONGTYPE);
}

#[test]
fn increment_argument_errors_come_first_where_redis_puts_them_first() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    create(&mut con, "hash", "h");
    create(&mut con, "string", "str");
    let not_int = "ERR value is not an integer or out of range";
    assert_err(&mut con, &["INCRBY", "h", "abc"], not_int);
    assert_err(&mut con, &["DECRBY", "h", "abc"], not_int);
    assert_err(&mut con, &["HINCRBY", "str", "f", "abc"], not_int);
    assert_err(
        &mut con,
        &["HINCRBYFLOAT", "str", "f", "abc"],
        "ERR value is not a valid float",
    );
    assert_err(&mut con, &["INCRBYFLOAT", "h", "1"], WRONGTYPE);
    assert_err(&mut con, &["HINCRBY", "str", "f", "1"], WRONGTYPE);
}

/// The whole matrix (every probe on a key of every type, its own included) answers as a stock
/// redis-server does, error lines included, plus the list moves onto other types and the
/// zset-combining commands with every type of source.
#[test]
fn wrongtype_matrix_matches_stock_redis() {
    let srv = Server::start(&[]);
    let reference = RedisRef::start();
    let (mut ours, mut theirs) = (srv.client(), reference.client());
    let mut cases = 0;
    for holder in TYPES {
        for other in TYPES {
            // A fresh holder per probe family: probes of its own type change it.
            let k = format!("{holder}-vs-{other}");
            let mut cmds: Vec<Vec<String>> = probes(other, &k);
            let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            if *other == "list" {
                cmds.push(owned(&["RPUSH", "src", "a", "b"]));
                cmds.push(owned(&["LMOVE", "src", &k, "LEFT", "RIGHT"]));
                cmds.push(owned(&["BRPOPLPUSH", "src", &k, "0.01"]));
                cmds.push(owned(&["LMOVE", "nosuch", &k, "LEFT", "RIGHT"]));
            }
            if *other == "zset" {
                cmds.push(owned(&["ZADD", "zsrc", "1", "m", "2", "n"]));
                for c in ["ZUNION", "ZINTER", "ZDIFF"] {
                    cmds.push(owned(&[c, "2", "zsrc", &k, "WITHSCORES"]));
                    cmds.push(owned(&[c, "2", &k, "zsrc", "WITHSCORES"]));
                    cmds.push(owned(&[&format!("{c}STORE"), "zdst", "2", &k, "zsrc"]));
                    cmds.push(owned(&["ZRANGE", "zdst", "0", "-1", "WITHSCORES"]));
                }
                cmds.push(owned(&["ZINTERCARD", "2", &k, "zsrc"]));
                cmds.push(owned(&["ZMPOP", "2", &k, "zsrc", "MIN"]));
                cmds.push(owned(&["ZRANGESTORE", &k, "zsrc", "0", "-1"]));
                cmds.push(owned(&["TYPE", &k]));
            }
            for con in [&mut ours, &mut theirs] {
                run(con, &["FLUSHALL"]);
                create(con, holder, &k);
            }
            for c in &cmds {
                let args: Vec<&str> = c.iter().map(String::as_str).collect();
                let a = cmd(&args)
                    .query::<Value>(&mut ours)
                    .map_err(|e| err_text(&e));
                let b = cmd(&args)
                    .query::<Value>(&mut theirs)
                    .map_err(|e| err_text(&e));
                assert_eq!(a, b, "{args:?} on a {holder}");
                cases += 1;
            }
        }
    }
    eprintln!("{cases} matrix cases compared with redis");
}
