// Admin session actors: one per SCTP association, speaking SPCP or the
// Manager protocol. They hold no proxy state: every number comes from the
// metrics actor, every setting from the settings actor, every credential
// check from the registry, and a reload runs on the main thread, asked for
// through the reload desk (admin/manager_reload.hpp).
//
// Handlers (dynamically typed; transport events arrive as messages):
//   admin_msg      one whole request      -> parse, ask, reply
//   down_atom      association gone       -> quit
//   timeout_atom   the login deadline     -> close unless logged in
//
// Logins are guarded twice (docs/admin-protocols.md, "Logins"): an
// association must log in within `admin_login_deadline`, and the login
// guard (one actor shared by every session of both protocols) refuses
// every attempt from a source address that failed too often, for a while.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"
#include "admin/codec.hpp"
#include "admin/login_guard.hpp"
#include "net/sctp.hpp"

namespace px {

/// What an admin session talks to.
struct admin_deps {
  /// Sends replies and closes associations (a fake in tests).
  net::sctp_transport* tx = nullptr;
  registry_actor registry;
  metrics_actor metrics;
  settings_actor settings;
  /// Failed logins per source address, shared by every admin session.
  login_guard_actor guard;
  /// Runs reloads on the main thread (null: the Manager reload command
  /// answers with a server error).
  reload_desk_actor reload;
  /// The cluster actor (null without [cluster]: the Manager cluster
  /// metrics command answers with a server error; docs/cluster.md).
  caf::actor cluster;
};

/// Failed logins after which an association is closed.
constexpr int max_admin_login_failures = 3;

/// An association that has not logged in by then is closed.
constexpr auto admin_login_deadline = std::chrono::seconds{10};

/// Phases of an SPCP session.
enum class spcp_phase : uint8_t { expect_user, expect_pass, transaction, closing };

struct spcp_state {
  static inline const char* name = "admin.spcp";
  net::assoc_id id = 0;
  net::ip_endpoint peer;
  admin_deps deps;
  spcp_phase ph = spcp_phase::expect_user;
  std::string user;
  int failures = 0;

  /// Parses a decimal buffer size; nullopt unless 1-20 digits, no overflow.
  static std::optional<uint64_t> parse_decimal(const std::string& text);
};

caf::behavior spcp_session(caf::stateful_actor<spcp_state>* self,
                           net::assoc_id id, net::ip_endpoint peer,
                           admin_deps deps);

/// Phases of a Manager session: login, exactly one request, done.
enum class manager_phase : uint8_t { login, request, done };

struct manager_state {
  static inline const char* name = "admin.manager";
  net::assoc_id id = 0;
  net::ip_endpoint peer;
  admin_deps deps;
  manager_phase ph = manager_phase::login;
  std::string user;

  /// The reply status for an add-user result.
  static admin::manager::status status_for(add_result r);
};

caf::behavior manager_session(caf::stateful_actor<manager_state>* self,
                              net::assoc_id id, net::ip_endpoint peer,
                              admin_deps deps);

/// Routes a listener's association events to one session actor each.
/// `spawn` creates the actor for a new association; `name` is for logs.
std::shared_ptr<net::sctp_events> make_admin_events(
  std::string name, std::function<caf::actor(net::assoc_id, net::ip_endpoint)> spawn);

} // namespace px
