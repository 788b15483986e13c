//! Criterion benchmark of what RocksDB costs a SET in durakv: `Storage::write` of a group of
//! plain string writes (random keys out of 100,000, 64-byte values, as `redis-benchmark -r
//! 100000 -d 64` sends), then `Storage::settle` so the applier thread's write is counted too.
//! A group of 20 is what pipeline 1 commits per fsync (written by the caller), 800 what 50
//! clients at pipeline 16 send (written by the applier thread). Memtable flushes and
//! compactions run meanwhile, as in the server.
//!
//! `cargo bench --bench storage_write`; the time per element is RocksDB's share of a SET,
//! to set beside redis-server's CPU per SET (tools/ab.sh prints it).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use durakv::storage::{Batch, Entry, Storage};

/// A xorshift step: the keys' order must look random to the memtable's skiplist.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn bench_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("storage_write_set");
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = Storage::open(dir.path(), 128 << 20, 64 << 20).expect("open storage");
    let value = Bytes::from(vec![b'x'; 64]);
    let mut x = 88172645463325252u64;
    let mut build = |n: usize| {
        let mut batch = Batch::default();
        for _ in 0..n {
            let key = format!("key:{:012}", next(&mut x) % 100_000);
            let e = Entry::string(value.clone(), 0);
            storage.batch_put_entry(&mut batch, 0, key.as_bytes(), &e);
        }
        batch
    };
    // Building the batch alone, to subtract from the rows below.
    g.throughput(Throughput::Elements(800));
    g.bench_function("build_only/800", |b| b.iter(|| build(800)));
    for group in [20usize, 800] {
        g.throughput(Throughput::Elements(group as u64));
        g.bench_with_input(BenchmarkId::from_parameter(group), &group, |b, &n| {
            b.iter(|| {
                storage.write(build(n)).expect("write");
                storage.settle().expect("settle");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_write);
criterion_main!(benches);
