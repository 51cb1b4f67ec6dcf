// Tier (a), properties: parse(encode(x)) == x for the SOCKS5 request, reply
// and UDP header over random addresses of all three ATYPs (IPv4, IPv6,
// domain names of 1 to 255 arbitrary bytes), fed whole and byte by byte.
#define CAF_SUITE socks5_property
#include <caf/test/unit_test_impl.hpp>

#include <algorithm>

#include "net/socks5_codec.hpp"
#include "tests/unit/property.hpp"

using namespace px;
using namespace px::socks5;
using namespace px::test;
using bytes = std::vector<uint8_t>;

namespace {

constexpr int cases = 20000;

address random_address(property_rng& rng) {
  address a;
  switch (rng.between(0, 2)) {
    case 0:
      a.type = atyp::ipv4;
      for (size_t i = 0; i < 4; ++i)
        a.ip.bytes[i] = rng.byte();
      break;
    case 1:
      a.type = atyp::ipv6;
      a.ip.v6 = true;
      for (auto& b : a.ip.bytes)
        b = rng.byte();
      break;
    default:
      a.type = atyp::domain;
      a.domain = rng.bytes(rng.between(1, 255));
  }
  a.ip.port = static_cast<uint16_t>(rng.between(0, 65535));
  return a;
}

bool same(const address& x, const address& y) {
  return x.type == y.type && x.domain == y.domain && x.ip == y.ip;
}

/// A domain holding a NUL is refused (codec_error::bad_domain); every other
/// address parses back.
bool parses_back(const address& a) {
  return a.type != atyp::domain || a.domain.find('\0') == std::string::npos;
}

/// What `parse` must say about `msg`, whose whole length is the message:
/// "need more" on every strict prefix, then done with `msg.size()` consumed,
/// or bad_domain when the address cannot parse back. Returns the failure.
template <class T, class Parse>
std::string check_parse(const bytes& msg, const address& a, Parse parse, T& out) {
  for (size_t n = 0; n < msg.size(); ++n)
    if (parse(msg.data(), n, out).status != parse_status::need_more)
      return "prefix of " + std::to_string(n) + " bytes decided: " + hex(msg);
  auto r = parse(msg.data(), msg.size(), out);
  if (!parses_back(a))
    return r.error == codec_error::bad_domain ? "" : "NUL domain accepted: " + hex(msg);
  if (r.status != parse_status::done || r.consumed != msg.size())
    return "not parsed whole: " + hex(msg);
  return "";
}

} // namespace

CAF_TEST(request round trips for every address type) {
  property_rng rng;
  for_all(rng, "parse_request(VER CMD RSV encode_address(a))", cases,
          [](property_rng& rng) -> std::string {
            auto cmd = static_cast<command>(rng.between(1, 3));
            auto a = random_address(rng);
            bytes msg{version, static_cast<uint8_t>(cmd), 0x00};
            encode_address(a, msg);
            request out;
            auto failure = check_parse(msg, a, parse_request, out);
            if (failure.empty() && parses_back(a)
                && (out.cmd != cmd || !same(out.dst, a)))
              return "different value: " + hex(msg);
            return failure;
          });
}

CAF_TEST(reply round trips for every address type) {
  property_rng rng;
  for_all(rng, "encode_reply then parse", cases, [](property_rng& rng) -> std::string {
    auto rep = static_cast<reply>(rng.between(0, reply_count - 1));
    auto a = random_address(rng);
    auto msg = encode_reply(rep, a);
    if (msg.size() < 4 || msg[0] != version || msg[1] != static_cast<uint8_t>(rep)
        || msg[2] != 0x00)
      return "bad VER REP RSV: " + hex(msg);
    bytes addr(msg.begin() + 3, msg.end());
    address out;
    auto failure = check_parse(addr, a, parse_address, out);
    if (failure.empty() && parses_back(a) && !same(out, a))
      return "different address: " + hex(msg);
    return failure;
  });
}

CAF_TEST(udp header round trips for every address type) {
  property_rng rng;
  for_all(rng, "encode_udp_header then parse", cases, [](property_rng& rng) -> std::string {
    auto a = random_address(rng);
    bytes msg;
    encode_udp_header(a, msg);
    udp_header out;
    auto failure = check_parse(msg, a, parse_udp_header, out);
    if (!failure.empty() || !parses_back(a))
      return failure;
    if (out.frag != 0 || !same(out.addr, a))
      return "different header: " + hex(msg);
    // The payload that follows is left alone.
    auto header = msg.size();
    auto payload = rng.bytes(rng.between(0, 64));
    msg.insert(msg.end(), payload.begin(), payload.end());
    auto r = parse_udp_header(msg.data(), msg.size(), out);
    if (r.status != parse_status::done || r.consumed != header)
      return "payload changed the header: " + hex(msg);
    return "";
  });
}

CAF_TEST(every domain length round trips) {
  property_rng rng;
  // Each length 1..255 at least once, with bytes other than NUL.
  for (size_t len = 1; len <= 255; ++len) {
    address a;
    a.type = atyp::domain;
    a.domain = rng.bytes(len);
    std::replace(a.domain.begin(), a.domain.end(), '\0', 'x');
    a.ip.port = static_cast<uint16_t>(len);
    bytes msg{version, 0x01, 0x00};
    encode_address(a, msg);
    CAF_REQUIRE_EQUAL(msg.size(), 3 + 2 + len + 2);
    request out;
    auto r = parse_request(msg.data(), msg.size(), out);
    CAF_REQUIRE(r.status == parse_status::done);
    CAF_CHECK_EQUAL(out.dst.domain, a.domain);
    CAF_CHECK_EQUAL(out.dst.port(), a.port());
  }
}
