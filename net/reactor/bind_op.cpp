#include "net/reactor/bind_op.hpp"

#include <algorithm>
#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/log.hpp"
#include "net/reactor/errors.hpp"
#include "net/reactor/loop_context.hpp"
#include "net/reactor/outbound.hpp"

namespace px::net {

bind_outcome bind_op::listen(int client_fd, const outbound_profile* profile,
                            side& up, loop_context& ctx) {
  bind_outcome out;
  auto local = ip_endpoint::local_of(client_fd);
  if (!local) {
    out.status = bind_status::failed;
    out.err = connect_error::other;
    return out;
  }
  local->port = 0;
  int fd = open_outbound_listener(*local, profile, out.err);
  if (fd < 0 || ::listen(fd, 4) != 0) {
    out.status = bind_status::failed;
    if (fd >= 0) {
      out.err = from_errno(errno);
      ::close(fd);
    }
    return out;
  }
  up.fd = fd;
  up.reset_readiness();
  ctx.watch(fd, EPOLLIN | EPOLLET, up);
  out.status = bind_status::bound;
  out.local = ip_endpoint::local_of(fd).value_or(*local);
  return out;
}

bool bind_op::allowed(const ip_endpoint& peer) const {
  return hosts_.empty()
         || std::any_of(hosts_.begin(), hosts_.end(),
                        [&](const ip_endpoint& a) { return same_host(a, peer); });
}

bind_outcome bind_op::accept(side& up, loop_context& ctx) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd = accept4(up.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      up.rd = false;
      return bind_outcome{};
    }
    auto peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    if (!peer || !allowed(*peer)) {
      log::debug("BIND: turned away " + (peer ? peer->to_string() : "?"));
      ::close(fd);
      continue;
    }
    up.close(); // the listener
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    up.fd = fd;
    up.reset_readiness();
    ctx.watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, up);
    bind_outcome out;
    out.status = bind_status::accepted;
    out.local = ip_endpoint::local_of(fd).value_or(ip_endpoint{});
    out.peer = *peer;
    return out;
  }
}

} // namespace px::net
