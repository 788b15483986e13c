//! Changes of role: a master turned replica refuses what its clients started as a master
//! (a queued transaction, a parked blocking pop), a replica that full-synced to a shorter log
//! and is then promoted still fsyncs under `always`, a node that full-synced from a new
//! master never offers its sub-replicas a checkpoint of the history it threw away, and a
//! master that lost its log's tail (a power cut) and wrote other records over the same
//! offsets does not let a replica that had the lost ones continue.

use std::time::Duration;

use redis::Value;

use crate::common::*;
use crate::replication::{digest, field_u64, start_replica_of, wait_synced, write_load_sized};

/// `REPLICAOF` the node `master` on the connection `con`; the reply.
fn follow(con: &mut redis::Connection, master: &Server) -> Value {
    run(con, &["REPLICAOF", "127.0.0.1", &master.port().to_string()])
}

#[test]
fn a_master_turned_replica_refuses_a_queued_exec_and_unblocks_parked_pops() {
    let master = Server::start(&[]);
    let node = Server::start(&[]);
    run(&mut node.client(), &["SET", "own", "1"]);

    let mut tx = node.client();
    assert_eq!(run(&mut tx, &["MULTI"]), Value::Okay);
    assert_eq!(
        run(&mut tx, &["SET", "k", "v"]),
        Value::SimpleString("QUEUED".into())
    );

    let port = node.port();
    let popper = std::thread::spawn(move || {
        let mut c = connect_client(port, None);
        c.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        run_err(&mut c, &["BLPOP", "q", "0"])
    });
    let mut n = node.client();
    wait_until(Duration::from_secs(10), "the BLPOP to park", || {
        field_u64(&mut n, "clients", "blocked_clients") == 1
    });

    assert_eq!(follow(&mut n, &master), Value::Okay);
    assert_eq!(
        run_err(&mut tx, &["EXEC"]),
        "ERR Transaction contains write commands but instance is now a read-only replica. \
         EXEC aborted."
    );
    let unblocked = popper.join().expect("the BLPOP thread");
    assert!(
        unblocked.starts_with("UNBLOCKED force unblock from blocking operation"),
        "{unblocked}"
    );

    // The master's push reaches the replica as data, not as a pop by a client of its own.
    let mut m = master.client();
    run(&mut m, &["RPUSH", "q", "x"]);
    wait_synced(&master, &node);
    assert_eq!(run(&mut n, &["LLEN", "q"]), Value::Int(1));
    assert_eq!(get_s(&mut n, "k"), None, "the aborted EXEC wrote nothing");
    assert_eq!(digest(&mut n), digest(&mut m));
}

#[test]
fn a_replica_promoted_after_a_full_sync_to_a_shorter_log_fsyncs_every_write() {
    // A node with a long log of its own...
    let node = Server::start(&["--appendfsync", "always"]);
    let mut n = node.client();
    write_load_sized(&mut n, "own", 20, 100, 0, 1024);
    let long_end = repl_offset(&mut n);
    // ...full-syncs from a master whose log is much shorter, so its log restarts lower.
    let master = Server::start(&[]);
    let mut m = master.client();
    run(&mut m, &["SET", "from-master", "1"]);
    follow(&mut n, &master);
    wait_synced(&master, &node);
    assert!(repl_offset(&mut n) < long_end);

    run(&mut n, &["REPLICAOF", "NO", "ONE"]);
    let fsyncs = field_u64(&mut n, "persistence", "log_fsyncs");
    assert_eq!(run(&mut n, &["SET", "after-promotion", "1"]), Value::Okay);
    assert!(
        field_u64(&mut n, "persistence", "log_fsyncs") > fsyncs,
        "an acknowledged write under `always` was fsynced"
    );
    assert_eq!(
        field_u64(&mut n, "persistence", "log_synced_offset"),
        field_u64(&mut n, "persistence", "log_end_offset")
    );
}

#[test]
fn a_node_that_full_synced_from_a_new_master_never_offers_its_old_checkpoint() {
    let node = Server::start(&[]);
    let mut n = node.client();
    write_load_sized(&mut n, "old", 5, 200, 0, 1024);
    // A sub-replica with data of its own needs a full sync: `node` takes a checkpoint of
    // this history and keeps it to offer again.
    let first = Server::start(&[]);
    run(&mut first.client(), &["SET", "own", "first"]);
    follow(&mut first.client(), &node);
    wait_synced(&node, &first);
    run(&mut first.client(), &["REPLICAOF", "NO", "ONE"]);

    // `node` now follows a new master with a short log: a new history, lower offsets.
    let master = Server::start(&[]);
    let mut m = master.client();
    run(&mut m, &["SET", "new", "1"]);
    follow(&mut n, &master);
    wait_synced(&master, &node);
    assert_eq!(digest(&mut n), digest(&mut m));

    let second = Server::start(&[]);
    run(&mut second.client(), &["SET", "own", "second"]);
    follow(&mut second.client(), &node);
    wait_synced(&node, &second);
    let mut s = second.client();
    assert_eq!(get_s(&mut s, "new").as_deref(), Some("1"));
    assert_eq!(get_s(&mut s, "old:0:0"), None);
    assert_eq!(digest(&mut s), digest(&mut m));
    let log = node.all_stderr_text();
    assert_eq!(
        log.matches("full sync checkpoint taken").count(),
        2,
        "{}",
        tail_lines(&log, 30)
    );
}

#[test]
fn a_replica_whose_last_record_the_master_lost_gets_a_full_sync() {
    let mut master = Server::start(&[]);
    let mut replica = start_replica_of(master.port(), &[]);
    let mut m = master.client();
    // Records of one size, so offsets written later line up with these.
    for i in 0..10 {
        run(&mut m, &["SET", &format!("a:{i}"), "1111"]);
    }
    let kept = repl_offset(&mut m);
    for i in 0..5 {
        run(&mut m, &["SET", &format!("b:{i}"), "2222"]);
    }
    let lost_end = repl_offset(&mut m);
    wait_synced(&master, &replica);
    replica.kill9();
    master.kill9();

    // A power cut took the master's last five records (never fsynced under everysec): the
    // pages are zeros again. Its data (RocksDB, WAL off) never held them either.
    let seg = master.last_segment();
    let base = seg
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(segment_base_of_name)
        .expect("segment base");
    let header = 80;
    let mut bytes = std::fs::read(&seg).expect("segment");
    let (from, to) = (
        (header + kept - base) as usize,
        (header + lost_end - base) as usize,
    );
    bytes[from..to].fill(0);
    std::fs::write(&seg, &bytes).expect("write segment");
    master.restart();
    let mut m = master.client();
    assert_eq!(repl_offset(&mut m), kept);
    // Other records over the same offsets, under the same replid.
    for i in 0..5 {
        run(&mut m, &["SET", &format!("c:{i}"), "3333"]);
    }
    assert_eq!(repl_offset(&mut m), lost_end, "the same offsets again");

    replica.restart();
    let mut r = replica.client();
    // The master may have come back on another port.
    follow(&mut r, &master);
    wait_synced(&master, &replica);
    assert_eq!(get_s(&mut r, "c:4").as_deref(), Some("3333"));
    assert_eq!(get_s(&mut r, "b:4"), None, "the lost records are gone");
    assert_eq!(digest(&mut r), digest(&mut m));
    assert!(field_u64(&mut m, "stats", "sync_full") >= 1);
}
