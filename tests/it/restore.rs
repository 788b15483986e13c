//! Point-in-time restore: checkpoint + log replayed up to an exact offset lands exactly there.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

/// Runs `durakv backup --from 127.0.0.1:<port>` into `dir`.
fn durakv_backup(port: u16, password: &str, dir: &Path) -> std::process::Child {
    Command::new(durakv_bin())
        .args(["backup", "--from", &format!("127.0.0.1:{port}")])
        .args(["--password", password, "--to"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run durakv backup")
}

fn digest_of(con: &mut redis::Connection) -> Value {
    run(con, &["DEBUG", "DIGEST"])
}

#[test]
fn network_backup_resumes_starts_as_a_server_and_restores_to_a_point_in_time() {
    // Throttled, so the first backup can be interrupted halfway.
    let srv = Server::start(&[
        "--requirepass",
        "pw",
        "--full-sync-max-bytes-per-sec",
        "2000000",
    ]);
    let mut con = srv.client_with_password("pw");
    // Incompressible values, so the checkpoint has megabytes to send.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = || {
        (0..250)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{:08x}", x as u32)
            })
            .collect::<String>()
    };
    for p in 0..20 {
        let mut pipe = redis::pipe();
        for i in 0..200 {
            pipe.cmd("SET")
                .arg(format!("s{p}:{i}"))
                .arg(noise())
                .ignore();
        }
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("f{p}"))
            .arg(p)
            .ignore();
        pipe.cmd("RPUSH").arg("l").arg(p).ignore();
        pipe.cmd("SADD").arg("set").arg(p).ignore();
        pipe.cmd("ZADD")
            .arg("z")
            .arg(p)
            .arg(format!("m{p}"))
            .ignore();
        pipe.query::<()>(&mut con).expect("load");
    }
    let at_backup = digest_of(&mut con);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("bk");
    // A local export of the same state, to compare the remote backup with.
    let local = out.path().join("local");
    let local_at = match run(
        &mut con,
        &["CHECKPOINT", "EXPORT", local.to_str().unwrap_or("")],
    ) {
        Value::Int(n) => n as u64,
        other => panic!("CHECKPOINT EXPORT replied {other:?}"),
    };

    // A directory holding anything else is refused, and left as it was.
    let busy = out.path().join("busy");
    std::fs::create_dir_all(&busy).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), "keep me").expect("write");
    let refused = durakv_backup(srv.port(), "pw", &busy)
        .wait_with_output()
        .expect("backup");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read_dir(&busy).expect("ls").count(), 1);

    // Interrupted: killed while files are still arriving.
    let mut first = durakv_backup(srv.port(), "pw", &dir);
    wait_until(Duration::from_secs(30), "some backup bytes on disk", || {
        dir_bytes(&dir.join("db")) > 1_000_000
    });
    first.kill().expect("kill backup");
    let _ = first.wait();
    assert!(
        !dir.join("MANIFEST.json").exists(),
        "no manifest for an unfinished backup"
    );

    // Writes after the backup started are not in it; they are in the server's log.
    run(&mut con, &["SET", "after", "1"]);
    run(
        &mut con,
        &["CONFIG", "SET", "full-sync-max-bytes-per-sec", "0"],
    );
    let second = durakv_backup(srv.port(), "pw", &dir)
        .wait_with_output()
        .expect("backup");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "backup failed: {stderr}");
    assert!(
        stderr.contains("already staged"),
        "the second run resumed: {stderr}"
    );
    assert!(dir.join("MANIFEST.json").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("MANIFEST.json")).expect("manifest"))
            .expect("manifest json");
    let backup_at = manifest["offset"].as_u64().expect("offset");

    // The backup equals a local export of the same state...
    assert_eq!(backup_at, local_at);
    let from_local = Server::start_in(&local, &[]);
    assert_eq!(digest_of(&mut from_local.client()), at_backup);
    drop(from_local);
    // ...starts as a server holding exactly the data at its offset...
    let restored = tempfile::tempdir().expect("tempdir");
    let from_backup = Server::start_in(&dir, &[]);
    let mut b = from_backup.client();
    // The second run got the same checkpoint (the server reuses it while its log holds the
    // offset), so the files it had already were the right ones.
    assert_eq!(digest_of(&mut b), at_backup);
    assert_eq!(get_s(&mut b, "after"), None);
    drop(b);
    drop(from_backup);

    // ...and with the server's log replayed on top, it reaches the server's current state.
    let end = offset(&mut con);
    let res = durakv_restore(&dir, &srv.log_dir(), end, &restored.path().join("pit"));
    assert!(
        res.status.success(),
        "restore from the backup failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let pit = Server::start_in(&restored.path().join("pit"), &[]);
    assert_eq!(digest_of(&mut pit.client()), digest_of(&mut con));
    assert!(backup_at <= end);
}

fn dir_bytes(d: &Path) -> u64 {
    std::fs::read_dir(d)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
