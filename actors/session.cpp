#include "actors/session.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace {

using namespace std::chrono;

/// Sends reactor events for one connection to its session actor.
class session_handler : public net::conn_handler {
public:
  explicit session_handler(caf::actor dst) : dst_(std::move(dst)) {
    // nop
  }

  void on_data(net::conn_id, std::vector<uint8_t> bytes) override {
    caf::anon_send(dst_, conn_data{std::move(bytes)});
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
    caf::anon_send(dst_, conn_closed{stats});
  }

private:
  caf::actor dst_;
};

class acceptor_handler : public net::accept_handler {
public:
  explicit acceptor_handler(acceptor_actor dst) : dst_(std::move(dst)) {
    // nop
  }

  void on_accepted(net::conn_id id, net::ip_endpoint peer,
                   net::ip_endpoint local) override {
    caf::anon_send(dst_, conn_accepted{id, peer, local});
  }

private:
  acceptor_actor dst_;
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
  st.buf.clear();
  st.deps.io->send(st.id, std::move(bytes), net::after::close);
}

void fail_request(session_ptr self, socks5::reply rep, std::string result) {
  count(self, metric::reply, static_cast<uint8_t>(rep));
  fail_with(self, socks5::encode_reply(rep, socks5::address{}),
            std::move(result));
}

void consume(session_state& st, size_t n) {
  st.buf.erase(st.buf.begin(), st.buf.begin() + static_cast<long>(n));
}

void on_bytes(session_ptr self);

void on_auth_result(session_ptr self, bool ok, const std::string& user) {
  auto& st = self->state;
  if (st.ph != phase::authenticating)
    return;
  if (!ok) {
    count(self, metric::auth_failure);
    log::info("auth failed for user '" + user + "' from "
              + st.peer.to_string());
    fail_with(self, socks5::encode_auth_status(false), "auth-failed");
    return;
  }
  st.user = user;
  st.ph = phase::request;
  st.deps.io->send(st.id, socks5::encode_auth_status(true), net::after::read);
  on_bytes(self);
}

void on_bytes(session_ptr self) {
  auto& st = self->state;
  for (;;) {
    const uint8_t* data = st.buf.data();
    size_t size = st.buf.size();
    switch (st.ph) {
      case phase::greeting: {
        socks5::greeting g;
        auto r = socks5::parse_greeting(data, size, g);
        if (r.status == socks5::parse_status::need_more) {
          st.deps.io->read(st.id);
          return;
        }
        if (r.status == socks5::parse_status::error) {
          count(self, metric::protocol_error);
          if (r.error == socks5::codec_error::no_methods)
            fail_with(self,
                      socks5::encode_method_choice(socks5::method::none_acceptable),
                      "no-acceptable-method");
          else
            fail_with(self, {}, std::string{"bad-greeting:"} + to_string(r.error));
          return;
        }
        consume(st, r.consumed);
        auto m = session_state::choose_method(st.settings.auth, g);
        if (m == socks5::method::none_acceptable) {
          fail_with(self, socks5::encode_method_choice(m), "no-acceptable-method");
          return;
        }
        st.ph = m == socks5::method::userpass ? phase::auth : phase::request;
        st.deps.io->send(st.id, socks5::encode_method_choice(m), net::after::read);
        if (st.buf.empty())
          return;
        break;
      }
      case phase::auth: {
        socks5::credentials creds;
        auto r = socks5::parse_credentials(data, size, creds);
        if (r.status == socks5::parse_status::need_more) {
          st.deps.io->read(st.id);
          return;
        }
        if (r.status == socks5::parse_status::error) {
          count(self, metric::protocol_error);
          fail_with(self, socks5::encode_auth_status(false),
                    std::string{"bad-auth:"} + to_string(r.error));
          return;
        }
        consume(st, r.consumed);
        st.ph = phase::authenticating;
        auto user = creds.user;
        self
          ->request(st.deps.registry,
                    milliseconds{st.settings.handshake_timeout_ms}, auth_atom_v,
                    std::move(creds.user), std::move(creds.password),
                    static_cast<uint8_t>(config::role_socks))
          .then([=](bool ok) { on_auth_result(self, ok, user); },
                [=](const caf::error&) { on_auth_result(self, false, user); });
        return;
      }
      case phase::request: {
        socks5::request req;
        auto r = socks5::parse_request(data, size, req);
        if (r.status == socks5::parse_status::need_more) {
          st.deps.io->read(st.id);
          return;
        }
        if (r.status == socks5::parse_status::error) {
          count(self, metric::protocol_error);
          fail_request(self, session_state::reply_for(r.error),
                       std::string{"bad-request:"} + to_string(r.error));
          return;
        }
        consume(st, r.consumed);
        st.cmd = req.cmd;
        st.destination = req.dst.to_string();
        st.ph = phase::connecting;
        if (req.cmd == socks5::command::bind) {
          st.destination = "bind:" + st.destination;
          net::bind_request breq;
          breq.peer = req.dst;
          breq.timeout = milliseconds{st.settings.bind_timeout_ms};
          st.deps.io->bind(st.id, std::move(breq));
          return;
        }
        if (req.cmd == socks5::command::udp_associate) {
          st.destination = "udp:" + st.destination;
          net::udp_request ureq;
          if (req.dst.type != socks5::atyp::domain)
            ureq.client_hint = req.dst.ip;
          ureq.deny = st.settings.deny_destinations;
          ureq.dns_timeout = milliseconds{st.settings.connect_timeout_ms};
          st.deps.io->udp_associate(st.id, std::move(ureq));
          return;
        }
        net::connect_request creq;
        creq.target = req.dst;
        creq.timeout = milliseconds{st.settings.connect_timeout_ms};
        creq.deny = st.settings.deny_destinations;
        st.deps.io->connect(st.id, std::move(creq));
        return;
      }
      case phase::authenticating:
      case phase::connecting:
      case phase::relaying:
      case phase::closing:
        return;
    }
  }
}

} // namespace

const char* to_string(phase x) {
  switch (x) {
    case phase::greeting:
      return "greeting";
    case phase::auth:
      return "auth";
    case phase::authenticating:
      return "authenticating";
    case phase::request:
      return "request";
    case phase::connecting:
      return "connecting";
    case phase::relaying:
      return "relaying";
    case phase::closing:
      return "closing";
  }
  return "unknown";
}

socks5::method session_state::choose_method(config::auth_mode mode,
                                            const socks5::greeting& g) {
  bool userpass = g.offers(socks5::method::userpass);
  bool none = g.offers(socks5::method::no_auth);
  switch (mode) {
    case config::auth_mode::userpass:
      return userpass ? socks5::method::userpass
                      : socks5::method::none_acceptable;
    case config::auth_mode::none:
      return none ? socks5::method::no_auth : socks5::method::none_acceptable;
    case config::auth_mode::any:
      if (userpass)
        return socks5::method::userpass;
      return none ? socks5::method::no_auth : socks5::method::none_acceptable;
  }
  return socks5::method::none_acceptable;
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
  st.started = self->clock().now();
  st.started_unix_ms = duration_cast<milliseconds>(
                         system_clock::now().time_since_epoch())
                         .count();
  auto metrics = st.deps.metrics;
  self->set_default_handler(
    [metrics](caf::scheduled_actor* ptr, caf::message_view&) -> caf::result<caf::message> {
      caf::anon_send(metrics, metric_event{metric::unexpected_message, 0});
      (void) ptr;
      return caf::none;
    });
  st.deps.io->attach(st.id, std::make_shared<session_handler>(
                              caf::actor_cast<caf::actor>(self)));
  self->delayed_send(self, milliseconds{st.settings.handshake_timeout_ms},
                     deadline_atom_v);
  return {
    [=](conn_data& msg) {
      auto& st = self->state;
      if (st.ph == phase::closing || st.ph == phase::relaying)
        return;
      if (st.buf.size() + msg.bytes.size() > max_session_buffer) {
        count(self, metric::protocol_error);
        st.result = "handshake-overflow";
        st.ph = phase::closing;
        st.deps.io->close(st.id);
        return;
      }
      st.buf.insert(st.buf.end(), msg.bytes.begin(), msg.bytes.end());
      on_bytes(self);
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
      if (st.cmd == socks5::command::connect
          && st.destination.find(msg.remote.host_string()) == std::string::npos)
        st.destination += " (" + msg.remote.to_string() + ")";
      if (st.cmd == socks5::command::bind)
        st.destination += " (peer " + msg.remote.to_string() + ")";
      // CONNECT: BND is our address towards the target; BIND (second reply):
      // the peer that connected; UDP ASSOCIATE: the relay's address.
      auto bound = st.cmd == socks5::command::bind ? msg.remote : msg.local;
      count(self, metric::reply, 0);
      net::relay_options opts;
      opts.buffer_size = st.settings.buffer_size;
      opts.idle_timeout = milliseconds{st.settings.idle_timeout_ms};
      opts.splice = st.settings.splice;
      opts.transform = st.settings.transform;
      st.deps.io->start_relay(
        st.id,
        socks5::encode_reply(socks5::reply::succeeded,
                             socks5::address::from(bound)),
        st.cmd == socks5::command::udp_associate ? std::vector<uint8_t>{}
                                                 : std::move(st.buf),
        opts);
      st.buf.clear();
    },
    [=](conn_failed& msg) {
      auto& st = self->state;
      if (st.ph != phase::connecting)
        return;
      fail_request(self, session_state::reply_for(msg.error),
                   std::string{"connect-"} + net::to_string(msg.error));
    },
    [=](conn_closed& msg) {
      auto& st = self->state;
      access_record rec;
      rec.start_unix_ms = st.started_unix_ms;
      rec.duration_ms
        = duration_cast<milliseconds>(self->clock().now() - st.started).count();
      rec.client = st.peer.to_string();
      rec.user = st.user;
      rec.destination = st.destination;
      if (st.ph == phase::relaying) {
        rec.result = "ok";
        if (msg.stats.reason != net::close_reason::done)
          rec.result += std::string{"/"} + net::to_string(msg.stats.reason);
      } else if (!st.result.empty()) {
        rec.result = st.result;
      } else {
        rec.result = std::string{"closed-in-"} + to_string(st.ph);
      }
      rec.bytes_up = msg.stats.bytes_up;
      rec.bytes_down = msg.stats.bytes_down;
      self->send(st.deps.access_log, std::move(rec));
      self->quit();
    },
    [=](deadline_atom) {
      auto& st = self->state;
      switch (st.ph) {
        case phase::greeting:
        case phase::auth:
        case phase::authenticating:
        case phase::request:
          count(self, metric::handshake_timeout);
          st.result = "handshake-timeout";
          st.ph = phase::closing;
          st.deps.io->close(st.id);
          break;
        case phase::connecting:
        case phase::relaying:
        case phase::closing:
          break;
      }
    },
  };
}

// -- acceptor -----------------------------------------------------------------

bool acceptor_state::client_allowed(const net::ip_endpoint& peer) const {
  if (settings.allow_clients.empty())
    return true;
  return std::any_of(settings.allow_clients.begin(),
                     settings.allow_clients.end(),
                     [&](const net::cidr& block) { return block.contains(peer); });
}

acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, session_deps deps) {
  self->state.settings = std::move(settings);
  self->state.deps = deps;
  self->set_down_handler([=](const caf::down_msg&) {
    auto& st = self->state;
    if (st.active > 0)
      --st.active;
    self->send(st.deps.metrics, active_atom_v, st.active);
  });
  return {
    [=](conn_accepted& msg) {
      auto& st = self->state;
      if (!st.client_allowed(msg.peer)) {
        st.deps.io->close(msg.id);
        self->send(st.deps.metrics, metric_event{metric::rejected_client_rule, 0});
        log::info("refused client " + msg.peer.to_string() + ": not in allow_client");
        return;
      }
      if (st.active >= st.settings.max_clients) {
        st.deps.io->close(msg.id);
        self->send(st.deps.metrics, metric_event{metric::rejected_max_clients, 0});
        log::debug("refused client " + msg.peer.to_string() + ": max_clients reached");
        return;
      }
      auto s = self->spawn(session, session_args{msg.id, msg.peer, st.settings,
                                                 st.deps});
      self->monitor(s);
      ++st.active;
      self->send(st.deps.metrics, metric_event{metric::accepted, 0});
      self->send(st.deps.metrics, active_atom_v, st.active);
    },
    [=](session_settings& s) { self->state.settings = std::move(s); },
  };
}

std::shared_ptr<net::accept_handler> make_accept_handler(acceptor_actor dst) {
  return std::make_shared<acceptor_handler>(std::move(dst));
}

} // namespace px
