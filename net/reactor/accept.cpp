#include "net/reactor/accept.hpp"

#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/socket_ops.hpp"

namespace px::net {

void listener::close_all() {
  for (auto fd : fds)
    ::close(fd);
  fds.clear();
}

accept_outcome accept_one(listener& l, size_t index) {
  accept_outcome out;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int fd = accept4(l.fd_for(index), reinterpret_cast<sockaddr*>(&ss), &len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE)
      out.status = accept_status::exhausted;
    return out;
  }
  auto inherited = l.nodelay_inherited.load(std::memory_order_relaxed);
  if (inherited < 0) {
    int on = 0;
    socklen_t olen = sizeof(on);
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen);
    inherited = on ? 1 : 0;
    l.nodelay_inherited.store(inherited, std::memory_order_relaxed);
  }
  if (inherited == 0)
    set_nodelay(fd);
  out.status = accept_status::accepted;
  out.fd = fd;
  out.peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss))
               .value_or(ip_endpoint{});
  return out;
}

} // namespace px::net
