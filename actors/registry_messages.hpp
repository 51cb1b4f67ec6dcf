// The registry's part of the message vocabulary (included by
// actors/messages.hpp, which holds the one type-ID block): the verified
// logins it publishes, the login checks it answers and their verdicts, and
// the outcome of an add.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/meta/type_name.hpp>

#include "config/users.hpp"
#include "net/account_stats.hpp"
#include "net/address.hpp"

namespace px {

/// Logins the registry has verified, as an immutable value it publishes: a
/// session's handler checks a returning user against it on the loop thread,
/// without a message to any actor (keyed SHA-256, microseconds, instead of
/// two round trips). Whoever holds the newest value (the acceptor's policy)
/// hands handlers a weak reference, so a reload that drops a user takes
/// effect for handshakes in flight too.
struct verified_logins {
  /// One verified login.
  struct entry {
    uint8_t roles = 0; ///< The user's roles.
    /// login_digest(key, user, password) of the password that verified.
    std::array<uint8_t, 32> digest{};
  };
  std::array<uint8_t, 32> key{}; ///< Key of the digests (random per process).
  /// The registry's epoch when it made this value (actors/accounts.hpp).
  uint64_t epoch = 0;
  /// Verified logins by user name.
  std::unordered_map<std::string, entry> users;

  /// True when (user, password) verified before and the user has `role`.
  bool check(const std::string& user, const std::string& password,
             uint8_t role) const;
};

/// Keyed SHA-256 of (user, password) under `key`.
std::array<uint8_t, 32> login_digest(const std::array<uint8_t, 32>& key,
                                     const std::string& user,
                                     const std::string& password);

/// A new verified_logins value (registry to acceptor).
struct logins_update {
  /// The value (immutable, shared).
  std::shared_ptr<const verified_logins> logins;
};

/// A login the published verified logins could not grant (a session to the
/// registry). Its check waits in the queue of the client's address (see
/// actors/check_queue.hpp) until a hasher is free.
struct login_request {
  std::string user; ///< The user name.
  std::string password; ///< Never logged.
  uint8_t role = config::role_socks; ///< The role the login needs.
  net::ip_endpoint peer; ///< The client's address (port ignored).
  /// Names the check in a later (cancel, ticket): the connection's id
  /// (0: cannot be cancelled).
  uint64_t ticket = 0;
};

/// The registry's answer to a login_request.
enum class auth_verdict : uint8_t {
  /// The password is right and the user has the role.
  granted,
  /// Wrong user name, password or role.
  denied,
  /// Not checked: too many checks wait (or a hasher failed). Never a wrong
  /// password: logged and counted as overload.
  overloaded,
};

/// Name of a verdict, for logs.
const char* to_string(auth_verdict x);

/// Outcome of adding, deleting or changing the password of a user.
enum class add_result : uint8_t {
  /// Done and durable on disk.
  ok,
  /// The name exists (or is being added).
  exists,
  /// The registry holds max_users users.
  full,
  /// Invalid name or password.
  invalid,
  /// The users file could not be written; nothing changed.
  io_error,
  /// Delete, password: no such user.
  no_user,
  /// Delete, password: another change of that user is in flight.
  busy,
  /// Delete: the user has the admin role (never deleted over the admin
  /// plane; edit the users file).
  forbidden,
};

/// Name of an add result, for logs.
const char* to_string(add_result x);

/// One user's counters and limits (`proxyctl users stats`), read from its
/// account.
using user_stats = net::account_stats;

// -- inspect ------------------------------------------------------------------

/// @relates logins_update
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, logins_update& x) {
  // A process-local value (never serialized): shows its size only.
  auto n = x.logins ? x.logins->users.size() : size_t{0};
  return f(caf::meta::type_name("logins_update"), n);
}


/// @relates login_request
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_request& x) {
  // The password never reaches a log: CAF's logger is off and no handler
  // prints this message.
  return f(caf::meta::type_name("login_request"), x.user, x.password, x.role,
           x.peer, x.ticket);
}

} // namespace px

namespace px::net {

/// @relates user_stats
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_stats& x) {
  return f(caf::meta::type_name("user_stats"), x.name, x.open, x.connections,
           x.bytes_up, x.bytes_down, x.refused_sessions, x.refused_rate,
           x.max_sessions, x.connect_rate, x.bandwidth_up, x.bandwidth_down);
}

} // namespace px::net
