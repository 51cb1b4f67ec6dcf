// The registry actor: owns the users (name, roles, password hash), checks
// credentials, adds users durably and publishes the logins it verified
// (verified_logins) so that returning users are granted on the loop thread.
// Hashing runs in hasher actors and file writes in the persister: the
// registry itself never blocks.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"

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
};

/// Where and how the registry keeps users.
struct registry_config {
  /// Users file; empty: users live in memory only.
  std::string path;
  /// Largest number of users.
  size_t max_users = 10000;
};

/// State of the registry actor.
struct registry_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "registry";

  /// The users in force.
  std::map<std::string, registry_user> users;
  /// Users being added: hashed (hash set) or still hashing (hash empty).
  std::map<std::string, config::user_entry> pending;
  /// Users file and limits.
  registry_config cfg;
  /// Writes the users file.
  persister_actor persist;
  /// Hash and verify passwords, in turn.
  std::vector<hasher_actor> hashers;
  /// The next hasher to ask.
  size_t next_hasher = 0;
  /// Random key for `registry_user::verified`.
  std::array<uint8_t, 32> key{};
  /// A hash to verify against for unknown users, so that a wrong name costs
  /// as much time as a wrong password.
  std::string dummy_hash;

  /// A password check waiting for the hasher: who asked, and whether the
  /// user has the role each asked for.
  struct waiter {
    /// Answers the asker.
    caf::typed_response_promise<bool> rp;
    /// The user exists and has the role this asker asked for.
    bool known = false;
  };
  /// A check in flight: digest(user, password) and the hash checked against
  /// (a reload may change it meanwhile).
  using check_key = std::pair<std::array<uint8_t, 32>, std::string>;
  /// Checks in flight: a burst of logins with the same credentials (clients
  /// reconnecting after a restart) costs one hash, not one each.
  std::map<check_key, std::vector<waiter>> checking;

  /// Who gets verified_logins values (the acceptor).
  logins_sink sink;
  /// Whether a publish is scheduled.
  bool publish_scheduled = false;

  /// Keyed digest of (user, password).
  std::array<uint8_t, 32> digest(const std::string& user,
                                 const std::string& password) const;

  /// The verified logins as a value.
  std::shared_ptr<const verified_logins> logins() const;

  /// Whether `user` may be added with `password` and `roles` now: `ok`, or
  /// why not (`invalid`, `exists`, `full`). The first step of an add.
  add_result validate_add(const std::string& user, const std::string& password,
                          uint8_t roles) const;

  /// Replaces all users.
  void load(const std::vector<config::user_entry>& entries);

  /// The hasher for the next job (round robin).
  hasher_actor pick_hasher();

  /// The users file as it must look once every pending add is durable:
  /// committed users plus every hashed pending one, so that concurrent adds
  /// never overwrite each other.
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
