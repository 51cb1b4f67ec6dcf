"""Integration tests of the access rules ([rules]): curl, PySocks and raw
clients refused with REP 0x02 by port, name and network rules while others
pass; a name that resolves into a blocked network; a BIND peer and UDP
datagrams checked; the counters; reloads, also with a broken rules file."""

import re
import signal
import socket
import struct
import subprocess
import time
import unittest

import socks  # python3-socks (PySocks)

import harness
from harness import (PASSWORD, USER, Proxy, auth, echo_works, greeting, metric,
                     read_reply, recv_exact, scrape, socks_connect, start_server,
                     stop_server)
from test_udp_bind import UdpEcho, udp_header


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args],
                          capture_output=True, text=True, timeout=30)


class RulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo, cls.port = start_server(harness.EchoHandler)
        cls.smtp, cls.smtp_port = start_server(harness.EchoHandler)
        cls.inner, cls.inner_port = start_server(harness.EchoHandler)
        cls.echo6, cls.port6 = start_server(harness.EchoHandler, v6=True)
        cls.http, cls.http_port = start_server(harness.HttpHandler)
        cls.udp_ok = UdpEcho()
        cls.udp_blocked = UdpEcho()
        rules = ("[rules]\n"
                 f"rule = block port={cls.smtp_port}\n"
                 "rule = block dest=*.blocked.invalid,Forbidden.TEST\n"
                 "rule = block dest=::1/128 log\n"
                 f"rule = block dest=127.0.0.0/8 port={cls.inner_port}\n"
                 "rule = block command=bind dest=127.0.0.2\n"
                 f"rule = block command=udp port={cls.udp_blocked.port}\n"
                 f"rule = pass user={USER}\n"
                 "default = block\n")
        cls.proxy = Proxy(extra_server=rules, prometheus="listen = 127.0.0.1:0\n")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        for srv in (cls.echo, cls.smtp, cls.inner, cls.echo6, cls.http):
            stop_server(srv)
        cls.udp_ok.stop()
        cls.udp_blocked.stop()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def rep(self, host, port):
        s, rep = socks_connect(self.proxy.port, host, port)
        ok = rep == 0 and echo_works(s)
        s.close()
        return 0 if ok else rep

    def test_port_rule(self):
        self.assertEqual(self.rep("127.0.0.1", self.smtp_port), 0x02)
        self.assertEqual(self.rep("127.0.0.1", self.port), 0)

    def test_name_rule_decides_before_dns(self):
        start = time.monotonic()
        self.assertEqual(self.rep("mail.blocked.invalid", self.port), 0x02)
        self.assertEqual(self.rep("forbidden.test", self.port), 0x02)
        self.assertLess(time.monotonic() - start, 1.0)  # no resolver wait
        self.assertEqual(self.rep("localhost", self.port), 0)

    def test_network_rule_and_its_log_line(self):
        self.assertEqual(self.rep("::1", self.port6), 0x02)
        deadline = time.time() + 5
        while "rule 3 (line" not in self.proxy.log_text() and time.time() < deadline:
            time.sleep(0.02)
        self.assertRegex(self.proxy.log_text(),
                         r"rule 3 \(line \d+\) blocks connect from 127\.0\.0\.1 "
                         rf"user '{USER}' to ::1 port {self.port6}")

    def test_a_name_cannot_smuggle_a_blocked_address(self):
        # The server listens: only the rule refuses. By address and by names
        # that resolve to it (/etc/hosts), checked again after DNS.
        self.assertEqual(self.rep("127.0.0.1", self.inner_port), 0x02)
        self.assertEqual(self.rep("localhost", self.inner_port), 0x02)
        self.assertEqual(self.rep("vm", self.inner_port), 0x02)
        self.assertEqual(self.rep("vm", self.port), 0)

    def test_curl(self):
        proxy = f"{USER}:{PASSWORD}@127.0.0.1:{self.proxy.port}"
        ok = curl("--socks5-hostname", proxy, f"http://127.0.0.1:{self.http_port}/")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        for url in (f"http://x.blocked.invalid:{self.http_port}/",
                    f"http://localhost:{self.inner_port}/",
                    f"http://127.0.0.1:{self.smtp_port}/"):
            r = curl("--socks5-hostname", proxy, url)
            self.assertEqual(r.returncode, 97, url + ": " + r.stderr)
            self.assertIn("(2)", r.stderr)  # REP 0x02, as curl says it

    def test_pysocks(self):
        def connect(host, port):
            s = socks.socksocket()
            s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port, rdns=True,
                        username=USER, password=PASSWORD)
            s.settimeout(5)
            try:
                s.connect((host, port))
                return "ok" if echo_works(s) else "broken"
            except socks.ProxyError as e:
                return str(e)
            finally:
                s.close()
        self.assertEqual(connect("127.0.0.1", self.port), "ok")
        for host, port in (("a.blocked.invalid", self.port),
                           ("localhost", self.inner_port),
                           ("127.0.0.1", self.smtp_port)):
            self.assertIn("0x02", connect(host, port))

    def bind(self, expect=b"\x00\x00\x00\x00"):
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        ctl.sendall(greeting() + auth() + b"\x05\x02\x00\x01" + expect + b"\x00\x00")
        self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        first = read_reply(ctl)
        self.assertEqual(first[0], 0)
        return ctl, struct.unpack(">H", first[1][4:])[0]

    def test_bind_peer_is_checked(self):
        # Any peer expected: the request passes, the peer decides.
        ctl, port = self.bind()
        peer = socket.socket()
        peer.bind(("127.0.0.2", 0))
        peer.connect(("127.0.0.1", port))
        self.assertEqual(read_reply(ctl)[0], 0x02)
        peer.close()
        ctl.close()
        ctl, port = self.bind()
        peer = socket.create_connection(("127.0.0.1", port), 5)
        self.assertEqual(read_reply(ctl)[0], 0)
        peer.close()
        ctl.close()

    def test_bind_request_naming_a_blocked_peer(self):
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        ctl.sendall(greeting() + auth()
                    + b"\x05\x02\x00\x01\x7f\x00\x00\x02\x00\x00")
        self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        self.assertEqual(read_reply(ctl)[0], 0x02)
        ctl.close()

    def test_udp_datagrams_to_a_blocked_port_are_dropped_and_counted(self):
        self.settled('socks5_proxy_rule_blocks_total{command="udp"}')
        before = scrape(self.proxy.metrics_port)
        s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
        s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port,
                    username=USER, password=PASSWORD)
        s.settimeout(1)
        for _ in range(3):
            s.sendto(b"nope", ("127.0.0.1", self.udp_blocked.port))
        s.sendto(b"yes", ("127.0.0.1", self.udp_ok.port))
        self.assertEqual(s.recvfrom(100)[0], b"yes")
        s.close()
        self.assertEqual(self.udp_blocked.count, 0)
        name = 'socks5_proxy_rule_blocks_total{command="udp"}'
        deadline = time.time() + 5
        while time.time() < deadline:
            after = scrape(self.proxy.metrics_port)
            if metric(after, name) - metric(before, name) >= 3:
                break
            time.sleep(0.1)
        self.assertEqual(metric(after, name) - metric(before, name), 3)

    def settled(self, name):
        """The counter once it has not moved for a second (the loops send
        their counts every 250 ms)."""
        last = metric(scrape(self.proxy.metrics_port), name)
        while True:
            time.sleep(1)
            now = metric(scrape(self.proxy.metrics_port), name)
            if now == last:
                return now
            last = now

    def test_connect_blocks_are_counted(self):
        name = 'socks5_proxy_rule_blocks_total{command="connect"}'
        before = self.settled(name)
        self.assertEqual(self.rep("127.0.0.1", self.smtp_port), 0x02)
        self.assertEqual(self.rep("localhost", self.inner_port), 0x02)
        deadline = time.time() + 5
        while time.time() < deadline:
            now = metric(scrape(self.proxy.metrics_port), name)
            if now - before >= 2:
                break
            time.sleep(0.1)
        self.assertEqual(now - before, 2)


class RulesReloadTest(unittest.TestCase):
    """Rules change on SIGHUP without dropping live tunnels; a broken rules
    file keeps the running rules and names its line."""

    def setUp(self):
        self.echo, self.port = start_server(harness.EchoHandler)
        self.proxy = Proxy(extra_server="[rules]\ndefault = pass\n")

    def tearDown(self):
        self.proxy.cleanup()
        stop_server(self.echo)

    def rewrite_rules(self, rules):
        with open(self.proxy.config) as f:
            text = f.read()
        text = re.sub(r"\[rules\]\n(.*\n)*?(?=\n\[admin\])", "[rules]\n" + rules, text)
        with open(self.proxy.config, "w") as f:
            f.write(text)

    def sighup_and_wait(self, marker):
        n = self.proxy.log_text().count(marker)
        self.proxy.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while self.proxy.log_text().count(marker) == n and time.time() < deadline:
            time.sleep(0.02)
        self.assertGreater(self.proxy.log_text().count(marker), n, self.proxy.log_text())

    def rep(self, host):
        s, rep = socks_connect(self.proxy.port, host, self.port)
        s.close()
        return rep

    def test_reload_applies_rules_and_survives_a_broken_file(self):
        live, rep = socks_connect(self.proxy.port, "127.0.0.1", self.port)
        self.assertEqual(rep, 0)
        self.rewrite_rules("rule = block dest=127.0.0.0/8\ndefault = pass\n")
        self.sighup_and_wait("reloaded ")
        self.assertIn("reloading", self.proxy.log_text())
        self.assertEqual(self.rep("127.0.0.1"), 0x02)
        self.assertEqual(self.rep("localhost"), 0x02)
        self.assertTrue(echo_works(live))  # the tunnel opened before stays
        # A broken rules file: the running rules stay, the line is named.
        self.rewrite_rules("rule = block dest=127.0.0.0/8\nrule = allow everything\n")
        self.sighup_and_wait("reload failed")
        self.assertRegex(self.proxy.log_text(),
                         r"proxy\.ini:\d+: key 'rule': a rule starts with pass or block")
        self.assertTrue(self.proxy.alive())
        self.assertEqual(self.rep("127.0.0.1"), 0x02)
        self.assertTrue(echo_works(live))
        # Fixed again: the block is gone.
        self.rewrite_rules("default = pass\n")
        n = self.proxy.log_text().count("reloaded ")
        self.sighup_and_wait("reloaded ")
        self.assertGreater(self.proxy.log_text().count("reloaded "), n)
        self.assertEqual(self.rep("127.0.0.1"), 0)
        self.assertTrue(echo_works(live))
        live.close()


if __name__ == "__main__":
    unittest.main()
