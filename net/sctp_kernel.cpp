// Kernel SCTP (lksctp), one-to-one style: one fd per association.
#include <cerrno>
#include <cstring>
#include <map>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/log.hpp"
#include "net/sctp_loop.hpp"

namespace px::net {

namespace {

int open_sctp(int family) {
  return ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);
}

class kernel_transport : public detail::sctp_loop {
public:
  explicit kernel_transport(size_t max_message) : sctp_loop(max_message) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    epoll_ctl(ep_, EPOLL_CTL_ADD, tasks_.fd(), &ev);
  }

  ~kernel_transport() override {
    stop();
    for (auto& l : listeners_)
      ::close(l.first);
    ::close(ep_);
  }

  const char* kind() const override { return "kernel"; }

  std::variant<ip_endpoint, std::string>
  listen(const ip_endpoint& addr, std::shared_ptr<sctp_events> events) override {
    int fd = open_sctp(addr.v6 ? AF_INET6 : AF_INET);
    if (fd < 0)
      return "kernel SCTP socket: " + std::string{std::strerror(errno)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // Accepted sockets inherit the buffers (and the window they announce).
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &limits_.rcvbuf, sizeof(limits_.rcvbuf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &limits_.sndbuf, sizeof(limits_.sndbuf));
    if (addr.v6)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss;
    auto len = addr.to_sockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0
        || ::listen(fd, 64) != 0) {
      auto err = "cannot listen on SCTP " + addr.to_string() + ": "
                 + std::strerror(errno);
      ::close(fd);
      return err;
    }
    auto bound = ip_endpoint::local_of(fd).value_or(addr);
    listeners_[fd] = std::move(events);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_listener | static_cast<uint64_t>(fd);
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return bound;
  }

  void start() override {
    thread_ = std::thread([this] { run(); });
  }

protected:
  write_result write_one(assoc& a, const std::vector<uint8_t>& m) override {
    if (::send(fds_.at(a.id), m.data(), m.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
      return write_result::done;
    // EAGAIN: EPOLLOUT brings us back.
    return errno == EAGAIN || errno == EWOULDBLOCK ? write_result::again
                                                   : write_result::failed;
  }

  void shutdown_write(assoc& a) override {
    ::shutdown(fds_.at(a.id), SHUT_WR); // SHUTDOWN once the data is acked
  }

  void resume(assoc_id id) override {
    read_all(id);
  }

private:
  static constexpr uint64_t tag_listener = 1ULL << 62;
  static constexpr uint64_t tag_assoc = 1ULL << 61;

  void run() {
    epoll_event events[64];
    while (running_) {
      int n = epoll_wait(ep_, events, 64, 200);
      for (int i = 0; i < n; ++i) {
        auto tag = events[i].data.u64;
        if (tag == 0) {
          tasks_.run();
        } else if (tag & tag_listener) {
          accept_all(static_cast<int>(tag & ~tag_listener));
        } else if (tag & tag_assoc) {
          auto id = tag & ~tag_assoc;
          if (auto a = find(id); a && (events[i].events & EPOLLOUT))
            flush(*a);
          read_all(id); // also what back-pressure left waiting
        }
      }
      expire_closes();
    }
    drop_all();
  }

  void accept_all(int lfd) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;
      int one = 1;
      setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof(one));
      auto peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss))
                    .value_or(ip_endpoint{});
      if (!admit(peer)) {
        abort_close(fd);
        continue;
      }
      auto id = next_id_; // add_assoc takes this id
      fds_[id] = fd;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.u64 = tag_assoc | id;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      add_assoc(listeners_.at(lfd), peer);
      read_all(id); // data may have arrived with the handshake
    }
  }

  void read_all(assoc_id id) {
    uint8_t buf[8192];
    for (;;) {
      auto a = find(id);
      if (!a || !wants_read(*a))
        return;
      int fd = fds_.at(id);
      iovec iov{buf, sizeof(buf)};
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      auto n = ::recvmsg(fd, &mh, 0);
      if (n > 0) {
        if (mh.msg_flags & MSG_NOTIFICATION)
          continue;
        on_bytes(*a, buf, static_cast<size_t>(n), (mh.msg_flags & MSG_EOR) != 0);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n < 0 && errno == EINTR)
        continue;
      // The end of the association: expected after our shutdown.
      drop(id, !(n == 0 && a->shut));
      return;
    }
  }

  void drop(assoc_id id, bool abort) override {
    auto i = fds_.find(id);
    if (i == fds_.end())
      return;
    if (abort)
      abort_close(i->second);
    else
      ::close(i->second);
    fds_.erase(i);
    remove_assoc(id);
  }

  /// Closes with an ABORT: nothing lingers in the kernel.
  static void abort_close(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd);
  }

  int ep_ = -1;
  std::map<int, std::shared_ptr<sctp_events>> listeners_;
  std::map<assoc_id, int> fds_;
};

class kernel_client : public sctp_client {
public:
  explicit kernel_client(int fd) : fd_(fd) {
    // nop
  }

  ~kernel_client() override { ::close(fd_); }

  bool send(const std::vector<uint8_t>& msg) override {
    if (::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL) < 0) {
      err_ = std::strerror(errno);
      return false;
    }
    return true;
  }

  bool receive(std::vector<uint8_t>& msg, int timeout_ms) override {
    msg.clear();
    uint8_t buf[8192];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r == 0) {
        err_ = "timed out waiting for a reply";
        return false;
      }
      iovec iov{buf, sizeof(buf)};
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      auto n = ::recvmsg(fd_, &mh, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n <= 0) {
        err_ = n == 0 ? "the server closed the association" : std::strerror(errno);
        return false;
      }
      if (mh.msg_flags & MSG_NOTIFICATION)
        continue;
      msg.insert(msg.end(), buf, buf + n);
      if (mh.msg_flags & MSG_EOR)
        return true;
    }
  }

  std::string error() const override { return err_; }

private:
  int fd_;
  std::string err_;
};

} // namespace

bool kernel_sctp_available() {
  int fd = open_sctp(AF_INET);
  if (fd < 0)
    return false;
  ::close(fd);
  return true;
}

std::unique_ptr<sctp_transport> make_kernel_sctp(size_t max_message,
                                                 std::string& err) {
  if (!kernel_sctp_available()) {
    err = std::string{"this kernel has no SCTP: "} + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<kernel_transport>(max_message);
}

std::unique_ptr<sctp_client> connect_kernel_sctp(const ip_endpoint& server,
                                                 int timeout_ms, std::string& err) {
  int fd = open_sctp(server.v6 ? AF_INET6 : AF_INET);
  if (fd < 0) {
    err = std::string{"kernel SCTP socket: "} + std::strerror(errno);
    return nullptr;
  }
  sockaddr_storage ss;
  auto len = server.to_sockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0
      && errno != EINPROGRESS) {
    err = "connect " + server.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  pollfd p{fd, POLLOUT, 0};
  int so_err = 0;
  socklen_t slen = sizeof(so_err);
  if (::poll(&p, 1, timeout_ms) <= 0) {
    err = "connect " + server.to_string() + ": timed out";
    ::close(fd);
    return nullptr;
  }
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &slen);
  if (so_err != 0) {
    err = "connect " + server.to_string() + ": " + std::strerror(so_err);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<kernel_client>(fd);
}

} // namespace px::net
