//! Damage to the replication log on disk, and what start-up does about it.
//!
//! A torn tail of the last segment (an incomplete last record, trailing zero bytes) was never
//! acknowledged: it is cut off, logged with its offset, and the server starts. Damage anywhere
//! else would silently lose acknowledged writes: start-up stops with a non-zero exit, naming the
//! damaged record's offset and the inspect-log tool. The tests also pin the on-disk layout they
//! rely on (segment header, record header, offsets, checksums) against what INFO reports.

use std::path::PathBuf;
use std::time::Duration;

use redis::{Connection, Value};

use crate::common::*;

const KEYS: usize = 50;
const FAIL_TIMEOUT: Duration = Duration::from_secs(15);

fn key(i: usize) -> String {
    format!("key:{i:02}")
}

fn value(i: usize) -> String {
    format!("value:{i:02}")
}

/// A server with appendfsync always that acknowledged SET key:00..key:49, then was killed -9.
fn write_keys_then_kill() -> Server {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    {
        let mut con = srv.client();
        for i in 0..KEYS {
            assert_eq!(run(&mut con, &["SET", &key(i), &value(i)]), Value::Okay);
        }
    }
    srv.kill9();
    srv
}

/// Every valid record of every segment, oldest first, with its file. Asserts the log is clean:
/// nothing but zero fill after the last valid record of a segment.
fn all_records(srv: &Server) -> Vec<(PathBuf, RecordLoc)> {
    let segs = srv.segments();
    assert!(
        !segs.is_empty(),
        "no segment files in {}",
        srv.log_dir().display()
    );
    let mut out = Vec::new();
    for (i, path) in segs.iter().enumerate() {
        let scan = scan_segment(path);
        if let Some(why) = &scan.stopped {
            let bytes = std::fs::read(path).expect("read segment");
            let rest = &bytes[scan.valid_end_pos as usize..];
            assert!(
                rest.iter().all(|&b| b == 0),
                "segment {i}, {}, is damaged before the test touched it: {why}",
                path.display()
            );
        }
        out.extend(scan.records.into_iter().map(|r| (path.clone(), r)));
    }
    out
}

#[track_caller]
fn assert_keys_present(con: &mut Connection, range: std::ops::Range<usize>) {
    for i in range {
        assert_eq!(
            get_s(con, &key(i)),
            Some(value(i)),
            "{} after recovery",
            key(i)
        );
    }
}

#[test]
fn log_layout_matches_the_documented_format() {
    let t0 = now_ms();
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let (start_offset, end_offset) = {
        let mut con = srv.client();
        let start = repl_offset(&mut con);
        assert_eq!(run(&mut con, &["SET", "alpha", "1"]), Value::Okay);
        let after_alpha = repl_offset(&mut con);
        assert!(after_alpha > start, "a write advances master_repl_offset");
        assert_eq!(run(&mut con, &["SET", "beta", "2"]), Value::Okay);
        let after_beta = repl_offset(&mut con);
        assert_eq!(run(&mut con, &["SET", "alpha", "3", "NX"]), Value::Nil);
        assert_eq!(
            repl_offset(&mut con),
            after_beta,
            "a SET NX that changed nothing writes no record"
        );
        assert_eq!(run(&mut con, &["SELECT", "2"]), Value::Okay);
        assert_eq!(run(&mut con, &["SET", "gamma", "3"]), Value::Okay);
        (start, repl_offset(&mut con))
    };
    srv.kill9();
    let t1 = now_ms();
    assert_eq!(start_offset, 0, "a fresh server's master_repl_offset is 0");

    let segs = srv.segments();
    assert_eq!(
        segs.len(),
        1,
        "three small records fit in one segment: {segs:?}"
    );
    let name = segs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        name, "00000000000000000000.seg",
        "the first segment is named by base offset 0"
    );

    let recs = all_records(&srv);
    assert_eq!(recs.len(), 3, "one record per write that changed something");
    let first = &recs[0].1;
    assert_eq!(
        first.file_pos, SEGMENT_HEADER_BYTES,
        "the first record follows the 80-byte segment header"
    );
    assert_eq!(first.offset, 0, "the first record has offset 0");
    for w in recs.windows(2) {
        assert_eq!(
            w[1].1.offset,
            w[0].1.end_offset(),
            "offsets count record bytes, back to back"
        );
        assert_eq!(
            w[1].1.file_pos,
            w[0].1.end_pos(),
            "records are back to back in the file"
        );
    }
    assert_eq!(
        recs[2].1.end_offset(),
        end_offset,
        "master_repl_offset is the log end offset"
    );

    let expect = [
        ("SET", "alpha", "1", 0u8),
        ("SET", "beta", "2", 0),
        ("SET", "gamma", "3", 2),
    ];
    for ((_, r), (c, k, v, db)) in recs.iter().zip(expect) {
        assert_eq!(
            String::from_utf8_lossy(&r.payload),
            String::from_utf8_lossy(&encode_str_command(&[c, k, v])),
            "payload of the record at offset {}",
            r.offset
        );
        assert_eq!(r.db, db, "db of the record for {k}");
        assert!(
            (t0.saturating_sub(1000)..=t1 + 1000).contains(&r.timestamp_ms),
            "timestamp {} of the record for {k} outside the test's run {t0}..{t1}",
            r.timestamp_ms
        );
    }
    assert_eq!(
        recs[0].1.kind, recs[1].1.kind,
        "plain writes share one record kind"
    );
}

#[test]
fn torn_tail_is_truncated_and_logged() {
    let mut srv = write_keys_then_kill();
    let recs = all_records(&srv);
    let (path, last) = recs.last().cloned().expect("records in the log");
    assert!(
        contains_bytes(&last.payload, key(KEYS - 1).as_bytes()),
        "the last record is the write of {}",
        key(KEYS - 1)
    );
    // Cut 7 bytes off the last record, as if the crash came in the middle of writing it.
    truncate_file(&path, last.end_pos() - 7);

    srv.restart();
    let text = srv.stderr_text();
    let torn: Vec<&str> = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("torn"))
        .collect();
    assert!(
        !torn.is_empty(),
        "no line mentions the torn tail\n--- stderr ---\n{text}"
    );
    assert!(
        torn.iter().any(|l| mentions_offset(l, last.offset)),
        "the torn-tail line does not name offset {}: {torn:?}",
        last.offset
    );

    let mut con = srv.client();
    assert_keys_present(&mut con, 0..KEYS - 1);
    assert_eq!(
        get_s(&mut con, &key(KEYS - 1)),
        None,
        "the torn record is dropped"
    );
    assert_eq!(
        repl_offset(&mut con),
        last.offset,
        "the log now ends where the torn record began"
    );

    // New writes go after the cut and survive another crash.
    assert_eq!(run(&mut con, &["SET", "after:torn", "v"]), Value::Okay);
    drop(con);
    srv.kill9();
    srv.restart();
    assert!(
        !srv.stderr_text().to_ascii_lowercase().contains("torn"),
        "a clean log was reported torn\n{}",
        srv.stderr_text()
    );
    let mut con = srv.client();
    assert_keys_present(&mut con, 0..KEYS - 1);
    assert_eq!(get_s(&mut con, &key(KEYS - 1)), None);
    assert_eq!(get_s(&mut con, "after:torn").as_deref(), Some("v"));
}

#[test]
fn trailing_zero_bytes_are_cut_off() {
    let mut srv = write_keys_then_kill();
    let recs = all_records(&srv);
    let (path, last) = recs.last().cloned().expect("records in the log");
    append_to_file(&path, &[0u8; 4096]);

    srv.restart();
    let mut con = srv.client();
    assert_keys_present(&mut con, 0..KEYS);
    assert_eq!(
        repl_offset(&mut con),
        last.end_offset(),
        "the zeros are not part of the log"
    );

    assert_eq!(run(&mut con, &["SET", "after:zeros", "v"]), Value::Okay);
    drop(con);
    srv.kill9();

    // The new record sits right after the last old one: the zeros were cut, not skipped.
    let recs = all_records(&srv);
    let (new_path, new_rec) = recs.last().cloned().expect("records in the log");
    assert!(
        contains_bytes(&new_rec.payload, b"after:zeros"),
        "the last record is the new write"
    );
    assert_eq!(new_rec.offset, last.end_offset());
    if new_path == path {
        assert_eq!(
            new_rec.file_pos,
            last.end_pos(),
            "the new record replaced the zero fill"
        );
    }

    srv.restart();
    let mut con = srv.client();
    assert_keys_present(&mut con, 0..KEYS);
    assert_eq!(get_s(&mut con, "after:zeros").as_deref(), Some("v"));
}

/// Damages the byte at `pos_in_record` of record #10 (0-based), expects start-up to refuse with
/// the record's offset, then repairs the byte and expects every key back.
fn mid_log_damage_stops_start_up(pos_in_record: impl Fn(&RecordLoc) -> u64, what: &str) {
    let mut srv = write_keys_then_kill();
    let recs = all_records(&srv);
    assert!(
        recs.len() > 11,
        "expected at least {KEYS} records, found {}",
        recs.len()
    );
    let (path, rec) = recs[10].clone();
    let pos = pos_in_record(&rec);
    assert!(
        pos >= rec.file_pos && pos < rec.end_pos(),
        "{what}: position {pos} outside record #10"
    );
    flip_byte(&path, pos, 0x01);

    let (status, text) = srv.restart_expect_failure(FAIL_TIMEOUT);
    assert!(
        !status.success(),
        "{what}: start-up with a damaged record mid-log exited with {status}\n--- stderr ---\n{text}"
    );
    assert!(
        text.to_ascii_lowercase().contains("corrupt"),
        "{what}: stderr does not say corrupt\n--- stderr ---\n{text}"
    );
    assert!(
        mentions_offset(&text, rec.offset),
        "{what}: stderr does not name offset {} of the damaged record\n--- stderr ---\n{text}",
        rec.offset
    );
    assert!(
        text.contains("inspect-log"),
        "{what}: stderr does not point at inspect-log\n--- stderr ---\n{text}"
    );

    // Repaired, the same log starts and nothing was lost or cut by the failed attempt.
    flip_byte(&path, pos, 0x01);
    srv.restart();
    let mut con = srv.client();
    assert_keys_present(&mut con, 0..KEYS);
}

#[test]
fn flipped_payload_byte_mid_log_stops_start_up() {
    mid_log_damage_stops_start_up(
        |r| r.payload_pos() + r.payload_len as u64 / 2,
        "payload byte",
    );
}

#[test]
fn flipped_header_checksum_mid_log_stops_start_up() {
    mid_log_damage_stops_start_up(|r| r.file_pos + 28, "header checksum");
}

#[test]
fn flipped_payload_length_mid_log_stops_start_up() {
    mid_log_damage_stops_start_up(|r| r.file_pos, "payload length");
}

#[test]
fn flipped_offset_field_mid_log_stops_start_up() {
    mid_log_damage_stops_start_up(|r| r.file_pos + 4, "offset field");
}

#[test]
fn segments_roll_and_all_of_them_are_replayed() {
    let mut srv = Server::start(&["--appendfsync", "always", "--log-segment-bytes", "4096"]);
    {
        let mut con = srv.client();
        for i in 0..300 {
            assert_eq!(
                run(
                    &mut con,
                    &["SET", &format!("roll:{i:03}"), &format!("value:{i:03}")]
                ),
                Value::Okay
            );
        }
    }
    srv.kill9();

    let segs = srv.segments();
    assert!(
        segs.len() >= 3,
        "300 records of ~70 bytes with 4096-byte segments: {} segments",
        segs.len()
    );
    let recs = all_records(&srv);
    assert!(recs.len() >= 300);
    for w in recs.windows(2) {
        assert_eq!(
            w[1].1.offset,
            w[0].1.end_offset(),
            "offsets run on across segments"
        );
    }
    for seg in &segs {
        let base = segment_base_of_name(&seg.file_name().unwrap().to_string_lossy()).unwrap();
        let first = recs.iter().find(|(p, _)| p == seg).map(|(_, r)| r.offset);
        if let Some(first) = first {
            assert_eq!(
                first,
                base,
                "{} is named by its first record's offset",
                seg.display()
            );
        }
    }

    srv.restart();
    let mut con = srv.client();
    for i in 0..300 {
        assert_eq!(
            get_s(&mut con, &format!("roll:{i:03}")),
            Some(format!("value:{i:03}")),
            "roll:{i:03} after replaying every segment"
        );
    }
}

#[test]
fn damage_at_the_end_of_an_older_segment_stops_start_up() {
    let mut srv = Server::start(&["--appendfsync", "always", "--log-segment-bytes", "4096"]);
    {
        let mut con = srv.client();
        for i in 0..300 {
            run(
                &mut con,
                &["SET", &format!("roll:{i:03}"), &format!("value:{i:03}")],
            );
        }
    }
    srv.kill9();
    let segs = srv.segments();
    assert!(segs.len() >= 2, "need an older segment, have {segs:?}");
    let older = &segs[0];
    let scan = scan_segment(older);
    let last = scan
        .records
        .last()
        .expect("records in the first segment")
        .clone();
    // Only the last segment may have a torn tail; here the cut loses an acknowledged write.
    truncate_file(older, last.end_pos() - 7);

    let (status, text) = srv.restart_expect_failure(FAIL_TIMEOUT);
    assert!(
        !status.success(),
        "a truncated older segment was accepted (exit {status})\n--- stderr ---\n{text}"
    );
}

/// A whole, valid record naming a command this build does not know (as a newer durakv could
/// write): replaying past it would leave the data different from the log, so start-up stops
/// and names it; without it, the same data dir starts with every key.
#[test]
fn a_record_with_an_unknown_command_stops_start_up_instead_of_being_skipped() {
    let mut srv = write_keys_then_kill();
    let recs = all_records(&srv);
    let (path, last) = recs.last().cloned().expect("records");
    let at = last.offset + 32 + last.payload_len as u64;
    let payload = b"*2\r\n$9\r\nNOSUCHCMD\r\n$1\r\nk\r\n";
    let mut rec = vec![0u8; 32];
    rec[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    rec[4..12].copy_from_slice(&at.to_le_bytes());
    rec[12..20].copy_from_slice(&last.timestamp_ms.to_le_bytes());
    rec[21] = last.kind;
    rec[24..28].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let hcrc = crc32c::crc32c(&rec[0..28]);
    rec[28..32].copy_from_slice(&hcrc.to_le_bytes());
    rec.extend_from_slice(payload);
    let original = std::fs::read(&path).expect("segment");
    let mut bytes = original.clone();
    let pos = last.end_pos() as usize;
    if bytes.len() < pos + rec.len() {
        bytes.resize(pos + rec.len(), 0);
    }
    bytes[pos..pos + rec.len()].copy_from_slice(&rec);
    std::fs::write(&path, &bytes).expect("write segment");

    let (status, text) = srv.restart_expect_failure(FAIL_TIMEOUT);
    assert!(!status.success(), "started\n{text}");
    assert!(
        text.contains("NOSUCHCMD") && mentions_offset(&text, at),
        "stderr names neither the command nor offset {at}\n--- stderr ---\n{text}"
    );
    std::fs::write(&path, &original).expect("restore segment");
    srv.restart();
    assert_keys_present(&mut srv.client(), 0..KEYS);
}
