// What a loop tells the owners, in batches: closes (each wakes an owner's
// actor; a batch wakes it once) and traffic counters. The loop hands over
// a close when it happens; the reporter delivers once `batch` are waiting
// or the oldest has waited `delay`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "net/conn_control.hpp"
#include "net/reactor/deadlines.hpp"

namespace px::net {

class reporter {
public:
  /// Reports `counts` (where the loop's modules add) to `sink`.
  reporter(traffic_counts& counts, traffic_sink sink, size_t batch,
           std::chrono::milliseconds delay)
    : counts_(counts), sink_(std::move(sink)), batch_(batch), delay_(delay) {
  }

  /// An owned connection closed at `now`: its on_closed goes out with the
  /// next batch.
  void closed(std::shared_ptr<conn_handler> h, conn_id id, close_stats stats,
              time_point now);

  /// When the waiting batch is due (nothing waits: none).
  std::optional<time_point> next_due() const;

  /// Delivers the batch if it is full or due at `now`.
  void deliver_due(time_point now);

  /// Delivers every waiting close.
  void deliver_all();

  /// Hands the counters to the sink (when any moved) and zeroes them.
  void flush_traffic();

  /// Owned connections closed so far (any thread).
  uint64_t owned_closed() const {
    return owned_closed_.load(std::memory_order_relaxed);
  }

private:
  struct pending_close {
    std::shared_ptr<conn_handler> handler;
    conn_id id;
    close_stats stats;
  };

  traffic_counts& counts_;
  traffic_sink sink_;
  size_t batch_;
  std::chrono::milliseconds delay_;
  std::vector<pending_close> closing_;
  time_point oldest_{};
  std::atomic<uint64_t> owned_closed_{0};
};

} // namespace px::net
