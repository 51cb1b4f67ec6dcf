// Limits shared by loop threads: how many connections a user or a client
// address holds, how fast it opens new ones, and how many bytes a user
// moves each way. An actor decides the limits and publishes them in the
// counters' own atomics (the registry for users, the acceptor's policy for
// client addresses); loop threads and sessions only count against them.
// Lock-free: every counter is one atomic word, updated with a CAS loop or a
// fetch-add, never under a lock and never with a message per connection.
//
//   rate_bucket  a token bucket kept as one "theoretical arrival time"
//                (GCRA): `take` one token for a new connection, or `grant`
//                up to N bytes; an empty bucket says when to ask again, so
//                the relay pauses its reads until then instead of buffering
//   gauge        open connections against a maximum, exact under races
//                (counted first, given back when over)
//   account      what one user or client address holds: a gauge, a bucket
//                of new connections, a bucket each way, and byte counters
//   lease        one connection's place in an account's gauge; gives it
//                back when destroyed (the connection closed)
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace px::net {

using limit_clock = std::chrono::steady_clock;

/// A token bucket shared by threads: `per_second` tokens a second, at most
/// `burst` at once (0 per second: unlimited). Reconfigurable while in use.
class rate_bucket {
public:
  /// Sets the rate and the depth (a depth of 0 means one second's worth).
  void configure(uint64_t per_second, uint64_t burst = 0);

  /// True when no limit is set.
  bool unlimited() const {
    return interval_.load(std::memory_order_relaxed) == 0;
  }

  /// Takes one token at `now`; false when the bucket is empty.
  bool take(limit_clock::time_point now);

  /// Takes up to `want` tokens at `now`: all of them, or as many as the
  /// bucket holds when that is at least `min(want, quantum)`, or none. With
  /// none, `retry` is when `min(want, quantum)` will be there.
  size_t grant(limit_clock::time_point now, size_t want, size_t quantum,
               limit_clock::time_point& retry);

  /// Gives back `n` tokens taken and not used (a short read).
  void refund(size_t n);

  /// Takes over how full `other` is (a new table of client addresses).
  void copy_level(const rate_bucket& other);

private:
  /// Ticks per token (0: unlimited).
  std::atomic<int64_t> interval_{0};
  /// Ticks the bucket holds when full (depth times interval).
  std::atomic<int64_t> depth_{0};
  /// When the bucket is empty again if nobody takes more ("theoretical
  /// arrival time", in ticks).
  std::atomic<int64_t> tat_{std::numeric_limits<int64_t>::min() / 4};
};

/// Open connections against a maximum (0: none).
class gauge {
public:
  /// Counts one more; false (nothing counted) when `max` would be passed.
  bool enter(uint32_t max);

  /// Counts one less.
  void leave();

  uint32_t open() const {
    return open_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint32_t> open_{0};
};

/// Which limit refused a connection.
enum class limit_hit : uint8_t {
  none,
  /// The concurrent connections of the user or address.
  sessions,
  /// New connections per second.
  rate,
};

/// "sessions" or "rate" (empty for none).
const char* to_string(limit_hit x);

/// The limits of an account (0: none), set by its owner.
struct account_limits {
  uint32_t sessions = 0;
  uint32_t connect_rate = 0;
  uint64_t bandwidth_up = 0;
  uint64_t bandwidth_down = 0;

  friend bool operator==(const account_limits& x, const account_limits& y) {
    return x.sessions == y.sessions && x.connect_rate == y.connect_rate
           && x.bandwidth_up == y.bandwidth_up && x.bandwidth_down == y.bandwidth_down;
  }
};

/// What one user or client address holds and moves. Shared by the loops
/// and the actors; only its owner changes its limits and groups.
class account {
public:
  explicit account(std::string name = {});

  /// Applies `lim` (to connections already open too: their bandwidth).
  void configure(const account_limits& lim);

  account_limits limits() const;

  /// The user's groups (the rules' `group=`); never null (shared empty).
  std::shared_ptr<const std::vector<std::string>> groups() const;
  void set_groups(std::vector<std::string> groups);

  /// The user's outbound profile (users-file option `outbound=`; empty: the
  /// proxy's default); never null.
  std::shared_ptr<const std::string> outbound() const;
  void set_outbound(std::string name);
  /// The user's parent proxy or group (the users file's `via=`; empty:
  /// the default); never null.
  std::shared_ptr<const std::string> via() const;
  void set_via(std::string via);

  const std::string& name() const {
    return name_;
  }

  gauge sessions;
  rate_bucket connects;
  rate_bucket up;
  rate_bucket down;

  /// Totals since the account exists (one fetch-add per relay step).
  std::atomic<uint64_t> bytes_up{0};
  std::atomic<uint64_t> bytes_down{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> refused_sessions{0};
  std::atomic<uint64_t> refused_rate{0};

  /// Logins remembered before this epoch no longer count (a password
  /// change or a delete raised it; see verified_logins::epoch).
  std::atomic<uint64_t> revoked_epoch{0};
  /// The user was deleted: its connections close, no login is granted.
  std::atomic<bool> deleted{false};

private:
  std::string name_;
  std::atomic<uint32_t> max_sessions_{0};
  std::atomic<uint32_t> connect_rate_{0};
  std::atomic<uint64_t> bandwidth_up_{0};
  std::atomic<uint64_t> bandwidth_down_{0};
  std::shared_ptr<const std::vector<std::string>> groups_;
  std::shared_ptr<const std::string> outbound_;
  std::shared_ptr<const std::string> via_;
};

/// One connection's place in a gauge (an account's, or a client address's
/// in a source_table; empty: none). Move-only; leaves the gauge when
/// destroyed or reset.
class lease {
public:
  lease() = default;
  lease(lease&& other) noexcept = default;
  lease& operator=(lease&& other) noexcept;
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  ~lease();

  /// Enters `acct` at `now`: its gauge, then its bucket of new connections
  /// (a refusal is counted in the account). `none` with a lease in `out`.
  static limit_hit enter(std::shared_ptr<account> acct,
                         limit_clock::time_point now, lease& out);

  /// A lease of `g`, entered already (shares the ownership of `owner`).
  template <class T>
  static lease adopt(const std::shared_ptr<T>& owner, gauge& g) {
    lease out;
    out.gauge_ = std::shared_ptr<gauge>(owner, &g);
    return out;
  }

  explicit operator bool() const {
    return gauge_ != nullptr;
  }

  /// Leaves now.
  void reset();

private:
  std::shared_ptr<gauge> gauge_;
};

} // namespace px::net
