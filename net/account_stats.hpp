// One user's counters and limits as plain values (`proxyctl users stats`):
// what the registry reads from an account (net/limits.hpp), what the
// Manager protocol's user-stats reply carries (admin/codec.hpp). No CAF, no
// atomics: the admin codec and the actors share it.
#pragma once

#include <cstdint>
#include <string>

namespace px::net {

struct account_stats {
  std::string name;
  /// Connections logged in as the user now, and since its account exists.
  uint64_t open = 0;
  uint64_t connections = 0;
  /// Bytes relayed client to target and back.
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  /// Verified logins refused at the user's session and rate limits.
  uint64_t refused_sessions = 0;
  uint64_t refused_rate = 0;
  /// The limits in force (0: none).
  uint64_t max_sessions = 0;
  uint64_t connect_rate = 0;
  uint64_t bandwidth_up = 0;
  uint64_t bandwidth_down = 0;
};

} // namespace px::net
