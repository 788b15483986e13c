//! Hash commands through the `redis` crate: every command's replies and error lines, WRONGTYPE
//! against strings and sets, the key vanishing with its last field, expiry, HSCAN iteration,
//! a 200k-field hash deleted and recreated, and fields surviving kill -9.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use redis::Value;

use crate::common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn strs(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

#[test]
fn hset_hget_hmget_hlen_hexists_hstrlen() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["HSET", "h", "a", "1", "b", "22"]),
        Value::Int(2)
    );
    assert_eq!(
        run(&mut con, &["HSET", "h", "a", "111", "c", "3"]),
        Value::Int(1),
        "HSET counts only new fields"
    );
    assert_eq!(run(&mut con, &["HGET", "h", "a"]), bulk("111"));
    assert_eq!(run(&mut con, &["HGET", "h", "nosuch"]), Value::Nil);
    assert_eq!(run(&mut con, &["HGET", "nokey", "a"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["HMGET", "h", "a", "nosuch", "b"]),
        Value::Array(vec![bulk("111"), Value::Nil, bulk("22")])
    );
    assert_eq!(
        run(&mut con, &["HMGET", "nokey", "a", "b"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(3));
    assert_eq!(run(&mut con, &["HLEN", "nokey"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HEXISTS", "h", "b"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HEXISTS", "h", "z"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HEXISTS", "nokey", "b"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HSTRLEN", "h", "b"]), Value::Int(2));
    assert_eq!(run(&mut con, &["HSTRLEN", "h", "z"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HSTRLEN", "nokey", "z"]), Value::Int(0));

    // Binary fields and values, empty value.
    redis::cmd("HSET")
        .arg("bin")
        .arg(&b"f\x00\xff"[..])
        .arg(&b"\r\n\x00"[..])
        .arg("empty")
        .arg("")
        .query::<i64>(&mut con)
        .expect("binary HSET");
    let got: Option<Vec<u8>> = redis::cmd("HGET")
        .arg("bin")
        .arg(&b"f\x00\xff"[..])
        .query(&mut con)
        .expect("binary HGET");
    assert_eq!(got.as_deref(), Some(&b"\r\n\x00"[..]));
    assert_eq!(run(&mut con, &["HGET", "bin", "empty"]), bulk(""));
    assert_eq!(run(&mut con, &["HSTRLEN", "bin", "empty"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["TYPE", "h"]),
        Value::SimpleString("hash".into())
    );

    assert_err(
        &mut con,
        &["HSET", "h", "a", "1", "b"],
        "ERR wrong number of arguments for 'hset' command",
    );
    assert_err(
        &mut con,
        &["HSET", "h", "a"],
        "ERR wrong number of arguments for 'hset' command",
    );
    assert_err(
        &mut con,
        &["HGET", "h"],
        "ERR wrong number of arguments for 'hget' command",
    );
    assert_err(
        &mut con,
        &["HMGET", "h"],
        "ERR wrong number of arguments for 'hmget' command",
    );
    assert_err(
        &mut con,
        &["HLEN"],
        "ERR wrong number of arguments for 'hlen' command",
    );
    assert_eq!(
        run(&mut con, &["HLEN", "h"]),
        Value::Int(3),
        "a refused HSET changes nothing"
    );
}

#[test]
fn hmset_hsetnx_hgetall_hkeys_hvals() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["HMSET", "h", "x", "1", "y", "2"]),
        Value::Okay
    );
    assert_err(
        &mut con,
        &["HMSET", "h", "x", "1", "y"],
        "ERR wrong number of arguments for 'hmset' command",
    );
    assert_eq!(run(&mut con, &["HSETNX", "h", "x", "9"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["HGET", "h", "x"]),
        bulk("1"),
        "HSETNX kept x"
    );
    assert_eq!(run(&mut con, &["HSETNX", "h", "z", "3"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HSETNX", "new", "f", "v"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HGET", "new", "f"]), bulk("v"));
    assert_err(
        &mut con,
        &["HSETNX", "h", "x"],
        "ERR wrong number of arguments for 'hsetnx' command",
    );

    assert_eq!(
        run_pairs(&mut con, &["HGETALL", "h"]),
        map(&[("x", "1"), ("y", "2"), ("z", "3")])
    );
    assert_eq!(
        run_sorted(&mut con, &["HKEYS", "h"]),
        strs(&["x", "y", "z"])
    );
    assert_eq!(
        run_sorted(&mut con, &["HVALS", "h"]),
        strs(&["1", "2", "3"])
    );
    // HKEYS and HVALS come in the same order as HGETALL.
    let all = run(&mut con, &["HGETALL", "h"]);
    let Value::Array(items) = all else {
        panic!("HGETALL: {all:?}")
    };
    let keys: Vec<Value> = items.iter().step_by(2).cloned().collect();
    let vals: Vec<Value> = items.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(run(&mut con, &["HKEYS", "h"]), Value::Array(keys));
    assert_eq!(run(&mut con, &["HVALS", "h"]), Value::Array(vals));

    assert_eq!(run(&mut con, &["HGETALL", "nokey"]), Value::Array(vec![]));
    assert_eq!(run(&mut con, &["HKEYS", "nokey"]), Value::Array(vec![]));
    assert_eq!(run(&mut con, &["HVALS", "nokey"]), Value::Array(vec![]));
}

#[test]
fn hdel_and_the_hash_disappears_with_its_last_field() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        run(&mut con, &["HDEL", "h", "a", "nosuch", "a"]),
        Value::Int(1)
    );
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(2));
    assert_eq!(run(&mut con, &["HDEL", "nokey", "a"]), Value::Int(0));
    assert_err(
        &mut con,
        &["HDEL", "h"],
        "ERR wrong number of arguments for 'hdel' command",
    );
    assert_eq!(run(&mut con, &["HDEL", "h", "b", "c"]), Value::Int(2));
    assert_eq!(run(&mut con, &["EXISTS", "h"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["TYPE", "h"]),
        Value::SimpleString("none".into())
    );
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HGETALL", "h"]), Value::Array(vec![]));
    // The name is free for any type now, and a new hash starts empty.
    assert_eq!(run(&mut con, &["SET", "h", "str"]), Value::Okay);
    run(&mut con, &["DEL", "h"]);
    assert_eq!(run(&mut con, &["HSET", "h", "z", "9"]), Value::Int(1));
    assert_eq!(run_pairs(&mut con, &["HGETALL", "h"]), map(&[("z", "9")]));
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["HINCRBY", "h", "n", "5"]), Value::Int(5));
    assert_eq!(run(&mut con, &["HINCRBY", "h", "n", "-7"]), Value::Int(-2));
    assert_eq!(run(&mut con, &["HGET", "h", "n"]), bulk("-2"));
    run(
        &mut con,
        &[
            "HSET",
            "h",
            "s",
            "abc",
            "f",
            "1.5",
            "big",
            "9223372036854775806",
        ],
    );
    assert_err(
        &mut con,
        &["HINCRBY", "h", "s", "1"],
        "ERR hash value is not an integer",
    );
    assert_err(
        &mut con,
        &["HINCRBY", "h", "f", "1"],
        "ERR hash value is not an integer",
    );
    assert_err(
        &mut con,
        &["HINCRBY", "h", "n", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_eq!(
        run(&mut con, &["HINCRBY", "h", "big", "1"]),
        Value::Int(i64::MAX)
    );
    assert_err(
        &mut con,
        &["HINCRBY", "h", "big", "1"],
        "ERR increment or decrement would overflow",
    );
    assert_eq!(
        run(&mut con, &["HGET", "h", "big"]),
        bulk("9223372036854775807"),
        "a refused increment leaves the value"
    );
    run(&mut con, &["HSET", "h", "low", "-9223372036854775808"]);
    assert_err(
        &mut con,
        &["HINCRBY", "h", "low", "-1"],
        "ERR increment or decrement would overflow",
    );

    assert_eq!(
        run(&mut con, &["HINCRBYFLOAT", "h", "f", "0.25"]),
        bulk("1.75")
    );
    assert_eq!(
        run(&mut con, &["HINCRBYFLOAT", "h", "f", "-1.75"]),
        bulk("0")
    );
    assert_eq!(run(&mut con, &["HINCRBYFLOAT", "h", "nf", "3"]), bulk("3"));
    assert_eq!(
        run(&mut con, &["HINCRBYFLOAT", "h", "n", "0.5"]),
        bulk("-1.5")
    );
    assert_eq!(
        run(&mut con, &["HINCRBYFLOAT", "h", "e", "1e2"]),
        bulk("100")
    );
    assert_err(
        &mut con,
        &["HINCRBYFLOAT", "h", "s", "1"],
        "ERR hash value is not a float",
    );
    assert_err(
        &mut con,
        &["HINCRBYFLOAT", "h", "f", "abc"],
        "ERR value is not a valid float",
    );
    assert_err(
        &mut con,
        &["HINCRBY", "h", "n"],
        "ERR wrong number of arguments for 'hincrby' command",
    );
    assert_eq!(run(&mut con, &["HGET", "h", "s"]), bulk("abc"));
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(7));
}

#[test]
fn hrandfield_counts_and_withvalues() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    let mut expect = BTreeMap::new();
    let mut args = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..20 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
        expect.insert(format!("f{i}"), format!("v{i}"));
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    run(&mut con, &a);

    for _ in 0..10 {
        let one = value_text(&run(&mut con, &["HRANDFIELD", "h"]));
        assert!(expect.contains_key(&one), "HRANDFIELD returned {one:?}");
    }
    assert_eq!(run(&mut con, &["HRANDFIELD", "nokey"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["HRANDFIELD", "nokey", "5"]),
        Value::Array(vec![])
    );
    assert_eq!(
        run(&mut con, &["HRANDFIELD", "h", "0"]),
        Value::Array(vec![])
    );

    // Positive count: distinct fields, at most the hash's size.
    let got = run_sorted(&mut con, &["HRANDFIELD", "h", "7"]);
    assert_eq!(got.len(), 7);
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>().len(),
        7,
        "distinct: {got:?}"
    );
    assert!(got.iter().all(|f| expect.contains_key(f)));
    let got = run_sorted(&mut con, &["HRANDFIELD", "h", "100"]);
    assert_eq!(
        got,
        expect.keys().cloned().collect::<Vec<_>>(),
        "count >= size gives all"
    );

    // Negative count: exactly |count| fields, repeats allowed.
    let got = run_sorted(&mut con, &["HRANDFIELD", "h", "-50"]);
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|f| expect.contains_key(f)));

    // WITHVALUES: field/value pairs that match the hash.
    for (count, want) in [("5", 5usize), ("-30", 30), ("100", 20)] {
        let v = run(&mut con, &["HRANDFIELD", "h", count, "WITHVALUES"]);
        let Value::Array(items) = v else {
            panic!("HRANDFIELD {count} WITHVALUES: {v:?}")
        };
        assert_eq!(items.len(), 2 * want, "HRANDFIELD h {count} WITHVALUES");
        let mut fields = BTreeSet::new();
        for p in items.chunks(2) {
            let (f, val) = (value_text(&p[0]), value_text(&p[1]));
            assert_eq!(expect.get(&f), Some(&val), "pair {f}={val}");
            fields.insert(f);
        }
        if !count.starts_with('-') {
            assert_eq!(fields.len(), want, "positive count: distinct fields");
        }
    }
    assert_err(
        &mut con,
        &["HRANDFIELD", "h", "3", "WITHSCORES"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["HRANDFIELD", "h", "x"],
        "ERR value is not an integer or out of range",
    );
}

#[test]
fn hscan_visits_every_field_exactly_once() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("HSET")
            .arg("h")
            .arg(format!("field:{i}"))
            .arg(format!("val:{i}"))
            .ignore();
    }
    p.query::<()>(&mut con).expect("pipelined HSETs");
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(1000));

    for count in ["1", "10", "333", "5000"] {
        let items = scan_all(&mut con, "HSCAN", Some("h"), &["COUNT", count], 3000);
        assert_eq!(items.len(), 2000, "HSCAN COUNT {count}: field/value pairs");
        let mut seen = BTreeSet::new();
        for p in items.chunks(2) {
            let f = &p[0];
            let i = f.strip_prefix("field:").expect("field name");
            assert_eq!(p[1], format!("val:{i}"), "value of {f}");
            assert!(
                seen.insert(f.clone()),
                "HSCAN COUNT {count} returned {f} twice"
            );
        }
        assert_eq!(seen.len(), 1000);
    }

    // MATCH filters fields: field:1, field:1x, field:1xx.
    let items = scan_all(
        &mut con,
        "HSCAN",
        Some("h"),
        &["MATCH", "field:1*", "COUNT", "50"],
        3000,
    );
    let fields: BTreeSet<String> = items.chunks(2).map(|p| p[0].clone()).collect();
    assert_eq!(items.len(), 2 * 111, "{fields:?}");
    assert_eq!(fields.len(), 111);
    assert!(fields.iter().all(|f| f.starts_with("field:1")));

    // NOVALUES: fields only.
    let items = scan_all(
        &mut con,
        "HSCAN",
        Some("h"),
        &["COUNT", "64", "NOVALUES"],
        3000,
    );
    assert_eq!(items.len(), 1000);
    let fields: BTreeSet<String> = items.iter().cloned().collect();
    assert_eq!(fields.len(), 1000, "NOVALUES: each field once");
    assert!(fields.iter().all(|f| f.starts_with("field:")));

    // A missing key scans as empty; a string is WRONGTYPE; bad options are refused.
    assert_eq!(
        scan_all(&mut con, "HSCAN", Some("nokey"), &[], 10),
        Vec::<String>::new()
    );
    run(&mut con, &["SET", "s", "v"]);
    assert_err(&mut con, &["HSCAN", "s", "0"], WRONGTYPE);
    assert_err(&mut con, &["HSCAN", "h", "abc"], "ERR invalid cursor");
    assert_err(
        &mut con,
        &["HSCAN", "h", "0", "COUNT", "0"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["HSCAN", "h", "0", "FOO", "1"],
        "ERR syntax error",
    );
}

#[test]
fn hash_commands_against_strings_and_sets_are_wrongtype() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "str", "v"]);
    run(&mut con, &["SADD", "set", "m"]);

    for k in ["str", "set"] {
        let cases: Vec<Vec<&str>> = vec![
            vec!["HSET", k, "f", "v"],
            vec!["HMSET", k, "f", "v"],
            vec!["HSETNX", k, "f", "v"],
            vec!["HGET", k, "f"],
            vec!["HMGET", k, "f"],
            vec!["HDEL", k, "f"],
            vec!["HLEN", k],
            vec!["HEXISTS", k, "f"],
            vec!["HGETALL", k],
            vec!["HKEYS", k],
            vec!["HVALS", k],
            vec!["HINCRBY", k, "f", "1"],
            vec!["HINCRBYFLOAT", k, "f", "1"],
            vec!["HSTRLEN", k, "f"],
            vec!["HRANDFIELD", k],
            vec!["HRANDFIELD", k, "2", "WITHVALUES"],
            vec!["HSCAN", k, "0"],
        ];
        for c in cases {
            assert_err(&mut con, &c, WRONGTYPE);
        }
    }
    assert_eq!(
        get_s(&mut con, "str").as_deref(),
        Some("v"),
        "string untouched"
    );
    assert_eq!(run_sorted(&mut con, &["SMEMBERS", "set"]), strs(&["m"]));
    // And string commands against a hash.
    run(&mut con, &["HSET", "h", "f", "v"]);
    assert_err(&mut con, &["GET", "h"], WRONGTYPE);
    assert_err(&mut con, &["APPEND", "h", "x"], WRONGTYPE);
    assert_err(&mut con, &["INCR", "h"], WRONGTYPE);
    assert_err(&mut con, &["SADD", "h", "x"], WRONGTYPE);
    assert_eq!(
        run(&mut con, &["SET", "h", "now a string"]),
        Value::Okay,
        "SET overwrites any type"
    );
    assert_eq!(get_s(&mut con, "h").as_deref(), Some("now a string"));
}

#[test]
fn expire_on_a_hash_removes_it() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(run(&mut con, &["PEXPIRE", "h", "300"]), Value::Int(1));
    let ttl: i64 = run_as(&mut con, &["PTTL", "h"]);
    assert!((1..=300).contains(&ttl), "PTTL {ttl}");
    assert_eq!(
        run(&mut con, &["HSET", "h", "c", "3"]),
        Value::Int(1),
        "writing a field keeps the TTL"
    );
    let ttl: i64 = run_as(&mut con, &["PTTL", "h"]);
    assert!((1..=300).contains(&ttl), "PTTL after HSET {ttl}");
    wait_until(Duration::from_secs(5), "the hash to expire", || {
        run(&mut con, &["EXISTS", "h"]) == Value::Int(0)
    });
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HGET", "h", "a"]), Value::Nil);
    assert_eq!(run(&mut con, &["HGETALL", "h"]), Value::Array(vec![]));
    assert_eq!(run(&mut con, &["HSET", "h", "new", "1"]), Value::Int(1));
    assert_eq!(
        run_pairs(&mut con, &["HGETALL", "h"]),
        map(&[("new", "1")]),
        "a hash created after expiry does not see the old fields"
    );
    assert_eq!(run(&mut con, &["TTL", "h"]), Value::Int(-1));
}

#[test]
fn hash_of_200k_fields_deletes_and_recreates_empty() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    let t = Instant::now();
    for batch in 0..200 {
        let mut c = redis::cmd("HSET");
        c.arg("big");
        for i in 0..1000 {
            let n = batch * 1000 + i;
            c.arg(format!("f{n}")).arg(format!("v{n}"));
        }
        let added: i64 = c.query(&mut con).expect("HSET of 1000 fields");
        assert_eq!(added, 1000, "batch {batch}");
    }
    eprintln!("200k fields written in {:?}", t.elapsed());
    assert_eq!(run(&mut con, &["HLEN", "big"]), Value::Int(200_000));
    assert_eq!(run(&mut con, &["HGET", "big", "f123456"]), bulk("v123456"));

    let t = Instant::now();
    assert_eq!(run(&mut con, &["DEL", "big"]), Value::Int(1));
    eprintln!("DEL of a 200k-field hash answered in {:?}", t.elapsed());
    assert_eq!(run(&mut con, &["EXISTS", "big"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HLEN", "big"]), Value::Int(0));
    assert_eq!(run(&mut con, &["HGET", "big", "f123456"]), Value::Nil);
    assert_eq!(run(&mut con, &["HSET", "big", "f1", "new"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HLEN", "big"]), Value::Int(1));
    assert_eq!(run(&mut con, &["HGET", "big", "f2"]), Value::Nil);
    assert_eq!(
        run_pairs(&mut con, &["HGETALL", "big"]),
        map(&[("f1", "new")])
    );
    let scanned = scan_all(&mut con, "HSCAN", Some("big"), &["COUNT", "1000"], 100);
    assert_eq!(scanned, strs(&["f1", "new"]), "HSCAN sees no old field");
}

#[test]
fn hash_fields_survive_kill9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    {
        let mut con = srv.client();
        run(&mut con, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        run(&mut con, &["HDEL", "h", "b"]);
        run(&mut con, &["HINCRBY", "h", "a", "41"]);
        run(&mut con, &["HINCRBYFLOAT", "h", "fl", "2.5"]);
        run(&mut con, &["HSETNX", "h", "c", "ignored"]);
        run(&mut con, &["HSET", "gone", "x", "1"]);
        run(&mut con, &["HDEL", "gone", "x"]);
        run(&mut con, &["HSET", "ttl", "x", "1"]);
        run(&mut con, &["EXPIRE", "ttl", "1000"]);
    }
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(
        run_pairs(&mut con, &["HGETALL", "h"]),
        map(&[("a", "42"), ("c", "3"), ("fl", "2.5")])
    );
    assert_eq!(run(&mut con, &["HLEN", "h"]), Value::Int(3));
    assert_eq!(run(&mut con, &["EXISTS", "gone"]), Value::Int(0));
    let ttl: i64 = run_as(&mut con, &["TTL", "ttl"]);
    assert!((900..=1000).contains(&ttl), "TTL after restart {ttl}");
    assert_eq!(run(&mut con, &["HGET", "ttl", "x"]), bulk("1"));
}

/// HRANDFIELD's count range and order of errors are Redis 7.0.15's: the count is parsed
/// before the option, and only WITHVALUES limits it to half of LONG_MAX.
#[test]
fn hrandfield_count_limits_and_errors_match_redis() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let all: Vec<String> = run_as(&mut con, &["HRANDFIELD", "h", "9223372036854775807"]);
    assert_eq!(all.len(), 3);
    assert_err(
        &mut con,
        &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
        "ERR value is out of range",
    );
    assert_err(
        &mut con,
        &["HRANDFIELD", "h", "x", "WITHVALUES", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut con,
        &["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
        "ERR syntax error",
    );
}
