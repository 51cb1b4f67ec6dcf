// SOCKS protocol version 5 (RFC 1928) and username/password authentication
// (RFC 1929): every number either RFC puts on the wire, in one place.
#pragma once

#include <cstdint>

namespace px::socks5 {

/// VER field of every RFC 1928 message.
constexpr uint8_t version = 0x05;

/// VER field of the RFC 1929 sub-negotiation.
constexpr uint8_t auth_version = 0x01;

/// RFC 1929 STATUS values (any non-zero value is a failure).
constexpr uint8_t auth_success = 0x00;
constexpr uint8_t auth_failure = 0x01;

/// METHOD values of the method-selection messages (RFC 1928 section 3).
enum class method : uint8_t {
  no_auth = 0x00,
  gssapi = 0x01,
  userpass = 0x02,
  none_acceptable = 0xFF,
};

/// CMD field of a request (RFC 1928 section 4).
enum class command : uint8_t {
  connect = 0x01,
  bind = 0x02,
  udp_associate = 0x03,
};

/// ATYP field of requests, replies and UDP headers (RFC 1928 section 5).
enum class atyp : uint8_t {
  ipv4 = 0x01,
  domain = 0x03,
  ipv6 = 0x04,
};

/// REP field of a reply (RFC 1928 section 6).
enum class reply : uint8_t {
  succeeded = 0x00,
  general_failure = 0x01,
  not_allowed = 0x02,
  network_unreachable = 0x03,
  host_unreachable = 0x04,
  connection_refused = 0x05,
  ttl_expired = 0x06,
  command_not_supported = 0x07,
  address_type_not_supported = 0x08,
};

/// Number of distinct REP values, for per-code counters.
constexpr int reply_count = 9;

/// Human-readable name of a REP value.
const char* to_string(reply x);

} // namespace px::socks5
