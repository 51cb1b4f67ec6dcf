// The registry actor's steps that its files share: registry.cpp (state, the
// hashers, publishing, the behavior), registry_checks.cpp (login checks),
// registry_adds.cpp (adding and changing users) and registry_cluster.cpp
// (replicated entries). For those files only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/registry.hpp"

namespace px::registry_steps {

/// The registry actor, as its steps see it.
using registry_ptr = registry_actor::stateful_pointer<registry_state>;

/// How long a hasher may take for one password.
constexpr auto hash_timeout = std::chrono::seconds{10};

/// Gives every idle hasher its next job: adds first, then login checks.
void dispatch(registry_ptr self);

/// Hasher `h` finished its job (or failed it): it takes the next one.
void hasher_done(registry_ptr self, const hasher_actor& h);

/// Has the check `job` (which stays in the queue, hashing) verified by `h`.
void verify_check(registry_ptr self, hasher_actor h, check_job& job);

/// A SOCKS login: from the cache, else queued under the client's address.
caf::result<auth_verdict> check_login(registry_ptr self, login_request& req);

/// An admin login: from the cache, else queued (the admin plane is one
/// source of its own).
caf::result<bool> check_admin_login(registry_ptr self, const std::string& user,
                                    const std::string& password, uint8_t role);

/// Logs the login checks refused unchecked since the last line (at most
/// one line a second).
void report_refusals(registry_ptr self);

/// Has the password of `change` (an add or a passwd) hashed by `h`; it
/// then waits for the next write of the users file.
void hash_new_user(registry_ptr self, hasher_actor h, pending_change change);

/// Publishes verified logins now.
void publish(registry_ptr self);

/// Forgets the remembered logins of `names` (raises the epoch, revokes
/// them, publishes at once); the first `close` of them are deleted users,
/// whose sessions are closed unless `on_user_delete = keep`.
void forget_logins(registry_ptr self, const std::vector<std::string>& names,
                   size_t close);

/// First step of an add: validates and reserves the name, then waits for a
/// hasher. Answered once the user is durable (or not added).
caf::result<add_result> add_user(registry_ptr self, const std::string& user,
                                 const std::string& password, uint8_t roles);

/// First step of a delete (`remove`) or password change (`passwd`):
/// validates and reserves the name; a new password waits for a hasher, a
/// delete for the next write. Answered once durable (or not made).
caf::result<add_result> change_user(registry_ptr self, change_kind kind,
                                    const std::string& user,
                                    const std::string& password);

/// Puts `change` (hashed where needed, its name reserved) in force: at
/// once when users live in memory only, else after the next write.
void queue_write(registry_ptr self, pending_change change);

/// Tells the listener the users soon (coalesced; nothing without one).
void notify_users(registry_ptr self);

/// Tells the listener the users now.
void send_users(registry_ptr self);

/// Applies a replicated entry (actors/registry_cluster.cpp): a put of roles
/// and hash, or a removal, through the one write pipeline. Answered once
/// durable: ok (also when nothing had to change), busy (a change of the
/// name is in flight), full, invalid or io_error.
caf::result<add_result> apply_entry(registry_ptr self, const cluster_entry& e);

} // namespace px::registry_steps
