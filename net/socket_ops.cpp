#include "net/socket_ops.hpp"

#include <algorithm>
#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace px::net {

int close_keep_errno(int fd) {
  auto err = errno;
  ::close(fd);
  errno = err;
  return -1;
}

int bound_tcp_socket(const ip_endpoint& addr, bool reuseport) {
  int fd = ::socket(addr.v6 ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  set_nodelay(fd);
  if (addr.v6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss;
  auto len = addr.to_sockaddr(ss);
  if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
      || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return close_keep_errno(fd);
  return fd;
}

int open_listener(const ip_endpoint& addr, bool reuseport,
                  std::chrono::seconds client_first, bool& deferred) {
  int fd = bound_tcp_socket(addr, reuseport);
  if (fd < 0)
    return -1;
  if (::listen(fd, 1024) != 0)
    return close_keep_errno(fd);
  deferred = false;
  if (client_first.count() > 0) {
    int secs = static_cast<int>(std::min<long>(client_first.count(), 3600));
    deferred = setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) == 0;
  }
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

} // namespace px::net
