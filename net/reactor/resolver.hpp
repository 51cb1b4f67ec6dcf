// DNS inside the loop: a c-ares channel whose sockets are registered with
// the loop's epoll (one handler per DNS socket). Lookups never block; their
// results come back on the loop's thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/reactor/io_handler.hpp"

struct ares_channeldata;
struct ares_addrinfo;

namespace px::net {

/// What a lookup found.
struct resolve_result {
  /// none, name_not_found, timeout or resolver_failure.
  connect_error err = connect_error::none;
  /// Addresses in the resolver's order, without duplicates; port 0.
  std::vector<ip_endpoint> addrs;
};

using resolve_callback = std::function<void(resolve_result)>;

/// One c-ares channel, used by one loop.
class resolver {
public:
  /// `servers`: "ip:port,ip:port" (empty: /etc/resolv.conf).
  resolver(int epfd, const std::string& servers);
  ~resolver();

  resolver(const resolver&) = delete;
  resolver& operator=(const resolver&) = delete;

  /// False when c-ares could not start (names do not resolve then).
  bool available() const {
    return channel_ != nullptr;
  }

  /// Looks `name` up (A and AAAA; /etc/hosts first). `done` runs on the
  /// loop's thread, possibly before `resolve` returns (a hosts-file hit);
  /// callers keep no state they touch after the call.
  void resolve(const std::string& name, bool stream, resolve_callback done);

  /// When c-ares must run its timeouts, while lookups are pending.
  std::optional<std::chrono::milliseconds> next_timeout() const;

  /// Runs due timeouts (after every epoll_wait while lookups are pending).
  void process_timeouts();

  /// Frees the handlers of DNS sockets closed during this batch of events
  /// (an event fetched in the same batch may still point at one).
  void end_batch();

private:
  struct dns_socket;

  static void on_sock_state(void* self, int fd, int readable, int writable);
  static void on_done(void* arg, int status, int timeouts, ares_addrinfo* res);

  int epfd_;
  ares_channeldata* channel_ = nullptr;
  std::unordered_map<int, std::unique_ptr<dns_socket>> sockets_;
  std::vector<std::unique_ptr<dns_socket>> retired_;
};

} // namespace px::net
