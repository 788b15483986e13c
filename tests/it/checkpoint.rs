//! CHECKPOINT EXPORT: a consistent copy taken while writers run, with a manifest, that starts
//! as a normal server at the manifest's offset under a new replid.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redis::Value;

use crate::common::*;

#[test]
fn export_under_writes_then_start_from_it() {
    let srv = Server::start(&["--appendfsync", "everysec"]);
    let mut con = srv.client();
    for i in 0..500 {
        run(&mut con, &["SET", &format!("base:{i}"), "v"]);
    }
    run(&mut con, &["SET", "ttl-key", "v", "EX", "3600"]);
    // A writer keeps incrementing while the export runs.
    let stop = Arc::new(AtomicBool::new(false));
    let port = srv.port();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = connect_client(port, None);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 200_000 {
                run(&mut c, &["INCR", "counter"]);
                n += 1;
            }
        })
    };
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("backup");
    let offset = match run(
        &mut con,
        &["CHECKPOINT", "EXPORT", target.to_str().unwrap_or("")],
    ) {
        Value::Int(n) => n,
        other => panic!("CHECKPOINT EXPORT replied {other:?}"),
    };
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.join("MANIFEST.json")).expect("manifest"))
            .expect("manifest is JSON");
    assert_eq!(manifest["offset"].as_i64(), Some(offset));
    assert!(manifest["files"]
        .as_array()
        .map(|f| !f.is_empty())
        .unwrap_or(false));
    let source_replid = info_field(&mut con, "replication", "master_replid").expect("replid");
    assert_eq!(manifest["replid"].as_str(), Some(source_replid.as_str()));

    // A non-empty target is refused.
    let err = run_err(
        &mut con,
        &["CHECKPOINT", "EXPORT", target.to_str().unwrap_or("")],
    );
    assert!(err.contains("not empty"), "{err}");

    // The export starts as a server at exactly its offset, under a new history.
    let restored = Server::start_in(&target, &[]);
    let mut rc = restored.client();
    let roff: i64 = info_field(&mut rc, "replication", "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert_eq!(roff, offset);
    let rid = info_field(&mut rc, "replication", "master_replid").expect("replid");
    assert_ne!(rid, source_replid);
    assert_eq!(
        run(&mut rc, &["EXISTS", "base:0", "base:499", "ttl-key"]),
        Value::Int(3)
    );
    let ttl = match run(&mut rc, &["TTL", "ttl-key"]) {
        Value::Int(n) => n,
        other => panic!("TTL {other:?}"),
    };
    assert!(ttl > 3000, "TTL kept: {ttl}");
    // The counter is some value the source had: at most what it has now.
    let restored_ctr: i64 = run_as::<Option<i64>>(&mut rc, &["GET", "counter"]).unwrap_or(0);
    let source_ctr: i64 = run_as::<Option<i64>>(&mut con, &["GET", "counter"]).unwrap_or(0);
    assert!(restored_ctr <= source_ctr, "{restored_ctr} <= {source_ctr}");
    // And it takes writes.
    run(&mut rc, &["SET", "after", "restore"]);
    assert_eq!(
        run(&mut rc, &["GET", "after"]),
        Value::BulkString(b"restore".to_vec())
    );
}

#[test]
fn an_export_taken_at_offset_0_also_starts_a_new_history() {
    // A node that never took a write exports at offset 0; its data still names its replid.
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("backup");
    assert_eq!(
        run(
            &mut con,
            &["CHECKPOINT", "EXPORT", target.to_str().unwrap_or("")]
        ),
        Value::Int(0)
    );
    let source_replid = info_field(&mut con, "replication", "master_replid").expect("replid");
    let restored = Server::start_in(&target, &[]);
    let mut rc = restored.client();
    let rid = info_field(&mut rc, "replication", "master_replid").expect("replid");
    assert_ne!(
        rid, source_replid,
        "a replica of the source must not PSYNC into this node's history"
    );
}

#[test]
fn bgsave_keeps_the_newest_backups_and_lastsave_moves() {
    let out = tempfile::tempdir().expect("tempdir");
    let root = out.path().join("backups");
    let srv = Server::start(&[
        "--backup-dir",
        root.to_str().unwrap_or(""),
        "--backup-keep",
        "2",
    ]);
    let mut con = srv.client();
    let count_backups = || {
        std::fs::read_dir(&root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("MANIFEST.json").exists())
                    .count()
            })
            .unwrap_or(0)
    };
    for round in 1..=3 {
        run(&mut con, &["SET", "round", &round.to_string()]);
        assert_eq!(
            run(&mut con, &["BGSAVE"]),
            Value::SimpleString("Background saving started".into())
        );
        wait_until(
            std::time::Duration::from_secs(20),
            "BGSAVE to finish",
            || {
                info_field(&mut con, "persistence", "rdb_bgsave_in_progress").as_deref()
                    == Some("0")
                    && count_backups() >= round.min(2)
            },
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(count_backups(), 2, "backup-keep 2");
    assert_eq!(
        info_field(&mut con, "persistence", "rdb_last_bgsave_status").as_deref(),
        Some("ok")
    );
    let lastsave = run_as::<i64>(&mut con, &["LASTSAVE"]);
    assert!(lastsave as u64 >= now_secs() - 60);
    // The newest backup starts as a server holding the last round's write.
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("backups")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let newest = dirs.last().expect("a backup").clone();
    let restored = Server::start_in(&newest, &[]);
    let mut rc = restored.client();
    assert_eq!(
        run(&mut rc, &["GET", "round"]),
        Value::BulkString(b"3".to_vec())
    );
}
