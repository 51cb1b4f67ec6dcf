#include "net/address.hpp"

#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace px::net {

std::optional<ip_endpoint> ip_endpoint::from_sockaddr(const sockaddr* sa) {
  ip_endpoint ep;
  if (sa->sa_family == AF_INET) {
    auto sin = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(ep.bytes.data(), &sin->sin_addr, 4);
    ep.port = ntohs(sin->sin_port);
    return ep;
  }
  if (sa->sa_family == AF_INET6) {
    auto sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ep.v6 = true;
    std::memcpy(ep.bytes.data(), &sin6->sin6_addr, 16);
    ep.port = ntohs(sin6->sin6_port);
    return ep;
  }
  return std::nullopt;
}

namespace {

std::optional<ip_endpoint> parse_host(const std::string& host) {
  ip_endpoint ep;
  // inet_pton reads a C string: a NUL would cut the text silently.
  if (host.find('\0') != std::string::npos)
    return std::nullopt;
  if (inet_pton(AF_INET, host.c_str(), ep.bytes.data()) == 1)
    return ep;
  if (inet_pton(AF_INET6, host.c_str(), ep.bytes.data()) == 1) {
    ep.v6 = true;
    return ep;
  }
  return std::nullopt;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  auto value = text.size() <= 5 ? parse_decimal(text) : std::nullopt;
  if (!value || *value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(*value);
}

} // namespace

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

namespace {

/// The address `name` (getsockname or getpeername) reports for `fd`.
std::optional<ip_endpoint> address_of(int fd, int (*name)(int, sockaddr*, socklen_t*)) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (name(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return std::nullopt;
  return ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

} // namespace

std::optional<ip_endpoint> ip_endpoint::local_of(int fd) {
  return address_of(fd, ::getsockname);
}

std::optional<ip_endpoint> ip_endpoint::peer_of(int fd) {
  return address_of(fd, ::getpeername);
}

std::optional<ip_endpoint> ip_endpoint::parse(std::string_view text,
                                              int default_port) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    host = std::string{text.substr(1, close - 1)};
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return std::nullopt;
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos
        && text.find(':') == colon) { // exactly one colon: IPv4 with port
      host = std::string{text.substr(0, colon)};
      port_text = text.substr(colon + 1);
    } else {
      host = std::string{text};
    }
  }
  auto ep = parse_host(host);
  if (!ep)
    return std::nullopt;
  if (port_text.empty() && default_port < 0)
    return std::nullopt;
  if (!port_text.empty()) {
    auto port = parse_port(port_text);
    if (!port)
      return std::nullopt;
    ep->port = *port;
  } else {
    ep->port = static_cast<uint16_t>(default_port);
  }
  return ep;
}

socklen_t ip_endpoint::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof(out));
  if (v6) {
    auto sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
    sin6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  auto sin = reinterpret_cast<sockaddr_in*>(&out);
  sin->sin_family = AF_INET;
  std::memcpy(&sin->sin_addr, bytes.data(), 4);
  sin->sin_port = htons(port);
  return sizeof(sockaddr_in);
}

std::string ip_endpoint::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::string ip_endpoint::to_string() const {
  if (v6)
    return "[" + host_string() + "]:" + std::to_string(port);
  return host_string() + ":" + std::to_string(port);
}

bool ip_endpoint::is_unspecified() const {
  size_t n = v6 ? 16 : 4;
  for (size_t i = 0; i < n; ++i)
    if (bytes[i] != 0)
      return false;
  return true;
}

std::optional<cidr> cidr::parse(std::string_view text) {
  cidr result;
  auto slash = text.find('/');
  auto addr = text.substr(0, slash);
  auto ep = parse_host(std::string{addr});
  if (!ep)
    return std::nullopt;
  result.base = *ep;
  int max = ep->v6 ? 128 : 32;
  if (slash == std::string_view::npos) {
    result.prefix = max;
    return result;
  }
  auto len = parse_port(text.substr(slash + 1));
  if (!len || *len > max)
    return std::nullopt;
  result.prefix = *len;
  return result;
}

namespace {

/// The IPv4 address of an IPv4-mapped IPv6 address; other addresses as
/// they are. The port is kept.
ip_endpoint unmapped(const ip_endpoint& x) {
  static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (!x.v6 || std::memcmp(x.bytes.data(), mapped, 12) != 0)
    return x;
  ip_endpoint y;
  y.port = x.port;
  std::memcpy(y.bytes.data(), x.bytes.data() + 12, 4);
  return y;
}

} // namespace

bool cidr::contains(const ip_endpoint& ip) const {
  // An IPv4-mapped IPv6 address matches an IPv4 block.
  auto x = base.v6 ? ip : unmapped(ip);
  if (x.v6 != base.v6)
    return false;
  int bits = prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((x.bytes[i] & mask) != (base.bytes[i] & mask))
      return false;
  }
  return true;
}

ip_endpoint canonical_destination(const ip_endpoint& ip) {
  auto x = unmapped(ip);
  if (x.is_unspecified()) {
    auto port = x.port;
    x = x.v6 ? *ip_endpoint::parse("::1", 0) : *ip_endpoint::parse("127.0.0.1", 0);
    x.port = port;
  }
  return x;
}

bool same_host(const ip_endpoint& a, const ip_endpoint& b) {
  auto x = unmapped(a);
  auto y = unmapped(b);
  x.port = y.port = 0;
  return x == y;
}

} // namespace px::net
