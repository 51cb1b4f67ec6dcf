// Upstream (parent) proxies: named parents (a SOCKS5 or HTTP CONNECT proxy
// at an IP address, with optional credentials) and named groups of them
// tried in order. The config parser (config/upstream_parse.hpp) builds them
// from `[upstream]`; the settings actor compiles them once into an
// immutable upstream_set that the handshake plan carries, like the rules;
// the reactor picks a route per CONNECT (the rule's `via`, else the user's,
// else the default) and runs the parent's handshake (reactor/upstream_*).
//
// Credentials are kept here and sent to the parent only: `to_string`
// prints `socks5://user:***@host:port`, and nothing logs a parent otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace px::net {

/// The protocol a parent speaks.
enum class parent_kind : uint8_t {
  /// SOCKS5 (RFC 1928), with RFC 1929 username/password when credentials are set.
  socks5,
  /// HTTP/1.1 CONNECT, with Proxy-Authorization: Basic when credentials are set.
  http,
};

/// One parent proxy.
struct parent_proxy {
  /// The name `via=`, `group` and `default` use.
  std::string name;
  parent_kind kind = parent_kind::socks5;
  /// Where it listens: an IP address, or (when `host` is set) only the
  /// port, the address coming from DNS at each connect.
  ip_endpoint address;
  /// The parent's host name (empty: `address` is an IP address). Looked up
  /// through the proxy's resolver when a request goes to the parent; every
  /// address it has is tried (Happy Eyeballs, as for a target).
  std::string host;
  /// Credentials (both empty: none). 1 to 255 bytes each when set.
  std::string user;
  std::string password;
  /// Where it was written (file line; 0: unknown).
  int line = 0;

  bool has_credentials() const {
    return !user.empty();
  }

  friend bool operator==(const parent_proxy& x, const parent_proxy& y) {
    return x.name == y.name && x.kind == y.kind && x.address == y.address
           && x.host == y.host && x.user == y.user && x.password == y.password;
  }
};

/// Parses `socks5://[USER:PASS@]HOST:PORT` or `http://[USER:PASS@]HOST:PORT`
/// (HOST: an IP address, IPv6 in brackets, or a DNS name) into `out` (its
/// name and line untouched); returns what is wrong, or nothing. USER and PASS may be percent-encoded (%3A
/// for ':', %40 for '@').
std::optional<std::string> parse_parent_url(std::string_view url, parent_proxy& out);

/// The URL of `p` with the password hidden: `socks5://user:***@host:port`.
std::string to_string(const parent_proxy& p);

/// A named list of parents tried in order.
struct parent_group {
  std::string name;
  std::vector<std::string> members;
  int line = 0;

  friend bool operator==(const parent_group& x, const parent_group& y) {
    return x.name == y.name && x.members == y.members;
  }
};

/// The parents to try for one CONNECT, in order (indexes into
/// upstream_set::parents()).
using parent_route = std::vector<uint16_t>;

/// The compiled `[upstream]`: immutable once built, shared by every loop.
class upstream_set {
public:
  /// `groups` and `default_via` name parents or groups that exist (the
  /// config parser checked it); unknown names resolve to nothing.
  upstream_set(std::vector<parent_proxy> parents, std::vector<parent_group> groups,
               std::string default_via);

  /// The route `name` (a parent or a group) stands for (null: unknown).
  const parent_route* route(std::string_view name) const;

  /// The default route (null: direct).
  const parent_route* default_route() const {
    return default_.empty() ? nullptr : route(default_);
  }

  const std::vector<parent_proxy>& parents() const {
    return parents_;
  }

  /// One line per parent, group and the default, as `proxy --check`
  /// prints them (passwords hidden).
  std::string describe() const;

private:
  std::vector<parent_proxy> parents_;
  std::vector<parent_group> groups_;
  /// Route per name: parents first, then groups.
  std::vector<std::pair<std::string, parent_route>> routes_;
  std::string default_;
};

} // namespace px::net
