"""What an attacker and a careless admin do to the proxy (issue 12): each
test reproduces an attack on loopback against the real binary."""

import os
import socket
import struct
import subprocess
import time
import unittest

import harness
from test_udp_bind import UdpEcho, udp_header


class LogForgingTest(unittest.TestCase):
    def setUp(self):
        self.proxy = harness.Proxy()

    def tearDown(self):
        self.proxy.cleanup()

    def test_network_strings_cannot_forge_log_lines(self):
        forged = "2031-01-01T00:00:00.000Z ERROR forged line"
        user = "x\n" + forged + "\x1b[31m\r"
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10)
        s.sendall(harness.greeting())
        self.assertEqual(harness.recv_exact(s, 2), b"\x05\x02")
        s.sendall(harness.auth(user, "wrong"))
        self.assertEqual(harness.recv_exact(s, 2), b"\x01\x01")
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline and "auth failed" not in self.proxy.log_text():
            time.sleep(0.02)
        text = self.proxy.log_text()
        self.assertIn("auth failed", text)
        for line in text.splitlines():
            self.assertFalse(line.startswith(forged[:24]), line)
        self.assertNotIn("\x1b", text)
        self.assertNotIn("\r", text)
        # The bytes are still there, escaped.
        self.assertIn("x\\x0a" + forged + "\\x1b[31m\\x0d", text)


class DenyBypassTest(unittest.TestCase):
    """deny_destination = 127.0.0.0/8 and ::1/128 must hold against every
    spelling of the local host that Linux connects to it."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = harness.Proxy(extra_socks="deny_destination = 127.0.0.0/8\n"
                                              "deny_destination = ::1/128\n")
        cls.echo4, cls.port4 = harness.start_server(harness.EchoHandler)
        cls.echo6, cls.port6 = harness.start_server(harness.EchoHandler, v6=True)
        cls.udp = UdpEcho()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        harness.stop_server(cls.echo4)
        harness.stop_server(cls.echo6)
        cls.udp.stop()

    def assert_denied(self, host, port):
        s, rep = harness.socks_connect(self.proxy.port, host, port)
        s.close()
        self.assertEqual(rep, 0x02, host)

    def test_unspecified_and_mapped_addresses_are_local(self):
        self.assert_denied("0.0.0.0", self.port4)
        self.assert_denied("::", self.port6)
        self.assert_denied("::ffff:127.0.0.1", self.port4)
        self.assert_denied("::ffff:0.0.0.0", self.port4)

    def test_a_name_for_the_unspecified_address_is_local(self):
        # As a domain (ATYP 3): resolved, then checked.
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        name = b"0.0.0.0"
        ctl.sendall(harness.greeting() + harness.auth() + b"\x05\x01\x00\x03"
                    + bytes([len(name)]) + name + struct.pack(">H", self.port4))
        self.assertEqual(harness.recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        rep = harness.read_reply(ctl)
        ctl.close()
        self.assertEqual(rep[0], 0x02)

    def test_udp_to_the_unspecified_address_is_dropped(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(1)
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        ctl.sendall(harness.greeting() + harness.auth() + b"\x05\x03\x00\x01\x7f\x00\x00\x01"
                    + struct.pack(">H", u.getsockname()[1]))
        self.assertEqual(harness.recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        rep = harness.read_reply(ctl)
        self.assertEqual(rep[0], 0)
        relay = (socket.inet_ntop(socket.AF_INET, rep[1][:4]),
                 struct.unpack(">H", rep[1][4:])[0])
        before = self.udp.count
        for host in ("0.0.0.0", "127.0.0.1", "::ffff:127.0.0.1"):
            u.sendto(udp_header(host, self.udp.port) + b"x", relay)
        time.sleep(0.5)
        self.assertEqual(self.udp.count, before)
        u.close()
        ctl.close()


def processes_running(marker):
    """Pids of processes whose command line contains `marker`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd and "python" not in cmd:
            pids.append(int(pid))
    return pids


def open_targets(pid):
    """What each open descriptor of `pid` refers to."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass  # closed meanwhile
    return out


class TransformFilterTest(unittest.TestCase):
    """A transformation filter gets fds 0-2 only and dies whole, with
    whatever it forked, when its connection ends."""

    @classmethod
    def setUpClass(cls):
        cls.http, cls.http_port = harness.start_server(harness.HttpHandler)
        cls.udp_port = harness.free_udp_port()
        cls.spcp_port = harness.free_udp_port()  # any number: usrsctp's own space
        cls.proxy = harness.Proxy(admin=f"transport = udp\nudp_port = {cls.udp_port}\n"
                                        f"spcp_listen = 127.0.0.1:{cls.spcp_port}\n")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        harness.stop_server(cls.http)

    def ctl(self, *args):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        return subprocess.run([os.environ.get("PROXYCTL_BIN", ""), "--udp-port",
                               str(self.udp_port), "--port", str(self.spcp_port),
                               "--user", "admin",
                               *args], capture_output=True, text=True, env=env, timeout=30)

    def test_filters_leave_no_orphans_and_no_descriptors(self):
        marker = "sleep 98765"
        for cmd in (marker + "; cat", "cat | " + marker, marker):
            r = self.ctl("transform", "set", cmd)
            self.assertEqual(r.returncode, 0, r.stderr)
            s, rep = harness.socks_connect(self.proxy.port, "127.0.0.1", self.http_port)
            self.assertEqual(rep, 0)
            s.sendall(b"GET /100 HTTP/1.0\r\n\r\n")
            deadline = time.time() + 5
            while time.time() < deadline and not processes_running(marker):
                time.sleep(0.05)
            pids = processes_running(marker)
            self.assertTrue(pids, cmd)
            theirs = set(open_targets(self.proxy.proc.pid).values())
            for pid in pids:
                # Nothing of the proxy's beyond fds 0-2: no socket, no epoll
                # or eventfd, no file the proxy holds (the access log). The
                # filter's own pipeline pipes and the libraries its loader is
                # opening may show up.
                for fd, target in open_targets(pid).items():
                    self.assertFalse(target.startswith(("socket:", "anon_inode:")),
                                     f"{cmd}: fd {fd} -> {target}")
                    if fd > 2 and not target.startswith("pipe:"):
                        self.assertNotIn(target, theirs, f"{cmd}: fd {fd} -> {target}")
            # A reset: the connection ends now (a plain close would leave
            # the filter its drain time to finish the output).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            deadline = time.time() + 5
            while time.time() < deadline and processes_running(marker):
                time.sleep(0.05)
            self.assertEqual(processes_running(marker), [], cmd)
        self.assertEqual(self.ctl("transform", "off").returncode, 0)


class CheckTest(unittest.TestCase):
    """`proxy --check` says what a start would find wrong."""

    def check(self, text):
        d = __import__("tempfile").mkdtemp(prefix="proxy-check-")
        path = os.path.join(d, "p.ini")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([harness.PROXY_BIN, "--config", path, "--check"],
                           capture_output=True, text=True, timeout=10)
        __import__("shutil").rmtree(d, ignore_errors=True)
        return r

    def test_an_access_log_that_cannot_be_opened_fails_the_check(self):
        r = self.check("[socks]\nlisten = 127.0.0.1:1080\nauth = none\n"
                       "[server]\naccess_log = /nonexistent/dir/access.log\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/dir/access.log: cannot open access log", r.stderr)

    def test_a_directory_as_users_file_fails_the_check(self):
        r = self.check("[socks]\nlisten = 127.0.0.1:1080\nusers_file = /tmp\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/tmp: cannot open users file: not a regular file", r.stderr)

    def test_a_huge_line_is_not_echoed_whole(self):
        r = self.check("[socks]\nlisten = 127.0.0.1:1080\nauth = none\nmax_clients = "
                       + "9\x01" * 500000 + "\n")
        self.assertEqual(r.returncode, 1)
        self.assertLess(len(r.stderr), 300)
        self.assertNotIn("\x01", r.stderr)


if __name__ == "__main__":
    unittest.main()
