"""Integration tests of running the proxy as a daemon: the sd_notify protocol
(without systemd: the test binds the unix datagram socket NOTIFY_SOCKET
names), SIGHUP reloads (valid and invalid files, rules, log level, a changed
listener), access log reopening after a rename (SIGUSR1, SIGHUP), the JSON
access log, journal priority prefixes, `transform_command = off`, and the
command lines of proxy and proxyctl."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (EchoHandler, Proxy, auth, free_udp_port, greeting,
                     recv_exact, socks_connect, start_server, stop_server)

PROXY = os.environ.get("PROXY_BIN", "")
PROXYCTL = os.environ.get("PROXYCTL_BIN", "")


class NotifySocket:
    """The service manager's end of sd_notify: a unix datagram socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="proxy-notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=15):
        """The next datagram as {KEY: VALUE}."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def socks_works(port, target_port):
    """A full SOCKS5 CONNECT through the proxy: the reply code (None: no reply)."""
    s, rep = socks_connect(port, "127.0.0.1", target_port)
    s.close()
    return rep


def socks_reply_once_admitted(port, target_port, timeout=10):
    """socks_works, retried while the proxy refuses the connection itself:
    with max_clients = 1 the slot of the previous client frees only once the
    proxy saw it close (closes are reported in batches)."""
    deadline = time.time() + timeout
    while True:
        try:
            return socks_works(port, target_port)
        except (ConnectionResetError, BrokenPipeError):
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def failed_login(port):
    """A login with a wrong password: the status byte the proxy answers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(greeting())
    recv_exact(s, 2)
    s.sendall(auth("demo", "wrong-password"))
    status = recv_exact(s, 2)
    s.close()
    return status


class DaemonTest(unittest.TestCase):
    """A proxy with NOTIFY_SOCKET set; each reload waits for its READY=1."""

    def setUp(self):
        self.echo, self.echo_port = start_server(EchoHandler)
        self.notify = NotifySocket()
        self.proxy = None

    def tearDown(self):
        if self.proxy:
            self.proxy.cleanup()
        self.notify.close()
        stop_server(self.echo)

    def start(self, **kw):
        self.proxy = Proxy(env={"NOTIFY_SOCKET": self.notify.path}, **kw)
        msg = self.notify.next()
        self.assertEqual(msg.get("READY"), "1", msg)
        return self.proxy

    def edit_config(self, old, new):
        with open(self.proxy.config) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.proxy.config, "w") as f:
            f.write(text.replace(old, new, 1))

    def reload(self):
        """SIGHUP; RELOADING=1 then READY=1 come back. Returns the READY one."""
        self.proxy.proc.send_signal(signal.SIGHUP)
        msg = self.notify.next()
        self.assertEqual(msg.get("RELOADING"), "1", msg)
        self.assertRegex(msg.get("MONOTONIC_USEC", ""), r"^\d+$")
        msg = self.notify.next()
        self.assertEqual(msg.get("READY"), "1", msg)
        return msg

    def test_ready_reloading_stopping(self):
        p = self.start()
        # READY=1 came after the listeners accept: a client gets through now.
        self.assertEqual(socks_works(p.port, self.echo_port), 0)
        self.reload()
        self.assertIn("reloaded", p.log_text())
        p.proc.send_signal(signal.SIGTERM)
        msg = self.notify.next()
        self.assertEqual(msg.get("STOPPING"), "1", msg)
        self.assertEqual(p.stop(), 0)

    def test_reload_applies_rules_limits_and_log_level(self):
        p = self.start()
        self.assertEqual(socks_works(p.port, self.echo_port), 0)
        self.edit_config("[socks]\n", "[socks]\ndeny_destination = 127.0.0.0/8\n"
                                      "max_clients = 1\n")
        self.edit_config("[server]\n", "[server]\nlog_level = warning\n")
        self.reload()
        text = p.log_text()
        self.assertRegex(text, r"reloading .*deny_destination")
        self.assertEqual(socks_reply_once_admitted(p.port, self.echo_port), 0x02)
        # max_clients = 1: a second client is refused while one is open.
        # (The refused client's slot frees when the proxy saw it close:
        # closes are reported in batches, so the first may need a retry.)
        deadline = time.time() + 10
        while True:
            first = socket.create_connection(("127.0.0.1", p.port), timeout=5)
            try:
                first.sendall(greeting())
                answer = recv_exact(first, 2)
            except (ConnectionResetError, BrokenPipeError, EOFError, OSError):
                answer = None
            if answer == b"\x05\x02" or time.time() > deadline:
                break
            first.close()
            time.sleep(0.05)
        self.assertEqual(answer, b"\x05\x02")
        second = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        second.settimeout(5)
        try:
            self.assertEqual(second.recv(10), b"")
        except ConnectionResetError:
            pass
        second.close()
        first.close()
        # Log level warning: a failed login (an info line) is not logged.
        # (The slot of the first client frees when the proxy saw it close.)
        deadline = time.time() + 10
        while True:
            try:
                status = failed_login(p.port)
            except (ConnectionResetError, BrokenPipeError):
                status = None
            if status == b"\x01\x01" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, b"\x01\x01")
        deadline = time.time() + 10
        while "auth-failed" not in p.access_text() and time.time() < deadline:
            time.sleep(0.02)
        self.assertIn("auth-failed", p.access_text())
        self.assertNotIn("auth failed for user", p.log_text())
        # Back: the rule and the cap are gone again.
        self.edit_config("deny_destination = 127.0.0.0/8\nmax_clients = 1\n", "")
        self.reload()
        self.assertEqual(socks_reply_once_admitted(p.port, self.echo_port), 0)

    def test_invalid_config_keeps_the_running_one(self):
        p = self.start(extra_socks="deny_destination = 127.0.0.0/8\n")
        self.assertEqual(socks_works(p.port, self.echo_port), 0x02)
        self.edit_config("deny_destination = 127.0.0.0/8\n",
                         "deny_destination = 10.0.0.0/8\nbuffer_size = lots\n")
        with open(p.config) as f:
            line = f.read().splitlines().index("buffer_size = lots") + 1
        self.reload()
        text = p.log_text()
        self.assertIn("reload failed", text)
        self.assertIn(f"{p.config}:{line}:", text)
        # The running rule stays: still refused.
        self.assertEqual(socks_works(p.port, self.echo_port), 0x02)
        self.assertTrue(p.alive())

    def test_changed_listener_says_restart_needed(self):
        p = self.start(listen6=False)
        self.edit_config("listen = 127.0.0.1:0\n", "listen = 127.0.0.2:0\n")
        self.edit_config("threads = 2\n", "threads = 3\n")
        self.reload()
        self.assertRegex(p.log_text(), r"restart needed to apply listen, threads")
        self.assertEqual(socks_works(p.port, self.echo_port), 0)

    def test_access_log_reopened_after_rename(self):
        p = self.start()
        self.assertEqual(socks_works(p.port, self.echo_port), 0)
        self.assertEqual(len(p.wait_access_lines(1)), 1)
        for sig, rotated in ((signal.SIGUSR1, ".1"), (signal.SIGHUP, ".2")):
            os.rename(p.access_log, p.access_log + rotated)
            p.proc.send_signal(sig)
            if sig == signal.SIGHUP:
                self.assertEqual(self.notify.next().get("RELOADING"), "1")
                self.assertEqual(self.notify.next().get("READY"), "1")
            else:
                deadline = time.time() + 10
                while "access log reopened" not in p.log_text() and time.time() < deadline:
                    time.sleep(0.02)
            self.assertEqual(socks_works(p.port, self.echo_port), 0)
            self.assertEqual(len(p.wait_access_lines(1)), 1)
            with open(p.access_log + rotated) as f:
                self.assertEqual(len(f.read().splitlines()), 1)


class JsonLogTest(unittest.TestCase):
    def test_every_line_is_json_for_any_bytes(self):
        echo, port = start_server(EchoHandler)
        p = Proxy(extra_server="access_log_format = json\n")
        try:
            self.assertEqual(socks_works(p.port, port), 0)
            # A failed login: no user. Destination names come from the
            # network as bytes: quotes, control bytes, bytes that are not UTF-8.
            self.assertEqual(failed_login(p.port), b"\x01\x01")
            names = [b"\xff\xfe.invalid", b'q"uo\\te\x01.invalid', b"\xc3(.invalid"]
            for name in names:
                s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
                s.sendall(greeting())
                recv_exact(s, 2)
                s.sendall(auth())
                self.assertEqual(recv_exact(s, 2), b"\x01\x00")
                s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x00\x50")
                recv_exact(s, 4)
                s.close()
            p.wait_access_lines(2 + len(names))
            p.stop()
            with open(p.access_log, "rb") as f:
                lines = f.read().split(b"\n")
            self.assertEqual(lines[-1], b"")
            records = [json.loads(line) for line in lines[:-1]]  # strict UTF-8
            self.assertEqual(len(records), 2 + len(names))
            # Records are written as closes are reported, not in the order
            # the clients came: pick them by what they are.
            by_result = lambda word: [r for r in records if r["result"] == word]
            self.assertEqual(len(by_result("ok")), 1)
            self.assertEqual(len(by_result("auth-failed")), 1)
            ok, failed = by_result("ok")[0], by_result("auth-failed")[0]
            others = [r for r in records if r is not ok and r is not failed]
            self.assertEqual(ok["user"], "demo")
            self.assertEqual(ok["result"], "ok")
            self.assertEqual(ok["dest"], f"127.0.0.1:{port}")
            self.assertRegex(ok["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            for key in ("up", "down", "ms"):
                self.assertIsInstance(ok[key], int)
            self.assertIsNone(failed["user"])
            self.assertIsNone(failed["dest"])
            dests = sorted(r["dest"] for r in others)
            self.assertEqual(dests, sorted(["\ufffd\ufffd.invalid:80", 'q"uo\\te\x01.invalid:80',
                                            "\ufffd(.invalid:80"]))
        finally:
            p.cleanup()
            stop_server(echo)


class JournalTest(unittest.TestCase):
    def test_priority_prefixes_when_stderr_is_the_journal(self):
        # JOURNAL_STREAM names stderr's device and inode: a file stands in.
        with tempfile.TemporaryDirectory() as d:
            err_path = os.path.join(d, "err")
            with open(err_path, "w") as err:
                st = os.fstat(err.fileno())
                env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
                r = subprocess.run([PROXY, "--config", os.path.join(d, "missing.ini")],
                                   stderr=err, env=env, timeout=30)
            self.assertEqual(r.returncode, 1)
            with open(err_path) as f:
                text = f.read()
        self.assertRegex(text, r"^<3>ERROR ")
        # Another stream (a pipe): our own timestamp.
        r = subprocess.run([PROXY, "--config", "/nonexistent/proxy.ini"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, JOURNAL_STREAM="1:1"))
        self.assertRegex(r.stderr, r"^\d{4}-\d\d-\d\dT")


def admin_conf(udp_port, transform):
    return (f"transport = udp\nudp_port = {udp_port}\n"
            "spcp_listen = 127.0.0.1:9090\nmanager_listen = 127.0.0.1:9091\n"
            f"transform_command = {transform}\n")


class AdminOpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.udp_port = free_udp_port()
        cls.notify = NotifySocket()
        cls.proxy = Proxy(admin=admin_conf(cls.udp_port, "off"),
                          env={"NOTIFY_SOCKET": cls.notify.path})
        assert cls.notify.next().get("READY") == "1"

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        cls.notify.close()

    def ctl(self, *args, new_password=None):
        env = dict(os.environ, PROXYCTL_PASSWORD="admin")
        if new_password is not None:
            env["PROXYCTL_NEW_PASSWORD"] = new_password
        return subprocess.run([PROXYCTL, *args], capture_output=True, text=True,
                              env=env, timeout=30)

    def reload_with(self, transform):
        with open(self.proxy.config) as f:
            text = f.read()
        text = re.sub(r"transform_command = \w+", f"transform_command = {transform}", text)
        with open(self.proxy.config, "w") as f:
            f.write(text)
        self.proxy.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.notify.next().get("RELOADING"), "1")
        self.assertEqual(self.notify.next().get("READY"), "1")

    def test_transform_command_off_refuses_and_clears(self):
        udp = ["--udp-port", str(self.udp_port)]
        r = self.ctl(*udp, "transform", "set", "tr a-z A-Z")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.reload_with("allowed")
        r = self.ctl(*udp, "transform", "set", "tr a-z A-Z")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.ctl(*udp, "transform").stdout.strip(), "tr a-z A-Z")
        # --json is valid JSON whatever bytes the proxy sends back.
        odd = b'tr a-z A-Z # "\\\x01\xff\xc3('
        r = self.ctl(*udp, "transform", "set", odd)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl(*udp, "transform", "--json")  # decoded as strict UTF-8
        self.assertEqual(json.loads(r.stdout),
                         {"transform": 'tr a-z A-Z # "\\\x01\ufffd\ufffd('})
        # Turned off by a reload: the filter set before is dropped too.
        self.reload_with("off")
        r = self.ctl(*udp, "--json", "transform")
        self.assertEqual(json.loads(r.stdout), {"transform": ""})
        self.assertEqual(self.ctl(*udp, "transform", "off").returncode, 0)

    def test_json_order_and_odd_user_names(self):
        udp = ["--udp-port", str(self.udp_port)]
        a = self.ctl(*udp, "metrics", "--json")
        b = self.ctl("--json", *udp, "metrics")
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertEqual(set(json.loads(a.stdout)), {"connections", "bytes", "accesses"})
        self.assertEqual(set(json.loads(b.stdout)), {"connections", "bytes", "accesses"})
        odd = 'q"uo\\te{}'
        r = self.ctl(*udp, "users", "add", odd, new_password="pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl(*udp, "users", "list", "--json")
        self.assertIn(odd, json.loads(r.stdout))
        r = self.ctl(*udp, "manager-metrics", "--json")
        self.assertEqual(set(json.loads(r.stdout)), {"historical", "active", "bytes"})


class CommandLineTest(unittest.TestCase):
    def run_prog(self, *args, **kw):
        return subprocess.run(list(args), capture_output=True, text=True, timeout=30, **kw)

    def test_version_and_help(self):
        for prog, name in ((PROXY, "proxy"), (PROXYCTL, "proxyctl")):
            r = self.run_prog(prog, "--version")
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, rf"^{name} \(socks5-proxy\) \d+\.\d+\.\d+\n$")
            r = self.run_prog(prog, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("--version", r.stdout)

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.run_prog(PROXY, "--bogus").returncode, 2)
        self.assertEqual(self.run_prog(PROXY).returncode, 2)
        self.assertEqual(self.run_prog(PROXY, "--check").returncode, 2)
        self.assertEqual(self.run_prog(PROXY, "--config").returncode, 2)
        self.assertEqual(self.run_prog(PROXYCTL).returncode, 2)
        self.assertEqual(self.run_prog(PROXYCTL, "--port", "0", "metrics").returncode, 2)
        self.assertEqual(self.run_prog(PROXYCTL, "metrics", "extra").returncode, 2)
        self.assertEqual(self.run_prog(PROXYCTL, "max-clients", "x").returncode, 2)

    def test_check_and_hash_user(self):
        ini = os.path.join(os.environ.get("PROXY_SOURCE_DIR", "."), "config", "proxy.ini")
        r = self.run_prog(PROXY, "--config", ini, "--check",
                          cwd=os.path.dirname(ini))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)
        r = self.run_prog(PROXY, "--hash-user", "zed", "--roles", "socks,admin",
                          env=dict(os.environ, PROXY_PASSWORD="pw"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^zed:socks,admin:\$")


if __name__ == "__main__":
    unittest.main()
