// The Manager session's user commands (admin/admin_session.hpp): add user
// (0x00) from the spec, and our extension (docs/admin-protocols.md, "User
// management"): delete user (0x04) and change password (0x05). Each asks
// the registry, which answers once the change is durable in the users file.
#include "admin/manager_users.hpp"

#include <chrono>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace mgr = admin::manager;

namespace {

/// Generous: hashing plus an fsync'd write of the users file.
constexpr auto change_timeout = std::chrono::seconds{60};

} // namespace

admin::manager::status manager_state::status_for(add_result r) {
  switch (r) {
    case add_result::ok:
      return mgr::status::ok;
    case add_result::exists:
      return mgr::status::user_exists;
    case add_result::full:
      return mgr::status::registry_full;
    case add_result::invalid:
      return mgr::status::invalid_value;
    case add_result::io_error:
      return mgr::status::server_error;
    case add_result::no_user:
      return mgr::status::no_such_user;
    case add_result::busy:
      return mgr::status::busy;
    case add_result::forbidden:
      return mgr::status::forbidden;
  }
  return mgr::status::server_error;
}

bool is_user_command(uint8_t cmd) {
  switch (static_cast<mgr::cmd>(cmd)) {
    case mgr::cmd::add_user:
    case mgr::cmd::del_user:
    case mgr::cmd::passwd:
      return true;
    case mgr::cmd::list_users:
    case mgr::cmd::metrics:
    case mgr::cmd::max_clients:
    case mgr::cmd::reload:
    case mgr::cmd::user_stats:
    case mgr::cmd::cluster_metrics:
    case mgr::cmd::cluster_setting:
      return false;
  }
  return false;
}

void request_user_change(caf::stateful_actor<manager_state>* self,
                         const mgr::request& req,
                         std::function<void(std::vector<uint8_t>)> finish) {
  auto& s = self->state;
  auto cmd = req.cmd;
  auto done = [=](add_result r) {
    if (cmd != static_cast<uint8_t>(mgr::cmd::add_user))
      log::info("Manager: " + std::string{to_string(r)} + " for "
                + (cmd == static_cast<uint8_t>(mgr::cmd::del_user) ? "delete"
                                                                    : "password")
                + " of user '" + req.user.user + "' by '" + self->state.user
                + "'");
    finish(mgr::encode_status_reply(cmd, manager_state::status_for(r)));
  };
  auto failed = [=](const caf::error&) {
    finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
  };
  switch (static_cast<mgr::cmd>(cmd)) {
    case mgr::cmd::add_user:
      self->request(s.deps.registry, change_timeout, add_atom_v, req.user.user,
                    req.user.password, uint8_t{config::role_socks})
        .await(done, failed);
      return;
    case mgr::cmd::del_user:
      self->request(s.deps.registry, change_timeout, del_atom_v, req.user.user)
        .await(done, failed);
      return;
    case mgr::cmd::passwd:
      self->request(s.deps.registry, change_timeout, passwd_atom_v,
                    req.user.user, req.user.password)
        .await(done, failed);
      return;
    case mgr::cmd::list_users:
    case mgr::cmd::metrics:
    case mgr::cmd::max_clients:
    case mgr::cmd::reload:
    case mgr::cmd::user_stats:
    case mgr::cmd::cluster_metrics:
    case mgr::cmd::cluster_setting:
      failed(caf::error{});
      return;
  }
}

void request_user_stats(caf::stateful_actor<manager_state>* self,
                        const std::string& name,
                        std::function<void(std::vector<uint8_t>)> finish) {
  auto cmd = static_cast<uint8_t>(mgr::cmd::user_stats);
  self->request(self->state.deps.registry, change_timeout, stats_atom_v, name)
    .await(
      [=](const std::vector<user_stats>& all) {
        if (!name.empty() && all.empty()) {
          finish(mgr::encode_status_reply(cmd, mgr::status::no_such_user));
          return;
        }
        finish(mgr::encode_user_stats_reply(all));
      },
      [=](const caf::error&) {
        finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
      });
}

} // namespace px
