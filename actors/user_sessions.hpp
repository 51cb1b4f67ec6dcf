// The user-session directory: which open SOCKS connections authenticated as
// which user, so that deleting a user can close its sessions at once and a
// login granted from an outdated verified_logins value is caught.
//
// Called from loop threads (a session's handler grants a returning login
// and reports the close) and from the registry actor (grants it checked
// itself, deletes, password changes, reloads). One mutex guards two small
// maps and is never held across work: no I/O, no message, no hashing under
// it; closing is a conn_control command after the lock is released.
//
// Epochs: every verified_logins value carries the registry's epoch; a
// change that must forget a user's remembered logins (delete, password)
// raises the epoch and revokes the user at the new epoch. A login granted
// from a value older than the revocation is refused here, so a handler
// still holding the previous value cannot let the old password in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/conn_control.hpp"

namespace px {

/// Open connections per authenticated user (thread-safe; see above).
class user_sessions {
public:
  /// Connections are closed with `io` (null: revoke only forgets them).
  explicit user_sessions(net::conn_control* io = nullptr) : io_(io) {
    // nop
  }

  /// Records that connection `id` logged in as `user`, granted from the
  /// logins of `epoch`. False (nothing recorded) when `user` was revoked
  /// at a later epoch: the login must not be granted from that value.
  bool admit(const std::string& user, net::conn_id id, uint64_t epoch);

  /// Connection `id` closed (unknown ids are ignored).
  void remove(net::conn_id id);

  /// Forgets the logins of `user` older than `epoch`; with `close`, also
  /// closes its open connections. Returns how many it closed.
  size_t revoke(const std::string& user, uint64_t epoch, bool close);

  /// Open connections recorded for `user` (for tests and logs).
  size_t count(const std::string& user) const;

private:
  net::conn_control* io_;
  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::unordered_set<net::conn_id>> by_user_;
  std::unordered_map<net::conn_id, std::string> by_id_;
  /// The epoch each revoked user was revoked at (one entry per name).
  std::unordered_map<std::string, uint64_t> revoked_;
};

} // namespace px
