//! DEBUG DIGEST: a keyspace digest equal wherever the data is equal, whatever history led there
//! (restart and replay, or a collection recreated under a new version), and different as soon
//! as any observable part of the data differs.

use redis::Value;

use crate::common::*;

fn digest(con: &mut redis::Connection) -> String {
    match run(con, &["DEBUG", "DIGEST"]) {
        Value::BulkString(b) => String::from_utf8(b).expect("digest is text"),
        other => panic!("DEBUG DIGEST replied {other:?}"),
    }
}

fn load(con: &mut redis::Connection) {
    run(con, &["SET", "s", "v"]);
    run(con, &["HSET", "h", "f1", "a", "f2", "b"]);
    run(con, &["SADD", "set", "x", "y", "z"]);
    run(con, &["SELECT", "3"]);
    run(con, &["SET", "in-db3", "1"]);
    run(con, &["SELECT", "0"]);
}

#[test]
fn digest_is_zero_when_empty_and_follows_the_data() {
    let mut a = Server::start(&["--appendfsync", "always"]);
    let mut b = Server::start(&["--appendfsync", "always"]);
    let (mut ca, mut cb) = (a.client(), b.client());
    assert_eq!(digest(&mut ca), "0".repeat(40));
    load(&mut ca);
    // The same data reached by another history: extra writes undone, a hash recreated.
    run(&mut cb, &["HSET", "h", "gone", "1"]);
    run(&mut cb, &["DEL", "h"]);
    load(&mut cb);
    run(&mut cb, &["SADD", "set", "extra"]);
    run(&mut cb, &["SREM", "set", "extra"]);
    let d = digest(&mut ca);
    assert_eq!(d.len(), 40);
    assert_ne!(d, "0".repeat(40));
    assert_eq!(d, digest(&mut cb), "equal data, equal digests");

    // Any observable difference changes it: a value, a TTL, a database.
    run(&mut cb, &["HSET", "h", "f2", "c"]);
    assert_ne!(digest(&mut cb), d);
    run(&mut cb, &["HSET", "h", "f2", "b"]);
    assert_eq!(digest(&mut cb), d);
    run(&mut cb, &["EXPIREAT", "s", "4000000000"]);
    assert_ne!(digest(&mut cb), d);
    run(&mut cb, &["PERSIST", "s"]);
    assert_eq!(digest(&mut cb), d);

    // kill -9 and replay land on the same digest.
    drop(ca);
    a.kill9();
    a.restart();
    let mut ca = a.client();
    assert_eq!(digest(&mut ca), d, "digest after kill -9 and replay");

    // Per-key digests: equal for equal values, zeros for a missing key.
    let per_key = |con: &mut redis::Connection| run(con, &["DEBUG", "DIGEST-VALUE", "h", "nope"]);
    let va = per_key(&mut ca);
    assert_eq!(va, per_key(&mut cb));
    let Value::Array(items) = va else {
        panic!("DIGEST-VALUE replied {va:?}")
    };
    assert_eq!(items[1], Value::BulkString("0".repeat(40).into_bytes()));
}
