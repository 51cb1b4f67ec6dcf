// SCTP over UDP (RFC 6951) with usrsctp, one-to-one style. usrsctp runs its
// own threads; its upcalls only mark sockets ready and wake our I/O thread,
// which does every accept, receive and send without blocking.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <usrsctp.h>

#include "net/log.hpp"
#include "net/sctp_loop.hpp"

namespace px::net {

namespace {

std::mutex init_mtx;
int init_refs = 0;

/// One usrsctp_recvv into `buf`; `flags` reports MSG_NOTIFICATION and
/// MSG_EOR.
ssize_t recv_chunk(struct socket* s, uint8_t* buf, size_t size, int& flags) {
  sctp_rcvinfo rcv{};
  socklen_t infolen = sizeof(rcv);
  unsigned infotype = 0;
  flags = 0;
  return usrsctp_recvv(s, buf, size, nullptr, nullptr, &rcv, &infolen,
                       &infotype, &flags);
}

/// Returns an error text when UDP port `port` cannot be bound (usrsctp would
/// fail silently and hang in INIT retransmissions).
std::string probe_udp_port(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return std::strerror(errno);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_ANY);
  std::string err;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0)
    err = "UDP port " + std::to_string(port) + " for SCTP-over-UDP: "
          + std::strerror(errno);
  ::close(fd);
  return err;
}

void usrsctp_acquire(uint16_t udp_port) {
  std::lock_guard<std::mutex> guard{init_mtx};
  if (init_refs++ == 0) {
    usrsctp_init(udp_port, nullptr, nullptr);
    usrsctp_sysctl_set_sctp_blackhole(2);
    // usrsctp skips the CRC32c on loopback by default; a kernel SCTP peer
    // (RFC 6951 encapsulation behind a port forward) drops such packets.
    usrsctp_sysctl_set_sctp_no_csum_on_loopback(0);
  }
}

void usrsctp_release() {
  std::lock_guard<std::mutex> guard{init_mtx};
  if (--init_refs == 0) {
    for (int i = 0; i < 300 && usrsctp_finish() != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

void set_linger_abort(struct socket* s) {
  linger l{1, 0};
  usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

class udp_transport : public detail::sctp_loop {
public:
  udp_transport(uint16_t port, size_t max_message)
    : sctp_loop(max_message), udp_port_(port) {
    usrsctp_acquire(port);
  }

  ~udp_transport() override {
    stop();
    for (auto& l : listeners_) {
      usrsctp_set_upcall(l.first, nullptr, nullptr);
      usrsctp_close(l.first);
    }
    listeners_.clear();
    usrsctp_release();
  }

  const char* kind() const override { return "udp"; }

  std::variant<ip_endpoint, std::string>
  listen(const ip_endpoint& addr, std::shared_ptr<sctp_events> events) override {
    int family = addr.v6 ? AF_INET6 : AF_INET;
    auto s = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr,
                            0, nullptr);
    if (!s)
      return "usrsctp socket: " + std::string{std::strerror(errno)};
    int one = 1;
    usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof(one));
    sockaddr_storage ss;
    auto len = addr.to_sockaddr(ss);
    if (usrsctp_bind(s, reinterpret_cast<sockaddr*>(&ss), len) != 0
        || usrsctp_listen(s, 64) != 0) {
      auto err = "cannot listen on SCTP-over-UDP " + addr.to_string() + ": "
                 + std::strerror(errno);
      usrsctp_close(s);
      return err;
    }
    usrsctp_set_non_blocking(s, 1);
    listeners_[s] = std::move(events);
    return addr;
  }

  void start() override {
    for (auto& l : listeners_)
      usrsctp_set_upcall(l.first, &udp_transport::upcall, this);
    thread_ = std::thread([this] { run(); });
    mark_ready(nullptr); // accept anything that arrived before start
  }

protected:
  void flush(assoc& a) override {
    auto s = socks_.at(a.id);
    while (!a.outq.empty()) {
      auto& m = a.outq.front();
      auto n = usrsctp_sendv(s, m.data(), m.size(), nullptr, 0, nullptr, 0,
                             SCTP_SENDV_NOINFO, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return; // the WRITE upcall brings us back
      if (n < 0) {
        drop(a.id, true);
        return;
      }
      a.outq.pop_front();
    }
    if (a.close_after)
      drop(a.id, false);
  }

private:
  static void upcall(struct socket* s, void* arg, int) {
    static_cast<udp_transport*>(arg)->mark_ready(s);
  }

  void mark_ready(struct socket* s) {
    {
      std::lock_guard<std::mutex> guard{ready_mtx_};
      ready_.insert(s);
    }
    tasks_.wake();
  }

  void run() {
    while (running_) {
      pollfd p{tasks_.fd(), POLLIN, 0};
      ::poll(&p, 1, 200);
      tasks_.run();
      std::set<struct socket*> ready;
      {
        std::lock_guard<std::mutex> guard{ready_mtx_};
        ready.swap(ready_);
      }
      for (auto s : ready) {
        if (s == nullptr || listeners_.count(s)) {
          for (auto& l : listeners_)
            if (s == nullptr || s == l.first)
              accept_all(l.first);
          continue;
        }
        auto i = ids_.find(s);
        if (i == ids_.end())
          continue; // closed meanwhile
        service(i->second);
      }
    }
    std::vector<assoc_id> ids;
    for (auto& kv : assocs_)
      ids.push_back(kv.first);
    for (auto id : ids)
      drop(id, true);
  }

  void accept_all(struct socket* ls) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      auto s = usrsctp_accept(ls, reinterpret_cast<sockaddr*>(&ss), &len);
      if (!s)
        return;
      usrsctp_set_non_blocking(s, 1);
      int one = 1;
      usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof(one));
      auto peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
      auto id = next_id_;
      socks_[id] = s;
      ids_[s] = id;
      add_assoc(listeners_.at(ls), peer.value_or(ip_endpoint{}));
      usrsctp_set_upcall(s, &udp_transport::upcall, this);
      service(id); // data may already be queued
    }
  }

  void service(assoc_id id) {
    uint8_t buf[8192];
    for (;;) {
      auto a = find(id);
      if (!a)
        return;
      auto s = socks_.at(id);
      int events = usrsctp_get_events(s);
      if (events & SCTP_EVENT_WRITE && !a->outq.empty()) {
        flush(*a);
        if (!find(id))
          return;
      }
      if (!(events & (SCTP_EVENT_READ | SCTP_EVENT_ERROR)))
        return;
      int flags = 0;
      auto n = recv_chunk(s, buf, sizeof(buf), flags);
      if (n > 0) {
        if (flags & MSG_NOTIFICATION)
          continue;
        on_bytes(*a, buf, static_cast<size_t>(n), (flags & MSG_EOR) != 0);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      drop(id, true); // EOF or error
      return;
    }
  }

  void drop(assoc_id id, bool abort) {
    auto i = socks_.find(id);
    if (i == socks_.end())
      return;
    auto s = i->second;
    usrsctp_set_upcall(s, nullptr, nullptr);
    if (abort)
      set_linger_abort(s);
    usrsctp_close(s);
    ids_.erase(s);
    socks_.erase(i);
    remove_assoc(id);
  }

  uint16_t udp_port_;
  std::map<struct socket*, std::shared_ptr<sctp_events>> listeners_;
  std::map<assoc_id, struct socket*> socks_;
  std::map<struct socket*, assoc_id> ids_;
  std::mutex ready_mtx_;
  std::set<struct socket*> ready_;
};

} // namespace

std::unique_ptr<sctp_transport> make_udp_sctp(uint16_t udp_port,
                                              size_t max_message,
                                              std::string& err) {
  err = probe_udp_port(udp_port);
  if (!err.empty())
    return nullptr;
  return std::make_unique<udp_transport>(udp_port, max_message);
}

} // namespace px::net
