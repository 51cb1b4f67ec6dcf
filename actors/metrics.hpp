// The metrics actor: owns every counter, gauge and histogram (one
// metrics_snapshot). Sessions, the acceptor and the admin sessions tell it
// events; the reactor sends its counters in batches (traffic); the admin
// plane reads a snapshot (get_atom), and readers on other threads (the
// Prometheus endpoint) read the one it publishes on a metrics_board.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"

namespace px {

/// The newest published snapshot, for readers outside the actor system: an
/// immutable value swapped atomically (std::atomic_store), so a reader
/// neither sends a message nor waits on an actor. The metrics actor is the
/// only writer.
class metrics_board {
public:
  /// Starts with all zeros.
  metrics_board() : current_(std::make_shared<const metrics_snapshot>()) {
    // nop
  }

  /// The newest snapshot (any thread).
  std::shared_ptr<const metrics_snapshot> current() const {
    return std::atomic_load(&current_);
  }

  /// Replaces the snapshot (the metrics actor).
  void publish(std::shared_ptr<const metrics_snapshot> snapshot) {
    std::atomic_store(&current_, std::move(snapshot));
  }

private:
  std::shared_ptr<const metrics_snapshot> current_;
};

/// The metrics actor publishes at most this often: a change after a quiet
/// spell goes out at once, later ones together when the interval ends.
constexpr auto metrics_publish_interval = std::chrono::milliseconds{100};

/// State of the metrics actor.
struct metrics_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "metrics";

  /// Every counter, gauge and histogram.
  metrics_snapshot counters;

  /// Where snapshots go (null: nowhere).
  std::shared_ptr<metrics_board> board;

  /// A publish_atom is on its way: changes until then go out with it.
  bool publish_pending = false;

  /// When the last snapshot went out.
  caf::actor_clock::time_point last_publish{};

  /// Applies one event.
  void apply(const metric_event& ev);

  /// Adds one batch of the reactor's counters.
  void apply(const net::traffic_counts& t);

  /// Counts the durations of one connection.
  void apply(const conn_durations& d);
};

/// The metrics actor; it publishes its snapshot on `board` (may be null).
metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self,
        std::shared_ptr<metrics_board> board);

} // namespace px
