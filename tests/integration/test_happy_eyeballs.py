"""Happy Eyeballs (RFC 8305) and `prefer`, with real clients: a name with an
IPv6 and an IPv4 address (served by a small DNS server of the test), whose
IPv6 address blackholes (a listener whose accept queue is full drops SYNs
without an answer, as a broken route does), still connects over IPv4 within
the attempt delay instead of the connect timeout; `prefer = ipv4` goes to
IPv4 at once; the access log names the address that won; a name whose every
address is dead fails within the connect timeout."""

import socket
import struct
import threading
import time
import unittest

import harness
from harness import Proxy, echo_works, socks_connect, stop_server


class Dns:
    """Answers A with 127.0.0.1 and AAAA with ::1 for every name, over UDP;
    AAAA queries for names under `noaaaa.test` get no answer at all (a
    resolver or middlebox that loses them), and A queries for names under
    `slowa.test` get theirs 300 ms late."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def answer(self, query):
        qid, _, qd = struct.unpack(">HHH", query[:6])
        pos = 12
        while query[pos] != 0:
            pos += 1 + query[pos]
        qtype = struct.unpack(">H", query[pos + 1:pos + 3])[0]
        if qtype == 28 and b"\x06noaaaa\x04test\x00" in query[12:pos + 1]:
            return None
        question = query[12:pos + 5]
        rdata = {1: socket.inet_pton(socket.AF_INET, "127.0.0.1"),
                 28: socket.inet_pton(socket.AF_INET6, "::1")}.get(qtype)
        head = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if rdata else 0, 0, 0)
        out = head + question
        if rdata:
            out += struct.pack(">HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
        return out

    def run(self):
        while self.running:
            try:
                query, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(query)
                if reply is None:
                    continue
                if b"\x05slowa\x04test\x00" in query and reply[-4:] == socket.inet_aton("127.0.0.1"):
                    threading.Timer(0.3, self.send_late, (reply, addr)).start()
                else:
                    self.sock.sendto(reply, addr)
            except (IndexError, struct.error):
                pass

    def send_late(self, reply, addr):
        try:
            self.sock.sendto(reply, addr)
        except OSError:
            pass

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Jammed:
    """An IPv6 listener on [::1]:port whose accept queue is full: new SYNs
    are dropped, so a connect to it hangs until its timeout."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.bind(("::1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(0)
        self.fill = []
        for _ in range(4):
            c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("::1", self.port))
            except BlockingIOError:
                pass
            self.fill.append(c)
        time.sleep(0.1)

    def close(self):
        for c in self.fill:
            c.close()
        self.sock.close()


def v4_echo_on(port):
    """An echo server on 127.0.0.1:port (the jammed listener's port)."""
    class Server(harness._Threaded):
        pass
    srv = Server(("127.0.0.1", port), harness.EchoHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class HappyEyeballsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Dns()
        cls.jam = Jammed()
        cls.echo = v4_echo_on(cls.jam.port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.echo)
        cls.jam.close()
        cls.dns.stop()

    def proxy(self, extra):
        # The harness sets connect_timeout = 3s.
        return Proxy(extra_socks=f"dns_server = 127.0.0.1:{self.dns.port}\n" + extra)

    def timed_connect(self, proxy, name="dual.test"):
        t0 = time.monotonic()
        s, rep = socks_connect(proxy.port, name, self.jam.port)
        took = time.monotonic() - t0
        ok = rep == 0 and echo_works(s)
        s.close()
        return ok, took

    def test_a_blackholed_ipv6_costs_the_delay_not_the_timeout(self):
        p = self.proxy("prefer = ipv6\nhappy_eyeballs_delay = 250ms\n")
        try:
            ok, took = self.timed_connect(p)
            self.assertTrue(ok, p.log_text())
            # IPv6 first, no answer; IPv4 starts after 250 ms and wins.
            self.assertGreaterEqual(took, 0.2)
            self.assertLess(took, 2.0)
            lines = p.wait_access_lines(1)
            self.assertIn(f"(127.0.0.1:{self.jam.port})", lines[-1])
        finally:
            p.cleanup()

    def test_a_lost_aaaa_answer_costs_the_resolution_delay(self):
        # The AAAA query is never answered (the resolver would retry it for
        # 2 s and more); the A answer is used 50 ms after it came.
        for prefer in ("system", "ipv6"):
            p = self.proxy(f"prefer = {prefer}\n")
            try:
                ok, took = self.timed_connect(p, "www.noaaaa.test")
                self.assertTrue(ok, p.log_text())
                self.assertLess(took, 1.0, prefer)
                lines = p.wait_access_lines(1)
                self.assertIn(f"(127.0.0.1:{self.jam.port})", lines[-1])
            finally:
                p.cleanup()

    def test_a_late_ipv4_answer_joins_the_race(self):
        # AAAA at once (::1, which blackholes), A 300 ms later: the IPv4
        # address joins the race when it comes, instead of the lookup
        # ending without it after the 50 ms resolution delay.
        p = self.proxy("prefer = ipv6\nhappy_eyeballs_delay = 250ms\n")
        try:
            ok, took = self.timed_connect(p, "www.slowa.test")
            self.assertTrue(ok, p.log_text())
            self.assertGreaterEqual(took, 0.25)
            self.assertLess(took, 2.0)
            lines = p.wait_access_lines(1)
            self.assertIn(f"(127.0.0.1:{self.jam.port})", lines[-1])
            # ::1 refuses at once (nothing listens there): the CONNECT waits
            # for the late family instead of failing.
            srv, port = harness.start_server(harness.EchoHandler)
            try:
                s, rep = socks_connect(p.port, "www.slowa.test", port)
                with s:
                    self.assertEqual(rep, 0, p.log_text())
                    self.assertTrue(echo_works(s))
            finally:
                stop_server(srv)
        finally:
            p.cleanup()

    def test_prefer_ipv4_connects_at_once(self):
        p = self.proxy("prefer = ipv4\nhappy_eyeballs_delay = 2s\n")
        try:
            ok, took = self.timed_connect(p)
            self.assertTrue(ok, p.log_text())
            self.assertLess(took, 1.0)
        finally:
            p.cleanup()

    def test_a_long_delay_waits_for_it(self):
        # The delay is what the fallback costs: 1.5 s here.
        p = self.proxy("prefer = ipv6\nhappy_eyeballs_delay = 1500ms\n")
        try:
            ok, took = self.timed_connect(p)
            self.assertTrue(ok, p.log_text())
            self.assertGreaterEqual(took, 1.4)
            self.assertLess(took, 4.0)
        finally:
            p.cleanup()

    def test_every_address_dead_fails_within_the_timeout(self):
        # Only the jammed IPv6 address: the connect timeout (3 s) ends it
        # with REP 0x06 (a timeout, docs/socks5.md).
        p = Proxy()
        try:
            t0 = time.monotonic()
            s, rep = socks_connect(p.port, "::1", self.jam.port)
            took = time.monotonic() - t0
            s.close()
            self.assertEqual(rep, 6)
            self.assertGreaterEqual(took, 2.8)
            self.assertLess(took, 5.0)
        finally:
            p.cleanup()


if __name__ == "__main__":
    unittest.main()
