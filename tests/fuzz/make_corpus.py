#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: real messages from RFC 1928,
RFC 1929 and the admin protocol specs (../shared/specs/, resolved in
docs/admin-protocols.md), and the sample config files. Run from anywhere:
python3 tests/fuzz/make_corpus.py (rewrites tests/fuzz/corpus/)."""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def b(*parts):
    """Concatenates ints (one byte each), bytes and str (ASCII)."""
    out = bytearray()
    for p in parts:
        if isinstance(p, int):
            out.append(p)
        elif isinstance(p, str):
            out += p.encode()
        else:
            out += p
    return bytes(out)


def lv(data):
    """One length byte, then the data."""
    data = data.encode() if isinstance(data, str) else data
    return b(len(data), data)


# -- SOCKS5 (RFC 1928, RFC 1929) ----------------------------------------------

def addr_v4(a, port):
    return b(0x01, bytes(a), struct.pack(">H", port))


def addr_v6(a, port):
    return b(0x04, bytes(a), struct.pack(">H", port))


def addr_domain(name, port):
    return b(0x03, lv(name), struct.pack(">H", port))


V6_LOOPBACK = [0] * 15 + [1]
V6_DOC = [0x20, 0x01, 0x0D, 0xB8] + [0] * 10 + [0x12, 0x34]

ADDRESSES = {
    "ipv4": addr_v4([127, 0, 0, 1], 8080),
    "ipv4-any": addr_v4([0, 0, 0, 0], 0),
    "ipv6": addr_v6(V6_LOOPBACK, 80),
    "ipv6-doc": addr_v6(V6_DOC, 65535),
    "domain": addr_domain("example.com", 443),
    "domain-255": addr_domain("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63, 80),
}

GREETING = {
    "no-auth": b(5, 1, 0x00),
    "userpass": b(5, 1, 0x02),
    "both": b(5, 2, 0x00, 0x02),
    "three": b(5, 3, 0x00, 0x01, 0x02),
    "all-255": b(5, 255, bytes(range(255))),
    "pipelined-auth": b(5, 1, 0x02, 1, lv("demo"), lv("demo")),
    "socks4": b(4, 1, 0x00, 0x50, 127, 0, 0, 1, 0),
    "no-methods": b(5, 0),
    "http": b("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
}

CREDENTIALS = {
    "demo": b(1, lv("demo"), lv("secret")),
    "max": b(1, lv("u" * 255), lv("p" * 255)),
    "binary": b(1, lv(bytes([0, 0xFF, 0x3A])), lv(bytes([0x0A, 0x00]))),
    "pipelined-request": b(1, lv("demo"), lv("demo"), 5, 1, 0, ADDRESSES["domain"]),
    "empty-user": b(1, 0, lv("x")),
    "empty-password": b(1, lv("x"), 0),
    "socks5-version": b(5, lv("a"), lv("b")),
}

REQUEST = {"connect-" + k: b(5, 1, 0, a) for k, a in ADDRESSES.items()}
REQUEST.update({
    "bind-ipv4": b(5, 2, 0, ADDRESSES["ipv4-any"]),
    "udp-associate": b(5, 3, 0, ADDRESSES["ipv4-any"]),
    "udp-associate-ipv6": b(5, 3, 0, ADDRESSES["ipv6"]),
    "pipelined-data": b(5, 1, 0, ADDRESSES["domain"], "GET / HTTP/1.0\r\n\r\n"),
    "bad-command": b(5, 9, 0, ADDRESSES["ipv4"]),
    "bad-reserved": b(5, 1, 7, ADDRESSES["ipv4"]),
    "bad-atyp": b(5, 1, 0, 0x02, 1, 2, 3, 4, 0, 80),
    "nul-domain": b(5, 1, 0, 0x03, lv(b"a\0b"), 0, 80),
    "empty-domain": b(5, 1, 0, 0x03, 0, 0, 80),
})

UDP_HEADER = {k: b(0, 0, 0, a, "payload") for k, a in ADDRESSES.items()}
UDP_HEADER.update({
    "dns-query": b(0, 0, 0, addr_v4([10, 0, 0, 1], 53),
                   bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")),
    "no-payload": b(0, 0, 0, ADDRESSES["ipv4"]),
    "fragment": b(0, 0, 1, ADDRESSES["ipv4"], "x"),
    "bad-reserved": b(0, 1, 0, ADDRESSES["ipv4"], "x"),
})

# -- SPCP ---------------------------------------------------------------------

def spcp_req(cmd, *args):
    return b(cmd, len(args), *[lv(a) for a in args])


def spcp_resp(status, data):
    return b(status, lv(data))


SPCP = {
    "user": spcp_req(0x00, "admin"),
    "pass": spcp_req(0x01, "admin"),
    "concurrent": spcp_req(0x02),
    "bytes": spcp_req(0x03),
    "historical": spcp_req(0x04),
    "get-transform": spcp_req(0x05),
    "set-buffer": spcp_req(0x06, "65536"),
    "set-transform": spcp_req(0x07, "tr a-z A-Z"),
    "set-transform-off": spcp_req(0x07),
    "set-transform-empty": spcp_req(0x07, ""),
    "quit": spcp_req(0x09),
    "unknown-08": spcp_req(0x08),
    "two-args": spcp_req(0x07, "", "ab"),
    "long-arg": spcp_req(0x07, "x" * 255),
    "ok-number": spcp_resp(0x00, "123"),
    "auth-error": spcp_resp(0x01, ""),
    "invalid-args": spcp_resp(0x03, "buffer size out of range"),
    "truncated": b(0x00, 0x01, 0x05, "ad"),
    "trailing": b(0x02, 0x00, 0xFF),
}

# -- Manager ------------------------------------------------------------------

def metrics_number(v):
    n = max(1, (v.bit_length() + 7) // 8)
    return b(n, v.to_bytes(n, "big"))


MANAGER = {
    "login": b(1, lv("admin"), lv("admin")),
    "add-user": b(5, 0, lv("alice"), lv("s3cret")),
    "list-users": b(5, 1),
    "metrics": b(5, 2),
    "max-clients": b(5, 3, 4, struct.pack(">I", 256)),
    "del-user": b(5, 4, lv("alice")),
    "passwd": b(5, 5, lv("alice"), lv("n3w-pw")),
    "reload": b(5, 6),
    "reload-reply": b(5, 6, 0, lv("reloaded /etc/socks5-proxy/proxy.ini")),
    "reload-reply-failed": b(5, 6, 0x0B, lv("proxy.ini:12: key 'rule': a rule starts with pass or block")),
    "unknown-command": b(5, 0x0A),
    "cluster-metrics": b(5, 8),
    "cluster-setting": b(5, 9, 1, lv("500")),
    "cluster-setting-off": b(5, 9, 3, 0),
    "cluster-metrics-reply": b(5, 8, 0, 1, lv("a"), metrics_number(1), metrics_number(2),
                               metrics_number(300), metrics_number(4), metrics_number(0),
                               metrics_number(5), 1, lv("c")),
    "cluster-setting-reply": b(5, 9, 0, 2, lv("a"), 0, lv("b"), 9, 0),
    "login-reply": b(5, 0),
    "status-reply": b(5, 0, 4),
    "list-reply": b(5, 1, 2, lv("al"), lv("b")),
    "list-reply-empty": b(5, 1, 0),
    "metrics-reply": b(5, 2, metrics_number(300), metrics_number(0), metrics_number(0x010000)),
    "metrics-reply-max": b(5, 2, metrics_number(2**64 - 1), metrics_number(1), metrics_number(2**40)),
    "metrics-reply-leading-zeros": b(5, 2, 9, bytes(1) + b"\xff" * 8, 1, 0, 1, 0),
    "bad-slen": b(5, 3, 2, 1, 0),
}

# -- files --------------------------------------------------------------------

def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


HASH = "$y$j9T$CTJezUeb.OI.dyYzZT75j/$IWpd2AVpdIVS8SDAkworJgv7GV7RdxjMDKCZtxQzVkB"

PROXY_INI = {
    "sample.ini": read("config/proxy.ini"),
    "minimal.ini": b("[socks]\nlisten = 127.0.0.1:1080\nusers_file = users.txt\n"),
    "no-auth.ini": b("[socks]\nlisten = [::]:1080\nauth = none\n"),
    "every-key.ini": b(
        "[socks]\nlisten = 0.0.0.0:1080\nlisten = [::1]:0\nauth = any\n"
        "users_file = /etc/proxy/users.txt\nmax_clients = 1000000\nbuffer_size = 16m\n"
        "handshake_timeout = 500ms\nconnect_timeout = 2m\nbind_timeout = 1h\n"
        "idle_timeout = 0\nallow_client = 10.0.0.0/8\nallow_client = ::1/128\n"
        "deny_destination = 169.254.0.0/16\ndns_server = 127.0.0.53\n"
        "dns_server = [2001:db8::1]:5353\n"
        "[server]\nthreads = 255\nactor_threads = 64\nsplice = off\n"
        "shutdown_grace = 1\naccess_log = log/access.log\nlog_level = debug\n"
        "max_users = 1\n"
        "[admin]\ntransport = udp\nudp_port = 65535\nspcp_listen = off\n"
        "manager_listen = [::1]:9091\n"
        "[limits]\nuser_sessions = 1000000\nuser_connect_rate = 5\n"
        "user_bandwidth_up = 512K\nuser_bandwidth_down = 1024G/s\n"
        "source_sessions = 0\nsource_connect_rate = 1000000\nper_user_metrics = on\n"),
    "crlf.ini": b("[socks]\r\nlisten = 127.0.0.1:1080 # here\r\n; comment\r\n"
                  "users_file=u.txt\r\n"),
    "bad-value.ini": b("[socks]\nlisten = 127.0.0.1:1080\nusers_file = u\nbuffer_size = 12q\n"),
    "bad-section.ini": b("[sox]\nlisten = 127.0.0.1:1080\n"),
}

USERS = {
    "sample.txt": read("config/users.txt"),
    "roles.txt": b("# name:roles:hash\nalice:socks:" + HASH + "\nbob:socks,admin:" + HASH
                   + "\ncarol:admin,socks:" + HASH + "\n"),
    "crlf.txt": b("alice:socks:" + HASH + "\r\n# c\r\n\r\nbob:admin:" + HASH + "\r\n"),
    "sha512.txt": b("dave:socks:$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
                    "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/\n"),
    "bcrypt.txt": b("erin:socks:$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n"),
    "plaintext.txt": b("alice:socks:plaintext\n"),
    "twice.txt": b("a:socks:" + HASH + "\na:admin:" + HASH + "\n"),
    "options.txt": b("alice:socks:" + HASH + ":group=staff,group=ops,sessions=10,rate=5,"
                     "up=512K,down=10M/s\nbob:socks:" + HASH + ":group=ops,group=ops,up=0\n"
                     "carol:admin:" + HASH + "\n"),
    "bad-option.txt": b("alice:socks:" + HASH + ":sessions=1,sessions=2\n"),
}

CORPORA = {
    "socks5_greeting": GREETING,
    "socks5_credentials": CREDENTIALS,
    "socks5_request": REQUEST,
    "socks5_udp_header": UDP_HEADER,
    "spcp": SPCP,
    "manager": MANAGER,
    "proxy_ini": PROXY_INI,
    "users_file": USERS,
}


def main():
    for target, seeds in CORPORA.items():
        folder = os.path.join(CORPUS, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
