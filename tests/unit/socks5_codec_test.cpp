// Tier (a): the SOCKS5 codec against annotated golden bytes, fed whole and
// one byte at a time, plus truncated and malformed input.
#define CAF_SUITE socks5_codec
#include <caf/test/unit_test_impl.hpp>

#include <vector>

#include "net/socks5_codec.hpp"

using namespace px;
using namespace px::socks5;
using bytes = std::vector<uint8_t>;

namespace {

/// Feeds `input` one byte more at a time (as a resumable caller does) and
/// checks that every strict prefix asks for more and the whole parses.
template <class T, class F>
parse_result feed_bytewise(const bytes& input, F parse, T& out) {
  for (size_t n = 0; n < input.size(); ++n) {
    auto r = parse(input.data(), n, out);
    CAF_REQUIRE_EQUAL(static_cast<int>(r.status),
                      static_cast<int>(parse_status::need_more));
  }
  return parse(input.data(), input.size(), out);
}

} // namespace

CAF_TEST(greeting golden bytes) {
  // VER=5 NMETHODS=2 METHODS={no-auth, userpass}
  bytes in{0x05, 0x02, 0x00, 0x02};
  greeting g;
  auto r = parse_greeting(in.data(), in.size(), g);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, 4u);
  CAF_CHECK(g.offers(method::no_auth));
  CAF_CHECK(g.offers(method::userpass));
  CAF_CHECK(!g.offers(method::gssapi));
  greeting g2;
  r = feed_bytewise(in, parse_greeting, g2);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK(g2.methods == g.methods);
}

CAF_TEST(greeting with pipelined bytes consumes only itself) {
  bytes in{0x05, 0x01, 0x02, 0x01, 0x04, 'd', 'e', 'm', 'o'};
  greeting g;
  auto r = parse_greeting(in.data(), in.size(), g);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, 3u);
}

CAF_TEST(greeting errors are reported at once) {
  greeting g;
  bytes socks4{0x04, 0x01};
  auto r = parse_greeting(socks4.data(), 1, g);
  CAF_CHECK(r.status == parse_status::error);
  CAF_CHECK(r.error == codec_error::bad_version);
  bytes none{0x05, 0x00};
  r = parse_greeting(none.data(), none.size(), g);
  CAF_CHECK(r.status == parse_status::error);
  CAF_CHECK(r.error == codec_error::no_methods);
  bytes http{'G', 'E', 'T', ' '};
  r = parse_greeting(http.data(), http.size(), g);
  CAF_CHECK(r.error == codec_error::bad_version);
}

CAF_TEST(method choice prefers username and password) {
  using m = socks5::method;
  socks5::greeting both{{0x00, 0x02}};
  socks5::greeting none_only{{0x00}};
  socks5::greeting gssapi{{0x01}};
  CAF_CHECK(socks5::choose_method(both, true, false) == m::userpass);
  CAF_CHECK(socks5::choose_method(both, true, true) == m::userpass);
  CAF_CHECK(socks5::choose_method(both, false, true) == m::no_auth);
  CAF_CHECK(socks5::choose_method(none_only, true, false) == m::none_acceptable);
  CAF_CHECK(socks5::choose_method(none_only, true, true) == m::no_auth);
  CAF_CHECK(socks5::choose_method(gssapi, true, true) == m::none_acceptable);
}

CAF_TEST(credentials golden bytes) {
  // VER=1 ULEN=4 "demo" PLEN=6 "secret"
  bytes in{0x01, 0x04, 'd', 'e', 'm', 'o', 0x06, 's', 'e', 'c', 'r', 'e', 't'};
  credentials c;
  auto r = feed_bytewise(in, parse_credentials, c);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, in.size());
  CAF_CHECK_EQUAL(c.user, "demo");
  CAF_CHECK_EQUAL(c.password, "secret");
}

CAF_TEST(credentials of maximum size) {
  bytes in{0x01, 0xFF};
  in.insert(in.end(), 255, 'u');
  in.push_back(0xFF);
  in.insert(in.end(), 255, 'p');
  CAF_CHECK_EQUAL(in.size(), max_handshake_message);
  credentials c;
  auto r = parse_credentials(in.data(), in.size(), c);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(c.user.size(), 255u);
  CAF_CHECK_EQUAL(c.password.size(), 255u);
}

CAF_TEST(credentials errors) {
  credentials c;
  bytes bad_ver{0x05, 0x01, 'a', 0x01, 'b'};
  CAF_CHECK(parse_credentials(bad_ver.data(), bad_ver.size(), c).error
            == codec_error::bad_version);
  bytes empty_user{0x01, 0x00, 0x01, 'b'};
  CAF_CHECK(parse_credentials(empty_user.data(), empty_user.size(), c).error
            == codec_error::empty_credentials);
  bytes empty_pass{0x01, 0x01, 'a', 0x00};
  CAF_CHECK(parse_credentials(empty_pass.data(), empty_pass.size(), c).error
            == codec_error::empty_credentials);
  bytes truncated{0x01, 0x04, 'd', 'e'};
  CAF_CHECK(parse_credentials(truncated.data(), truncated.size(), c).status
            == parse_status::need_more);
}

CAF_TEST(request connect ipv4) {
  // VER=5 CMD=CONNECT RSV=0 ATYP=1 127.0.0.1 PORT=8080
  bytes in{0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1F, 0x90};
  request req;
  auto r = feed_bytewise(in, parse_request, req);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, 10u);
  CAF_CHECK(req.cmd == command::connect);
  CAF_CHECK(req.dst.type == atyp::ipv4);
  CAF_CHECK_EQUAL(req.dst.to_string(), "127.0.0.1:8080");
}

CAF_TEST(request connect ipv6) {
  bytes in{0x05, 0x01, 0x00, 0x04};
  bytes v6(16, 0);
  v6[15] = 1; // ::1
  in.insert(in.end(), v6.begin(), v6.end());
  in.push_back(0x00);
  in.push_back(0x50);
  request req;
  auto r = feed_bytewise(in, parse_request, req);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, 22u);
  CAF_CHECK_EQUAL(req.dst.to_string(), "[::1]:80");
}

CAF_TEST(request connect domain) {
  bytes in{0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
           '.', 'c', 'o', 'm', 0x01, 0xBB};
  request req;
  auto r = feed_bytewise(in, parse_request, req);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK(req.dst.type == atyp::domain);
  CAF_CHECK_EQUAL(req.dst.domain, "example.com");
  CAF_CHECK_EQUAL(req.dst.port(), 443);
}

CAF_TEST(request bind and udp associate parse) {
  bytes bind{0x05, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  request req;
  CAF_CHECK(parse_request(bind.data(), bind.size(), req).status
            == parse_status::done);
  CAF_CHECK(req.cmd == command::bind);
  bytes udp{0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  CAF_CHECK(parse_request(udp.data(), udp.size(), req).status
            == parse_status::done);
  CAF_CHECK(req.cmd == command::udp_associate);
}

CAF_TEST(request errors) {
  request req;
  bytes bad_cmd{0x05, 0x09, 0x00, 0x01};
  CAF_CHECK(parse_request(bad_cmd.data(), bad_cmd.size(), req).error
            == codec_error::bad_command);
  bytes bad_rsv{0x05, 0x01, 0x07, 0x01};
  CAF_CHECK(parse_request(bad_rsv.data(), bad_rsv.size(), req).error
            == codec_error::bad_reserved);
  bytes bad_atyp{0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80};
  CAF_CHECK(parse_request(bad_atyp.data(), bad_atyp.size(), req).error
            == codec_error::bad_address_type);
  bytes empty_domain{0x05, 0x01, 0x00, 0x03, 0x00, 0, 80};
  CAF_CHECK(parse_request(empty_domain.data(), empty_domain.size(), req).error
            == codec_error::bad_domain);
  bytes nul_domain{0x05, 0x01, 0x00, 0x03, 0x03, 'a', 0, 'b', 0, 80};
  CAF_CHECK(parse_request(nul_domain.data(), nul_domain.size(), req).error
            == codec_error::bad_domain);
  bytes truncated{0x05, 0x01, 0x00, 0x03, 0x0A, 'a', 'b'};
  CAF_CHECK(parse_request(truncated.data(), truncated.size(), req).status
            == parse_status::need_more);
}

CAF_TEST(encoders produce golden bytes) {
  CAF_CHECK(encode_method_choice(method::userpass) == (bytes{0x05, 0x02}));
  CAF_CHECK(encode_method_choice(method::none_acceptable) == (bytes{0x05, 0xFF}));
  CAF_CHECK(encode_auth_status(true) == (bytes{0x01, 0x00}));
  CAF_CHECK(encode_auth_status(false) == (bytes{0x01, 0x01}));
  auto ep = net::ip_endpoint::parse("10.1.2.3:4660");
  CAF_REQUIRE(ep);
  CAF_CHECK(encode_reply(reply::succeeded, address::from(*ep))
            == (bytes{0x05, 0x00, 0x00, 0x01, 10, 1, 2, 3, 0x12, 0x34}));
  CAF_CHECK(encode_reply(reply::connection_refused, address{})
            == (bytes{0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  auto v6 = net::ip_endpoint::parse("[::1]:80");
  CAF_REQUIRE(v6);
  auto rep = encode_reply(reply::succeeded, address::from(*v6));
  CAF_CHECK_EQUAL(rep.size(), 22u);
  CAF_CHECK_EQUAL(rep[3], 0x04);
  CAF_CHECK_EQUAL(rep[19], 0x01);
  CAF_CHECK_EQUAL(rep[21], 0x50);
}

CAF_TEST(encode then parse round trips a domain address) {
  address a;
  a.type = atyp::domain;
  a.domain = "localhost";
  a.ip.port = 1080;
  bytes out;
  encode_address(a, out);
  address b;
  auto r = parse_address(out.data(), out.size(), b);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(b.domain, "localhost");
  CAF_CHECK_EQUAL(b.port(), 1080);
}

CAF_TEST(endpoint and cidr parsing) {
  CAF_CHECK(!net::ip_endpoint::parse("127.0.0.1"));
  CAF_CHECK(!net::ip_endpoint::parse("127.0.0.1:70000"));
  CAF_CHECK(!net::ip_endpoint::parse("[::1]"));
  CAF_CHECK(!net::ip_endpoint::parse("localhost:80"));
  CAF_CHECK_EQUAL(net::ip_endpoint::parse("[::1]:1080")->to_string(), "[::1]:1080");
  auto block = net::cidr::parse("10.0.0.0/8");
  CAF_REQUIRE(block);
  CAF_CHECK(block->contains(*net::ip_endpoint::parse("10.200.1.1:1")));
  CAF_CHECK(!block->contains(*net::ip_endpoint::parse("11.0.0.1:1")));
  CAF_CHECK(block->contains(*net::ip_endpoint::parse("[::ffff:10.1.1.1]:1")));
  CAF_CHECK(!net::cidr::parse("10.0.0.0/33"));
  auto v6 = net::cidr::parse("fe80::/10");
  CAF_REQUIRE(v6);
  CAF_CHECK(v6->contains(*net::ip_endpoint::parse("[fe80::1]:1")));
  CAF_CHECK(!v6->contains(*net::ip_endpoint::parse("[fec0::1]:1")));
  // A NUL inside is refused, not cut (inet_pton reads C strings).
  using namespace std::string_literals;
  CAF_CHECK(!net::ip_endpoint::parse("127.0.0.1\0junk:1080"s));
  CAF_CHECK(!net::ip_endpoint::parse("[::1\0x]:1080"s));
  CAF_CHECK(!net::cidr::parse("10.0.0.0\0/8"s));
}

CAF_TEST(destinations are checked as the address really reached) {
  auto canon = [](const char* text) {
    return net::canonical_destination(*net::ip_endpoint::parse(text)).to_string();
  };
  CAF_CHECK_EQUAL(canon("0.0.0.0:80"), "127.0.0.1:80");
  CAF_CHECK_EQUAL(canon("[::]:80"), "[::1]:80");
  CAF_CHECK_EQUAL(canon("[::ffff:0.0.0.0]:80"), "127.0.0.1:80");
  CAF_CHECK_EQUAL(canon("[::ffff:10.1.2.3]:80"), "10.1.2.3:80");
  CAF_CHECK_EQUAL(canon("10.1.2.3:80"), "10.1.2.3:80");
  CAF_CHECK_EQUAL(canon("[2001:db8::1]:80"), "[2001:db8::1]:80");
  CAF_CHECK(net::same_host(*net::ip_endpoint::parse("[::ffff:10.0.0.1]:1"),
                           *net::ip_endpoint::parse("10.0.0.1:2")));
}

CAF_TEST(udp header golden bytes) {
  // RSV=0000 FRAG=00 ATYP=1 10.0.0.1 PORT=53, then payload "q"
  bytes in{0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x00, 0x35, 'q'};
  udp_header h;
  auto r = parse_udp_header(in.data(), in.size(), h);
  CAF_CHECK(r.status == parse_status::done);
  CAF_CHECK_EQUAL(r.consumed, 10u);
  CAF_CHECK_EQUAL(h.frag, 0);
  CAF_CHECK_EQUAL(h.addr.to_string(), "10.0.0.1:53");
  bytes out;
  encode_udp_header(h.addr, out);
  CAF_CHECK(out == bytes(in.begin(), in.begin() + 10));
  // Domain and IPv6 destinations.
  bytes dom{0x00, 0x00, 0x00, 0x03, 0x03, 'f', 'o', 'o', 0x01, 0xBB};
  CAF_CHECK(parse_udp_header(dom.data(), dom.size(), h).status == parse_status::done);
  CAF_CHECK_EQUAL(h.addr.to_string(), "foo:443");
  bytes v6{0x00, 0x00, 0x00, 0x04};
  v6.resize(4 + 16 + 2, 0);
  v6[19] = 1;
  v6[21] = 7;
  CAF_CHECK(parse_udp_header(v6.data(), v6.size(), h).status == parse_status::done);
  CAF_CHECK_EQUAL(h.addr.to_string(), "[::1]:7");
}

CAF_TEST(udp header errors) {
  udp_header h;
  bytes frag{0x00, 0x00, 0x01, 0x01, 1, 2, 3, 4, 0, 1};
  CAF_CHECK(parse_udp_header(frag.data(), frag.size(), h).status == parse_status::done);
  CAF_CHECK_EQUAL(h.frag, 1); // parsed; the relay drops it
  bytes rsv{0x00, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 1};
  CAF_CHECK(parse_udp_header(rsv.data(), rsv.size(), h).error == codec_error::bad_reserved);
  bytes atyp{0x00, 0x00, 0x00, 0x09, 1, 2};
  CAF_CHECK(parse_udp_header(atyp.data(), atyp.size(), h).error
            == codec_error::bad_address_type);
  bytes truncated{0x00, 0x00, 0x00, 0x01, 1, 2, 3};
  CAF_CHECK(parse_udp_header(truncated.data(), truncated.size(), h).status
            == parse_status::need_more);
  bytes empty_domain{0x00, 0x00, 0x00, 0x03, 0x00, 0, 1};
  CAF_CHECK(parse_udp_header(empty_domain.data(), empty_domain.size(), h).error
            == codec_error::bad_domain);
}
