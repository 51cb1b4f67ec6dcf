#include "net/reactor/handshake_io.hpp"

#include <algorithm>
#include <cerrno>

#include <sys/socket.h>

namespace px::net {

std::vector<uint8_t> outbox::take() {
  std::vector<uint8_t> rest;
  if (pending())
    rest.assign(bytes.begin() + static_cast<long>(off), bytes.end());
  bytes.clear();
  off = 0;
  return rest;
}

flush_status flush(side& s, outbox& out) {
  while (out.pending() && s.wr) {
    auto n = s.write_some(out.bytes.data() + out.off, out.bytes.size() - out.off);
    if (n > 0)
      out.off += static_cast<size_t>(n);
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      s.wr = false;
    else if (n < 0 && errno == EINTR)
      continue;
    else
      return flush_status::error;
  }
  if (out.pending())
    return flush_status::pending;
  out.bytes.clear();
  out.off = 0;
  return out.then == after::close ? flush_status::close : flush_status::flushed;
}

read_status read_more(side& s, std::vector<uint8_t>& in, size_t chunk) {
  if (!s.rd)
    return read_status::none;
  auto old = in.size();
  in.resize(old + chunk);
  auto n = s.read_some(in.data() + old, chunk);
  in.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n > 0) {
    // A short read drained the socket; the next arrival is a new edge.
    if (static_cast<size_t>(n) < chunk && !s.hup)
      s.rd = false;
    return read_status::got;
  }
  if (n < 0 && errno == EINTR)
    return read_status::got; // nothing appended: the caller parses again
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    s.rd = false;
    return read_status::none;
  }
  return read_status::gone;
}

bool peer_gone(const side& s, bool buffered) {
  if (!s.hup)
    return false;
  if (s.err)
    return true;
  if (buffered)
    return false;
  uint8_t b;
  auto n = ::recv(s.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

read_status discard(side& s) {
  uint8_t sink[512];
  while (s.rd) {
    auto n = s.read_some(sink, sizeof(sink));
    if (n > 0)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      s.rd = false;
      return read_status::none;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return n == 0 ? read_status::eof : read_status::gone;
  }
  return read_status::none;
}

} // namespace px::net
