// The registry actor: owns the users (name, roles, password hash), checks
// credentials, adds users durably and publishes the logins it verified
// (verified_logins) so that returning users are granted on the loop thread.
// Hashing runs in hasher actors and file writes in the persister: the
// registry itself never blocks.
//
// Hashers get one job at a time: adds first, then login checks from the
// check queue (actors/check_queue.hpp), which drops the checks of clients
// that left and refuses (as overload) what it cannot hold. The users file
// is written by one write at a time, holding exactly the users that write
// acknowledges (docs/hardening.md).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/check_queue.hpp"
#include "actors/messages.hpp"
#include "actors/accounts.hpp"

namespace px {

/// A user as the registry keeps it.
struct registry_user {
  /// config::role_socks and/or config::role_admin.
  uint8_t roles = 0;
  /// The password hash (yescrypt), as in the users file.
  std::string hash;
  /// Keyed SHA-256 of the last password that verified against `hash`; lets
  /// repeated logins skip the slow hash. Memory only, never persisted.
  std::array<uint8_t, 32> verified{};
  /// Whether `verified` holds a digest.
  bool has_verified = false;
  /// The user's groups and limit overrides as in the users file (name,
  /// roles and hash there are unused: the fields above hold them).
  config::user_entry profile;
};

/// Where and how the registry keeps users.
struct registry_config {
  registry_config() = default;
  /// Users in `path` (empty: memory only), at most `max_users`.
  registry_config(std::string path, size_t max_users, check_limits checks = {})
    : path(std::move(path)), max_users(max_users), checks(checks) {
    // nop
  }

  /// Users file; empty: users live in memory only.
  std::string path;
  /// Largest number of users.
  size_t max_users = 10000;
  /// Bounds of the login checks waiting for a hasher.
  check_limits checks;
  /// Where the users' accounts are published (null: no accounts, no
  /// limits, nothing closed on a delete).
  std::shared_ptr<account_board> accounts;
  /// Closes a deleted user's connections (null: nothing closed).
  net::conn_control* io = nullptr;
  /// The users' limits unless their line in the users file overrides them.
  net::account_limits user_defaults;
  /// Whether deleting a user (over the admin plane or by a reload) closes
  /// its open sessions (`[socks] on_user_delete`).
  bool close_on_delete = true;
};

/// The counters and limits of an account.
user_stats stats_of(const net::account& a);

/// A users-file entry without groups or limit overrides.
config::user_entry plain_entry(std::string name, uint8_t roles, std::string hash);

/// What a change of the users does.
enum class change_kind : uint8_t {
  /// Adds a user.
  add,
  /// Deletes a user.
  remove,
  /// Replaces a user's password.
  passwd,
  /// Puts a user's roles and hash from another node (docs/cluster.md).
  put,
};

/// A change on its way: validated and reserved, then hashed (add, passwd),
/// then written, then in force and acknowledged.
struct pending_change {
  /// What it does.
  change_kind kind = change_kind::add;
  /// The name being added, deleted or given a new password.
  std::string user;
  /// Its roles.
  uint8_t roles = 0;
  /// The password, until a hasher has it.
  std::string password;
  /// The hash, once computed.
  std::string hash;
  /// Answers the asker once the change is durable (or not made).
  caf::typed_response_promise<add_result> rp;
};

/// State of the registry actor.
struct registry_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "registry";

  /// The users in force.
  std::map<std::string, registry_user> users;
  /// Their accounts (counters and limits), published on cfg.accounts.
  std::map<std::string, std::shared_ptr<net::account>> accounts;
  /// Names being added, deleted or given a password (reserved until the
  /// change ends): see `to_hash`, `to_write`, `writing`.
  std::map<std::string, config::user_entry> pending;
  /// Users file and limits.
  registry_config cfg;
  /// Writes the users file.
  persister_actor persist;
  /// Hash and verify passwords, one job each at a time.
  std::vector<hasher_actor> hashers;
  /// The hashers without a job.
  std::vector<hasher_actor> idle;
  /// Raised by every change that forgets a user's remembered logins; the
  /// published verified_logins carry it (see actors/accounts.hpp).
  uint64_t epoch = 1;
  /// Random key for `registry_user::verified`.
  std::array<uint8_t, 32> key{};
  /// A hash to verify against for unknown users, so that a wrong name costs
  /// as much time as a wrong password.
  std::string dummy_hash;

  /// Login checks waiting for a hasher or being hashed. A burst of logins
  /// with the same credentials (clients reconnecting after a restart)
  /// costs one hash, not one each.
  check_queue checks;
  /// Login checks refused for overload since the last log line about it.
  uint64_t refused = 0;
  /// Whether a log line about refusals is scheduled.
  bool refusals_scheduled = false;
  /// New checks (each needing a hash of its own) counted in the window of
  /// one second that began at `window_start`.
  size_t window_checks = 0;
  /// Where the current window began.
  caf::actor_clock::time_point window_start;
  /// Overload (new checks arrive faster than the hashers can do them)
  /// lasts until then: meanwhile checks of unknown user names are refused
  /// unchecked instead of hashed against `dummy_hash` (docs/hardening.md).
  caf::actor_clock::time_point overloaded_until;
  /// How long a check takes a hasher (moving average of what it took).
  caf::actor_clock::duration_type hash_time = std::chrono::milliseconds{50};

  /// Adds and password changes waiting for a hasher (they go before login
  /// checks).
  std::deque<pending_change> to_hash;
  /// Changes (hashed where needed) waiting for the next write of the users
  /// file.
  std::vector<pending_change> to_write;
  /// The changes in the write in flight: acknowledged when it succeeds,
  /// failed (and in no later write) when it fails.
  std::vector<pending_change> writing;
  /// A write of the users file is in flight.
  bool write_busy = false;
  /// A write timed out: it may still land, with users that were refused,
  /// so the file must be written again.
  bool rewrite = false;

  /// Who gets verified_logins values (the acceptor).
  logins_sink sink;
  /// Who gets the users after every change (the cluster actor; null: nobody).
  users_listener listener;
  /// Whether a users_snapshot is scheduled.
  bool snapshot_scheduled = false;
  /// Whether a publish is scheduled.
  bool publish_scheduled = false;

  /// Keyed digest of (user, password).
  std::array<uint8_t, 32> digest(const std::string& user,
                                 const std::string& password) const;

  /// New checks a second the hashers manage (check_limits::per_second, or
  /// derived from `hash_time`).
  size_t capacity() const;

  /// True when (user, password) verified before and the user has `role`:
  /// answered at once, without a hash.
  bool verified(const std::string& user, const std::string& password,
                uint8_t role) const;

  /// The verified logins as a value.
  std::shared_ptr<const verified_logins> logins() const;

  /// Whether `user` may be added with `password` and `roles` now: `ok`, or
  /// why not (`invalid`, `exists`, `full`). The first step of an add.
  add_result validate_add(const std::string& user, const std::string& password,
                          uint8_t roles) const;

  /// Whether `user` may be deleted (kind remove) or given `password` (kind
  /// passwd) now: `ok`, or why not (`no_user`, `busy`, `forbidden`,
  /// `invalid`).
  add_result validate_change(change_kind kind, const std::string& user,
                             const std::string& password) const;

  /// Replaces all users. Returns the names whose remembered logins must be
  /// forgotten: first the users that are gone, then (after `gone` of them)
  /// those whose hash changed.
  std::vector<std::string> load(const std::vector<config::user_entry>& entries,
                                size_t* gone = nullptr);

  /// Makes an account for every user in force and drops those of users
  /// gone, applies each user's limits and groups, and publishes the map.
  void sync_accounts();

  /// The counters of `user` (empty: of every user), by name.
  std::vector<user_stats> stats(const std::string& user) const;

  /// The users file as the write in flight must leave it: the users in
  /// force with the changes of that write (`writing`) applied, nothing else.
  std::string file_contents() const;
};

/// The registry actor, starting with `users`. With an empty `cfg.path`
/// users live in memory only and `persist` may be null.
registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<config::user_entry> users,
         std::vector<hasher_actor> hashers, registry_config cfg,
         persister_actor persist);

} // namespace px
