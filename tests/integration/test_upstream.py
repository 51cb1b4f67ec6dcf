"""Integration tests of parent proxies ([upstream]): our proxy chained
through a second instance of ours (without and with credentials), Dante,
microsocks (without and with credentials) and a small HTTP CONNECT proxy;
a group whose first parent is down failing over to the second; a parent's
refusal mapped to the right REP; per-rule and per-user `via`; credentials
never logged, `--check` hiding them. Every target is on loopback."""

import select
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import (PASSWORD, USER, Proxy, closed_port, echo_works, free_port, greeting,
                     auth, connect_request, read_reply, recv_exact, socks_connect,
                     start_server, stop_server, wait_port)

MICRO_PASS = "m1cr0-S3cret"
HTTP_PASS = "h77p-S3cret"
PARENT_USER, PARENT_PASS = "pu", "p4rent-S3cret"


def pipe(a, b):
    """Copies both ways until both sides are done."""
    socks = [a, b]
    try:
        while socks:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                return
            for s in r:
                other = b if s is a else a
                data = s.recv(65536)
                if not data:
                    socks.remove(s)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                else:
                    other.sendall(data)
    except OSError:
        pass


class HttpConnectHandler(socketserver.StreamRequestHandler):
    """CONNECT host:port HTTP/1.1; Basic credentials when the server has
    some; 403 for the server's forbidden port; 502 when the target refuses."""

    def handle(self):
        line = self.rfile.readline().decode()
        headers = {}
        while True:
            h = self.rfile.readline().decode()
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.server.requests.append((line, headers))
        method, target, _ = line.split(" ", 2)
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        want = self.server.credentials
        if want and headers.get("proxy-authorization") != "Basic " + want:
            self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            return
        if int(port) == self.server.forbidden:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        pipe(self.connection, up)
        up.close()


class UpstreamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="upstream-it-")
        cls.procs = []
        cls.servers = []
        # One echo target per route, so that a rule's port picks the parent.
        names = ["ours", "ours_auth", "dante", "micro", "micro_auth", "http",
                 "failover", "strict", "user", "direct", "slow"]
        cls.target = {}
        for n in names:
            srv, port = start_server(harness.EchoHandler)
            cls.servers.append(srv)
            cls.target[n] = port
        cls.blocked_port = closed_port()
        # Parents: two of ours, one with a rule that blocks.
        cls.p_open = Proxy(extra_socks="auth = none\n", listen6=False)
        cls.p_auth = Proxy(listen6=False)
        cls.p_strict = Proxy(extra_socks="auth = none\n", listen6=False,
                             extra_server="[rules]\nrule = block port="
                             f"{cls.target['strict']}\n")
        proc, cls.dante_port = harness.start_dante(cls.dir)
        cls.procs.append(proc)
        cls.micro_port = cls.start_micro([])
        cls.micro_auth_port = cls.start_micro(["-u", "mu", "-P", MICRO_PASS])
        cls.http = cls.start_http()
        # A parent that accepts (in the kernel's backlog) and never answers.
        cls.silent = socket.socket()
        cls.silent.bind(("127.0.0.1", 0))
        cls.silent.listen(16)
        t = cls.target
        rules = "\n[rules]\n" + "".join(
            f"rule = pass port={t[n]} via={n}\n"
            for n in ["ours", "ours_auth", "dante", "micro", "micro_auth", "http",
                      "failover", "strict", "slow"]) + \
            f"rule = pass port={t['direct']} via=direct\nrule = pass\n"
        upstream = (
            "\n[upstream]\n"
            f"parent = ours socks5://127.0.0.1:{cls.p_open.port}\n"
            f"parent = ours_auth socks5://{USER}:{PASSWORD}@127.0.0.1:{cls.p_auth.port}\n"
            f"parent = dante socks5://127.0.0.1:{cls.dante_port}\n"
            f"parent = micro socks5://127.0.0.1:{cls.micro_port}\n"
            f"parent = micro_auth socks5://mu:{MICRO_PASS}@127.0.0.1:{cls.micro_auth_port}\n"
            f"parent = http http://hu:{HTTP_PASS}@127.0.0.1:{cls.http.server_address[1]}\n"
            f"parent = down socks5://127.0.0.1:{closed_port()}\n"
            f"parent = strict socks5://127.0.0.1:{cls.p_strict.port}\n"
            "group = failover down,ours\n"
            f"parent = silent socks5://127.0.0.1:{cls.silent.getsockname()[1]}\n"
            "group = slow silent,ours\n")
        cls.proxy = Proxy(extra_server=rules + upstream, listen6=False)
        # A user whose CONNECTs go through our authenticating parent.
        with open(cls.proxy.users, "a") as f:
            f.write(harness.hash_user("viauser", "viapass") + ":via=ours_auth\n")
        cls.proxy.restart()

    @classmethod
    def start_micro(cls, args):
        port = free_port()
        p = subprocess.Popen(["/usr/bin/microsocks", "-i", "127.0.0.1", "-p", str(port)]
                             + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(p)
        wait_port(port, p)
        return port

    @classmethod
    def start_http(cls):
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HttpConnectHandler)
        srv.daemon_threads = True
        srv.requests = []
        import base64
        srv.credentials = base64.b64encode(f"hu:{HTTP_PASS}".encode()).decode()
        srv.forbidden = closed_port()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    @classmethod
    def tearDownClass(cls):
        harness.stop_procs(cls.procs)
        for pr in (cls.proxy, cls.p_open, cls.p_auth, cls.p_strict):
            pr.cleanup()
        cls.http.shutdown()
        cls.http.server_close()
        for s in cls.servers:
            stop_server(s)
        cls.silent.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def through(self, name, host="127.0.0.1", user=USER, password=PASSWORD):
        s, rep = socks_connect(self.proxy.port, host, self.target[name], user, password)
        with s:
            self.assertEqual(rep, 0, name)
            self.assertTrue(echo_works(s), name)
            s.sendall(b"x" * 100000)
            self.assertEqual(recv_exact(s, 100000, 10), b"x" * 100000)

    def access_line_for(self, port, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.proxy.access_text().splitlines():
                if f":{port} " in line or f":{port} via" in line:
                    return line
            time.sleep(0.05)
        return ""

    def assert_via(self, name, parent, parent_port):
        line = self.access_line_for(self.target[name])
        self.assertIn(f"via {parent} (127.0.0.1:{parent_port})", line)

    def test_our_proxy_without_and_with_credentials(self):
        self.through("ours")
        self.through("ours", host="localhost")  # a name: the parent resolves it
        self.assert_via("ours", "ours", self.p_open.port)
        self.through("ours_auth")
        self.assert_via("ours_auth", "ours_auth", self.p_auth.port)
        # The parent saw our login.
        self.assertTrue(any(USER in l for l in self.p_auth.wait_access_lines(1)))

    def test_dante(self):
        self.through("dante")
        self.assert_via("dante", "dante", self.dante_port)

    def test_microsocks_without_and_with_credentials(self):
        self.through("micro")
        self.assert_via("micro", "micro", self.micro_port)
        self.through("micro_auth")
        self.assert_via("micro_auth", "micro_auth", self.micro_auth_port)

    def test_http_connect_parent(self):
        self.through("http")
        self.assert_via("http", "http", self.http.server_address[1])
        line, headers = self.http.requests[-1]
        self.assertEqual(line, f"CONNECT 127.0.0.1:{self.target['http']} HTTP/1.1\r\n")
        self.assertTrue(headers["proxy-authorization"].startswith("Basic "))

    def test_group_fails_over_to_the_second_parent(self):
        self.through("failover")
        self.assert_via("failover", "ours", self.p_open.port)
        self.assertIn("parent 'down'", self.proxy.log_text())

    def test_a_silent_parent_gives_way_within_the_deadline(self):
        # connect_timeout = 3s: the silent parent gets half, ours the rest.
        start = time.time()
        self.through("slow")
        self.assertLess(time.time() - start, 3)
        self.assert_via("slow", "ours", self.p_open.port)
        self.assertIn("parent 'silent'", self.proxy.log_text())

    def raw_rep(self, port, host="127.0.0.1"):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10) as s:
            s.sendall(greeting())
            recv_exact(s, 2)
            s.sendall(auth())
            self.assertEqual(recv_exact(s, 2), b"\x01\x00")
            s.sendall(connect_request(host, port))
            rep = read_reply(s)
            return rep[0] if rep else None

    def test_parent_refusals_are_mapped(self):
        # Our parent's rule blocks the port: 0x02 from it, 0x02 from us.
        self.assertEqual(self.raw_rep(self.target["strict"]), 0x02)
        # Through a rule that routes a closed port via ours: its 0x05 is ours.
        self.assertEqual(self.via_rep("ours", closed_port()), 0x05)
        self.assertEqual(self.via_rep("dante", closed_port()), 0x05)
        # An HTTP parent's 403 is 0x02, its 502 (refused) 0x05.
        self.assertEqual(self.via_rep("http", self.http.forbidden), 0x02)
        self.assertEqual(self.via_rep("http", closed_port()), 0x05)

    def via_rep(self, parent, port):
        """The REP of a CONNECT to `port` by the user that goes through
        `parent` (a second proxy whose default is that parent)."""
        key = "default_" + parent
        if not hasattr(self, key):
            pr = self.proxy_with_default(parent)
            setattr(type(self), key, pr)
        pr = getattr(self, key)
        s, rep = socks_connect(pr.port, "127.0.0.1", port)
        s.close()
        return rep

    def proxy_with_default(self, parent):
        port = {"ours": self.p_open.port, "dante": self.dante_port,
                "http": self.http.server_address[1]}[parent]
        url = (f"http://hu:{HTTP_PASS}@127.0.0.1:{port}" if parent == "http"
               else f"socks5://127.0.0.1:{port}")
        pr = Proxy(listen6=False, extra_server=f"\n[upstream]\nparent = p {url}\ndefault = p\n")
        self.addClassCleanup(pr.cleanup)
        return pr

    def test_the_way_to_a_parent_leaves_from_the_outbound_address(self):
        # [outbound] address4 = 127.0.0.2: the parent (ours) sees the
        # connection come from there, and the tunnel works.
        port = self.p_open.port
        pr = Proxy(listen6=False,
                   extra_server=(f"\n[upstream]\nparent = p socks5://127.0.0.1:{port}\n"
                                 "default = p\n[outbound]\naddress4 = 127.0.0.2\n"))
        self.addClassCleanup(pr.cleanup)
        s, rep = socks_connect(pr.port, "127.0.0.1", self.target["ours"])
        self.assertEqual(rep, 0, pr.log_text())
        s.sendall(b"ping")
        self.assertEqual(recv_exact(s, 4), b"ping")
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline:
            if any("client=127.0.0.2:" in l for l in self.p_open.access_text().splitlines()):
                break
            time.sleep(0.05)
        self.assertTrue(any("client=127.0.0.2:" in l
                            for l in self.p_open.access_text().splitlines()),
                        self.p_open.access_text())

    def test_a_parent_by_name_is_looked_up_and_a_bad_name_fails_over(self):
        # localhost has ::1 and 127.0.0.1; the parent listens on the latter.
        port = self.p_open.port
        pr = Proxy(listen6=False,
                   extra_server=(f"\n[upstream]\nparent = nope socks5://no-such-parent.invalid:{port}\n"
                                 f"parent = byname socks5://localhost:{port}\n"
                                 "group = g nope,byname\ndefault = g\n"))
        self.addClassCleanup(pr.cleanup)
        s, rep = socks_connect(pr.port, "127.0.0.1", self.target["ours"])
        with s:
            self.assertEqual(rep, 0, pr.log_text())
            self.assertTrue(echo_works(s))
        self.assertIn("parent 'nope' (socks5://no-such-parent.invalid:", pr.log_text())
        deadline = time.time() + 5
        while f"via byname (127.0.0.1:{port})" not in pr.access_text():
            self.assertLess(time.time(), deadline, pr.access_text())
            time.sleep(0.05)
        # Only the bad name: a failure, logged without a made-up address.
        bad = Proxy(listen6=False,
                    extra_server=(f"\n[upstream]\nparent = nope socks5://no-such-parent.invalid:{port}\n"
                                  "default = nope\n"))
        self.addClassCleanup(bad.cleanup)
        s, rep = socks_connect(bad.port, "127.0.0.1", self.target["ours"])
        s.close()
        self.assertNotEqual(rep, 0)
        deadline = time.time() + 5
        while " via nope" not in bad.access_text():
            self.assertLess(time.time(), deadline, bad.access_text())
            time.sleep(0.05)
        self.assertNotIn("0.0.0.0", bad.access_text())

    def test_per_user_via(self):
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.target["user"],
                               "viauser", "viapass")
        with s:
            self.assertEqual(rep, 0)
            self.assertTrue(echo_works(s))
        self.assert_via("user", "ours_auth", self.p_auth.port)
        # The same target for a user without via: direct.
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.target["direct"])
        with s:
            self.assertEqual(rep, 0)
        line = self.access_line_for(self.target["direct"])
        self.assertNotIn(" via ", line)

    def test_credentials_never_logged_and_check_hides_them(self):
        self.through("micro_auth")
        self.through("http")
        for secret in (MICRO_PASS, HTTP_PASS):
            self.assertNotIn(secret, self.proxy.log_text())
            self.assertNotIn(secret, self.proxy.access_text())
        out = subprocess.run([harness.PROXY_BIN, "--config", self.proxy.config, "--check"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"socks5://mu:***@127.0.0.1:{self.micro_auth_port}", out.stdout)
        self.assertIn("http://hu:***@", out.stdout)
        self.assertNotIn(MICRO_PASS, out.stdout + out.stderr)
        self.assertNotIn(HTTP_PASS, out.stdout + out.stderr)

    def test_config_errors_name_the_line(self):
        base = ("[socks]\nlisten = 127.0.0.1:0\nauth = none\n"
                "[upstream]\nparent = a socks5://127.0.0.1:1\n")
        cases = [
            ("group = g a,b\n", ":6: key 'group': 'b' is not a parent"),
            ("default = nope\n", ":6: key 'default': via 'nope' names no parent"),
            ("parent = a socks5://127.0.0.1:2\n", ":6: key 'parent': 'a' is defined twice"),
            ("parent = b socks5://bad_name.example:1\n", ":6: key 'parent':"),
            ("[rules]\nrule = pass via=zz\n", ":7: key 'rule': via 'zz' names no parent"),
            ("[rules]\nrule = block via=a\n", ":7: key 'rule': only a pass rule"),
        ]
        for extra, want in cases:
            out = harness.run_proxy_config(base + extra)
            self.assertEqual(out.returncode, 1, extra)
            self.assertIn(want, out.stderr, extra)


if __name__ == "__main__":
    unittest.main()
