#include "actors/session.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace {

using namespace std::chrono;

using session_ptr = caf::stateful_actor<session_state>*;

/// Tells the metrics actor about one event.
void count(session_ptr self, metric kind, uint8_t arg = 0) {
  self->send(self->state.deps.metrics, metric_event{kind, arg});
}

/// Counts a reply with code `rep`.
void count_reply(session_ptr self, socks5::reply rep) {
  count(self, metric::reply, static_cast<uint8_t>(rep));
}

/// Sends a reply that ends the session and closes after it is written.
void fail_with(session_ptr self, std::vector<uint8_t> bytes,
               std::string result) {
  auto& st = self->state;
  st.ph = phase::closing;
  st.result = std::move(result);
  st.deps.io->send(st.id, std::move(bytes), net::after::close);
}

/// Answers the request with `rep` (no bound address) and closes.
void fail_request(session_ptr self, socks5::reply rep, std::string result) {
  count_reply(self, rep);
  fail_with(self, socks5::encode_reply(rep, socks5::address{}),
            std::move(result));
}

// -- handlers, one per reactor event --------------------------------------------

/// The registry's verdict on a login. A check refused for overload was not
/// done: the client gets the RFC 1929 failure status, but it is counted and
/// logged as overload, never as a wrong password.
/// A verified login the user's limits refused: the RFC 1929 failure
/// status (the client may not go on), counted and logged as the limit.
void refuse_for_limit(session_ptr self, login_check why, const std::string& user) {
  auto& st = self->state;
  count(self, why == login_check::sessions ? metric::user_limit_sessions
                                           : metric::user_limit_rate);
  log::info("login of user '" + user + "' from " + st.peer.to_string()
            + " refused: " + limit_result(why) + " limit reached");
  st.user = user;
  st.result = limit_result(why);
  st.ph = phase::closing;
  st.deps.io->authenticated(st.id, false);
}

void on_auth_result(session_ptr self, auth_verdict v, const std::string& user) {
  auto& st = self->state;
  if (st.ph != phase::authenticating)
    return;
  switch (v) {
    case auth_verdict::granted: {
      net::login_grant grant;
      auto got = grant_login(st.deps.accounts.get(), user, fresh_login, grant);
      if (got == login_check::sessions || got == login_check::rate) {
        refuse_for_limit(self, got, user);
        return;
      }
      if (got == login_check::stale) {
        // Deleted while the registry checked it.
        count(self, metric::auth_failure);
        st.result = "auth-failed";
        break;
      }
      st.user = user;
      st.ph = phase::handshake;
      st.deps.io->authenticated(st.id, true, std::move(grant));
      return;
    }
    case auth_verdict::denied:
      count(self, metric::auth_failure);
      log::info("auth failed for user '" + user + "' from "
                + st.peer.to_string());
      st.result = "auth-failed";
      break;
    case auth_verdict::overloaded:
      // The registry logs refusals in bulk (one line a second at most).
      count(self, metric::auth_overload);
      st.result = "auth-overload";
      break;
  }
  st.ph = phase::closing;
  st.deps.io->authenticated(st.id, false);
}

/// A login the handler could not grant: the registry decides.
void on_credentials(session_ptr self, conn_credentials& msg) {
  auto& st = self->state;
  if (st.ph != phase::handshake)
    return;
  st.ph = phase::authenticating;
  if (msg.limited != 0) {
    refuse_for_limit(self, static_cast<login_check>(msg.limited), msg.creds.user);
    return;
  }
  auto user = msg.creds.user;
  // No CAF timeout (a timer per login would cost the clock thread a
  // wake-up): the reactor's handshake deadline bounds the wait, and the
  // close cancels the check (on_closed).
  self
    ->request(st.deps.registry, caf::infinite,
              login_request{std::move(msg.creds.user),
                            std::move(msg.creds.password),
                            static_cast<uint8_t>(config::role_socks), st.peer,
                            st.id})
    .then([=](auth_verdict v) { on_auth_result(self, v, user); },
          [=](const caf::error&) {
            on_auth_result(self, auth_verdict::overloaded, user);
          });
}

/// Malformed input: the reply the stage calls for, then close.
void on_handshake_failed(session_ptr self, const conn_handshake_failed& msg) {
  using stage = net::handshake_stage;
  auto ph = self->state.ph;
  if (ph != phase::handshake && ph != phase::authenticating)
    return;
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

/// BIND or UDP ASSOCIATE: asks the reactor to set it up.
void on_request(session_ptr self, conn_request& msg) {
  auto& st = self->state;
  if (st.ph != phase::handshake)
    return;
  auto& req = msg.req;
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
  ureq.dns_timeout = milliseconds{st.settings->connect_timeout_ms};
  st.deps.io->udp_associate(st.id, std::move(ureq));
}

/// What a reply names for a socket bound at `bound`: `advertise` (the
/// address clients reach through NAT) with the socket's port, unless unset.
socks5::address advertised(const net::ip_endpoint& bound,
                           const net::ip_endpoint& advertise) {
  if (advertise.is_unspecified())
    return socks5::address::from(bound);
  auto out = advertise;
  out.port = bound.port;
  return socks5::address::from(out);
}

/// BIND's listener is up: the first reply.
void on_bound(session_ptr self, const conn_bound& msg) {
  auto& st = self->state;
  if (st.ph != phase::connecting || st.cmd != socks5::command::bind)
    return;
  // First BIND reply: where the peer must connect to.
  st.deps.io->send(st.id,
                   socks5::encode_reply(socks5::reply::succeeded,
                                        advertised(msg.local,
                                                   session_state::advertise_for(
                                                     *st.settings, st.listener, false))),
                   net::after::hold);
}

/// BIND's peer connected or UDP's relay is up: the success reply, relay.
void on_connected(session_ptr self, const conn_connected& msg) {
  auto& st = self->state;
  if (st.ph != phase::connecting)
    return;
  st.ph = phase::relaying;
  if (st.cmd == socks5::command::bind)
    st.destination += " (peer " + msg.remote.to_string() + ")";
  // BIND (second reply): the peer that connected; UDP ASSOCIATE: the
  // relay's address.
  auto bound = st.cmd == socks5::command::bind
                 ? socks5::address::from(msg.remote)
                 : advertised(msg.local,
                              session_state::advertise_for(*st.settings, st.listener, true));
  count_reply(self, socks5::reply::succeeded);
  st.deps.io->start_relay(st.id, socks5::encode_reply(socks5::reply::succeeded, bound),
                          {}, session_state::relay_for(*st.settings));
}

/// The upstream failed: the matching reply, then close.
void on_connect_failed(session_ptr self, const conn_failed& msg) {
  auto ph = self->state.ph;
  if (ph == phase::handshake || ph == phase::connecting)
    fail_request(self, session_state::reply_for(msg.error),
                 std::string{"connect-"} + net::to_string(msg.error));
}

/// The result column of a session that ends with `stats`.
std::string result_of(const session_state& st, const net::close_stats& stats) {
  if (stats.relayed) {
    if (stats.reason == net::close_reason::done)
      return "ok";
    return std::string{"ok/"} + net::to_string(stats.reason);
  }
  if (!st.result.empty())
    return st.result;
  if (stats.reason == net::close_reason::handshake_timeout
      || stats.reason == net::close_reason::transform_failed)
    return net::to_string(stats.reason);
  return std::string{"closed-in-"}
         + (stats.has_target && st.ph == phase::handshake ? "connecting"
                                                          : to_string(st.ph));
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
  // Through a parent proxy: its name, and its address unless it had none
  // (a parent by name that did not resolve).
  auto via = [&] {
    return " via " + stats.parent
           + (stats.remote.is_unspecified() ? "" : " (" + stats.remote.to_string() + ")");
  };
  if (rec.destination != "-" && !stats.parent.empty()) // a UDP association
    rec.destination += via();
  if (rec.destination == "-" && stats.has_target) {
    // A CONNECT the reactor ran under the plan.
    rec.destination = stats.target.to_string();
    if (!stats.parent.empty())
      rec.destination += via();
    else if (stats.relayed
        && rec.destination.find(stats.remote.host_string()) == std::string::npos)
      rec.destination += " (" + stats.remote.to_string() + ")";
  }
  rec.result = result_of(st, stats);
  rec.bytes_up = stats.bytes_up;
  rec.bytes_down = stats.bytes_down;
  return rec;
}

/// What the reactor measured of a connection whose request was parsed.
conn_durations durations_of(const net::close_stats& stats) {
  conn_durations d;
  d.handshake_ns = stats.handshake_time.count();
  d.connect = stats.connect;
  d.connect_ns = stats.connect_time.count();
  return d;
}

/// The connection is gone: a login check it waits for is dropped, the
/// access record goes out, then the session quits.
void on_closed(session_ptr self, conn_closed& msg) {
  auto& st = self->state;
  if (st.ph == phase::authenticating)
    self->send(st.deps.registry, cancel_atom_v, uint64_t{st.id});
  if (!msg.user.empty())
    st.user = std::move(msg.user);
  if (msg.stats.reason == net::close_reason::handshake_timeout)
    count(self, metric::handshake_timeout);
  if (msg.stats.has_target)
    self->send(st.deps.metrics, durations_of(msg.stats));
  // The record goes out before the session quits: once the session_census
  // sees the session gone, the record is in the access log's mailbox.
  if (st.deps.access_log)
    self->send(st.deps.access_log, make_record(self, msg.stats));
  self->quit();
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
  plan.connect.prefer = s.prefer;
  plan.connect.attempt_delay = milliseconds{s.attempt_delay_ms};
  plan.rules = s.rules;
  plan.outbound = s.outbound;
  plan.upstream = s.upstream;
  plan.relay = relay_for(s);
  return plan;
}

net::relay_options session_state::relay_for(const session_settings& s) {
  net::relay_options opts;
  opts.buffer_size = s.buffer_size;
  opts.idle_timeout = milliseconds{s.idle_timeout_ms};
  opts.splice = s.splice;
  opts.transform = s.transform;
  return opts;
}

net::ip_endpoint session_state::advertise_for(const session_settings& s,
                                              const net::ip_endpoint& listener, bool udp) {
  for (auto& l : s.per_listener) {
    // The listener reports where it is bound: a configured port 0 became
    // the kernel's choice.
    if (!net::same_host(l.listen, listener) || (l.listen.port != 0 && l.listen.port != listener.port))
      continue;
    auto& own = udp ? l.udp : l.bind;
    if (own)
      return *own;
    break;
  }
  return udp ? s.udp_advertise : s.bind_advertise;
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
    case net::connect_error::address_unsupported:
      return socks5::reply::address_type_not_supported;
    case net::connect_error::command_unsupported:
      return socks5::reply::command_not_supported;
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
  st.listener = args.listener;
  st.settings = std::move(args.settings);
  st.deps = args.deps;
  st.started = args.started;
  st.started_unix_ms = args.started_unix_ms;
  auto metrics = st.deps.metrics;
  self->set_default_handler(
    [metrics](caf::scheduled_actor*,
              caf::message_view&) -> caf::result<caf::message> {
      caf::anon_send(metrics, metric_event{metric::unexpected_message, 0});
      return caf::none;
    });
  return {
    [=](conn_credentials& msg) { on_credentials(self, msg); },
    [=](conn_request& msg) { on_request(self, msg); },
    [=](conn_handshake_failed& msg) { on_handshake_failed(self, msg); },
    [=](conn_bound& msg) { on_bound(self, msg); },
    [=](conn_connected& msg) { on_connected(self, msg); },
    [=](conn_failed& msg) { on_connect_failed(self, msg); },
    [=](conn_closed& msg) { on_closed(self, msg); },
  };
}

} // namespace px
