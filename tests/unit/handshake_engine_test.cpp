// The handshake engine without sockets: bytes and a plan in, actions and
// reply bytes out, whatever the split of the input.
#define CAF_SUITE handshake_engine
#include <caf/test/unit_test_impl.hpp>

#include <string>
#include <vector>

#include "net/reactor/handshake_engine.hpp"
#include "tests/unit/bytes.hpp"

using namespace px;
using px::test::bytes;
using px::test::cat;
using act = net::hs_action;

namespace {

const bytes greeting_userpass{0x05, 0x01, 0x02};
const bytes greeting_both{0x05, 0x02, 0x00, 0x02};
const bytes greeting_none{0x05, 0x01, 0x00};
const bytes creds{0x01, 0x04, 'd', 'e', 'm', 'o', 0x02, 'p', 'w'};
const bytes connect_v4{0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0x1F, 0x90};
const bytes connect_name{0x05, 0x01, 0x00, 0x03, 3, 'a', '.', 'b', 0x00, 0x50};
const bytes udp_request{0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0};

/// What a whole run produced: the actions in order, the bytes written.
struct trace {
  std::vector<act::kind_t> kinds;
  bytes out;
  act last;
};

/// Feeds `input` in pieces of `piece` bytes, as a loop would (unconsumed
/// bytes stay in the buffer); every credentials action gets `grant`.
trace run(const bytes& input, size_t piece, bool userpass = true, bool no_auth = false,
          bool grant = true) {
  net::handshake_engine e;
  e.reset(userpass, no_auth);
  trace t;
  bytes buf;
  size_t fed = 0;
  for (;;) {
    auto a = e.advance(buf.data(), buf.size(), t.out);
    CAF_REQUIRE_LESS_OR_EQUAL(a.consumed, buf.size());
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(a.consumed));
    if (a.kind == act::need_more) {
      if (fed == input.size())
        break;
      auto n = std::min(piece, input.size() - fed);
      buf.insert(buf.end(), input.begin() + static_cast<long>(fed),
                 input.begin() + static_cast<long>(fed + n));
      fed += n;
      continue;
    }
    t.kinds.push_back(a.kind);
    t.last = a;
    if (a.kind == act::credentials) {
      if (e.authenticated(grant, t.out))
        continue;
    }
    break;
  }
  return t;
}

} // namespace

CAF_TEST(username and password then a CONNECT) {
  auto t = run(cat({greeting_userpass, creds, connect_v4}), 1000);
  CAF_REQUIRE_EQUAL(t.kinds.size(), 2u);
  CAF_CHECK_EQUAL(t.kinds[0], act::credentials);
  CAF_CHECK_EQUAL(t.kinds[1], act::request);
  CAF_CHECK(t.out == (bytes{0x05, 0x02, 0x01, 0x00}));
  CAF_CHECK(t.last.req.cmd == socks5::command::connect);
  CAF_CHECK_EQUAL(t.last.req.dst.to_string(), "10.0.0.1:8080");
}

CAF_TEST(every split of the input gives the same actions and bytes) {
  auto input = cat({greeting_both, creds, connect_name});
  auto whole = run(input, input.size());
  for (size_t piece = 1; piece < input.size(); ++piece) {
    auto t = run(input, piece);
    CAF_CHECK(t.kinds == whole.kinds);
    CAF_CHECK(t.out == whole.out);
    CAF_CHECK_EQUAL(t.last.req.dst.to_string(), "a.b:80");
  }
}

CAF_TEST(the credentials action carries the name and the password) {
  net::handshake_engine e;
  e.reset(true, false);
  bytes out;
  auto input = cat({greeting_userpass, creds});
  auto a = e.advance(input.data(), input.size(), out);
  CAF_REQUIRE_EQUAL(a.kind, act::credentials);
  CAF_CHECK_EQUAL(a.consumed, input.size());
  CAF_CHECK_EQUAL(a.creds.user, "demo");
  CAF_CHECK_EQUAL(a.creds.password, "pw");
  CAF_CHECK(e.step() == net::hs_step::authenticating);
  // While the owner decides, more input waits untouched.
  auto b = e.advance(connect_v4.data(), connect_v4.size(), out);
  CAF_CHECK_EQUAL(b.kind, act::idle);
  CAF_CHECK_EQUAL(b.consumed, 0u);
}

CAF_TEST(a refused login writes the failure status and ends) {
  auto t = run(cat({greeting_userpass, creds, connect_v4}), 3, true, false, false);
  CAF_REQUIRE_EQUAL(t.kinds.size(), 1u);
  CAF_CHECK(t.out == (bytes{0x05, 0x02, 0x01, 0x01}));
  net::handshake_engine e;
  e.reset(true, false);
  bytes out;
  CAF_CHECK(!e.authenticated(true, out)); // no verdict is awaited
  CAF_CHECK(out.empty());
}

CAF_TEST(no authentication goes straight to the request) {
  auto t = run(cat({greeting_none, udp_request}), 2, false, true);
  CAF_REQUIRE_EQUAL(t.kinds.size(), 1u);
  CAF_CHECK_EQUAL(t.kinds[0], act::request);
  CAF_CHECK(t.out == (bytes{0x05, 0x00}));
  CAF_CHECK(t.last.req.cmd == socks5::command::udp_associate);
}

CAF_TEST(a client offering both methods is asked for its password) {
  auto t = run(cat({greeting_both, creds, connect_v4}), 1000, true, true);
  CAF_CHECK(t.out == (bytes{0x05, 0x02, 0x01, 0x00}));
}

CAF_TEST(no acceptable method fails at the method stage without a reply) {
  auto t = run(greeting_none, 1000, true, false);
  CAF_REQUIRE_EQUAL(t.kinds.size(), 1u);
  CAF_CHECK_EQUAL(t.kinds[0], act::failed);
  CAF_CHECK(t.last.stage == net::handshake_stage::method);
  CAF_CHECK(t.out.empty()); // the owner answers 05 FF
}

CAF_TEST(malformed input fails with its stage and error) {
  auto g = run(bytes{0x04, 0x01, 0x00}, 1);
  CAF_CHECK(g.last.stage == net::handshake_stage::greeting);
  CAF_CHECK(g.last.error == socks5::codec_error::bad_version);
  auto c = run(cat({greeting_userpass, bytes{0x01, 0x00}}), 1);
  CAF_CHECK(c.last.stage == net::handshake_stage::credentials);
  CAF_CHECK(c.last.error == socks5::codec_error::empty_credentials);
  auto r = run(cat({greeting_userpass, creds, bytes{0x05, 0x09, 0x00, 0x01}}), 1);
  CAF_CHECK(r.last.stage == net::handshake_stage::request);
  CAF_CHECK(r.last.error == socks5::codec_error::bad_command);
  CAF_CHECK(r.out == (bytes{0x05, 0x02, 0x01, 0x00}));
}

CAF_TEST(bytes after the request stay unconsumed for the relay) {
  net::handshake_engine e;
  e.reset(false, true);
  bytes out;
  auto input = cat({greeting_none, connect_v4, bytes{'G', 'E', 'T'}});
  auto a = e.advance(input.data(), input.size(), out);
  CAF_REQUIRE_EQUAL(a.kind, act::request);
  CAF_CHECK_EQUAL(a.consumed, input.size() - 3);
  CAF_CHECK(e.step() == net::hs_step::done);
}
