"""The cluster (issue 16, docs/cluster.md): three proxy nodes, each in its
own network namespace joined by veth pairs to a bridge namespace (nothing
leaves the machine), with TLS certificates generated here by `openssl`.

A user added on A logs in through B and C within a second; kill -9 of B
during adds on A and C, then B restarted, ends with every acknowledged user
on all three; a partition (B's link down) with adds on both sides, healed,
converges; cluster metrics sum traffic and name a node that is down; a node
whose certificate another CA signed is refused.

Skipped (with the reason) where namespaces cannot be made (not root, no
`ip netns`) or `openssl` is missing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import ip

PROXY = os.environ.get("PROXY_BIN", "")
PROXYCTL = os.environ.get("PROXYCTL_BIN", "")
TAG = "pxc%d" % (os.getpid() % 100000)
BRIDGE_NS = TAG + "-br"
NODES = {"a": "10.214.0.1", "b": "10.214.0.2", "c": "10.214.0.3", "d": "10.214.0.4"}
CLUSTER_PORT = 7700
HTTP_PORT = 8000


def ns_of(name):
    return "%s-%s" % (TAG, name)


def run_in(name, *args, env=None, timeout=30):
    return subprocess.run(["ip", "netns", "exec", ns_of(name), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})),
                          stdin=subprocess.DEVNULL)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=30)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=" + name, cwd=d)


def make_cert(d, name, ca):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name,
            cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
            ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2", cwd=d)


class Node:
    """One proxy in namespace `name`: SOCKS and Manager on its loopback,
    the cluster on its veth address."""

    def __init__(self, base, name, peers, users_lines, ca="ca", cert=None):
        self.name = name
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.users = os.path.join(self.dir, "users.txt")
        with open(self.users, "w") as f:
            f.write("\n".join(users_lines) + "\n")
        cert = cert or name
        peer_lines = "".join("peer = %s:%d\n" % (NODES[p], CLUSTER_PORT) for p in peers)
        with open(os.path.join(self.dir, "proxy.ini"), "w") as f:
            f.write("[socks]\nlisten = 127.0.0.1:1080\nusers_file = users.txt\n"
                    "[server]\nthreads = 1\naccess_log = off\nshutdown_grace = 1s\n"
                    "[admin]\ntransport = udp\nudp_port = 9899\n"
                    "spcp_listen = 127.0.0.1:9090\nmanager_listen = 127.0.0.1:9091\n"
                    "[prometheus]\nlisten = off\n"
                    "[cluster]\nname = %s\nlisten = %s:%d\n%s"
                    "cert = ../pki/%s.pem\nkey = ../pki/%s.key\nca = ../pki/%s.pem\n"
                    % (name, NODES[name], CLUSTER_PORT, peer_lines, cert, cert, ca))
        self.proc = None
        self.stderr = None

    def start(self):
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns_of(self.name), PROXY, "--config",
             os.path.join(self.dir, "proxy.ini")],
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 15
        while time.time() < deadline:
            if "ready:" in self.log_since_start():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("node %s did not start:\n%s" % (self.name, self.log()))

    def log(self):
        with open(os.path.join(self.dir, "stderr.log"), errors="replace") as f:
            return f.read()

    def log_since_start(self):
        return self.log().split("=== start ===")[-1]

    def mark(self):
        with open(os.path.join(self.dir, "stderr.log"), "a") as f:
            f.write("=== start ===\n")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.stderr:
            self.stderr.close()
        for marker in ("Sanitizer", "runtime error:"):
            if marker in self.log():
                raise AssertionError("sanitizer report from %s:\n%s" % (self.name, self.log()))

    def restart(self):
        self.mark()
        self.start()

    def ctl(self, *args, new_password=None, timeout=30):
        env = {"PROXYCTL_PASSWORD": "admin"}
        if new_password is not None:
            env["PROXYCTL_NEW_PASSWORD"] = new_password
        return run_in(self.name, PROXYCTL, "--udp-port", "9899", *args, env=env,
                      timeout=timeout)

    def login(self, user, password):
        """curl through this node's SOCKS port to its HTTP server."""
        r = run_in(self.name, "curl", "-s", "-o", "/dev/null", "-m", "3", "--socks5",
                   "%s:%s@127.0.0.1:1080" % (user, password),
                   "http://127.0.0.1:%d/" % HTTP_PORT, timeout=10)
        return r.returncode == 0

    def user_names(self):
        with open(self.users) as f:
            return sorted(l.split(":")[0] for l in f.read().splitlines() if l)

    def user_lines(self):
        with open(self.users) as f:
            return sorted(l for l in f.read().splitlines() if l)


def wait_for(pred, timeout, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class ClusterTest(unittest.TestCase):
    """Namespaces TAG-a, -b, -c (and -d for the foreign node), each with a veth
    (eth0, 10.214.0.N/24) whose other end is on a bridge in TAG-br."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = {}
        cls.http = []
        cls.base = tempfile.mkdtemp(prefix="proxy-cluster-")
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root: cannot make network namespaces")
        if shutil.which("openssl") is None or shutil.which("curl") is None:
            raise unittest.SkipTest("openssl or curl missing")
        try:
            cls.make_namespaces()
        except (subprocess.CalledProcessError, FileNotFoundError, OSError) as e:
            cls.remove_namespaces()
            raise unittest.SkipTest("no network namespaces here: %s" % e)
        try:
            cls.make_pki()
            cls.start_nodes()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def make_namespaces(cls):
        ip("netns", "add", BRIDGE_NS)
        ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
        ip("-n", BRIDGE_NS, "link", "set", "br0", "up")
        for name, addr in NODES.items():
            ns = ns_of(name)
            ip("netns", "add", ns)
            ip("link", "add", TAG + name, "type", "veth", "peer", "name", TAG + name + "n")
            ip("link", "set", TAG + name, "netns", BRIDGE_NS)
            ip("link", "set", TAG + name + "n", "netns", ns)
            ip("-n", BRIDGE_NS, "link", "set", TAG + name, "master", "br0")
            ip("-n", BRIDGE_NS, "link", "set", TAG + name, "up")
            ip("-n", ns, "link", "set", TAG + name + "n", "name", "eth0")
            ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    @classmethod
    def remove_namespaces(cls):
        for name in NODES:
            ip("netns", "del", ns_of(name), check=False)
        ip("netns", "del", BRIDGE_NS, check=False)

    @classmethod
    def make_pki(cls):
        pki = os.path.join(cls.base, "pki")
        os.makedirs(pki)
        make_ca(pki, "ca")
        make_ca(pki, "foreign")
        for name in ("a", "b", "c"):
            make_cert(pki, name, "ca")
        make_cert(pki, "d", "foreign")
        # d trusts the cluster's CA but presents a foreign certificate.

    @classmethod
    def start_nodes(cls):
        lines = harness.user_lines()
        www = os.path.join(cls.base, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello\n")
        for name in NODES:
            cls.http.append(subprocess.Popen(
                ["ip", "netns", "exec", ns_of(name), sys.executable, "-m", "http.server",
                 "--bind", "127.0.0.1", "--directory", www, str(HTTP_PORT)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for name in ("a", "b", "c"):
            peers = [p for p in ("a", "b", "c") if p != name]
            cls.nodes[name] = Node(cls.base, name, peers, lines)
        for n in cls.nodes.values():
            n.start()
        for n in cls.nodes.values():
            assert wait_for(lambda n=n: n.log_since_start().count("joined peer") >= 2, 20), \
                n.log()

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes.values():
            try:
                n.stop()
            except AssertionError as e:
                print(e)
        for p in cls.http:
            p.kill()
            p.wait()
        cls.remove_namespaces()
        shutil.rmtree(cls.base, ignore_errors=True)

    def setUp(self):
        for n in self.nodes.values():
            self.assertIsNone(n.proc.poll(), "node %s died:\n%s" % (n.name, n.log()))

    def add(self, node, user, password):
        r = self.nodes[node].ctl("users", "add", user, new_password=password)
        return r.returncode == 0

    def converged(self, names=("a", "b", "c")):
        lines = [self.nodes[n].user_lines() for n in names]
        return all(l == lines[0] for l in lines)

    def test_1_a_user_added_on_a_logs_in_through_b_and_c_within_a_second(self):
        a, b, c = (self.nodes[n] for n in "abc")
        self.assertTrue(self.add("a", "alice", "alice-pw"))
        acked = time.monotonic()
        self.assertTrue(wait_for(lambda: "alice" in b.user_names()
                                 and "alice" in c.user_names(), 1.0),
                        b.log() + c.log())
        self.assertLess(time.monotonic() - acked, 1.0)
        self.assertTrue(b.login("alice", "alice-pw"), b.log())
        self.assertTrue(c.login("alice", "alice-pw"), c.log())
        self.assertFalse(c.login("alice", "wrong"))
        # A delete on C reaches A and B, which refuse her from then on.
        r = c.ctl("users", "del", "alice")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_for(lambda: "alice" not in a.user_names()
                                 and "alice" not in b.user_names(), 1.0))
        self.assertFalse(a.login("alice", "alice-pw"))
        with open(a.users + ".cluster") as f:
            self.assertRegex(f.read(), r"alice \d+ c dead")
        # A new password on B; a user appended to C's file and SIGHUP.
        r = b.ctl("users", "passwd", "demo", new_password="demo2")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = harness.hash_user("hupped", "hup-pw")
        with open(c.users, "a") as f:
            f.write(line + "\n")
        c.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "hupped" in a.user_names()
                                 and "hupped" in b.user_names(), 1.5))
        self.assertTrue(a.login("hupped", "hup-pw"))
        self.assertTrue(wait_for(lambda: c.login("demo", "demo2"), 1.5))
        self.assertFalse(a.login("demo", "demo"))
        r = a.ctl("users", "passwd", "demo", new_password="demo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_for(lambda: b.login("demo", "demo"), 1.5))

    def metrics(self, node="a"):
        r = self.nodes[node].ctl("cluster", "metrics", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_2_metrics_sum_every_node_and_name_one_that_is_down(self):
        before = {x["node"]: x["accepted"] for x in self.metrics()["nodes"]}
        self.assertEqual(sorted(before), ["a", "b", "c"])
        for n in "abc":
            for _ in range(2):
                self.assertTrue(self.nodes[n].login("demo", "demo"))
        got = {}

        def counted():  # the reactor reports traffic in batches
            got["m"] = self.metrics()
            return all(x["accepted"] >= before[x["node"]] + 2 for x in got["m"]["nodes"])

        self.assertTrue(wait_for(counted, 5, step=0.2), got)
        m = got["m"]
        self.assertEqual(sorted(x["node"] for x in m["nodes"]), ["a", "b", "c"])
        self.assertEqual(m["missing"], [])
        self.assertEqual(m["total"]["accepted"], sum(x["accepted"] for x in m["nodes"]))
        self.assertGreater(m["total"]["bytes_down"], 0)
        r = self.nodes["b"].ctl("--cluster", "buffer-size", "65536", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["applied"], ["b", "a", "c"])
        r = self.nodes["b"].ctl("--cluster", "buffer-size", "12")
        self.assertEqual(r.returncode, 1)
        self.assertIn("a: invalid value", r.stdout)
        r = self.nodes["a"].ctl("--cluster", "transform", "set", "cat")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.nodes["c"].ctl("transform").stdout.strip(), "cat")
        self.assertEqual(self.nodes["a"].ctl("--cluster", "transform", "off").returncode, 0)
        c = self.nodes["c"]
        c.stop(signal.SIGKILL)
        try:
            def c_missing():
                out = self.nodes["a"].ctl("cluster", "metrics", "--json")
                return out.returncode == 0 and json.loads(out.stdout)["missing"] == ["c"]
            self.assertTrue(wait_for(c_missing, 5, step=0.2), self.nodes["a"].log())
            text = self.nodes["a"].ctl("cluster", "metrics").stdout
            self.assertIn("no answer: c", text)
            # A cluster-wide setting says who applied it and who did not answer.
            r = self.nodes["a"].ctl("--cluster", "max-clients", "900", "--json")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(json.loads(r.stdout)["applied"], ["a", "b"])
            self.assertEqual(json.loads(r.stdout)["missing"], ["c"])
        finally:
            c.restart()
        self.assertTrue(wait_for(lambda: c.log_since_start().count("joined peer") >= 2, 10))

    def test_3_kill_b_during_adds_then_restart_converges(self):
        b = self.nodes["b"]
        acked = []
        lock = threading.Lock()

        def adder(node, prefix):
            for i in range(8):
                user = "%s%d" % (prefix, i)
                if self.add(node, user, "pw-" + user):
                    with lock:
                        acked.append(user)

        threads = [threading.Thread(target=adder, args=(n, "k" + n)) for n in ("a", "c")]
        for t in threads:
            t.start()
        time.sleep(0.3)
        b.stop(signal.SIGKILL)
        for t in threads:
            t.join()
        self.assertEqual(len(acked), 16)
        b.restart()
        self.assertTrue(wait_for(self.converged, 15), b.log_since_start())
        for n in self.nodes.values():
            self.assertTrue(set(acked) <= set(n.user_names()), n.name)
        self.assertTrue(b.login("ka7", "pw-ka7"))
        self.assertTrue(b.login("kc7", "pw-kc7"))

    def test_4_a_partition_heals_and_converges(self):
        a, b = self.nodes["a"], self.nodes["b"]
        link = TAG + "b"
        ip("-n", BRIDGE_NS, "link", "set", link, "down")
        try:
            self.assertTrue(wait_for(lambda: "lost peer b" in a.log_since_start(), 5),
                            a.log())
            self.assertTrue(self.add("a", "pa", "pa-pw"))
            self.assertTrue(self.add("b", "pb", "pb-pw"))
            # The same name on both sides: the greater version wins
            # (equal counters: node b's name wins over a's).
            self.assertTrue(self.add("a", "both", "from-a"))
            self.assertTrue(self.add("b", "both", "from-b"))
            # B keeps serving the users it knows while cut off.
            self.assertTrue(b.login("demo", "demo"))
            self.assertNotIn("pa", b.user_names())
        finally:
            ip("-n", BRIDGE_NS, "link", "set", link, "up")
        self.assertTrue(wait_for(self.converged, 15),
                        "\n".join(self.nodes[n].log() for n in "ab"))
        for n in self.nodes.values():
            self.assertTrue({"pa", "pb", "both"} <= set(n.user_names()), n.name)
        both = [self.nodes[n].login("both", "from-a") for n in "abc"]
        self.assertEqual(len(set(both)), 1)  # the same winner everywhere

    def every_acked_user_logs_in_everywhere(self, acked):
        for n in ("a", "b", "c"):
            node = self.nodes[n]
            missing = [u for u in acked if not node.login(u, "pw-" + u)]
            self.assertEqual(missing, [], "node %s:\n%s" % (n, node.log_since_start()))

    def test_4b_kill_the_node_taking_adds_then_restart_converges(self):
        a = self.nodes["a"]
        acked = []

        def adder():
            for i in range(10):
                if self.add("a", "x%d" % i, "pw-x%d" % i):
                    acked.append("x%d" % i)

        t = threading.Thread(target=adder)
        t.start()
        time.sleep(0.4)
        a.stop(signal.SIGKILL)
        t.join()
        a.restart()
        # Adds that failed against the dead node are not acknowledged.
        self.assertTrue(wait_for(lambda: self.converged()
                                 and set(acked) <= set(self.nodes["b"].user_names()), 15),
                        a.log_since_start())
        self.every_acked_user_logs_in_everywhere(acked)

    def test_4c_rolling_restart_during_adds_converges(self):
        acked = []
        for i, (restarted, adding) in enumerate((("a", "b"), ("b", "c"), ("c", "a"))):
            node = self.nodes[restarted]
            node.stop()
            for j in range(2):
                user = "r%d%d" % (i, j)
                if self.add(adding, user, "pw-" + user):
                    acked.append(user)
            node.restart()
        self.assertEqual(len(acked), 6)
        self.assertTrue(wait_for(self.converged, 15))
        self.every_acked_user_logs_in_everywhere(acked)

    def test_5_a_node_with_a_foreign_certificate_is_refused(self):
        d = Node(self.base, "d", ["a"], harness.user_lines(), ca="ca", cert="d")
        self.nodes["d"] = d
        d.mark()
        d.start()
        self.assertTrue(self.add("a", "after-d", "pw"))
        self.assertTrue(wait_for(lambda: "cannot reach peer" in d.log(), 5), d.log())
        time.sleep(1.0)
        self.assertNotIn("after-d", d.user_names())
        self.assertNotIn("joined peer", d.log())
        self.assertNotIn("joined peer d", self.nodes["a"].log())
        r = self.nodes["a"].ctl("cluster", "metrics", "--json")
        self.assertNotIn("d", [x["node"] for x in json.loads(r.stdout)["nodes"]])


class ClusterStarTest(unittest.TestCase):
    """Nodes that list only some peers (B and C know only A, on loopback,
    without TLS): a user added on B reaches C through A within a second."""

    def setUp(self):
        self.cport = {n: harness.free_port() for n in "abc"}
        self.udp = {n: harness.free_udp_port() for n in "abc"}
        peers = {"a": "", "b": "a", "c": "a"}
        self.nodes = {}
        for n in "abc":
            peer = "peer = 127.0.0.1:%d\n" % self.cport[peers[n]] if peers[n] else ""
            self.nodes[n] = harness.Proxy(
                listen6=False,
                admin="transport = udp\nudp_port = %d\nspcp_listen = off\n"
                      "manager_listen = 127.0.0.1:9091\n" % self.udp[n],
                extra_server="\n[cluster]\nname = %s\nlisten = 127.0.0.1:%d\n%s"
                             % (n, self.cport[n], peer))
            self.addCleanup(self.nodes[n].cleanup)

    def joined(self, node, *peers):
        text = self.nodes[node].log_text()
        return all("cluster: joined peer %s" % p in text for p in peers)

    def test_a_change_on_b_reaches_c_through_a(self):
        self.assertTrue(wait_for(lambda: self.joined("a", "b", "c"), 15),
                        self.nodes["a"].log_text())
        r = subprocess.run([PROXYCTL, "--udp-port", str(self.udp["b"]), "--user", "admin",
                            "users", "add", "star"], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, PROXYCTL_PASSWORD="admin",
                                                PROXYCTL_NEW_PASSWORD="star-pw"))
        self.assertEqual(r.returncode, 0, r.stderr)
        acked = time.monotonic()
        c = self.nodes["c"]

        def logs_in():
            s, rep = harness.socks_connect(c.port, "127.0.0.1", harness.closed_port(),
                                           "star", "star-pw")
            s.close()
            return rep is not None  # the login passed (the CONNECT may fail)

        self.assertTrue(wait_for(logs_in, 1.0, step=0.05), c.log_text())
        self.assertLess(time.monotonic() - acked, 1.5)
        # B and C never connected to each other.
        self.assertNotIn("joined peer b", c.log_text())


class ClusterConfigTest(unittest.TestCase):
    """[cluster] mistakes stop the proxy with one line (no namespaces needed)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="proxy-cluster-cfg-")
        with open(os.path.join(self.dir, "users.txt"), "w") as f:
            f.write("\n".join(harness.user_lines()) + "\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, cluster):
        path = os.path.join(self.dir, "proxy.ini")
        with open(path, "w") as f:
            f.write("[socks]\nlisten = 127.0.0.1:0\nusers_file = users.txt\n"
                    "[admin]\nspcp_listen = off\nmanager_listen = off\n"
                    "[cluster]\n" + cluster)
        return subprocess.run([PROXY, "--config", path, "--check"], capture_output=True,
                              text=True, timeout=30)

    def test_tls_is_required_beyond_loopback(self):
        r = self.check("name = a\nlisten = 10.1.2.3:7700\n")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"proxy\.ini:9: key 'listen': listening beyond "
                                   r"loopback requires TLS")
        self.assertEqual(self.check("name = a\nlisten = 127.0.0.1:7700\n").returncode, 0)

    @unittest.skipIf(shutil.which("openssl") is None, "no openssl")
    def test_a_key_that_does_not_match_the_certificate_is_named(self):
        make_ca(self.dir, "ca")
        make_cert(self.dir, "a", "ca")
        make_cert(self.dir, "b", "ca")
        tls = "cert = a.pem\nca = ca.pem\nkey = %s\n"
        r = self.check("name = a\nlisten = 10.1.2.3:7700\n" + tls % "b.key")
        self.assertEqual(r.returncode, 1)
        self.assertIn("b.key: the key does not match", r.stderr)
        r = self.check("name = a\nlisten = 10.1.2.3:7700\n" + tls % "a.key")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
