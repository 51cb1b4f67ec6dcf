"""Integration tests of UDP ASSOCIATE through parent proxies ([upstream]):
our UDP relay talks to the parent's relay. Parents: a second instance of
ours (without and with credentials, selected by default, by a rule and
by a user), Dante (without credentials, and with a system user when the
test runs as root), a group whose first parent is down, microsocks (which
has no UDP) before ours, an HTTP parent (which cannot carry UDP), and a
scripted parent that checks what we tell it and then ends the
association. Every target is on loopback."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import (PASSWORD, USER, Proxy, auth, closed_port, echo_works, free_port,
                     greeting, wait_port,
                     read_reply, recv_exact, socks_connect, start_server, stop_server)
from test_udp_bind import UdpEcho, udp_header

DANTE_USER, DANTE_PASS = "pxdante", "d4nte-S3cret"


def associate(port, user=USER, password=PASSWORD):
    """Opens a UDP association at our proxy on `port`; returns (control
    socket, REP, relay address or None)."""
    ctl = socket.create_connection(("127.0.0.1", port), 5)
    ctl.sendall(greeting() + auth(user, password)
                + b"\x05\x03\x00\x01\x7f\x00\x00\x01\x00\x00")
    assert recv_exact(ctl, 4) == b"\x05\x02\x01\x00"
    rep = read_reply(ctl)
    if rep is None or rep[0] != 0:
        return ctl, (rep[0] if rep else None), None
    relay = (socket.inet_ntop(socket.AF_INET, rep[1][:4]),
             struct.unpack(">H", rep[1][4:])[0])
    return ctl, 0, relay


def udp_client():
    """A UDP socket on loopback with a 3 s timeout."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(3)
    return u


def parse_header(data):
    """(host, port, payload) of a datagram with a SOCKS5 UDP header."""
    atyp = data[3]
    if atyp == 1:
        host, rest = socket.inet_ntop(socket.AF_INET, data[4:8]), data[8:]
    elif atyp == 4:
        host, rest = socket.inet_ntop(socket.AF_INET6, data[4:20]), data[20:]
    else:
        n = data[4]
        host, rest = data[5:5 + n].decode(), data[5 + n:]
    return host, struct.unpack(">H", rest[:2])[0], rest[2:]


class ScriptedParent:
    """A SOCKS5 parent that answers one UDP ASSOCIATE with a relay of its
    own (0.0.0.0 as BND.ADDR), echoes what reaches that relay, records the
    DST we named and where datagrams came from, and closes the control
    connection when told to."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.relay.bind(("127.0.0.1", 0))
        self.relay.settimeout(0.2)
        self.named = None
        self.sources = []
        self.end = threading.Event()
        self.running = True
        threading.Thread(target=self.serve, daemon=True).start()
        threading.Thread(target=self.echo, daemon=True).start()

    def serve(self):
        c, _ = self.listener.accept()
        with c:
            c.settimeout(5)
            recv_exact(c, 2)
            n = c.recv(1)
            recv_exact(c, n[0])
            c.sendall(b"\x05\x00")
            head = recv_exact(c, 10)  # VER CMD RSV ATYP=1 IPv4 PORT
            self.named = (socket.inet_ntop(socket.AF_INET, head[4:8]),
                          struct.unpack(">H", head[8:10])[0], head[1])
            c.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00"
                      + struct.pack(">H", self.relay.getsockname()[1]))
            self.end.wait(30)

    def echo(self):
        while self.running:
            try:
                data, src = self.relay.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.sources.append(src)
            self.relay.sendto(data, src)  # header and all: "from" the target

    def close(self):
        self.running = False
        self.end.set()
        self.listener.close()
        self.relay.close()


class UpstreamUdpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="upstream-udp-it-")
        cls.procs = []
        cls.proxies = []
        cls.echo = UdpEcho()
        cls.p_open = cls.own(Proxy(extra_socks="auth = none\n", listen6=False))
        cls.p_auth = cls.own(Proxy(listen6=False))
        cls.dante_port = cls.start_dante("none", None)
        cls.dante_user = None
        if os.geteuid() == 0 and shutil.which("useradd") and shutil.which("chpasswd"):
            cls.dante_user = cls.start_dante("username", DANTE_USER)
        cls.micro_port = free_port()
        p = subprocess.Popen(["/usr/bin/microsocks", "-i", "127.0.0.1", "-p",
                              str(cls.micro_port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(p)
        wait_port(cls.micro_port, p)

    @classmethod
    def own(cls, proxy):
        cls.proxies.append(proxy)
        return proxy

    @classmethod
    def start_dante(cls, method, user):
        if user is not None:
            subprocess.run(["userdel", user], capture_output=True)
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", user],
                           check=True, capture_output=True)
            subprocess.run(["chpasswd"], input=f"{user}:{DANTE_PASS}\n", text=True,
                           check=True, capture_output=True)
        p, port = harness.start_dante(cls.dir, method)
        cls.procs.append(p)
        return port

    @classmethod
    def tearDownClass(cls):
        harness.stop_procs(cls.procs)
        if cls.dante_user is not None:
            subprocess.run(["userdel", DANTE_USER], capture_output=True)
        for pr in cls.proxies:
            pr.cleanup()
        cls.echo.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def proxy_via(self, upstream, extra="", users=""):
        """Our proxy with `upstream` lines (and `extra` sections)."""
        pr = Proxy(listen6=False, extra_server="\n[upstream]\n" + upstream + extra)
        self.own(pr)
        if users:
            with open(pr.users, "a") as f:
                f.write(users)
            pr.restart()
        return pr

    def round_trip(self, pr, host="127.0.0.1", n=20, user=USER, password=PASSWORD):
        """Datagrams through `pr` to the echo target (by address or name):
        each comes back whole, with a header naming the target."""
        ctl, rep, relay = associate(pr.port, user, password)
        with ctl:
            self.assertEqual(rep, 0, pr.log_text())
            with udp_client() as u:
                for i in range(n):
                    payload = b"through a parent %03d" % i
                    u.sendto(udp_header(host, self.echo.port) + payload, relay)
                    data, src = u.recvfrom(65535)
                    self.assertEqual(src, relay)
                    rhost, rport, body = parse_header(data)
                    self.assertEqual(body, payload)
                    self.assertEqual(rport, self.echo.port)
                    self.assertEqual(rhost, "127.0.0.1")

    def access_line_with(self, pr, text, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in pr.access_text().splitlines():
                if text in line:
                    return line
            time.sleep(0.05)
        return ""

    def test_through_ours_without_and_with_credentials(self):
        pr = self.proxy_via(f"parent = p socks5://127.0.0.1:{self.p_open.port}\n"
                            "default = p\n")
        before = self.echo.count
        self.round_trip(pr)
        self.round_trip(pr, host="localhost")  # a name: the parent resolves it
        self.assertGreaterEqual(self.echo.count - before, 40)
        self.assertTrue(self.access_line_with(pr, f"via p (127.0.0.1:{self.p_open.port})"),
                        pr.access_text())
        pa = self.proxy_via(
            f"parent = a socks5://{USER}:{PASSWORD}@127.0.0.1:{self.p_auth.port}\n"
            "default = a\n")
        self.round_trip(pa)
        # The parent saw our login on an association it relayed.
        self.assertTrue(self.access_line_with(self.p_auth, USER), self.p_auth.access_text())
        # A parent by name (localhost: ::1 refuses, 127.0.0.1 answers): our
        # relay talks to the address that answered.
        pn = self.proxy_via(f"parent = n socks5://localhost:{self.p_open.port}\ndefault = n\n")
        self.round_trip(pn, n=3)
        self.assertTrue(self.access_line_with(pn, f"via n (127.0.0.1:{self.p_open.port})"),
                        pn.access_text())

    def test_through_dante(self):
        pr = self.proxy_via(f"parent = d socks5://127.0.0.1:{self.dante_port}\ndefault = d\n")
        self.round_trip(pr)
        self.assertTrue(self.access_line_with(pr, f"via d (127.0.0.1:{self.dante_port})"),
                        pr.access_text())

    def test_through_dante_with_credentials(self):
        if self.dante_user is None:
            self.skipTest("needs root to create Dante's system user")
        pr = self.proxy_via(f"parent = d socks5://{DANTE_USER}:{DANTE_PASS}@127.0.0.1:"
                            f"{self.dante_user}\ndefault = d\n")
        self.round_trip(pr)
        self.assertTrue(self.access_line_with(pr, f"via d (127.0.0.1:{self.dante_user})"),
                        pr.access_text())
        # CONNECT through the same authenticating Dante.
        srv, port = start_server(harness.EchoHandler)
        self.addCleanup(stop_server, srv)
        s, rep = socks_connect(pr.port, "127.0.0.1", port)
        with s:
            self.assertEqual(rep, 0, pr.log_text())
            self.assertTrue(echo_works(s))
        bad = self.proxy_via(f"parent = d socks5://{DANTE_USER}:wrong@127.0.0.1:"
                             f"{self.dante_user}\ndefault = d\n")
        ctl, rep, _ = associate(bad.port)
        ctl.close()
        self.assertEqual(rep, 0x01)  # the parent refused us: a failure of ours
        s, rep = socks_connect(bad.port, "127.0.0.1", port)
        s.close()
        self.assertEqual(rep, 0x01)
        self.assertNotIn("wrong", bad.log_text())

    def test_rule_and_user_select_the_parent(self):
        pr = self.proxy_via(
            f"parent = a socks5://{USER}:{PASSWORD}@127.0.0.1:{self.p_auth.port}\n",
            extra="\n[rules]\nrule = pass user=udpuser command=udp via=a\nrule = pass\n",
            users=harness.hash_user("udpuser", "udppass") + "\n"
            + harness.hash_user("viauser", "viapass") + ":via=a\n")
        seen = len(self.p_auth.access_text().splitlines())
        self.round_trip(pr, user="udpuser", password="udppass", n=3)
        self.round_trip(pr, user="viauser", password="viapass", n=3)
        self.round_trip(pr, n=3)  # no rule, no via: direct
        deadline = time.time() + 5
        while time.time() < deadline:
            if len(pr.access_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        lines = pr.access_text().splitlines()
        self.assertEqual(len(lines), 3, "\n".join(lines))
        self.assertEqual(sum(" via a " in l for l in lines), 2, "\n".join(lines))
        # The parent relayed two associations for us.
        self.assertGreaterEqual(len(self.p_auth.access_text().splitlines()), seen + 2)

    def test_group_fails_over_past_a_down_parent_and_microsocks(self):
        pr = self.proxy_via(
            f"parent = down socks5://127.0.0.1:{closed_port()}\n"
            f"parent = micro socks5://127.0.0.1:{self.micro_port}\n"
            f"parent = ours socks5://127.0.0.1:{self.p_open.port}\n"
            "group = g down,micro,ours\ndefault = g\n")
        self.round_trip(pr, n=5)
        self.assertTrue(self.access_line_with(pr, "via ours"), pr.access_text())
        log = pr.log_text()
        self.assertIn("parent 'down'", log)
        self.assertIn("parent 'micro'", log)

    def test_a_parent_that_cannot_carry_udp_is_told_as_such(self):
        pr = self.proxy_via(f"parent = h http://127.0.0.1:{closed_port()}\ndefault = h\n")
        ctl, rep, _ = associate(pr.port)
        ctl.close()
        self.assertEqual(rep, 0x07)  # command not supported
        pm = self.proxy_via(f"parent = m socks5://127.0.0.1:{self.micro_port}\ndefault = m\n")
        ctl, rep, _ = associate(pm.port)
        ctl.close()
        self.assertIsNotNone(rep)
        self.assertNotEqual(rep, 0)

    def test_the_parent_is_told_our_source_and_its_end_ends_the_association(self):
        parent = ScriptedParent()
        self.addCleanup(parent.close)
        pr = self.proxy_via(f"parent = s socks5://127.0.0.1:{parent.port}\ndefault = s\n")
        ctl, rep, relay = associate(pr.port)
        with ctl:
            self.assertEqual(rep, 0, pr.log_text())
            with udp_client() as u:
                u.sendto(udp_header("192.0.2.7", 9) + b"ping", relay)
                data, _ = u.recvfrom(65535)
                self.assertEqual(parse_header(data), ("192.0.2.7", 9, b"ping"))
            # UDP ASSOCIATE (CMD 3) named the address our datagrams came from.
            self.assertEqual(parent.named[2], 3)
            self.assertEqual(parent.sources[0], parent.named[:2])
            parent.end.set()  # the parent ends its association: ours ends
            ctl.settimeout(5)
            self.assertEqual(ctl.recv(1), b"")  # EOF, not a timeout


if __name__ == "__main__":
    unittest.main()
