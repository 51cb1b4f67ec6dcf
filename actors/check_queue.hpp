// The registry's queue of password checks waiting for a hasher: plain data
// the registry actor owns (no actor, no clock), so that a check costs a
// hash only once a hasher is free and somebody still waits for its answer.
// The registry hands a hasher one check at a time; everything else waits
// here, bounded. See docs/hardening.md, "Login floods".
//
//   push    a new check joins one of the same credentials already queued or
//           hashing (one hash for all), or queues behind the checks of its
//           source (client address), or is refused: at most `per_source`
//           checks queued per source and `total` in all. A check of a known
//           user name may take the place of the newest queued check of an
//           unknown one, and a source with few checks queued the place of
//           the newest check of the source with most.
//   pop     the next check for a free hasher: the oldest of the next source
//           (round robin), whatever its user name
//   cancel  an asker is gone: a check nobody waits for any more is dropped
//           before it is hashed
//   finish  a hasher answered: the check and its waiters, for the verdict
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/response_promise.hpp>

#include "net/address.hpp"

namespace px {

/// A password check: keyed digest of (user, password), and the hash it is
/// checked against (a reload may change the user's hash meanwhile).
using check_key = std::pair<std::array<uint8_t, 32>, std::string>;

/// Someone who waits for a check.
struct check_waiter {
  /// Names the waiter for `cancel` (0: cannot be cancelled).
  uint64_t ticket = 0;
  /// The user exists with the role this waiter asked for.
  bool role_ok = false;
  /// Answers the waiter.
  caf::response_promise rp;
  /// The waiter expects a bool (auth_atom) rather than an auth_verdict.
  bool boolean = false;
};

/// One check: what to hash, and who waits for the verdict.
struct check_job {
  /// The credentials' digest and the hash to check against.
  check_key key;
  /// The user name as sent.
  std::string user;
  /// The password; moved to the hasher when the check leaves the queue.
  std::string password;
  /// The user name is known (else the check is against a dummy hash).
  bool exists = false;
  /// The queue the check waits in (source_of its first asker).
  std::string source;
  /// Who waits (one when pushed; more join while it waits or is hashed).
  std::vector<check_waiter> waiters;
};

/// The source a client's checks are queued and capped under: its IPv4
/// address (also when IPv4-mapped), or the /64 of its IPv6 address.
std::string source_of(const net::ip_endpoint& peer);

/// Bounds of the queue, and of the registry's hashing.
struct check_limits {
  /// Checks queued (not yet hashing) per source.
  size_t per_source = 16;
  /// Checks queued in all.
  size_t total = 128;
  /// New checks a second the hashers are taken to manage; more mean
  /// overload. 0: derived from the hash time the registry measures.
  size_t per_second = 0;
};

/// The queue. Not thread-safe: one actor owns it.
class check_queue {
public:
  /// What became of a pushed check.
  enum class pushed : uint8_t {
    /// It shares a check of the same credentials (no hash of its own).
    joined,
    /// It waits for a hasher.
    queued,
    /// The queue is full: it is in `overflow`.
    refused,
  };

  /// An empty queue with bounds `lim`.
  explicit check_queue(check_limits lim = {});

  /// True when a check of `key` waits or is being hashed: a new one would
  /// join it.
  bool contains(const check_key& key) const {
    return jobs_.count(key) != 0;
  }

  /// Adds `job` (with one waiter). Checks it displaced, or `job` itself
  /// when refused, are appended to `overflow`: their waiters must be told
  /// of the overload.
  pushed push(check_job job, std::vector<check_job>& overflow);

  /// Takes the next check for a free hasher, or nullptr when none waits.
  /// The check counts as hashing from now on (others may still join it);
  /// the pointer stays valid until `finish`.
  check_job* pop();

  /// Moves every queued check of an unknown user name to `out`.
  void drop_unknown(std::vector<check_job>& out);

  /// The waiter with `ticket` is gone. True when its check was dropped
  /// (nobody else waited for it and no hasher had it).
  bool cancel(uint64_t ticket);

  /// A hasher answered the check `key`: removes and returns it (nothing
  /// when `key` is not being hashed).
  std::optional<check_job> finish(const check_key& key);

  /// Checks waiting for a hasher, in all and from `source`.
  size_t queued() const {
    return queued_;
  }
  size_t queued_from(const std::string& source) const;

  /// Checks being hashed.
  size_t hashing() const {
    return jobs_.size() - queued_;
  }

  /// The bounds.
  const check_limits& limits() const {
    return lim_;
  }

private:
  /// A check, and whether a hasher has it.
  struct entry {
    check_job job;
    bool hashing = false;
  };

  /// A queued check to displace: its source and key.
  using victim = std::pair<std::string, check_key>;

  /// The newest check `source` has queued (of an unknown user name only,
  /// with `unknown_only`).
  std::optional<victim> newest(const std::string& source,
                               bool unknown_only) const;

  /// Which queued check `job` may take the place of, if any.
  std::optional<victim> pick_victim(const check_job& job) const;

  /// Moves the queued check `v` to `out`.
  void evict(const victim& v, std::vector<check_job>& out);

  /// Removes `key` from `source`'s queue.
  void unqueue(const std::string& source, const check_key& key);

  check_limits lim_;
  std::map<check_key, entry> jobs_;
  /// Queued checks per source, oldest first.
  std::map<std::string, std::deque<check_key>> sources_;
  std::map<uint64_t, check_key> tickets_;
  /// The source `pop` served last (round robin).
  std::string served_last_;
  size_t queued_ = 0;
};

} // namespace px
