// IP endpoints as plain values (no sockaddr casts in message types), plus the
// conversions the reactor needs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace px::net {

/// An IPv4 or IPv6 address with a port, kept in network byte order.
struct ip_endpoint {
  /// True for IPv6, false for IPv4.
  bool v6 = false;
  /// Address bytes: the first 4 for IPv4, all 16 for IPv6.
  std::array<uint8_t, 16> bytes{};
  /// Port in host byte order.
  uint16_t port = 0;

  /// Builds an endpoint from a socket address (AF_INET or AF_INET6).
  static std::optional<ip_endpoint> from_sockaddr(const sockaddr* sa);

  /// The local (getsockname) or remote (getpeername) address of socket
  /// `fd`; nothing on error, with errno set by the call.
  static std::optional<ip_endpoint> local_of(int fd);
  static std::optional<ip_endpoint> peer_of(int fd);

  /// Parses "1.2.3.4:80", "[::1]:80" (port required) or, with
  /// `default_port`, a bare address.
  static std::optional<ip_endpoint> parse(std::string_view text,
                                          int default_port = -1);

  /// Fills `out` and returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const;

  /// "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;

  /// Address only, without port and brackets.
  std::string host_string() const;

  /// True for 0.0.0.0 or ::.
  bool is_unspecified() const;

  friend bool operator==(const ip_endpoint& x, const ip_endpoint& y) {
    return x.v6 == y.v6 && x.bytes == y.bytes && x.port == y.port;
  }
  friend bool operator!=(const ip_endpoint& x, const ip_endpoint& y) {
    return !(x == y);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ip_endpoint& x) {
  return f(x.v6, x.bytes, x.port);
}

/// An address block such as 10.0.0.0/8 or ::1/128.
struct cidr {
  ip_endpoint base;
  int prefix = 0;

  /// Parses "a.b.c.d/n", "x::y/n" or a bare address (full-length prefix).
  static std::optional<cidr> parse(std::string_view text);

  /// True when `ip` lies in this block (an IPv4-mapped IPv6 address matches
  /// an IPv4 block).
  bool contains(const ip_endpoint& ip) const;

  /// Same base and prefix (as written, not as the set of addresses).
  friend bool operator==(const cidr& x, const cidr& y) {
    return x.base == y.base && x.prefix == y.prefix;
  }
};

/// True when `a` and `b` name the same host, ports aside (an IPv4-mapped
/// IPv6 address is its IPv4 address).
bool same_host(const ip_endpoint& a, const ip_endpoint& b);

/// The address a connection to `ip` really reaches, for rules and for the
/// connect itself: an IPv4-mapped IPv6 address becomes its IPv4 address,
/// and the unspecified addresses (0.0.0.0, ::), which Linux connects to
/// the local host, become 127.0.0.1 and ::1. The port is kept.
ip_endpoint canonical_destination(const ip_endpoint& ip);

/// Parses 1 to 19 decimal digits (nothing else); nullopt otherwise.
std::optional<uint64_t> parse_decimal(std::string_view text);

} // namespace px::net
