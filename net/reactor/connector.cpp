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
#include "net/reactor/outbound.hpp"
#include "net/reactor/rule_checks.hpp"

namespace px::net {

namespace {

/// A non-blocking TCP socket towards `ep` under the outbound profile `p`
/// (-1 with `err` set).
int open_attempt_socket(const ip_endpoint& ep, const outbound_profile* p,
                        connect_error& err) {
  int fd = open_outbound(ep, SOCK_STREAM, p, err);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

} // namespace

void order_for_attempts(std::vector<ip_endpoint>& addrs, address_family prefer) {
  if (addrs.size() < 2)
    return;
  bool v6_first = prefer == address_family::ipv6
                  || (prefer == address_family::system && addrs.front().v6);
  std::vector<ip_endpoint> first;
  std::vector<ip_endpoint> second;
  for (auto& a : addrs)
    (a.v6 == v6_first ? first : second).push_back(a);
  addrs.clear();
  for (size_t i = 0; i < first.size() || i < second.size(); ++i) {
    if (i < first.size())
      addrs.push_back(first[i]);
    if (i < second.size())
      addrs.push_back(second[i]);
  }
}

std::vector<ip_endpoint> connector::admit(std::vector<ip_endpoint> addrs,
                                          const rule_subject& who, std::string_view name) {
  // Rules see (and the connect uses) the address really reached: 0.0.0.0
  // or a mapped ::ffff:127.0.0.1 must not get around a block of 127.0.0.0/8,
  // and a name is checked again for every address it resolved to.
  for (auto& a : addrs)
    a = canonical_destination(a);
  if (!addrs.empty() && drop_blocked(who, name, addrs))
    denied_ = true;
  return addrs;
}

connect_outcome connector::start(std::vector<ip_endpoint> addrs,
                                 const rule_subject& who, std::string_view name,
                                 side& up, loop_context& ctx,
                                 const connect_policy& policy,
                                 const outbound_profile* profile, bool more) {
  abort();
  profile_ = profile;
  next_ = 0;
  last_ = connect_error::none;
  delay_ = policy.attempt_delay;
  prefer_ = policy.prefer;
  more_ = more;
  denied_ = false;
  addrs_ = admit(std::move(addrs), who, name);
  order_for_attempts(addrs_, prefer_);
  launch(up, ctx);
  return on_ready(up, ctx);
}

connect_outcome connector::add(std::vector<ip_endpoint> addrs, const rule_subject& who,
                               std::string_view name, side& up, loop_context& ctx) {
  more_ = false;
  addrs = admit(std::move(addrs), who, name);
  // The untried addresses and the new ones, ordered again: the families
  // alternate from where the race stands.
  std::vector<ip_endpoint> rest(addrs_.begin() + static_cast<long>(next_), addrs_.end());
  rest.insert(rest.end(), addrs.begin(), addrs.end());
  order_for_attempts(rest, prefer_);
  addrs_.resize(next_);
  addrs_.insert(addrs_.end(), rest.begin(), rest.end());
  // Nothing in flight (every attempt failed): the next goes now; else it
  // waits for the attempt delay as usual (on_timer).
  if (in_flight() == 0 || ctx.now >= next_at_)
    launch(up, ctx);
  return on_ready(up, ctx);
}

void connector::launch(side& up, loop_context& ctx) {
  auto slot = std::find_if(attempts_.begin(), attempts_.end(),
                           [](const attempt& a) { return !a.active; });
  while (slot != attempts_.end() && next_ < addrs_.size()) {
    auto index = next_++;
    auto& ep = addrs_[index];
    int fd = open_attempt_socket(ep, profile_, last_);
    if (fd < 0)
      continue; // e.g. no source address for this family: the next goes now
    sockaddr_storage ss;
    auto len = ep.to_sockaddr(ss);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
      last_ = from_errno(errno);
      ::close(fd);
      continue; // failed at once: the next address goes now
    }
    slot->s.fd = fd;
    slot->s.reset_readiness();
    slot->s.owner = up.owner;
    slot->index = index;
    slot->active = true;
    // Registered with its own handler: readiness (or a connect that
    // succeeded at once) reaches the owner, which asks on_ready.
    ctx.watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, slot->s);
    next_at_ = ctx.now + delay_;
    return;
  }
}

bool connector::check(attempt& a, ip_endpoint& remote) {
  auto& s = a.s;
  if (!s.wr && !s.rd)
    return false;
  if (s.wr && !s.err) {
    // Writable without an error or hang-up: connected. The peer is the
    // address we connected to (no getsockopt, no getpeername).
    remote = addrs_[a.index];
    return true;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == 0 && s.wr) {
    // An error event with SO_ERROR 0: only a peer address proves the
    // connection (gVisor has reported refused connects this way).
    if (auto peer = ip_endpoint::peer_of(s.fd)) {
      remote = *peer;
      return true;
    }
    err = errno == ENOTCONN ? ECONNREFUSED : errno;
  }
  if (err != 0) {
    last_ = from_errno(err);
    s.close();
    a.active = false;
  }
  return false;
}

connect_outcome connector::won(attempt& a, const ip_endpoint& remote, side& up,
                               loop_context& ctx) {
  // The winner's descriptor moves to the connection's upstream side, with
  // that side as its epoll handler; the other attempts are closed.
  int fd = a.s.fd;
  ctx.unwatch(fd);
  a.s.fd = -1;
  a.active = false;
  abort();
  up.fd = fd;
  up.reset_readiness();
  ctx.watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, up);
  up.wr = true;
  connect_outcome out;
  out.status = connect_status::connected;
  out.remote = remote;
  out.local = ip_endpoint::local_of(fd).value_or(ip_endpoint{});
  return out;
}

connect_outcome connector::on_ready(side& up, loop_context& ctx) {
  for (auto& a : attempts_) {
    ip_endpoint remote;
    if (a.active && check(a, remote))
      return won(a, remote, up, ctx);
  }
  return pending_or_failed(up, ctx);
}

connect_outcome connector::on_timer(side& up, loop_context& ctx) {
  if (in_flight() < max_in_flight && ctx.now >= next_at_)
    launch(up, ctx);
  return on_ready(up, ctx);
}

connect_outcome connector::pending_or_failed(side& up, loop_context& ctx) {
  // Every attempt failed: the next address goes at once (RFC 8305 5).
  while (in_flight() == 0 && next_ < addrs_.size())
    launch(up, ctx);
  if (in_flight() == 0) {
    if (more_)
      return connect_outcome{}; // pending: the other family may still come
    auto err = last_ != connect_error::none ? last_
               : denied_                   ? connect_error::denied
                                           : connect_error::other;
    if (err == connect_error::denied) // once per request, whatever the batches
      count_rule_block(ctx.traffic, cmd_connect);
    return connect_outcome{connect_status::failed, err, {}, {}, {}};
  }
  connect_outcome out;
  if (next_ < addrs_.size() && in_flight() < max_in_flight)
    out.next_attempt = next_at_;
  return out;
}

size_t connector::in_flight() const {
  return static_cast<size_t>(std::count_if(attempts_.begin(), attempts_.end(),
                                           [](const attempt& a) { return a.active; }));
}

void connector::abort() {
  for (auto& a : attempts_) {
    a.s.close(); // closing removes it from epoll
    a.active = false;
  }
}

} // namespace px::net
