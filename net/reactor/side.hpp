// One stream descriptor of a connection (the client socket, the target
// socket, or a pipe to or from a transformation program) with the
// readiness that edge-triggered epoll reported for it.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/types.h>

#include "net/reactor/io_handler.hpp"

namespace px::net {

/// Told when one of its sides became ready.
class side_owner {
public:
  virtual void on_side_ready() = 0;

protected:
  ~side_owner() = default;
};

/// A descriptor and its edge-triggered readiness. Registered with epoll as
/// its own handler: an event sets the flags and tells the owner.
struct side final : io_handler {
  int fd = -1;
  /// Readable / writable since the last EAGAIN.
  bool rd = false;
  bool wr = false;
  /// The peer's FIN (or an error) was reported: a short read no longer
  /// proves the socket drained, since that edge has passed.
  bool hup = false;
  /// EPOLLERR or EPOLLHUP was reported (a connect that failed, a reset).
  bool err = false;
  /// Sockets use send/recv and half-close; pipes use read/write and close.
  bool sock = true;
  side_owner* owner = nullptr;

  void on_io(uint32_t events) override;

  /// A new descriptor: nothing reported yet.
  void reset_readiness() {
    rd = wr = hup = err = false;
  }

  /// One send(MSG_NOSIGNAL) or write.
  ssize_t write_some(const uint8_t* data, size_t n) const;

  /// One recv or read.
  ssize_t read_some(uint8_t* data, size_t n) const;

  /// Closes the descriptor (if open).
  void close();
};

} // namespace px::net
