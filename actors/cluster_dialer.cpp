// The cluster's dialer (actors/cluster.hpp): tells whether a TCP connect to
// a peer succeeds within a second. It blocks (getaddrinfo, poll), so it runs
// detached, one per peer; the cluster actor asks the middleman for the
// peer's actor only after a probe succeeded, because the middleman's own
// connect blocks its actor until the kernel gives up (minutes) when the
// peer is unreachable.
#include <cerrno>
#include <cstring>
#include <string>

#include <caf/all.hpp>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/cluster.hpp"

namespace px {

namespace {

/// How long one address may take to accept.
constexpr int probe_ms = 1000;

/// Whether a non-blocking connect to `ai` completes within probe_ms.
bool try_address(const addrinfo* ai) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
  if (fd < 0)
    return false;
  bool ok = false;
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    ok = ::poll(&p, 1, probe_ms) == 1
         && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  ::close(fd);
  return ok;
}

/// Whether any address of host:port accepts a TCP connection.
bool probe(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0)
    return false;
  bool ok = false;
  for (auto ai = res; ai != nullptr && !ok; ai = ai->ai_next)
    ok = try_address(ai);
  ::freeaddrinfo(res);
  return ok;
}

} // namespace

caf::behavior cluster_dialer(caf::event_based_actor*) {
  return {
    [](probe_atom, const std::string& host, uint16_t port) {
      return probe(host, port);
    },
  };
}

} // namespace px
