// A fake reactor for actor tests: records every command a session, the
// acceptor or the registry gives it instead of touching sockets.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "net/conn_control.hpp"
#include "net/socks5_codec.hpp"

namespace px::test {

using bytes = std::vector<uint8_t>;

/// One command a session (or the acceptor) gave the reactor.
struct command {
  enum kind_t { handshake, authenticated, send, start_relay, close, bind, udp } kind;
  net::conn_id id = 0;
  bytes data;
  net::after next = net::after::hold;
  /// handshake: the plan; authenticated: plan.userpass carries `ok`.
  net::handshake_plan plan;
  /// bind / udp: the peer or the client hint.
  socks5::address target;
  net::relay_options opts;
};

/// Records commands instead of touching sockets.
class fake_io : public net::conn_control {
public:
  void handshake(net::conn_id id, std::shared_ptr<net::conn_handler> h,
                 net::handshake_plan plan) override {
    handlers[id] = std::move(h);
    command c{command::handshake, id, {}, net::after::hold, std::move(plan), {}, {}};
    log.push_back(std::move(c));
  }
  void authenticated(net::conn_id id, bool ok, net::login_grant grant = {}) override {
    command c{command::authenticated, id, {}, net::after::hold, {}, {}, {}};
    c.plan.userpass = ok;
    log.push_back(std::move(c));
    if (ok)
      grants[id] = std::move(grant);
  }
  void send(net::conn_id id, bytes b, net::after next) override {
    log.push_back({command::send, id, std::move(b), next, {}, {}, {}});
  }
  void start_relay(net::conn_id id, bytes a, bytes,
                   net::relay_options opts) override {
    log.push_back({command::start_relay, id, std::move(a), net::after::hold, {}, {}, opts});
  }
  void close(net::conn_id id) override {
    log.push_back({command::close, id, {}, net::after::hold, {}, {}, {}});
    grants.erase(id);
  }
  /// Closes the connections granted to `user` (as a loop would).
  void close_user(std::shared_ptr<net::account> user) override {
    std::vector<net::conn_id> ids;
    for (auto& kv : grants)
      if (kv.second.user == user)
        ids.push_back(kv.first);
    for (auto id : ids)
      close(id);
  }
  void bind(net::conn_id id, net::bind_request req) override {
    log.push_back({command::bind, id, {}, net::after::hold, {}, req.peer, {}});
  }
  void udp_associate(net::conn_id id, net::udp_request req) override {
    log.push_back({command::udp, id, {}, net::after::hold, {},
                   socks5::address::from(req.client_hint), {}});
  }
  uint64_t owned_closed() const override {
    return closed;
  }

  /// Removes and returns the commands recorded so far.
  std::vector<command> take() {
    auto out = std::move(log);
    log.clear();
    return out;
  }

  std::map<net::conn_id, std::shared_ptr<net::conn_handler>> handlers;
  /// Logins granted with `authenticated` (or recorded by a test), by connection.
  std::map<net::conn_id, net::login_grant> grants;
  std::vector<command> log;
  /// What the reactor would count in owned_closed.
  uint64_t closed = 0;
};

} // namespace px::test
