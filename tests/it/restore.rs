//! Point-in-time restore: checkpoint + log replayed up to an exact offset lands exactly there.

use std::path::Path;
use std::process::Command;

use redis::Value;

use crate::common::*;

fn offset(con: &mut redis::Connection) -> u64 {
    info_field(con, "replication", "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("master_repl_offset")
}

/// Runs `durakv restore` from a checkpoint and a log dir up to `until_offset` into `dir`.
fn durakv_restore(
    ckpt: &Path,
    log_dir: &Path,
    until_offset: u64,
    dir: &Path,
) -> std::process::Output {
    Command::new(durakv_bin())
        .args(["restore", "--checkpoint"])
        .arg(ckpt)
        .arg("--log")
        .arg(log_dir)
        .args(["--until-offset", &until_offset.to_string(), "--dir"])
        .arg(dir)
        .output()
        .expect("run durakv restore")
}

#[test]
fn restore_lands_exactly_on_the_requested_offset() {
    let srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    for i in 0..50 {
        run(&mut con, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let out = tempfile::tempdir().expect("tempdir");
    let ckpt = out.path().join("ckpt");
    let ckpt_off = match run(
        &mut con,
        &["CHECKPOINT", "EXPORT", ckpt.to_str().unwrap_or("")],
    ) {
        Value::Int(n) => n as u64,
        other => panic!("CHECKPOINT EXPORT replied {other:?}"),
    };
    let mut ends = Vec::new();
    for i in 50..100 {
        run(&mut con, &["SET", &format!("k{i}"), &format!("v{i}")]);
        ends.push(offset(&mut con));
    }
    let target_off = ends[24]; // just after k74
    let new_dir = out.path().join("restored");
    let res = durakv_restore(&ckpt, &srv.log_dir(), target_off, &new_dir);
    assert!(
        res.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(ckpt_off < target_off);

    // One byte short of a record boundary is refused, and leaves no half-built dir behind.
    let bad_dir = out.path().join("bad");
    let bad = durakv_restore(&ckpt, &srv.log_dir(), target_off - 1, &bad_dir);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot stop at offset"));
    assert!(!bad_dir.join("db").exists());

    let restored = Server::start_in(&new_dir, &[]);
    let mut rc = restored.client();
    assert_eq!(offset(&mut rc), target_off);
    assert_eq!(run(&mut rc, &["DBSIZE"]), Value::Int(75));
    assert_eq!(
        run(&mut rc, &["GET", "k74"]),
        Value::BulkString(b"v74".to_vec())
    );
    assert_eq!(run(&mut rc, &["GET", "k75"]), Value::Nil);
    let src_id = info_field(&mut con, "replication", "master_replid");
    assert_ne!(info_field(&mut rc, "replication", "master_replid"), src_id);
}
