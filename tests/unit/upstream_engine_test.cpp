// The parent-proxy engine without sockets: golden bytes for SOCKS5 and HTTP
// CONNECT parents, every failure branch, and the same result whatever the
// split of the parent's bytes; plus the [upstream] URL syntax.
#define CAF_SUITE upstream_engine
#include <caf/test/unit_test_impl.hpp>

#include <string>
#include <vector>

#include "net/limits.hpp"
#include "net/reactor/upstream_engine.hpp"
#include "net/reactor/upstream_io.hpp"
#include "net/upstream.hpp"
#include "tests/unit/bytes.hpp"

using namespace px;
using px::test::bytes;
using px::test::cat;
using px::test::str;
using act = net::up_action;

namespace {

net::parent_proxy parent(net::parent_kind kind, std::string user = {},
                         std::string pass = {}) {
  net::parent_proxy p;
  p.name = "p";
  p.kind = kind;
  p.address = *net::ip_endpoint::parse("127.0.0.1:1080");
  p.user = std::move(user);
  p.password = std::move(pass);
  return p;
}

socks5::address name_target() {
  socks5::address a;
  a.type = socks5::atyp::domain;
  a.domain = "a.b";
  a.ip.port = 80;
  return a;
}

socks5::address v4_target() {
  return socks5::address::from(*net::ip_endpoint::parse("10.0.0.1:8080"));
}

struct trace {
  bytes out;
  act last;
  /// Bytes of the input left unconsumed at the end (the target's).
  bytes rest;
};

/// Feeds the parent's `input` in pieces of `piece` bytes, as upstream_io does.
trace run(const net::parent_proxy& p, const socks5::address& target,
          const bytes& input, size_t piece) {
  net::upstream_engine e;
  trace t;
  e.start(p, target, t.out);
  bytes buf;
  size_t fed = 0;
  for (;;) {
    auto a = e.advance(buf.data(), buf.size(), t.out);
    CAF_REQUIRE_LESS_OR_EQUAL(a.consumed, buf.size());
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(a.consumed));
    t.last = a;
    if (a.kind != act::need_more || fed == input.size())
      break;
    auto n = std::min(piece, input.size() - fed);
    buf.insert(buf.end(), input.begin() + static_cast<long>(fed),
               input.begin() + static_cast<long>(fed + n));
    fed += n;
  }
  t.rest = buf;
  t.rest.insert(t.rest.end(), input.begin() + static_cast<long>(fed), input.end());
  return t;
}

/// Runs every split; all must agree; returns the whole-input run.
trace run_all(const net::parent_proxy& p, const socks5::address& target,
              const bytes& input) {
  auto whole = run(p, target, input, input.size() + 1);
  for (size_t piece = 1; piece <= input.size(); ++piece) {
    auto t = run(p, target, input, piece);
    CAF_CHECK_EQUAL(t.out, whole.out);
    CAF_CHECK_EQUAL(t.last.kind, whole.last.kind);
    CAF_CHECK_EQUAL(t.last.err, whole.last.err);
    CAF_CHECK_EQUAL(t.last.parent_fault, whole.last.parent_fault);
    CAF_CHECK_EQUAL(t.rest, whole.rest);
  }
  return whole;
}

const bytes method_none{0x05, 0x00};
const bytes method_userpass{0x05, 0x02};
const bytes auth_ok{0x01, 0x00};
const bytes reply_ok{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x30, 0x39};
const bytes greeting_none{0x05, 0x01, 0x00};
const bytes greeting_both{0x05, 0x02, 0x00, 0x02};
const bytes request_name{0x05, 0x01, 0x00, 0x03, 3, 'a', '.', 'b', 0x00, 0x50};
const bytes request_v4{0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x1F, 0x90};
const bytes auth_req{0x01, 0x01, 'u', 0x02, 'p', 'w'};

} // namespace

CAF_TEST(socks5 without credentials sends greeting then request with the name) {
  auto t = run_all(parent(net::parent_kind::socks5), name_target(),
                   cat({method_none, reply_ok, str("hello")}));
  CAF_CHECK_EQUAL(t.out, cat({greeting_none, request_name}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  CAF_CHECK_EQUAL(t.rest, str("hello")); // the target spoke first: kept for the client
}

CAF_TEST(socks5 with credentials does RFC 1929 then the request with the address) {
  auto p = parent(net::parent_kind::socks5, "u", "pw");
  auto t = run_all(p, v4_target(), cat({method_userpass, auth_ok, reply_ok}));
  CAF_CHECK_EQUAL(t.out, cat({greeting_both, auth_req, request_v4}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  // A parent that does not ask for them gets none.
  t = run_all(p, v4_target(), cat({method_none, reply_ok}));
  CAF_CHECK_EQUAL(t.out, cat({greeting_both, request_v4}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  // VER 5 in the auth status (some servers) is read too.
  t = run_all(p, v4_target(), cat({method_userpass, bytes{0x05, 0x00}, reply_ok}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
}

CAF_TEST(socks5 reply with a domain or IPv6 bound address) {
  bytes v6{0x05, 0x00, 0x00, 0x04};
  v6.insert(v6.end(), 16, 0);
  v6.push_back(0);
  v6.push_back(1);
  auto t = run_all(parent(net::parent_kind::socks5), name_target(), cat({method_none, v6}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  CAF_CHECK(t.rest.empty());
  bytes dom{0x05, 0x00, 0x00, 0x03, 2, 'x', 'y', 0, 1};
  t = run_all(parent(net::parent_kind::socks5), name_target(), cat({method_none, dom}));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
}

CAF_TEST(socks5 REP codes are mapped back truthfully and are not parent faults) {
  using ce = net::connect_error;
  std::vector<std::pair<uint8_t, ce>> table{
    {0x01, ce::other},          {0x02, ce::denied},        {0x03, ce::network_unreachable},
    {0x04, ce::host_unreachable}, {0x05, ce::refused},     {0x06, ce::timeout},
    {0x07, ce::command_unsupported},          {0x08, ce::address_unsupported}, {0x09, ce::other}};
  for (auto [rep, err] : table) {
    auto reply = reply_ok;
    reply[1] = rep;
    auto t = run_all(parent(net::parent_kind::socks5), name_target(),
                     cat({method_none, reply}));
    CAF_CHECK_EQUAL(t.last.kind, act::failed);
    CAF_CHECK_EQUAL(t.last.err, err);
    CAF_CHECK(!t.last.parent_fault);
  }
}

CAF_TEST(socks5 failures of the parent itself) {
  auto none = parent(net::parent_kind::socks5);
  auto creds = parent(net::parent_kind::socks5, "u", "pw");
  auto fault = [](const trace& t) {
    CAF_CHECK_EQUAL(t.last.kind, act::failed);
    CAF_CHECK_EQUAL(t.last.err, net::connect_error::other);
    CAF_CHECK(t.last.parent_fault);
  };
  fault(run_all(none, name_target(), bytes{0x05, 0xFF}));         // no acceptable method
  fault(run_all(none, name_target(), bytes{0x05, 0x02}));         // wants credentials we lack
  fault(run_all(none, name_target(), bytes{0x04, 0x00}));         // not SOCKS5
  fault(run_all(creds, name_target(), cat({method_userpass, bytes{0x01, 0x01}}))); // refused
  fault(run_all(creds, name_target(), cat({method_userpass, bytes{0x07, 0x00}})));
  auto bad = reply_ok;
  bad[0] = 0x04;
  fault(run_all(none, name_target(), cat({method_none, bad})));   // reply VER
  bad = reply_ok;
  bad[2] = 0x01;
  fault(run_all(none, name_target(), cat({method_none, bad})));   // RSV
  bad = reply_ok;
  bad[3] = 0x09;
  fault(run_all(none, name_target(), cat({method_none, bad})));   // ATYP
}

CAF_TEST(socks5 partial input asks for more) {
  auto t = run(parent(net::parent_kind::socks5), name_target(),
               cat({method_none, bytes(reply_ok.begin(), reply_ok.end() - 1)}), 1);
  CAF_CHECK_EQUAL(t.last.kind, act::need_more);
  CAF_CHECK_EQUAL(t.out, cat({greeting_none, request_name}));
}

CAF_TEST(http CONNECT request with Basic credentials and a 2xx) {
  auto t = run_all(parent(net::parent_kind::http), name_target(),
                   str("HTTP/1.1 200 Connection established\r\n\r\nbanner"));
  CAF_CHECK_EQUAL(t.out, str("CONNECT a.b:80 HTTP/1.1\r\nHost: a.b:80\r\n\r\n"));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  CAF_CHECK_EQUAL(t.rest, str("banner"));
  auto p = parent(net::parent_kind::http, "Aladdin", "open sesame");
  t = run_all(p, socks5::address::from(*net::ip_endpoint::parse("[::1]:443")),
              str("HTTP/1.0 200 OK\r\nX: y\r\n\r\n"));
  CAF_CHECK_EQUAL(t.out, str("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
                             "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
  t = run_all(p, v4_target(), str("HTTP/1.1 204 No Content\n\n"));
  CAF_CHECK_EQUAL(t.last.kind, act::done);
}

CAF_TEST(http statuses are mapped and 407 or garbage are faults of the parent) {
  using ce = net::connect_error;
  struct row {
    const char* head;
    ce err;
    bool fault;
  };
  std::vector<row> table{
    {"HTTP/1.1 403 Forbidden\r\n\r\n", ce::denied, false},
    {"HTTP/1.1 404 Not Found\r\n\r\n", ce::host_unreachable, false},
    {"HTTP/1.1 502 Bad Gateway\r\n\r\n", ce::refused, false},
    {"HTTP/1.1 503 Service Unavailable\r\n\r\n", ce::host_unreachable, false},
    {"HTTP/1.1 504 Gateway Timeout\r\n\r\n", ce::timeout, false},
    {"HTTP/1.1 500 Oops\r\n\r\n", ce::other, false},
    {"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", ce::other, true},
    {"HTTP/1.1 301 Moved\r\n\r\n", ce::other, true},
    {"SSH-2.0-x\r\n\r\n", ce::other, true},
    {"HTTP/1.1 2x0 OK\r\n\r\n", ce::other, true},
  };
  for (auto& r : table) {
    CAF_MESSAGE(r.head);
    auto t = run_all(parent(net::parent_kind::http), name_target(), str(r.head));
    CAF_CHECK_EQUAL(t.last.kind, act::failed);
    CAF_CHECK_EQUAL(t.last.err, r.err);
    CAF_CHECK_EQUAL(t.last.parent_fault, r.fault);
  }
}

CAF_TEST(http head is capped and partial heads ask for more) {
  auto t = run(parent(net::parent_kind::http), name_target(), str("HTTP/1.1 200 OK\r\n"), 3);
  CAF_CHECK_EQUAL(t.last.kind, act::need_more);
  auto huge = str("HTTP/1.1 200 OK\r\nX: " + std::string(net::max_http_head, 'x'));
  t = run(parent(net::parent_kind::http), name_target(), huge, 1000);
  CAF_CHECK_EQUAL(t.last.kind, act::failed);
  CAF_CHECK(t.last.parent_fault);
}

CAF_TEST(base64 of every tail length) {
  CAF_CHECK_EQUAL(net::base64(""), "");
  CAF_CHECK_EQUAL(net::base64("f"), "Zg==");
  CAF_CHECK_EQUAL(net::base64("fo"), "Zm8=");
  CAF_CHECK_EQUAL(net::base64("foo"), "Zm9v");
  CAF_CHECK_EQUAL(net::base64("foob"), "Zm9vYg==");
}

CAF_TEST(parent URLs parse and print without the password) {
  net::parent_proxy p;
  CAF_CHECK(!net::parse_parent_url("socks5://127.0.0.1:1080", p));
  CAF_CHECK(p.kind == net::parent_kind::socks5);
  CAF_CHECK(!p.has_credentials());
  CAF_CHECK_EQUAL(net::to_string(p), "socks5://127.0.0.1:1080");
  CAF_CHECK(!net::parse_parent_url("http://bob:s%40cret@[::1]:3128/", p));
  CAF_CHECK(p.kind == net::parent_kind::http);
  CAF_CHECK_EQUAL(p.user, "bob");
  CAF_CHECK_EQUAL(p.password, "s@cret");
  CAF_CHECK_EQUAL(net::to_string(p), "http://bob:***@[::1]:3128");
  CAF_CHECK(net::parse_parent_url("socks4://1.2.3.4:1", p));
  // A name: looked up at each connect, printed as written.
  CAF_CHECK(!net::parse_parent_url("socks5://u:p@Proxy-1.corp.example:1080", p));
  CAF_CHECK_EQUAL(p.host, "Proxy-1.corp.example");
  CAF_CHECK_EQUAL(p.address.port, 1080);
  CAF_CHECK_EQUAL(net::to_string(p), "socks5://u:***@Proxy-1.corp.example:1080");
  CAF_CHECK(!net::parse_parent_url("socks5://127.0.0.1:1080", p));
  CAF_CHECK(p.host.empty()); // an address again: the name is gone
  for (auto bad : {"socks5://-a.example:1", "socks5://a-.example:1", "socks5://a..b:1",
                   "socks5://a_b:1", "socks5://a.example:99999", "socks5://a.example",
                   "socks5://1.2.3:1", "socks5://a.example:0"})
    CAF_CHECK(net::parse_parent_url(bad, p));
  CAF_CHECK(net::parse_parent_url("socks5://1.2.3.4", p));
  CAF_CHECK(net::parse_parent_url("socks5://1.2.3.4:0", p));
  CAF_CHECK(net::parse_parent_url("socks5://bob@1.2.3.4:1", p));
  CAF_CHECK(net::parse_parent_url("socks5://:x@1.2.3.4:1", p));
  CAF_CHECK(net::parse_parent_url("socks5://a:%4@1.2.3.4:1", p));
}

CAF_TEST(routes of parents and groups) {
  auto a = parent(net::parent_kind::socks5);
  a.name = "a";
  auto b = parent(net::parent_kind::http);
  b.name = "b";
  net::upstream_set set{{a, b}, {net::parent_group{"g", {"b", "a"}, 3}}, "g"};
  CAF_REQUIRE(set.route("a"));
  CAF_CHECK_EQUAL(*set.route("a"), (net::parent_route{0}));
  CAF_CHECK_EQUAL(*set.route("g"), (net::parent_route{1, 0}));
  CAF_CHECK(set.route("direct") == nullptr);
  CAF_CHECK(set.route("x") == nullptr);
  CAF_CHECK_EQUAL(*set.default_route(), (net::parent_route{1, 0}));
  CAF_CHECK_EQUAL(set.describe(), "parent = a socks5://127.0.0.1:1080\n"
                                  "parent = b http://127.0.0.1:1080\n"
                                  "group = g b,a\ndefault = g\n");
}

CAF_TEST(the route is the rule via then the user via then the default) {
  auto a = parent(net::parent_kind::socks5);
  a.name = "a";
  auto b = parent(net::parent_kind::socks5);
  b.name = "b";
  net::upstream_set set{{a, b}, {}, "a"};
  net::rule r443;
  r443.ports.push_back({443, 443});
  r443.via = "b";
  net::rule r80;
  r80.ports.push_back({80, 80});
  r80.via = "direct";
  net::rule blocked;
  blocked.action = net::rule_action::block;
  blocked.ports.push_back({25, 25});
  net::rule_subject who;
  who.rules = std::make_shared<const net::rule_set>(std::vector<net::cidr>{},
                                                    std::vector<net::rule>{blocked, r443, r80},
                                                    net::rule_action::pass);
  auto req = [](uint16_t port) {
    socks5::request q;
    q.dst = name_target();
    q.dst.ip.port = port;
    return q;
  };
  net::account user{"u"};
  CAF_CHECK_EQUAL(*net::choose_route(&set, who, nullptr, req(443)), (net::parent_route{1}));
  CAF_CHECK(net::choose_route(&set, who, nullptr, req(80)) == nullptr);
  CAF_CHECK_EQUAL(*net::choose_route(&set, who, nullptr, req(8080)), (net::parent_route{0}));
  CAF_CHECK_EQUAL(*net::choose_route(&set, who, &user, req(8080)), (net::parent_route{0}));
  user.set_via("b");
  CAF_CHECK_EQUAL(*net::choose_route(&set, who, &user, req(8080)), (net::parent_route{1}));
  user.set_via("direct");
  CAF_CHECK(net::choose_route(&set, who, &user, req(8080)) == nullptr);
  CAF_CHECK_EQUAL(*net::choose_route(&set, who, &user, req(443)), (net::parent_route{1}));
  CAF_CHECK(net::choose_route(nullptr, who, &user, req(443)) == nullptr);
}

CAF_TEST(udp associate names our source and keeps the parent relay address) {
  auto p = parent(net::parent_kind::socks5);
  auto ours = socks5::address::from(*net::ip_endpoint::parse("127.0.0.1:4000"));
  net::upstream_engine e;
  bytes out;
  e.start(p, ours, out, socks5::command::udp_associate);
  bytes method_none{0x05, 0x00};
  auto a = e.advance(method_none.data(), method_none.size(), out);
  CAF_CHECK_EQUAL(a.kind, act::need_more);
  // Greeting, then VER CMD=3 RSV ATYP=1 127.0.0.1 port 4000.
  CAF_CHECK_EQUAL(out, (bytes{0x05, 0x01, 0x00, 0x05, 0x03, 0x00, 0x01, 127, 0, 0, 1,
                              0x0f, 0xa0}));
  bytes reply{0x05, 0x00, 0x00, 0x01, 10, 1, 2, 3, 0x13, 0x88};
  a = e.advance(reply.data(), reply.size(), out);
  CAF_CHECK_EQUAL(a.kind, act::done);
  CAF_CHECK_EQUAL(a.consumed, reply.size());
  CAF_CHECK_EQUAL(e.bound().ip.to_string(), "10.1.2.3:5000");
  // A parent without UDP says so: command not supported, told as such.
  net::upstream_engine f;
  out.clear();
  f.start(p, ours, out, socks5::command::udp_associate);
  f.advance(method_none.data(), method_none.size(), out);
  bytes refuse{0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  a = f.advance(refuse.data(), refuse.size(), out);
  CAF_CHECK_EQUAL(a.kind, act::failed);
  CAF_CHECK_EQUAL(a.err, net::connect_error::command_unsupported);
}
