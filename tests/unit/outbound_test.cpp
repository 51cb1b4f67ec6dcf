// net/reactor/outbound: the sockets a profile opens, on loopback. The source
// address shows in getsockname (127.0.0.2 is loopback too); the device and
// the mark read back with getsockopt (both need CAP_NET_RAW/ADMIN: the
// suite runs as root, and says so when it does not).
#define CAF_SUITE outbound
#include <caf/test/unit_test_impl.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/limits.hpp"
#include "net/reactor/outbound.hpp"

using namespace px;
using namespace px::net;

namespace {

ip_endpoint ep(const char* text) {
  auto x = ip_endpoint::parse(text, 0);
  CAF_REQUIRE(x);
  return *x;
}

/// A loopback TCP listener; its address.
int listener(const char* at, ip_endpoint& where) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_storage ss;
  auto len = ep(at).to_sockaddr(ss);
  CAF_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
  CAF_REQUIRE(::listen(fd, 4) == 0);
  auto x = ip_endpoint::local_of(fd);
  CAF_REQUIRE(x);
  where = *x;
  return fd;
}

/// Connects `fd` to `to` and waits (blocking poll) until it is done.
bool connect_to(int fd, const ip_endpoint& to) {
  sockaddr_storage ss;
  auto len = to.to_sockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return false;
  fd_set w;
  FD_ZERO(&w);
  FD_SET(fd, &w);
  timeval tv{2, 0};
  return ::select(fd + 1, nullptr, &w, nullptr, &tv) == 1;
}

/// The local address and port of `fd` (values, not temporaries).
std::string host_of(int fd) {
  auto x = ip_endpoint::local_of(fd);
  return x ? x->host_string() : "?";
}

int port_of(int fd) {
  auto x = ip_endpoint::local_of(fd);
  return x ? x->port : -1;
}

std::string peer_host_of(int fd) {
  auto x = ip_endpoint::peer_of(fd);
  return x ? x->host_string() : "?";
}

bool root() {
  return ::geteuid() == 0;
}

} // namespace

CAF_TEST(without a profile a stream socket is unbound and non-blocking) {
  connect_error err;
  int fd = open_outbound(ep("127.0.0.1:80"), SOCK_STREAM, nullptr, err);
  CAF_REQUIRE(fd >= 0);
  CAF_CHECK(err == connect_error::none);
  CAF_CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CAF_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CAF_CHECK_EQUAL(port_of(fd), 0);
  ::close(fd);
}

CAF_TEST(the IPv4 address of a profile is the source of a TCP connect) {
  ip_endpoint target;
  int lfd = listener("127.0.0.1:0", target);
  outbound_profile p;
  p.address4 = ep("127.0.0.2");
  connect_error err;
  int fd = open_outbound(target, SOCK_STREAM, &p, err);
  CAF_REQUIRE(fd >= 0);
  // Bound without a port (IP_BIND_ADDRESS_NO_PORT): the port comes at connect.
  CAF_CHECK_EQUAL(port_of(fd), 0);
  CAF_REQUIRE(connect_to(fd, target));
  CAF_CHECK_EQUAL(host_of(fd), "127.0.0.2");
  CAF_CHECK_NOT_EQUAL(port_of(fd), 0);
  int peer = ::accept(lfd, nullptr, nullptr);
  CAF_CHECK_EQUAL(peer_host_of(peer), "127.0.0.2");
  ::close(peer);
  ::close(fd);
  ::close(lfd);
}

CAF_TEST(a family without an address is unreachable when the other has one) {
  outbound_profile p;
  p.address4 = ep("127.0.0.2");
  connect_error err;
  CAF_CHECK_EQUAL(open_outbound(ep("[::1]:80"), SOCK_STREAM, &p, err), -1);
  CAF_CHECK(err == connect_error::network_unreachable);
  CAF_CHECK_EQUAL(open_outbound(ep("[::1]:80"), SOCK_DGRAM, &p, err), -1);
  CAF_CHECK(err == connect_error::network_unreachable);
  outbound_profile q;
  q.address6 = ep("::1");
  CAF_CHECK_EQUAL(open_outbound(ep("127.0.0.1:80"), SOCK_STREAM, &q, err), -1);
  CAF_CHECK(err == connect_error::network_unreachable);
  // A profile with a device only leaves both families alone.
  outbound_profile lo;
  lo.interface = "lo";
  if (root()) {
    int fd = open_outbound(ep("[::1]:80"), SOCK_STREAM, &lo, err);
    CAF_CHECK(fd >= 0);
    ::close(fd);
  }
}

CAF_TEST(an address the host lacks fails the open) {
  outbound_profile p;
  p.address4 = ep("192.0.2.77"); // TEST-NET-1: not on this host
  connect_error err;
  CAF_CHECK_EQUAL(open_outbound(ep("127.0.0.1:80"), SOCK_STREAM, &p, err), -1);
  CAF_CHECK(err != connect_error::none);
}

CAF_TEST(a datagram socket is bound to the source at once) {
  outbound_profile p;
  p.address4 = ep("127.0.0.2");
  connect_error err;
  int fd = open_outbound(ep("0.0.0.0:0"), SOCK_DGRAM, &p, err);
  CAF_REQUIRE(fd >= 0);
  CAF_CHECK_EQUAL(host_of(fd), "127.0.0.2");
  CAF_CHECK_NOT_EQUAL(port_of(fd), 0);
  ::close(fd);
  // Without a profile: the family's wildcard.
  fd = open_outbound(ep("0.0.0.0:0"), SOCK_DGRAM, nullptr, err);
  CAF_REQUIRE(fd >= 0);
  CAF_CHECK_EQUAL(host_of(fd), "0.0.0.0");
  ::close(fd);
}

CAF_TEST(the BIND listener takes the profile address of the client family) {
  outbound_profile p;
  p.address4 = ep("127.0.0.3");
  connect_error err;
  int fd = open_outbound_listener(ep("127.0.0.1:1080"), &p, err);
  CAF_REQUIRE(fd >= 0);
  CAF_CHECK_EQUAL(host_of(fd), "127.0.0.3");
  ::close(fd);
  fd = open_outbound_listener(ep("127.0.0.1:1080"), nullptr, err);
  CAF_REQUIRE(fd >= 0);
  CAF_CHECK_EQUAL(host_of(fd), "127.0.0.1");
  ::close(fd);
  CAF_CHECK_EQUAL(open_outbound_listener(ep("[::1]:1080"), &p, err), -1);
  CAF_CHECK(err == connect_error::network_unreachable);
}

CAF_TEST(the device and the mark are set) {
  if (!root()) {
    CAF_MESSAGE("not root: SO_BINDTODEVICE and SO_MARK not tested");
    return;
  }
  outbound_profile p;
  p.interface = "lo";
  p.mark = 0x2a;
  connect_error err;
  int fd = open_outbound(ep("127.0.0.1:80"), SOCK_STREAM, &p, err);
  CAF_REQUIRE(fd >= 0);
  char dev[16] = {};
  socklen_t len = sizeof(dev);
  CAF_CHECK_EQUAL(getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len), 0);
  CAF_CHECK_EQUAL(std::string{dev}, "lo");
  int mark = 0;
  len = sizeof(mark);
  CAF_CHECK_EQUAL(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
  CAF_CHECK_EQUAL(mark, 0x2a);
  ::close(fd);
  p.interface = "nosuchdev0";
  CAF_CHECK_EQUAL(open_outbound(ep("127.0.0.1:80"), SOCK_STREAM, &p, err), -1);
  CAF_CHECK(err != connect_error::none);
}

CAF_TEST(a connection takes the profile of its user or the default) {
  outbound_table t;
  t.fallback.address4 = ep("127.0.0.2");
  t.named["office"].address4 = ep("127.0.0.3");
  bool unknown = true;
  CAF_CHECK(pick_outbound(nullptr, nullptr, unknown) == nullptr);
  CAF_CHECK(!unknown);
  CAF_CHECK(pick_outbound(&t, nullptr, unknown) == &t.fallback);
  account alice{"alice"};
  CAF_CHECK(pick_outbound(&t, &alice, unknown) == &t.fallback);
  alice.set_outbound("office");
  CAF_CHECK(pick_outbound(&t, &alice, unknown) == &t.named["office"]);
  alice.set_outbound("gone");
  CAF_CHECK(pick_outbound(&t, &alice, unknown) == nullptr);
  CAF_CHECK(unknown);
}
