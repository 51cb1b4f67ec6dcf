// Service actors: hasher, registry, metrics, settings and access log. Each
// owns its state; others ask with typed requests or tell with typed messages.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"

namespace px {

// -- hasher -------------------------------------------------------------------

/// Runs crypt(3); every handler blocks for tens of milliseconds.
hasher_actor::behavior_type hasher(hasher_actor::pointer self);

// -- persister ----------------------------------------------------------------

/// Writes with config::write_file_atomically; every handler blocks on fsync.
persister_actor::behavior_type persister(persister_actor::pointer self);

// -- registry -----------------------------------------------------------------

/// A user as the registry keeps it.
struct registry_user {
  uint8_t roles = 0;
  std::string hash;
  /// Keyed SHA-256 of the last password that verified against `hash`; lets
  /// repeated logins skip the slow hash. Memory only, never persisted.
  std::array<uint8_t, 32> verified{};
  bool has_verified = false;
};

/// Where and how the registry keeps users.
struct registry_config {
  /// Users file; empty: users live in memory only.
  std::string path;
  /// Largest number of users.
  size_t max_users = 10000;
};

struct registry_state {
  static inline const char* name = "registry";
  std::map<std::string, registry_user> users;
  /// Users being added: hashed (hash set) or still hashing (hash empty).
  std::map<std::string, config::user_entry> pending;
  registry_config cfg;
  persister_actor persist;
  std::vector<hasher_actor> hashers;
  size_t next_hasher = 0;
  /// Random key for `registry_user::verified`.
  std::array<uint8_t, 32> key{};
  /// A hash to verify against for unknown users, so that a wrong name costs
  /// as much time as a wrong password.
  std::string dummy_hash;

  /// A password check waiting for the hasher: who asked, and whether the
  /// user has the role each asked for.
  struct waiter {
    caf::typed_response_promise<bool> rp;
    bool known = false;
  };
  /// Checks in flight, keyed by digest(user, password) and the hash checked
  /// against (a reload may change it meanwhile): a burst of logins with the
  /// same credentials (clients reconnecting after a restart) costs one hash,
  /// not one each.
  std::map<std::pair<std::array<uint8_t, 32>, std::string>, std::vector<waiter>>
    checking;

  /// Who gets verified_logins values (the acceptor), and whether a publish
  /// is scheduled.
  logins_sink sink;
  bool publish_scheduled = false;

  /// Keyed digest of (user, password).
  std::array<uint8_t, 32> digest(const std::string& user,
                                 const std::string& password) const;

  /// The verified logins as a value.
  std::shared_ptr<const verified_logins> logins() const;

  /// Replaces all users.
  void load(const std::vector<config::user_entry>& entries);

  hasher_actor pick_hasher();

  /// The users file as it must look once every pending add is durable:
  /// committed users plus every hashed pending one, so that concurrent adds
  /// never overwrite each other.
  std::string file_contents() const;
};

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<config::user_entry> users,
         std::vector<hasher_actor> hashers, registry_config cfg,
         persister_actor persist);

// -- metrics ------------------------------------------------------------------

struct metrics_state {
  static inline const char* name = "metrics";
  metrics_snapshot counters;

  /// Applies one event.
  void apply(const metric_event& ev);
};

metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self);

// -- settings -----------------------------------------------------------------

/// Bounds of runtime-settable values.
constexpr uint64_t min_buffer_size = 1024;
constexpr uint64_t max_buffer_size = 16 * 1024 * 1024;
constexpr uint64_t max_max_clients = 1000000;

struct settings_state {
  static inline const char* name = "settings";
  session_settings current;
  /// Told about every change.
  acceptor_actor subscriber;
};

settings_actor::behavior_type
settings(settings_actor::stateful_pointer<settings_state> self,
         session_settings initial, acceptor_actor subscriber);

// -- access log ---------------------------------------------------------------

struct access_log_state {
  static inline const char* name = "access-log";
  /// File descriptor written to (-1: off).
  int fd = -1;
  bool owns_fd = false;
  ~access_log_state();
};

/// Formats one access log line (without newline).
std::string format_access_record(const access_record& rec);

/// `target`: "-" (stdout), "off", or a file path opened for appending.
/// Fails (returns an error text) when the file cannot be opened.
std::string open_access_log(const std::string& target, int& fd);

access_log_actor::behavior_type
access_log(access_log_actor::stateful_pointer<access_log_state> self, int fd,
           bool owns_fd);

} // namespace px
