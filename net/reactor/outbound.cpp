#include "net/reactor/outbound.hpp"

#include <cerrno>
#include <cstring>

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/limits.hpp"
#include "net/reactor/errors.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#  define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace px::net {

namespace {

/// -1 after closing `fd`, with `err` set from `code`.
int fail(int fd, int code, connect_error& err) {
  if (fd >= 0)
    ::close(fd);
  err = from_errno(code);
  if (err == connect_error::none)
    err = connect_error::other;
  errno = code;
  return -1;
}

/// Applies the device and the mark of `p`; 0 or an errno.
int apply_device_and_mark(int fd, const outbound_profile& p) {
  if (!p.interface.empty()
      && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p.interface.c_str(),
                    static_cast<socklen_t>(p.interface.size()))
           != 0)
    return errno;
  if (p.mark) {
    int mark = static_cast<int>(*p.mark);
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
      return errno;
  }
  return 0;
}

/// Binds `fd` to `addr`; 0 or an errno.
int bind_to(int fd, const ip_endpoint& addr) {
  sockaddr_storage ss;
  auto len = addr.to_sockaddr(ss);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 ? 0 : errno;
}

/// A non-blocking close-on-exec socket with the device and mark of `p`
/// (null: none), IPv6-only for datagrams; -1 with `err` set.
int make_socket(bool v6, int type, const outbound_profile* p, connect_error& err) {
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(-1, errno, err);
  if (v6 && type == SOCK_DGRAM) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (p != nullptr)
    if (int code = apply_device_and_mark(fd, *p); code != 0)
      return fail(fd, code, err);
  return fd;
}

/// A stream socket bound to `addr` (any port) under `p`.
int listener_at(ip_endpoint addr, const outbound_profile* p, connect_error& err) {
  int fd = make_socket(addr.v6, SOCK_STREAM, p, err);
  if (fd < 0)
    return fd;
  addr.port = 0;
  if (int code = bind_to(fd, addr); code != 0)
    return fail(fd, code, err);
  return fd;
}

} // namespace

int open_outbound(const ip_endpoint& dst, int type, const outbound_profile* p,
                  connect_error& err) {
  err = connect_error::none;
  if (p != nullptr && p->refuses(dst.v6))
    return fail(-1, ENETUNREACH, err);
  int fd = make_socket(dst.v6, type, p, err);
  if (fd < 0)
    return fd;
  const std::optional<ip_endpoint>* source = nullptr;
  if (p != nullptr)
    source = dst.v6 ? &p->address6 : &p->address4;
  if (type == SOCK_STREAM) {
    if (source == nullptr || !*source)
      return fd; // the kernel picks the source at connect
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    auto addr = **source;
    addr.port = 0;
    if (int code = bind_to(fd, addr); code != 0)
      return fail(fd, code, err);
    return fd;
  }
  // A datagram socket receives answers before it sends: bound now.
  ip_endpoint addr;
  addr.v6 = dst.v6;
  if (source != nullptr && *source)
    addr = **source;
  addr.port = 0;
  if (int code = bind_to(fd, addr); code != 0)
    return fail(fd, code, err);
  return fd;
}

int open_outbound_listener(const ip_endpoint& local, const outbound_profile* p,
                           connect_error& err) {
  err = connect_error::none;
  if (p != nullptr && !p->empty()) {
    // The profile's source for the family the client reached us over (an
    // IPv4-mapped address is IPv4).
    auto unmapped = canonical_destination(local);
    auto& source = unmapped.v6 ? p->address6 : p->address4;
    if (p->refuses(unmapped.v6))
      return fail(-1, ENETUNREACH, err);
    if (source)
      return listener_at(*source, p, err);
  }
  return listener_at(local, p, err);
}

const outbound_profile* pick_outbound(const outbound_table* table,
                                      const account* user, bool& unknown) {
  unknown = false;
  if (table == nullptr)
    return nullptr;
  if (user == nullptr)
    return &table->fallback;
  auto name = user->outbound();
  auto p = table->find(*name);
  unknown = p == nullptr;
  return p;
}

} // namespace px::net
