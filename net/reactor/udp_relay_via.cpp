// A UDP association through a parent proxy (see udp_relay.hpp): the socket
// towards the parent's relay, and the datagrams both ways through it. The
// loop core (loop_upstream.cpp) runs the parent's UDP ASSOCIATE on a TCP
// control connection and tells the relay where the parent's relay waits.
// Part of class udp_relay.
#include <cerrno>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/reactor/loop_context.hpp"
#include "net/reactor/outbound.hpp"
#include "net/reactor/udp_relay.hpp"

namespace px::net {

std::optional<ip_endpoint> udp_relay::open_via(const ip_endpoint& parent,
                                               const ip_endpoint& near,
                                               const outbound_profile* profile) {
  if (via_.fd >= 0) // the socket towards a parent that failed
    ::close(via_.fd);
  via_.fd = -1;
  connect_error err;
  int fd = open_outbound(parent, SOCK_DGRAM, profile, err);
  if (fd < 0)
    return std::nullopt;
  via_.fd = fd;
  ctx_.watch(fd, EPOLLIN | EPOLLET, via_);
  auto mine = ip_endpoint::local_of(fd);
  if (!mine)
    return std::nullopt;
  // Bound to the wildcard (no source address in the profile), the socket
  // sends from the address the control connection uses: the parent is told
  // that address, as RFC 1928 asks, not 0.0.0.0.
  auto out = near;
  out.port = mine->port;
  return out;
}

void udp_relay::to_parent(const uint8_t* data, size_t n, const socks5::udp_header& h,
                          size_t head) {
  if (h.addr.type == socks5::atyp::domain) {
    if (blocked(h.addr.domain, nullptr, h.addr.port()))
      return; // the name alone decides: the parent resolves it
  } else {
    auto dst = canonical_destination(h.addr.ip);
    if (blocked({}, &dst, dst.port))
      return;
  }
  auto payload = n - head;
  if (user_ != nullptr && over_bandwidth(user_->up, payload))
    return;
  sockaddr_storage ss;
  auto len = relay_.to_sockaddr(ss);
  if (::sendto(via_.fd, data, n, 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    ++ctx_.traffic.udp_dropped;
    return;
  }
  count(true, payload);
}

void udp_relay::from_parent() {
  static thread_local std::vector<uint8_t> buf(65536);
  while (via_.rd && via_.fd >= 0) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    auto n = ::recvfrom(via_.fd, buf.data(), buf.size(), 0,
                        reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (errno != EINTR)
        via_.rd = false;
      continue;
    }
    auto src = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    socks5::udp_header h;
    auto r = socks5::parse_udp_header(buf.data(), static_cast<size_t>(n), h);
    // Only the parent's relay answers, with a whole header naming the source.
    if (!src || *src != relay_ || !client_known_ || r.status != socks5::parse_status::done
        || h.frag != 0) {
      ++ctx_.traffic.udp_dropped;
      continue;
    }
    auto payload = static_cast<size_t>(n) - r.consumed;
    if (user_ != nullptr && over_bandwidth(user_->down, payload))
      continue;
    sockaddr_storage cs;
    auto clen = client_addr_.to_sockaddr(cs);
    if (::sendto(client_.fd, buf.data(), static_cast<size_t>(n), 0,
                 reinterpret_cast<sockaddr*>(&cs), clen)
        < 0) {
      ++ctx_.traffic.udp_dropped;
      continue;
    }
    count(false, payload);
  }
}

} // namespace px::net
