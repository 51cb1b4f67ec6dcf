"""What an attacker and a careless admin do to the proxy (issue 12): each
test reproduces an attack on loopback against the real binary."""

import socket
import time
import unittest

import harness


class LogForgingTest(unittest.TestCase):
    def setUp(self):
        self.proxy = harness.Proxy()

    def tearDown(self):
        self.proxy.cleanup()

    def test_network_strings_cannot_forge_log_lines(self):
        forged = "2031-01-01T00:00:00.000Z ERROR forged line"
        user = "x\n" + forged + "\x1b[31m\r"
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10)
        s.sendall(harness.greeting())
        self.assertEqual(harness.recv_exact(s, 2), b"\x05\x02")
        s.sendall(harness.auth(user, "wrong"))
        self.assertEqual(harness.recv_exact(s, 2), b"\x01\x01")
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline and "auth failed" not in self.proxy.log_text():
            time.sleep(0.02)
        text = self.proxy.log_text()
        self.assertIn("auth failed", text)
        for line in text.splitlines():
            self.assertFalse(line.startswith(forged[:24]), line)
        self.assertNotIn("\x1b", text)
        self.assertNotIn("\r", text)
        # The bytes are still there, escaped.
        self.assertIn("x\\x0a" + forged + "\\x1b[31m\\x0d", text)


if __name__ == "__main__":
    unittest.main()
