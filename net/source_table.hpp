// Per client address limits (`[limits] source_sessions`,
// `source_connect_rate`), counted on the loop threads as clients are
// accepted: a fixed-size table of client addresses, lock-free (an address
// claims its slot with one CAS on a 64-bit key, a keyed hash of the
// address; slots are never freed). When half of it is used, a
// fresh table takes over and keeps the old one for the connections it
// still holds: the open count of an address is its count in both, and its
// connect rate moves over on its first use. Should the old table still
// hold connections when the new one is full too, addresses that find no
// slot are admitted unlimited and counted (`full()`), never refused.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/address.hpp"
#include "net/limits.hpp"

namespace px::net {

/// One table of client addresses (see above).
class source_table {
public:
  struct slot {
    /// Keyed hash of the address (0: free).
    std::atomic<uint64_t> key{0};
    gauge sessions;
    rate_bucket connects;
    std::atomic<uint32_t> rate{0};
  };

  source_table(size_t capacity, uint64_t seed);

  /// The slot of `key`, claimed when new; null when its probe run is full.
  slot* find_or_add(uint64_t key, bool& added);

  /// The slot of `key` if it has one.
  slot* find(uint64_t key) const;

  size_t used() const {
    return used_.load(std::memory_order_relaxed);
  }

  size_t capacity() const {
    return mask_ + 1;
  }

  /// The table this one took over from (null: none).
  std::shared_ptr<source_table> previous() const;
  void set_previous(std::shared_ptr<source_table> prev);

private:
  std::unique_ptr<slot[]> slots_;
  size_t mask_;
  std::atomic<size_t> used_{0};
  std::shared_ptr<source_table> prev_;
};

/// The client-address limits of all loops.
class source_limiter {
public:
  /// `capacity` addresses per table (rounded up to a power of two).
  explicit source_limiter(size_t capacity = 65536);

  /// Counts a new connection from `addr` under `lim` (sessions and
  /// connect_rate only); `none` with a lease in `out`, else what refused.
  limit_hit enter(const ip_endpoint& addr, const account_limits& lim,
                  limit_clock::time_point now, lease& out);

  /// Open connections counted for `addr` (for tests and logs).
  uint32_t open(const ip_endpoint& addr) const;

  /// Connections admitted unlimited because no slot was free.
  uint64_t full() const {
    return full_.load(std::memory_order_relaxed);
  }

private:
  uint64_t key_of(const ip_endpoint& addr) const;
  std::shared_ptr<source_table> current();

  size_t capacity_;
  uint64_t seed_;
  std::shared_ptr<source_table> table_;
  std::atomic<uint64_t> full_{0};
};

} // namespace px::net
