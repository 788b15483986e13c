//! Active expiry: keys whose TTL passed disappear without being touched (DBSIZE counts them
//! until then, as in Redis), each is logged as a DEL, and a restart replays to the same state.

use std::time::Duration;

use redis::Value;

use crate::common::*;

fn info_u64(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    info_field(con, section, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no numeric {field}"))
}

#[test]
fn untouched_keys_expire_in_the_background_and_stay_gone_after_restart() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    for i in 0..300 {
        run(&mut con, &["SET", &format!("short:{i}"), "v", "PX", "3000"]);
    }
    for i in 0..20 {
        run(&mut con, &["SET", &format!("long:{i}"), "v", "EX", "3600"]);
    }
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(320));
    let end_after_sets = info_u64(&mut con, "replication", "master_repl_offset");
    // No command touches the short keys: only the active cycle can remove them.
    wait_until(
        Duration::from_secs(10),
        "active expiry to reclaim 300 keys",
        || run(&mut con, &["DBSIZE"]) == Value::Int(20),
    );
    assert_eq!(info_u64(&mut con, "stats", "expired_keys"), 300);
    // The DELs are in the log now, but with `always` the published offset moves only after
    // the fsync that covers them, which can lag under load. A write of our own is answered
    // only after an fsync that covers everything logged before it, and the offset is
    // published before that answer: after it, the offset covers every DEL.
    assert_eq!(run(&mut con, &["SET", "barrier", "1"]), Value::Okay);
    let end_before = info_u64(&mut con, "replication", "master_repl_offset");
    assert!(end_before > end_after_sets + 300 * "DEL short:000".len() as u64);
    drop(con);
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(21));
    assert_eq!(run(&mut con, &["EXISTS", "short:7"]), Value::Int(0));
    assert_eq!(run(&mut con, &["EXISTS", "long:7"]), Value::Int(1));
    // Replay emits nothing new: the log ends where it ended before the crash.
    assert_eq!(
        info_u64(&mut con, "replication", "master_repl_offset"),
        end_before
    );
}

#[test]
fn a_read_of_an_expired_key_logs_a_del() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "k", "v", "PX", "50"]);
    let before = info_u64(&mut con, "replication", "master_repl_offset");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(run(&mut con, &["GET", "k"]), Value::Nil);
    wait_until(
        Duration::from_secs(5),
        "the DEL record to be logged",
        || info_u64(&mut con, "replication", "master_repl_offset") > before,
    );
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
}
