#include "net/reactor/connector.hpp"

#include <algorithm>
#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/reactor/errors.hpp"
#include "net/reactor/loop_context.hpp"
#include "net/reactor/rule_checks.hpp"

namespace px::net {

connect_outcome connector::start(std::vector<ip_endpoint> addrs,
                                 const rule_subject& who, std::string_view name,
                                 side& up, loop_context& ctx) {
  addrs_ = std::move(addrs);
  // Rules see (and the connect uses) the address really reached: 0.0.0.0
  // or a mapped ::ffff:127.0.0.1 must not get around a block of 127.0.0.0/8,
  // and a name is checked again for every address it resolved to.
  for (auto& a : addrs_)
    a = canonical_destination(a);
  next_ = 0;
  last_ = connect_error::none;
  if (!addrs_.empty() && drop_blocked(who, name, addrs_, ctx.traffic))
    return connect_outcome{connect_status::failed, connect_error::denied, {}, {}};
  return try_next(up, ctx);
}

connect_outcome connector::try_next(side& up, loop_context& ctx) {
  while (next_ < addrs_.size()) {
    auto& ep = addrs_[next_++];
    int fd = ::socket(ep.v6 ? AF_INET6 : AF_INET,
                      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_ = from_errno(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_storage ss;
    auto len = ep.to_sockaddr(ss);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    if (rc < 0 && errno != EINPROGRESS) {
      last_ = from_errno(errno);
      ::close(fd);
      continue;
    }
    up.fd = fd;
    up.reset_readiness();
    ctx.watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, up);
    if (rc == 0) {
      up.wr = true;
      return on_ready(up, ctx);
    }
    return connect_outcome{};
  }
  auto err = last_ == connect_error::none ? connect_error::other : last_;
  return connect_outcome{connect_status::failed, err, {}, {}};
}

connect_outcome connector::on_ready(side& up, loop_context& ctx) {
  if (!up.wr && !up.rd)
    return connect_outcome{};
  if (up.wr && !up.err) {
    // Writable without an error or hang-up: connected. The peer is the
    // address we connected to (no getsockopt, no getpeername).
    return connected(up, addrs_[next_ - 1]);
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(up.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0)
    return retry(err, up, ctx);
  if (!up.wr)
    return connect_outcome{}; // readable without error or writability: wait
  // An error event with SO_ERROR 0: only a peer address proves the
  // connection (gVisor has reported refused connects this way).
  auto remote = ip_endpoint::peer_of(up.fd);
  if (!remote)
    return retry(errno == ENOTCONN ? ECONNREFUSED : errno, up, ctx);
  return connected(up, *remote);
}

connect_outcome connector::connected(side& up, const ip_endpoint& remote) {
  connect_outcome out;
  out.status = connect_status::connected;
  out.remote = remote;
  out.local = ip_endpoint::local_of(up.fd).value_or(ip_endpoint{});
  return out;
}

connect_outcome connector::retry(int err, side& up, loop_context& ctx) {
  last_ = from_errno(err);
  up.close();
  return try_next(up, ctx);
}

} // namespace px::net
