// The users' accounts (net/limits.hpp): one per user in force, made and
// configured by the registry (the only owner of who exists and what limits
// apply), and published by it as an immutable map on a board that loop
// threads and sessions read with one atomic load. Counting against an
// account is lock-free; nothing here waits.
//
// A login is granted a place in its user's account when the user is still
// there and not deleted, when the login was not remembered from before the
// user's last password change or delete (epochs: verified_logins::epoch),
// and when the user's session and connect-rate limits allow it.
// Deleting a user marks its account and closes its connections through
// conn_control::close_user, on the loops that own them: no directory of
// connections is kept here.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "net/conn_control.hpp"
#include "net/limits.hpp"

namespace px {

/// The accounts of the users in force, by name (an immutable value).
struct account_map {
  std::unordered_map<std::string, std::shared_ptr<net::account>> by_name;
};

/// Where the registry publishes the newest account_map.
class account_board {
public:
  account_board();

  /// Replaces the map (the registry only).
  void publish(std::shared_ptr<const account_map> m);

  /// The newest map (never null).
  std::shared_ptr<const account_map> current() const;

  /// The account of `user` in the newest map (null: no such user).
  std::shared_ptr<net::account> find(const std::string& user) const;

  /// Whether /metrics lists every user (`[limits] per_user_metrics`; set at
  /// the start and by a reload).
  bool per_user_metrics() const {
    return per_user_metrics_.load(std::memory_order_relaxed);
  }
  void set_per_user_metrics(bool on) {
    per_user_metrics_.store(on, std::memory_order_relaxed);
  }

private:
  std::shared_ptr<const account_map> map_;
  std::atomic<bool> per_user_metrics_{false};
};

/// What granting a login found.
enum class login_check : uint8_t {
  /// Granted: the connection holds a place in the account.
  granted,
  /// The user is gone, or the login predates a change of it: check again
  /// (the registry decides).
  stale,
  /// The user's concurrent sessions are at their limit.
  sessions,
  /// The user's new sessions per second are at their limit.
  rate,
};

/// The epoch of a login the registry has just checked (never stale by age).
constexpr uint64_t fresh_login = std::numeric_limits<uint64_t>::max();

/// Grants `user`'s login, remembered since `epoch`, a place in its account
/// on `board` (null: no accounts, granted without one).
login_check grant_login(const account_board* board, const std::string& user,
                        uint64_t epoch, net::login_grant& out);

/// "user-sessions" or "user-rate" for the access log (empty otherwise).
const char* limit_result(login_check x);

} // namespace px
