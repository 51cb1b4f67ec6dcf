"""Integration tests: the real proxy binary driven by curl, PySocks,
proxychains and a raw SOCKS5 client. Run by CTest (see tests/CMakeLists.txt)
or by hand: PROXY_BIN=build/actors/proxy python3 -m unittest -v test_proxy"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import socks  # python3-socks (PySocks)

from harness import (PASSWORD, USER, EchoHandler, HttpHandler, Proxy,
                     auth, closed_port, connect_request, greeting, pattern,
                     read_reply, recv_exact, recv_until_eof, run_proxy_config,
                     sha256, socks_connect, start_server, stop_server)


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args],
                          capture_output=True, timeout=timeout)


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http, cls.http_port = start_server(HttpHandler)
        cls.http6, cls.http6_port = start_server(HttpHandler, v6=True)
        cls.echo, cls.echo_port = start_server(EchoHandler)
        cls.proxy = Proxy()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        for srv in (cls.http, cls.http6, cls.echo):
            stop_server(srv)

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    # -- real clients ---------------------------------------------------------

    def test_curl_socks5_hostname(self):
        r = curl("--socks5-hostname", f"{USER}:{PASSWORD}@127.0.0.1:{self.proxy.port}",
                 f"http://localhost:{self.http_port}/1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(1000))

    def test_curl_ipv6_proxy_and_target(self):
        r = curl("--socks5", f"{USER}:{PASSWORD}@[::1]:{self.proxy.port6}",
                 f"http://[::1]:{self.http6_port}/777")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(777))

    def test_curl_large_download(self):
        n = 8 * 1024 * 1024
        r = curl("--socks5-hostname", f"{USER}:{PASSWORD}@127.0.0.1:{self.proxy.port}",
                 f"http://127.0.0.1:{self.http_port}/{n}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256(r.stdout), sha256(pattern(n)))

    def test_curl_wrong_password_fails(self):
        r = curl("--socks5-hostname", f"{USER}:wrong@127.0.0.1:{self.proxy.port}",
                 f"http://localhost:{self.http_port}/")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")

    def test_pysocks_echo(self):
        s = socks.socksocket()
        s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port, rdns=True,
                    username=USER, password=PASSWORD)
        s.settimeout(10)
        s.connect(("localhost", self.echo_port))
        s.sendall(b"ping through pysocks")
        self.assertEqual(recv_exact(s, 20), b"ping through pysocks")
        s.close()

    def test_pysocks_wrong_password(self):
        s = socks.socksocket()
        s.set_proxy(socks.SOCKS5, "127.0.0.1", self.proxy.port,
                    username=USER, password="bad")
        s.settimeout(10)
        with self.assertRaises(socks.ProxyError) as ctx:
            s.connect(("127.0.0.1", self.echo_port))
        self.assertIn("authentication failed", str(ctx.exception))
        s.close()

    @unittest.skipUnless(shutil.which("proxychains4"), "proxychains4 not installed")
    def test_proxychains_curl(self):
        conf = os.path.join(self.proxy.dir, "proxychains.conf")
        with open(conf, "w") as f:
            f.write("strict_chain\nquiet_mode\nproxy_dns\ntcp_read_time_out 15000\n"
                    "tcp_connect_time_out 8000\n[ProxyList]\n"
                    f"socks5 127.0.0.1 {self.proxy.port} {USER} {PASSWORD}\n")
        r = subprocess.run(["proxychains4", "-q", "-f", conf, "curl", "-sS",
                            "--max-time", "20",
                            f"http://127.0.0.1:{self.http_port}/4321"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(4321))

    # -- reply codes ----------------------------------------------------------

    def test_refused_destination_gets_0x05(self):
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", closed_port())
        self.assertEqual(rep, 0x05)
        self.assertEqual(recv_until_eof(s), b"")
        s.close()

    def test_unresolvable_name_gets_0x04(self):
        s, rep = socks_connect(self.proxy.port, "no-such-host.invalid", 80)
        self.assertEqual(rep, 0x04)
        s.close()

    def test_unknown_commands_get_0x07(self):
        for cmd in (0, 4, 0x7F):
            s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
            s.sendall(greeting() + auth() + connect_request("127.0.0.1", 0, cmd))
            self.assertEqual(recv_exact(s, 4), b"\x05\x02\x01\x00")
            rep = read_reply(s)
            self.assertEqual(rep[0], 0x07)
            s.close()

    def test_bad_address_type_gets_0x08(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(greeting() + auth() + b"\x05\x01\x00\x07\x00\x00")
        self.assertEqual(recv_exact(s, 4), b"\x05\x02\x01\x00")
        rep = read_reply(s)
        self.assertEqual(rep[0], 0x08)
        s.close()

    def test_no_acceptable_method(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(greeting((0,)))  # no-auth only; the proxy requires userpass
        self.assertEqual(recv_exact(s, 2), b"\x05\xff")
        self.assertEqual(recv_until_eof(s), b"")
        s.close()

    def test_wrong_password_raw(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(greeting() + auth(USER, "nope"))
        self.assertEqual(recv_exact(s, 4), b"\x05\x02\x01\x01")
        self.assertEqual(recv_until_eof(s), b"")
        s.close()

    # -- framing edge cases ---------------------------------------------------

    def test_byte_by_byte_handshake(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msgs = [greeting(), auth(), connect_request("127.0.0.1", self.echo_port)]
        expected = [2, 2, None]
        for msg, want in zip(msgs, expected):
            for b in msg:
                s.send(bytes([b]))
                time.sleep(0.002)
            if want:
                self.assertEqual(len(recv_exact(s, want)), want)
        rep = read_reply(s)
        self.assertEqual(rep[0], 0)
        s.sendall(b"after bytewise")
        self.assertEqual(recv_exact(s, 14), b"after bytewise")
        s.close()

    def test_pipelined_handshake_and_data(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(greeting() + auth() + connect_request("127.0.0.1", self.echo_port)
                  + b"early data")
        self.assertEqual(recv_exact(s, 4), b"\x05\x02\x01\x00")
        rep = read_reply(s)
        self.assertEqual(rep[0], 0)
        self.assertEqual(recv_exact(s, 10), b"early data")
        s.close()

    def test_garbage_is_closed_and_proxy_survives(self):
        for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00",
                     b"\x05\x00", b"\x05\x01\x02\x02\x00\x01x",
                     b"\x05\x01\x02\x01\x01a\x01b\x05\x01\x00\x03\x00\x00\x50",
                     os.urandom(3000)):
            s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
            try:
                s.sendall(junk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            recv_until_eof(s)
            s.close()
        self.test_pysocks_echo()

    def test_silent_client_is_closed_after_handshake_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        t0 = time.time()
        self.assertEqual(recv_until_eof(s, timeout=8), b"")
        elapsed = time.time() - t0
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6)
        s.close()

    def test_slow_partial_greeting_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s.sendall(b"\x05\x02\x02")  # promises two methods, sends one
        t0 = time.time()
        self.assertEqual(recv_until_eof(s, timeout=8), b"")
        self.assertLess(time.time() - t0, 6)
        s.close()

    # -- data plane -----------------------------------------------------------

    def _echo_roundtrip(self, total, proxy_host="127.0.0.1", port=None):
        s, rep = socks_connect(port or self.proxy.port, "127.0.0.1", self.echo_port,
                               proxy_host=proxy_host)
        self.assertEqual(rep, 0)
        data = os.urandom(1 << 20) * (total >> 20) if total >= (1 << 20) else os.urandom(total)
        received = []

        def reader():
            s.settimeout(60)
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                received.append(chunk)

        t = threading.Thread(target=reader)
        t.start()
        view = memoryview(data)
        for i in range(0, len(data), 1 << 20):
            s.sendall(view[i:i + (1 << 20)])
        s.shutdown(socket.SHUT_WR)  # half-close: the echo still comes back
        t.join(90)
        s.close()
        got = b"".join(received)
        self.assertEqual(len(got), len(data))
        self.assertEqual(sha256(got), sha256(data))

    def test_64mib_each_way_with_half_close(self):
        self._echo_roundtrip(64 << 20)

    def test_half_close_server_side(self):
        """The target sends its answer and closes its write side while the
        client still has nothing more to send; the client sees EOF."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def serve():
            c, _ = srv.accept()
            c.sendall(b"banner")
            c.shutdown(socket.SHUT_WR)
            data = recv_until_eof(c, 10)
            c.close()
            result["data"] = data

        result = {}
        t = threading.Thread(target=serve)
        t.start()
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", port)
        self.assertEqual(rep, 0)
        self.assertEqual(recv_until_eof(s, 10), b"banner")  # EOF from target
        s.sendall(b"still talking")  # our direction is still open
        s.shutdown(socket.SHUT_WR)
        t.join(10)
        s.close()
        srv.close()
        self.assertEqual(result.get("data"), b"still talking")

    def test_many_concurrent_connections(self):
        errors = []

        def one(i):
            phase = "handshake"
            try:
                s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.echo_port)
                if rep != 0:
                    errors.append(f"{i}: rep {rep}")
                    return
                phase = "echo"
                msg = f"conn {i}".encode() * 50
                s.sendall(msg)
                if recv_exact(s, len(msg), 20) != msg:
                    errors.append(f"{i}: bad echo")
                s.close()
            except Exception as e:  # noqa: BLE001 -- collect every failure
                errors.append(f"{i} ({phase}): {e!r}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])

    # -- operations -----------------------------------------------------------

    def test_access_log_has_user_and_never_password(self):
        marker_port = closed_port()
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", marker_port)
        s.close()
        s2 = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
        s2.sendall(greeting() + auth(USER, "s3cr3t-marker"))
        recv_until_eof(s2)
        s2.close()
        deadline = time.time() + 5
        while time.time() < deadline and f":{marker_port}" not in self.proxy.access_text():
            time.sleep(0.05)
        text = self.proxy.access_text()
        line = [l for l in text.splitlines() if f":{marker_port}" in l]
        self.assertEqual(len(line), 1, text)
        self.assertIn("user=demo", line[0])
        self.assertIn("result=connect-refused", line[0])
        self.assertRegex(line[0], r"client=127\.0\.0\.1:\d+ .* up=0 down=0 ms=\d+")
        time.sleep(0.3)
        everything = self.proxy.access_text() + self.proxy.log_text()
        self.assertNotIn("s3cr3t-marker", everything)


class LifecycleTest(unittest.TestCase):
    def test_max_clients_refuses_at_once(self):
        echo, port = start_server(EchoHandler)
        p = Proxy(extra_socks="max_clients = 1\n")
        try:
            s1, rep = socks_connect(p.port, "127.0.0.1", port)
            self.assertEqual(rep, 0)
            s2 = socket.create_connection(("127.0.0.1", p.port), 5)
            t0 = time.time()
            try:
                s2.sendall(greeting())
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertEqual(recv_until_eof(s2), b"")
            self.assertLess(time.time() - t0, 1.5)
            s2.close()
            s1.sendall(b"first still works")
            self.assertEqual(recv_exact(s1, 17), b"first still works")
            s1.close()
            # Once the first ends, a new client gets in.
            deadline = time.time() + 5
            rep = None
            while time.time() < deadline:
                try:
                    s3, rep = socks_connect(p.port, "127.0.0.1", port)
                    s3.close()
                except (AssertionError, OSError):
                    rep = None  # still at the cap: closed at once
                if rep == 0:
                    break
                time.sleep(0.1)
            self.assertEqual(rep, 0)
        except AssertionError:
            raise
        finally:
            p.cleanup()
            stop_server(echo)

    def test_sigterm_with_open_connection_exits_zero_in_bound(self):
        echo, port = start_server(EchoHandler)
        p = Proxy()
        s, rep = socks_connect(p.port, "127.0.0.1", port)
        self.assertEqual(rep, 0)
        t0 = time.time()
        p.proc.send_signal(signal.SIGTERM)
        p.proc.wait(10)
        self.assertEqual(p.proc.returncode, 0)
        self.assertLess(time.time() - t0, 5)  # shutdown_grace = 2s
        self.assertEqual(recv_until_eof(s), b"")
        s.close()
        self.assertIn("shutting down", p.log_text())
        # New connections are refused.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", p.port), 2)
        p.cleanup()
        stop_server(echo)

    def test_sigint_idle_exits_zero(self):
        p = Proxy()
        p.proc.send_signal(signal.SIGINT)
        p.proc.wait(10)
        self.assertEqual(p.proc.returncode, 0)
        p.cleanup()

    def test_config_error_names_file_line_key(self):
        p = Proxy()
        p.cleanup()
        bad = p.config + ".bad"
        os.makedirs(os.path.dirname(bad), exist_ok=True)
        with open(bad, "w") as f:
            f.write("[socks]\nlisten = 127.0.0.1:0\nusers_file = u\nbuffer_size = lots\n")
        r = subprocess.run([os.environ["PROXY_BIN"], "--config", bad],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{bad}:4: key 'buffer_size'", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_port_in_use_is_one_clear_line(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        p = Proxy()
        p.cleanup()
        cfg = p.config + ".busy"
        os.makedirs(os.path.dirname(cfg), exist_ok=True)
        with open(cfg, "w") as f:
            f.write(f"[socks]\nlisten = 127.0.0.1:{port}\nauth = none\n"
                    "[admin]\nspcp_listen = off\nmanager_listen = off\n"
                    "[prometheus]\nlisten = off\n")
        r = subprocess.run([os.environ["PROXY_BIN"], "--config", cfg],
                           capture_output=True, text=True, timeout=10)
        blocker.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"127.0.0.1:{port}: Address already in use", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_a_taken_second_listen_address_ends_the_start(self):
        # The first listener is open when the second fails: the proxy must
        # let go of it and exit (it used to hang in the actor system's end).
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            r = run_proxy_config(
                f"[socks]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:{port}\n"
                "auth = none\n[admin]\nspcp_listen = off\nmanager_listen = off\n"
                "[prometheus]\nlisten = off\n")
        finally:
            blocker.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"127.0.0.1:{port}: Address already in use", r.stderr)

    def test_second_proxy_on_the_same_port_is_refused(self):
        # Our listeners use SO_REUSEPORT (one per loop): a second proxy
        # started on the same port by mistake must still fail, not share it.
        p = Proxy(listen6=False)
        try:
            cfg = p.config + ".twin"
            with open(cfg, "w") as f:
                f.write(f"[socks]\nlisten = 127.0.0.1:{p.port}\nauth = none\n"
                        "[server]\nthreads = 2\n"
                        "[admin]\nspcp_listen = off\nmanager_listen = off\n"
                        "[prometheus]\nlisten = off\n")
            r = subprocess.run([os.environ["PROXY_BIN"], "--config", cfg],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"127.0.0.1:{p.port}: Address already in use", r.stderr)
        finally:
            p.cleanup()

    def test_no_auth_mode(self):
        echo, port = start_server(EchoHandler)
        p = Proxy(extra_socks="auth = none\n")
        try:
            s = socks.socksocket()
            s.set_proxy(socks.SOCKS5, "127.0.0.1", p.port)
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            s.sendall(b"anonymous")
            self.assertEqual(recv_exact(s, 9), b"anonymous")
            s.close()
        finally:
            p.cleanup()
            stop_server(echo)

    def test_deny_destination_gets_0x02(self):
        p = Proxy(extra_socks="deny_destination = 127.0.0.0/8\n"
                              "deny_destination = ::1/128\n")
        try:
            s, rep = socks_connect(p.port, "127.0.0.1", 80)
            self.assertEqual(rep, 0x02)
            s.close()
            s, rep = socks_connect(p.port, "localhost", 80)  # checked after DNS
            self.assertEqual(rep, 0x02)
            s.close()
        finally:
            p.cleanup()

    def test_sighup_reloads_users(self):
        echo, port = start_server(EchoHandler)
        p = Proxy()
        try:
            from harness import hash_user
            with open(p.users, "a") as f:
                f.write(hash_user("carol", "pw-carol") + "\n")
            s, rep = socks_connect(p.port, "127.0.0.1", port, "carol", "pw-carol")
            self.assertIsNone(rep)  # not yet known
            s.close()
            p.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline and "users reloaded" not in p.log_text():
                time.sleep(0.05)
            s, rep = socks_connect(p.port, "127.0.0.1", port, "carol", "pw-carol")
            self.assertEqual(rep, 0)
            s.close()
            # A broken file keeps the previous users.
            with open(p.users, "a") as f:
                f.write("broken line\n")
            p.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 5
            while time.time() < deadline and "reload failed" not in p.log_text():
                time.sleep(0.05)
            self.assertIn("reload failed", p.log_text())
            s, rep = socks_connect(p.port, "127.0.0.1", port, "carol", "pw-carol")
            self.assertEqual(rep, 0)
            s.close()
            self.assertTrue(p.alive())
        finally:
            p.cleanup()
            stop_server(echo)


if __name__ == "__main__":
    unittest.main()
