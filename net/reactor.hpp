// The reactor: the event-loop threads that own every socket of the SOCKS
// data plane and execute the commands of net/conn_control.hpp. The loop's
// jobs live in net/reactor/, one file each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "net/conn_control.hpp"
#include "net/reactor/reactor_config.hpp"

namespace px::net {

class loop;

/// The set of event loops.
class reactor : public conn_control {
public:
  explicit reactor(reactor_config cfg);
  ~reactor() override;

  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  /// Binds and listens (before `start`). Returns the bound endpoint, or an
  /// error text such as "127.0.0.1:1080: Address already in use".
  /// `client_first`: the protocol's client speaks first (SOCKS5 does), so the
  /// kernel may hold a connection until its first bytes arrive, for up to
  /// that long (TCP_DEFER_ACCEPT; 0: accept at once). The loop then reads
  /// the first message right after the accept, without waiting for epoll.
  std::variant<ip_endpoint, std::string>
  listen(const ip_endpoint& addr, std::shared_ptr<accept_handler> h,
         std::chrono::seconds client_first = std::chrono::seconds{0});

  /// Names the receiver of batched traffic counters (before `start`).
  void set_traffic_sink(traffic_sink f) { traffic_ = std::move(f); }

  /// Starts the loop threads.
  void start();

  /// Stops accepting on every listener.
  void stop_listening();

  /// Closes every connection (reason `shutdown`).
  void close_all();

  /// Stops and joins the loop threads. Connections still open are closed.
  void stop();

  /// Connections currently open over all loops.
  size_t connection_count() const;

  /// Number of loops.
  size_t size() const { return loops_.size(); }

  // -- conn_control -----------------------------------------------------------

  void handshake(conn_id id, std::shared_ptr<conn_handler> h,
                 handshake_plan plan) override;
  void authenticated(conn_id id, bool ok, login_grant grant = {}) override;
  void send(conn_id id, std::vector<uint8_t> bytes, after next) override;
  void bind(conn_id id, bind_request req) override;
  void udp_associate(conn_id id, udp_request req) override;
  void start_relay(conn_id id, std::vector<uint8_t> to_client,
                   std::vector<uint8_t> to_upstream,
                   relay_options opts) override;
  void close(conn_id id) override;
  void close_user(std::shared_ptr<account> user) override;
  uint64_t owned_closed() const override;

private:
  loop& owner(conn_id id);

  reactor_config cfg_;
  std::vector<std::unique_ptr<loop>> loops_;
  std::vector<std::unique_ptr<struct listener>> listeners_;
  traffic_sink traffic_;
  bool started_ = false;
};

} // namespace px::net
