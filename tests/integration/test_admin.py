"""Integration tests of the SCTP admin plane: the real proxy and proxyctl over
SCTP-in-UDP (usrsctp), plus curl traffic through the SOCKS side."""

import os
import re
import socket
import subprocess
import threading
import time
import unittest

from harness import (PASSWORD, USER, HttpHandler, Proxy, closed_port, free_udp_port,
                     pattern, recv_exact, socks_connect, start_server, stop_server)

PROXYCTL = os.environ.get("PROXYCTL_BIN", "")


def eager_parent():
    """A SOCKS5 parent (no auth) that sends the target's first bytes in the
    same write as its CONNECT reply, then more, then closes: the listening
    socket and its thread."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with c:
                try:
                    recv_exact(c, 3)  # 05 01 00
                    c.sendall(b"\x05\x00")
                    head = recv_exact(c, 4)
                    recv_exact(c, {1: 4, 4: 16}.get(head[3], 0) + 2)
                    c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x01early bytes;")
                    time.sleep(0.2)
                    c.sendall(b"later bytes")
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return ls


class AdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http, cls.http_port = start_server(HttpHandler)
        cls.udp_port = free_udp_port()
        # CONNECTs to one port go through a parent that answers eagerly.
        cls.parent = eager_parent()
        cls.via_port = closed_port()
        cls.proxy = Proxy(admin=f"transport = udp\nudp_port = {cls.udp_port}\n"
                                "spcp_listen = 127.0.0.1:9090\n",
                          extra_server=(
                              "\n[upstream]\nparent = eager socks5://127.0.0.1:"
                              f"{cls.parent.getsockname()[1]}\n"
                              f"[rules]\nrule = pass port={cls.via_port} via=eager\n"
                              "rule = pass\n"))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        stop_server(cls.http)
        cls.parent.close()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def ctl(self, *args, password="admin", user="admin"):
        env = dict(os.environ, PROXYCTL_PASSWORD=password)
        return subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port),
                               "--user", user, *args],
                              capture_output=True, text=True, env=env, timeout=30)

    def curl(self, path="/12"):
        return subprocess.run(
            ["curl", "-sS", "--max-time", "15", "--socks5-hostname",
             f"{USER}:{PASSWORD}@127.0.0.1:{self.proxy.port}",
             f"http://127.0.0.1:{self.http_port}{path}"],
            capture_output=True, timeout=30)

    def value(self, name):
        r = self.ctl(name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout.strip())

    def test_log_says_which_transport(self):
        self.assertIn(f"SPCP listening on 127.0.0.1:9090 (SCTP over UDP port {self.udp_port})",
                      self.proxy.log_text())

    def test_metrics_move_after_curl_traffic(self):
        bytes0, acc0 = self.value("bytes"), self.value("accesses")
        r = self.curl("/50000")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + 3
        while time.time() < deadline and self.value("bytes") < bytes0 + 50000:
            time.sleep(0.1)
        self.assertGreaterEqual(self.value("bytes"), bytes0 + 50000)
        self.assertEqual(self.value("accesses"), acc0 + 1)
        r = self.ctl("--json", "metrics")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'^\{"connections": \d+, "bytes": \d+, "accesses": \d+\}$')

    def test_concurrent_connections_counts_open_tunnels(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(b"\x05\x01\x02\x01\x04demo\x04demo")
        s.recv(4)
        deadline = time.time() + 3
        while time.time() < deadline and self.value("connections") < 1:
            time.sleep(0.05)
        self.assertGreaterEqual(self.value("connections"), 1)
        s.close()
        deadline = time.time() + 3
        while time.time() < deadline and self.value("connections") != 0:
            time.sleep(0.05)
        self.assertEqual(self.value("connections"), 0)

    def test_transformation_changes_downloads_and_off_restores(self):
        r = self.ctl("transform", "set", "tr a-z A-Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ctl("transform").stdout.strip(), "tr a-z A-Z")
        r = self.curl("/1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(1000).upper())
        r = self.ctl("transform", "off")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ctl("transform").stdout.strip(), "(none)")
        r = self.curl("/1000")
        self.assertEqual(r.stdout, pattern(1000))

    def test_transformation_covers_what_a_parent_sends_with_its_reply(self):
        # The parent's first target bytes arrive in the read that holds its
        # reply: they too go through the filter.
        self.assertEqual(self.ctl("transform", "set", "tr a-z A-Z").returncode, 0)
        try:
            s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.via_port)
            with s:
                self.assertEqual(rep, 0, self.proxy.log_text())
                want = b"EARLY BYTES;LATER BYTES"
                self.assertEqual(recv_exact(s, len(want), 10), want)
        finally:
            self.assertEqual(self.ctl("transform", "off").returncode, 0)

    def test_failing_or_stalling_filter_ends_only_that_connection(self):
        for cmd in ("exit 3", "/nonexistent/program", "head -c 5"):
            self.assertEqual(self.ctl("transform", "set", cmd).returncode, 0)
            r = self.curl("/100000")
            self.assertNotEqual(r.stdout, pattern(100000))
        self.assertEqual(self.ctl("transform", "off").returncode, 0)
        r = self.curl("/100")
        self.assertEqual(r.stdout, pattern(100))
        # Every filter process was reaped: no zombie children remain.
        time.sleep(0.6)
        zombies = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == self.proxy.proc.pid:
                zombies.append(pid)
        self.assertEqual(zombies, [])

    def test_buffer_size(self):
        r = self.ctl("buffer-size", "2048")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("buffer size set to 2048", self.proxy.log_text())
        n = 3 * 1024 * 1024
        r = self.curl(f"/{n}")
        self.assertEqual(r.stdout, pattern(n))  # still intact with small buffers
        r = self.ctl("buffer-size", "10")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid arguments", r.stderr)
        self.assertEqual(self.ctl("buffer-size", "65536").returncode, 0)

    def test_wrong_password_and_wrong_role(self):
        r = self.ctl("check", password="nope")
        self.assertEqual(r.returncode, 3)
        self.assertIn("authentication", r.stderr)
        r = self.ctl("check", user=USER, password=PASSWORD)  # a SOCKS-only user
        self.assertEqual(r.returncode, 3)
        self.assertNotIn("nope", self.proxy.log_text())
        self.assertEqual(self.ctl("check").returncode, 0)

    def test_unreachable_proxy_is_a_transport_error(self):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        r = subprocess.run([PROXYCTL, "--udp-port", str(free_udp_port()),
                            "--timeout", "1000", "check"],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 4)

    def test_usage_errors(self):
        r = subprocess.run([PROXYCTL, "frobnicate"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([PROXYCTL, "--help"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("transform set CMD", r.stdout)


class AdminStartupTest(unittest.TestCase):
    def test_taken_udp_port_is_a_clear_startup_error(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("0.0.0.0", 0))
        port = blocker.getsockname()[1]
        try:
            with self.assertRaises(RuntimeError) as ctx:
                Proxy(admin=f"transport = udp\nudp_port = {port}\n")
            self.assertRegex(str(ctx.exception),
                             rf"admin plane: UDP port {port} for SCTP-over-UDP: Address already in use")
        finally:
            blocker.close()

    def test_kernel_transport_without_kernel_sctp_fails_clearly(self):
        probe = None
        try:
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
        except OSError:
            pass
        if probe:
            probe.close()
            self.skipTest("this kernel has SCTP")
        with self.assertRaises(RuntimeError) as ctx:
            Proxy(admin="transport = kernel\n")
        self.assertIn("admin plane: this kernel has no SCTP", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
