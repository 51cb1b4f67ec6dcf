// The admin login guard: failed logins per source address, shared by every
// admin session of both protocols (one actor owns the table; sessions ask it
// before each credential check and tell it each outcome). An address that
// failed more than `free_failures` times is locked: its attempts are refused
// without a password check, for 1 s after the 4th failure, doubling with
// each further one up to 60 s. A success clears the address. Other
// addresses are never affected. See docs/admin-protocols.md, "Logins".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <utility>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include "actors/messages.hpp"
#include "net/address.hpp"

namespace px {

/// Failed logins per source address. Asked before every credential check:
/// (auth, source) -> how long the source stays locked (zero: go ahead);
/// told every outcome: (auth, source, accepted?).
using login_guard_actor = caf::typed_actor<
  caf::replies_to<auth_atom, net::ip_endpoint>::with<caf::timespan>,
  caf::reacts_to<auth_atom, net::ip_endpoint, bool>>;

struct login_guard_state {
  static inline const char* name = "admin.login_guard";
  using time_point = std::chrono::steady_clock::time_point;

  /// Failures from one address that cost nothing (typos).
  static constexpr int free_failures = 3;
  /// The first lock, doubled by each further failure, up to `max_lock`.
  static constexpr auto first_lock = std::chrono::seconds{1};
  static constexpr auto max_lock = std::chrono::seconds{60};
  /// A record is forgotten this long after its last failure.
  static constexpr auto forget_after = std::chrono::minutes{15};
  /// Addresses remembered at once (the oldest record goes first).
  static constexpr size_t max_sources = 4096;

  struct record {
    int failures = 0;
    time_point last_failure;
    time_point locked_until;
  };

  /// Source addresses (the port does not count).
  std::map<std::pair<bool, std::array<uint8_t, 16>>, record> sources;

  /// How long `source` stays locked at `now` (zero: not locked).
  std::chrono::nanoseconds locked_for(const net::ip_endpoint& source,
                                      time_point now) const;
  /// Records a failed login; returns the lock it starts (zero: none).
  std::chrono::seconds failed(const net::ip_endpoint& source, time_point now);
  /// Records a successful login: the address starts afresh.
  void succeeded(const net::ip_endpoint& source);
  /// The lock after the `failures`-th failure.
  static std::chrono::seconds lock_after(int failures);
};

/// Spawns with `sys.spawn(login_guard)`; it ends when its last handle goes.
login_guard_actor::behavior_type
login_guard(login_guard_actor::stateful_pointer<login_guard_state> self);

} // namespace px
