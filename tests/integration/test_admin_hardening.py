"""The admin plane against hostile clients (the hardening issue's findings
1-3): a client that floods SPCP requests and never reads, an association
that never logs in, password guessing from one address, and what sockets
the proxy holds. The real proxy over SCTP-in-UDP, driven by proxyctl and
admin_probe (a raw usrsctp client built with the tests)."""

import os
import re
import socket
import subprocess
import time
import unittest

import test_admin
from harness import Proxy, free_udp_port

PROXYCTL = os.environ.get("PROXYCTL_BIN", "")
PROBE = os.environ.get("ADMIN_PROBE_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(PROXYCTL or "."))),
    "tests", "admin_probe")

RSS_LIMIT_KB = 64 * 1024
# What a flood may add (also checked in sanitizer builds, whose idle proxy
# alone is past RSS_LIMIT_KB).
GROWTH_LIMIT_KB = 32 * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else 0


def sanitized(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def socket_inodes(pid):
    """The inode of every socket the process holds, with its fd."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            out[m.group(1)] = int(fd)
    return out


def proc_net(table):
    """(local address, port, inode) of every entry of /proc/net/<table>."""
    rows = []
    with open(f"/proc/net/{table}") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, port = fields[1].split(":")
            if len(addr) == 8:
                ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1])
            else:
                raw = bytes.fromhex(addr)
                ip = socket.inet_ntop(socket.AF_INET6, b"".join(
                    raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            rows.append((ip, int(port, 16), fields[9]))
    return rows


class AdminHardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.udp_port = free_udp_port()
        # Under ASan, freed memory waits in a 256 MB quarantine: RSS would
        # measure the quarantine, not what the proxy holds.
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "quarantine_size_mb=0"
        try:
            cls.proxy = Proxy(admin=f"transport = udp\nudp_port = {cls.udp_port}\n"
                                    "spcp_listen = 127.0.0.1:9090\n"
                                    "manager_listen = [::1]:9091\n")
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "proxy died:\n" + self.proxy.log_text())

    ctl = test_admin.AdminTest.ctl  # proxyctl as admin, on self.udp_port

    def probe(self, *args, source=None, timeout=60):
        cmd = [PROBE, "--udp-port", str(self.udp_port)]
        if source:
            cmd += ["--source", source]
        return subprocess.run(cmd + list(args), capture_output=True, text=True,
                              timeout=timeout)

    def login_attempt(self, password, source=None):
        """One association: USER admin, PASS password; the PASS reply."""
        user = "0001" + "05" + b"admin".hex()
        pw = password.encode()
        r = self.probe("send", user, "0101" + "%02x" % len(pw) + pw.hex(),
                       source=source)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout + r.stderr)
        return lines[1].split()[2]

    def test_flooding_without_reading_keeps_memory_bounded(self):
        pid = self.proxy.proc.pid
        before = rss_kb(pid)
        floods = [subprocess.Popen([PROBE, "--udp-port", str(self.udp_port),
                                    "--timeout", "300", "flood", "8"],
                                   stdout=subprocess.PIPE, text=True)
                  for _ in range(3)]
        peak = before
        while any(f.poll() is None for f in floods):
            peak = max(peak, rss_kb(pid))
            time.sleep(0.1)
        outputs = [f.communicate()[0] for f in floods]
        print(f"\nRSS before {before} kB, peak {peak} kB under 3 floods: {outputs}")
        self.assertLess(peak - before, GROWTH_LIMIT_KB, outputs)
        if not sanitized(pid):
            self.assertLess(peak, RSS_LIMIT_KB, outputs)
        sent = [int(re.search(r"sent (\d+)", o).group(1)) for o in outputs]
        self.assertTrue(all(n > 0 for n in sent), outputs)
        # Still serving admins.
        r = self.ctl("check")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_an_association_that_never_logs_in_is_closed(self):
        t0 = time.time()
        r = self.probe("idle", "14")
        m = re.match(r"closed after ([\d.]+) s", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertGreaterEqual(float(m.group(1)), 9.5)
        self.assertLess(time.time() - t0, 13)
        self.assertIn("did not log in within 10 s", self.proxy.log_text())

    def test_wrong_passwords_back_off_per_source(self):
        ok, refused = "0000", "0100"
        self.assertEqual(self.login_attempt("admin"), ok)  # a clean slate
        # Three failures cost nothing.
        for _ in range(3):
            self.assertEqual(self.login_attempt("wrong"), refused)
        # The fourth locks 127.0.0.1 for 1 s: even the right password is
        # refused, without a password check ...
        self.assertEqual(self.login_attempt("wrong"), refused)
        t0 = time.time()
        self.assertEqual(self.login_attempt("admin"), refused)
        self.assertLess(time.time() - t0, 0.9)
        self.assertIn("locked for 1 s", self.proxy.log_text())
        # ... but not another address.
        self.assertEqual(self.login_attempt("admin", source="127.0.0.2"), ok)
        time.sleep(1.1)
        # The fifth failure locks for 2 s: guesses get slower.
        self.assertEqual(self.login_attempt("wrong"), refused)
        time.sleep(1.1)
        self.assertEqual(self.login_attempt("admin"), refused)
        time.sleep(1.1)
        # After the back-off, the right password works and clears the record.
        self.assertEqual(self.login_attempt("admin"), ok)
        self.assertEqual(self.ctl("check").returncode, 0)

    def test_sockets_are_bound_to_the_admin_addresses_only(self):
        self.assertEqual(self.ctl("check").returncode, 0)
        self.assertEqual(self.ctl("--host", "::1", "users", "list").returncode, 0)
        pid = self.proxy.proc.pid
        mine = socket_inodes(pid)
        udp = sorted((ip, port) for t in ("udp", "udp6")
                     for ip, port, inode in proc_net(t) if inode in mine)
        raw = [(t, ip, port) for t in ("raw", "raw6")
               for ip, port, inode in proc_net(t) if inode in mine]
        self.assertEqual(raw, [])
        self.assertEqual(udp, [("127.0.0.1", self.udp_port), ("::1", self.udp_port)])
        # Every descriptor the proxy opened is close-on-exec (the
        # transformation's /bin/sh inherits nothing).
        for fd in os.listdir(f"/proc/{pid}/fdinfo"):
            if int(fd) <= 2:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = int(re.search(r"flags:\s+(\d+)", f.read()).group(1), 8)
            self.assertTrue(flags & 0o2000000,
                            f"fd {fd} ({os.readlink(f'/proc/{pid}/fd/{fd}')}) is not close-on-exec")


if __name__ == "__main__":
    unittest.main()
