#include "admin/admin_session.hpp"

#include <map>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace {

using namespace std::chrono;

constexpr auto admin_timeout = seconds{5};

class admin_events : public net::sctp_events {
public:
  explicit admin_events(std::function<caf::actor(net::assoc_id, net::ip_endpoint)> f)
    : spawn_(std::move(f)) {
    // nop
  }

  void on_assoc_up(net::assoc_id id, net::ip_endpoint peer) override {
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
  std::function<caf::actor(net::assoc_id, net::ip_endpoint)> spawn_;
  // Touched only by the transport's I/O thread.
  std::map<net::assoc_id, caf::actor> sessions_;
};

using spcp_ptr = caf::stateful_actor<spcp_state>*;

void reply(spcp_ptr self, spcp::status st, std::string_view data = {}) {
  auto& s = self->state;
  s.deps.tx->send(s.id, admin::encode_spcp_response(st, data));
}

void login_failed(spcp_ptr self, const char* what) {
  auto& s = self->state;
  ++s.failures;
  self->send(s.deps.metrics, metric_event{metric::admin_auth_failure, 0});
  log::info(std::string{"SPCP login failed ("} + what + ") for user '" + s.user
            + "' from " + s.peer.to_string() + ", attempt "
            + std::to_string(s.failures));
  s.ph = spcp_phase::expect_user;
  reply(self, spcp::status::auth_error);
  if (s.failures >= max_admin_login_failures) {
    s.ph = spcp_phase::closing;
    s.deps.tx->close(s.id);
  }
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
    self->request(s.deps.registry, admin_timeout, exists_atom_v, s.user,
                  uint8_t{config::role_admin})
      .await(
        [=](bool known) {
          if (!known) {
            login_failed(self, "unknown user");
            return;
          }
          self->state.ph = spcp_phase::expect_pass;
          reply(self, spcp::status::ok);
        },
        [=](const caf::error&) { reply(self, spcp::status::general_error); });
    return;
  }
  if (s.ph != spcp_phase::expect_pass) {
    login_failed(self, "PASS without USER");
    return;
  }
  self->request(s.deps.registry, admin_timeout, auth_atom_v, s.user,
                req.args[0], uint8_t{config::role_admin})
    .await(
      [=](bool ok) {
        if (!ok) {
          login_failed(self, "wrong password");
          return;
        }
        self->state.ph = spcp_phase::transaction;
        self->state.failures = 0;
        log::info("SPCP login of '" + self->state.user + "' from "
                  + self->state.peer.to_string());
        reply(self, spcp::status::ok);
      },
      [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

void with_metrics(spcp_ptr self,
                  std::function<uint64_t(const metrics_snapshot&)> pick) {
  self->request(self->state.deps.metrics, admin_timeout, get_atom_v)
    .await([=](const metrics_snapshot& m) {
             reply(self, spcp::status::ok, std::to_string(pick(m)));
           },
           [=](const caf::error&) { reply(self, spcp::status::general_error); });
}

void on_setter_result(spcp_ptr self, caf::expected<bool> ok) {
  if (!ok)
    reply(self, spcp::status::general_error);
  else
    reply(self, *ok ? spcp::status::ok : spcp::status::invalid_args);
}

void handle_transaction(spcp_ptr self, const admin::spcp_request& req) {
  auto& s = self->state;
  auto no_args = [&] {
    if (req.args.empty())
      return true;
    reply(self, spcp::status::invalid_args);
    return false;
  };
  switch (static_cast<spcp::cmd>(req.cmd)) {
    case spcp::cmd::concurrent:
      if (no_args())
        with_metrics(self, [](const metrics_snapshot& m) { return m.active; });
      return;
    case spcp::cmd::bytes:
      if (no_args())
        with_metrics(self, [](const metrics_snapshot& m) {
          return m.bytes_up + m.bytes_down;
        });
      return;
    case spcp::cmd::historical:
      if (no_args())
        with_metrics(self, [](const metrics_snapshot& m) { return m.accepted; });
      return;
    case spcp::cmd::get_transform:
      if (no_args())
        self->request(s.deps.settings, admin_timeout, get_atom_v)
          .await([=](const session_settings& x) {
                   reply(self, spcp::status::ok, x.transform);
                 },
                 [=](const caf::error&) { reply(self, spcp::status::general_error); });
      return;
    case spcp::cmd::set_buffer: {
      std::optional<uint64_t> size;
      if (req.args.size() == 1)
        size = spcp_state::parse_decimal(req.args[0]);
      if (!size) {
        reply(self, spcp::status::invalid_args);
        return;
      }
      self->request(s.deps.settings, admin_timeout, buffer_atom_v, *size)
        .await([=](bool ok) { on_setter_result(self, ok); },
               [=](caf::error& e) { on_setter_result(self, std::move(e)); });
      return;
    }
    case spcp::cmd::set_transform: {
      if (req.args.size() > 1) {
        reply(self, spcp::status::invalid_args);
        return;
      }
      auto cmd = req.args.empty() ? std::string{} : req.args[0];
      self->request(s.deps.settings, admin_timeout, transform_atom_v, cmd)
        .await([=](bool ok) { on_setter_result(self, ok); },
               [=](caf::error& e) { on_setter_result(self, std::move(e)); });
      return;
    }
    case spcp::cmd::quit:
      if (!no_args())
        return;
      reply(self, spcp::status::ok);
      s.ph = spcp_phase::closing;
      s.deps.tx->close(s.id);
      return;
    case spcp::cmd::user:
    case spcp::cmd::pass:
      break; // already logged in: not valid in this state
  }
  reply(self, spcp::status::invalid_command);
}

} // namespace

std::optional<uint64_t> spcp_state::parse_decimal(const std::string& text) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

caf::behavior spcp_session(caf::stateful_actor<spcp_state>* self,
                           net::assoc_id id, net::ip_endpoint peer,
                           admin_deps deps) {
  self->state.id = id;
  self->state.peer = peer;
  self->state.deps = deps;
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
    [=](down_atom) { self->quit(); },
  };
}

std::shared_ptr<net::sctp_events> make_admin_events(
  std::function<caf::actor(net::assoc_id, net::ip_endpoint)> spawn) {
  return std::make_shared<admin_events>(std::move(spawn));
}

} // namespace px
