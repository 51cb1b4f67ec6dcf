// How the reactor runs: threads, buffers, DNS servers, batching, clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace px::net {

/// Reactor configuration.
struct reactor_config {
  /// Number of event-loop threads (0: one per core).
  size_t threads = 0;
  /// Largest read during the handshake.
  size_t chunk_size = 1024;
  /// Spare pipes kept per loop for the splice relay.
  size_t pipe_pool = 64;
  /// DNS servers as "ip:port,ip:port" (empty: /etc/resolv.conf).
  std::string dns_servers;
  /// How often traffic counters are batched to the accept handler.
  std::chrono::milliseconds traffic_interval{250};
  /// on_closed events are delivered in batches: at most this long after a
  /// close, or once `close_batch` are waiting (each event wakes an owner;
  /// a batch wakes it once).
  std::chrono::milliseconds close_delay{10};
  size_t close_batch = 64;
  /// Bytes a relay direction copies before it switches to splice (0: splice
  /// at once; small exchanges cost fewer system calls copied).
  uint64_t splice_after = 64 * 1024;
  /// The loops' clock (tests inject one to drive deadlines and the idle
  /// timeout; empty: std::chrono::steady_clock::now).
  std::function<std::chrono::steady_clock::time_point()> clock;
};

} // namespace px::net
