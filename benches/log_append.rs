//! Criterion benchmarks for the log's hot path: framing records (crc32c of header and
//! payload) and appending groups of them to a segment file.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use durakv::log::format::{encode_record, RecordKind};
use durakv::log::Log;
use durakv::protocol::encode_command;
use durakv::types::{LogOffset, ReplId};

fn set_payload(value_len: usize) -> Vec<u8> {
    let v = vec![b'x'; value_len];
    let mut p = Vec::new();
    encode_command(&mut p, &[&b"SET"[..], b"key:000000012345", &v]);
    p
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_record");
    for len in [64usize, 1024, 16384] {
        let payload = set_payload(len);
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(len), &payload, |b, p| {
            let mut out = Vec::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                encode_record(&mut out, LogOffset(0), 1, 0, RecordKind::Commands, p)
            })
        });
    }
    g.finish();
}

fn bench_append_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_group_no_fsync");
    for group in [1usize, 50] {
        let payload = set_payload(64);
        g.throughput(Throughput::Elements(group as u64));
        g.bench_with_input(BenchmarkId::from_parameter(group), &group, |b, &n| {
            let dir = tempfile::tempdir().expect("tempdir");
            let (mut log, _) = Log::open(dir.path(), 64 << 20, ReplId::random()).expect("open");
            let mut buf = Vec::with_capacity(1 << 20);
            b.iter(|| {
                buf.clear();
                let mut at = log.end();
                for _ in 0..n {
                    at = at.advance(encode_record(
                        &mut buf,
                        at,
                        1,
                        0,
                        RecordKind::Commands,
                        &payload,
                    ));
                }
                log.append(&buf).expect("append");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_encode, bench_append_group);
criterion_main!(benches);
