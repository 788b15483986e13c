//! Log retention: with a small segment size and a 1-byte retention limit, old segments are
//! deleted once RocksDB has flushed what they cover, and a kill -9 afterwards still recovers
//! every acknowledged write (retention never deletes what crash recovery needs).

use std::time::Duration;

use redis::Value;

use crate::common::*;

#[test]
fn old_segments_go_but_recovery_keeps_everything() {
    let mut srv = Server::start(&[
        "--appendfsync",
        "always",
        "--log-segment-bytes",
        "4096",
        "--log-retention-bytes",
        "1",
        "--flush-interval-secs",
        "1",
    ]);
    let mut con = srv.client();
    for i in 0..1500 {
        run(
            &mut con,
            &["SET", &format!("key:{i}"), &format!("value-{i}")],
        );
    }
    let before = srv.segments().len();
    assert!(before > 20, "4 KiB segments roll: {before} segments");
    // Retention runs every 10 s on the writer thread.
    wait_until(
        Duration::from_secs(40),
        "retention to delete old segments",
        || srv.segments().len() <= 2,
    );
    // INFO follows once the writer has finished the retention pass.
    wait_until(
        Duration::from_secs(10),
        "INFO to show the log no longer starts at 0",
        || {
            info_field(&mut con, "persistence", "log_first_offset")
                .and_then(|v| v.parse::<u64>().ok())
                .map(|first| first > 0)
                .unwrap_or(false)
        },
    );
    // Writes after retention live only in the log until the next flush.
    for i in 1500..1600 {
        run(
            &mut con,
            &["SET", &format!("key:{i}"), &format!("value-{i}")],
        );
    }
    drop(con);
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(1600));
    for i in [0, 777, 1499, 1500, 1599] {
        assert_eq!(
            run(&mut con, &["GET", &format!("key:{i}")]),
            Value::BulkString(format!("value-{i}").into_bytes()),
            "key:{i} after retention and kill -9"
        );
    }
}
