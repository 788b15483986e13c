//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a SHA-1 over the logical keyspace, so operators (and the
//! replication tests) can prove two nodes hold the same data at the same offset.
//!
//! The digest is over what a client can observe, never over storage details: for each database
//! in order, each key in key order, it feeds the database number, the key, the type, the
//! absolute expire time, and the value — a string's bytes, or a collection's elements in their
//! order (fields/members sorted, list elements by position, sorted-set members with their score
//! bits). Collection versions and list positions are not included, so two nodes that reached
//! the same data by different histories (a full sync from a checkpoint and a replayed log)
//! agree. An empty keyspace digests to forty zeros, as in Redis.

use sha1_smol::Sha1;

use super::coll;
use super::ctx::{ReadCtx, View};
use super::errors::ExecResult;
use crate::storage::{Entry, Space, ValueType, DATABASES};

fn feed(h: &mut Sha1, b: &[u8]) {
    h.update(&(b.len() as u64).to_le_bytes());
    h.update(b);
}

/// Feeds one key's type, expiry and value.
fn feed_value(v: &dyn View, h: &mut Sha1, key: &[u8], e: &Entry) -> ExecResult<()> {
    h.update(&[e.kind as u8]);
    h.update(&e.expire_at.to_le_bytes());
    if e.kind == ValueType::String {
        feed(h, &e.value);
        return Ok(());
    }
    // The entry is in hand: no second read of it.
    let Ok(c) = coll::from_entry(v.db(), key, e.clone(), e.kind) else {
        return Ok(());
    };
    let plen = c.prefix.len();
    let list = e.kind == ValueType::List;
    v.elem_scan(
        Space::Elements,
        &c.prefix,
        &c.end(),
        false,
        &mut |k, val| {
            if !list {
                feed(h, &k[plen..]);
            }
            feed(h, val);
            true
        },
    )?;
    Ok(())
}

fn hex(d: [u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of every database, read from one snapshot.
pub fn keyspace_digest(ctx: &mut ReadCtx) -> ExecResult<String> {
    ctx.pin();
    let mut h = Sha1::new();
    let mut any = false;
    for db in 0..DATABASES as u8 {
        ctx.db = db;
        let now = ctx.now();
        let mut keys = Vec::new();
        ctx.scan_keys(b"", &mut |k, e| {
            if !e.is_expired(now) {
                keys.push((k.to_vec(), e.clone()));
            }
            true
        })?;
        for (k, e) in keys {
            any = true;
            h.update(&[db]);
            feed(&mut h, &k);
            feed_value(ctx, &mut h, &k, &e)?;
        }
    }
    ctx.db = 0;
    Ok(if any {
        hex(h.digest().bytes())
    } else {
        "0".repeat(40)
    })
}

/// DEBUG DIGEST-VALUE: one digest per key (zeros for a missing key).
pub fn value_digest(v: &dyn View, key: &[u8]) -> ExecResult<String> {
    v.pin();
    let Some(e) = v.get(key)? else {
        return Ok("0".repeat(40));
    };
    let mut h = Sha1::new();
    feed_value(v, &mut h, key, &e)?;
    Ok(hex(h.digest().bytes()))
}
