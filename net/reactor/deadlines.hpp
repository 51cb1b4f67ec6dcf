// Every time limit of a loop: a timer heap for the handshake, connect, BIND
// and transformation-drain deadlines, and a list of relaying connections in
// order of their last activity for the idle timeout. Pure bookkeeping: the
// caller says what time it is (an injected clock) and gets back what is
// due; nothing here reads a clock, a socket or a connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "net/conn_control.hpp"

namespace px::net {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

/// What a deadline limits.
enum class deadline_kind : uint8_t {
  /// The handshake must be done.
  handshake,
  /// A connect or BIND of generation `gen` must be done.
  operation,
  /// A transformation program must finish its output.
  drain,
  /// A relay waiting for its user's bandwidth reads again.
  bandwidth,
  /// A CONNECT of generation `gen` starts its next attempt.
  attempt,
};

/// A due deadline.
struct deadline {
  time_point when;
  conn_id id = 0;
  /// The operation it limits; a newer operation makes it stale.
  uint32_t gen = 0;
  deadline_kind kind = deadline_kind::handshake;

  bool operator>(const deadline& other) const {
    return when > other.when;
  }
};

/// A connection's place in the idle list (embedded in the connection).
struct idle_node {
  conn_id id = 0;
  time_point last_active;
  std::chrono::milliseconds limit{0};
  idle_node* prev = nullptr;
  idle_node* next = nullptr;
  bool linked = false;
};

class deadlines {
public:
  /// Adds a deadline.
  void arm(time_point when, conn_id id, uint32_t gen, deadline_kind kind);

  /// The earliest deadline, if any.
  std::optional<time_point> next() const;

  /// Moves every deadline due at `now` into `out` (earliest first).
  void take_due(time_point now, std::vector<deadline>& out);

  /// Deadlines armed and not yet taken.
  size_t armed() const {
    return heap_.size();
  }

  // -- idle timeout ---------------------------------------------------------

  /// Starts watching `n` (a 0 `limit` never idles out and is not listed).
  void idle_start(idle_node& n, time_point now, std::chrono::milliseconds limit);

  /// Traffic moved on `n` at `now`.
  void idle_touch(idle_node& n, time_point now);

  /// Stops watching `n`.
  void idle_stop(idle_node& n);

  /// Unlinks and appends to `out` the ids of connections idle at `now`
  /// for their limit, least recently active first.
  void take_idle(time_point now, std::vector<conn_id>& out);

private:
  void push_back(idle_node& n);

  std::priority_queue<deadline, std::vector<deadline>, std::greater<deadline>> heap_;
  idle_node* head_ = nullptr;
  idle_node* tail_ = nullptr;
};

} // namespace px::net
