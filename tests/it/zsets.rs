//! Sorted sets through a real client: every command with its options, Redis 7's error lines,
//! WRONGTYPE, empty sets disappearing, TTLs, kill -9 + restart, ranks on a large set, blocking
//! pops, RESP3 reply shapes, and a reply-for-reply comparison with a stock redis-server.

use std::thread;
use std::time::{Duration, Instant};

use redis::{Connection, Value};

use crate::common::*;

fn strs(con: &mut Connection, args: &[&str]) -> Vec<String> {
    run_as(con, args)
}

fn int(con: &mut Connection, args: &[&str]) -> i64 {
    run_as(con, args)
}

fn opt(con: &mut Connection, args: &[&str]) -> Option<String> {
    run_as(con, args)
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn exists(con: &mut Connection, key: &str) -> bool {
    int(con, &["EXISTS", key]) == 1
}

#[test]
fn zadd_options_incr_and_point_reads() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        int(&mut con, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        3
    );
    assert_eq!(int(&mut con, &["ZADD", "z", "5", "a", "4", "d"]), 1);
    assert_eq!(int(&mut con, &["ZADD", "z", "CH", "6", "a", "2", "b"]), 1);
    assert_eq!(int(&mut con, &["ZADD", "z", "NX", "9", "a", "7", "e"]), 1);
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "a"]).as_deref(), Some("6"));
    assert_eq!(
        int(&mut con, &["ZADD", "z", "XX", "CH", "1", "a", "1", "x"]),
        1
    );
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "x"]), None);
    // GT/LT only move a score in their direction, and still add new members.
    assert_eq!(
        int(
            &mut con,
            &["ZADD", "z", "GT", "CH", "0", "a", "10", "b", "1", "n"]
        ),
        2
    );
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "a"]).as_deref(), Some("1"));
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "b"]).as_deref(), Some("10"));
    assert_eq!(
        int(&mut con, &["ZADD", "z", "LT", "XX", "CH", "0.5", "b"]),
        1
    );
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "b"]).as_deref(), Some("0.5"));

    // INCR: the new score, or nil when the options prevented it.
    assert_eq!(
        opt(&mut con, &["ZADD", "z", "INCR", "2.5", "a"]).as_deref(),
        Some("3.5")
    );
    assert_eq!(opt(&mut con, &["ZADD", "z", "NX", "INCR", "1", "a"]), None);
    assert_eq!(opt(&mut con, &["ZADD", "z", "XX", "INCR", "1", "zz"]), None);
    assert_eq!(opt(&mut con, &["ZADD", "z", "GT", "INCR", "-1", "a"]), None);
    assert_eq!(
        opt(&mut con, &["ZADD", "nokey", "XX", "INCR", "1", "a"]),
        None
    );
    assert_eq!(int(&mut con, &["ZADD", "nokey", "XX", "1", "a"]), 0);
    assert!(!exists(&mut con, "nokey"));
    assert_eq!(
        opt(&mut con, &["ZINCRBY", "z", "-0.5", "a"]).as_deref(),
        Some("3")
    );
    assert_eq!(
        opt(&mut con, &["ZINCRBY", "z", "2", "new"]).as_deref(),
        Some("2")
    );
    assert_eq!(
        opt(&mut con, &["ZADD", "z", "INCR", "inf", "a"]).as_deref(),
        Some("inf")
    );
    assert_err(
        &mut con,
        &["ZADD", "z", "INCR", "-inf", "a"],
        "ERR resulting score is not a number (NaN)",
    );
    assert_eq!(opt(&mut con, &["ZSCORE", "z", "a"]).as_deref(), Some("inf"));
    // The same member twice in one call: the last score wins, counted once.
    assert_eq!(int(&mut con, &["ZADD", "dup", "1", "m", "2", "m"]), 1);
    assert_eq!(opt(&mut con, &["ZSCORE", "dup", "m"]).as_deref(), Some("2"));

    let errs: &[(&[&str], &str)] = &[
        (
            &["ZADD", "z", "NX", "XX", "1", "a"],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "GT", "LT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "NX", "GT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "ERR INCR option supports a single increment-element pair",
        ),
        (&["ZADD", "z", "x", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "nan", "a"], "ERR value is not a valid float"),
        (&["ZADD", "z", "1", "a", "2"], "ERR syntax error"),
        (&["ZADD", "z", "NX", "CH"], "ERR syntax error"),
        (
            &["ZADD", "z", "1"],
            "ERR wrong number of arguments for 'zadd' command",
        ),
        (
            &["ZINCRBY", "z", "x", "a"],
            "ERR value is not a valid float",
        ),
    ];
    for (args, e) in errs {
        assert_err(&mut con, args, e);
    }

    assert_eq!(int(&mut con, &["ZCARD", "z"]), 7);
    assert_eq!(int(&mut con, &["ZCARD", "nosuch"]), 0);
    assert_eq!(opt(&mut con, &["ZSCORE", "nosuch", "a"]), None);
    assert_eq!(
        run(&mut con, &["ZMSCORE", "z", "b", "nope", "c"]),
        Value::Array(vec![bulk("0.5"), Value::Nil, bulk("3")])
    );
    assert_eq!(
        run(&mut con, &["ZMSCORE", "nosuch", "a", "b"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );

    assert_eq!(int(&mut con, &["ZREM", "z", "a", "a", "nope", "b"]), 2);
    assert_eq!(int(&mut con, &["ZREM", "nosuch", "a"]), 0);
    assert_eq!(int(&mut con, &["ZREM", "dup", "m"]), 1);
    assert!(!exists(&mut con, "dup"), "the last ZREM deletes the key");
    assert_eq!(
        run(&mut con, &["TYPE", "z"]),
        Value::SimpleString("zset".into())
    );
}

fn fixture(con: &mut Connection) {
    run(
        con,
        &[
            "ZADD", "z", "1", "a", "2", "b", "2", "bb", "2", "ba", "3", "c", "-1.5", "neg",
        ],
    );
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    fixture(&mut con);

    // Equal scores order by member bytes.
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "-1"]),
        v(&["neg", "a", "b", "ba", "bb", "c"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        v(&["neg", "-1.5", "a", "1"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "-2", "-1"]),
        v(&["bb", "c"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "-1", "REV"]),
        v(&["c", "bb", "ba", "b", "a", "neg"])
    );
    assert_eq!(
        strs(&mut con, &["ZREVRANGE", "z", "0", "1"]),
        v(&["c", "bb"])
    );
    assert_eq!(
        strs(&mut con, &["ZREVRANGE", "z", "-1", "-1", "WITHSCORES"]),
        v(&["neg", "-1.5"])
    );
    assert_eq!(strs(&mut con, &["ZRANGE", "z", "5", "100"]), v(&["c"]));
    assert!(strs(&mut con, &["ZRANGE", "z", "3", "1"]).is_empty());
    assert!(strs(&mut con, &["ZRANGE", "nosuch", "0", "-1"]).is_empty());

    // BYSCORE, exclusive bounds, infinities, LIMIT, REV.
    assert_eq!(
        strs(&mut con, &["ZRANGEBYSCORE", "z", "(1", "2"]),
        v(&["b", "ba", "bb"])
    );
    assert_eq!(
        strs(
            &mut con,
            &["ZRANGEBYSCORE", "z", "-inf", "(2", "WITHSCORES"]
        ),
        v(&["neg", "-1.5", "a", "1"])
    );
    assert_eq!(
        strs(
            &mut con,
            &["ZRANGEBYSCORE", "z", "2", "+inf", "LIMIT", "1", "2"]
        ),
        v(&["ba", "bb"])
    );
    assert!(strs(
        &mut con,
        &["ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "-1", "2"]
    )
    .is_empty());
    assert!(strs(&mut con, &["ZRANGEBYSCORE", "z", "(2", "(2"]).is_empty());
    assert!(strs(&mut con, &["ZRANGEBYSCORE", "z", "3", "1"]).is_empty());
    assert_eq!(
        strs(
            &mut con,
            &["ZREVRANGEBYSCORE", "z", "(3", "1", "LIMIT", "0", "2"]
        ),
        v(&["bb", "ba"])
    );
    assert_eq!(
        strs(
            &mut con,
            &["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV", "WITHSCORES"]
        ),
        v(&["c", "3"])
    );
    assert_eq!(
        strs(
            &mut con,
            &["ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "1", "-1"]
        ),
        v(&["b", "ba", "bb"])
    );

    // BYLEX on equal scores.
    run(
        &mut con,
        &[
            "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
    );
    assert_eq!(
        strs(&mut con, &["ZRANGEBYLEX", "l", "[b", "(d"]),
        v(&["b", "c"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "2"]),
        v(&["b", "c"])
    );
    assert_eq!(
        strs(&mut con, &["ZREVRANGEBYLEX", "l", "(d", "[b"]),
        v(&["c", "b"])
    );
    assert_eq!(
        strs(
            &mut con,
            &["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "2"]
        ),
        v(&["e", "d"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGEBYLEX", "l", "(c", "+"]),
        v(&["d", "e"])
    );
    assert!(strs(&mut con, &["ZRANGEBYLEX", "l", "+", "-"]).is_empty());
    assert!(strs(&mut con, &["ZRANGEBYLEX", "l", "(a", "(a"]).is_empty());
    assert_eq!(
        strs(
            &mut con,
            &["ZRANGE", "l", "[d", "[b", "BYLEX", "REV", "LIMIT", "0", "2"]
        ),
        v(&["d", "c"])
    );

    let errs: &[(&[&str], &str)] = &[
        (
            &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            &["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        (
            &["ZRANGE", "z", "0", "-1", "REV", "REV"],
            "ERR syntax error",
        ),
        (
            &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
            "ERR syntax error",
        ),
        (&["ZREVRANGE", "z", "0", "1", "REV"], "ERR syntax error"),
        (
            &["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "1"],
            "ERR syntax error",
        ),
        (&["ZRANGEBYSCORE", "z", "0", "1", "bad"], "ERR syntax error"),
        (
            &["ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "x", "1"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZRANGE", "z", "a", "b"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZRANGEBYSCORE", "z", "a", "1"],
            "ERR min or max is not a float",
        ),
        (
            &["ZRANGEBYSCORE", "nosuch", "(", "1"],
            "ERR min or max is not a float",
        ),
        (
            &["ZRANGEBYLEX", "l", "a", "+"],
            "ERR min or max not valid string range item",
        ),
        (
            &["ZRANGE", "z", "0"],
            "ERR wrong number of arguments for 'zrange' command",
        ),
    ];
    for (args, e) in errs {
        assert_err(&mut con, args, e);
    }
}

#[test]
fn counts_ranks_and_range_removals() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    fixture(&mut con);

    assert_eq!(int(&mut con, &["ZCOUNT", "z", "-inf", "+inf"]), 6);
    assert_eq!(int(&mut con, &["ZCOUNT", "z", "(1", "2"]), 3);
    assert_eq!(int(&mut con, &["ZCOUNT", "z", "(2", "(2"]), 0);
    assert_eq!(int(&mut con, &["ZCOUNT", "nosuch", "0", "1"]), 0);
    assert_err(
        &mut con,
        &["ZCOUNT", "z", "x", "1"],
        "ERR min or max is not a float",
    );
    run(
        &mut con,
        &["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
    );
    assert_eq!(int(&mut con, &["ZLEXCOUNT", "l", "-", "+"]), 4);
    assert_eq!(int(&mut con, &["ZLEXCOUNT", "l", "[b", "(d"]), 2);
    assert_err(
        &mut con,
        &["ZLEXCOUNT", "l", "a", "+"],
        "ERR min or max not valid string range item",
    );

    assert_eq!(int(&mut con, &["ZRANK", "z", "neg"]), 0);
    assert_eq!(int(&mut con, &["ZRANK", "z", "bb"]), 4);
    assert_eq!(int(&mut con, &["ZREVRANK", "z", "bb"]), 1);
    assert_eq!(run(&mut con, &["ZRANK", "z", "nope"]), Value::Nil);
    assert_eq!(run(&mut con, &["ZRANK", "nosuch", "a"]), Value::Nil);
    // Redis 7.2's WITHSCORE.
    assert_eq!(
        run(&mut con, &["ZRANK", "z", "ba", "WITHSCORE"]),
        Value::Array(vec![Value::Int(3), bulk("2")])
    );
    assert_eq!(
        run(&mut con, &["ZREVRANK", "z", "neg", "WITHSCORE"]),
        Value::Array(vec![Value::Int(5), bulk("-1.5")])
    );
    assert_eq!(
        run(&mut con, &["ZRANK", "z", "nope", "WITHSCORE"]),
        Value::Nil
    );
    assert_err(
        &mut con,
        &["ZRANK", "z", "a", "WITHSCORES"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["ZRANK", "z", "a", "WITHSCORE", "x"],
        "ERR wrong number of arguments for 'zrank' command",
    );

    // ZREMRANGEBYRANK / BYSCORE / BYLEX, and the key disappearing when emptied.
    assert_eq!(int(&mut con, &["ZREMRANGEBYRANK", "z", "1", "2"]), 2);
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "-1"]),
        v(&["neg", "ba", "bb", "c"])
    );
    assert_err(
        &mut con,
        &["ZREMRANGEBYRANK", "z", "x", "1"],
        "ERR value is not an integer or out of range",
    );
    assert_eq!(int(&mut con, &["ZREMRANGEBYSCORE", "z", "(-1.5", "2"]), 2);
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "-1"]),
        v(&["neg", "c"])
    );
    assert_err(
        &mut con,
        &["ZREMRANGEBYSCORE", "z", "1", "x"],
        "ERR min or max is not a float",
    );
    assert_eq!(int(&mut con, &["ZREMRANGEBYSCORE", "z", "5", "6"]), 0);
    assert_eq!(int(&mut con, &["ZREMRANGEBYRANK", "z", "0", "-1"]), 2);
    assert!(!exists(&mut con, "z"));

    assert_eq!(int(&mut con, &["ZREMRANGEBYLEX", "l", "[b", "[c"]), 2);
    assert_err(
        &mut con,
        &["ZREMRANGEBYLEX", "l", "x", "y"],
        "ERR min or max not valid string range item",
    );
    assert_eq!(int(&mut con, &["ZREMRANGEBYLEX", "l", "-", "+"]), 2);
    assert!(!exists(&mut con, "l"));
    run(&mut con, &["ZADD", "s", "1", "a", "2", "b"]);
    assert_eq!(int(&mut con, &["ZREMRANGEBYSCORE", "s", "-inf", "+inf"]), 2);
    assert!(!exists(&mut con, "s"));
    assert_eq!(int(&mut con, &["ZREMRANGEBYRANK", "nosuch", "0", "-1"]), 0);
}

#[test]
fn pops_and_mpop() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(
        &mut con,
        &["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(strs(&mut con, &["ZPOPMIN", "p"]), v(&["a", "1"]));
    assert_eq!(
        strs(&mut con, &["ZPOPMAX", "p", "2"]),
        v(&["d", "4", "c", "3"])
    );
    assert!(strs(&mut con, &["ZPOPMIN", "p", "0"]).is_empty());
    assert_err(
        &mut con,
        &["ZPOPMIN", "p", "-1"],
        "ERR value is out of range, must be positive",
    );
    assert_err(&mut con, &["ZPOPMIN", "p", "1", "2"], "ERR syntax error");
    assert_eq!(strs(&mut con, &["ZPOPMAX", "p", "10"]), v(&["b", "2"]));
    assert!(
        !exists(&mut con, "p"),
        "popping the last member deletes the key"
    );
    assert!(strs(&mut con, &["ZPOPMIN", "p"]).is_empty());
    assert!(strs(&mut con, &["ZPOPMAX", "nosuch", "3"]).is_empty());

    run(&mut con, &["ZADD", "m", "1", "a", "2", "b", "3", "c"]);
    let nested = |k: &str, items: &[(&str, &str)]| {
        Value::Array(vec![
            bulk(k),
            Value::Array(
                items
                    .iter()
                    .map(|(m, s)| Value::Array(vec![bulk(m), bulk(s)]))
                    .collect(),
            ),
        ])
    };
    assert_eq!(
        run(
            &mut con,
            &["ZMPOP", "2", "nosuch", "m", "MAX", "COUNT", "2"]
        ),
        nested("m", &[("c", "3"), ("b", "2")])
    );
    assert_eq!(
        run(&mut con, &["BZMPOP", "0", "1", "m", "MIN"]),
        nested("m", &[("a", "1")])
    );
    assert!(!exists(&mut con, "m"));
    assert_eq!(run(&mut con, &["ZMPOP", "1", "m", "MIN"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["BZMPOP", "0.05", "1", "m", "MIN"]),
        Value::Nil
    );
    let errs: &[(&[&str], &str)] = &[
        (
            &["ZMPOP", "0", "m", "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["ZMPOP", "x", "m", "MIN"],
            "ERR numkeys should be greater than 0",
        ),
        (&["ZMPOP", "5", "m", "MIN"], "ERR syntax error"),
        (&["ZMPOP", "1", "m", "MID"], "ERR syntax error"),
        (&["ZMPOP", "2", "m", "n"], "ERR syntax error"),
        (&["ZMPOP", "1", "m", "MIN", "COUNT"], "ERR syntax error"),
        (
            &["ZMPOP", "1", "m", "MIN", "COUNT", "0"],
            "ERR count should be greater than 0",
        ),
        (
            &["ZMPOP", "1", "m", "MIN", "COUNT", "1", "COUNT", "1"],
            "ERR syntax error",
        ),
        (
            &["BZMPOP", "x", "1", "m", "MIN"],
            "ERR timeout is not a float or out of range",
        ),
        (&["BZPOPMIN", "m", "-1"], "ERR timeout is negative"),
    ];
    for (args, e) in errs {
        assert_err(&mut con, args, e);
    }

    // BZPOP* serve at once when a key has members: [key, member, score].
    run(&mut con, &["ZADD", "bz", "1", "a", "2", "b"]);
    assert_eq!(
        strs(&mut con, &["BZPOPMIN", "nosuch", "bz", "0"]),
        v(&["bz", "a", "1"])
    );
    assert_eq!(
        strs(&mut con, &["BZPOPMAX", "bz", "0"]),
        v(&["bz", "b", "2"])
    );
    assert!(!exists(&mut con, "bz"));
}

#[test]
fn union_inter_diff_with_sets_as_sources() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["ZADD", "u1", "1", "a", "2", "b", "3", "c"]);
    run(&mut con, &["ZADD", "u2", "10", "b", "20", "c", "30", "d"]);
    run(&mut con, &["SADD", "s1", "c", "d", "e"]);

    assert_eq!(
        strs(&mut con, &["ZUNION", "2", "u1", "u2", "WITHSCORES"]),
        v(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        strs(
            &mut con,
            &[
                "ZUNION",
                "2",
                "u1",
                "u2",
                "WEIGHTS",
                "2",
                "1",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        v(&["a", "2", "b", "10", "c", "20", "d", "30"])
    );
    assert_eq!(
        strs(&mut con, &["ZUNION", "2", "u1", "u2", "AGGREGATE", "MIN"]),
        v(&["a", "b", "c", "d"])
    );
    assert_eq!(
        strs(&mut con, &["ZUNION", "3", "u1", "u2", "s1", "WITHSCORES"]),
        v(&["a", "1", "e", "1", "b", "12", "c", "24", "d", "31"])
    );
    assert_eq!(
        strs(&mut con, &["ZINTER", "2", "u1", "u2", "WITHSCORES"]),
        v(&["b", "12", "c", "23"])
    );
    assert_eq!(
        strs(&mut con, &["ZINTER", "3", "u1", "u2", "s1", "WITHSCORES"]),
        v(&["c", "24"])
    );
    assert!(strs(&mut con, &["ZINTER", "2", "u1", "nosuch"]).is_empty());
    assert_eq!(
        strs(&mut con, &["ZDIFF", "2", "u1", "u2", "WITHSCORES"]),
        v(&["a", "1"])
    );
    assert_eq!(strs(&mut con, &["ZDIFF", "2", "s1", "u2"]), v(&["e"]));
    assert!(strs(&mut con, &["ZDIFF", "1", "nosuch"]).is_empty());
    assert_eq!(int(&mut con, &["ZINTERCARD", "2", "u1", "u2"]), 2);
    assert_eq!(int(&mut con, &["ZINTERCARD", "3", "u1", "u2", "s1"]), 1);
    assert_eq!(
        int(&mut con, &["ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"]),
        1
    );

    // STORE forms replace the destination (any type, TTL dropped) or delete it when empty.
    run(&mut con, &["SET", "d", "string", "EX", "100"]);
    assert_eq!(
        int(
            &mut con,
            &["ZUNIONSTORE", "d", "2", "u1", "u2", "WEIGHTS", "1", "0.5"]
        ),
        4
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        v(&["a", "1", "b", "7", "c", "13", "d", "15"])
    );
    assert_eq!(int(&mut con, &["TTL", "d"]), -1);
    assert_eq!(
        int(
            &mut con,
            &["ZINTERSTORE", "d", "2", "u1", "u2", "AGGREGATE", "MAX"]
        ),
        2
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        v(&["b", "10", "c", "20"])
    );
    assert_eq!(int(&mut con, &["ZDIFFSTORE", "d", "2", "u1", "u2"]), 1);
    assert_eq!(strs(&mut con, &["ZRANGE", "d", "0", "-1"]), v(&["a"]));
    assert_eq!(int(&mut con, &["ZDIFFSTORE", "d", "2", "nosuch", "u1"]), 0);
    assert!(!exists(&mut con, "d"));
    // A source may be the destination.
    assert_eq!(int(&mut con, &["ZUNIONSTORE", "u1", "2", "u1", "u1"]), 3);
    assert_eq!(
        strs(&mut con, &["ZRANGE", "u1", "0", "-1", "WITHSCORES"]),
        v(&["a", "2", "b", "4", "c", "6"])
    );

    // ZRANGESTORE.
    assert_eq!(
        int(&mut con, &["ZRANGESTORE", "r", "u2", "0", "-1", "REV"]),
        3
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "r", "0", "-1", "WITHSCORES"]),
        v(&["b", "10", "c", "20", "d", "30"])
    );
    assert_eq!(
        int(
            &mut con,
            &[
                "ZRANGESTORE",
                "r",
                "u2",
                "(10",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "0",
                "1"
            ]
        ),
        1
    );
    assert_eq!(strs(&mut con, &["ZRANGE", "r", "0", "-1"]), v(&["c"]));
    assert_eq!(int(&mut con, &["ZRANGESTORE", "r", "nosuch", "0", "-1"]), 0);
    assert!(!exists(&mut con, "r"));
    assert_err(
        &mut con,
        &["ZRANGESTORE", "r", "u2", "0", "-1", "WITHSCORES"],
        "ERR syntax error",
    );

    let errs: &[(&[&str], &str)] = &[
        (&["ZUNIONSTORE", "d", "2", "u1"], "ERR syntax error"),
        (
            &["ZUNIONSTORE", "d", "0", "u1"],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        ),
        (
            &["ZUNION", "0", "u1"],
            "ERR at least 1 input key is needed for 'zunion' command",
        ),
        (
            &["ZUNIONSTORE", "d", "x", "u1"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["ZUNIONSTORE", "d", "1", "u1", "WEIGHTS", "x"],
            "ERR weight value is not a float",
        ),
        (
            &["ZUNIONSTORE", "d", "1", "u1", "WEIGHTS", "1", "2"],
            "ERR syntax error",
        ),
        (
            &["ZUNIONSTORE", "d", "1", "u1", "AGGREGATE", "AVG"],
            "ERR syntax error",
        ),
        (
            &["ZUNIONSTORE", "d", "1", "u1", "WITHSCORES"],
            "ERR syntax error",
        ),
        (&["ZDIFF", "1", "u1", "WEIGHTS", "1"], "ERR syntax error"),
        (
            &["ZUNION", "1", "u1", "WITHSCORES", "x"],
            "ERR syntax error",
        ),
        (
            &["ZINTERCARD", "0", "u1"],
            "ERR at least 1 input key is needed for 'zintercard' command",
        ),
        (&["ZINTERCARD", "2", "u1"], "ERR syntax error"),
        (
            &["ZINTERCARD", "1", "u1", "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        ),
        (&["ZINTERCARD", "1", "u1", "WITHSCORES"], "ERR syntax error"),
    ];
    for (args, e) in errs {
        assert_err(&mut con, args, e);
    }
}

#[test]
fn zrandmember_counts_and_scores() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let one = opt(&mut con, &["ZRANDMEMBER", "z"]).expect("a member");
    assert!(["a", "b", "c"].contains(&one.as_str()));
    let mut all = strs(&mut con, &["ZRANDMEMBER", "z", "10"]);
    all.sort();
    assert_eq!(all, v(&["a", "b", "c"]));
    let two = strs(&mut con, &["ZRANDMEMBER", "z", "2"]);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1], "a positive count gives distinct members");
    let rep = strs(&mut con, &["ZRANDMEMBER", "z", "-7", "WITHSCORES"]);
    assert_eq!(rep.len(), 14);
    for p in rep.chunks(2) {
        let want = match p[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            m => panic!("unknown member {m}"),
        };
        assert_eq!(p[1], want);
    }
    assert!(strs(&mut con, &["ZRANDMEMBER", "z", "0"]).is_empty());
    assert_eq!(run(&mut con, &["ZRANDMEMBER", "nosuch"]), Value::Nil);
    assert!(strs(&mut con, &["ZRANDMEMBER", "nosuch", "3"]).is_empty());
    assert_err(
        &mut con,
        &["ZRANDMEMBER", "z", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut con,
        &["ZRANDMEMBER", "z", "1", "WITHVALUES"],
        "ERR syntax error",
    );
}

#[test]
fn wrongtype_against_string_and_hash() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "str", "x"]);
    run(&mut con, &["HSET", "h", "f", "v"]);
    run(&mut con, &["ZADD", "z", "1", "a"]);
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for k in ["str", "h"] {
        let cmds: Vec<Vec<&str>> = vec![
            vec!["ZADD", k, "1", "a"],
            vec!["ZINCRBY", k, "1", "a"],
            vec!["ZREM", k, "a"],
            vec!["ZSCORE", k, "a"],
            vec!["ZMSCORE", k, "a"],
            vec!["ZCARD", k],
            vec!["ZCOUNT", k, "0", "1"],
            vec!["ZLEXCOUNT", k, "-", "+"],
            vec!["ZRANGE", k, "0", "-1"],
            vec!["ZRANGEBYSCORE", k, "0", "1"],
            vec!["ZREVRANGEBYSCORE", k, "1", "0"],
            vec!["ZRANGEBYLEX", k, "-", "+"],
            vec!["ZREVRANGEBYLEX", k, "+", "-"],
            vec!["ZREVRANGE", k, "0", "-1"],
            vec!["ZRANK", k, "a"],
            vec!["ZREVRANK", k, "a"],
            vec!["ZREMRANGEBYRANK", k, "0", "-1"],
            vec!["ZREMRANGEBYSCORE", k, "0", "1"],
            vec!["ZREMRANGEBYLEX", k, "-", "+"],
            vec!["ZPOPMIN", k],
            vec!["ZPOPMAX", k, "2"],
            vec!["BZPOPMIN", k, "0"],
            vec!["BZPOPMAX", k, "0"],
            vec!["ZRANDMEMBER", k],
            vec!["ZUNIONSTORE", "d", "2", "z", k],
            vec!["ZINTERSTORE", "d", "2", "z", k],
            vec!["ZDIFFSTORE", "d", "2", "z", k],
            vec!["ZUNION", "2", "z", k],
            vec!["ZINTER", "1", k],
            vec!["ZDIFF", "1", k],
            vec!["ZINTERCARD", "1", k],
            vec!["ZRANGESTORE", "d", k, "0", "-1"],
            vec!["ZMPOP", "1", k, "MIN"],
            vec!["BZMPOP", "0", "1", k, "MIN"],
        ];
        for c in cmds {
            assert_err(&mut con, &c, wrong);
        }
    }
    assert_eq!(get_s(&mut con, "str").as_deref(), Some("x"));
    assert!(!exists(&mut con, "d"));
}

#[test]
fn ttl_on_a_zset() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(int(&mut con, &["PEXPIRE", "z", "300"]), 1);
    assert!(int(&mut con, &["PTTL", "z"]) > 0);
    // Writes keep the TTL, as in Redis.
    run(&mut con, &["ZADD", "z", "3", "c"]);
    run(&mut con, &["ZREM", "z", "a"]);
    assert!(int(&mut con, &["PTTL", "z"]) > 0);
    assert_eq!(int(&mut con, &["ZCARD", "z"]), 2);
    thread::sleep(Duration::from_millis(450));
    assert_eq!(int(&mut con, &["ZCARD", "z"]), 0);
    assert!(!exists(&mut con, "z"));
    // A new set under the same name starts empty.
    assert_eq!(int(&mut con, &["ZADD", "z", "9", "x"]), 1);
    assert_eq!(
        strs(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        v(&["x", "9"])
    );
    assert_eq!(int(&mut con, &["TTL", "z"]), -1);
}

#[test]
fn members_and_scores_survive_kill_9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let scores = ["0.1", "-2.5", "1e300", "3", "-inf", "inf", "7.25", "3"];
    let want = {
        let mut con = srv.client();
        let mut args = vec!["ZADD", "z"];
        let members = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"];
        for (s, m) in scores.iter().zip(members) {
            args.push(s);
            args.push(m);
        }
        run(&mut con, &args);
        run(&mut con, &["ZINCRBY", "z", "0.5", "m3"]);
        run(&mut con, &["ZADD", "z", "GT", "INCR", "10", "m6"]);
        run(&mut con, &["ZREM", "z", "m0"]);
        run(&mut con, &["ZPOPMIN", "z"]);
        run(&mut con, &["ZADD", "other", "1", "x", "2", "y"]);
        run(
            &mut con,
            &["ZUNIONSTORE", "u", "2", "z", "other", "WEIGHTS", "2", "1"],
        );
        run(&mut con, &["ZRANGESTORE", "rs", "z", "0", "1"]);
        run(&mut con, &["ZADD", "gone", "1", "x"]);
        run(&mut con, &["ZREMRANGEBYSCORE", "gone", "-inf", "+inf"]);
        let mut snap = Vec::new();
        for k in ["z", "u", "rs", "other"] {
            snap.push(strs(&mut con, &["ZRANGE", k, "0", "-1", "WITHSCORES"]));
        }
        snap
    };
    assert_eq!(
        want[0],
        v(&["m1", "-2.5", "m7", "3", "m3", "3.5", "m6", "17.25", "m2", "1e300", "m5", "inf"])
    );
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    for (k, w) in ["z", "u", "rs", "other"].iter().zip(&want) {
        assert_eq!(
            &strs(&mut con, &["ZRANGE", k, "0", "-1", "WITHSCORES"]),
            w,
            "{k}"
        );
    }
    assert!(!exists(&mut con, "gone"));
    assert_eq!(int(&mut con, &["ZCARD", "z"]), 6);
    assert_eq!(int(&mut con, &["ZRANK", "z", "m6"]), 3);
    assert_eq!(
        opt(&mut con, &["ZSCORE", "z", "m2"]).as_deref(),
        Some("1e300")
    );
}

#[test]
fn zrank_on_twenty_thousand_members() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let n = 20_000usize;
    // Scores descending by index so member order and score order differ; member i has rank
    // n-1-i.
    let mut pipe = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut c = redis::cmd("ZADD");
        c.arg("big");
        for &i in chunk {
            c.arg((n - i) as f64 * 1.5).arg(format!("m{i:05}"));
        }
        pipe.add_command(c);
    }
    let added: Vec<i64> = pipe.query(&mut con).expect("pipelined ZADDs");
    assert_eq!(added.iter().sum::<i64>(), n as i64);
    assert_eq!(int(&mut con, &["ZCARD", "big"]), n as i64);
    for i in [
        0usize, 1, 2, 17, 500, 9_999, 10_000, 19_000, 19_997, 19_998, 19_999,
    ] {
        let m = format!("m{i:05}");
        let rank = (n - 1 - i) as i64;
        assert_eq!(int(&mut con, &["ZRANK", "big", &m]), rank, "ZRANK {m}");
        assert_eq!(
            int(&mut con, &["ZREVRANK", "big", &m]),
            n as i64 - 1 - rank,
            "ZREVRANK {m}"
        );
    }
    // Ranges near both ends, from the nearer end.
    assert_eq!(
        strs(&mut con, &["ZRANGE", "big", "-2", "-1"]),
        v(&["m00001", "m00000"])
    );
    assert_eq!(
        strs(&mut con, &["ZRANGE", "big", "0", "1", "WITHSCORES"]),
        v(&["m19999", "1.5", "m19998", "3"])
    );
    assert_eq!(
        strs(&mut con, &["ZREVRANGE", "big", "0", "0"]),
        v(&["m00000"])
    );
    assert_eq!(
        int(&mut con, &["ZCOUNT", "big", "(1.5", "15"]),
        9,
        "scores 3..=15 step 1.5"
    );
    assert_eq!(
        strs(&mut con, &["ZRANGEBYSCORE", "big", "29998", "+inf"]),
        v(&["m00001", "m00000"])
    );
}

#[test]
fn bzpopmin_blocks_until_a_zadd_from_another_client() {
    let srv = Server::start(&[]);
    let mut waiter = srv.client();
    let started = Instant::now();
    let handle = thread::spawn(move || {
        let r: Value = cmd(&["BZPOPMIN", "nosuch", "bz", "5"])
            .query(&mut waiter)
            .expect("BZPOPMIN");
        (r, started.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    assert!(!handle.is_finished(), "BZPOPMIN should block on empty keys");
    let mut con = srv.client();
    run(&mut con, &["ZADD", "bz", "2", "b", "1", "a"]);
    let (r, took) = handle.join().expect("waiter thread");
    assert_eq!(
        r,
        Value::Array(vec![bulk("bz"), bulk("a"), bulk("1")]),
        "served by the ZADD"
    );
    assert!(
        took < Duration::from_secs(4),
        "served, not timed out: {took:?}"
    );
    assert_eq!(strs(&mut con, &["ZRANGE", "bz", "0", "-1"]), v(&["b"]));

    // BZPOPMAX and BZMPOP block too.
    let mut waiter = srv.client();
    let handle = thread::spawn(move || {
        let r: Value = cmd(&["BZMPOP", "5", "1", "mp", "MAX", "COUNT", "5"])
            .query(&mut waiter)
            .expect("BZMPOP");
        r
    });
    thread::sleep(Duration::from_millis(300));
    run(&mut con, &["ZADD", "mp", "1", "x", "2", "y"]);
    assert_eq!(
        handle.join().expect("waiter thread"),
        Value::Array(vec![
            bulk("mp"),
            Value::Array(vec![
                Value::Array(vec![bulk("y"), bulk("2")]),
                Value::Array(vec![bulk("x"), bulk("1")]),
            ])
        ])
    );
    assert!(!exists(&mut con, "mp"));
}

#[test]
fn bzpopmin_times_out_with_nil() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let t = Instant::now();
    assert_eq!(run(&mut con, &["BZPOPMIN", "nosuch", "0.3"]), Value::Nil);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "timed out after {took:?}"
    );
    assert_eq!(run(&mut con, &["BZPOPMAX", "a", "b", "0.1"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["BZMPOP", "0.1", "1", "a", "MIN"]),
        Value::Nil
    );
    // Inside MULTI a blocking pop never blocks.
    run(&mut con, &["MULTI"]);
    run(&mut con, &["BZPOPMIN", "nosuch", "0"]);
    assert_eq!(run(&mut con, &["EXEC"]), Value::Array(vec![Value::Nil]));
}

fn raw_of(f: &Frame) -> String {
    f.raw_str()
}

#[test]
fn resp3_reply_shapes() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    c.command_str(&["HELLO", "3"]);
    c.command_str(&["ZADD", "z", "1", "a", "2.5", "b"]);
    let cases: &[(&[&str], &str)] = &[
        (&["ZSCORE", "z", "b"], ",2.5\r\n"),
        (&["ZSCORE", "z", "x"], "_\r\n"),
        (&["ZMSCORE", "z", "a", "x"], "*2\r\n,1\r\n_\r\n"),
        (
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
        ),
        (
            &["ZRANGEBYSCORE", "z", "2", "3", "WITHSCORES"],
            "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
        ),
        (
            &["ZUNION", "1", "z", "WITHSCORES"],
            "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
        ),
        (&["ZRANK", "z", "b", "WITHSCORE"], "*2\r\n:1\r\n,2.5\r\n"),
        (&["ZRANK", "z", "x", "WITHSCORE"], "_\r\n"),
        (&["ZINCRBY", "z", "1", "a"], ",2\r\n"),
        (&["ZADD", "z", "XX", "INCR", "1", "nope"], "_\r\n"),
        (&["ZPOPMIN", "nosuch"], "*0\r\n"),
        (&["ZMPOP", "1", "nosuch", "MIN"], "_\r\n"),
        (&["BZPOPMIN", "nosuch", "0.01"], "_\r\n"),
        (&["ZPOPMIN", "z"], "*2\r\n$1\r\na\r\n,2\r\n"),
        (&["ZPOPMAX", "z", "1"], "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"),
    ];
    for (args, want) in cases {
        assert_eq!(raw_of(&c.command_str(args)), *want, "{args:?}");
    }
    c.command_str(&["ZADD", "z", "1", "a"]);
    assert_eq!(
        raw_of(&c.command_str(&["ZRANDMEMBER", "z", "1", "WITHSCORES"])),
        "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    );
    assert_eq!(
        raw_of(&c.command_str(&["ZMPOP", "1", "z", "MIN"])),
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    );
    c.command_str(&["ZADD", "z", "3", "c"]);
    assert_eq!(
        raw_of(&c.command_str(&["BZPOPMAX", "z", "0"])),
        "*3\r\n$1\r\nz\r\n$1\r\nc\r\n,3\r\n"
    );

    // RESP2: WITHSCORES is flat, scores are bulk strings.
    let mut c2 = srv.raw();
    c2.command_str(&["ZADD", "y", "1", "a", "2", "b"]);
    assert_eq!(
        raw_of(&c2.command_str(&["ZRANGE", "y", "0", "-1", "WITHSCORES"])),
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        raw_of(&c2.command_str(&["ZRANK", "y", "x", "WITHSCORE"])),
        "*-1\r\n"
    );
    assert_eq!(
        raw_of(&c2.command_str(&["ZMPOP", "1", "x", "MIN"])),
        "*-1\r\n"
    );
}

/// Deterministic commands whose replies must equal stock Redis 7.0's byte for byte (scores
/// chosen to print the same under %.17g and the shortest round-trip form).
const DIFF_SCRIPT: &[&[&str]] = &[
    &[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "-0", "d", "0.5", "e",
    ],
    &["ZADD", "z", "CH", "GT", "0", "a", "5", "b", "7", "n"],
    &["ZADD", "z", "LT", "INCR", "-1", "c"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &[
        "ZRANGE",
        "z",
        "(1",
        "+inf",
        "BYSCORE",
        "LIMIT",
        "1",
        "2",
        "WITHSCORES",
    ],
    &[
        "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "3",
    ],
    &["ZRANGE", "z", "0", "-1", "LIMIT", "1", "-1"],
    &["ZREVRANGE", "z", "1", "-2", "WITHSCORES"],
    &["ZRANGEBYSCORE", "z", "(0", "(5"],
    &[
        "ZREVRANGEBYSCORE",
        "z",
        "5",
        "(0",
        "WITHSCORES",
        "LIMIT",
        "1",
        "10",
    ],
    &["ZCOUNT", "z", "0", "(5"],
    &["ZRANK", "z", "c"],
    &["ZREVRANK", "z", "c"],
    &[
        "ZADD", "l", "0", "alpha", "0", "beta", "0", "gamma", "0", "delta",
    ],
    &["ZRANGEBYLEX", "l", "(alpha", "[delta"],
    &["ZREVRANGEBYLEX", "l", "+", "(beta", "LIMIT", "0", "2"],
    &["ZLEXCOUNT", "l", "[b", "(g"],
    &["ZREMRANGEBYLEX", "l", "[b", "(e"],
    &["ZRANGE", "l", "0", "-1"],
    &["ZADD", "w", "2", "b", "4", "x"],
    &["SADD", "s", "a", "x", "q"],
    &[
        "ZUNION",
        "3",
        "z",
        "w",
        "s",
        "WEIGHTS",
        "1",
        "2",
        "3",
        "WITHSCORES",
    ],
    &["ZINTER", "2", "z", "s", "AGGREGATE", "MAX", "WITHSCORES"],
    &["ZDIFF", "2", "z", "w", "WITHSCORES"],
    &["ZINTERSTORE", "dst", "2", "z", "w", "AGGREGATE", "MIN"],
    &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    &["ZRANGESTORE", "dst", "z", "1", "3", "BYSCORE"],
    &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    &["ZINTERCARD", "2", "z", "s", "LIMIT", "0"],
    &["ZPOPMAX", "z", "2"],
    &["ZMPOP", "2", "nosuch", "z", "MIN", "COUNT", "2"],
    &["ZREMRANGEBYRANK", "z", "-1", "-1"],
    &["ZREMRANGEBYSCORE", "z", "-inf", "(1"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &["ZMSCORE", "z", "a", "zz"],
    &[
        "ZRANGE",
        "z",
        "1",
        "0",
        "BYSCORE",
        "LIMIT",
        "0",
        "1",
        "WITHSCORES",
        "REV",
    ],
    &["ZADD", "z", "XX", "NX", "1", "a"],
    &["ZRANGEBYSCORE", "z", "x", "1"],
    &["ZRANGE", "z", "0", "1", "BYLEX"],
    &["ZUNIONSTORE", "dst", "2", "z"],
    &["ZPOPMIN", "z", "-1"],
    &["EXISTS", "z", "l", "dst"],
];

#[test]
fn replies_match_stock_redis() {
    let srv = Server::start(&[]);
    let reference = RedisRef::start();
    for proto in ["2", "3"] {
        let mut ours = srv.raw();
        let mut theirs = reference.raw();
        ours.command_str(&["HELLO", proto]);
        theirs.command_str(&["HELLO", proto]);
        ours.command_str(&["FLUSHALL"]);
        theirs.command_str(&["FLUSHALL"]);
        for args in DIFF_SCRIPT {
            let a = ours.command_str(args);
            let b = theirs.command_str(args);
            assert_eq!(a.raw_str(), b.raw_str(), "RESP{proto} {args:?}");
        }
    }
}
