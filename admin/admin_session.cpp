#include "admin/admin_session.hpp"

#include <map>

#include <caf/all.hpp>

#include "admin/manager_cluster.hpp"
#include "admin/manager_reload.hpp"
#include "admin/manager_users.hpp"
#include "net/log.hpp"

namespace px {

namespace {

using namespace std::chrono;

constexpr auto admin_timeout = seconds{5};

class admin_events : public net::sctp_events {
public:
  admin_events(std::string name,
               std::function<caf::actor(net::assoc_id, net::ip_endpoint)> f)
    : name_(std::move(name)), spawn_(std::move(f)) {
    // nop
  }

  void on_assoc_up(net::assoc_id id, net::ip_endpoint peer) override {
    log::debug(name_ + " association from " + peer.to_string());
    sessions_[id] = spawn_(id, peer);
  }

  void on_message(net::assoc_id id, std::vector<uint8_t> msg,
                  bool oversized) override {
    if (auto i = sessions_.find(id); i != sessions_.end())
      caf::anon_send(i->second, admin_msg{std::move(msg), oversized});
  }

  void on_assoc_down(net::assoc_id id) override {
    if (auto i = sessions_.find(id); i != sessions_.end()) {
      caf::anon_send(i->second, down_atom_v);
      sessions_.erase(i);
    }
  }

private:
  std::string name_;
  std::function<caf::actor(net::assoc_id, net::ip_endpoint)> spawn_;
  // Touched only by the transport's I/O thread.
  std::map<net::assoc_id, caf::actor> sessions_;
};

// -- logins, both protocols ----------------------------------------------------

/// "1.4 s": how long a lock still lasts, for the log.
std::string seconds_text(caf::timespan t) {
  auto tenths = duration_cast<milliseconds>(t).count() / 100 + 1;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

/// Runs `check` unless the login guard says the peer's address is locked;
/// else `refuse` gets how long it stays locked. `fail` when the guard does
/// not answer.
template <class Self, class Check, class Refuse, class Fail>
void unless_locked(Self self, Check check, Refuse refuse, Fail fail) {
  auto& s = self->state;
  self->request(s.deps.guard, admin_timeout, auth_atom_v, s.peer)
    .await(
      [=](caf::timespan left) {
        if (left.count() > 0)
          refuse(left);
        else
          check();
      },
      [=](const caf::error&) { fail(); });
}

/// Tells the login guard how a credential check from the peer went.
template <class Self>
void report_login(Self self, bool ok) {
  self->send(self->state.deps.guard, auth_atom_v, self->state.peer, ok);
}

/// Closes an association that has not logged in by the deadline.
template <class Self>
void login_deadline_passed(Self self, const char* proto) {
  auto& s = self->state;
  log::info(std::string{proto} + " association from " + s.peer.to_string()
            + " did not log in within "
            + std::to_string(admin_login_deadline.count()) + " s: closed");
  s.deps.tx->close(s.id);
}

// -- SPCP ---------------------------------------------------------------------

using spcp_ptr = caf::stateful_actor<spcp_state>*;

void reply(spcp_ptr self, spcp::status st, std::string_view data = {}) {
  auto& s = self->state;
  s.deps.tx->send(s.id, admin::encode_spcp_response(st, data));
}

/// A failed USER or PASS; `report`: it tested credentials (the login guard
/// counts it against the address).
void login_failed(spcp_ptr self, const std::string& what, bool report) {
  auto& s = self->state;
  ++s.failures;
  self->send(s.deps.metrics, metric_event{metric::admin_auth_failure, 0});
  if (report)
    report_login(self, false);
  log::info("SPCP login failed (" + what + ") for user '" + s.user + "' from "
            + s.peer.to_string() + ", attempt " + std::to_string(s.failures));
  s.ph = spcp_phase::expect_user;
  reply(self, spcp::status::auth_error);
  if (s.failures >= max_admin_login_failures) {
    s.ph = spcp_phase::closing;
    s.deps.tx->close(s.id);
  }
}

/// Runs `check` unless the peer's address is locked (a failed login).
template <class Check>
void spcp_unless_locked(spcp_ptr self, Check check) {
  unless_locked(
    self, check,
    [=](caf::timespan left) {
      login_failed(self, "address locked for " + seconds_text(left) + " more",
                   false);
    },
    [=] { reply(self, spcp::status::general_error); });
}

/// Asks the registry `xs...`; `accepted` runs on true, false is a failed
/// login for reason `why`.
template <class Accepted, class... Ts>
void check_credentials(spcp_ptr self, const char* why, Accepted accepted,
                       Ts... xs) {
  self->request(self->state.deps.registry, admin_timeout, xs...)
    .await(
      [=](bool ok) {
        if (ok)
          accepted();
        else
          login_failed(self, why, true);
      },
      [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

void check_user(spcp_ptr self) {
  auto& s = self->state;
  check_credentials(
    self, "unknown user",
    [=] {
      self->state.ph = spcp_phase::expect_pass;
      reply(self, spcp::status::ok);
    },
    exists_atom_v, s.user, uint8_t{config::role_admin});
}

void check_password(spcp_ptr self, const std::string& password) {
  auto& s = self->state;
  check_credentials(
    self, "wrong password",
    [=] {
      report_login(self, true);
      self->state.ph = spcp_phase::transaction;
      self->state.failures = 0;
      log::info("SPCP login of '" + self->state.user + "' from "
                + self->state.peer.to_string());
      reply(self, spcp::status::ok);
    },
    auth_atom_v, s.user, password, uint8_t{config::role_admin});
}

void handle_auth(spcp_ptr self, const admin::spcp_request& req) {
  auto& s = self->state;
  auto c = static_cast<spcp::cmd>(req.cmd);
  if (c != spcp::cmd::user && c != spcp::cmd::pass) {
    reply(self, spcp::status::auth_error); // not logged in
    return;
  }
  if (req.args.size() != 1 || req.args[0].empty()) {
    reply(self, spcp::status::invalid_args);
    return;
  }
  if (c == spcp::cmd::user) {
    s.user = req.args[0];
    spcp_unless_locked(self, [=] { check_user(self); });
    return;
  }
  if (s.ph != spcp_phase::expect_pass) {
    login_failed(self, "PASS without USER", false);
    return;
  }
  auto password = req.args[0];
  spcp_unless_locked(self, [=] { check_password(self, password); });
}

/// True when `req` has no arguments; else replies that it may not have any.
bool no_args(spcp_ptr self, const admin::spcp_request& req) {
  if (!req.args.empty())
    reply(self, spcp::status::invalid_args);
  return req.args.empty();
}

/// CONCURRENT, BYTES, HISTORICAL: one number from the metrics actor.
void reply_metric(spcp_ptr self, spcp::cmd c) {
  self->request(self->state.deps.metrics, admin_timeout, get_atom_v)
    .await(
      [=](const metrics_snapshot& m) {
        auto n = c == spcp::cmd::concurrent ? m.active
                 : c == spcp::cmd::bytes    ? m.bytes_up + m.bytes_down
                                            : m.accepted;
        reply(self, spcp::status::ok, std::to_string(n));
      },
      [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

/// GET TRANSFORM: the active transformation, from the settings actor.
void reply_transform(spcp_ptr self) {
  self->request(self->state.deps.settings, admin_timeout, get_atom_v)
    .await(
      [=](const session_settings& x) { reply(self, spcp::status::ok, x.transform); },
      [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

/// SET BUFFER, SET TRANSFORM: asks the settings actor `xs...`. A value out
/// of bounds is INVALID ARGUMENTS; a change the config forbids
/// (`transform_command = off`) is INVALID COMMAND: this server does not run
/// transformations.
template <class... Ts>
void change_setting(spcp_ptr self, Ts... xs) {
  self->request(self->state.deps.settings, admin_timeout, xs...)
    .await(
      [=](setting_change res) {
        if (res == setting_change::disabled)
          reply(self, spcp::status::invalid_command, "transformations are off");
        else
          reply(self, res == setting_change::applied ? spcp::status::ok
                                                     : spcp::status::invalid_args);
      },
      [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

/// QUIT: the last reply, then the association closes.
void handle_quit(spcp_ptr self) {
  auto& s = self->state;
  reply(self, spcp::status::ok);
  s.ph = spcp_phase::closing;
  s.deps.tx->close(s.id);
}

/// A request after the login: checks its arguments, then one step per command.
void handle_transaction(spcp_ptr self, const admin::spcp_request& req) {
  auto& args = req.args;
  switch (auto c = static_cast<spcp::cmd>(req.cmd)) {
    case spcp::cmd::concurrent:
    case spcp::cmd::bytes:
    case spcp::cmd::historical:
      if (no_args(self, req))
        reply_metric(self, c);
      return;
    case spcp::cmd::get_transform:
      if (no_args(self, req))
        reply_transform(self);
      return;
    case spcp::cmd::set_buffer:
      if (auto n = args.size() == 1 ? spcp_state::parse_decimal(args[0]) : std::nullopt)
        change_setting(self, buffer_atom_v, *n);
      else
        reply(self, spcp::status::invalid_args);
      return;
    case spcp::cmd::set_transform:
      if (args.size() <= 1)
        change_setting(self, transform_atom_v, args.empty() ? std::string{} : args[0]);
      else
        reply(self, spcp::status::invalid_args);
      return;
    case spcp::cmd::quit:
      if (no_args(self, req))
        handle_quit(self);
      return;
    case spcp::cmd::user:
    case spcp::cmd::pass:
      break; // already logged in: not valid in this state
  }
  reply(self, spcp::status::invalid_command);
}

// -- Manager ------------------------------------------------------------------

using manager_ptr = caf::stateful_actor<manager_state>*;
namespace mgr = admin::manager;

/// Sends the last message of the association and closes it.
void finish(manager_ptr self, std::vector<uint8_t> msg) {
  auto& s = self->state;
  s.ph = manager_phase::done;
  s.deps.tx->send(s.id, std::move(msg));
  s.deps.tx->close(s.id);
}

/// A failed Manager login: the reply, and the association ends.
void manager_login_failed(manager_ptr self, const std::string& what) {
  auto& s = self->state;
  self->send(s.deps.metrics, metric_event{metric::admin_auth_failure, 0});
  log::info("Manager login failed (" + what + ") for user '" + s.user
            + "' from " + s.peer.to_string());
  finish(self, mgr::encode_login_reply(mgr::status::auth_failed));
}

void manager_check(manager_ptr self, const std::string& password) {
  auto& s = self->state;
  self->request(s.deps.registry, admin_timeout, auth_atom_v, s.user, password,
                uint8_t{config::role_admin})
    .await(
      [=](bool ok) {
        report_login(self, ok);
        if (!ok) {
          manager_login_failed(self, "wrong credentials");
          return;
        }
        self->state.ph = manager_phase::request;
        self->state.deps.tx->send(self->state.id,
                                  mgr::encode_login_reply(mgr::status::ok));
      },
      [=](const caf::error&) {
        finish(self, mgr::encode_login_reply(mgr::status::server_error));
      });
}

void manager_login(manager_ptr self, const std::vector<uint8_t>& msg) {
  auto creds = mgr::parse_login(msg.data(), msg.size());
  if (!creds) {
    finish(self, mgr::encode_login_reply(mgr::status::malformed));
    return;
  }
  self->state.user = creds->user;
  auto password = creds->password;
  unless_locked(
    self, [=] { manager_check(self, password); },
    [=](caf::timespan left) {
      manager_login_failed(self, "address locked for " + seconds_text(left)
                                   + " more");
    },
    [=] { finish(self, mgr::encode_login_reply(mgr::status::server_error)); });
}

/// The seed protocol's own commands: list users, metrics, max clients.
void request_seed(manager_ptr self, const mgr::request& req) {
  auto& s = self->state;
  auto cmd = req.cmd;
  auto server_error = [=](const caf::error&) {
    finish(self, mgr::encode_status_reply(cmd, mgr::status::server_error));
  };
  switch (static_cast<mgr::cmd>(cmd)) {
    case mgr::cmd::list_users:
      self->request(s.deps.registry, admin_timeout, list_atom_v)
        .await(
          [=](const std::vector<std::string>& names) {
            finish(self, mgr::encode_list_reply(names));
          },
          server_error);
      return;
    case mgr::cmd::metrics:
      self->request(s.deps.metrics, admin_timeout, get_atom_v)
        .await(
          [=](const metrics_snapshot& m) {
            finish(self, mgr::encode_metrics_reply(m.accepted, m.active,
                                                   m.bytes_up + m.bytes_down));
          },
          server_error);
      return;
    case mgr::cmd::max_clients:
      self->request(s.deps.settings, admin_timeout, maxcli_atom_v,
                    uint64_t{req.max_clients})
        .await(
          [=](bool ok) {
            finish(self, mgr::encode_status_reply(
                           cmd, ok ? mgr::status::ok : mgr::status::invalid_value));
          },
          server_error);
      return;
    default:
      return;
  }
}

void manager_request(manager_ptr self, const std::vector<uint8_t>& msg) {
  auto& s = self->state;
  uint8_t cmd = msg.size() >= 2 ? msg[1] : 0;
  mgr::request_error err;
  auto req = mgr::parse_request(msg.data(), msg.size(), err);
  if (!req) {
    finish(self, mgr::encode_status_reply(
                   cmd, err == mgr::request_error::unknown_command
                          ? mgr::status::unknown_command
                          : mgr::status::malformed));
    return;
  }
  auto done = [=](std::vector<uint8_t> m) { finish(self, std::move(m)); };
  if (is_user_command(req->cmd)) {
    request_user_change(self, *req, done);
    return;
  }
  switch (static_cast<mgr::cmd>(req->cmd)) {
    case mgr::cmd::add_user:
    case mgr::cmd::del_user:
    case mgr::cmd::passwd:
      return; // above
    case mgr::cmd::reload:
      request_reload(self, done);
      return;
    case mgr::cmd::user_stats:
      request_user_stats(self, req->user.user, done);
      return;
    case mgr::cmd::cluster_metrics:
      request_cluster_metrics(self, done);
      return;
    case mgr::cmd::cluster_setting:
      log::info("Manager: cluster-wide setting " + std::to_string(req->setting)
                + " asked for by '" + s.user + "'");
      request_cluster_setting(self, req->setting, req->value, done);
      return;
    case mgr::cmd::list_users:
    case mgr::cmd::metrics:
    case mgr::cmd::max_clients:
      request_seed(self, *req);
      return;
  }
}

} // namespace

caf::behavior manager_session(caf::stateful_actor<manager_state>* self,
                              net::assoc_id id, net::ip_endpoint peer,
                              admin_deps deps) {
  self->state.id = id;
  self->state.peer = peer;
  self->state.deps = deps;
  self->delayed_send(self, admin_login_deadline, caf::timeout_atom_v);
  return {
    [=](admin_msg& msg) {
      auto& s = self->state;
      switch (s.ph) {
        case manager_phase::login:
          if (msg.oversized)
            finish(self, mgr::encode_login_reply(mgr::status::malformed));
          else
            manager_login(self, msg.bytes);
          return;
        case manager_phase::request:
          if (msg.oversized)
            finish(self, mgr::encode_status_reply(0, mgr::status::malformed));
          else
            manager_request(self, msg.bytes);
          return;
        case manager_phase::done:
          return; // one request per association
      }
    },
    [=](caf::timeout_atom) {
      if (self->state.ph != manager_phase::login)
        return;
      self->state.ph = manager_phase::done;
      login_deadline_passed(self, "Manager");
    },
    [=](down_atom) { self->quit(); },
  };
}

std::optional<uint64_t> spcp_state::parse_decimal(const std::string& text) {
  return net::parse_decimal(text);
}

caf::behavior spcp_session(caf::stateful_actor<spcp_state>* self,
                           net::assoc_id id, net::ip_endpoint peer,
                           admin_deps deps) {
  self->state.id = id;
  self->state.peer = peer;
  self->state.deps = deps;
  self->delayed_send(self, admin_login_deadline, caf::timeout_atom_v);
  return {
    [=](admin_msg& msg) {
      auto& s = self->state;
      if (s.ph == spcp_phase::closing)
        return;
      if (msg.oversized) {
        reply(self, spcp::status::invalid_args);
        return;
      }
      admin::spcp_error err;
      auto req = admin::parse_spcp_request(msg.bytes.data(), msg.bytes.size(), err);
      if (!req) {
        reply(self, err == admin::spcp_error::no_header
                      ? spcp::status::invalid_command
                      : spcp::status::invalid_args);
        return;
      }
      if (s.ph == spcp_phase::transaction)
        handle_transaction(self, *req);
      else
        handle_auth(self, *req);
    },
    [=](caf::timeout_atom) {
      auto& s = self->state;
      if (s.ph == spcp_phase::transaction || s.ph == spcp_phase::closing)
        return;
      s.ph = spcp_phase::closing;
      login_deadline_passed(self, "SPCP");
    },
    [=](down_atom) { self->quit(); },
  };
}

std::shared_ptr<net::sctp_events> make_admin_events(
  std::string name, std::function<caf::actor(net::assoc_id, net::ip_endpoint)> spawn) {
  return std::make_shared<admin_events>(std::move(name), std::move(spawn));
}

} // namespace px
