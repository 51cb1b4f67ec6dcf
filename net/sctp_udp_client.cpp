// The blocking SCTP-over-UDP client of proxyctl and the tests: usrsctp in
// AF_CONN mode over one connected UDP socket of ours (no usrsctp threads, no
// raw sockets, nothing bound on every interface). Packets and timers are
// processed while the client waits for something.
#include <cerrno>
#include <chrono>
#include <cstring>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <usrsctp.h>

#include "net/sctp.hpp"
#include "net/sctp_conn.hpp"

namespace px::net {

namespace {

using namespace detail;
using clock = std::chrono::steady_clock;

/// Our UDP socket, connected to the server's encapsulation port, and its
/// path. Owns both; the usrsctp stack is held as long as it lives.
class client_io {
public:
  client_io() {
    conn_stack_acquire();
  }

  ~client_io() {
    conn_stack_release([this] { pump(0); });
    if (path_ != 0)
      conn_path_remove(path_);
    if (fd_ >= 0)
      ::close(fd_);
  }

  client_io(const client_io&) = delete;
  client_io& operator=(const client_io&) = delete;

  /// Opens the UDP socket towards `udp_peer`, bound to `source` if any;
  /// false and `err` on failure.
  bool open(const ip_endpoint& udp_peer, const std::optional<ip_endpoint>& source,
            std::string& err) {
    if (source) {
      fd_ = open_udp(*source, err);
      if (fd_ < 0)
        return false;
    } else {
      fd_ = ::socket(udp_peer.v6 ? AF_INET6 : AF_INET,
                     SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    sockaddr_storage ss;
    auto len = udp_peer.to_sockaddr(ss);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      err = "UDP socket to " + udp_peer.to_string() + ": " + std::strerror(errno);
      return false;
    }
    path_ = conn_path_add(fd_, udp_peer);
    return true;
  }

  conn_path path() const {
    return path_;
  }

  /// True once the server's host answered "port unreachable".
  bool refused() const {
    return refused_;
  }

  /// Waits up to `wait_ms` for datagrams, hands them all to usrsctp and
  /// runs its timers.
  void pump(int wait_ms) {
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, wait_ms);
    uint8_t buf[65536];
    for (;;) {
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n >= 0) {
        conn_input(path_, buf, static_cast<size_t>(n));
        continue;
      }
      if (errno == ECONNREFUSED)
        refused_ = true;
      else if (errno != EINTR)
        break;
    }
    conn_tick();
  }

  /// Pumps for at most 10 ms; false once `deadline` has passed.
  bool wait_until(clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock::now());
    if (left.count() <= 0)
      return false;
    pump(static_cast<int>(std::min<long>(left.count(), 10)));
    return true;
  }

private:
  int fd_ = -1;
  conn_path path_ = 0;
  bool refused_ = false;
};

class udp_client : public sctp_client {
public:
  udp_client(std::unique_ptr<client_io> io, struct socket* s, int timeout_ms)
    : io_(std::move(io)), s_(s), timeout_ms_(timeout_ms) {
    // nop
  }

  ~udp_client() override {
    usrsctp_set_upcall(s_, nullptr, nullptr);
    usrsctp_close(s_);
  }

  bool send(const std::vector<uint8_t>& msg) override {
    auto deadline = clock::now() + std::chrono::milliseconds{timeout_ms_};
    for (;;) {
      if (conn_send(s_, msg.data(), msg.size()) >= 0)
        return true;
      if (!again(deadline, "timed out: the server takes no more messages"))
        return false;
    }
  }

  bool receive(std::vector<uint8_t>& msg, int timeout_ms) override {
    msg.clear();
    uint8_t buf[8192];
    auto deadline = clock::now() + std::chrono::milliseconds{timeout_ms};
    for (;;) {
      int flags = 0;
      auto n = conn_recv(s_, buf, sizeof(buf), flags);
      if (n > 0) {
        if (flags & MSG_NOTIFICATION)
          continue;
        msg.insert(msg.end(), buf, buf + n);
        if (flags & MSG_EOR)
          return true;
        continue;
      }
      if (n == 0) {
        err_ = "the server closed the association";
        return false;
      }
      if (!again(deadline, "timed out waiting for a reply"))
        return false;
    }
  }

  std::string error() const override {
    return err_;
  }

private:
  /// After a call that failed: true once packets were processed and the
  /// call may be tried again; false with `err_` set on a real error or once
  /// `deadline` passed (`timed_out` then).
  bool again(clock::time_point deadline, const char* timed_out) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      err_ = std::strerror(errno);
      return false;
    }
    if (!io_->wait_until(deadline)) {
      err_ = timed_out;
      return false;
    }
    return true;
  }

  // Destroyed after the socket is closed: its pumping carries the SHUTDOWN.
  std::unique_ptr<client_io> io_;
  struct socket* s_;
  int timeout_ms_;
  std::string err_;
};

/// Waits for the association to come up; an error text, empty on success.
std::string await_connected(struct socket* s, client_io& io,
                            const std::string& what, int timeout_ms) {
  auto deadline = clock::now() + std::chrono::milliseconds{timeout_ms};
  for (;;) {
    int ev = usrsctp_get_events(s);
    if (ev & SCTP_EVENT_WRITE)
      return {};
    if ((ev & SCTP_EVENT_ERROR) || io.refused())
      return "connect " + what + ": refused";
    if (!io.wait_until(deadline))
      return "connect " + what + ": timed out";
  }
}

} // namespace

std::unique_ptr<sctp_client>
connect_udp_sctp(const ip_endpoint& server, uint16_t remote_udp_port,
                 int timeout_ms, std::string& err,
                 const std::optional<ip_endpoint>& source) {
  auto io = std::make_unique<client_io>();
  auto udp_peer = server;
  udp_peer.port = remote_udp_port;
  if (!io->open(udp_peer, source, err))
    return nullptr;
  auto s = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr,
                          0, nullptr);
  if (!s) {
    err = std::string{"usrsctp socket: "} + std::strerror(errno);
    return nullptr;
  }
  tune_socket(s, 0, 0);
  sockaddr_storage local;
  sockaddr_storage remote;
  auto llen = conn_address(io->path(), 0, local);
  auto rlen = conn_address(io->path(), server.port, remote);
  auto what = server.to_string() + " (UDP port " + std::to_string(remote_udp_port) + ")";
  if (usrsctp_bind(s, reinterpret_cast<sockaddr*>(&local), llen) != 0
      || (usrsctp_connect(s, reinterpret_cast<sockaddr*>(&remote), rlen) != 0
          && errno != EINPROGRESS)) {
    err = "connect " + what + ": " + std::strerror(errno);
  } else {
    err = await_connected(s, *io, what, timeout_ms);
    if (err.empty())
      return std::make_unique<udp_client>(std::move(io), s, timeout_ms);
  }
  set_linger_abort(s);
  usrsctp_close(s);
  return nullptr;
}

} // namespace px::net
