"""A login flood on loopback (hardening issue, finding 1): unauthenticated
clients that each send a greeting and random credentials, then close at
once, must neither lock out a valid user whose login is not cached yet (a
fresh proxy caches nothing) nor keep the proxy busy once they are gone.
See docs/hardening.md, "Login floods"."""

import os
import random
import signal
import socket
import statistics
import string
import threading
import time
import unittest

import harness

FLOODERS = 50
# Real users whose first logins are timed during the flood, one after the
# other: (name, password). demo is in every harness users file.
USERS = [(harness.USER, harness.PASSWORD), ("alice", "al1ce-pw"),
         ("bob", "b0b-pw"), ("carol", "car0l-pw"), ("dave", "dav3-pw")]
# The target is a first login within 1 s during the flood. On a 2-core
# machine shared with other builds a single login now and then takes
# longer, so the typical (median) login must meet the target and every one
# must succeed within 2 s (the handshake deadline the harness configures).
# Sanitizer builds run the proxy slower (crypt(3) is not instrumented).
SANITIZED = "asan" in harness.PROXY_BIN or "ASAN_OPTIONS" in os.environ
LOGIN_MEDIAN = 1.5 if SANITIZED else 1.0
LOGIN_MAX = 2.0
CONNECT_BOUND = 5.0
# CPU seconds per second the proxy may use in the second after the flood.
IDLE_BOUND = 0.15


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def random_text(rng, n):
    return "".join(rng.choice(string.ascii_letters + string.digits)
                   for _ in range(n))


class Flood:
    """FLOODERS threads: connect, greeting, random credentials, close."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(FLOODERS)]

    def run(self, seed):
        rng = random.Random(seed)
        n = 0
        while not self.stop.is_set():
            creds = harness.auth(random_text(rng, rng.randint(4, 16)),
                                 random_text(rng, rng.randint(4, 16)))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                s.sendall(b"\x05\x01\x02" + creds)
                s.close()
                n += 1
            except OSError:
                time.sleep(0.01)
        with self.lock:
            self.sent += n

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def first_login(port, user, password):
    """Seconds to connect and get the method choice, seconds from sending
    the RFC 1929 request to its status (the login), and the status."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(harness.greeting())
            if harness.recv_exact(s, 2, 10) != b"\x05\x02":
                return time.monotonic() - t0, 0.0, None
            t1 = time.monotonic()
            s.sendall(harness.auth(user, password))
            status = harness.recv_exact(s, 2, 10)
            return t1 - t0, time.monotonic() - t1, status
    except OSError as e:  # refused at max_clients, reset
        return time.monotonic() - t0, 0.0, repr(e)


class LoginFloodTest(unittest.TestCase):
    def setUp(self):
        # A client's slot (max_clients) is free once the reactor reports its
        # close. While a client's login is being refused, the reactor does
        # not look for its close (the net/ side of finding 3), so a flood
        # this fast on two busy cores fills the default 1024 slots at times
        # with clients whose refusal is on its way. This test is about the
        # logins, not the slots.
        self.proxy = harness.Proxy(listen6=False,
                                   extra_socks="max_clients = 10000\n")
        # More users, so that several first logins can be measured.
        with open(self.proxy.users, "a") as f:
            for name, password in USERS[1:]:
                f.write(harness.hash_user(name, password) + "\n")
        self.proxy.proc.send_signal(signal.SIGHUP)
        loaded = f"users reloaded: {len(USERS) + 1} users"  # and admin
        deadline = time.time() + 5
        while time.time() < deadline and loaded not in self.proxy.log_text():
            time.sleep(0.02)
        self.assertIn(loaded, self.proxy.log_text())

    def tearDown(self):
        self.proxy.cleanup()

    def test_first_logins_during_a_flood_and_idle_after_it(self):
        flood = Flood(self.proxy.port)
        flood.start()
        logins = []
        try:
            time.sleep(1.5)  # the hashers are saturated by now
            for name, password in USERS:
                logins.append(first_login(self.proxy.port, name, password))
                time.sleep(0.3)
        finally:
            flood.finish()
        pid = self.proxy.proc.pid
        time.sleep(1.0)
        before = cpu_seconds(pid)
        time.sleep(1.0)
        busy = cpu_seconds(pid) - before
        print("\nfirst logins during the flood:")
        for (name, _), (hello, took, status) in zip(USERS, logins):
            print(f"  {name}: connect+greeting {hello:.3f} s, "
                  f"login {took:.3f} s, status {status!r}")
        print(f"flood: {flood.sent} clients; proxy CPU 1-2 s after it: "
              f"{busy:.2f} s/s")
        for hello, took, status in logins:
            self.assertEqual(status, b"\x01\x00")
            self.assertLess(took, LOGIN_MAX)
            # Connecting is the accept path's business (net/): only a
            # bound that a client would notice.
            self.assertLess(hello, CONNECT_BOUND)
        self.assertLess(statistics.median(t for _, t, _ in logins), LOGIN_MEDIAN)
        self.assertLess(busy, IDLE_BOUND)
        self.assertGreater(flood.sent, 500)
        # Checks refused for overload are logged as such, never as a wrong
        # password; the valid users' logins were not refused.
        self.proxy.stop()
        text = self.proxy.log_text()
        for name, _ in USERS:
            self.assertNotIn(f"auth failed for user '{name}'", text)
        records = self.proxy.access_text()
        self.assertIn(" result=auth-overload ", records)


if __name__ == "__main__":
    unittest.main()
