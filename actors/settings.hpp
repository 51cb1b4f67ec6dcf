// The settings actor: owns the runtime knobs (session_settings) and tells
// its subscriber, the acceptor, about every change. The admin plane reads
// and sets them with typed requests; a value out of bounds is refused.
#pragma once

#include <cstdint>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"

namespace px {

/// Smallest runtime-settable buffer size.
constexpr uint64_t min_buffer_size = 1024;

/// Largest runtime-settable buffer size.
constexpr uint64_t max_buffer_size = 16 * 1024 * 1024;

/// Largest runtime-settable max_clients.
constexpr uint64_t max_max_clients = 1000000;

/// State of the settings actor.
struct settings_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "settings";

  /// The settings in force.
  session_settings current;

  /// Told about every change.
  acceptor_actor subscriber;

  /// Sends `current` to the subscriber, if any.
  void publish(settings_actor::pointer self) const;
};

/// The settings actor, starting with `initial`; changes go to `subscriber`.
settings_actor::behavior_type
settings(settings_actor::stateful_pointer<settings_state> self,
         session_settings initial, acceptor_actor subscriber);

} // namespace px
