// Outbound profiles: where the proxy's own sockets towards targets leave
// from (a source address per family, a device, a firewall mark). A profile
// is a plain value; the config fills a table of them (`[outbound]` is the
// default, `[outbound.NAME]` a named one a user can select), and the loops
// read it through the handshake plan (immutable, shared). The socket work is
// in net/reactor/outbound.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace px::net {

/// Where outgoing sockets leave from. Empty fields change nothing.
struct outbound_profile {
  /// Source address for IPv4 destinations (port 0).
  std::optional<ip_endpoint> address4;
  /// Source address for IPv6 destinations (port 0).
  std::optional<ip_endpoint> address6;
  /// Device the sockets are bound to (SO_BINDTODEVICE; empty: none).
  std::string interface;
  /// Firewall mark of the sockets (SO_MARK).
  std::optional<uint32_t> mark;

  /// True when the profile changes nothing.
  bool empty() const {
    return !address4 && !address6 && interface.empty() && !mark;
  }

  /// True when a destination of this family must not be reached: the
  /// profile names a source address for the other family only.
  bool refuses(bool v6) const {
    return v6 ? (!address6 && address4) : (!address4 && address6);
  }

  friend bool operator==(const outbound_profile& x, const outbound_profile& y) {
    return x.address4 == y.address4 && x.address6 == y.address6
           && x.interface == y.interface && x.mark == y.mark;
  }
  friend bool operator!=(const outbound_profile& x, const outbound_profile& y) {
    return !(x == y);
  }
};

/// Every profile of the config: the default (`[outbound]`) and the named
/// ones (`[outbound.NAME]`).
struct outbound_table {
  outbound_profile fallback;
  std::map<std::string, outbound_profile, std::less<>> named;

  /// The profile called `name` (empty: the default); null when unknown.
  const outbound_profile* find(std::string_view name) const {
    if (name.empty())
      return &fallback;
    auto i = named.find(name);
    return i == named.end() ? nullptr : &i->second;
  }

  /// True when no profile changes anything.
  bool trivial() const {
    if (!fallback.empty())
      return false;
    for (auto& kv : named)
      if (!kv.second.empty())
        return false;
    return true;
  }

  friend bool operator==(const outbound_table& x, const outbound_table& y) {
    return x.fallback == y.fallback && x.named == y.named;
  }
};

} // namespace px::net
