"""Integration tests of user management (docs/admin-protocols.md, "User
management"): proxyctl users del / passwd against the real proxy, open
tunnels closed on delete, remembered logins forgotten, the users file after
each change and after a restart, and a delete by editing the file + SIGHUP."""

import os
import signal
import subprocess
import time
import unittest

from harness import (EchoHandler, Proxy, free_udp_port, recv_exact,
                     socks_connect, start_server, stop_server, hash_user)

PROXYCTL = os.environ.get("PROXYCTL_BIN", "")


def admin_conf(udp_port):
    return (f"transport = udp\nudp_port = {udp_port}\n"
            "spcp_listen = off\nmanager_listen = 127.0.0.1:9091\n")


class UsersTest(unittest.TestCase):
    extra_socks = ""

    def setUp(self):
        self.udp_port = free_udp_port()
        self.echo, self.echo_port = start_server(EchoHandler)
        self.proxy = Proxy(admin=admin_conf(self.udp_port), extra_socks=self.extra_socks)

    def tearDown(self):
        self.proxy.cleanup()
        stop_server(self.echo)

    def ctl(self, *args, new_password=None):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        if new_password is not None:
            env["PROXYCTL_NEW_PASSWORD"] = new_password
        return subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port), *args],
                              capture_output=True, text=True, env=env, timeout=30,
                              stdin=subprocess.DEVNULL)

    def tunnel(self, user="demo", password="demo"):
        """An open CONNECT tunnel to the echo server, checked to echo."""
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.echo_port, user, password)
        self.assertEqual(rep, 0)
        s.sendall(b"ping")
        self.assertEqual(recv_exact(s, 4), b"ping")
        return s

    def login_ok(self, user, password):
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.echo_port, user, password)
        s.close()
        return rep == 0

    def closed_within(self, s, seconds):
        """True when the proxy closes `s` within `seconds` (EOF or reset)."""
        s.settimeout(seconds)
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True
        except OSError:
            return False  # timed out: still open

    def users_file(self):
        with open(self.proxy.users) as f:
            return f.read()

    def test_delete_closes_the_open_tunnel_and_refuses_the_next_login(self):
        s = self.tunnel()
        self.assertTrue(self.login_ok("demo", "demo"))  # remembered from now on
        start = time.monotonic()
        r = self.ctl("users", "del", "demo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.closed_within(s, 1.0), "tunnel still open")
        self.assertLess(time.monotonic() - start, 2.0)
        s.close()
        self.assertFalse(self.login_ok("demo", "demo"))
        self.assertNotIn("demo:", self.users_file())
        self.assertIn("admin:admin:", self.users_file())
        self.assertNotIn("demo", self.ctl("users", "list").stdout.split())
        # Again: no such user (exit 1, refused), and admins are refused.
        r = self.ctl("users", "del", "demo")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user", r.stderr)
        r = self.ctl("users", "del", "admin")
        self.assertEqual(r.returncode, 1)
        self.assertIn("forbidden", r.stderr)
        self.assertIn("admin:admin:", self.users_file())

    def test_passwd_refuses_the_old_password_and_keeps_open_sessions(self):
        s = self.tunnel()
        self.assertTrue(self.login_ok("demo", "demo"))  # the login is remembered
        before = self.users_file()
        r = self.ctl("users", "passwd", "demo", new_password="n3w-pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.login_ok("demo", "demo"))
        self.assertTrue(self.login_ok("demo", "n3w-pw"))
        self.assertTrue(self.login_ok("demo", "n3w-pw"))
        # The open tunnel stays (documented decision).
        s.sendall(b"pong")
        self.assertEqual(recv_exact(s, 4), b"pong")
        s.close()
        after = self.users_file()
        self.assertNotEqual(before, after)
        self.assertIn("demo:socks:$y$", after)
        self.assertNotIn("n3w-pw", after)
        r = self.ctl("users", "passwd", "nobody", new_password="x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user", r.stderr)

    def test_changes_survive_a_restart(self):
        self.assertEqual(self.ctl("users", "add", "erin", new_password="er1n").returncode, 0)
        self.assertEqual(self.ctl("users", "passwd", "erin", new_password="er1n-2").returncode, 0)
        self.assertEqual(self.ctl("users", "del", "demo").returncode, 0)
        lines = sorted(l.split(":")[0] for l in self.users_file().splitlines()
                       if not l.startswith("#"))
        self.assertEqual(lines, ["admin", "erin"])
        self.proxy.restart()
        self.assertFalse(self.login_ok("demo", "demo"))
        self.assertFalse(self.login_ok("erin", "er1n"))
        self.assertTrue(self.login_ok("erin", "er1n-2"))

    def test_a_user_removed_from_the_file_is_cut_off_on_sighup(self):
        s = self.tunnel()
        self.assertTrue(self.login_ok("demo", "demo"))
        with open(self.proxy.users, "w") as f:
            f.write(hash_user("admin", "admin", "admin") + "\n")
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.closed_within(s, 2.0), "tunnel still open after SIGHUP")
        s.close()
        self.assertFalse(self.login_ok("demo", "demo"))


class KeepSessionsTest(UsersTest):
    """on_user_delete = keep: the tunnel stays, the login is refused."""
    extra_socks = "on_user_delete = keep\n"

    def test_delete_closes_the_open_tunnel_and_refuses_the_next_login(self):
        s = self.tunnel()
        self.assertEqual(self.ctl("users", "del", "demo").returncode, 0)
        self.assertFalse(self.closed_within(s, 0.5))
        s.sendall(b"kept")
        self.assertEqual(recv_exact(s, 4), b"kept")
        s.close()
        self.assertFalse(self.login_ok("demo", "demo"))

    test_passwd_refuses_the_old_password_and_keeps_open_sessions = None
    test_changes_survive_a_restart = None
    test_a_user_removed_from_the_file_is_cut_off_on_sighup = None


if __name__ == "__main__":
    unittest.main()
