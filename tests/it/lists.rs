//! List commands through the `redis` crate and raw RESP: every command and option, the error
//! lines and reply shapes compared byte for byte with a stock redis-server (RESP2 and RESP3),
//! lists disappearing when emptied, TTLs, order surviving kill -9 (the log replays the list
//! commands), a 100k-element list, and blocking pops served by other clients in FIFO order.

use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, Value};

use crate::common::*;

fn strs(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

fn range(con: &mut Connection, key: &str) -> Vec<String> {
    run_as(con, &["LRANGE", key, "0", "-1"])
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn pushes_pops_ranges_and_indexes() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["RPUSH", "l", "c", "d"]), Value::Int(2));
    assert_eq!(run(&mut con, &["LPUSH", "l", "b", "a"]), Value::Int(4));
    assert_eq!(range(&mut con, "l"), ["a", "b", "c", "d"]);
    assert_eq!(run(&mut con, &["LPUSHX", "nosuch", "x"]), Value::Int(0));
    assert_eq!(run(&mut con, &["RPUSHX", "nosuch", "x"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXISTS", "nosuch"]), Value::Int(0));
    assert_eq!(run(&mut con, &["LPUSHX", "l", "0", "-1"]), Value::Int(6));
    assert_eq!(run(&mut con, &["RPUSHX", "l", "e"]), Value::Int(7));
    assert_eq!(range(&mut con, "l"), ["-1", "0", "a", "b", "c", "d", "e"]);
    assert_eq!(run(&mut con, &["LLEN", "l"]), Value::Int(7));
    assert_eq!(run(&mut con, &["LLEN", "nosuch"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["TYPE", "l"]),
        Value::SimpleString("list".into())
    );

    assert_eq!(run(&mut con, &["LRANGE", "l", "2", "3"]), strs(&["a", "b"]));
    assert_eq!(
        run(&mut con, &["LRANGE", "l", "-2", "-1"]),
        strs(&["d", "e"])
    );
    assert_eq!(run(&mut con, &["LRANGE", "l", "-100", "0"]), strs(&["-1"]));
    assert_eq!(
        run(&mut con, &["LRANGE", "l", "5", "100"]),
        strs(&["d", "e"])
    );
    assert_eq!(run(&mut con, &["LRANGE", "l", "4", "2"]), strs(&[]));
    assert_eq!(run(&mut con, &["LRANGE", "l", "7", "9"]), strs(&[]));
    assert_eq!(run(&mut con, &["LRANGE", "nosuch", "0", "-1"]), strs(&[]));

    assert_eq!(run(&mut con, &["LINDEX", "l", "0"]), bulk("-1"));
    assert_eq!(run(&mut con, &["LINDEX", "l", "-1"]), bulk("e"));
    assert_eq!(run(&mut con, &["LINDEX", "l", "3"]), bulk("b"));
    assert_eq!(run(&mut con, &["LINDEX", "l", "7"]), Value::Nil);
    assert_eq!(run(&mut con, &["LINDEX", "l", "-8"]), Value::Nil);
    assert_eq!(run(&mut con, &["LINDEX", "nosuch", "0"]), Value::Nil);

    assert_eq!(run(&mut con, &["LPOP", "l"]), bulk("-1"));
    assert_eq!(run(&mut con, &["RPOP", "l"]), bulk("e"));
    assert_eq!(run(&mut con, &["LPOP", "l", "2"]), strs(&["0", "a"]));
    assert_eq!(run(&mut con, &["RPOP", "l", "1"]), strs(&["d"]));
    assert_eq!(run(&mut con, &["LPOP", "l", "0"]), strs(&[]));
    assert_eq!(run(&mut con, &["RPOP", "l", "10"]), strs(&["c", "b"]));
    assert_eq!(run(&mut con, &["EXISTS", "l"]), Value::Int(0));
    assert_eq!(run(&mut con, &["LPOP", "l"]), Value::Nil);
    assert_eq!(run(&mut con, &["RPOP", "l", "3"]), Value::Nil);
}

#[test]
fn lset_lrem_ltrim_and_linsert() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(run(&mut con, &["LSET", "l", "0", "A"]), Value::Okay);
    assert_eq!(run(&mut con, &["LSET", "l", "-1", "C"]), Value::Okay);
    assert_eq!(run(&mut con, &["LSET", "l", "1", "B"]), Value::Okay);
    assert_eq!(range(&mut con, "l"), ["A", "B", "C"]);

    // LINSERT near the head (head side moves) and near the tail (tail side moves).
    assert_eq!(
        run(&mut con, &["LINSERT", "l", "BEFORE", "A", "0"]),
        Value::Int(4)
    );
    assert_eq!(
        run(&mut con, &["LINSERT", "l", "after", "C", "D"]),
        Value::Int(5)
    );
    assert_eq!(
        run(&mut con, &["LINSERT", "l", "AFTER", "A", "a2"]),
        Value::Int(6)
    );
    assert_eq!(
        run(&mut con, &["LINSERT", "l", "before", "C", "c0"]),
        Value::Int(7)
    );
    assert_eq!(range(&mut con, "l"), ["0", "A", "a2", "B", "c0", "C", "D"]);
    assert_eq!(
        run(&mut con, &["LINSERT", "l", "BEFORE", "zz", "x"]),
        Value::Int(-1)
    );
    assert_eq!(
        run(&mut con, &["LINSERT", "nosuch", "BEFORE", "a", "x"]),
        Value::Int(0)
    );
    assert_eq!(run(&mut con, &["EXISTS", "nosuch"]), Value::Int(0));

    run(&mut con, &["DEL", "r"]);
    run(
        &mut con,
        &["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x", "d", "x"],
    );
    assert_eq!(run(&mut con, &["LREM", "r", "2", "x"]), Value::Int(2));
    assert_eq!(range(&mut con, "r"), ["a", "b", "x", "c", "x", "d", "x"]);
    assert_eq!(run(&mut con, &["LREM", "r", "-1", "x"]), Value::Int(1));
    assert_eq!(range(&mut con, "r"), ["a", "b", "x", "c", "x", "d"]);
    assert_eq!(run(&mut con, &["LREM", "r", "0", "x"]), Value::Int(2));
    assert_eq!(range(&mut con, "r"), ["a", "b", "c", "d"]);
    assert_eq!(run(&mut con, &["LREM", "r", "0", "zz"]), Value::Int(0));
    assert_eq!(run(&mut con, &["LREM", "nosuch", "0", "a"]), Value::Int(0));
    // Pushes at both ends still line up after the rewrites.
    run(&mut con, &["LPUSH", "r", "h"]);
    run(&mut con, &["RPUSH", "r", "t"]);
    assert_eq!(range(&mut con, "r"), ["h", "a", "b", "c", "d", "t"]);
    assert_eq!(run(&mut con, &["LINDEX", "r", "-2"]), bulk("d"));

    run(&mut con, &["RPUSH", "t", "1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(run(&mut con, &["LTRIM", "t", "1", "-2"]), Value::Okay);
    assert_eq!(range(&mut con, "t"), ["2", "3", "4", "5", "6"]);
    assert_eq!(run(&mut con, &["LTRIM", "t", "0", "-1"]), Value::Okay);
    assert_eq!(run(&mut con, &["LTRIM", "t", "-2", "100"]), Value::Okay);
    assert_eq!(range(&mut con, "t"), ["5", "6"]);
    run(&mut con, &["LPUSH", "t", "4"]);
    assert_eq!(range(&mut con, "t"), ["4", "5", "6"]);
    assert_eq!(run(&mut con, &["LTRIM", "nosuch", "0", "1"]), Value::Okay);
}

#[test]
fn lpos_options() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(
        &mut con,
        &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"],
    );

    assert_eq!(run(&mut con, &["LPOS", "p", "c"]), Value::Int(2));
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "RANK", "2"]),
        Value::Int(6)
    );
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "RANK", "-1"]),
        Value::Int(7)
    );
    assert_eq!(run(&mut con, &["LPOS", "p", "c", "RANK", "4"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "COUNT", "0"]),
        Value::Array(vec![Value::Int(2), Value::Int(6), Value::Int(7)])
    );
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "COUNT", "2"]),
        Value::Array(vec![Value::Int(2), Value::Int(6)])
    );
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "RANK", "-2", "COUNT", "0"]),
        Value::Array(vec![Value::Int(6), Value::Int(2)])
    );
    assert_eq!(
        run(&mut con, &["LPOS", "p", "c", "COUNT", "0", "MAXLEN", "3"]),
        Value::Array(vec![Value::Int(2)])
    );
    assert_eq!(
        run(&mut con, &["LPOS", "p", "a", "RANK", "-1", "MAXLEN", "2"]),
        Value::Nil
    );
    assert_eq!(run(&mut con, &["LPOS", "p", "zz"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["LPOS", "p", "zz", "COUNT", "1"]),
        Value::Array(vec![])
    );
    assert_eq!(run(&mut con, &["LPOS", "nosuch", "a"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["LPOS", "nosuch", "a", "COUNT", "1"]),
        Value::Array(vec![])
    );
}

#[test]
fn lmove_rotates_and_moves_between_lists() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["RPUSH", "m", "a", "b", "c"]);

    assert_eq!(
        run(&mut con, &["LMOVE", "m", "m", "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(range(&mut con, "m"), ["b", "c", "a"]);
    assert_eq!(
        run(&mut con, &["LMOVE", "m", "m", "right", "left"]),
        bulk("a")
    );
    assert_eq!(range(&mut con, "m"), ["a", "b", "c"]);
    assert_eq!(
        run(&mut con, &["LMOVE", "m", "m", "LEFT", "LEFT"]),
        bulk("a")
    );
    assert_eq!(range(&mut con, "m"), ["a", "b", "c"]);
    // A full rotation of a one-element list keeps it.
    run(&mut con, &["RPUSH", "one", "x"]);
    assert_eq!(
        run(&mut con, &["LMOVE", "one", "one", "RIGHT", "LEFT"]),
        bulk("x")
    );
    assert_eq!(range(&mut con, "one"), ["x"]);

    assert_eq!(
        run(&mut con, &["LMOVE", "m", "d", "RIGHT", "LEFT"]),
        bulk("c")
    );
    assert_eq!(
        run(&mut con, &["LMOVE", "m", "d", "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(range(&mut con, "d"), ["c", "a"]);
    assert_eq!(run(&mut con, &["RPOPLPUSH", "m", "d"]), bulk("b"));
    assert_eq!(range(&mut con, "d"), ["b", "c", "a"]);
    assert_eq!(run(&mut con, &["EXISTS", "m"]), Value::Int(0));
    assert_eq!(run(&mut con, &["RPOPLPUSH", "m", "d"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["LMOVE", "nosuch", "d", "LEFT", "LEFT"]),
        Value::Nil
    );
    assert_eq!(run(&mut con, &["RPOPLPUSH", "d", "d"]), bulk("a"));
    assert_eq!(range(&mut con, "d"), ["a", "b", "c"]);
}

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["RPUSH", "b", "1", "2", "3"]);
    run(&mut con, &["RPUSH", "c", "x"]);

    assert_eq!(
        run(&mut con, &["LMPOP", "3", "a", "b", "c", "LEFT"]),
        Value::Array(vec![bulk("b"), strs(&["1"])])
    );
    assert_eq!(
        run(&mut con, &["LMPOP", "2", "b", "c", "RIGHT", "COUNT", "5"]),
        Value::Array(vec![bulk("b"), strs(&["3", "2"])])
    );
    assert_eq!(run(&mut con, &["EXISTS", "b"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["LMPOP", "2", "b", "c", "left", "count", "1"]),
        Value::Array(vec![bulk("c"), strs(&["x"])])
    );
    assert_eq!(run(&mut con, &["LMPOP", "2", "b", "c", "LEFT"]), Value::Nil);
}

#[test]
fn error_lines_match_redis() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["RPUSH", "l", "a", "b"]);

    let cases: &[(&[&str], &str)] = &[
        (&["LPUSH", "l"], "ERR wrong number of arguments for 'lpush' command"),
        (&["LPOP", "l", "1", "2"], "ERR wrong number of arguments for 'lpop' command"),
        (&["RPOP", "l", "-1"], "ERR value is out of range, must be positive"),
        (&["LPOP", "l", "x"], "ERR value is out of range, must be positive"),
        (&["LMOVE", "l", "m", "LEFT"], "ERR wrong number of arguments for 'lmove' command"),
        (&["LSET", "nosuch", "0", "x"], "ERR no such key"),
        (&["LSET", "nosuch", "x", "x"], "ERR no such key"),
        (&["LSET", "l", "2", "x"], "ERR index out of range"),
        (&["LSET", "l", "-3", "x"], "ERR index out of range"),
        (&["LSET", "l", "x", "x"], "ERR value is not an integer or out of range"),
        (&["LINDEX", "l", "x"], "ERR value is not an integer or out of range"),
        (&["LRANGE", "l", "0", "x"], "ERR value is not an integer or out of range"),
        (&["LTRIM", "l", "x", "1"], "ERR value is not an integer or out of range"),
        (&["LREM", "l", "x", "a"], "ERR value is not an integer or out of range"),
        (&["LINSERT", "l", "MIDDLE", "a", "b"], "ERR syntax error"),
        (
            &["LPOS", "l", "a", "RANK", "0"],
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        ),
        (&["LPOS", "l", "a", "COUNT", "-1"], "ERR COUNT can't be negative"),
        (&["LPOS", "l", "a", "MAXLEN", "-1"], "ERR MAXLEN can't be negative"),
        (&["LPOS", "l", "a", "RANK", "x"], "ERR value is not an integer or out of range"),
        (&["LPOS", "l", "a", "COUNT"], "ERR syntax error"),
        (&["LPOS", "l", "a", "FOO", "1"], "ERR syntax error"),
        (&["LMOVE", "l", "m", "UP", "LEFT"], "ERR syntax error"),
        (&["LMOVE", "l", "m", "LEFT", "DOWN"], "ERR syntax error"),
        (&["LMPOP", "0", "l", "LEFT"], "ERR numkeys should be greater than 0"),
        (&["LMPOP", "x", "l", "LEFT"], "ERR numkeys should be greater than 0"),
        (&["LMPOP", "2", "l", "LEFT"], "ERR syntax error"),
        (&["LMPOP", "1", "l", "MIDDLE"], "ERR syntax error"),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "0"], "ERR count should be greater than 0"),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"], "ERR syntax error"),
        (&["BLPOP", "l", "x"], "ERR timeout is not a float or out of range"),
        (&["BRPOP", "l", "-1"], "ERR timeout is negative"),
        (&["BLMOVE", "l", "m", "LEFT", "RIGHT", "x"], "ERR timeout is not a float or out of range"),
        (&["BLMOVE", "l", "m", "UP", "RIGHT", "x"], "ERR syntax error"),
        (&["BRPOPLPUSH", "l", "m", "-1"], "ERR timeout is negative"),
        (&["BLMPOP", "x", "0", "l", "LEFT"], "ERR numkeys should be greater than 0"),
        (&["BLMPOP", "x", "1", "l", "LEFT"], "ERR timeout is not a float or out of range"),
        (&["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "-2"], "ERR count should be greater than 0"),
        (&["BLMPOP", "0", "1"], "ERR wrong number of arguments for 'blmpop' command"),
    ];
    for (args, want) in cases {
        assert_err(&mut con, args, want);
    }
    assert_eq!(range(&mut con, "l"), ["a", "b"], "errors change nothing");
}

#[test]
fn wrongtype_against_a_string_and_a_hash() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "s", "v"]);
    run(&mut con, &["HSET", "h", "f", "v"]);
    run(&mut con, &["RPUSH", "l", "a"]);

    for k in ["s", "h"] {
        let cmds: Vec<Vec<&str>> = vec![
            vec!["LPUSH", k, "a"],
            vec!["RPUSH", k, "a"],
            vec!["LPUSHX", k, "a"],
            vec!["RPUSHX", k, "a"],
            vec!["LPOP", k],
            vec!["RPOP", k, "2"],
            vec!["LPOP", k, "0"],
            vec!["LLEN", k],
            vec!["LRANGE", k, "0", "-1"],
            vec!["LINDEX", k, "0"],
            vec!["LSET", k, "0", "a"],
            vec!["LREM", k, "0", "a"],
            vec!["LTRIM", k, "0", "1"],
            vec!["LINSERT", k, "BEFORE", "a", "b"],
            vec!["LPOS", k, "a"],
            vec!["LMOVE", k, "l", "LEFT", "LEFT"],
            vec!["LMOVE", "l", k, "LEFT", "LEFT"],
            vec!["RPOPLPUSH", k, "l"],
            vec!["RPOPLPUSH", "l", k],
            vec!["LMPOP", "2", "nosuch", k, "LEFT"],
            vec!["BLPOP", "nosuch", k, "0"],
            vec!["BRPOP", k, "0"],
            vec!["BLMOVE", k, "l", "LEFT", "LEFT", "0"],
            vec!["BLMOVE", "l", k, "LEFT", "LEFT", "0"],
            vec!["BRPOPLPUSH", k, "l", "0"],
            vec!["BLMPOP", "0", "1", k, "LEFT"],
        ];
        for c in &cmds {
            assert_err(&mut con, c, WRONGTYPE);
        }
    }
    assert_eq!(range(&mut con, "l"), ["a"], "a failed move pops nothing");
    assert_eq!(get_s(&mut con, "s").as_deref(), Some("v"));
    assert_eq!(run(&mut con, &["HGET", "h", "f"]), bulk("v"));
    // A list before the wrong-typed key is served.
    assert_eq!(run(&mut con, &["BLPOP", "l", "s", "0"]), strs(&["l", "a"]));
}

#[test]
fn a_list_disappears_with_its_last_element() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let gone = |con: &mut Connection, k: &str| {
        assert_eq!(run(con, &["EXISTS", k]), Value::Int(0), "{k} still exists");
        assert_eq!(run(con, &["TYPE", k]), Value::SimpleString("none".into()));
        assert_eq!(run(con, &["LLEN", k]), Value::Int(0));
    };

    run(&mut con, &["RPUSH", "k", "a", "b"]);
    run(&mut con, &["LPOP", "k"]);
    run(&mut con, &["RPOP", "k"]);
    gone(&mut con, "k");
    run(&mut con, &["RPUSH", "k", "a", "a", "a"]);
    run(&mut con, &["LREM", "k", "0", "a"]);
    gone(&mut con, "k");
    run(&mut con, &["RPUSH", "k", "a", "b"]);
    run(&mut con, &["LTRIM", "k", "5", "10"]);
    gone(&mut con, "k");
    run(&mut con, &["RPUSH", "k", "a"]);
    run(&mut con, &["LMOVE", "k", "d", "LEFT", "LEFT"]);
    gone(&mut con, "k");
    run(&mut con, &["LMPOP", "1", "d", "LEFT", "COUNT", "9"]);
    gone(&mut con, "d");
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    // A new list under the same name starts empty.
    run(&mut con, &["RPUSH", "k", "new"]);
    assert_eq!(range(&mut con, "k"), ["new"]);
}

#[test]
fn ttl_on_a_list() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["RPUSH", "l", "a", "b"]);
    assert_eq!(run(&mut con, &["EXPIRE", "l", "100"]), Value::Int(1));
    run(&mut con, &["RPUSH", "l", "c"]);
    run(&mut con, &["LPOP", "l"]);
    run(&mut con, &["LSET", "l", "0", "B"]);
    let ttl: i64 = run_as(&mut con, &["TTL", "l"]);
    assert!((95..=100).contains(&ttl), "writes keep the TTL: {ttl}");

    assert_eq!(run(&mut con, &["PEXPIRE", "l", "150"]), Value::Int(1));
    wait_until(Duration::from_secs(5), "the list to expire", || {
        run(&mut con, &["EXISTS", "l"]) == Value::Int(0)
    });
    assert_eq!(run(&mut con, &["LRANGE", "l", "0", "-1"]), strs(&[]));
    assert_eq!(run(&mut con, &["RPUSH", "l", "z"]), Value::Int(1));
    assert_eq!(range(&mut con, "l"), ["z"]);
    assert_eq!(run(&mut con, &["TTL", "l"]), Value::Int(-1));
}

#[test]
fn lists_keep_their_order_across_kill_9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let expected_l: Vec<String>;
    {
        let mut con = srv.client();
        for i in 0..50 {
            let v = i.to_string();
            if i % 2 == 0 {
                run(&mut con, &["RPUSH", "l", &v]);
            } else {
                run(&mut con, &["LPUSH", "l", &v]);
            }
        }
        run(&mut con, &["LINSERT", "l", "BEFORE", "10", "ins"]);
        run(&mut con, &["LREM", "l", "2", "7"]);
        run(&mut con, &["LREM", "l", "0", "40"]);
        run(&mut con, &["LSET", "l", "3", "set"]);
        run(&mut con, &["LTRIM", "l", "1", "-2"]);
        run(&mut con, &["LPOP", "l", "2"]);
        run(&mut con, &["RPOP", "l"]);
        run(&mut con, &["LMOVE", "l", "l", "LEFT", "RIGHT"]);
        run(&mut con, &["LMOVE", "l", "m", "RIGHT", "LEFT"]);
        run(&mut con, &["RPOPLPUSH", "l", "m"]);
        run(&mut con, &["LMPOP", "1", "l", "RIGHT", "COUNT", "2"]);
        run(&mut con, &["RPUSH", "gone", "x"]);
        run(&mut con, &["BLPOP", "gone", "0"]);
        expected_l = range(&mut con, "l");
        assert!(expected_l.len() > 30, "{expected_l:?}");
    }
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(range(&mut con, "l"), expected_l);
    assert_eq!(
        run(&mut con, &["LLEN", "l"]),
        Value::Int(expected_l.len() as i64)
    );
    assert_eq!(range(&mut con, "m").len(), 2);
    assert_eq!(run(&mut con, &["EXISTS", "gone"]), Value::Int(0));
    // Both ends still work after the restart.
    run(&mut con, &["LPUSH", "l", "head"]);
    run(&mut con, &["RPUSH", "l", "tail"]);
    let now = range(&mut con, "l");
    assert_eq!(now.first().map(String::as_str), Some("head"));
    assert_eq!(now.last().map(String::as_str), Some("tail"));
    assert_eq!(&now[1..now.len() - 1], expected_l.as_slice());
}

#[test]
fn a_list_of_100k_elements() {
    const N: usize = 100_000;
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
        let mut p = redis::pipe();
        for i in chunk.chunks(100) {
            let mut c = redis::cmd("RPUSH");
            c.arg("big");
            for j in i {
                c.arg(format!("v{j}"));
            }
            p.add_command(c).ignore();
        }
        p.query::<()>(&mut con).expect("pipelined RPUSH");
    }
    assert_eq!(run(&mut con, &["LLEN", "big"]), Value::Int(N as i64));
    assert_eq!(run(&mut con, &["LINDEX", "big", "0"]), bulk("v0"));
    assert_eq!(run(&mut con, &["LINDEX", "big", "-1"]), bulk("v99999"));
    assert_eq!(run(&mut con, &["LINDEX", "big", "50000"]), bulk("v50000"));
    assert_eq!(run(&mut con, &["LSET", "big", "0", "first"]), Value::Okay);
    assert_eq!(run(&mut con, &["LSET", "big", "-1", "last"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["LSET", "big", "-2", "second-last"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["LRANGE", "big", "99997", "99999"]),
        strs(&["v99997", "second-last", "last"])
    );
    assert_eq!(run(&mut con, &["LPOP", "big"]), bulk("first"));
    assert_eq!(run(&mut con, &["RPOP", "big"]), bulk("last"));
    assert_eq!(run(&mut con, &["LPOP", "big", "2"]), strs(&["v1", "v2"]));
    assert_eq!(
        run(&mut con, &["RPOP", "big", "2"]),
        strs(&["second-last", "v99997"])
    );
    assert_eq!(run(&mut con, &["LLEN", "big"]), Value::Int(N as i64 - 6));
    assert_eq!(run(&mut con, &["LINDEX", "big", "0"]), bulk("v3"));
    assert_eq!(run(&mut con, &["LINDEX", "big", "-1"]), bulk("v99996"));
    assert_eq!(run(&mut con, &["LPOS", "big", "v99990"]), Value::Int(99987));
    let all: Vec<String> = run_as(&mut con, &["LRANGE", "big", "0", "-1"]);
    assert_eq!(all.len(), N - 6);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, v)| *v == format!("v{}", i + 3)));
}

/// Names the connection so [`wait_blocked`] can find it.
fn named_client(srv: &Server, name: &str) -> Connection {
    let mut c = srv.client();
    run(&mut c, &["CLIENT", "SETNAME", name]);
    c
}

/// Waits until client `name` has sent `cmd` (CLIENT LIST's cmd=) and a little more, so it is
/// parked in the writer before the test goes on.
fn wait_blocked(con: &mut Connection, name: &str, cmd: &str) {
    let want = format!("cmd={cmd}");
    wait_until(Duration::from_secs(5), &format!("{name} to block"), || {
        let list: String = run_as(con, &["CLIENT", "LIST"]);
        list.lines()
            .any(|l| l.contains(&format!(" name={name} ")) && l.contains(&want))
    });
    thread::sleep(Duration::from_millis(150));
}

fn spawn_command(mut c: Connection, args: &'static [&'static str]) -> thread::JoinHandle<Value> {
    thread::spawn(move || run(&mut c, args))
}

#[test]
fn blpop_is_served_by_a_push_from_another_client() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let waiter = spawn_command(named_client(&srv, "w"), &["BLPOP", "nosuch", "q", "10"]);
    wait_blocked(&mut con, "w", "blpop");
    assert_eq!(run(&mut con, &["RPUSH", "q", "v"]), Value::Int(1));
    let got = waiter.join().expect("BLPOP thread");
    assert_eq!(got, strs(&["q", "v"]));
    assert_eq!(
        run(&mut con, &["EXISTS", "q"]),
        Value::Int(0),
        "the value is gone"
    );

    // BRPOP takes from the tail; BLMPOP with a count.
    let waiter = spawn_command(named_client(&srv, "w2"), &["BRPOP", "q", "10"]);
    wait_blocked(&mut con, "w2", "brpop");
    run(&mut con, &["RPUSH", "q", "a", "b"]);
    assert_eq!(waiter.join().expect("BRPOP thread"), strs(&["q", "b"]));
    assert_eq!(range(&mut con, "q"), ["a"]);
    run(&mut con, &["DEL", "q"]);

    let waiter = spawn_command(
        named_client(&srv, "w3"),
        &["BLMPOP", "10", "2", "x", "q", "LEFT", "COUNT", "2"],
    );
    wait_blocked(&mut con, "w3", "blmpop");
    run(&mut con, &["RPUSH", "q", "1", "2", "3"]);
    assert_eq!(
        waiter.join().expect("BLMPOP thread"),
        Value::Array(vec![bulk("q"), strs(&["1", "2"])])
    );
    assert_eq!(range(&mut con, "q"), ["3"]);
}

#[test]
fn blocking_pops_time_out_with_nil() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let t = std::time::Instant::now();
    assert_eq!(run(&mut con, &["BLPOP", "nosuch", "0.2"]), Value::Nil);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(run(&mut con, &["BRPOP", "a", "b", "0.1"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["BLMOVE", "nosuch", "d", "LEFT", "LEFT", "0.1"]),
        Value::Nil
    );
    assert_eq!(
        run(&mut con, &["BRPOPLPUSH", "nosuch", "d", "0.1"]),
        Value::Nil
    );
    assert_eq!(
        run(&mut con, &["BLMPOP", "0.1", "1", "nosuch", "LEFT"]),
        Value::Nil
    );
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    assert_eq!(run(&mut con, &["PING"]), Value::SimpleString("PONG".into()));
}

#[test]
fn clients_blocked_on_one_key_are_served_in_the_order_they_blocked() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let first = spawn_command(named_client(&srv, "first"), &["BLPOP", "q", "10"]);
    wait_blocked(&mut con, "first", "blpop");
    let second = spawn_command(named_client(&srv, "second"), &["BLPOP", "q", "10"]);
    wait_blocked(&mut con, "second", "blpop");
    let third = spawn_command(named_client(&srv, "third"), &["BLPOP", "other", "q", "10"]);
    wait_blocked(&mut con, "third", "blpop");

    run(&mut con, &["RPUSH", "q", "1", "2"]);
    assert_eq!(first.join().expect("first"), strs(&["q", "1"]));
    assert_eq!(second.join().expect("second"), strs(&["q", "2"]));
    run(&mut con, &["RPUSH", "q", "3"]);
    assert_eq!(third.join().expect("third"), strs(&["q", "3"]));
    assert_eq!(run(&mut con, &["EXISTS", "q"]), Value::Int(0));
}

#[test]
fn blmove_and_brpoplpush_are_served() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let waiter = spawn_command(
        named_client(&srv, "mv"),
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "10"],
    );
    wait_blocked(&mut con, "mv", "blmove");
    run(&mut con, &["RPUSH", "dst", "d0"]);
    run(&mut con, &["RPUSH", "src", "a", "b"]);
    assert_eq!(waiter.join().expect("BLMOVE thread"), bulk("a"));
    assert_eq!(range(&mut con, "src"), ["b"]);
    assert_eq!(range(&mut con, "dst"), ["d0", "a"]);

    run(&mut con, &["DEL", "src"]);
    let waiter = spawn_command(
        named_client(&srv, "rpl"),
        &["BRPOPLPUSH", "src", "dst", "10"],
    );
    wait_blocked(&mut con, "rpl", "brpoplpush");
    run(&mut con, &["RPUSH", "src", "x", "y"]);
    assert_eq!(waiter.join().expect("BRPOPLPUSH thread"), bulk("y"));
    assert_eq!(range(&mut con, "dst"), ["y", "d0", "a"]);
    // Served at once when there is something to move.
    assert_eq!(
        run(&mut con, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]),
        bulk("x")
    );
    assert_eq!(run(&mut con, &["EXISTS", "src"]), Value::Int(0));
}

#[test]
fn a_served_blmove_feeds_a_client_blocked_on_its_destination() {
    let srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    let mover = spawn_command(
        named_client(&srv, "mover"),
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "10"],
    );
    wait_blocked(&mut con, "mover", "blmove");
    let popper = spawn_command(named_client(&srv, "popper"), &["BLPOP", "b", "10"]);
    wait_blocked(&mut con, "popper", "blpop");
    run(&mut con, &["RPUSH", "a", "v"]);
    assert_eq!(mover.join().expect("mover"), bulk("v"));
    assert_eq!(popper.join().expect("popper"), strs(&["b", "v"]));
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
}

#[test]
fn served_blocking_pops_replay_after_kill_9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    {
        let mut con = srv.client();
        let waiter = spawn_command(named_client(&srv, "w"), &["BLPOP", "q", "10"]);
        wait_blocked(&mut con, "w", "blpop");
        run(&mut con, &["RPUSH", "q", "1", "2", "3"]);
        assert_eq!(waiter.join().expect("BLPOP"), strs(&["q", "1"]));
        run(&mut con, &["BLMOVE", "q", "d", "RIGHT", "LEFT", "0"]);
        run(&mut con, &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "5"]);
    }
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(run(&mut con, &["EXISTS", "q"]), Value::Int(0));
    assert_eq!(range(&mut con, "d"), ["3"]);
}

#[test]
fn blpop_inside_multi_acts_like_lpop() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["RPUSH", "l", "a", "b"]);
    let mut p = redis::pipe();
    p.atomic()
        .cmd("BLPOP")
        .arg("nosuch")
        .arg("l")
        .arg("0")
        .cmd("BRPOP")
        .arg("nosuch")
        .arg("0")
        .cmd("BLMOVE")
        .arg("nosuch")
        .arg("l")
        .arg("LEFT")
        .arg("LEFT")
        .arg("0")
        .cmd("BLMPOP")
        .arg("0")
        .arg("1")
        .arg("l")
        .arg("RIGHT");
    let replies: Vec<Value> = p.query(&mut con).expect("MULTI/EXEC");
    assert_eq!(
        replies,
        vec![
            strs(&["l", "a"]),
            Value::Nil,
            Value::Nil,
            Value::Array(vec![bulk("l"), strs(&["b"])]),
        ]
    );
    assert_eq!(run(&mut con, &["EXISTS", "l"]), Value::Int(0));
}

/// Replies compared byte for byte with a stock redis-server, in RESP2 and in RESP3.
#[test]
fn replies_match_redis_byte_for_byte() {
    let srv = Server::start(&[]);
    let mut redis_ref = RedisRef::start();
    let script: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c", "a"],
        &["LPOP", "nosuch"],
        &["LPOP", "nosuch", "1"],
        &["LPOP", "nosuch", "0"],
        &["RPOP", "l", "0"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "nosuch", "0", "-1"],
        &["LINDEX", "l", "9"],
        &["LPOS", "l", "z"],
        &["LPOS", "l", "a", "COUNT", "0"],
        &["LPOS", "nosuch", "a", "COUNT", "0"],
        &["LMPOP", "1", "nosuch", "LEFT"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "2"],
        &["LMOVE", "nosuch", "l", "LEFT", "LEFT"],
        &["RPOPLPUSH", "nosuch", "l"],
        &["BLPOP", "nosuch", "0.05"],
        &["BRPOP", "nosuch", "0.05"],
        &["BLMOVE", "nosuch", "l", "LEFT", "LEFT", "0.05"],
        &["BRPOPLPUSH", "nosuch", "l", "0.05"],
        &["BLMPOP", "0.05", "1", "nosuch", "LEFT"],
        &["BLPOP", "l", "0"],
        &["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "9"],
        &["LINSERT", "l", "BEFORE", "x", "y"],
        &["LSET", "l", "0", "x"],
        &["LTRIM", "l", "0", "1"],
        &["LREM", "l", "0", "a"],
        &["LPUSHX", "l", "a"],
        &["SET", "s", "v"],
        &["LPUSH", "s", "a"],
        &["LPOP", "s", "0"],
        &["LPOP", "l", "1", "2"],
        &["LINSERT", "l", "MIDDLE", "a", "b"],
        &["LMPOP", "2", "l", "LEFT"],
        &["BLMPOP", "x", "1", "l", "LEFT"],
        &["MULTI"],
        &["BLMOVE", "nosuch", "l", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "nosuch", "l", "0"],
        &["BLPOP", "nosuch", "0"],
        &["BLMPOP", "0", "1", "nosuch", "LEFT"],
        &["EXEC"],
    ];
    for resp in ["2", "3"] {
        let mut ours = srv.raw();
        let mut theirs = redis_ref.raw();
        ours.command_str(&["HELLO", resp]);
        theirs.command_str(&["HELLO", resp]);
        ours.command_str(&["FLUSHALL"]);
        theirs.command_str(&["FLUSHALL"]);
        for args in script {
            let a = ours.command_str(args);
            let b = theirs.command_str(args);
            assert_eq!(a.raw_str(), b.raw_str(), "RESP{resp} reply to {args:?}");
        }
    }
    redis_ref.stop();
}

/// A random list command over a few keys and small values (so pivots and LREM hit).
fn random_list_command(rng: &mut StdRng) -> Vec<String> {
    let keys = ["a", "b", "c"];
    let key = |rng: &mut StdRng| keys[rng.random_range(0..keys.len())].to_string();
    let val = |rng: &mut StdRng| format!("v{}", rng.random_range(0..6));
    let idx = |rng: &mut StdRng| rng.random_range(-8i64..8).to_string();
    let end = |rng: &mut StdRng| ["LEFT", "RIGHT"][rng.random_range(0..2)].to_string();
    let mut c: Vec<String> = match rng.random_range(0..16) {
        0 | 1 => vec![["LPUSH", "RPUSH"][rng.random_range(0..2)].into(), key(rng)],
        2 => vec![
            ["LPUSHX", "RPUSHX"][rng.random_range(0..2)].into(),
            key(rng),
        ],
        3 => vec![["LPOP", "RPOP"][rng.random_range(0..2)].into(), key(rng)],
        4 => vec!["LSET".into(), key(rng), idx(rng), val(rng)],
        5 => vec![
            "LREM".into(),
            key(rng),
            rng.random_range(-2..3).to_string(),
            val(rng),
        ],
        6 => vec!["LTRIM".into(), key(rng), idx(rng), idx(rng)],
        7 | 8 => {
            let side = ["BEFORE", "AFTER"][rng.random_range(0..2)];
            vec!["LINSERT".into(), key(rng), side.into(), val(rng), val(rng)]
        }
        9 => vec!["LMOVE".into(), key(rng), key(rng), end(rng), end(rng)],
        10 => vec!["RPOPLPUSH".into(), key(rng), key(rng)],
        11 => vec![
            "LMPOP".into(),
            "2".into(),
            key(rng),
            key(rng),
            end(rng),
            "COUNT".into(),
            "2".into(),
        ],
        // A short timeout: on empty keys both servers wait it out and answer nil.
        12 => vec!["BLPOP".into(), key(rng), key(rng), "0.01".into()],
        13 => vec!["LRANGE".into(), key(rng), idx(rng), idx(rng)],
        14 => vec![
            "LPOS".into(),
            key(rng),
            val(rng),
            "RANK".into(),
            "-1".into(),
            "COUNT".into(),
            "0".into(),
        ],
        _ => vec!["LINDEX".into(), key(rng), idx(rng)],
    };
    if c.len() == 2 && c[0].contains("PUSH") {
        for _ in 0..rng.random_range(1..4) {
            c.push(val(rng));
        }
    }
    if c.len() == 2 && c[0].ends_with("POP") && rng.random_bool(0.5) {
        c.push(rng.random_range(0..4).to_string());
    }
    c
}

/// Random list commands answer as Redis does, and replaying the whole log from an empty
/// checkpoint rebuilds exactly the same lists (every command logs a replayable effect).
#[test]
fn random_commands_match_redis_and_the_log_replays_them() {
    let seed = seed_from_env("DURAKV_LISTS_SEED", "lists differential");
    let mut rng = StdRng::seed_from_u64(seed);
    let srv = Server::start(&["--appendfsync", "always"]);
    let mut redis_ref = RedisRef::start();
    let mut ours = srv.client();
    let mut theirs = redis_ref.client();
    let out = tempfile::tempdir().expect("tempdir");
    let ckpt = out.path().join("ckpt");
    let ckpt_arg = ckpt.to_str().expect("utf-8 temp path");
    run(&mut ours, &["CHECKPOINT", "EXPORT", ckpt_arg]);

    for step in 0..1500 {
        let c = random_list_command(&mut rng);
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let a = cmd(&args)
            .query::<Value>(&mut ours)
            .map_err(|e| err_text(&e));
        let b = cmd(&args)
            .query::<Value>(&mut theirs)
            .map_err(|e| err_text(&e));
        assert_eq!(a, b, "step {step}: {args:?} (seed {seed})");
    }
    let mut lists = Vec::new();
    for k in ["a", "b", "c"] {
        let l = range(&mut ours, k);
        assert_eq!(l, range(&mut theirs, k), "list {k} (seed {seed})");
        lists.push(l);
    }
    redis_ref.stop();

    let end: u64 = info_field(&mut ours, "replication", "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("master_repl_offset");
    let restored_dir = out.path().join("restored");
    let res = std::process::Command::new(durakv_bin())
        .args(["restore", "--checkpoint", ckpt_arg, "--log"])
        .arg(srv.log_dir())
        .args(["--until-offset", &end.to_string(), "--dir"])
        .arg(&restored_dir)
        .output()
        .expect("run durakv restore");
    assert!(
        res.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let restored = Server::start_in(&restored_dir, &[]);
    let mut rc = restored.client();
    for (k, l) in ["a", "b", "c"].iter().zip(&lists) {
        assert_eq!(&range(&mut rc, k), l, "replayed list {k} (seed {seed})");
        assert_eq!(run(&mut rc, &["LLEN", k]), Value::Int(l.len() as i64));
    }
    assert_eq!(
        run(&mut rc, &["DEBUG", "DIGEST"]),
        run(&mut ours, &["DEBUG", "DIGEST"]),
        "keyspace digest after replay (seed {seed})"
    );
}
