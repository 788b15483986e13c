#!/usr/bin/env python3
"""bench_repl.py - replication, durakv vs stock redis-server side by side, on loopback.

Two pairs run in one go: a durakv master and replica, and a redis-server master and replica
(all bound to 127.0.0.1 on free high ports). Both persist with an append-only log and fsync
everysec (durakv: --appendfsync everysec; redis: --appendonly yes --appendfsync everysec
--save ""). Redis keeps its defaults otherwise (diskless full sync, 1 MB repl-backlog-size)
except --repl-diskless-sync-delay 0: the 5 s default only waits for more replicas to arrive and
would be counted as transfer time. Every phase runs against durakv and then against redis, so
the two pairs never compete for the CPU.

What it measures:

1. Full sync of the same data set (--dataset-mb MiB of incompressible 1000-byte values under
   sequential keys, loaded into each master with a pipelined loader). Each replica first gets a
   write of its own (SET x 1), so it has another history and must take a full sync (durakv: a
   RocksDB checkpoint's files; redis: an RDB stream). Time runs from REPLICAOF until the replica
   reports master_link_status:up, master_sync_in_progress:0 and slave_repl_offset equal to the
   master's master_repl_offset. MiB/s = the loaded payload (keys x value bytes, the same for
   both) / that time. The table also shows how each server holds that data set (durakv: log
   bytes on the master; redis: used_memory) and what durakv transferred (checkpoint bytes).
2. Steady-state lag under `redis-benchmark -t set -n N -c 50 -d 100 -r 100000` against the
   master: every 100 ms master_repl_offset (read just before and just after the replica, the
   mean of the two) minus the replica's slave_repl_offset, in bytes; median and max, and the
   median as time (bytes / the master's log growth rate during the run). Then how long the
   replica takes to be level once the load ends.
3. Catch-up: the replica is killed (SIGKILL), --catchup-mb MiB of the same kind of writes
   (overwriting the data set's keys) go to the master, then the replica is restarted with
   --replicaof on its old directory. Time runs from the restart until the replica is in sync
   (as in 1). MiB/s = master log bytes written while it was down / that time. Whether the
   master answered with a partial sync (sync_partial_ok + 1) or a full one (sync_full + 1) is
   read from its INFO stats. With its default 1 MB backlog redis does a full resync here.

Usage: tools/bench_repl.py [--quick] [--dataset-mb N] [--catchup-mb N] [--requests N]
                           [--timeout S] [--logs DIR] [--out FILE]
  --quick          100 MiB data set, 50 MiB catch-up, 100000 load requests (a fast check)
  --dataset-mb N   full-sync data set, MiB of values (default 1024)
  --catchup-mb N   written while the replica is down, MiB of values (default 512)
  --requests N     redis-benchmark requests of the lag load (default 200000)
  --timeout S      most seconds any single wait may take before it is reported as a timeout
                   (default 600)
  --logs DIR       copy the servers' logs to DIR before the temp dir is removed
  --out FILE       also write the markdown table and notes to FILE
Environment: DURAKV_BIN (default $CARGO_TARGET_DIR/release/durakv, CARGO_TARGET_DIR defaulting
to ~/.cache/durakv/target; the binary is copied into the temp dir first, so a rebuild during
the run does not change it), REDIS_SERVER, REDIS_BENCHMARK (defaults /usr/bin/...).

Warnings and errors in durakv's logs are listed under the table. Only the processes this
script starts are stopped (by PID), and its temp dir is removed.
"""

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import Conn, free_port, resp

VALUE_SIZE = 1000
MIB = 1 << 20
LAG_CLIENTS = 50
LAG_VALUE = 100
LAG_KEYSPACE = 100_000
SAMPLE_EVERY = 0.1
POLL_EVERY = 0.02


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Info:
    """INFO <section> on one port over a kept connection; None while the server cannot answer."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def get(self, section):
        try:
            if self.c is None:
                self.c = Conn(self.port, timeout=10)
            raw = self.c.call("INFO", section)
        except (OSError, RuntimeError, ValueError):
            if self.c is not None:
                self.c.close()
            self.c = None
            return None
        out = {}
        for line in raw.decode(errors="replace").splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def num(d, key, default=0):
    try:
        return int(d.get(key, default))
    except (TypeError, ValueError):
        return default


class Server:
    """One server process; restartable on the same port and directory."""

    def __init__(self, kind, name, port, cmd, logpath):
        self.kind, self.name, self.port, self.cmd, self.logpath = kind, name, port, cmd, logpath
        self.proc = None

    def start(self):
        logf = open(self.logpath, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        return self.proc

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_all(servers):
    """SIGTERM to each still-running server this script started (replicas before masters),
    then waits for each; SIGKILL after 30 s."""
    order = [s for s in servers if "replica" in s.name] + [s for s in servers if "replica" not in s.name]
    for s in order:
        if s.proc and s.proc.poll() is None:
            s.proc.terminate()
            time.sleep(0.2)
    for s in order:
        s.stop()


def wait_ping(srv, timeout):
    """Seconds until the server answers PING with PONG (a LOADING error does not count)."""
    t0 = time.time()
    deadline = t0 + timeout
    while time.time() < deadline:
        if srv.proc.poll() is not None:
            sys.exit(f"{srv.name} exited early (status {srv.proc.returncode}); see {srv.logpath}")
        try:
            c = Conn(srv.port, timeout=5)
            try:
                if c.call("PING") == b"PONG":
                    return time.time() - t0
            finally:
                c.close()
        except (OSError, RuntimeError):
            pass
        time.sleep(POLL_EVERY)
    return None


def in_sync(ri, mi):
    return (ri is not None and mi is not None
            and ri.get("master_link_status") == "up"
            and ri.get("master_sync_in_progress") == "0"
            and "slave_repl_offset" in ri
            and num(ri, "slave_repl_offset", -1) == num(mi, "master_repl_offset", -2))


def wait_in_sync(master, replica, t0, timeout, seen=None):
    """Seconds from t0 until the replica is level with the master, or None on timeout.
    seen (a dict) collects the most master_sync_total_bytes the replica reported."""
    mi_, ri_ = Info(master.port), Info(replica.port)
    try:
        while time.time() - t0 < timeout:
            ri = ri_.get("replication")
            mi = mi_.get("replication")
            if ri is not None and seen is not None:
                seen["sync_total_bytes"] = max(seen.get("sync_total_bytes", 0),
                                               num(ri, "master_sync_total_bytes", 0))
            if in_sync(ri, mi):
                return time.time() - t0
            if replica.proc.poll() is not None:
                log(f"{replica.name} exited (status {replica.proc.returncode}) while syncing")
                return None
            time.sleep(POLL_EVERY)
        return None
    finally:
        mi_.close()
        ri_.close()


def quiesce(servers, timeout):
    """Waits until no redis server is loading, rewriting its AOF or saving an RDB, so one
    phase's background work does not run into the next one. durakv exposes nothing comparable:
    a short pause."""
    deadline = time.time() + timeout
    for s in servers:
        if s.kind != "redis":
            continue
        inf = Info(s.port)
        try:
            while time.time() < deadline:
                p = inf.get("persistence")
                if p is not None and all(p.get(k, "0") == "0" for k in (
                        "loading", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                        "rdb_bgsave_in_progress", "async_loading")):
                    break
                time.sleep(0.2)
        finally:
            inf.close()
    time.sleep(1)


def load(port, first, count, keyspace, seed):
    """SET k:<i> <1000 random bytes> for count keys from first (mod keyspace), pipelined:
    chunks of 200 commands, two chunks in flight. Returns the payload bytes written."""
    rnd = random.Random(seed)
    pool = rnd.randbytes(4 * MIB + VALUE_SIZE) if hasattr(rnd, "randbytes") else os.urandom(4 * MIB + VALUE_SIZE)
    head = b"*3\r\n$3\r\nSET\r\n"
    vhead = b"$%d\r\n" % VALUE_SIZE
    c = Conn(port, timeout=120)
    chunk = 200
    inflight = []

    def drain(n):
        got = 0
        while got < n:
            nl = c.buf.count(b"\r\n")
            if nl:
                take = min(nl, n - got)
                # every reply is one line: +OK, or -ERR ... on failure
                idx = 0
                for _ in range(take):
                    idx = c.buf.index(b"\r\n", idx) + 2
                part, c.buf = c.buf[:idx], c.buf[idx:]
                if b"-" in part:
                    raise RuntimeError("load failed: " + part.decode(errors="replace")[:200])
                got += take
            else:
                c._fill()

    try:
        i = 0
        while i < count:
            n = min(chunk, count - i)
            parts = []
            for j in range(i, i + n):
                k = b"k:%010d" % ((first + j) % keyspace)
                off = rnd.randrange(4 * MIB)
                parts.append(b"%s$%d\r\n%s\r\n%s%s\r\n" % (head, len(k), k, vhead, pool[off:off + VALUE_SIZE]))
            c.s.sendall(b"".join(parts))
            inflight.append(n)
            if len(inflight) > 2:
                drain(inflight.pop(0))
            i += n
        while inflight:
            drain(inflight.pop(0))
    finally:
        c.close()
    return count * VALUE_SIZE


def durakv_warnings(paths, limit=20):
    """WARN/ERROR lines of durakv's logs (ANSI colour codes stripped)."""
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    lines = []
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    line = ansi.sub("", line.rstrip("\n"))
                    if re.search(r"\b(WARN|ERROR)\b|panicked", line):
                        lines.append(f"{os.path.basename(p)}: {line}")
        except OSError:
            pass
    return lines[:limit], len(lines)


def fmt(v, spec):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return format(v, spec)


def ratio(d, r):
    if isinstance(d, (int, float)) and isinstance(r, (int, float)) and r:
        return f"{d / r:.2f}"
    return "-"


def phase_full_sync(master, replica, payload, timeout, res, tag):
    """Full sync: SET x 1 on the standalone replica (another history), REPLICAOF, wait."""
    c = Conn(replica.port, timeout=30)
    c.call("SET", "x", "1")
    mst = Info(master.port)
    before = mst.get("stats") or {}
    seen = {}
    t0 = time.time()
    c.call("REPLICAOF", "127.0.0.1", master.port)
    c.close()
    secs = wait_in_sync(master, replica, t0, timeout, seen)
    after = mst.get("stats") or {}
    mst.close()
    res[f"fs_secs_{tag}"] = secs if secs is not None else "timeout"
    res[f"fs_mibs_{tag}"] = payload / MIB / secs if secs else None
    res[f"fs_bytes_{tag}"] = seen.get("sync_total_bytes", 0)
    res[f"fs_full_{tag}"] = num(after, "sync_full") - num(before, "sync_full")
    log(f"{tag}: full sync {fmt(secs, '.2f')} s (sync_full +{res[f'fs_full_{tag}']})")


def phase_lag(master, replica, requests, timeout, res, tag):
    bench = os.environ.get("REDIS_BENCHMARK", "/usr/bin/redis-benchmark")
    cmd = [bench, "-p", str(master.port), "-t", "set", "-n", str(requests), "-c", str(LAG_CLIENTS),
           "-d", str(LAG_VALUE), "-r", str(LAG_KEYSPACE), "--csv"]
    mi_, ri_ = Info(master.port), Info(replica.port)
    start_off = num(mi_.get("replication") or {}, "master_repl_offset")
    lags = []
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while p.poll() is None and time.time() - t0 < timeout:
            m0 = mi_.get("replication")
            r = ri_.get("replication")
            m1 = mi_.get("replication")
            if m0 and r and m1 and "slave_repl_offset" in r:
                mid = (num(m0, "master_repl_offset") + num(m1, "master_repl_offset")) / 2
                lags.append(max(0.0, mid - num(r, "slave_repl_offset")))
            time.sleep(SAMPLE_EVERY)
        if p.poll() is None:
            log(f"{tag}: redis-benchmark still running after {timeout}s: stopped")
            p.kill()
        out = p.communicate()[0] or ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t_end = time.time()
    end_off = num(mi_.get("replication") or {}, "master_repl_offset")
    mi_.close()
    ri_.close()
    drain = wait_in_sync(master, replica, t_end, timeout)
    rows = [l for l in out.splitlines() if l and not l.startswith('"test"')]
    ops = float(rows[-1].split(",")[1].strip('"')) if rows else None
    rate = (end_off - start_off) / (t_end - t0) if t_end > t0 else 0
    res[f"lag_ops_{tag}"] = ops
    res[f"lag_rate_{tag}"] = rate / MIB
    res[f"lag_samples_{tag}"] = len(lags)
    res[f"lag_med_{tag}"] = statistics.median(lags) if lags else None
    res[f"lag_max_{tag}"] = max(lags) if lags else None
    res[f"lag_ms_{tag}"] = (statistics.median(lags) / rate * 1000) if lags and rate else None
    res[f"lag_drain_{tag}"] = drain * 1000 if drain is not None else "timeout"
    log(f"{tag}: load {fmt(ops, ',.0f')} ops/s, lag median {fmt(res[f'lag_med_{tag}'], ',.0f')} B, "
        f"max {fmt(res[f'lag_max_{tag}'], ',.0f')} B over {len(lags)} samples")


def phase_catchup(master, replica, count, keyspace, timeout, res, tag):
    mst = Info(master.port)
    replica.kill9()
    before = mst.get("stats") or {}
    off0 = num(mst.get("replication") or {}, "master_repl_offset")
    t = time.time()
    load(master.port, 0, count, keyspace, seed=f"catchup-{tag}")
    log(f"{tag}: wrote {count * VALUE_SIZE / MIB:.0f} MiB to the master in {time.time() - t:.1f}s "
        "while the replica was down")
    off1 = num(mst.get("replication") or {}, "master_repl_offset")
    if "--replicaof" not in replica.cmd:
        if replica.kind == "durakv":
            replica.cmd += ["--replicaof", f"127.0.0.1 {master.port}"]
        else:
            replica.cmd += ["--replicaof", "127.0.0.1", str(master.port)]
    t0 = time.time()
    replica.start()
    ready = wait_ping(replica, timeout)
    secs = wait_in_sync(master, replica, t0, timeout)
    after = mst.get("stats") or {}
    mst.close()
    full = num(after, "sync_full") - num(before, "sync_full")
    part = num(after, "sync_partial_ok") - num(before, "sync_partial_ok")
    res[f"cu_log_{tag}"] = (off1 - off0) / MIB
    res[f"cu_ready_{tag}"] = ready if ready is not None else "timeout"
    res[f"cu_secs_{tag}"] = secs if secs is not None else "timeout"
    res[f"cu_mibs_{tag}"] = (off1 - off0) / MIB / secs if secs else None
    if full:
        kind = f"full (sync_full +{full}, sync_partial_ok +{part})"
    elif part:
        kind = f"partial (sync_partial_ok +{part})"
    else:
        kind = "none seen"
    res[f"cu_kind_{tag}"] = kind
    log(f"{tag}: catch-up {fmt(secs, '.2f')} s, {kind}")


def main():
    ap = argparse.ArgumentParser(description="durakv vs redis-server replication benchmark")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dataset-mb", type=int)
    ap.add_argument("--catchup-mb", type=int)
    ap.add_argument("--requests", type=int)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--logs")
    ap.add_argument("--out")
    a = ap.parse_args()
    dataset_mb = a.dataset_mb or (100 if a.quick else 1024)
    catchup_mb = a.catchup_mb or (50 if a.quick else 512)
    requests = a.requests or (100_000 if a.quick else 200_000)
    keys = dataset_mb * MIB // VALUE_SIZE
    catchup_keys = catchup_mb * MIB // VALUE_SIZE

    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/durakv/target"))
    durakv_src = os.environ.get("DURAKV_BIN", os.path.join(target, "release", "durakv"))
    redis = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
    tmp = tempfile.mkdtemp(prefix="durakv-bench-repl.")
    servers = []
    try:
        durakv = os.path.join(tmp, "durakv")
        shutil.copy2(durakv_src, durakv)

        def dk(name, extra=()):
            port = free_port()
            cmd = [durakv, "--port", str(port), "--bind", "127.0.0.1",
                   "--dir", os.path.join(tmp, name), "--appendfsync", "everysec", *extra]
            return Server("durakv", name, port, cmd, os.path.join(tmp, name + ".log"))

        def rd(name, extra=()):
            port = free_port()
            d = os.path.join(tmp, name)
            os.makedirs(d)
            cmd = [redis, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                   "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                   "--repl-diskless-sync-delay", "0", *extra]
            return Server("redis", name, port, cmd, os.path.join(tmp, name + ".log"))

        dm, dr = dk("durakv-master"), dk("durakv-replica")
        rm, rr = rd("redis-master"), rd("redis-replica")
        servers = [dm, dr, rm, rr]
        for s in servers:
            s.start()
        for s in servers:
            if wait_ping(s, 60) is None:
                sys.exit(f"{s.name} did not answer PING")
        log(f"ports: durakv {dm.port}/{dr.port}, redis {rm.port}/{rr.port}; temp dir {tmp}")

        res = {}
        pairs = (("durakv", dm, dr), ("redis", rm, rr))

        # 1. Full sync of the data set.
        for tag, m, _ in pairs:
            t = time.time()
            payload = load(m.port, 0, keys, keys, seed=f"dataset-{tag}")
            res[f"load_secs_{tag}"] = time.time() - t
            log(f"{tag}: loaded {keys:,} keys ({payload / MIB:.0f} MiB) in {res[f'load_secs_{tag}']:.1f}s")
        di = Info(dm.port)
        res["size_durakv"] = num(di.get("persistence") or {}, "log_bytes") / MIB
        di.close()
        ri = Info(rm.port)
        res["size_redis"] = num(ri.get("memory") or {}, "used_memory") / MIB
        ri.close()
        for tag, m, r in pairs:
            quiesce(servers, a.timeout)
            phase_full_sync(m, r, keys * VALUE_SIZE, a.timeout, res, tag)

        # 2. Steady-state lag.
        for tag, m, r in pairs:
            quiesce(servers, a.timeout)
            phase_lag(m, r, requests, a.timeout, res, tag)

        # 3. Catch-up after the replica was killed.
        for tag, m, r in pairs:
            quiesce(servers, a.timeout)
            phase_catchup(m, r, catchup_keys, keys, a.timeout, res, tag)

        def row(label, key, spec, with_ratio=True):
            d, r = res.get(f"{key}_durakv"), res.get(f"{key}_redis")
            return f"| {label} | {fmt(d, spec)} | {fmt(r, spec)} | {ratio(d, r) if with_ratio else '-'} |"

        payload_mib = keys * VALUE_SIZE / MIB
        for tag in ("durakv", "redis"):
            b = res.get(f"fs_bytes_{tag}") or 0
            res[f"fs_bytes_mib_{tag}"] = b / MIB if b > 0 else "n/a"
        lines = [
            f"Data set: {keys:,} keys x {VALUE_SIZE} B random values = {payload_mib:,.0f} MiB of values; "
            f"catch-up: {catchup_keys:,} overwrites ({catchup_keys * VALUE_SIZE / MIB:,.0f} MiB); "
            f"lag load: redis-benchmark -t set -n {requests} -c {LAG_CLIENTS} -d {LAG_VALUE} -r {LAG_KEYSPACE}.",
            "",
            "| metric | durakv | redis | durakv/redis |",
            "|---|---:|---:|---:|",
            row("load data set into master (s)", "load_secs", ".1f"),
            row("data set on master, MiB (durakv: log bytes; redis: used_memory)", "size", ",.0f"),
            row("full sync: time to in sync (s)", "fs_secs", ".2f"),
            row(f"full sync: MiB/s of the {payload_mib:,.0f} MiB payload", "fs_mibs", ",.1f"),
            row("full sync: bytes the replica reported to fetch, MiB", "fs_bytes_mib", ",.0f", False),
            row("full sync: sync_full on master", "fs_full", "d", False),
            row("lag load: SET ops/s on master", "lag_ops", ",.0f"),
            row("lag load: master log growth, MiB/s", "lag_rate", ",.1f"),
            row("lag: median (bytes)", "lag_med", ",.0f"),
            row("lag: max (bytes)", "lag_max", ",.0f"),
            row("lag: median as time (ms, bytes / log growth rate)", "lag_ms", ",.2f"),
            row("lag: level after the load ended (ms)", "lag_drain", ",.0f"),
            row("catch-up: log written while replica down, MiB", "cu_log", ",.0f"),
            row("catch-up: restart to answering PING (s)", "cu_ready", ".2f"),
            row("catch-up: restart to in sync (s)", "cu_secs", ".2f"),
            row("catch-up: MiB/s of log", "cu_mibs", ",.1f"),
            row("catch-up: kind of sync", "cu_kind", "s", False),
        ]
        # Replicas first, so no replica logs its master going away; then durakv's logs are
        # complete, shutdown included, when they are scanned.
        stop_all(servers)
        warn, nwarn = durakv_warnings([dm.logpath, dr.logpath])
        notes = [
            "",
            "Notes:",
            f"- durakv/redis is the plain quotient of the two columns: for times and lag lower is "
            "better, for ops/s and MiB/s higher is better.",
            "- Full sync: each replica got SET x 1 first, so durakv had to transfer a checkpoint "
            "and redis an RDB (diskless, repl-diskless-sync-delay 0); redis's replica also rewrites "
            "its AOF afterwards (not counted). Redis streams the RDB with an EOF marker, so its "
            "replica reports no byte count (n/a).",
            "- Lag samples are every 100 ms; the master offset is the mean of reads just before and "
            f"after the replica's, so a sample is off by at most half an INFO round trip of writes. "
            f"Samples: durakv {res.get('lag_samples_durakv', 0)}, redis {res.get('lag_samples_redis', 0)}.",
            "- Catch-up time includes the replica's restart (durakv: opening RocksDB and its log; "
            "redis: loading its AOF) and, for redis, a full resync: its 1 MB default "
            "repl-backlog-size cannot hold the writes made while the replica was down.",
            "- Client, masters and replicas share one machine; compare rows of one run.",
            f"- durakv logs: {nwarn} WARN/ERROR line(s)" + (":" if warn else "."),
        ]
        notes += [f"  - `{w}`" for w in warn]
        if nwarn > len(warn):
            notes.append(f"  - ... {nwarn - len(warn)} more")
        table = "\n".join(lines + notes)
        print(table)
        if a.out:
            with open(a.out, "w") as f:
                f.write(table + "\n")
    finally:
        stop_all(servers)
        if a.logs:
            os.makedirs(a.logs, exist_ok=True)
            for s in servers:
                if os.path.exists(s.logpath):
                    shutil.copy(s.logpath, a.logs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
