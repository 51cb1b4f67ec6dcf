"""Integration tests of the reload over the admin plane (docs/admin-protocols.md,
"Reload"): `proxyctl reload` against the real proxy after editing its config
file. A new [rules] block rule refuses new SOCKS connections at once while a
tunnel opened before keeps relaying; a broken file is refused with its
FILE:LINE, proxyctl exits 1 and the running rules stay; admin reloads and
SIGHUP at once all end; RELOADING=1/READY=1 around an admin reload as around
SIGHUP."""

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import unittest

from harness import (EchoHandler, Proxy, free_udp_port, recv_exact,
                     socks_connect, start_server, stop_server)
from test_ops import NotifySocket

PROXYCTL = os.environ.get("PROXYCTL_BIN", "")


def admin_conf(udp_port):
    return (f"transport = udp\nudp_port = {udp_port}\n"
            "spcp_listen = off\nmanager_listen = 127.0.0.1:9091\n")


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.udp_port = free_udp_port()
        self.echo, self.echo_port = start_server(EchoHandler)
        self.other, self.other_port = start_server(EchoHandler)
        self.notify = NotifySocket()
        self.proxy = Proxy(admin=admin_conf(self.udp_port), listen6=False,
                           env={"NOTIFY_SOCKET": self.notify.path})
        self.assertEqual(self.notify.next().get("READY"), "1")

    def tearDown(self):
        self.proxy.cleanup()
        self.notify.close()
        stop_server(self.echo)
        stop_server(self.other)

    def ctl(self, *args):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        return subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port), *args],
                              capture_output=True, text=True, env=env, timeout=90,
                              stdin=subprocess.DEVNULL)

    def append_config(self, text):
        """Appends `text` to the config file; the line number of its first line."""
        with open(self.proxy.config) as f:
            first = len(f.read().splitlines()) + 1
        with open(self.proxy.config, "a") as f:
            f.write(text)
        return first

    def rep(self, port):
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", port)
        s.close()
        return rep

    def reload_ok(self):
        """proxyctl reload succeeds; RELOADING=1 then READY=1 come around it."""
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr + self.proxy.log_text())
        self.assertEqual(r.stdout.strip(), "reloaded " + self.proxy.config)
        self.assertEqual(self.notify.next().get("RELOADING"), "1")
        self.assertEqual(self.notify.next().get("READY"), "1")
        return r

    def test_new_rule_applies_to_new_connections_and_keeps_open_tunnels(self):
        live, rep = socks_connect(self.proxy.port, "127.0.0.1", self.echo_port)
        self.assertEqual(rep, 0)
        self.assertEqual(self.rep(self.echo_port), 0)
        self.append_config(f"\n[rules]\nrule = block port={self.echo_port}\n")
        self.reload_ok()
        # (a) the new rule refuses a new connection at once (REP 0x02),
        # other destinations pass;
        self.assertEqual(self.rep(self.echo_port), 0x02)
        self.assertEqual(self.rep(self.other_port), 0)
        # (b) the tunnel opened before the reload keeps relaying.
        live.sendall(b"still here")
        self.assertEqual(recv_exact(live, 10), b"still here")
        live.close()
        self.assertIn("Manager: reload asked for by 'admin'", self.proxy.log_text())

    def test_broken_file_is_refused_with_its_line_and_the_old_rules_stay(self):
        self.append_config(f"\n[rules]\nrule = block port={self.echo_port}\n")
        self.reload_ok()
        live, rep = socks_connect(self.proxy.port, "127.0.0.1", self.other_port)
        self.assertEqual(rep, 0)
        # (c) a syntax error: a line that is neither a section, a key nor a
        # comment.
        line = self.append_config("this line is not ini\n")
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("invalid configuration", r.stderr)
        self.assertRegex(r.stderr, re.escape(f"{self.proxy.config}:{line}:"))
        self.assertEqual(r.stdout, "")
        self.assertEqual(self.notify.next().get("RELOADING"), "1")
        self.assertEqual(self.notify.next().get("READY"), "1")
        self.assertTrue(self.proxy.alive())
        self.assertIn("reload failed", self.proxy.log_text())
        # The running rules stay: still blocked, others still pass, the
        # open tunnel still relays.
        self.assertEqual(self.rep(self.echo_port), 0x02)
        self.assertEqual(self.rep(self.other_port), 0)
        live.sendall(b"ping")
        self.assertEqual(recv_exact(live, 4), b"ping")
        live.close()
        # --json says the same.
        r = self.ctl("reload", "--json")
        self.assertEqual(r.returncode, 1)
        out = json.loads(r.stdout)
        self.assertFalse(out["ok"])
        self.assertEqual(out["status"], "invalid configuration")
        self.assertIn(f"{self.proxy.config}:{line}:", out["message"])

    def test_admin_reloads_and_sighup_at_once_all_end(self):
        self.append_config(f"\n[rules]\nrule = block port={self.echo_port}\n")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            runs = [pool.submit(self.ctl, "reload") for _ in range(4)]
            self.proxy.proc.send_signal(signal.SIGHUP)
            results = [f.result() for f in runs]
        for r in results:
            self.assertEqual(r.returncode, 0, r.stderr + self.proxy.log_text())
            self.assertEqual(r.stdout.strip(), "reloaded " + self.proxy.config)
        self.assertTrue(self.proxy.alive())
        self.assertEqual(self.rep(self.echo_port), 0x02)
        # Every reload ran alone: as many "reloading" lines as "reloaded".
        text = self.proxy.log_text()
        self.assertEqual(text.count("INFO reloading "), text.count("INFO reloaded "))

    def test_reload_needs_an_admin(self):
        env = dict(os.environ, PROXYCTL_PASSWORD="demo")
        r = subprocess.run([PROXYCTL, "--udp-port", str(self.udp_port), "--user", "demo",
                            "reload"], capture_output=True, text=True, env=env,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertNotIn("reloading", self.proxy.log_text())


if __name__ == "__main__":
    unittest.main()
