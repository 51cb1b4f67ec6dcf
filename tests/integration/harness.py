"""Shared helpers of the integration tests: start the real proxy on free
ports with a generated config, local target servers, and a raw SOCKS5 client.
Everything listens on loopback only."""

import hashlib
import os
import re
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

PROXY_BIN = os.environ.get("PROXY_BIN", "")
SOURCE_DIR = os.environ.get(
    "PROXY_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

USER, PASSWORD = "demo", "demo"


def hash_user(name, password, roles="socks"):
    out = subprocess.run(
        [PROXY_BIN, "--hash-user", name, "--roles", roles],
        env=dict(os.environ, PROXY_PASSWORD=password),
        capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


_USER_LINES = None


def user_lines():
    """Hashes are slow by design: compute the test users once."""
    global _USER_LINES
    if _USER_LINES is None:
        _USER_LINES = [hash_user(USER, PASSWORD),
                       hash_user("admin", "admin", "admin")]
    return _USER_LINES


class Proxy:
    """The real proxy binary on ports chosen by the kernel."""

    def __init__(self, extra_socks="", extra_server="", listen6=True, admin=None,
                 env=None, prometheus=None):
        self.dir = tempfile.mkdtemp(prefix="proxy-it-")
        self.users = os.path.join(self.dir, "users.txt")
        with open(self.users, "w") as f:
            f.write("\n".join(user_lines()) + "\n")
        self.access_log = os.path.join(self.dir, "access.log")
        self.config = os.path.join(self.dir, "proxy.ini")
        listen = "listen = 127.0.0.1:0\n"
        if listen6:
            listen += "listen = [::1]:0\n"
        with open(self.config, "w") as f:
            f.write("[socks]\n" + listen +
                    "users_file = users.txt\n"
                    "handshake_timeout = 2s\n"
                    "connect_timeout = 3s\n" + extra_socks +
                    "\n[server]\nthreads = 2\naccess_log = access.log\n"
                    "shutdown_grace = 2s\n" + extra_server +
                    "\n[admin]\n" + (admin if admin is not None
                                         else "spcp_listen = off\nmanager_listen = off\n") +
                    # Off unless asked for: the default port is fixed (9464).
                    "\n[prometheus]\n" + (prometheus if prometheus is not None
                                              else "listen = off\n"))
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.listen6 = listen6
        self.env = env
        self._start()

    def restart(self):
        """Stops the proxy (asserting exit 0) and starts it again on the
        same config and users file (new ports)."""
        assert self.stop() == 0, self.log_text()
        self._start()

    def _start(self):
        listen6, env = self.listen6, self.env
        self.stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen([PROXY_BIN, "--config", self.config],
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.stderr,
                                     env=dict(os.environ, **(env or {})))
        self.port = None
        self.port6 = None
        self.metrics_port = None
        deadline = time.time() + 10
        while time.time() < deadline:
            text = self.log_text()
            m4 = re.search(r"SOCKS5 listening on 127\.0\.0\.1:(\d+)", text)
            m6 = re.search(r"SOCKS5 listening on \[::1\]:(\d+)", text)
            if m4 and (m6 or not listen6) and "ready:" in text:
                self.port = int(m4.group(1))
                self.port6 = int(m6.group(1)) if m6 else None
                mp = re.search(r"Prometheus listening on \S+:(\d+)", text)
                self.metrics_port = int(mp.group(1)) if mp else None
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("proxy did not start:\n" + self.log_text())

    def log_text(self):
        # Bytes >= 0x80 from the network reach the log as they came.
        with open(self.stderr_path, errors="backslashreplace") as f:
            return f.read()

    def access_text(self):
        try:
            with open(self.access_log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_access_lines(self, n, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            lines = self.access_text().splitlines()
            if len(lines) >= n:
                return lines
            time.sleep(0.02)
        return self.access_text().splitlines()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        text = self.log_text()
        for marker in ("Sanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError("sanitizer report from the proxy:\n" + text)
        return self.proc.returncode

    def cleanup(self):
        if not self.stderr.closed:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- target servers -----------------------------------------------------------

class _Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: 200 concurrent connects through the
    # proxy overflow it, and on a loaded machine the dropped handshakes wait
    # for SYN-ACK retransmits (1 s, 2 s, 4 s...) past the test's timeouts.
    request_queue_size = 1024


class _Threaded6(_Threaded):
    address_family = socket.AF_INET6


class EchoHandler(socketserver.BaseRequestHandler):
    """Echoes everything; on EOF from the client, half-closes back."""

    def handle(self):
        s = self.request
        while True:
            data = s.recv(262144)
            if not data:
                break
            s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client is already gone


class HttpHandler(socketserver.StreamRequestHandler):
    """A minimal HTTP/1.0 server: GET /N returns N bytes of a pattern."""

    def handle(self):
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        path = line.split()[1] if len(line.split()) > 1 else "/"
        try:
            n = int(path.strip("/") or "12")
        except ValueError:
            n = 12
        body = pattern(n)
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
        self.wfile.write(body)


def pattern(n):
    unit = b"hello world\n"
    return (unit * (n // len(unit) + 1))[:n]


def stop_server(srv):
    srv.shutdown()
    srv.server_close()


def start_server(handler, v6=False):
    cls = _Threaded6 if v6 else _Threaded
    srv = cls(("::1" if v6 else "127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, srv.server_address[1]


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_proxy_config(text, timeout=10):
    """Runs the proxy on the config `text` (in a temporary folder) until it
    exits; the CompletedProcess (stdout and stderr as text)."""
    d = tempfile.mkdtemp(prefix="proxy-it-")
    try:
        cfg = os.path.join(d, "proxy.ini")
        with open(cfg, "w") as f:
            f.write(text)
        return subprocess.run([PROXY_BIN, "--config", cfg],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def closed_port():
    """A loopback port with nothing listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- raw SOCKS5 client --------------------------------------------------------

def recv_exact(s, n, timeout=5):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def recv_until_eof(s, timeout=5):
    s.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
    return buf


def greeting(methods=(2,)):
    return bytes([5, len(methods)]) + bytes(methods)


def auth(user=USER, password=PASSWORD):
    u, p = user.encode(), password.encode()
    return bytes([1, len(u)]) + u + bytes([len(p)]) + p


def connect_request(host, port, cmd=1):
    try:
        packed = socket.inet_pton(socket.AF_INET, host)
        addr = b"\x01" + packed
    except OSError:
        try:
            packed = socket.inet_pton(socket.AF_INET6, host)
            addr = b"\x04" + packed
        except OSError:
            addr = b"\x03" + bytes([len(host)]) + host.encode()
    return bytes([5, cmd, 0]) + addr + struct.pack(">H", port)


def read_reply(s, timeout=10):
    """Reads a SOCKS5 reply; returns (rep, bound address bytes) or None."""
    head = recv_exact(s, 4, timeout)
    if len(head) < 4:
        return None
    atyp = head[3]
    if atyp == 1:
        rest = recv_exact(s, 6, timeout)
    elif atyp == 4:
        rest = recv_exact(s, 18, timeout)
    elif atyp == 3:
        n = recv_exact(s, 1, timeout)
        rest = n + recv_exact(s, n[0] + 2, timeout)
    else:
        return None
    return head[1], rest


def socks_connect(proxy_port, host, port, user=USER, password=PASSWORD,
                  proxy_host="127.0.0.1"):
    """Full handshake; returns (socket, rep)."""
    fam = socket.AF_INET6 if ":" in proxy_host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((proxy_host, proxy_port))
    s.sendall(greeting())
    assert recv_exact(s, 2) == b"\x05\x02"
    s.sendall(auth(user, password))
    status = recv_exact(s, 2)
    if status != b"\x01\x00":
        return s, None
    s.sendall(connect_request(host, port))
    rep = read_reply(s)
    return s, (rep[0] if rep else None)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def echo_works(s):
    """One round trip of 4 bytes through an echo tunnel."""
    s.sendall(b"ping")
    return recv_exact(s, 4) == b"ping"


def scrape(port):
    """The text of GET /metrics on 127.0.0.1:port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name):
    """The value of the series `name` (with its labels) in `text`, or None."""
    m = re.search("^" + re.escape(name) + r" (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def sighup_reload(proxy):
    """SIGHUP, then waits until the proxy logged the reload as done."""
    before = proxy.log_text().count("INFO reloaded ")
    proxy.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        if proxy.log_text().count("INFO reloaded ") > before:
            return
        time.sleep(0.02)
    raise AssertionError("no reload in the log:\n" + proxy.log_text())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def ip(*args, check=True):
    """Runs `ip ARGS...` (iproute2) for the namespace tests; raises on a
    non-zero exit when `check`."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=10)


def stop_procs(procs, grace=5):
    """SIGTERM each helper process (a parent proxy...), SIGKILL after
    `grace` seconds."""
    for p in procs:
        p.terminate()
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_dante(workdir, method="none"):
    """Dante on a free loopback port (`method`: none, or username for
    system users); returns (process, port)."""
    port = free_port()
    conf = os.path.join(workdir, f"danted-{method}.conf")
    with open(conf, "w") as f:
        f.write(f"logoutput: stderr\ninternal: 127.0.0.1 port = {port}\n"
                f"external: 127.0.0.1\nsocksmethod: {method}\nclientmethod: none\n"
                "user.privileged: root\nuser.unprivileged: nobody\n"
                "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
                "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n")
    p = subprocess.Popen(["/usr/sbin/danted", "-f", conf, "-N", "1",
                          "-p", os.path.join(workdir, f"danted-{method}.pid")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    return p, port
