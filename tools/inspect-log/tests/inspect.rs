//! inspect-log against logs written by `durakv::log::Log` in a temp dir (no server): the library
//! functions and the built binary, on a healthy log, a flipped byte, a torn tail, a growing
//! active segment, and directories that are not logs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use durakv::log::format::{encode_record, RecordKind, SEGMENT_HEADER_LEN};
use durakv::log::{list_segments, segment_path, Log};
use durakv::protocol::{decode_commands, encode_command};
use durakv::types::{LogOffset, ReplId};
use inspect_log::{Damage, DumpFormat, DumpOptions, Progress};

const T0: u64 = 1_700_000_000_000;

struct Rec {
    offset: LogOffset,
    end: LogOffset,
    ts: u64,
    db: u8,
    cmds: Vec<Vec<Vec<u8>>>,
    payload: Vec<u8>,
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    recs: Vec<Rec>,
}

impl Fixture {
    fn end(&self) -> LogOffset {
        self.recs.last().expect("records").end
    }

    /// File and position of the first byte of the record at `offset`.
    fn locate(&self, offset: LogOffset) -> (PathBuf, usize) {
        let segs = list_segments(&self.dir).expect("list");
        let base = *segs.iter().rev().find(|&&b| b <= offset).expect("segment");
        (
            segment_path(&self.dir, base),
            SEGMENT_HEADER_LEN + (offset.0 - base.0) as usize,
        )
    }

    fn last_segment(&self) -> PathBuf {
        let segs = list_segments(&self.dir).expect("list");
        segment_path(&self.dir, *segs.last().expect("segment"))
    }

    /// Bytes of the last segment up to its last record (zeros the writer preallocated follow).
    fn written_len_of_last(&self) -> u64 {
        let segs = list_segments(&self.dir).expect("list");
        let base = *segs.last().expect("segment");
        SEGMENT_HEADER_LEN as u64 + (self.end().0 - base.0)
    }

    fn arg(&self) -> &str {
        self.dir.to_str().expect("utf8 path")
    }
}

/// 12 records, one per append, over several 300-byte segments: SETs (one with a NUL, one not
/// UTF-8, one with a newline), a DEL, a MULTI/EXEC block, in dbs 0, 3 and 1, one second apart.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let (mut log, _) = Log::open(&dir, 300, ReplId::random()).expect("open log");
    let mut specs: Vec<(u8, Vec<Vec<Vec<u8>>>)> = vec![
        (0, vec![cmd(&[b"SET", b"k0", b"v0"])]),
        (0, vec![cmd(&[b"SET", b"k1", b"v\x00"])]),
        (3, vec![cmd(&[b"SET", b"k2", b"with space\n"])]),
        (3, vec![cmd(&[b"DEL", b"k2"])]),
        (
            0,
            vec![
                cmd(&[b"MULTI"]),
                cmd(&[b"INCR", b"c"]),
                cmd(&[b"SET", b"k3", b"x"]),
                cmd(&[b"EXEC"]),
            ],
        ),
        (0, vec![cmd(&[b"SET", b"k5", b"\xff\xfe"])]),
    ];
    for i in 6..12 {
        let db = if i == 9 { 1 } else { 0 };
        specs.push((
            db,
            vec![vec![
                b"SET".to_vec(),
                format!("k{i}").into_bytes(),
                format!("v{i}").into_bytes(),
            ]],
        ));
    }
    let mut recs = Vec::new();
    for (i, (db, cmds)) in specs.into_iter().enumerate() {
        let mut payload = Vec::new();
        for c in &cmds {
            encode_command(&mut payload, c);
        }
        let ts = T0 + i as u64 * 1000;
        let offset = log.end();
        let mut buf = Vec::new();
        encode_record(&mut buf, offset, ts, db, RecordKind::Commands, &payload);
        log.append(&buf).expect("append");
        recs.push(Rec {
            offset,
            end: log.end(),
            ts,
            db,
            cmds,
            payload,
        });
    }
    log.sync().expect("sync");
    assert!(
        log.segment_count() >= 3,
        "fixture should span several segments"
    );
    Fixture {
        _tmp: tmp,
        dir,
        recs,
    }
}

fn cmd(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn run(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_inspect-log"))
        .args(args)
        .output()
        .expect("run inspect-log");
    Out {
        code: o.status.code().expect("exit code"),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn dump_lib(dir: &Path, opts: &DumpOptions) -> (Vec<u8>, inspect_log::DumpSummary) {
    let mut out = Vec::new();
    let s = inspect_log::dump(dir, opts, &mut out, &mut Progress::disabled()).expect("dump");
    (out, s)
}

fn text_opts() -> DumpOptions {
    DumpOptions::default()
}

#[test]
fn segments_lists_every_segment_with_its_range_and_records() {
    let f = fixture();
    let rows = inspect_log::segments(&f.dir, &mut Progress::disabled()).expect("segments");
    let bases = list_segments(&f.dir).expect("list");
    assert_eq!(rows.len(), bases.len());
    assert_eq!(rows[0].base, LogOffset::ZERO);
    for w in rows.windows(2) {
        assert_eq!(w[0].end, w[1].base, "segments chain");
    }
    assert_eq!(rows.last().expect("row").end, f.end());
    assert_eq!(rows.iter().map(|r| r.records).sum::<u64>(), 12);
    assert_eq!(rows[0].first_ts_ms, Some(T0));
    assert_eq!(rows.last().expect("row").last_ts_ms, Some(T0 + 11_000));
    let replid = rows[0].replid.expect("replid");
    for r in &rows {
        assert_eq!(r.replid, Some(replid));
        assert_eq!(r.problem, None);
        let written = SEGMENT_HEADER_LEN as u64 + (r.end.0 - r.base.0);
        assert_eq!(r.size_bytes, written, "size of {}", r.path.display());
        let file = fs::metadata(&r.path).expect("stat").len();
        if r.end == f.end() {
            // The active segment: its records, then the writer's preallocated zeros.
            assert!(file >= written, "{file} < {written}");
        } else {
            assert_eq!(file, written, "a closed segment holds only its records");
        }
    }

    let o = run(&["segments", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.text();
    assert_eq!(text.lines().count(), rows.len() + 1, "{text}");
    assert!(text.contains("2023-11-14T22:13:20.000Z"), "{text}");
    assert!(text.contains(&replid.to_string()), "{text}");
    let end = f.end().to_string();
    assert!(
        text.lines().last().expect("line").split_whitespace().nth(1) == Some(end.as_str()),
        "{text}"
    );
}

#[test]
fn dump_text_quotes_arguments_like_redis_cli() {
    let f = fixture();
    let (out, s) = dump_lib(&f.dir, &text_opts());
    assert_eq!(s.written, 12);
    assert_eq!(s.walk.problem, None);
    let text = String::from_utf8(out.clone()).expect("text is ASCII");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(
        lines[0],
        format!(
            "{} 2023-11-14T22:13:20.000Z db=0 \"SET\" \"k0\" \"v0\"",
            f.recs[0].offset
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "{} 2023-11-14T22:13:21.000Z db=0 \"SET\" \"k1\" \"v\\x00\"",
            f.recs[1].offset
        )
    );
    assert!(lines[2].ends_with("db=3 \"SET\" \"k2\" \"with space\\n\""));
    assert!(lines[3].ends_with("db=3 \"DEL\" \"k2\""));
    assert!(lines[4].ends_with("db=0 \"MULTI\" ; \"INCR\" \"c\" ; \"SET\" \"k3\" \"x\" ; \"EXEC\""));
    assert!(lines[5].ends_with("\"SET\" \"k5\" \"\\xff\\xfe\""));
    for (line, rec) in lines.iter().zip(&f.recs) {
        assert!(line.starts_with(&format!("{} ", rec.offset)), "{line}");
        assert!(line.contains(&format!(" db={} ", rec.db)), "{line}");
    }

    let o = run(&["dump", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, out, "binary and library agree");
}

#[test]
fn dump_json_has_offsets_times_dbs_and_commands() {
    let f = fixture();
    let opts = DumpOptions {
        format: DumpFormat::Json,
        ..DumpOptions::default()
    };
    let (out, _) = dump_lib(&f.dir, &opts);
    let text = String::from_utf8(out.clone()).expect("json is UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12);
    for (line, rec) in lines.iter().zip(&f.recs) {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        assert_eq!(v["offset"], rec.offset.0);
        assert_eq!(v["end"], rec.end.0);
        assert_eq!(v["timestamp_ms"], rec.ts);
        assert_eq!(v["db"], rec.db);
        let cmds: Vec<Vec<String>> = rec
            .cmds
            .iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(v["commands"], serde_json::json!(cmds), "{line}");
    }
    assert!(
        lines[1].contains(r#"["SET","k1","v\u0000"]"#),
        "{}",
        lines[1]
    );
    assert!(lines[5].contains(r#""lossy":true"#), "{}", lines[5]);
    assert!(!lines[0].contains("lossy"), "{}", lines[0]);

    let o = run(&["dump", "--format", "json", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, out);
}

#[test]
fn dump_resp_is_the_payloads_with_select_where_the_db_changes() {
    let f = fixture();
    let mut expected = Vec::new();
    let mut db = 0u8;
    for rec in &f.recs {
        if rec.db != db {
            db = rec.db;
            encode_command(
                &mut expected,
                &[b"SELECT".to_vec(), db.to_string().into_bytes()],
            );
        }
        expected.extend_from_slice(&rec.payload);
    }
    let opts = DumpOptions {
        format: DumpFormat::Resp,
        ..DumpOptions::default()
    };
    let (out, _) = dump_lib(&f.dir, &opts);
    assert_eq!(out, expected);
    let cmds = decode_commands(&out).expect("valid RESP");
    let names: Vec<String> = cmds
        .iter()
        .map(|c| String::from_utf8_lossy(&c[0]).into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "SELECT").count(),
        4,
        "0 -> 3 -> 0 -> 1 -> 0: {names:?}"
    );
    let third: Vec<Vec<u8>> = cmds[2].iter().map(|a| a.to_vec()).collect();
    assert_eq!(third, vec![b"SELECT".to_vec(), b"3".to_vec()]);

    let o = run(&["dump", "--format", "resp", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, expected);
}

fn offsets_of(text: &str) -> Vec<u64> {
    text.lines()
        .map(|l| {
            l.split_whitespace()
                .next()
                .expect("offset")
                .parse()
                .expect("number")
        })
        .collect()
}

#[test]
fn dump_ranges_by_offset_time_and_limit() {
    let f = fixture();
    let off = |i: usize| f.recs[i].offset.0;
    let dump = |opts: DumpOptions| {
        let (out, _) = dump_lib(&f.dir, &opts);
        offsets_of(&String::from_utf8_lossy(&out))
    };
    // [from, to)
    assert_eq!(
        dump(DumpOptions {
            from: Some(LogOffset(off(3))),
            to: Some(LogOffset(off(7))),
            ..text_opts()
        }),
        vec![off(3), off(4), off(5), off(6)]
    );
    // --to alone, --from alone (a later segment), --from at the end
    assert_eq!(
        dump(DumpOptions {
            to: Some(LogOffset(off(2))),
            ..text_opts()
        }),
        vec![off(0), off(1)]
    );
    assert_eq!(
        dump(DumpOptions {
            from: Some(LogOffset(off(10))),
            ..text_opts()
        }),
        vec![off(10), off(11)]
    );
    assert!(dump(DumpOptions {
        from: Some(f.end()),
        ..text_opts()
    })
    .is_empty());
    // --limit, alone and with --from
    assert_eq!(
        dump(DumpOptions {
            limit: Some(2),
            ..text_opts()
        }),
        vec![off(0), off(1)]
    );
    assert_eq!(
        dump(DumpOptions {
            from: Some(LogOffset(off(5))),
            limit: Some(3),
            ..text_opts()
        }),
        vec![off(5), off(6), off(7)]
    );
    assert!(dump(DumpOptions {
        limit: Some(0),
        ..text_opts()
    })
    .is_empty());
    // [since, until)
    assert_eq!(
        dump(DumpOptions {
            since_ms: Some(T0 + 2000),
            until_ms: Some(T0 + 5000),
            ..text_opts()
        }),
        vec![off(2), off(3), off(4)]
    );

    // The same through the binary, with each TIME syntax.
    let o = run(&[
        "dump",
        "--from",
        &off(3).to_string(),
        "--to",
        &off(7).to_string(),
        "--limit",
        "3",
        f.arg(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(offsets_of(&o.text()), vec![off(3), off(4), off(5)]);
    for (since, until) in [
        ("1700000002000", "1700000005000"),
        ("1700000002s", "1700000005s"),
        ("2023-11-14T22:13:22Z", "2023-11-14T22:13:25.000Z"),
    ] {
        let o = run(&["dump", "--since", since, "--until", until, f.arg()]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(offsets_of(&o.text()), vec![off(2), off(3), off(4)]);
    }
    let o = run(&["dump", "--since", "yesterday", f.arg()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("bad time"), "{}", o.stderr);

    // --from inside a record names the record.
    let o = run(&["dump", "--from", &(off(3) + 1).to_string(), f.arg()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains(&format!("falls inside the record at {}", off(3))),
        "{}",
        o.stderr
    );
}

#[test]
fn verify_ok_reports_records_and_end() {
    let f = fixture();
    let s = inspect_log::verify(&f.dir, &mut Progress::disabled()).expect("verify");
    assert_eq!(s.problem, None);
    assert_eq!(s.records, 12);
    assert_eq!(s.end, f.end());
    assert_eq!(s.segments, list_segments(&f.dir).expect("list").len());

    let o = run(&["verify", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.text();
    assert!(text.starts_with("OK"), "{text}");
    assert!(text.contains("12 records"), "{text}");
    assert!(text.contains(&format!("end offset {}", f.end())), "{text}");
}

#[test]
fn verify_reports_a_flipped_byte_in_the_middle_as_corruption_at_its_offset() {
    for (rec, at) in [(4, 32 + 3), (1, 2), (6, 10)] {
        let f = fixture();
        let off = f.recs[rec].offset;
        let (path, pos) = f.locate(off);
        let mut bytes = fs::read(&path).expect("read");
        bytes[pos + at] ^= 0x20;
        fs::write(&path, &bytes).expect("write");

        let s = inspect_log::verify(&f.dir, &mut Progress::disabled()).expect("verify");
        let p = s.problem.expect("problem found");
        assert_eq!(p.damage, Damage::Corrupt);
        assert_eq!(p.offset, off, "record {rec} byte {at}");
        assert_eq!(s.records, rec as u64);
        assert_eq!(s.end, off);

        let o = run(&["verify", f.arg()]);
        assert_eq!(o.code, 1, "{}", o.text());
        let text = o.text();
        assert!(text.contains(&format!("corrupt at offset {off}")), "{text}");
        assert!(text.contains("corruption in the middle"), "{text}");

        // dump prints what comes before and stops with exit 1.
        let o = run(&["dump", f.arg()]);
        assert_eq!(o.code, 1);
        assert_eq!(offsets_of(&o.text()).len(), rec);
        assert!(
            o.stderr.contains(&format!("corrupt at offset {off}")),
            "{}",
            o.stderr
        );

        // segments shows the damaged segment and still lists the others.
        let rows = inspect_log::segments(&f.dir, &mut Progress::disabled()).expect("segments");
        assert_eq!(rows.len(), list_segments(&f.dir).expect("list").len());
        let bad: Vec<_> = rows.iter().filter(|r| r.problem.is_some()).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].problem.as_ref().expect("p").offset, off);
    }
}

#[test]
fn verify_on_a_truncated_tail_says_torn_tail_with_its_offset() {
    let f = fixture();
    let last = f.last_segment();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open");
    file.set_len(f.written_len_of_last() - 5).expect("truncate");
    drop(file);
    let torn = f.recs[11].offset;

    let s = inspect_log::verify(&f.dir, &mut Progress::disabled()).expect("verify");
    let p = s.problem.expect("problem");
    assert_eq!(p.damage, Damage::TornTail);
    assert_eq!(p.offset, torn);
    assert_eq!(s.records, 11);

    let o = run(&["verify", f.arg()]);
    assert_eq!(o.code, 1);
    let text = o.text();
    assert!(
        text.contains(&format!("torn tail at offset {torn}")),
        "{text}"
    );
    assert!(text.contains("truncates it at start-up"), "{text}");
    assert!(!text.contains("corruption"), "{text}");

    // dump and stat read everything before it and succeed.
    let o = run(&["dump", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(offsets_of(&o.text()).len(), 11);
    assert!(o.stderr.contains("torn tail"), "{}", o.stderr);
}

#[test]
fn a_half_written_record_at_the_end_of_the_active_segment_is_just_the_end() {
    let f = fixture();
    let mut next = Vec::new();
    let mut payload = Vec::new();
    encode_command(&mut payload, &[b"SET".as_slice(), b"late", b"write"]);
    encode_record(
        &mut next,
        f.end(),
        T0 + 12_000,
        0,
        RecordKind::Commands,
        &payload,
    );
    // Written over the preallocated zeros after the last record, as the writer does.
    let at = f.written_len_of_last() as usize;
    let mut bytes = fs::read(f.last_segment()).expect("read");
    bytes.resize(bytes.len().max(at + next.len() + 64), 0);
    bytes[at..at + 20].copy_from_slice(&next[..20]);
    fs::write(f.last_segment(), &bytes).expect("write");

    let (out, s) = dump_lib(&f.dir, &text_opts());
    assert_eq!(s.written, 12);
    assert_eq!(offsets_of(&String::from_utf8_lossy(&out)).len(), 12);
    let rows = inspect_log::segments(&f.dir, &mut Progress::disabled()).expect("segments");
    assert_eq!(rows.last().expect("row").end, f.end());
    let st = inspect_log::stat(&f.dir, &mut Progress::disabled()).expect("stat");
    assert_eq!(st.records, 12);

    // Once the write completes, the record is read.
    bytes[at + 20..at + next.len()].copy_from_slice(&next[20..]);
    fs::write(f.last_segment(), &bytes).expect("write");
    let s = inspect_log::verify(&f.dir, &mut Progress::disabled()).expect("verify");
    assert_eq!(s.problem, None);
    assert_eq!(s.records, 13);
}

#[test]
fn stat_counts_commands_records_and_rate() {
    let f = fixture();
    let s = inspect_log::stat(&f.dir, &mut Progress::disabled()).expect("stat");
    assert_eq!(s.records, 12);
    assert_eq!(s.record_bytes, f.end().0);
    assert_eq!(
        s.payload_bytes,
        f.recs.iter().map(|r| r.payload.len() as u64).sum::<u64>()
    );
    let count = |name: &str| {
        s.commands
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.count, c.bytes))
    };
    // SETs: k0 k1 k2 k3 (in MULTI) k5 and k6..k11
    assert_eq!(count("SET").map(|c| c.0), Some(11));
    assert_eq!(count("DEL").map(|c| c.0), Some(1));
    assert_eq!(count("MULTI").map(|c| c.0), Some(1));
    assert_eq!(count("INCR").map(|c| c.0), Some(1));
    assert_eq!(count("EXEC").map(|c| c.0), Some(1));
    assert_eq!(
        count("DEL").map(|c| c.1),
        Some(f.recs[3].payload.len() as u64)
    );
    assert_eq!(s.commands[0].name, "SET", "most frequent first");
    assert_eq!(
        s.commands.iter().map(|c| c.bytes).sum::<u64>(),
        s.payload_bytes
    );
    assert_eq!(s.span_ms(), Some(11_000));
    let rate = s.records_per_sec().expect("rate");
    assert!((rate - 12.0 / 11.0).abs() < 1e-9, "{rate}");

    let o = run(&["stat", f.arg()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.text();
    assert!(text.contains("records        12"), "{text}");
    let set_line = text
        .lines()
        .find(|l| l.starts_with("SET "))
        .expect("SET row");
    assert_eq!(set_line.split_whitespace().nth(1), Some("11"), "{text}");
}

#[test]
fn a_missing_segment_breaks_the_offset_chain() {
    let f = fixture();
    let segs = list_segments(&f.dir).expect("list");
    fs::remove_file(segment_path(&f.dir, segs[1])).expect("remove");
    let s = inspect_log::verify(&f.dir, &mut Progress::disabled()).expect("verify");
    let p = s.problem.expect("gap found");
    assert_eq!(p.damage, Damage::Corrupt);
    assert_eq!(p.offset, segs[1]);
    assert!(p.what.contains("not contiguous"), "{}", p.what);
    let o = run(&["verify", f.arg()]);
    assert_eq!(o.code, 1);
}

#[test]
fn clear_errors_for_directories_that_are_not_logs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope");
    for sub in ["segments", "dump", "verify", "stat"] {
        let o = run(&[sub, missing.to_str().expect("path")]);
        assert_eq!(o.code, 2, "{sub}");
        assert!(
            o.stderr.contains("no such directory"),
            "{sub}: {}",
            o.stderr
        );
    }

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let o = run(&["verify", empty.to_str().expect("path")]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no log segments"), "{}", o.stderr);

    // A data dir instead of its log dir gets a hint.
    let f = fixture();
    let data_dir = f.dir.parent().expect("parent");
    let o = run(&["verify", data_dir.to_str().expect("path")]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("did you mean"), "{}", o.stderr);

    // A file that is not a log segment.
    let junk = tmp.path().join("junk");
    fs::create_dir(&junk).expect("mkdir");
    let seg = junk.join("00000000000000000000.seg");
    fs::write(&seg, vec![b'x'; 200]).expect("write");
    for sub in ["verify", "dump", "stat"] {
        let o = run(&[sub, junk.to_str().expect("path")]);
        assert_eq!(o.code, 1, "{sub}");
        let all = format!("{}{}", o.text(), o.stderr);
        assert!(all.contains("bad magic"), "{sub}: {all}");
    }
    fs::write(&seg, b"short").expect("write");
    let o = run(&["verify", junk.to_str().expect("path")]);
    assert!(
        o.text().contains("shorter than a segment header"),
        "{}",
        o.text()
    );

    // A segment of a future format version (with a valid header checksum).
    let mut header = fs::read(segment_path(&f.dir, LogOffset::ZERO)).expect("read");
    header.truncate(SEGMENT_HEADER_LEN);
    header[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..72]);
    header[72..76].copy_from_slice(&crc.to_le_bytes());
    fs::write(&seg, &header).expect("write");
    let o = run(&["verify", junk.to_str().expect("path")]);
    assert_eq!(o.code, 1);
    assert!(
        o.text().contains("unknown format version 2"),
        "{}",
        o.text()
    );

    // A file instead of a directory.
    let o = run(&["verify", seg.to_str().expect("path")]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("not a directory"), "{}", o.stderr);
}
