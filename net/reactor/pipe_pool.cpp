#include "net/reactor/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace px::net {

namespace {

void close_pipe(pipe_pair& p) {
  ::close(p.rd);
  ::close(p.wr);
  p = pipe_pair{};
}

} // namespace

pipe_pool::~pipe_pool() {
  for (auto& p : spare_)
    close_pipe(p);
}

bool pipe_pool::acquire(pipe_pair& out, size_t want) {
  if (!spare_.empty()) {
    out = spare_.back();
    spare_.pop_back();
  } else {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
      return false;
    out.rd = fds[0];
    out.wr = fds[1];
    auto size = fcntl(fds[0], F_GETPIPE_SZ);
    out.capacity = size > 0 ? static_cast<size_t>(size) : 0;
  }
  if (out.capacity < want) {
    auto got = fcntl(out.wr, F_SETPIPE_SZ, static_cast<int>(want));
    if (got > 0)
      out.capacity = static_cast<size_t>(got);
  }
  return true;
}

void pipe_pool::release(pipe_pair& p, bool empty) {
  if (!p.valid())
    return;
  if (empty && spare_.size() < max_spare_) {
    spare_.push_back(p);
    p = pipe_pair{};
  } else {
    close_pipe(p);
  }
}

} // namespace px::net
