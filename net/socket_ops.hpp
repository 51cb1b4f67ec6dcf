// Socket helpers shared by the reactor's listeners and the port probe.
#pragma once

#include <chrono>

#include "net/address.hpp"

namespace px::net {

/// Closes `fd` and returns -1, leaving errno as it was.
int close_keep_errno(int fd);

/// A non-blocking TCP socket bound to `addr` (port 0: any), with
/// SO_REUSEADDR (and SO_REUSEPORT when asked), not listening yet; -1 with
/// errno set on error.
int bound_tcp_socket(const ip_endpoint& addr, bool reuseport);

/// A listening socket on `addr` (backlog 1024). `client_first` > 0 sets
/// TCP_DEFER_ACCEPT for that long (capped at an hour); `deferred` says
/// whether the kernel took it. -1 with errno set on error.
int open_listener(const ip_endpoint& addr, bool reuseport,
                  std::chrono::seconds client_first, bool& deferred);

/// Sets TCP_NODELAY.
void set_nodelay(int fd);

} // namespace px::net
