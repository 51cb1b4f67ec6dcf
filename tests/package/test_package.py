"""Packaging checks (docs/packaging.md): the install tree, the .deb (contents,
control data, lintian), its maintainer scripts under a scratch root, the
packaged config and the man pages against the sources, and the unit under
systemd-analyze.

Environment: PROXY_BUILD_DIR (a configured and built release tree),
PROXY_SOURCE_DIR, PROXY_BIN (build/actors/proxy).
"""
import crypt
import gzip
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402  (the integration tests' SOCKS client and echo server)

BUILD = os.environ.get("PROXY_BUILD_DIR", "")
SOURCE = os.environ.get("PROXY_SOURCE_DIR", "")
PROXY = os.environ.get("PROXY_BIN", "")

UNIT = "lib/systemd/system/socks5-proxy.service"
MAN_PAGES = {
    "usr/share/man/man8/socks5-proxyd.8.gz": "socks5-proxyd.8.scd",
    "usr/share/man/man5/socks5-proxy.ini.5.gz": "socks5-proxy.ini.5.scd",
    "usr/share/man/man1/proxyctl.1.gz": "proxyctl.1.scd",
}
# Every file the install and the package hold, with its mode.
FILES = {
    "usr/sbin/socks5-proxyd": 0o755,
    "usr/bin/proxyctl": 0o755,
    "etc/socks5-proxy/proxy.ini": 0o644,
    "etc/logrotate.d/socks5-proxy": 0o644,
    UNIT: 0o644,
    "usr/share/doc/socks5-proxy/copyright": 0o644,
    "usr/share/doc/socks5-proxy/changelog.gz": 0o644,
    **{page: 0o644 for page in MAN_PAGES},
}
# lintian tags docs/packaging.md explains; anything else at W or E fails.
DOCUMENTED_WARNINGS = set()


def run(*cmd, **kw):
    """Runs cmd, returns the completed process; fails the test on exit != 0."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode,
                                                   p.stdout, p.stderr))
    return p


def tree(root):
    """{relative path: mode} of the files (not folders) under root."""
    out = {}
    for folder, _, names in os.walk(root):
        for n in names:
            path = os.path.join(folder, n)
            out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


def ini_keys(text):
    """{(section, key)} of an INI text, commented-out lines included."""
    keys, section = set(), ""
    for line in text.splitlines():
        line = re.sub(r"^[#;]\s*", "", line.strip())
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\w+)\s*=", line)
        if m:
            keys.add((section, m.group(1)))
    return keys


def read(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as f:
        return f.read()


@unittest.skipUnless(BUILD and SOURCE and PROXY, "needs PROXY_BUILD_DIR, PROXY_SOURCE_DIR, PROXY_BIN")
class InstallTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pkg-install-")
        env = dict(os.environ, DESTDIR=cls.tmp + "/usr-prefix")
        run("cmake", "--install", BUILD, "--prefix", "/usr", "--strip", env=env)
        env = dict(os.environ, DESTDIR=cls.tmp + "/local-prefix")
        run("cmake", "--install", BUILD, env=env)  # the default /usr/local

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_files_and_modes(self):
        self.assertEqual(tree(self.tmp + "/usr-prefix"), FILES)

    def test_default_prefix_keeps_etc_and_unit_fixed(self):
        got = tree(self.tmp + "/local-prefix")
        expected = {re.sub(r"^usr/", "usr/local/", p): m for p, m in FILES.items()}
        self.assertEqual(got, expected)
        unit = read(self.tmp, "local-prefix", UNIT)
        self.assertIn("ExecStart=/usr/local/sbin/socks5-proxyd --config "
                      "/etc/socks5-proxy/proxy.ini\n", unit)

    def test_daemon_is_the_proxy_stripped(self):
        daemon = self.tmp + "/usr-prefix/usr/sbin/socks5-proxyd"
        sections = run("readelf", "-S", daemon).stdout
        self.assertNotIn(".debug_info", sections)
        self.assertNotIn(".symtab", sections)
        out = run(daemon, "--help").stdout
        self.assertIn("--hash-user", out)

    def test_unit_runs_check_then_the_daemon(self):
        unit = read(self.tmp, "usr-prefix", UNIT)
        for line in ["Type=notify",
                     "ExecStartPre=/usr/sbin/socks5-proxyd --config /etc/socks5-proxy/proxy.ini --check",
                     "ExecStart=/usr/sbin/socks5-proxyd --config /etc/socks5-proxy/proxy.ini",
                     "ExecReload=/usr/sbin/socks5-proxyd --config /etc/socks5-proxy/proxy.ini --check",
                     "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                     "User=socks5-proxy", "CapabilityBoundingSet=", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                     "PrivateDevices=yes", "StateDirectory=socks5-proxy",
                     "LogsDirectory=socks5-proxy", "ConfigurationDirectory=socks5-proxy"]:
            self.assertIn("\n" + line + "\n", unit)
        self.assertRegex(unit, r"\nLimitNOFILE=\d+\n")
        self.assertNotIn("@", unit.replace("@system-service", "").replace("@privileged", ""))

    def test_man_pages_are_roff(self):
        for page in MAN_PAGES:
            with gzip.open(os.path.join(self.tmp, "usr-prefix", page), "rt") as f:
                text = f.read()
            self.assertIn(".TH", text, page)
            self.assertIn(".SH NAME", text, page)

    def test_logrotate_signals_the_daemon_only(self):
        text = read(self.tmp, "usr-prefix", "etc/logrotate.d/socks5-proxy")
        self.assertIn("/var/log/socks5-proxy/*.log {", text)
        self.assertIn("systemctl kill --kill-whom=main --signal=USR1 socks5-proxy.service",
                      text)

    @unittest.skipUnless(shutil.which("logrotate"), "logrotate is not installed")
    def test_logrotate_parses(self):
        # The user socks5-proxy does not exist on this machine: root instead.
        text = read(self.tmp, "usr-prefix", "etc/logrotate.d/socks5-proxy")
        conf = os.path.join(self.tmp, "logrotate.conf")
        with open(conf, "w") as f:
            f.write(text.replace("socks5-proxy socks5-proxy", "root root"))
        p = subprocess.run(["logrotate", "-d", "-s", self.tmp + "/state", conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("error", p.stderr.lower())
        self.assertIn("/var/log/socks5-proxy/*.log", p.stderr)


@unittest.skipUnless(SOURCE and PROXY, "needs PROXY_SOURCE_DIR, PROXY_BIN")
class PackagedConfig(unittest.TestCase):
    def setUp(self):
        self.text = read(SOURCE, "config/package/proxy.ini")

    def test_every_sample_key_is_shown(self):
        sample = ini_keys(read(SOURCE, "config/proxy.ini"))
        self.assertEqual(sample - ini_keys(self.text), set())

    def test_listeners_on_loopback_only(self):
        for m in re.finditer(r"^(?:listen|spcp_listen|manager_listen)\s*=\s*(\S+)$",
                             self.text, re.M):
            self.assertRegex(m.group(1), r"^(127\.0\.0\.1|\[::1\]):\d+$")

    def test_admin_transport_is_proxyctls_default(self):
        # proxyctl speaks SCTP over UDP unless told --transport kernel; with
        # `auto` a Debian kernel's SCTP would win and `proxyctl users add`
        # (the postinst's advice) would be refused (tests/package/systemd_vm.sh).
        self.assertRegex(self.text, r"(?m)^\[admin\]\n(?:#.*\n)*transport = udp$")

    def test_no_known_credentials(self):
        self.assertIn("users_file = /var/lib/socks5-proxy/users.txt\n", self.text)
        self.assertNotRegex(self.text, r"\$y\$|demo")

    def test_checks_ok_with_its_paths_in_a_scratch_root(self):
        with tempfile.TemporaryDirectory(prefix="pkg-config-") as root:
            os.makedirs(root + "/var/lib/socks5-proxy")
            os.makedirs(root + "/var/log/socks5-proxy")
            env = dict(os.environ, PROXY_PASSWORD="x" * 20)
            line = run(PROXY, "--hash-user", "admin", "--roles", "admin", env=env).stdout
            with open(root + "/var/lib/socks5-proxy/users.txt", "w") as f:
                f.write(line)
            with open(root + "/proxy.ini", "w") as f:
                f.write(self.text.replace("/var/", root + "/var/"))
            out = run(PROXY, "--config", root + "/proxy.ini", "--check").stdout
            # The deny_destination shorthand, as --check understood it.
            self.assertEqual(out, "access rules (first match wins):\n"
                             "rule 1: block dest=169.254.0.0/16  (deny_destination)\n"
                             "rule 2: block dest=fe80::/10  (deny_destination)\n"
                             "default: pass\n" + root + "/proxy.ini: OK\n")
            self.assertTrue(os.path.exists(root + "/var/log/socks5-proxy/access.log"))


@unittest.skipUnless(SOURCE, "needs PROXY_SOURCE_DIR")
class ManPagesCoverSources(unittest.TestCase):
    """Every config key, option and environment variable in the code is in
    its man page (the key table, the command lines, getenv calls)."""

    def page(self, name):
        return read(SOURCE, "docs/man", name)

    def test_every_config_key(self):
        page = self.page("socks5-proxy.ini.5.scd")
        keys = re.findall(r'(?:one|many)\("(\w+)", "(\w+)"', read(SOURCE, "config/keys.cpp"))
        outbound = read(SOURCE, "config/outbound_keys.cpp")
        keys += re.findall(r'\{"(\w+)", "(\w+)", false', outbound)
        keys += [("outbound", k) for k in re.findall(r'profile_key\("(\w+)"', outbound)]
        self.assertGreater(len(keys), 20)
        sections = re.split(r"^# ", page, flags=re.M)
        for section, key in keys:
            body = next((s for s in sections if s.startswith("[%s]" % section)), "")
            self.assertTrue("*%s* =" % key in body,
                            "[%s] %s is not in the man page" % (section, key))

    def check_options(self, sources, page_name):
        page = self.page(page_name)
        text = "".join(read(SOURCE, s) for s in sources)
        options = set(re.findall(r'(?<![\w-])(--[a-z][a-z-]+)', text))
        envs = set(re.findall(r'getenv\("(\w+)"\)', text))
        self.assertTrue(options)
        for opt in options | envs:
            self.assertTrue("*%s*" % opt in page, "%s is not in %s" % (opt, page_name))

    def test_daemon_options(self):
        self.check_options(["actors/main.cpp"], "socks5-proxyd.8.scd")

    def test_proxyctl_options(self):
        sources = [os.path.join("admin", n) for n in sorted(os.listdir(SOURCE + "/admin"))
                   if n.startswith("proxyctl") and n.endswith(".cpp")]
        self.check_options(sources, "proxyctl.1.scd")


def packaged_config_for_test(root, udp_port):
    """The packaged proxy.ini with its paths under root, SOCKS on a free
    loopback port, SCTP over UDP on udp_port and Prometheus on a free port;
    returns its path."""
    text = read(SOURCE, "config/package/proxy.ini").replace("/var/", root + "/var/")
    # The [admin] line below sets the transport again (a key given twice fails).
    text = text.replace("\ntransport = udp\n", "\n")
    text = text.replace("listen = 127.0.0.1:1080\n", "listen = 127.0.0.1:0\n")
    text = text.replace("listen = [::1]:1080\n", "")
    text = text.replace("[admin]\n", "[admin]\ntransport = udp\nudp_port = %d\n" % udp_port)
    text = text.replace("listen = 127.0.0.1:9464\n", "listen = 127.0.0.1:0\n")
    path = os.path.join(root, "proxy.ini")
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_for_socks_port(daemon, timeout=20):
    """Reads the daemon's standard error up to its ready line; returns the
    SOCKS port it logged."""
    port, seen, deadline = None, "", time.time() + timeout
    while time.time() < deadline:
        line = daemon.stderr.readline()
        if not line:
            break
        seen += line
        m = re.search(r"SOCKS5 listening on 127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else port
        if "ready:" in line and port:
            threading.Thread(target=daemon.stderr.read, daemon=True).start()
            return port
    raise AssertionError("the daemon did not start:\n" + seen)


@unittest.skipUnless(BUILD and SOURCE and PROXY, "needs PROXY_BUILD_DIR, PROXY_SOURCE_DIR, PROXY_BIN")
class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pkg-deb-")
        run("cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", cls.tmp)
        debs = [n for n in os.listdir(cls.tmp) if n.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_contents(self):
        files = {}
        for line in run("dpkg-deb", "-c", self.deb).stdout.splitlines():
            mode, owner, *_, path = line.split()
            self.assertEqual(owner, "root/root", line)
            if not mode.startswith("d"):
                files[path[2:]] = mode
        expected = {p: "-rwxr-xr-x" if m == 0o755 else "-rw-r--r--" for p, m in FILES.items()}
        self.assertEqual(files, expected)

    def test_control(self):
        field = lambda name: run("dpkg-deb", "-f", self.deb, name).stdout.strip()
        self.assertEqual(field("Package"), "socks5-proxy")
        depends = field("Depends")
        for dep in ["adduser", "libcaf-core", "libusrsctp", "libc-ares"]:
            self.assertIn(dep, depends)
        info = run("dpkg-deb", "-I", self.deb).stdout
        for part in ["conffiles", "postinst", "prerm", "postrm", "md5sums"]:
            self.assertRegex(info, r"\s%s\s" % part)
        conffiles = run("dpkg-deb", "--info", self.deb, "conffiles").stdout.split()
        self.assertEqual(sorted(conffiles),
                         ["/etc/logrotate.d/socks5-proxy", "/etc/socks5-proxy/proxy.ini"])

    @unittest.skipUnless(shutil.which("lintian"), "lintian is not installed")
    def test_lintian(self):
        p = subprocess.run(["lintian", "--pedantic", "-I", self.deb],
                           capture_output=True, text=True, timeout=180)
        tags = re.findall(r"^([EW]): \S+: (\S+)", p.stdout, re.M)
        self.assertEqual({t for level, t in tags if level == "E"}, set(), p.stdout)
        self.assertLessEqual({t for level, t in tags if level == "W"},
                             DOCUMENTED_WARNINGS, p.stdout)
        # The build's hardening flags (PROXY_HARDEN): none of lintian's
        # hardening-* tags at any level.
        self.assertNotRegex(p.stdout, r"(?m)^[EWI]: \S+: hardening-", p.stdout)

    def install_in_scratch_root(self):
        """The package unpacked under a fresh scratch root and its postinst
        run there (configure, first install); returns (root, env)."""
        root = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        run("dpkg-deb", "-x", self.deb, root)
        run("dpkg-deb", "-e", self.deb, root + "/DEBIAN")
        env = self.scratch_env(root)
        out = run("sh", root + "/DEBIAN/postinst", "configure", env=env).stdout
        self.assertIn("/var/lib/socks5-proxy/initial-admin-password", out)
        return root, env

    def test_postinst_first_install_and_upgrade(self):
        root, env = self.install_in_scratch_root()
        state = root + "/var/lib/socks5-proxy"
        users = [l for l in read(state, "users.txt").splitlines() if not l.startswith("#")]
        self.assertEqual(len(users), 1)
        name, roles, hashed = users[0].split(":", 2)
        self.assertEqual((name, roles), ("admin", "admin"))
        pw_file = state + "/initial-admin-password"
        self.assertEqual(stat.S_IMODE(os.stat(pw_file).st_mode), 0o600)
        password = read(pw_file).strip()
        self.assertGreaterEqual(len(password), 20)
        self.assertEqual(crypt.crypt(password, hashed), hashed)
        # An upgrade keeps the users; a purge removes state and logs.
        before = read(state, "users.txt")
        run("sh", root + "/DEBIAN/postinst", "configure", "0.0.9", env=env)
        self.assertEqual(read(state, "users.txt"), before)
        run("sh", root + "/DEBIAN/postrm", "purge", env=env)
        self.assertFalse(os.path.exists(state))
        self.assertFalse(os.path.exists(root + "/var/log/socks5-proxy"))

    def test_two_installs_get_different_passwords(self):
        first, _ = self.install_in_scratch_root()
        second, _ = self.install_in_scratch_root()
        path = "var/lib/socks5-proxy/initial-admin-password"
        self.assertNotEqual(read(first, path), read(second, path))

    def test_installed_service_works_with_the_first_admin(self):
        """The unpacked daemon on the packaged config (its paths moved into
        the scratch root, free ports): the admin password from the postinst
        logs in, adds a SOCKS user, and that user relays through."""
        root, _ = self.install_in_scratch_root()
        udp_port = harness.free_udp_port()
        config = packaged_config_for_test(root, udp_port)
        password = read(root, "var/lib/socks5-proxy/initial-admin-password").strip()
        daemon = subprocess.Popen([root + "/usr/sbin/socks5-proxyd", "--config", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        echo, echo_port = harness.start_server(harness.EchoHandler)
        try:
            port = wait_for_socks_port(daemon)
            ctl = lambda pw, *args, **kw: subprocess.run(
                [root + "/usr/bin/proxyctl", "--udp-port", str(udp_port), *args],
                env=dict(os.environ, PROXYCTL_PASSWORD=pw, **kw), capture_output=True,
                text=True, stdin=subprocess.DEVNULL, timeout=60)
            self.assertEqual(ctl("wrong-password", "check").returncode, 3)
            r = ctl(password, "users", "add", "alice", PROXYCTL_NEW_PASSWORD="al1ce-pw")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            s, rep = harness.socks_connect(port, "127.0.0.1", echo_port, "alice", "al1ce-pw")
            self.assertEqual(rep, 0)
            s.sendall(b"through the package")
            self.assertEqual(harness.recv_exact(s, 19), b"through the package")
            s.close()
            self.assertIn("alice:socks:", read(root, "var/lib/socks5-proxy/users.txt"))
        finally:
            harness.stop_server(echo)
            daemon.terminate()
            _, err = daemon.communicate(timeout=30)
        self.assertEqual(daemon.returncode, 0, err)
        self.assertIn("user=alice", read(root, "var/log/socks5-proxy/access.log"))

    def scratch_env(self, root):
        """DPKG_ROOT=root and stand-ins for the tools that would change this
        machine (users, ownership, systemd); the daemon is the package's."""
        shims = tempfile.mkdtemp(prefix="shims-", dir=self.tmp)
        for tool in ["adduser", "chown", "deb-systemd-helper", "deb-systemd-invoke",
                     "systemctl"]:
            self.write_script(shims + "/" + tool, "exit 0\n")
        self.write_script(shims + "/getent", 'test "$1" = passwd\n')
        self.write_script(shims + "/install",  # install -d without -o/-g
                          'exec /usr/bin/install -d -m 0750 "$8" "$9"\n')
        os.symlink(root + "/usr/sbin/socks5-proxyd", shims + "/socks5-proxyd")
        return dict(os.environ, DPKG_ROOT=root, PATH=shims + ":/usr/bin:/bin")

    @staticmethod
    def write_script(path, body):
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)


@unittest.skipUnless(BUILD and SOURCE, "needs PROXY_BUILD_DIR, PROXY_SOURCE_DIR")
@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
class SystemdUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pkg-unit-")
        run("cmake", "--install", BUILD, "--prefix", "/usr",
            env=dict(os.environ, DESTDIR=cls.tmp + "/stage"))
        # verify wants the programs and the man pages where the unit says:
        # point it at the staged ones.
        stage = cls.tmp + "/stage"
        unit = read(stage, UNIT).replace("/usr/sbin/", stage + "/usr/sbin/")
        cls.unit = os.path.join(cls.tmp, "socks5-proxy.service")
        with open(cls.unit, "w") as f:
            f.write(unit)
        cls.env = dict(os.environ, MANPATH=stage + "/usr/share/man")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_verify_is_silent(self):
        p = run("systemd-analyze", "verify", self.unit, env=self.env)
        self.assertEqual(p.stdout + p.stderr, "")

    def test_verify_catches_a_broken_unit(self):
        broken = self.unit + ".broken/socks5-proxy.service"
        os.makedirs(os.path.dirname(broken))
        with open(broken, "w") as f:
            f.write(read(self.unit).replace("ProtectHome=yes", "ProtectHome=bogus"))
        p = run("systemd-analyze", "verify", broken, env=self.env)
        self.assertIn("bogus", p.stderr)

    def test_security_exposure_as_documented(self):
        p = run("systemd-analyze", "security", "--offline=yes", "--no-pager", self.unit)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertLessEqual(float(m.group(1)), 2.0)
        self.assertIn("exposure level %s" % m.group(1), read(SOURCE, "docs/packaging.md"))


if __name__ == "__main__":
    unittest.main()
