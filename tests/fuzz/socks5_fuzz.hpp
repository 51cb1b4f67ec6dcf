// Shared by the SOCKS5 fuzz targets: the contract of a resumable parser
// (net/socks5_codec.hpp) and value comparisons.
#pragma once

#include "net/socks5_codec.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace px::fuzz {

inline bool same_address(const socks5::address& x, const socks5::address& y) {
  return x.type == y.type && x.domain == y.domain && x.ip == y.ip;
}

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

inline bool same_result(const socks5::parse_result& x, const socks5::parse_result& y) {
  return x.status == y.status && x.consumed == y.consumed && x.error == y.error;
}

/// Parses `data` whole into `whole`, then as a resumable caller does: on the
/// bytes buffered so far, one byte more each time, into one reused value that
/// starts as `stale` (what the last message left). Checks that every prefix
/// before the one the parser decides on asks for more, that this prefix
/// decides as the whole input does (same status, consumed bytes and error,
/// and when done an equal value), and that every result is consistent.
/// Returns the result on the whole input.
template <class T, class Parse, class Same>
socks5::parse_result check_resumable(const uint8_t* data, size_t size,
                                     Parse parse, Same same, T stale, T& whole) {
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

} // namespace px::fuzz
