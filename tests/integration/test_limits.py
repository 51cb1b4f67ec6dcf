"""Integration tests of [limits] and of users-file groups and per-user
limits, with real clients: concurrent sessions and new sessions a second per
user and per client address, hit exactly at their value; bandwidth per user
measured at the target and at the client over 10 s, for one connection and
four of the same user, with splice on and off; rules by group; limits
changed by a reload while tunnels stay open."""

import json
import os
import signal
import subprocess
import socket
import socketserver
import threading
import time
import unittest

import socks  # python3-socks (PySocks)

import harness
from harness import (Proxy, USER, PASSWORD, echo_works, greeting, metric,
                     recv_exact, scrape, socks_connect, start_server, stop_server)
from test_udp_bind import UdpEcho

MIB = 1 << 20


def set_users(proxy, extra):
    """Writes the test users plus `extra` (name, password, options) lines and
    reloads; waits until the proxy logged the reload."""
    lines = list(harness.user_lines())
    for name, password, options in extra:
        line = harness.hash_user(name, password)
        lines.append(line + (":" + options if options else ""))
    with open(proxy.users, "w") as f:
        f.write("\n".join(lines) + "\n")
    harness.sighup_reload(proxy)


def login_ok(port, host, target_port, user, password=PASSWORD):
    """A CONNECT through the proxy; the open socket when it relays, else None."""
    s, rep = socks_connect(port, host, target_port, user=user, password=password)
    if rep == 0 and echo_works(s):
        return s
    s.close()
    return None


def closed_at_once(port, host="127.0.0.1"):
    """True when the proxy closes a new connection without answering its
    greeting (a client refused at accept)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((host, port))
    try:
        s.sendall(greeting())
        return s.recv(2) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


# -- bandwidth: a target that sends without end, one that counts what it gets --

class Firehose(socketserver.BaseRequestHandler):
    def handle(self):
        chunk = b"x" * 65536
        try:
            while True:
                self.request.sendall(chunk)
        except OSError:
            pass


class Sink(socketserver.BaseRequestHandler):
    received = {}
    lock = threading.Lock()

    def handle(self):
        key = self.request.getpeername()
        while True:
            try:
                data = self.request.recv(262144)
            except OSError:
                break
            if not data:
                break
            with Sink.lock:
                Sink.received[key] = Sink.received.get(key, 0) + len(data)


def socks_socket(proxy_port, user):
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, "127.0.0.1", proxy_port, username=user, password=PASSWORD)
    s.settimeout(20)
    return s


def download(proxy_port, user, target_port, conns, seconds, out, key):
    """Reads from `conns` tunnels of `user` for `seconds`; adds the bytes."""
    socks_ = []
    for _ in range(conns):
        s = socks_socket(proxy_port, user)
        s.connect(("127.0.0.1", target_port))
        socks_.append(s)
    total = [0]
    lock = threading.Lock()

    def reader(s):
        end = time.monotonic() + seconds
        n = 0
        s.settimeout(0.5)
        while time.monotonic() < end:
            try:
                data = s.recv(262144)
            except socket.timeout:
                continue
            if not data:
                break
            n += len(data)
        with lock:
            total[0] += n

    threads = [threading.Thread(target=reader, args=(s,)) for s in socks_]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks_:
        s.close()
    out[key] = total[0]


def upload(proxy_port, user, target_port, seconds, out, key):
    """Writes to one tunnel of `user` for `seconds`; the sink counts."""
    s = socks_socket(proxy_port, user)
    s.connect(("127.0.0.1", target_port))
    s.settimeout(0.5)
    chunk = b"y" * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.send(chunk)
        except socket.timeout:
            pass
    # What reached the target within the window (the sink sees the proxy's
    # side of the tunnel, so sum over every connection of this run).
    with Sink.lock:
        got = sum(Sink.received.values())
    s.close()
    out[key] = got


USERS = [("few", "few", "sessions=1"),
         ("rater", "rater", "sessions=0,rate=5"),
         ("intern", "intern", "group=interns,group=staff"),
         ("free", "free", "sessions=0")]


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.port = start_server(harness.EchoHandler)
        cls.other, cls.other_port = start_server(harness.EchoHandler)
        rules = ("[rules]\n"
                 f"rule = block group=interns port={cls.other_port}\n")
        cls.udp_port = harness.free_udp_port()
        cls.proxy = Proxy(extra_server=rules + "[limits]\nuser_sessions = 3\n"
                          "per_user_metrics = on\n",
                          admin=(f"transport = udp\nudp_port = {cls.udp_port}\n"
                                 "spcp_listen = off\nmanager_listen = 127.0.0.1:9091\n"),
                          prometheus="listen = 127.0.0.1:0\n")
        set_users(cls.proxy, USERS)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        stop_server(cls.echo)
        stop_server(cls.other)

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def open_tunnels(self, user, n, password=None):
        out = []
        for _ in range(n):
            s = login_ok(self.proxy.port, "127.0.0.1", self.port, user,
                         password or user)
            if s is None:
                break
            out.append(s)
        return out

    def test_user_sessions_default_hit_exactly(self):
        tunnels = self.open_tunnels(USER, 3, PASSWORD)
        self.assertEqual(len(tunnels), 3)
        # The fourth is refused (RFC 1929 failure), the three keep working.
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.port)
        self.assertIsNone(rep)
        s.close()
        for t in tunnels:
            self.assertTrue(echo_works(t))
        # Once one closes, its place is free at once.
        tunnels.pop().close()
        deadline = time.time() + 2
        again = None
        while again is None and time.time() < deadline:
            again = login_ok(self.proxy.port, "127.0.0.1", self.port, USER, PASSWORD)
            if again is None:
                time.sleep(0.05)
        self.assertIsNotNone(again)
        tunnels.append(again)
        for t in tunnels:
            t.close()
        lines = self.proxy.wait_access_lines(1)
        self.assertTrue(any("user-sessions" in l for l in lines), "\n".join(lines))
        text = scrape(self.proxy.metrics_port)
        self.assertGreaterEqual(
            metric(text, 'socks5_proxy_logins_limited_total{limit="sessions"}'), 1)

    def test_user_override_and_no_limit(self):
        # `few` has sessions=1 over the default 3; `free` has none at all.
        tunnels = self.open_tunnels("few", 2)
        self.assertEqual(len(tunnels), 1)
        # per_user_metrics = on: the user's own series.
        text = scrape(self.proxy.metrics_port)
        self.assertEqual(metric(text, 'socks5_proxy_user_connections_active{user="few"}'), 1)
        self.assertGreaterEqual(
            metric(text, 'socks5_proxy_user_logins_limited_total{user="few",limit="sessions"}'), 1)
        self.assertGreaterEqual(
            metric(text, 'socks5_proxy_user_relayed_bytes_total{user="few",direction="up"}'), 4)
        for t in tunnels:
            t.close()
        tunnels = self.open_tunnels("free", 6)
        self.assertEqual(len(tunnels), 6)
        for t in tunnels:
            t.close()

    def ctl(self, *args):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        return subprocess.run([os.environ.get("PROXYCTL_BIN", ""), "--udp-port",
                               str(self.udp_port), *args],
                              capture_output=True, text=True, env=env, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_users_stats_over_the_admin_plane(self):
        tunnels = self.open_tunnels("few", 1)
        self.assertEqual(len(tunnels), 1)
        tunnels[0].sendall(b"x" * 1000)
        self.assertEqual(recv_exact(tunnels[0], 1000), b"x" * 1000)
        self.assertEqual(self.open_tunnels("few", 1), [])  # refused: sessions=1
        out = self.ctl("--json", "users", "stats", "few")
        self.assertEqual(out.returncode, 0, out.stderr)
        stats = json.loads(out.stdout)
        self.assertEqual(len(stats), 1)
        few = stats[0]
        self.assertEqual(few["user"], "few")
        self.assertEqual(few["open"], 1)
        self.assertEqual(few["max_sessions"], 1)
        self.assertGreaterEqual(few["bytes_up"], 1000)
        self.assertGreaterEqual(few["bytes_down"], 1000)
        self.assertGreaterEqual(few["refused_sessions"], 1)
        # Every user, as text; an unknown one is an error.
        out = self.ctl("users", "stats")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("rater:", out.stdout)
        self.assertIn("few: open 1", out.stdout)
        out = self.ctl("users", "stats", "nobody")
        self.assertNotEqual(out.returncode, 0)
        tunnels[0].close()

    def test_user_connect_rate(self):
        # rate=5: five new sessions pass at once, the sixth does not, and
        # a token comes back every 200 ms.
        tunnels = self.open_tunnels("rater", 7)
        self.assertEqual(len(tunnels), 5)
        for t in tunnels:
            t.close()
        time.sleep(0.45)
        tunnels = self.open_tunnels("rater", 3)
        self.assertEqual(len(tunnels), 2)
        for t in tunnels:
            t.close()
        text = scrape(self.proxy.metrics_port)
        self.assertGreaterEqual(
            metric(text, 'socks5_proxy_logins_limited_total{limit="connect_rate"}'), 2)

    def test_rules_by_group(self):
        # `intern` is in group interns: blocked from other_port (REP 0x02),
        # allowed elsewhere; demo (no group) passes everywhere.
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.other_port,
                               user="intern", password="intern")
        self.assertEqual(rep, 2)
        s.close()
        s = login_ok(self.proxy.port, "127.0.0.1", self.port, "intern", "intern")
        self.assertIsNotNone(s)
        s.close()
        s = login_ok(self.proxy.port, "127.0.0.1", self.other_port, "free", "free")
        self.assertIsNotNone(s)
        s.close()

    def test_udp_over_a_users_bandwidth_is_dropped(self):
        # `udpslow` may send 64 KiB/s (a bucket 16 KiB deep): of 40 datagrams
        # of 8 KiB sent at once, two or three get through, the rest are
        # dropped and counted; later, with the bucket refilled, one passes.
        echo = UdpEcho()
        try:
            set_users(self.proxy, USERS + [("udpslow", "udpslow", "sessions=0,up=64K")])
            s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
            s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port,
                        username="udpslow", password="udpslow")
            s.settimeout(1)
            for _ in range(40):
                s.sendto(b"u" * 8192, ("127.0.0.1", echo.port))
            time.sleep(0.5)
            self.assertGreaterEqual(echo.count, 1)
            self.assertLessEqual(echo.count, 3)
            before = echo.count
            s.settimeout(0.2)
            replies = 0
            try:
                while True:
                    s.recvfrom(65535)
                    replies += 1
            except socket.timeout:
                pass
            self.assertEqual(replies, before)  # the way back is not limited
            s.settimeout(2)
            time.sleep(0.3)
            s.sendto(b"u" * 8192, ("127.0.0.1", echo.port))
            data, _ = s.recvfrom(65535)
            self.assertEqual(len(data), 8192)
            self.assertEqual(echo.count, before + 1)
            s.close()
        finally:
            echo.stop()
            set_users(self.proxy, USERS)

    def test_reload_changes_limits_and_keeps_tunnels(self):
        tunnels = self.open_tunnels("free", 2)
        self.assertEqual(len(tunnels), 2)
        # free: sessions=1 from now on; its two tunnels stay, a third login
        # is refused; a broken users file changes nothing.
        set_users(self.proxy, USERS[:3] + [("free", "free", "sessions=1")])
        for t in tunnels:
            self.assertTrue(echo_works(t))
        self.assertEqual(self.open_tunnels("free", 1), [])
        with open(self.proxy.users, "a") as f:
            f.write("broken:socks:$y$x:sessions=many\n")
        self.proxy.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertRegex(self.proxy.log_text(), r"users\.txt:\d+:")
        for t in tunnels:
            self.assertTrue(echo_works(t))
            t.close()
        set_users(self.proxy, USERS)


class SourceLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.port = start_server(harness.EchoHandler)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.echo)

    def test_source_sessions_hit_exactly(self):
        proxy = Proxy(extra_server="[limits]\nsource_sessions = 4\n",
                      prometheus="listen = 127.0.0.1:0\n")
        try:
            held = []
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
                s.sendall(greeting())
                self.assertEqual(recv_exact(s, 2), b"\x05\x02")
                held.append(s)
            self.assertTrue(closed_at_once(proxy.port))
            # Another address (::1) has its own count.
            s6 = socket.create_connection(("::1", proxy.port6), timeout=5)
            s6.sendall(greeting())
            self.assertEqual(recv_exact(s6, 2), b"\x05\x02")
            s6.close()
            held.pop().close()
            deadline = time.time() + 2
            ok = False
            while not ok and time.time() < deadline:
                ok = not closed_at_once(proxy.port)
                if not ok:
                    time.sleep(0.05)
            self.assertTrue(ok)
            for s in held:
                s.close()
            # The refusal reaches the metrics actor by message: it may
            # arrive a moment after the client saw the close.
            name = 'socks5_proxy_connections_rejected_total{reason="source_sessions"}'
            deadline = time.time() + 5
            while ((metric(scrape(proxy.metrics_port), name) or 0) < 1
                   or "source_sessions limit reached" not in proxy.log_text()) \
                    and time.time() < deadline:
                time.sleep(0.05)
            text = scrape(proxy.metrics_port)
            self.assertGreaterEqual(metric(text, name) or 0, 1)
            self.assertIn("source_sessions limit reached", proxy.log_text())
            self.assertTrue(any("result=source-sessions" in l
                                for l in proxy.wait_access_lines(1)))
            # Off by default: no series per user.
            self.assertNotIn("socks5_proxy_user_", text)
        finally:
            proxy.cleanup()

    def test_source_connect_rate(self):
        proxy = Proxy(extra_server="[limits]\nsource_connect_rate = 5\n")
        try:
            refused = [closed_at_once(proxy.port) for _ in range(6)]
            self.assertEqual(refused, [False] * 5 + [True])
            time.sleep(0.25)
            self.assertFalse(closed_at_once(proxy.port))
            self.assertIn("source_connect_rate limit reached", proxy.log_text())
            lines = proxy.wait_access_lines(1)
            self.assertTrue(any("client=127.0.0.1" in l and "result=source-rate" in l
                                for l in lines), "\n".join(lines))
        finally:
            proxy.cleanup()


class BandwidthTest(unittest.TestCase):
    """1 MiB/s per user, measured over 10 s: one connection and four of the
    same user, splice on and off, both directions; all at once (each user
    has its own bucket; 1 MiB/s costs no CPU worth noting)."""

    SECONDS = 10

    def test_per_user_bandwidth(self):
        fire, fire_port = start_server(Firehose)
        sink, sink_port = start_server(Sink)
        proxies = {}
        try:
            for splice in ("on", "off"):
                p = Proxy(extra_server=f"splice = {splice}\n")
                set_users(p, [("one", PASSWORD, "down=1M,up=1M"),
                              ("four", PASSWORD, "down=1M")])
                proxies[splice] = p
            out = {}
            threads = []
            for splice, p in proxies.items():
                threads.append(threading.Thread(target=download, args=(
                    p.port, "one", fire_port, 1, self.SECONDS, out, ("down1", splice))))
                threads.append(threading.Thread(target=download, args=(
                    p.port, "four", fire_port, 4, self.SECONDS, out, ("down4", splice))))
            threads.append(threading.Thread(target=upload, args=(
                proxies["on"].port, "one", sink_port, self.SECONDS, out, ("up1", "on"))))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            expected = self.SECONDS * MIB
            for key, got in sorted(out.items()):
                rate = got / self.SECONDS / MIB
                print(f"{key}: {got} bytes in {self.SECONDS} s = {rate:.3f} MiB/s")
                self.assertGreaterEqual(got, 0.85 * expected, key)
                self.assertLessEqual(got, 1.15 * expected, key)
        finally:
            for p in proxies.values():
                p.cleanup()
            stop_server(fire)
            stop_server(sink)


if __name__ == "__main__":
    unittest.main()
