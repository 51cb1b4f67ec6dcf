#include "actors/session.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace {

using namespace std::chrono;

/// Sends reactor events for one connection to its session actor. Runs on
/// the connection's loop thread only.
class session_handler : public net::conn_handler {
public:
  session_handler(caf::actor dst, std::weak_ptr<const verified_logins> logins)
    : dst_(std::move(dst)), logins_(std::move(logins)) {
    // nop
  }

  bool on_credentials(net::conn_id, socks5::credentials creds) override {
    // A returning user: checked against the registry's published value
    // (keyed SHA-256, microseconds). The weak reference expires when a
    // reload publishes a new value, so a removed user cannot slip through.
    if (auto logins = logins_.lock();
        logins && logins->check(creds.user, creds.password, config::role_socks)) {
      user_ = std::move(creds.user);
      return true;
    }
    caf::anon_send(dst_, conn_credentials{std::move(creds)});
    return false;
  }

  void on_request(net::conn_id, socks5::request req) override {
    caf::anon_send(dst_, conn_request{std::move(req)});
  }

  void on_handshake_failed(net::conn_id, net::handshake_stage stage,
                           socks5::codec_error err) override {
    caf::anon_send(dst_, conn_handshake_failed{stage, err});
  }

  void on_connected(net::conn_id, net::ip_endpoint local,
                    net::ip_endpoint remote) override {
    caf::anon_send(dst_, conn_connected{local, remote});
  }

  void on_bound(net::conn_id, net::ip_endpoint local) override {
    caf::anon_send(dst_, conn_bound{local});
  }

  void on_connect_failed(net::conn_id, net::connect_error err) override {
    caf::anon_send(dst_, conn_failed{err});
  }

  void on_closed(net::conn_id, net::close_stats stats) override {
    caf::anon_send(dst_, conn_closed{std::move(stats), std::move(user_)});
  }

private:
  caf::actor dst_;
  std::weak_ptr<const verified_logins> logins_;
  /// The login granted here (reported with the close).
  std::string user_;
};

using session_ptr = caf::stateful_actor<session_state>*;

void count(session_ptr self, metric kind, uint8_t arg = 0) {
  self->send(self->state.deps.metrics, metric_event{kind, arg});
}

/// Sends a reply that ends the session and closes after it is written.
void fail_with(session_ptr self, std::vector<uint8_t> bytes,
               std::string result) {
  auto& st = self->state;
  st.ph = phase::closing;
  st.result = std::move(result);
  st.deps.io->send(st.id, std::move(bytes), net::after::close);
}

void fail_request(session_ptr self, socks5::reply rep, std::string result) {
  count(self, metric::reply, static_cast<uint8_t>(rep));
  fail_with(self, socks5::encode_reply(rep, socks5::address{}),
            std::move(result));
}

void on_auth_result(session_ptr self, bool ok, const std::string& user) {
  auto& st = self->state;
  if (st.ph != phase::authenticating)
    return;
  if (!ok) {
    count(self, metric::auth_failure);
    log::info("auth failed for user '" + user + "' from "
              + st.peer.to_string());
    st.ph = phase::closing;
    st.result = "auth-failed";
    st.deps.io->authenticated(st.id, false);
    return;
  }
  st.user = user;
  st.ph = phase::handshake;
  st.deps.io->authenticated(st.id, true);
}

void on_handshake_failed(session_ptr self, const conn_handshake_failed& msg) {
  using stage = net::handshake_stage;
  auto err = std::string{to_string(msg.error)};
  switch (msg.stage) {
    case stage::greeting:
      count(self, metric::protocol_error);
      if (msg.error == socks5::codec_error::no_methods)
        fail_with(self,
                  socks5::encode_method_choice(socks5::method::none_acceptable),
                  "no-acceptable-method");
      else
        fail_with(self, {}, "bad-greeting:" + err);
      return;
    case stage::method:
      fail_with(self,
                socks5::encode_method_choice(socks5::method::none_acceptable),
                "no-acceptable-method");
      return;
    case stage::credentials:
      count(self, metric::protocol_error);
      fail_with(self, socks5::encode_auth_status(false), "bad-auth:" + err);
      return;
    case stage::request:
      count(self, metric::protocol_error);
      fail_request(self, session_state::reply_for(msg.error),
                   "bad-request:" + err);
      return;
  }
}

void on_request(session_ptr self, socks5::request& req) {
  auto& st = self->state;
  st.cmd = req.cmd;
  st.destination = req.dst.to_string();
  st.ph = phase::connecting;
  if (req.cmd == socks5::command::bind) {
    st.destination = "bind:" + st.destination;
    net::bind_request breq;
    breq.peer = req.dst;
    breq.timeout = milliseconds{st.settings->bind_timeout_ms};
    st.deps.io->bind(st.id, std::move(breq));
    return;
  }
  // UDP ASSOCIATE (a CONNECT never reaches the session: the plan runs it).
  st.destination = "udp:" + st.destination;
  net::udp_request ureq;
  if (req.dst.type != socks5::atyp::domain)
    ureq.client_hint = req.dst.ip;
  ureq.deny = st.settings->deny_destinations;
  ureq.dns_timeout = milliseconds{st.settings->connect_timeout_ms};
  st.deps.io->udp_associate(st.id, std::move(ureq));
}

net::relay_options relay_for(const session_settings& s) {
  net::relay_options opts;
  opts.buffer_size = s.buffer_size;
  opts.idle_timeout = milliseconds{s.idle_timeout_ms};
  opts.splice = s.splice;
  opts.transform = s.transform;
  return opts;
}

/// The access-log record of a session that ends with `stats`.
access_record make_record(session_ptr self, const net::close_stats& stats) {
  auto& st = self->state;
  access_record rec;
  rec.start_unix_ms = st.started_unix_ms;
  // The reactor reports closes in batches: the duration ends at the close.
  auto end = stats.closed_at.time_since_epoch().count() != 0 ? stats.closed_at
                                                              : self->clock().now();
  rec.duration_ms = std::max<int64_t>(
    0, duration_cast<milliseconds>(end - st.started).count());
  rec.client = st.peer.to_string();
  rec.user = st.user;
  rec.destination = st.destination;
  if (rec.destination == "-" && stats.has_target) {
    // A CONNECT the reactor ran under the plan.
    rec.destination = stats.target.to_string();
    if (stats.relayed
        && rec.destination.find(stats.remote.host_string()) == std::string::npos)
      rec.destination += " (" + stats.remote.to_string() + ")";
  }
  if (stats.relayed) {
    rec.result = "ok";
    if (stats.reason != net::close_reason::done)
      rec.result += std::string{"/"} + net::to_string(stats.reason);
  } else if (!st.result.empty()) {
    rec.result = st.result;
  } else if (stats.reason == net::close_reason::handshake_timeout
             || stats.reason == net::close_reason::transform_failed) {
    rec.result = net::to_string(stats.reason);
  } else {
    rec.result = std::string{"closed-in-"}
                 + (stats.has_target && st.ph == phase::handshake
                      ? "connecting"
                      : to_string(st.ph));
  }
  rec.bytes_up = stats.bytes_up;
  rec.bytes_down = stats.bytes_down;
  return rec;
}

} // namespace

const char* to_string(phase x) {
  switch (x) {
    case phase::handshake:
      return "handshake";
    case phase::authenticating:
      return "authenticating";
    case phase::connecting:
      return "connecting";
    case phase::relaying:
      return "relaying";
    case phase::closing:
      return "closing";
  }
  return "unknown";
}

net::handshake_plan session_state::plan_for(const session_settings& s) {
  net::handshake_plan plan;
  plan.userpass = s.auth != config::auth_mode::none;
  plan.no_auth = s.auth != config::auth_mode::userpass;
  plan.deadline = milliseconds{s.handshake_timeout_ms};
  plan.connect_timeout = milliseconds{s.connect_timeout_ms};
  plan.deny = s.deny_destinations;
  plan.relay = relay_for(s);
  return plan;
}

socks5::reply session_state::reply_for(net::connect_error err) {
  switch (err) {
    case net::connect_error::none:
      return socks5::reply::succeeded;
    case net::connect_error::refused:
      return socks5::reply::connection_refused;
    case net::connect_error::network_unreachable:
      return socks5::reply::network_unreachable;
    case net::connect_error::host_unreachable:
    case net::connect_error::name_not_found:
      return socks5::reply::host_unreachable;
    case net::connect_error::timeout:
      return socks5::reply::ttl_expired;
    case net::connect_error::denied:
      return socks5::reply::not_allowed;
    case net::connect_error::resolver_failure:
    case net::connect_error::other:
      return socks5::reply::general_failure;
  }
  return socks5::reply::general_failure;
}

socks5::reply session_state::reply_for(socks5::codec_error err) {
  switch (err) {
    case socks5::codec_error::bad_command:
      return socks5::reply::command_not_supported;
    case socks5::codec_error::bad_address_type:
      return socks5::reply::address_type_not_supported;
    case socks5::codec_error::none:
    case socks5::codec_error::bad_version:
    case socks5::codec_error::no_methods:
    case socks5::codec_error::empty_credentials:
    case socks5::codec_error::bad_reserved:
    case socks5::codec_error::bad_domain:
      return socks5::reply::general_failure;
  }
  return socks5::reply::general_failure;
}

caf::behavior session(caf::stateful_actor<session_state>* self,
                      session_args args) {
  auto& st = self->state;
  st.id = args.id;
  st.peer = args.peer;
  st.settings = std::move(args.settings);
  st.deps = args.deps;
  st.started = args.started;
  st.started_unix_ms = args.started_unix_ms;
  auto metrics = st.deps.metrics;
  self->set_default_handler(
    [metrics](caf::scheduled_actor* ptr, caf::message_view&) -> caf::result<caf::message> {
      caf::anon_send(metrics, metric_event{metric::unexpected_message, 0});
      (void) ptr;
      return caf::none;
    });
  return {
    [=](conn_credentials& msg) {
      auto& st = self->state;
      if (st.ph != phase::handshake)
        return;
      st.ph = phase::authenticating;
      auto user = msg.creds.user;
      // The handler found no verified login: the registry decides. No CAF
      // timeout: the reactor's handshake deadline bounds the wait.
      self
        ->request(st.deps.registry, caf::infinite, auth_atom_v,
                  std::move(msg.creds.user), std::move(msg.creds.password),
                  static_cast<uint8_t>(config::role_socks))
        .then([=](bool ok) { on_auth_result(self, ok, user); },
              [=](const caf::error&) { on_auth_result(self, false, user); });
    },
    [=](conn_request& msg) {
      if (self->state.ph == phase::handshake)
        on_request(self, msg.req);
    },
    [=](conn_handshake_failed& msg) {
      auto ph = self->state.ph;
      if (ph == phase::handshake || ph == phase::authenticating)
        on_handshake_failed(self, msg);
    },
    [=](conn_bound& msg) {
      auto& st = self->state;
      if (st.ph != phase::connecting || st.cmd != socks5::command::bind)
        return;
      // First BIND reply: where the peer must connect to.
      st.deps.io->send(st.id,
                       socks5::encode_reply(socks5::reply::succeeded,
                                            socks5::address::from(msg.local)),
                       net::after::hold);
    },
    [=](conn_connected& msg) {
      auto& st = self->state;
      if (st.ph != phase::connecting)
        return;
      st.ph = phase::relaying;
      if (st.cmd == socks5::command::bind)
        st.destination += " (peer " + msg.remote.to_string() + ")";
      // BIND (second reply): the peer that connected; UDP ASSOCIATE: the
      // relay's address.
      auto bound = st.cmd == socks5::command::bind ? msg.remote : msg.local;
      count(self, metric::reply, 0);
      st.deps.io->start_relay(
        st.id,
        socks5::encode_reply(socks5::reply::succeeded,
                             socks5::address::from(bound)),
        {}, relay_for(*st.settings));
    },
    [=](conn_failed& msg) {
      auto ph = self->state.ph;
      if (ph == phase::handshake || ph == phase::connecting)
        fail_request(self, session_state::reply_for(msg.error),
                     std::string{"connect-"} + net::to_string(msg.error));
    },
    [=](conn_closed& msg) {
      auto& st = self->state;
      if (!msg.user.empty())
        st.user = std::move(msg.user);
      if (msg.stats.reason == net::close_reason::handshake_timeout)
        count(self, metric::handshake_timeout);
      if (st.deps.access_log)
        self->send(st.deps.access_log, make_record(self, msg.stats));
      self->quit();
    },
  };
}

// -- admission ----------------------------------------------------------------

std::shared_ptr<net::conn_handler>
start_session(caf::actor_system& sys, session_args args,
              std::weak_ptr<const verified_logins> logins) {
  // Lazy: the session first runs when the reactor reports something it
  // must decide (or the close), not once more right now. The handshake
  // deadline is the reactor's (handshake_plan::deadline): no timer of CAF's
  // clock.
  auto s = sys.spawn<caf::lazy_init>(session, std::move(args));
  return std::make_shared<session_handler>(std::move(s), std::move(logins));
}

bool admission_policy::client_allowed(const net::ip_endpoint& peer) const {
  if (settings->allow_clients.empty())
    return true;
  return std::any_of(settings->allow_clients.begin(),
                     settings->allow_clients.end(),
                     [&](const net::cidr& block) { return block.contains(peer); });
}

admission_desk::admission_desk(caf::actor_system& sys, session_deps deps)
  : sys_(sys), deps_(std::move(deps)) {
  // nop
}

void admission_desk::publish(std::shared_ptr<const admission_policy> p) {
  std::atomic_store(&policy_, std::move(p));
}

net::admission admission_desk::on_accepted(net::conn_id id,
                                           net::ip_endpoint peer) {
  net::admission out;
  out.what = net::admission::verdict::refuse;
  auto policy = std::atomic_load(&policy_);
  if (!policy) {
    log::error("admission before any policy was published: client refused");
    return out;
  }
  auto refuse = [&](metric reason) {
    if (policy->acceptor)
      caf::anon_send(policy->acceptor, client_refused{peer, reason});
    return out;
  };
  if (!policy->client_allowed(peer))
    return refuse(metric::rejected_client_rule);
  // Counted first, so that loops admitting at once never overshoot.
  auto n = admitted_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto closed = deps_.io->owned_closed();
  if (n > closed && n - closed > policy->settings->max_clients) {
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    return refuse(metric::rejected_max_clients);
  }
  session_args args;
  args.id = id;
  args.peer = peer;
  args.settings = policy->settings;
  args.deps = deps_;
  args.started = sys_.clock().now();
  args.started_unix_ms
    = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  out.what = net::admission::verdict::own;
  out.handler = start_session(sys_, std::move(args), policy->logins);
  out.plan = policy->plan;
  return out;
}

std::shared_ptr<const admission_policy>
admission_policy::make(const session_settings& settings,
                       std::shared_ptr<const verified_logins> logins,
                       acceptor_actor acceptor) {
  auto p = std::make_shared<admission_policy>();
  p->plan = std::make_shared<const net::handshake_plan>(
    session_state::plan_for(settings));
  p->settings = std::make_shared<const session_settings>(settings);
  p->logins = std::move(logins);
  p->acceptor = std::move(acceptor);
  return p;
}

acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, std::shared_ptr<admission_desk> desk) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.desk = std::move(desk);
  auto publish = [self] {
    auto& st = self->state;
    st.desk->publish(admission_policy::make(st.settings, st.logins, self));
  };
  publish();
  return {
    [=](client_refused& msg) {
      self->send(self->state.desk->deps().metrics, metric_event{msg.reason, 0});
      if (msg.reason == metric::rejected_client_rule)
        log::info("refused client " + msg.peer.to_string() + ": not in allow_client");
      else
        log::debug("refused client " + msg.peer.to_string() + ": max_clients reached");
    },
    [=](logins_update& msg) {
      self->state.logins = std::move(msg.logins);
      publish();
    },
    [=](session_settings& s) {
      self->state.settings = std::move(s);
      publish();
    },
  };
}

} // namespace px
