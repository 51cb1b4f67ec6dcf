// Pipes for the splice relay, kept per loop: a relay direction borrows one
// while bytes sit in it and gives it back when it is empty, so an idle
// tunnel holds no pipe and a busy loop does not create one per burst.
#pragma once

#include <cstddef>
#include <vector>

namespace px::net {

/// The two ends of a pipe and how many bytes it can hold.
struct pipe_pair {
  int rd = -1;
  int wr = -1;
  size_t capacity = 0;

  bool valid() const {
    return rd >= 0;
  }
};

/// Spare pipes of one loop (not thread-safe: one loop uses it).
class pipe_pool {
public:
  /// Keeps at most `max_spare` empty pipes.
  explicit pipe_pool(size_t max_spare) : max_spare_(max_spare) {
  }

  ~pipe_pool();

  pipe_pool(const pipe_pool&) = delete;
  pipe_pool& operator=(const pipe_pool&) = delete;

  /// A spare or a new pipe, grown towards `want` bytes where the kernel
  /// allows (F_SETPIPE_SZ). False when no pipe can be created (out of
  /// descriptors): the caller copies instead.
  bool acquire(pipe_pair& out, size_t want);

  /// Takes `p` back: kept as a spare when `empty` and there is room,
  /// closed otherwise (its bytes are lost with the connection). `p` is
  /// reset.
  void release(pipe_pair& p, bool empty);

  /// Spare pipes held now.
  size_t spares() const {
    return spare_.size();
  }

private:
  size_t max_spare_;
  std::vector<pipe_pair> spare_;
};

} // namespace px::net
