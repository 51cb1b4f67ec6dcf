"""Integration tests of the Manager protocol and the user registry's
persistence: the real proxy, proxyctl over SCTP-in-UDP, curl, and SIGKILL."""

import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (EchoHandler, HttpHandler, Proxy, free_udp_port, pattern,
                     recv_exact, recv_until_eof, socks_connect, start_server,
                     stop_server)

PROXYCTL = os.environ.get("PROXYCTL_BIN", "")
PROXY = os.environ.get("PROXY_BIN", "")


def admin_conf(udp_port):
    return (f"transport = udp\nudp_port = {udp_port}\n"
            "spcp_listen = 127.0.0.1:9090\nmanager_listen = 127.0.0.1:9091\n")


class ManagerTest(unittest.TestCase):
    def setUp(self):
        self.udp_port = free_udp_port()
        self.http, self.http_port = start_server(HttpHandler)
        self.proxy = Proxy(admin=admin_conf(self.udp_port))

    def tearDown(self):
        self.proxy.cleanup()
        stop_server(self.http)

    def ctl(self, *args, new_password=None, timeout=30):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        if new_password is not None:
            env["PROXYCTL_NEW_PASSWORD"] = new_password
        return subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port), *args],
                              capture_output=True, text=True, env=env,
                              timeout=timeout)

    def curl(self, user, password, port=None):
        return subprocess.run(
            ["curl", "-sS", "--max-time", "15", "--socks5-hostname",
             f"{user}:{password}@127.0.0.1:{port or self.proxy.port}",
             f"http://127.0.0.1:{self.http_port}/321"],
            capture_output=True, timeout=30)

    def test_added_user_works_at_once_and_after_restart(self):
        r = self.ctl("users", "add", "frank", new_password="fr4nk-pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.curl("frank", "fr4nk-pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(321))
        self.assertIn("frank", self.ctl("users", "list").stdout.split())
        text = open(self.proxy.users).read()
        self.assertIn("frank:socks:$y$", text)
        self.assertNotIn("fr4nk-pw", text)
        # A real restart: same config, same users file.
        users = self.proxy.users
        self.proxy.restart()
        port = self.proxy.port
        r = self.curl("frank", "fr4nk-pw", port)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, pattern(321))
        self.assertIn("frank", open(users).read())

    def test_duplicate_and_invalid_adds_are_refused(self):
        self.assertEqual(self.ctl("users", "add", "gina", new_password="x").returncode, 0)
        r = self.ctl("users", "add", "gina", new_password="y")
        self.assertEqual(r.returncode, 1)
        self.assertIn("user exists", r.stderr)
        r = self.ctl("users", "add", "bad:name", new_password="y")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid value", r.stderr)

    def test_manager_metrics_and_wrong_login(self):
        self.curl("demo", "demo")
        time.sleep(0.4)  # byte counters reach the metrics actor every 250 ms
        r = self.ctl("--json", "manager-metrics")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r'"historical": [1-9]\d*, "active": \d+, "bytes": [1-9]\d*')
        env = dict(os.environ, PROXYCTL_PASSWORD="wrong")
        r = subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port), "users", "list"],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 3)

    def test_max_clients_over_the_protocol(self):
        echo, port = start_server(EchoHandler)
        try:
            s1, rep = socks_connect(self.proxy.port, "127.0.0.1", port)
            self.assertEqual(rep, 0)
            s2, rep = socks_connect(self.proxy.port, "127.0.0.1", port)
            self.assertEqual(rep, 0)
            r = self.ctl("max-clients", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            # Existing connections are not cut.
            for s in (s1, s2):
                s.sendall(b"still here")
                self.assertEqual(recv_exact(s, 10), b"still here")
            # A new client is refused at once.
            s3 = socket.create_connection(("127.0.0.1", self.proxy.port), 5)
            self.assertEqual(recv_until_eof(s3, 3), b"")
            s3.close()
            self.assertIn("max clients set to 1", self.proxy.log_text())
            s1.close()
            s2.close()
            self.assertEqual(self.ctl("max-clients", "100").returncode, 0)
        finally:
            stop_server(echo)

    def test_sigkill_during_a_burst_of_adds_loses_nothing_acknowledged(self):
        acked, lock = [], threading.Lock()

        def worker(w):
            for i in range(40):
                name = f"burst{w}x{i}"
                try:
                    r = self.ctl("--timeout", "3000", "users", "add", name,
                                 new_password="pw", timeout=10)
                except subprocess.TimeoutExpired:
                    return
                if r.returncode == 0:
                    with lock:
                        acked.append(name)
                elif r.returncode == 4:
                    return  # the proxy is gone

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while time.time() < deadline and len(acked) < 8:
            time.sleep(0.05)
        self.proxy.proc.send_signal(signal.SIGKILL)
        self.proxy.proc.wait(5)
        for t in threads:
            t.join(30)
        self.assertGreaterEqual(len(acked), 8)
        # The file is valid (the proxy's own check accepts it) ...
        r = subprocess.run([PROXY, "--config", self.proxy.config, "--check"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        # ... and holds every acknowledged user.
        names = {line.split(":")[0] for line in open(self.proxy.users)
                 if line.strip() and not line.startswith("#")}
        missing = [n for n in acked if n not in names]
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
