#include "net/reactor/udp_relay.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/reactor/loop_context.hpp"
#include "net/reactor/outbound.hpp"
#include "net/socks5_codec.hpp"

namespace px::net {

namespace {

/// Largest number of datagrams waiting for a destination name to resolve.
constexpr size_t max_waiting = 64;
/// Largest number of resolved names remembered per association.
constexpr size_t max_names = 64;
/// Room kept before a datagram from a target for the header (the largest:
/// a domain of 255 bytes).
constexpr size_t header_room = 300;

} // namespace

void udp_relay::udp_socket::on_io(uint32_t) {
  rd = true;
  if (owner->started_)
    owner->service();
}

udp_relay::udp_relay(loop_context& ctx, idle_node& idle, ip_endpoint expect,
                     rule_subject who)
  : ctx_(ctx), idle_(idle), expect_(expect), who_(std::move(who)) {
  for (auto* s : {&client_, &out4_, &out6_, &via_})
    s->owner = this;
}

udp_relay::~udp_relay() {
  close();
}

bool udp_relay::open_socket(udp_socket& s, const ip_endpoint& addr) {
  int fd = ::socket(addr.v6 ? AF_INET6 : AF_INET,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  int one = 1;
  if (addr.v6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss;
  auto len = addr.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    auto err = errno;
    ::close(fd);
    errno = err;
    return false;
  }
  s.fd = fd;
  ctx_.watch(fd, EPOLLIN | EPOLLET, s);
  return true;
}

bool udp_relay::open_outgoing(udp_socket& s, bool v6, const outbound_profile* p) {
  ip_endpoint any;
  any.v6 = v6;
  connect_error err;
  int fd = open_outbound(any, SOCK_DGRAM, p, err);
  if (fd < 0)
    return false;
  s.fd = fd;
  ctx_.watch(fd, EPOLLIN | EPOLLET, s);
  return true;
}

std::optional<ip_endpoint> udp_relay::open_client(ip_endpoint local) {
  local.port = 0;
  if (!open_socket(client_, local))
    return std::nullopt;
  return ip_endpoint::local_of(client_.fd).value_or(local);
}

std::optional<ip_endpoint> udp_relay::open(ip_endpoint local,
                                           const outbound_profile* profile) {
  auto bound = open_client(local);
  if (!bound)
    return std::nullopt;
  // IPv4 is required unless the profile refuses it; IPv6 is optional (a
  // host without IPv6 is fine), but one of them must open.
  bool refuses4 = profile != nullptr && profile->refuses(false);
  if (!refuses4 && !open_outgoing(out4_, false, profile))
    return std::nullopt;
  if (!open_outgoing(out6_, true, profile) && refuses4)
    return std::nullopt;
  return bound;
}

void udp_relay::start() {
  started_ = true;
  client_.rd = out4_.rd = out6_.rd = via_.rd = true;
  service();
}

void udp_relay::close() {
  for (auto* s : {&client_, &out4_, &out6_, &via_}) {
    if (s->fd >= 0)
      ::close(s->fd);
    s->fd = -1;
  }
  started_ = false;
  user_ = nullptr; // the connection's login (and the account) goes now
}

void udp_relay::touch() {
  ctx_.timers.idle_touch(idle_, ctx_.now);
}

void udp_relay::service() {
  from_client();
  if (via_.fd >= 0) {
    from_parent();
    return;
  }
  from_targets(out4_);
  from_targets(out6_);
}

void udp_relay::count(bool up, size_t n) {
  (up ? up_ : down_) += n;
  (up ? ctx_.traffic.bytes_up : ctx_.traffic.bytes_down) += n;
  if (user_ != nullptr)
    (up ? user_->bytes_up : user_->bytes_down).fetch_add(n, std::memory_order_relaxed);
  touch();
}

bool udp_relay::from_expected_client(const ip_endpoint& src) const {
  return same_host(src, expect_) && (expect_.port == 0 || src.port == expect_.port)
         && (!client_known_ || src == client_addr_);
}

void udp_relay::from_client() {
  static thread_local std::vector<uint8_t> buf(65536);
  while (client_.rd && client_.fd >= 0) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    auto n = ::recvfrom(client_.fd, buf.data(), buf.size(), 0,
                        reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (errno != EINTR)
        client_.rd = false;
      continue;
    }
    auto src = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    socks5::udp_header h;
    auto r = socks5::parse_udp_header(buf.data(), static_cast<size_t>(n), h);
    if (!src || !from_expected_client(*src) || r.status != socks5::parse_status::done
        || h.frag != 0) {
      ++ctx_.traffic.udp_dropped;
      continue;
    }
    if (!client_known_) {
      client_known_ = true;
      client_addr_ = *src;
    }
    if (via_.fd >= 0) {
      to_parent(buf.data(), static_cast<size_t>(n), h, r.consumed);
      continue;
    }
    auto payload = buf.data() + r.consumed;
    auto plen = static_cast<size_t>(n) - r.consumed;
    if (h.addr.type != socks5::atyp::domain)
      send_to(h.addr.ip, payload, plen);
    else
      to_name(h.addr.domain, h.addr.port(), payload, plen);
  }
}

void udp_relay::to_name(const std::string& domain, uint16_t port,
                        const uint8_t* data, size_t n) {
  if (blocked(domain, nullptr, port))
    return; // the name alone decides: no DNS
  if (auto i = names_.find(domain); i != names_.end()) {
    auto dst = i->second;
    dst.port = port;
    send_to(dst, data, n, domain);
    return;
  }
  if (queue_.size() >= max_waiting || !ctx_.dns.available()) {
    ++ctx_.traffic.udp_dropped;
    return;
  }
  queue_.push_back({domain, port, std::vector<uint8_t>(data, data + n)});
  if (!resolving_.insert(domain).second)
    return;
  std::weak_ptr<udp_relay> self = shared_from_this();
  // A datagram goes to one address: the family that answers first (within
  // the resolution delay) will do, and a late one is not needed.
  ctx_.dns.resolve(
    domain, false,
    [self, domain](resolve_result res) {
      if (auto r = self.lock())
        r->on_resolved(domain, res);
    },
    [](resolve_result) {});
}

void udp_relay::on_resolved(const std::string& domain, const resolve_result& res) {
  resolving_.erase(domain);
  std::optional<ip_endpoint> ip;
  if (!res.addrs.empty())
    ip = res.addrs.front();
  if (ip && names_.size() < max_names)
    names_[domain] = *ip;
  std::deque<waiting> rest;
  for (auto& w : queue_) {
    if (w.domain != domain) {
      rest.push_back(std::move(w));
    } else if (ip && client_.fd >= 0) {
      auto dst = *ip;
      dst.port = w.port;
      send_to(dst, w.payload.data(), w.payload.size(), domain);
    } else {
      ++ctx_.traffic.udp_dropped;
    }
  }
  queue_.swap(rest);
}

bool udp_relay::blocked(std::string_view name, const ip_endpoint* to, uint16_t port) {
  if (!who_.rules || who_.rules->trivial())
    return false;
  auto q = who_.query(cmd_udp);
  q.name = name;
  q.address = to;
  q.port = port;
  q.port_known = true;
  if (who_.rules->check(q).kind != rule_verdict::block)
    return false;
  ++ctx_.traffic.udp_dropped;
  ++ctx_.traffic.rule_blocks_udp;
  return true;
}

void udp_relay::send_to(const ip_endpoint& to, const uint8_t* data, size_t n,
                        std::string_view name) {
  auto dst = canonical_destination(to); // what rules must see (0.0.0.0 is local)
  if (blocked(name, &dst, dst.port))
    return;
  auto& out = dst.v6 ? out6_ : out4_;
  if (out.fd < 0) {
    ++ctx_.traffic.udp_dropped;
    return;
  }
  if (user_ != nullptr && over_bandwidth(user_->up, n))
    return;
  sockaddr_storage ss;
  auto len = dst.to_sockaddr(ss);
  if (::sendto(out.fd, data, n, 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    ++ctx_.traffic.udp_dropped; // full socket buffer: datagrams may be lost
    return;
  }
  count(true, n);
}

bool udp_relay::over_bandwidth(rate_bucket& bucket, size_t n) {
  if (bucket.unlimited())
    return false;
  limit_clock::time_point retry;
  if (bucket.grant(ctx_.now, n, n, retry) == n)
    return false;
  ++ctx_.traffic.udp_dropped;
  return true;
}

void udp_relay::from_targets(udp_socket& out) {
  static thread_local std::vector<uint8_t> buf(65536);
  while (out.rd && out.fd >= 0) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    auto n = ::recvfrom(out.fd, buf.data() + header_room, buf.size() - header_room,
                        0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (errno != EINTR)
        out.rd = false;
      continue;
    }
    auto src = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    if (!src || !client_known_) {
      ++ctx_.traffic.udp_dropped;
      continue;
    }
    if (user_ != nullptr && over_bandwidth(user_->down, static_cast<size_t>(n)))
      continue;
    std::vector<uint8_t> head;
    socks5::encode_udp_header(socks5::address::from(*src), head);
    // The header goes right before the payload: one sendto, no copy of the
    // payload.
    auto start = buf.data() + header_room - head.size();
    std::memcpy(start, head.data(), head.size());
    sockaddr_storage cs;
    auto clen = client_addr_.to_sockaddr(cs);
    auto total = head.size() + static_cast<size_t>(n);
    if (::sendto(client_.fd, start, total, 0, reinterpret_cast<sockaddr*>(&cs), clen)
        < 0) {
      ++ctx_.traffic.udp_dropped;
      continue;
    }
    count(false, static_cast<size_t>(n));
  }
}

} // namespace px::net
