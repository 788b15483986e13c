"""Shared by the benchmark scripts: a free loopback port and a minimal RESP client."""

import socket


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        self.buf += chunk

    def _read_reply(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, rest = self.buf.split(b"\r\n", 1)
        self.buf = rest
        t = line[:1]
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            return [self._read_reply() for _ in range(int(line[1:]))]
        if t == b"-":
            raise RuntimeError(line.decode(errors="replace"))
        return line[1:]

    def pipeline(self, cmds, window=200):
        """Sends commands keeping at most `window` unanswered; returns nothing."""
        pending = 0
        it = iter(cmds)
        done = False
        while not done or pending:
            batch = []
            while not done and pending + len(batch) < window:
                c = next(it, None)
                if c is None:
                    done = True
                    break
                batch.append(c)
            if batch:
                self.s.sendall(b"".join(batch))
                pending += len(batch)
            if pending:
                self._read_reply()
                pending -= 1

    def call(self, *args):
        self.s.sendall(resp(*args))
        return self._read_reply()
