"""The Prometheus endpoint of the real proxy: real SOCKS5 traffic through it
to a local HTTP server moves the counters and the duration histograms that a
scrape of /metrics shows; the text passes `promtool check metrics`; a real
Prometheus server (Debian's, on loopback) scrapes it and answers queries;
`listen = off` opens no port, and a taken port stops the proxy with one line.
promtool and prometheus (Debian package prometheus, in .ci/packages) must be
installed: a missing one fails the test."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import (SOURCE_DIR, Proxy, HttpHandler, closed_port, pattern,
                     recv_until_eof, run_proxy_config, socks_connect, start_server,
                     stop_server)

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$')


def scrape(port, path="/metrics"):
    """(status, content type, body) of GET http://127.0.0.1:port/path."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), ""


def parse(text):
    """{series (name with labels as written): value} of a scrape."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        assert m, "not a sample line: %r" % line
        values[m.group(1)] = float(m.group(2))
    return values


def listening_ports(pid):
    """TCP ports the process `pid` listens on (from /proc)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def project_version():
    """The version of the CMake project (PROXY_VERSION)."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(\S+ VERSION (\S+)", f.read()).group(1)


def http_through(proxy_port, target_port, n):
    """GET /n through the proxy; returns the bytes sent and received."""
    s, rep = socks_connect(proxy_port, "127.0.0.1", target_port)
    assert rep == 0, rep
    request = b"GET /%d HTTP/1.0\r\n\r\n" % n
    s.sendall(request)
    response = recv_until_eof(s)
    s.close()
    assert response.startswith(b"HTTP/1.0 200 OK\r\n"), response[:100]
    assert response.endswith(b"\r\n\r\n" + pattern(n)), response[:100]
    return len(request), len(response)


class PrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http, cls.http_port = start_server(HttpHandler)
        cls.proxy = Proxy(prometheus="listen = 127.0.0.1:0\n")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.cleanup()
        stop_server(cls.http)

    def metrics(self):
        status, ctype, body = scrape(self.proxy.metrics_port)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        return body

    def wait_for(self, cond, timeout=5):
        """The newest scrape once `cond(values)` holds (the reactor batches
        counters every 250 ms, the metrics actor publishes within 100 ms)."""
        deadline = time.time() + timeout
        while True:
            values = parse(self.metrics())
            if cond(values) or time.time() > deadline:
                return values
            time.sleep(0.05)

    def settled(self):
        """A scrape once the earlier tests' traffic has all arrived: no
        connection open and the same values over 0.5 s (longer than the
        reactor's batches and the publication interval together)."""
        deadline = time.time() + 10
        last = parse(self.metrics())
        while time.time() < deadline:
            time.sleep(0.5)
            now = parse(self.metrics())
            moving = {k for k, v in now.items()
                      if k.startswith("socks5_proxy_") and last.get(k) != v}
            if not moving and now["socks5_proxy_connections_active"] == 0:
                return now
            last = now
        self.fail("the counters did not settle: %s" % sorted(moving))

    def traffic(self):
        """Real clients: 4 CONNECTs with HTTP, 1 refused CONNECT, 1 wrong
        password, 1 malformed greeting. Returns the bytes each way."""
        up = down = 0
        for n in (10, 1000, 5000, 20000):
            u, d = http_through(self.proxy.port, self.http_port, n)
            up, down = up + u, down + d
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", closed_port())
        self.assertEqual(rep, 5)
        s.close()
        s, rep = socks_connect(self.proxy.port, "127.0.0.1", self.http_port,
                               password="wrong")
        self.assertIsNone(rep)
        s.close()
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=5)
        s.sendall(b"\x04\x01\x00")  # SOCKS4: malformed for us
        recv_until_eof(s)
        s.close()
        return up, down

    def test_counters_and_histograms_move_with_real_traffic(self):
        before = self.settled()
        self.assertEqual(before['socks5_proxy_build_info{version="%s"}'
                              % project_version()], 1)
        up, down = self.traffic()

        def delta(name):
            return values.get(name, 0) - before.get(name, 0)

        ok_count = 'socks5_proxy_connect_duration_seconds_count{result="succeeded"}'
        hs = "socks5_proxy_handshake_duration_seconds"
        expected = {
            "socks5_proxy_connections_accepted_total": 7,
            'socks5_proxy_relayed_bytes_total{direction="client_to_target"}': up,
            'socks5_proxy_relayed_bytes_total{direction="target_to_client"}': down,
            'socks5_proxy_replies_total{code="0x00",reply="succeeded"}': 4,
            'socks5_proxy_replies_total{code="0x05",reply="connection-refused"}': 1,
            "socks5_proxy_auth_failures_total": 1,
            "socks5_proxy_protocol_errors_total": 1,
            # Five requests were parsed (four relayed, one refused upstream).
            hs + "_count": 5,
            hs + '_bucket{le="+Inf"}': 5,
            ok_count: 4,
            'socks5_proxy_connect_duration_seconds_count{result="failed"}': 1,
        }
        # Every counter comes in its own batch: wait until all arrived.
        values = self.wait_for(
            lambda v: v["socks5_proxy_connections_active"] == 0
            and all(v.get(k, 0) - before.get(k, 0) >= n for k, n in expected.items()))
        for name, n in expected.items():
            self.assertEqual(delta(name), n, name)
        self.assertEqual(values["socks5_proxy_connections_active"], 0)
        self.assertGreater(delta(hs + "_sum"), 0)
        self.assertLess(delta(hs + "_sum"), 5 * 2)  # handshake_timeout is 2 s
        # 14 bounds and +Inf, in order; buckets are cumulative.
        buckets = [(k, v) for k, v in values.items() if k.startswith(hs + "_bucket")]
        self.assertEqual(len(buckets), 15)
        self.assertEqual(buckets[0][0], hs + '_bucket{le="0.0005"}')
        self.assertEqual(buckets[-2][0], hs + '_bucket{le="10"}')
        self.assertEqual(buckets[-1][0], hs + '_bucket{le="+Inf"}')
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts))
        # The process series (prometheus-cpp has none of its own).
        self.assertGreater(values["process_open_fds"], 0)
        self.assertGreater(values["process_resident_memory_bytes"], 1e6)

    def test_promtool_accepts_the_text(self):
        self.assertIsNotNone(shutil.which("promtool"),
                             "promtool is missing (Debian package prometheus)")
        http_through(self.proxy.port, self.http_port, 100)
        text = self.metrics()
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")

    def test_only_metrics_is_served_and_only_on_its_port(self):
        self.assertEqual(scrape(self.proxy.metrics_port, "/")[0], 404)
        self.assertEqual(scrape(self.proxy.metrics_port, "/etc/passwd")[0], 404)
        ports = listening_ports(self.proxy.proc.pid)
        self.assertEqual(ports, {self.proxy.port, self.proxy.port6,
                                 self.proxy.metrics_port})

    def test_a_real_prometheus_server_scrapes_it(self):
        self.assertIsNotNone(shutil.which("prometheus"),
                             "prometheus is missing (Debian package prometheus)")
        http_through(self.proxy.port, self.http_port, 100)
        server = PrometheusServer(self.proxy.metrics_port)
        try:
            up = server.query_until('up{job="socks5-proxy"}', lambda v: v == 1)
            self.assertEqual(up, 1, server.log())
            accepted = server.query_until(
                "socks5_proxy_connections_accepted_total", lambda v: v >= 1)
            self.assertGreaterEqual(accepted, 1, server.log())
            count = server.query_until(
                "sum(socks5_proxy_handshake_duration_seconds_count)", lambda v: v >= 1)
            self.assertGreaterEqual(count, 1)
            p50 = server.query_until(
                "histogram_quantile(0.5, socks5_proxy_handshake_duration_seconds_bucket)",
                lambda v: v == v)
            self.assertTrue(0 < p50 <= 10, p50)
            self.assertEqual(server.target_error(), "")
        finally:
            server.stop()


class PrometheusServer:
    """Debian's Prometheus on a loopback port, scraping `target_port` every
    second, with its data in a temporary folder."""

    def __init__(self, target_port):
        self.dir = tempfile.mkdtemp(prefix="prom-it-")
        self.port = closed_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: socks5-proxy\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log_file, stderr=subprocess.STDOUT, cwd=self.dir)

    def api(self, path):
        import json
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.port, path)
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())

    def query_until(self, expr, cond, timeout=25):
        """The value of `expr` once `cond` holds (None if it never does)."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline and self.proc.poll() is None:
            try:
                res = self.api("query?query=" + urllib.request.quote(expr))
                result = res["data"]["result"]
                if result:
                    value = float(result[0]["value"][1])
                    if cond(value):
                        return value
            except (OSError, ValueError, KeyError):
                pass  # not up yet
            time.sleep(0.25)
        return value

    def target_error(self):
        targets = self.api("targets")["data"]["activeTargets"]
        return targets[0]["lastError"] if targets else "no target"

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class ListenTest(unittest.TestCase):
    def test_off_opens_nothing(self):
        p = Proxy()  # the harness says listen = off
        try:
            self.assertIsNone(p.metrics_port)
            self.assertNotIn("Prometheus", p.log_text())
            self.assertEqual(listening_ports(p.proc.pid), {p.port, p.port6})
        finally:
            p.cleanup()

    def run_config(self, listen, timeout=10):
        return run_proxy_config("[socks]\nlisten = 127.0.0.1:0\nauth = none\n"
                                "[admin]\nspcp_listen = off\nmanager_listen = off\n"
                                "[prometheus]\nlisten = %s\n" % listen, timeout)

    def test_a_taken_port_stops_the_proxy_with_one_line(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            r = self.run_config("127.0.0.1:%d" % port)
        finally:
            blocker.close()
        self.assertEqual(r.returncode, 1)
        self.assertIn("prometheus: cannot listen on 127.0.0.1:%d: Address already in use"
                      % port, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_ipv6_without_civetweb_support_is_one_clear_line(self):
        # Debian 12's civetweb is built without IPv6; one built with it
        # serves, and the proxy runs until the timeout ends it.
        try:
            r = self.run_config("[::1]:0", timeout=5)
        except subprocess.TimeoutExpired as e:
            # Still running: it must be because it serves (not a hang).
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or ""
            self.assertIn("Prometheus listening on [::1]:", err)
            self.skipTest("this civetweb has IPv6: the proxy serves on [::1]")
        self.assertEqual(r.returncode, 1)
        self.assertIn("prometheus: cannot listen on [::1]:0: this civetweb is "
                      "built without IPv6; use an IPv4 address", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main()
