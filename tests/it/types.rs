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

/// Creates `key` holding a value of `ty` ("string", "hash", "set").
fn create(con: &mut Connection, ty: &str, key: &str) {
    match ty {
        "string" => assert_eq!(run(con, &["SET", key, "v"]), Value::Okay),
        "hash" => assert_eq!(run(con, &["HSET", key, "f", "v"]), Value::Int(1)),
        "set" => assert_eq!(run(con, &["SADD", key, "m"]), Value::Int(1)),
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
        other => panic!("no probes for type {other}"),
    };
    cmds.into_iter()
        .map(|c| c.into_iter().map(String::from).collect())
        .collect()
}

/// Types that exist on main now. TODO(lists, zsets): add "list" and "zset" here, to
/// `create` and to `probes` (LPUSH/LRANGE/LLEN/LPOP, ZADD/ZRANGE/ZCARD/ZSCORE) once
/// src/commands/lists.rs and zsets.rs land; `type_reports_every_type` and the matrix below then
/// cover them.
const TYPES: &[&str] = &["string", "hash", "set"];

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
fn scan_type_filters_hashes_and_sets() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for i in 0..30 {
        create(&mut con, "string", &format!("str:{i}"));
        create(&mut con, "hash", &format!("hash:{i}"));
        create(&mut con, "set", &format!("set:{i}"));
    }
    for (ty, prefix) in [("hash", "hash:"), ("set", "set:"), ("string", "str:")] {
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
        scan_all(&mut con, "SCAN", None, &["TYPE", "zset"], 1000),
        Vec::<String>::new()
    );
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
        for ty in ["hash", "set"] {
            let e = value_text(&run(&mut con, &["OBJECT", "ENCODING", &format!("k-{ty}")]));
            assert_eq!(&e, &names[ty], "{ty} encoding after growth");
        }
        assert_eq!(run(&mut con, &["OBJECT", "ENCODING", "nokey"]), Value::Nil);
    }
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    for ty in ["hash", "set"] {
        let e = value_text(&run(&mut con, &["OBJECT", "ENCODING", &format!("k-{ty}")]));
        assert_eq!(&e, &names[ty], "{ty} encoding after restart");
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
