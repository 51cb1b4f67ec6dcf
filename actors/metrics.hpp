// The metrics actor: owns every counter and gauge (one metrics_snapshot).
// Sessions, the acceptor and the admin sessions tell it events; the reactor
// sends its counters in batches (traffic); the admin plane reads a snapshot.
#pragma once

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"

namespace px {

/// State of the metrics actor.
struct metrics_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "metrics";

  /// Every counter and gauge.
  metrics_snapshot counters;

  /// Applies one event.
  void apply(const metric_event& ev);

  /// Adds one batch of the reactor's counters.
  void apply(const net::traffic_counts& t);
};

/// The metrics actor.
metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self);

} // namespace px
