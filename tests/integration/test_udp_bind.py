"""Integration tests of BIND and UDP ASSOCIATE: PySocks UDP and raw clients
against the real proxy, with local UDP echo servers over IPv4 and IPv6."""

import socket
import struct
import threading
import time
import unittest

import socks  # python3-socks (PySocks)

from harness import (PASSWORD, USER, Proxy, auth, greeting, read_reply,
                     recv_exact, recv_until_eof)


class UdpEcho:
    """Echoes datagrams and remembers how many it saw."""

    def __init__(self, v6=False):
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind(("::1" if v6 else "127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.count += 1
            self.sock.sendto(data, addr)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def udp_header(host, port, frag=0):
    try:
        addr = b"\x01" + socket.inet_pton(socket.AF_INET, host)
    except OSError:
        try:
            addr = b"\x04" + socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            addr = b"\x03" + bytes([len(host)]) + host.encode()
    return b"\x00\x00" + bytes([frag]) + addr + struct.pack(">H", port)


class UdpBindTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy()
        cls.echo4 = UdpEcho()
        cls.echo6 = UdpEcho(v6=True)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        cls.echo4.stop()
        cls.echo6.stop()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    def associate(self, client_port=0):
        """Opens a UDP association; returns (control socket, relay address)."""
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        ctl.sendall(greeting() + auth() + b"\x05\x03\x00\x01\x7f\x00\x00\x01"
                    + struct.pack(">H", client_port))
        self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        rep = read_reply(ctl)
        self.assertEqual(rep[0], 0)
        self.assertEqual(len(rep[1]), 6)  # IPv4 BND
        relay = (socket.inet_ntop(socket.AF_INET, rep[1][:4]),
                 struct.unpack(">H", rep[1][4:])[0])
        return ctl, relay

    # -- UDP ASSOCIATE --------------------------------------------------------

    def test_pysocks_udp_ipv4(self):
        s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
        s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port,
                    username=USER, password=PASSWORD)
        s.settimeout(5)
        s.sendto(b"hello over udp", ("127.0.0.1", self.echo4.port))
        data, addr = s.recvfrom(65535)
        self.assertEqual(data, b"hello over udp")
        self.assertEqual(addr[1], self.echo4.port)
        s.close()

    def test_pysocks_udp_ipv6_target_and_domain(self):
        s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
        s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port, rdns=True,
                    username=USER, password=PASSWORD)
        s.settimeout(5)
        s.sendto(b"to v6", ("::1", self.echo6.port))
        data, addr = s.recvfrom(65535)
        self.assertEqual(data, b"to v6")
        s.sendto(b"by name", ("localhost", self.echo4.port))
        data, _ = s.recvfrom(65535)
        self.assertEqual(data, b"by name")
        s.close()

    def test_raw_udp_many_datagrams_and_header(self):
        ctl, relay = self.associate()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(3)
        got = 0
        for i in range(200):
            payload = b"d%05d" % i
            u.sendto(udp_header("127.0.0.1", self.echo4.port) + payload, relay)
            data, _ = u.recvfrom(65535)
            # Reply header names the source: the echo server.
            self.assertEqual(data[:10], udp_header("127.0.0.1", self.echo4.port))
            got += data[10:] == payload
        self.assertEqual(got, 200)
        u.close()
        ctl.close()

    def test_fragments_and_foreign_sources_are_dropped(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(1)
        ctl, relay = self.associate(client_port=u.getsockname()[1])
        before = self.echo4.count
        # FRAG != 0: dropped.
        u.sendto(udp_header("127.0.0.1", self.echo4.port, frag=1) + b"frag", relay)
        # From another port than the declared one: dropped.
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        other.sendto(udp_header("127.0.0.1", self.echo4.port) + b"foreign", relay)
        # Garbage header: dropped.
        u.sendto(b"\x00\x00\x00\x09junk", relay)
        time.sleep(0.5)
        self.assertEqual(self.echo4.count, before)
        # The declared source still works.
        u.sendto(udp_header("127.0.0.1", self.echo4.port) + b"legit", relay)
        data, _ = u.recvfrom(65535)
        self.assertEqual(data[10:], b"legit")
        other.close()
        u.close()
        ctl.close()

    def test_relay_closes_with_its_control_connection(self):
        ctl, relay = self.associate()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        u.connect(relay)
        u.send(udp_header("127.0.0.1", self.echo4.port) + b"alive")
        self.assertEqual(u.recv(65535)[10:], b"alive")
        ctl.close()
        time.sleep(0.5)
        with self.assertRaises((ConnectionRefusedError, socket.timeout)):
            u.send(udp_header("127.0.0.1", self.echo4.port) + b"gone")
            u.recv(65535)
            u.send(udp_header("127.0.0.1", self.echo4.port) + b"gone")
            u.recv(65535)
        u.close()
        lines = self.proxy.wait_access_lines(1)
        self.assertTrue(any("dest=udp:" in l for l in lines), lines)

    # -- BIND -----------------------------------------------------------------

    def test_bind_two_replies_and_relay(self):
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        ctl.sendall(greeting() + auth() + b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x00")
        self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        first = read_reply(ctl)
        self.assertEqual(first[0], 0)
        host = socket.inet_ntop(socket.AF_INET, first[1][:4])
        port = struct.unpack(">H", first[1][4:])[0]
        self.assertEqual(host, "127.0.0.1")
        self.assertNotEqual(port, 0)
        peer = socket.create_connection((host, port), 5)
        second = read_reply(ctl)
        self.assertEqual(second[0], 0)
        self.assertEqual(struct.unpack(">H", second[1][4:])[0],
                         peer.getsockname()[1])
        peer.sendall(b"from peer")
        self.assertEqual(recv_exact(ctl, 9), b"from peer")
        ctl.sendall(b"from client")
        self.assertEqual(recv_exact(peer, 11), b"from client")
        peer.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(ctl), b"")
        ctl.close()
        peer.close()

    def test_bind_only_accepts_the_named_host(self):
        ctl = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        # Expect 127.0.0.2: a connection from 127.0.0.1 is turned away.
        ctl.sendall(greeting() + auth() + b"\x05\x02\x00\x01\x7f\x00\x00\x02\x00\x00")
        self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
        first = read_reply(ctl)
        port = struct.unpack(">H", first[1][4:])[0]
        intruder = socket.create_connection(("127.0.0.1", port), 5)
        self.assertEqual(recv_until_eof(intruder, 2), b"")
        intruder.close()
        friend = socket.socket()
        friend.bind(("127.0.0.2", 0))
        friend.connect(("127.0.0.1", port))
        second = read_reply(ctl)
        self.assertEqual(second[0], 0)
        self.assertEqual(socket.inet_ntop(socket.AF_INET, second[1][:4]), "127.0.0.2")
        friend.close()
        ctl.close()


class BindTimeoutTest(unittest.TestCase):
    def test_bind_times_out_with_0x06(self):
        p = Proxy(extra_socks="bind_timeout = 1s\n")
        try:
            ctl = socket.create_connection(("127.0.0.1", p.port), 5)
            ctl.sendall(greeting() + auth() + b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x00")
            self.assertEqual(recv_exact(ctl, 4), b"\x05\x02\x01\x00")
            self.assertEqual(read_reply(ctl)[0], 0)
            t0 = time.time()
            self.assertEqual(read_reply(ctl)[0], 0x06)
            self.assertLess(time.time() - t0, 4)
            ctl.close()
        finally:
            p.cleanup()


if __name__ == "__main__":
    unittest.main()
