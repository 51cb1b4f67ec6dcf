// What an epoll registration points at: one handler per kind of descriptor
// (the loop's wake-up eventfd, a listener, a side of a connection, a UDP
// relay socket, a DNS socket), in the spirit of CAF's one handler per
// socket. The loop core dispatches every event through this interface and
// knows no kinds.
#pragma once

#include <cstdint>

namespace px::net {

/// Receives the epoll events of one registered descriptor.
class io_handler {
public:
  /// `events`: the EPOLL* bits epoll reported.
  virtual void on_io(uint32_t events) = 0;

protected:
  ~io_handler() = default;
};

} // namespace px::net
