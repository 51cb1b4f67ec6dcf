// Shared by the SOCKS5 fuzz targets: the contract of a resumable parser
// (net/socks5_codec.hpp) and value comparisons.
#pragma once

#include "net/socks5_codec.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace px::fuzz {

// -- values -------------------------------------------------------------------

inline bool same(const socks5::address& x, const socks5::address& y) {
  return x.type == y.type && x.domain == y.domain && x.ip == y.ip;
}

inline bool same(const socks5::greeting& x, const socks5::greeting& y) {
  return x.methods == y.methods;
}

inline bool same(const socks5::credentials& x, const socks5::credentials& y) {
  return x.user == y.user && x.password == y.password;
}

inline bool same(const socks5::request& x, const socks5::request& y) {
  return x.cmd == y.cmd && same(x.dst, y.dst);
}

inline bool same(const socks5::udp_header& x, const socks5::udp_header& y) {
  return x.frag == y.frag && same(x.addr, y.addr);
}

// -- client-side encoders (the codec has only the server's) -------------------

/// Appends a length byte and `field`.
template <class Field>
void append_with_length(bytes& out, const Field& field) {
  out.push_back(static_cast<uint8_t>(field.size()));
  out.insert(out.end(), field.begin(), field.end());
}

/// VER NMETHODS METHODS.
inline bytes encode(const socks5::greeting& g) {
  bytes out{socks5::version};
  append_with_length(out, g.methods);
  return out;
}

/// VER ULEN UNAME PLEN PASSWD.
inline bytes encode(const socks5::credentials& c) {
  bytes out{socks5::auth_version};
  append_with_length(out, c.user);
  append_with_length(out, c.password);
  return out;
}

/// An address an earlier message left in a reused value.
inline socks5::address stale_address() {
  socks5::address a;
  a.type = socks5::atyp::domain;
  a.domain = "stale.example";
  a.ip.bytes.fill(0xAB);
  a.ip.port = 1;
  return a;
}

// -- checks -------------------------------------------------------------------

/// Checks what a parsed address must look like.
inline void check_address(const socks5::address& a) {
  using socks5::atyp;
  if (a.type == atyp::domain) {
    FUZZ_CHECK(!a.domain.empty() && a.domain.size() <= 255);
    FUZZ_CHECK(a.domain.find('\0') == std::string::npos);
    FUZZ_CHECK(a.to_string() == a.domain + ":" + std::to_string(a.port()));
  } else {
    FUZZ_CHECK(a.type == atyp::ipv4 || a.type == atyp::ipv6);
    FUZZ_CHECK(a.domain.empty() && a.ip.v6 == (a.type == atyp::ipv6));
    FUZZ_CHECK(a.to_string() == a.ip.to_string());
  }
}

/// Checks the parts of a result that hold for any input.
inline void check_result(const socks5::parse_result& r, size_t size) {
  using socks5::parse_status;
  FUZZ_CHECK(r.consumed <= size);
  FUZZ_CHECK((r.status == parse_status::done) == (r.consumed > 0));
  FUZZ_CHECK((r.status == parse_status::error)
             == (r.error != socks5::codec_error::none));
}

inline bool same_result(const socks5::parse_result& x,
                        const socks5::parse_result& y) {
  return x.status == y.status && x.consumed == y.consumed && x.error == y.error;
}

/// Parses `data` whole into `whole`, then as a resumable caller does: on the
/// bytes buffered so far, one byte more each time, into one reused value that
/// starts as `stale` (what the last message left). Checks that every prefix
/// before the one the parser decides on asks for more, that this prefix
/// decides as the whole input does (same status, consumed bytes and error,
/// and when done an equal value), and that every result is consistent.
/// Returns the result on the whole input.
template <class T, class Parse>
socks5::parse_result check_resumable(const uint8_t* data, size_t size,
                                     Parse parse, T stale, T& whole) {
  using socks5::parse_status;
  auto res = parse(data, size, whole);
  check_result(res, size);
  T value = std::move(stale);
  for (size_t n = 0; n <= size; ++n) {
    auto part = parse(data, n, value);
    check_result(part, n);
    if (part.status == parse_status::need_more)
      continue;
    FUZZ_CHECK(same_result(part, res));
    if (res.status == parse_status::done)
      FUZZ_CHECK(same(value, whole));
    return res;
  }
  FUZZ_CHECK(res.status == parse_status::need_more);
  return res;
}

/// Checks that `encoded`, an encoder's output, parses whole (all of it, no
/// more) into the same value as `expected`.
template <class T, class Parse>
void check_parses_back(const bytes& encoded, Parse parse, const T& expected) {
  T back;
  auto res = parse(encoded.data(), encoded.size(), back);
  FUZZ_CHECK(res.status == socks5::parse_status::done);
  FUZZ_CHECK(res.consumed == encoded.size());
  FUZZ_CHECK(same(back, expected));
}

} // namespace px::fuzz
