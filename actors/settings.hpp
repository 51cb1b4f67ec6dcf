// The settings actor: owns the runtime knobs (session_settings) and tells
// its subscriber, the acceptor, about every change. The admin plane reads
// and sets them with typed requests; a value out of bounds is refused. A
// reload (SIGHUP) brings the config file's values: they replace what the
// admin plane set since (the file is the lasting source), except the
// transformation command, which the file does not hold: it stays unless
// the file says `transform_command = off`.
#pragma once

#include <cstdint>
#include <string>

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

  /// The settings the config file gave last (start or reload): where
  /// `current` differs, the admin plane changed it.
  session_settings from_file;

  /// Told about every change.
  acceptor_actor subscriber;

  /// Sends `current` to the subscriber, if any.
  void publish(settings_actor::pointer self) const;

  /// Sets the transformation command `cmd` (empty: none) unless the file
  /// forbids it or it is too long.
  setting_change set_transform(std::string cmd);

  /// Makes `next` (a reloaded file's settings) current, keeping the
  /// transformation where allowed; logs each value the admin plane had set
  /// that the file's value replaces.
  void reload(session_settings next);
};

/// The settings actor, starting with `initial`; changes go to `subscriber`.
settings_actor::behavior_type
settings(settings_actor::stateful_pointer<settings_state> self,
         session_settings initial, acceptor_actor subscriber);

} // namespace px
