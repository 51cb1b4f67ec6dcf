"""Bulk data both ways at once, then a small final write each way: every
byte must arrive, promptly, with splice on and off, round after round.

This is the case that stalled with splice on a real Linux kernel: a short
splice from a socket into a pipe was taken as proof that the socket was
drained, so the rest of its receive queue was never read once the sender
stopped sending (it waited for the final byte). See docs/performance.md."""

import hashlib
import socket
import threading
import time
import unittest

import harness

MIB = 1 << 20
# Per tunnel and per direction; several tunnels at once, several rounds.
SIZE = 32 * MIB
TUNNELS = 8
ROUNDS = 2
CHUNK = 256 * 1024
# A stalled tunnel shows as a receive that waits this long for a byte.
STALL_TIMEOUT = 20


def stream(seed):
    """The bytes a side sends: a pattern that depends on the tunnel."""
    unit = bytes((seed * 7 + i) & 0xFF for i in range(251))
    return (unit * (CHUNK // len(unit) + 1))[:CHUNK]


def blocks(seed, n):
    """The n bytes a side sends, in blocks."""
    block = stream(seed)
    left = n
    while left:
        k = min(left, len(block))
        yield block[:k]
        left -= k


def expected_digest(seed, n):
    h = hashlib.sha256()
    for b in blocks(seed, n):
        h.update(b)
    return h.hexdigest()


def send_stream(s, seed, n):
    for b in blocks(seed, n):
        s.sendall(b)


def recv_digest(s, n):
    """Reads exactly n bytes; returns (bytes read, sha256)."""
    h = hashlib.sha256()
    got = 0
    while got < n:
        data = s.recv(min(1 << 20, n - got))
        if not data:
            break
        h.update(data)
        got += len(data)
    return got, h.hexdigest()


class BothWaysTarget:
    """Per connection: sends SIZE bytes while reading SIZE bytes; once all
    arrived, writes b'Z'; then expects b'Y' and closes."""

    def __init__(self):
        self.results = {}
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        result = "error"
        try:
            c.settimeout(STALL_TIMEOUT)
            seed = harness.recv_exact(c, 1, STALL_TIMEOUT)[0]  # names the tunnel
            writer = threading.Thread(target=send_stream, args=(c, seed + 100, SIZE))
            writer.start()
            got, digest = recv_digest(c, SIZE)
            writer.join()
            if got != SIZE or digest != expected_digest(seed, SIZE):
                result = "target got %d of %d bytes (or other bytes)" % (got, SIZE)
            else:
                c.sendall(b"Z")
                final = c.recv(1)
                result = "ok" if final == b"Y" else "target: final byte %r" % final
        except Exception as e:  # a timeout is a stall
            result = "target: %r" % e
        finally:
            with self.lock:
                self.results[c.fileno()] = result
            c.close()

    def close(self):
        self.sock.close()


def run_tunnel(proxy_port, target_port, seed, out):
    s, rep = harness.socks_connect(proxy_port, "127.0.0.1", target_port)
    try:
        if rep != 0:
            out[seed] = "rep %r" % rep
            return
        s.settimeout(STALL_TIMEOUT)
        s.sendall(bytes([seed]))
        writer = threading.Thread(target=send_stream, args=(s, seed, SIZE))
        writer.start()
        t0 = time.time()
        try:
            got, digest = recv_digest(s, SIZE)
            final = s.recv(1) if got == SIZE else b""
        except socket.timeout:
            out[seed] = "client: stalled after %.1f s" % (time.time() - t0)
            return
        finally:
            writer.join()
        if got != SIZE or digest != expected_digest(seed + 100, SIZE):
            out[seed] = "client got %d of %d bytes" % (got, SIZE)
        elif final != b"Z":
            out[seed] = "client: final byte %r never came" % final
        else:
            s.sendall(b"Y")
            out[seed] = "ok"
    except Exception as e:
        out[seed] = "client: %r" % e
    finally:
        s.close()


class StallTest(unittest.TestCase):
    def both_ways(self, splice):
        proxy = harness.Proxy(extra_server="splice = %s\n" % splice)
        target = BothWaysTarget()
        try:
            for rnd in range(ROUNDS):
                out = {}
                threads = [threading.Thread(target=run_tunnel,
                                            args=(proxy.port, target.port, i, out))
                           for i in range(TUNNELS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                bad = {k: v for k, v in out.items() if v != "ok"}
                self.assertEqual(len(out), TUNNELS)
                self.assertEqual(bad, {}, "round %d, splice=%s" % (rnd, splice))
            self.assertTrue(proxy.alive())
        finally:
            target.close()
            proxy.cleanup()

    def test_bulk_both_ways_then_final_byte_splice(self):
        self.both_ways("true")

    def test_bulk_both_ways_then_final_byte_copy(self):
        self.both_ways("false")


if __name__ == "__main__":
    unittest.main()
