// DNS inside the loop: a c-ares channel whose sockets are registered with
// the loop's epoll (one handler per DNS socket). Lookups never block; their
// results come back on the loop's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/reactor/hosts_table.hpp"
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
  /// One family only: the other had not answered within the resolution
  /// delay, and its answer goes to the lookup's `late` callback.
  bool partial = false;
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

  /// Looks `name` up: A and AAAA as two queries at once (/etc/hosts
  /// first), merged by a dual_lookup (a family that does not answer costs
  /// its resolution delay). With both families found, IPv6 comes first
  /// when this host has a route to it (RFC 6724 rule 1), else IPv4: what
  /// `prefer = system` follows. `done` runs on the loop's thread, possibly
  /// before `resolve` returns (a hosts-file hit); callers keep no state
  /// they touch after the call. With `late`, `done` may come 50 ms after
  /// the first family (the result is `partial`), and `late` gets the other
  /// family's answer when it comes (addresses, or an error); without,
  /// `done` waits for both answers.
  void resolve(const std::string& name, bool stream, resolve_callback done,
               resolve_callback late = {});

  /// When c-ares must run its timeouts or a resolution delay runs out,
  /// while lookups are pending.
  std::optional<std::chrono::milliseconds> next_timeout() const;

  /// Runs due timeouts and resolution delays (after every epoll_wait).
  void process_timeouts();

  /// Frees the handlers of DNS sockets closed during this batch of events
  /// (an event fetched in the same batch may still point at one).
  void end_batch();

private:
  struct dns_socket;
  struct lookup;
  struct query;

  static void on_sock_state(void* self, int fd, int readable, int writable);
  static void on_done(void* arg, int status, int timeouts, ares_addrinfo* res);
  /// The name's addresses in the hosts file (none there: nullopt).
  /// Answered alone, as getaddrinfo does: no DNS query for the other
  /// family.
  std::optional<resolve_result> from_hosts_file(const std::string& name);
  /// One family's answer reached lookup `id` (gone: delivered, late).
  void on_answer(uint64_t id, bool v6, resolve_result answer);
  /// Gives lookup `id` its merged result; the lookup is gone afterwards.
  void deliver(uint64_t id);

  int epfd_;
  ares_channeldata* channel_ = nullptr;
  std::unordered_map<int, std::unique_ptr<dns_socket>> sockets_;
  std::vector<std::unique_ptr<dns_socket>> retired_;
  hosts_table hosts_;
  /// Lookups waiting for an answer, by id (the queries name their lookup
  /// by id: one may answer after the lookup was delivered).
  std::unordered_map<uint64_t, std::unique_ptr<lookup>> lookups_;
  uint64_t next_id_ = 1;
  /// Resolution delays in the order they run out (they all last the same).
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> delays_;
};

} // namespace px::net
