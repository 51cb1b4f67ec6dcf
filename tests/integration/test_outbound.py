"""Outbound profiles and advertised addresses (issue 15, items 1 and 3):
where the proxy's own sockets leave from, seen by the target.

Two tiers. The loopback tier needs nothing but 127.0.0.0/8 (address4 =
127.0.0.2 and friends). The namespace tier creates its own network namespace
with a veth pair (two addresses per side, IPv4 and IPv6), runs the targets
inside it (they report the source address they saw) and removes it all in
tearDownClass; it is skipped where namespaces cannot be made (not root).
Only loopback and addresses inside the test's own namespace are targets.

CONNECT's upstream sockets open in net/reactor/connector.cpp, which the
Happy Eyeballs work rewrites: until it calls open_outbound, the CONNECT
cases are skipped (CONNECT_USES_PROFILE)."""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import (Proxy, auth, connect_request, greeting, hash_user, ip, read_reply,
                     recv_exact)

# Set once net/reactor/connector.cpp opens its sockets with open_outbound.
CONNECT_USES_PROFILE = True  # the connector opens its sockets under the profile
needs_connector = unittest.skipUnless(
    CONNECT_USES_PROFILE, "connector.cpp does not call open_outbound yet")

ALT_USER, ALT_PASSWORD = "alt", "alt"


def add_user(proxy, line):
    """Appends a users-file line and reloads (SIGHUP)."""
    with open(proxy.users, "a") as f:
        f.write(line + "\n")
    harness.sighup_reload(proxy)


def handshake(proxy, cmd, host, port, user="demo", password="demo"):
    """A request; returns (socket, rep, bound host, bound port)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), 5)
    s.sendall(greeting() + auth(user, password) + connect_request(host, port, cmd))
    assert recv_exact(s, 4) == b"\x05\x02\x01\x00"
    rep = read_reply(s)
    if rep is None:
        return s, None, None, None
    code, rest = rep
    fam = socket.AF_INET if len(rest) == 6 else socket.AF_INET6
    return s, code, socket.inet_ntop(fam, rest[:-2]), struct.unpack(">H", rest[-2:])[0]


def udp_header(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    atyp = b"\x04" if ":" in host else b"\x01"
    return b"\x00\x00\x00" + atyp + socket.inet_pton(fam, host) + struct.pack(">H", port)


def udp_roundtrip(relay, host, port, payload=b"who?", timeout=3):
    """Sends one datagram through the relay; the answer's payload or None."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(timeout)
    try:
        u.sendto(udp_header(host, port) + payload, relay)
        data, _ = u.recvfrom(65535)
    except socket.timeout:
        return None
    finally:
        u.close()
    head = 10 if data[3] == 1 else 22
    return data[head:]


class SourceEcho:
    """TCP and UDP servers on `host` that answer with the peer's address."""

    def __init__(self, host):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.tcp = socket.socket(fam, socket.SOCK_STREAM)
        self.tcp.bind((host, 0))
        self.tcp.listen(16)
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        for target in (self._tcp, self._udp):
            threading.Thread(target=target, daemon=True).start()

    def _tcp(self):
        while True:
            try:
                c, peer = self.tcp.accept()
            except OSError:
                return
            c.sendall(peer[0].encode() + b"\n")
            c.close()

    def _udp(self):
        while True:
            try:
                data, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            self.udp.sendto(peer[0].encode(), peer)

    def stop(self):
        self.tcp.close()
        self.udp.close()


# -- loopback tier --------------------------------------------------------------

class LoopbackOutboundTest(unittest.TestCase):
    """address4 = 127.0.0.2 for everyone, [outbound.alt] = 127.0.0.3 for user
    alt, advertised addresses for UDP and BIND."""

    @classmethod
    def setUpClass(cls):
        cls.echo = SourceEcho("127.0.0.1")
        cls.proxy = Proxy(extra_socks="udp_advertise_address = 198.51.100.9\n"
                                      "bind_advertise_address = 198.51.100.10\n"
                                      "listen = 127.0.0.2:0 udp_advertise=198.51.100.77\n",
                          extra_server="\n[outbound]\naddress4 = 127.0.0.2\n"
                                       "[outbound.alt]\naddress4 = 127.0.0.3\n"
                                       "[outbound.v6]\naddress6 = ::1\n"
                                       "[outbound.rule]\naddress4 = 127.0.0.5\n"
                                       "[rules]\nrule = pass user=ruled outbound=rule\n"
                                       "rule = pass user=ruledvia via=rule\n"
                                       "rule = pass user=alt command=bind outbound=rule\n"
                                       "rule = pass\n")
        add_user(cls.proxy, hash_user(ALT_USER, ALT_PASSWORD) + ":outbound=alt")
        add_user(cls.proxy, hash_user("ruled", "ruled") + ":outbound=alt")
        add_user(cls.proxy, hash_user("ruledvia", "ruledvia"))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        cls.echo.stop()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def associate(self, user="demo", password="demo"):
        s, rep, host, port = handshake(self.proxy, 3, "0.0.0.0", 0, user, password)
        self.assertEqual(rep, 0)
        return s, host, port

    def test_udp_reply_advertises_and_datagrams_leave_from_the_profile(self):
        ctl, host, port = self.associate()
        self.assertEqual(host, "198.51.100.9")  # the advertised address
        # The socket stays where it is: datagrams go to the real address.
        seen = udp_roundtrip(("127.0.0.1", port), "127.0.0.1", self.echo.udp_port)
        self.assertEqual(seen, b"127.0.0.2")
        ctl.close()

    def test_a_listener_advertises_its_own_udp_address(self):
        port2 = int(re.search(r"SOCKS5 listening on 127\.0\.0\.2:(\d+)",
                              self.proxy.log_text()).group(1))
        s = socket.create_connection(("127.0.0.2", port2), 5)
        s.sendall(greeting() + auth("demo", "demo") + connect_request("0.0.0.0", 0, 3))
        self.assertEqual(recv_exact(s, 4), b"\x05\x02\x01\x00")
        code, rest = read_reply(s)
        self.assertEqual(code, 0)
        self.assertEqual(socket.inet_ntop(socket.AF_INET, rest[:4]), "198.51.100.77")
        port = struct.unpack(">H", rest[4:])[0]
        # The relay socket is on the address the client reached (127.0.0.2).
        seen = udp_roundtrip(("127.0.0.2", port), "127.0.0.1", self.echo.udp_port)
        self.assertEqual(seen, b"127.0.0.2")
        s.close()
        # The first listener keeps the [socks] key's address.
        ctl, host, _ = self.associate()
        self.assertEqual(host, "198.51.100.9")
        ctl.close()

    def test_udp_per_user_profile(self):
        ctl, _, port = self.associate(ALT_USER, ALT_PASSWORD)
        seen = udp_roundtrip(("127.0.0.1", port), "127.0.0.1", self.echo.udp_port)
        self.assertEqual(seen, b"127.0.0.3")
        ctl.close()

    def test_udp_to_a_family_without_address_is_dropped(self):
        ctl, _, port = self.associate()
        self.assertIsNone(udp_roundtrip(("127.0.0.1", port), "::1", 9, timeout=0.5))
        ctl.close()

    def test_bind_listens_at_the_profile_and_advertises(self):
        s, rep, host, port = handshake(self.proxy, 2, "127.0.0.1", 0)
        self.assertEqual(rep, 0)
        self.assertEqual(host, "198.51.100.10")
        # The listener is at the profile's address, on the reply's port.
        peer = socket.create_connection(("127.0.0.2", port), 5)
        rep2 = read_reply(s)
        self.assertEqual(rep2[0], 0)
        peer.close()
        s.close()

    def test_unknown_profile_fails_with_general_failure(self):
        add_user(self.proxy, hash_user("lost", "lost") + ":outbound=nowhere")
        s, rep, _, _ = handshake(self.proxy, 3, "0.0.0.0", 0, "lost", "lost")
        self.assertEqual(rep, 1)
        s.close()
        self.assertIn("names outbound profile 'nowhere'", self.proxy.log_text())

    def test_reload_changes_the_source(self):
        proxy = Proxy(extra_server="\n[outbound]\naddress4 = 127.0.0.2\n")
        try:
            s, rep, _, port = handshake(proxy, 3, "0.0.0.0", 0)
            seen = udp_roundtrip(("127.0.0.1", port), "127.0.0.1", self.echo.udp_port)
            self.assertEqual(seen, b"127.0.0.2")
            s.close()
            with open(proxy.config) as f:
                text = f.read()
            with open(proxy.config, "w") as f:
                f.write(text.replace("address4 = 127.0.0.2", "address4 = 127.0.0.4"))
            before = proxy.log_text().count("INFO reloaded ")
            proxy.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while proxy.log_text().count("INFO reloaded ") == before:
                self.assertLess(time.time(), deadline, proxy.log_text())
                time.sleep(0.02)
            s, rep, _, port = handshake(proxy, 3, "0.0.0.0", 0)
            self.assertEqual(rep, 0)
            seen = udp_roundtrip(("127.0.0.1", port), "127.0.0.1", self.echo.udp_port)
            self.assertEqual(seen, b"127.0.0.4")
            s.close()
        finally:
            proxy.cleanup()

    @needs_connector
    def test_connect_leaves_from_the_profile(self):
        s, rep, host, _ = handshake(self.proxy, 1, "127.0.0.1", self.echo.tcp_port)
        self.assertEqual(rep, 0)
        self.assertEqual(host, "127.0.0.2")
        self.assertEqual(s.recv(100), b"127.0.0.2\n")
        s.close()
        s, rep, _, _ = handshake(self.proxy, 1, "127.0.0.1", self.echo.tcp_port,
                                 ALT_USER, ALT_PASSWORD)
        self.assertEqual(rep, 0)
        self.assertEqual(s.recv(100), b"127.0.0.3\n")
        s.close()

    def test_a_rule_picks_the_profile_by_outbound_or_via(self):
        # The rule's profile beats the user's own (ruled has outbound=alt).
        for user in ("ruled", "ruledvia"):
            s, rep, _, _ = handshake(self.proxy, 1, "127.0.0.1", self.echo.tcp_port,
                                     user, user)
            self.assertEqual(rep, 0)
            self.assertEqual(s.recv(100), b"127.0.0.5\n", user)
            s.close()
            ctl, _, port = self.associate(user, user)
            seen = udp_roundtrip(("127.0.0.1", port), "127.0.0.1", self.echo.udp_port)
            self.assertEqual(seen, b"127.0.0.5", user)
            ctl.close()
        # A rule for one command only: alt's BIND listens at the rule's
        # profile, its CONNECT still leaves from its own.
        s, rep, _, port = handshake(self.proxy, 2, "127.0.0.1", 0, ALT_USER, ALT_PASSWORD)
        self.assertEqual(rep, 0)
        peer = socket.create_connection(("127.0.0.5", port), 5)  # the listener is there
        self.assertEqual(read_reply(s)[0], 0)
        peer.close()
        s.close()
        s, rep, _, _ = handshake(self.proxy, 1, "127.0.0.1", self.echo.tcp_port,
                                 ALT_USER, ALT_PASSWORD)
        self.assertEqual(s.recv(100), b"127.0.0.3\n")
        s.close()

    @needs_connector
    def test_connect_to_a_family_without_address_is_network_unreachable(self):
        s, rep, _, _ = handshake(self.proxy, 1, "::1", self.echo.tcp_port)
        self.assertEqual(rep, 3)
        s.close()

# -- namespace tier -------------------------------------------------------------

# Inside the namespace: TCP and UDP servers on every address that answer with
# the peer's address, and a line on stdout once they listen.
TARGET_SCRIPT = r"""
import socket, sys, threading
def tcp(fam, host):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, 7000)); s.listen(16)
    def run():
        while True:
            c, peer = s.accept(); c.sendall(peer[0].encode() + b"\n"); c.close()
    threading.Thread(target=run, daemon=True).start()
def udp(fam, host):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, 7001))
    def run():
        while True:
            d, peer = s.recvfrom(65535); s.sendto(peer[0].encode(), peer)
    threading.Thread(target=run, daemon=True).start()
for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    tcp(fam, host); udp(fam, host)
print("ready", flush=True)
sys.stdin.read()
"""


class NamespaceOutboundTest(unittest.TestCase):
    """A namespace `pxo-PID` joined to ours by a veth pair. Our side:
    10.213.0.1 and .2, fd42:213::1 and ::2; theirs: 10.213.0.100 and .101,
    fd42:213::100 and ::101, where the targets run."""

    NS = "pxo-%d" % os.getpid()
    HOST_IF = "pxo%dh" % (os.getpid() % 100000)
    PEER_IF = "pxo%dn" % (os.getpid() % 100000)

    @classmethod
    def setUpClass(cls):
        cls.target = None
        cls.proxy = None
        try:
            cls.make_namespace()
        except (subprocess.CalledProcessError, FileNotFoundError, OSError) as e:
            cls.remove_namespace()
            raise unittest.SkipTest("no network namespace here: %s" % e)
        try:
            cls.start_target_and_proxy()
        except BaseException:
            cls.tearDownClass()  # unittest does not call it after a failed setUpClass
            raise

    @classmethod
    def start_target_and_proxy(cls):
        cls.target = subprocess.Popen(
            ["ip", "netns", "exec", cls.NS, sys.executable, "-c", TARGET_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert cls.target.stdout.readline().strip() == "ready"
        cls.proxy = Proxy(extra_socks="udp_advertise_address = 203.0.113.7\n",
                          extra_server="\n[outbound]\naddress4 = 10.213.0.2\n"
                                       "address6 = fd42:213::2\n"
                                       "[outbound.one]\naddress4 = 10.213.0.1\n"
                                       "[outbound.dev]\ninterface = %s\n"
                                       "[outbound.lo]\ninterface = lo\n"
                                       "[outbound.v4only]\naddress4 = 10.213.0.1\n"
                                       "[rules]\n"
                                       "rule = pass dest=10.213.0.101 command=connect "
                                       "outbound=one\nrule = pass\n"
                                       % cls.HOST_IF)
        for name in ("one", "dev", "lo", "v4only"):
            add_user(cls.proxy, hash_user(name, name) + ":outbound=" + name)

    @classmethod
    def remove_stale_namespaces(cls):
        """A run killed before its tearDownClass leaves its namespace and
        its host-side addresses (the same subnet as ours) behind."""
        for line in ip("netns", "list", check=False).stdout.splitlines():
            m = re.match(r"pxo-(\d+)\b", line)
            if not m or os.path.exists("/proc/" + m.group(1)):
                continue
            pid = int(m.group(1))
            ip("link", "del", "pxo%dh" % (pid % 100000), check=False)
            ip("netns", "del", m.group(0), check=False)

    @classmethod
    def make_namespace(cls):
        cls.remove_stale_namespaces()
        ip("netns", "add", cls.NS)
        ip("link", "add", cls.HOST_IF, "type", "veth", "peer", "name", cls.PEER_IF)
        ip("link", "set", cls.PEER_IF, "netns", cls.NS)
        for a in ("10.213.0.1/24", "10.213.0.2/24"):
            ip("addr", "add", a, "dev", cls.HOST_IF)
        for a in ("fd42:213::1/64", "fd42:213::2/64"):
            ip("-6", "addr", "add", a, "dev", cls.HOST_IF, "nodad")
        ip("link", "set", cls.HOST_IF, "up")
        inside = ["-n", cls.NS]
        for a in ("10.213.0.100/24", "10.213.0.101/24"):
            ip(*inside, "addr", "add", a, "dev", cls.PEER_IF)
        for a in ("fd42:213::100/64", "fd42:213::101/64"):
            ip(*inside, "-6", "addr", "add", a, "dev", cls.PEER_IF, "nodad")
        ip(*inside, "link", "set", cls.PEER_IF, "up")
        ip(*inside, "link", "set", "lo", "up")
        deadline = time.time() + 5  # the link comes up
        while "LOWER_UP" not in ip("link", "show", cls.HOST_IF).stdout:
            if time.time() > deadline:
                raise OSError("veth did not come up")
            time.sleep(0.05)

    @classmethod
    def remove_namespace(cls):
        ip("link", "del", cls.HOST_IF, check=False)
        ip("netns", "del", cls.NS, check=False)

    @classmethod
    def tearDownClass(cls):
        if cls.proxy:
            cls.proxy.cleanup()
        if cls.target:
            cls.target.kill()
            cls.target.wait()
        cls.remove_namespace()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def connect_source(self, host, user="demo"):
        s, rep, _, _ = handshake(self.proxy, 1, host, 7000, user, user if user != "demo"
                                 else "demo")
        try:
            if rep != 0:
                return rep
            return s.recv(100).decode().strip()
        finally:
            s.close()

    def udp_source(self, host, user="demo"):
        s, rep, bound, port = handshake(self.proxy, 3, "0.0.0.0", 0, user, user)
        self.assertEqual(rep, 0)
        self.assertEqual(bound, "203.0.113.7")
        try:
            seen = udp_roundtrip(("127.0.0.1", port), host, 7001)
            return seen.decode() if seen is not None else None
        finally:
            s.close()

    def test_udp_per_proxy_and_per_user_with_advertised_address(self):
        self.assertEqual(self.udp_source("10.213.0.100"), "10.213.0.2")
        self.assertEqual(self.udp_source("fd42:213::101"), "fd42:213::2")
        self.assertEqual(self.udp_source("10.213.0.101", "one"), "10.213.0.1")
        self.assertIsNone(self.udp_source("fd42:213::100", "v4only"))

    def test_bind_listens_at_the_profile_address(self):
        s, rep, host, port = handshake(self.proxy, 2, "10.213.0.100", 0, "one", "one")
        self.assertEqual(rep, 0)
        self.assertEqual(host, "10.213.0.1")
        s.close()

    @needs_connector
    def test_connect_per_proxy_and_per_user(self):
        self.assertEqual(self.connect_source("10.213.0.100"), "10.213.0.2")
        self.assertEqual(self.connect_source("fd42:213::100"), "fd42:213::2")
        self.assertEqual(self.connect_source("10.213.0.101", "one"), "10.213.0.1")

    def test_connect_per_rule(self):
        # The rule names the destination .101: from .1; .100 as the proxy's.
        self.assertEqual(self.connect_source("10.213.0.101"), "10.213.0.1")
        self.assertEqual(self.connect_source("10.213.0.100"), "10.213.0.2")

    @needs_connector
    def test_connect_interface_binding(self):
        # Bound to the veth: the target is reached (the kernel's source).
        self.assertIn(self.connect_source("10.213.0.100", "dev"),
                      ("10.213.0.1", "10.213.0.2"))
        # Bound to lo: the namespace is out of reach.
        rep = self.connect_source("10.213.0.100", "lo")
        self.assertIsInstance(rep, int)
        self.assertNotEqual(rep, 0)

    @needs_connector
    def test_connect_to_a_family_without_address_is_network_unreachable(self):
        self.assertEqual(self.connect_source("fd42:213::100", "v4only"), 3)
        self.assertEqual(self.connect_source("10.213.0.100", "v4only"), "10.213.0.1")


if __name__ == "__main__":
    unittest.main()
