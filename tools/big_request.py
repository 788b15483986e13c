#!/usr/bin/env python3
"""big_request.py - server CPU for one huge request that arrives in small pieces.

Starts each given durakv binary on a loopback port with a temporary data dir, sends one
MSET of N keys (2N+1 arguments) in CHUNK-byte pieces with a short pause between them (as a
slow link would deliver it), waits for the reply, and prints the wall time and the server's
CPU time (user + system from /proc) for it. Used to compare request parsers: a parser that
scans a partial request again on every read costs CPU quadratic in its argument count.

Usage: python3 tools/big_request.py BINARY [BINARY ...]
Environment: N (default 400000 keys), CHUNK (default 4096 bytes), PORT (default 17991).
Only the servers it starts are stopped.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time


def run(binary, port, n, chunk):
    d = tempfile.mkdtemp(prefix="durakv-bigreq-")
    p = subprocess.Popen([binary, "--port", str(port), "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{binary} did not start on port {port}")
        parts = [b"*%d\r\n$4\r\nMSET\r\n" % (2 * n + 1)]
        for i in range(n):
            k = b"k%d" % i
            parts.append(b"$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k))
        data = b"".join(parts)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.time()
        for i in range(0, len(data), chunk):
            s.sendall(data[i:i + chunk])
            time.sleep(0.0002)
        reply = s.recv(100)
        wall = time.time() - t
        st = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
        return wall, cpu, reply[:5], len(data)
    finally:
        p.kill()
        p.wait()
        subprocess.run(["rm", "-rf", d], check=False)


def main():
    n = int(os.environ.get("N", "400000"))
    chunk = int(os.environ.get("CHUNK", "4096"))
    port = int(os.environ.get("PORT", "17991"))
    for b in sys.argv[1:]:
        wall, cpu, reply, size = run(b, port, n, chunk)
        print(f"{b}: {size} bytes, reply {reply!r}, wall {wall:.2f} s, server CPU {cpu:.2f} s")


if __name__ == "__main__":
    main()
