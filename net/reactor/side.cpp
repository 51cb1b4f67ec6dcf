#include "net/reactor/side.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace px::net {

void side::on_io(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    rd = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    hup = true;
  if (events & (EPOLLHUP | EPOLLERR))
    err = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
    wr = true;
  if (owner)
    owner->on_side_ready();
}

ssize_t side::write_some(const uint8_t* data, size_t n) const {
  return sock ? ::send(fd, data, n, MSG_NOSIGNAL) : ::write(fd, data, n);
}

ssize_t side::read_some(uint8_t* data, size_t n) const {
  return sock ? ::recv(fd, data, n, 0) : ::read(fd, data, n);
}

void side::close() {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

} // namespace px::net
