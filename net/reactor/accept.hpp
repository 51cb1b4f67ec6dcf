// Listeners and accepting: a listener holds one socket per loop (the kernel
// spreads clients over them, SO_REUSEPORT) or one shared by every loop; a
// loop takes clients from its socket and hands each to the loop core with
// its peer address.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"

namespace px::net {

/// A listening address, shared read-only by every loop.
struct listener {
  /// One socket per loop (SO_REUSEPORT), or one shared by every loop.
  std::vector<int> fds;
  ip_endpoint addr;
  std::shared_ptr<accept_handler> handler;
  /// Accepted sockets inherit TCP_NODELAY from the listener (Linux does);
  /// checked on the first accept, else set on each one.
  std::atomic<int> nodelay_inherited{-1};
  /// TCP_DEFER_ACCEPT is on: an accepted client has most likely sent its
  /// first message already.
  bool deferred = false;

  /// The socket loop `index` accepts on.
  int fd_for(size_t index) const {
    return fds.empty() ? -1 : fds[index < fds.size() ? index : 0];
  }

  /// Closes every socket.
  void close_all();
};

enum class accept_status : uint8_t {
  /// `fd` is a new client.
  accepted,
  /// No client waits.
  none,
  /// Out of descriptors (EMFILE/ENFILE): stop accepting for a while.
  exhausted,
};

struct accept_outcome {
  accept_status status = accept_status::none;
  int fd = -1;
  ip_endpoint peer;
};

/// Accepts one client on loop `index`'s socket of `l` (non-blocking,
/// close-on-exec, TCP_NODELAY).
accept_outcome accept_one(listener& l, size_t index);

} // namespace px::net
