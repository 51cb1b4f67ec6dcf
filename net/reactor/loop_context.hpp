// What a loop lends its modules: its epoll, the time, its resolver, pipes,
// deadlines, counters and reaper. Modules get this narrow context, never
// the loop: they act on what they own and return outcomes; only the loop
// core sequences them.
#pragma once

#include <cstdint>
#include <string>

#include "net/conn_control.hpp"
#include "net/reactor/deadlines.hpp"
#include "net/reactor/io_handler.hpp"
#include "net/reactor/pipe_pool.hpp"
#include "net/reactor/resolver.hpp"
#include "net/reactor/transform.hpp"

namespace px::net {

/// Settings of a loop that its modules read.
struct loop_settings {
  /// Largest read during the handshake.
  size_t chunk_size = 1024;
  /// Bytes a relay direction copies before it splices.
  uint64_t splice_after = 64 * 1024;
};

struct loop_context {
  loop_context(int epoll_fd, const std::string& dns_servers, size_t spare_pipes,
               loop_settings s)
    : epfd(epoll_fd), settings(s), pipes(spare_pipes), dns(epoll_fd, dns_servers) {
  }

  int epfd;
  /// The loop's time for this batch of events (from its clock).
  time_point now{};
  loop_settings settings;
  pipe_pool pipes;
  deadlines timers;
  resolver dns;
  reaper children;
  /// Counters since the last flush (bytes each way, UDP drops...).
  traffic_counts traffic;

  /// Registers `fd` for `events` (EPOLL* bits) with `h` as its handler.
  void watch(int fd, uint32_t events, io_handler& h) const;

  /// Changes the events of a registered `fd`.
  void rewatch(int fd, uint32_t events, io_handler& h) const;

  /// Removes `fd` (closing it does too).
  void unwatch(int fd) const;
};

} // namespace px::net
