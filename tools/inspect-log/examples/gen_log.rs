//! Writes a synthetic log for measuring inspect-log: `cargo run --release -p inspect-log
//! --example gen_log -- <log-dir> <megabytes>` appends SETs with 64-byte values (about 140
//! bytes a record) through `durakv::log::Log` until the log holds that many MB of records.

use std::path::PathBuf;

use durakv::log::format::{encode_record, RecordKind};
use durakv::log::Log;
use durakv::protocol::encode_command;
use durakv::types::ReplId;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: gen_log <log-dir> <megabytes>";
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let mb: u64 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let target = mb * 1_000_000;
    let (mut log, _) = Log::open(&dir, 64 << 20, ReplId::random())?;
    let start = log.end();
    let t0 = 1_700_000_000_000u64;
    let value = [b'v'; 64];
    let mut payload = Vec::with_capacity(256);
    let mut batch = Vec::with_capacity(1 << 20);
    let mut i = 0u64;
    while log.end().0 - start.0 < target {
        batch.clear();
        let mut at = log.end();
        while batch.len() < (1 << 20) - 256 {
            payload.clear();
            let key = format!("key:{i:012}");
            encode_command(&mut payload, &[b"SET".as_slice(), key.as_bytes(), &value]);
            let db = if i % 1000 == 999 { 1 } else { 0 };
            at = at.advance(encode_record(
                &mut batch,
                at,
                t0 + i / 100,
                db,
                RecordKind::Commands,
                &payload,
            ));
            i += 1;
        }
        log.append(&batch)?;
    }
    log.sync()?;
    println!(
        "{} records, offsets {}..{}, {} segments in {}",
        i,
        start,
        log.end(),
        log.segment_count(),
        dir.display()
    );
    Ok(())
}
