#!/usr/bin/env python3
"""bench_types.py - data types, durakv vs stock redis-server side by side, on loopback.

What it measures (one run, both servers on the same machine at the same time):

1. Throughput (redis-benchmark --csv, 50 clients, pipeline 1) of HSET, LPUSH, LPOP, SADD,
   ZADD, and of ZRANGEBYSCORE (LIMIT 0 10 from a random score) and ZRANK (random member) on a
   sorted set of 1,000,000 members loaded into both servers first. Each row runs against durakv
   and then immediately against redis with the same arguments.
2. Resident memory (VmRSS from /proc) of each server after loading the same data set of
   10,000,000 elements: the 1M-member sorted set, 1M hash fields (100 hashes), 1M set members
   (100 sets) and the rest as list elements (7M in 700 lists), all 16-byte members and values.

Both servers persist with an append-only log and fsync everysec (durakv: --appendfsync
everysec; redis: --appendonly yes --appendfsync everysec --save ""). durakv's block cache is
left at its default.

Usage: tools/bench_types.py [--requests N] [--elements N] [--memory-only] [--out FILE]
  --requests N   requests per redis-benchmark row (default 100000)
  --elements N   total elements of the memory data set (default 10000000)
  --memory-only  skip the throughput rows
  --out FILE     also write the markdown table to FILE
Environment: DURAKV_BIN (default $CARGO_TARGET_DIR/release/durakv, CARGO_TARGET_DIR defaulting
to ~/.cache/durakv/target), REDIS_SERVER, REDIS_BENCHMARK (defaults /usr/bin/...).

Only the processes this script starts are stopped (by PID), and its temp dirs are removed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import Conn, free_port, resp

CLIENTS = 50
ZSET_MEMBERS = 1_000_000


def wait_ping(port, proc, name):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited early")
        try:
            if Conn(port).call("PING") == b"PONG":
                return
        except (OSError, RuntimeError):
            pass
        time.sleep(0.1)
    sys.exit(f"{name} did not answer PING")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def load_zset(port):
    c = Conn(port)
    per = 1000
    c.pipeline(
        resp("ZADD", "bigz", *[x for j in range(i, i + per) for x in (j, "m:%012d" % j)])
        for i in range(0, ZSET_MEMBERS, per)
    )


def load_rest(port, elements):
    """The rest of the memory data set: hashes, sets and lists, 1000 elements per command."""
    rest = max(0, elements - ZSET_MEMBERS)
    sizes = {"h": min(1_000_000, rest // 3), "s": min(1_000_000, rest // 3)}
    sizes["l"] = rest - sizes["h"] - sizes["s"]
    per_key = 10_000
    c = Conn(port)

    def cmds(kind):
        for i in range(0, sizes[kind] - sizes[kind] % 1000, 1000):
            key = "%s:%d" % (kind, i // per_key)
            if kind == "h":
                yield resp("HSET", key, *[x for j in range(i, i + 1000) for x in ("f:%014d" % j, "v:%014d" % j)])
            elif kind == "s":
                yield resp("SADD", key, *["s:%014d" % j for j in range(i, i + 1000)])
            else:
                yield resp("RPUSH", key, *["l:%014d" % j for j in range(i, i + 1000)])

    for kind in ("h", "s", "l"):
        c.pipeline(cmds(kind), window=16)
    return ZSET_MEMBERS + sum(n - n % 1000 for n in sizes.values())


def bench(port, args, n):
    cmd = [os.environ.get("REDIS_BENCHMARK", "/usr/bin/redis-benchmark"), "-p", str(port),
           "-c", str(CLIENTS), "-n", str(n), "--csv"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800).stdout
    rows = [l for l in out.splitlines() if l and not l.startswith('"test"')]
    if not rows:
        return 0.0
    return float(rows[-1].split(",")[1].strip('"'))


ROWS = [
    ("HSET", ["-t", "hset", "-r", "100000"]),
    ("LPUSH", ["-t", "lpush"]),
    ("LPOP", ["-t", "lpop"]),
    ("SADD", ["-t", "sadd", "-r", "100000"]),
    ("ZADD", ["-r", "100000", "ZADD", "benchz", "__rand_int__", "member:__rand_int__"]),
    ("ZRANGEBYSCORE 1M (LIMIT 0 10)",
     ["-r", str(ZSET_MEMBERS), "ZRANGEBYSCORE", "bigz", "__rand_int__", "+inf", "LIMIT", "0", "10"]),
    ("ZRANK 1M", ["-r", str(ZSET_MEMBERS), "ZRANK", "bigz", "m:__rand_int__"]),
]

# ZRANK walks the score index (O(min(rank, size - rank)) steps in durakv): fewer requests keep
# the row to minutes.
REQUESTS_CAP = {"ZRANK 1M": 2000}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--elements", type=int, default=10_000_000)
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/durakv/target"))
    durakv = os.environ.get("DURAKV_BIN", os.path.join(target, "release", "durakv"))
    redis = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
    tmp = tempfile.mkdtemp(prefix="durakv-bench-types.")
    procs = []
    try:
        dport, rport = free_port(), free_port()
        dlog = open(os.path.join(tmp, "durakv.log"), "w")
        dp = subprocess.Popen([durakv, "--port", str(dport), "--dir", os.path.join(tmp, "d"),
                               "--appendfsync", "everysec"], stdout=dlog, stderr=dlog)
        procs.append(dp)
        rdir = os.path.join(tmp, "r")
        os.makedirs(rdir)
        rp = subprocess.Popen([redis, "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                               "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(rp)
        wait_ping(dport, dp, "durakv")
        wait_ping(rport, rp, "redis-server")

        for name, port in (("durakv", dport), ("redis", rport)):
            t = time.time()
            load_zset(port)
            print(f"[bench] {name}: loaded the 1M-member zset in {time.time() - t:.1f}s", file=sys.stderr)

        lines = ["| command | durakv ops/s | redis ops/s | durakv/redis |", "|---|---:|---:|---:|"]
        for name, args in ([] if a.memory_only else ROWS):
            n = min(a.requests, REQUESTS_CAP.get(name, a.requests))
            d = bench(dport, args, n)
            r = bench(rport, args, n)
            ratio = d / r if r else 0.0
            lines.append(f"| {name} | {d:,.0f} | {r:,.0f} | {ratio:.2f} |")
            print(f"[bench] {lines[-1]}", file=sys.stderr)

        loaded = 0
        for name, port in (("durakv", dport), ("redis", rport)):
            t = time.time()
            loaded = load_rest(port, a.elements)
            print(f"[bench] {name}: loaded the rest of the data set in {time.time() - t:.1f}s", file=sys.stderr)
        time.sleep(2)
        drss, rrss = rss_mib(dp.pid), rss_mib(rp.pid)
        lines.append("")
        lines.append(f"Resident memory after loading the same {loaded:,} elements "
                     f"(plus the benchmark keys above):")
        lines.append("")
        lines.append("| server | VmRSS MiB |")
        lines.append("|---|---:|")
        lines.append(f"| durakv | {drss:,.0f} |")
        lines.append(f"| redis | {rrss:,.0f} |")
        lines.append(f"| durakv/redis | {drss / rrss if rrss else 0:.2f} |")
        table = "\n".join(lines)
        print(table)
        if a.out:
            with open(a.out, "w") as f:
                f.write(table + "\n")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
