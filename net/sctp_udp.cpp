// SCTP over UDP (RFC 6951) with usrsctp, one-to-one style, without usrsctp's
// threads or sockets (net/sctp_conn.hpp): one UDP socket of ours per admin
// listener address, bound to that address and the configured UDP port. The
// I/O thread reads every datagram, hands it to usrsctp, runs its timers,
// and does every accept, receive and send without blocking; upcalls only
// mark sockets ready.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <usrsctp.h>

#include "net/log.hpp"
#include "net/sctp_conn.hpp"
#include "net/sctp_loop.hpp"

namespace px::net {

namespace {

using namespace detail;

/// Paths (peers' UDP endpoints) remembered at once; one without an
/// association is forgotten after `path_idle`.
constexpr size_t max_paths = 256;
constexpr auto path_idle = std::chrono::seconds{30};

/// Datagrams read from one socket per round of the loop.
constexpr int datagrams_per_round = 256;

/// Milliseconds between rounds while usrsctp may have timers running.
constexpr int tick_ms = 10;

class udp_transport : public sctp_loop {
public:
  udp_transport(uint16_t port, size_t max_message)
    : sctp_loop(max_message), udp_port_(port) {
    // usrsctp counts the bytes of queued messages, not the half KiB each
    // costs it: a small send buffer bounds what a peer that never reads
    // leaves queued (write_one widens it for one larger message at a time).
    limits_.sndbuf = 2 * 1024;
    conn_stack_acquire();
  }

  ~udp_transport() override {
    stop();
    for (auto& kv : listeners_) {
      usrsctp_set_upcall(kv.first, nullptr, nullptr);
      usrsctp_close(kv.first);
    }
    listeners_.clear();
    conn_stack_release([this] { read_datagrams(); });
    for (auto& kv : paths_)
      conn_path_remove(kv.first);
    for (auto& u : udp_)
      ::close(u.fd);
  }

  const char* kind() const override { return "udp"; }

  std::variant<ip_endpoint, std::string>
  listen(const ip_endpoint& addr, std::shared_ptr<sctp_events> events) override {
    std::string err;
    int fd = udp_socket_for(addr, err);
    if (fd < 0)
      return err;
    auto ls = listener_for(addr.port, err);
    if (!ls)
      return "cannot listen on SCTP-over-UDP " + addr.to_string() + ": " + err;
    auto& by_fd = listeners_[ls].by_fd;
    if (by_fd.count(fd))
      return "cannot listen on SCTP-over-UDP " + addr.to_string()
             + ": already listening there";
    by_fd[fd] = std::move(events);
    return addr;
  }

  void start() override {
    for (auto& kv : listeners_)
      usrsctp_set_upcall(kv.first, &udp_transport::upcall, this);
    thread_ = std::thread([this] { run(); });
  }

protected:
  write_result write_one(assoc& a, const std::vector<uint8_t>& m) override {
    auto s = socks_.at(a.id);
    // Room for this message when it is larger than the buffer; back to the
    // small buffer (and so no more messages while it is queued) after it.
    int want = std::max(limits_.sndbuf, static_cast<int>(m.size()));
    if (auto& cur = sndbuf_of_[a.id]; cur != want) {
      set_sndbuf(s, want);
      cur = want;
    }
    if (conn_send(s, m.data(), m.size()) >= 0)
      return write_result::done;
    return errno == EAGAIN || errno == EWOULDBLOCK ? write_result::again
                                                   : write_result::failed;
  }

  void shutdown_write(assoc& a) override {
    usrsctp_shutdown(socks_.at(a.id), SHUT_WR);
  }

  void resume(assoc_id id) override {
    read_some(id);
  }

  void drop(assoc_id id, bool abort) override {
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
    if (auto p = paths_.find(path_of_.at(id)); p != paths_.end()) {
      --p->second.assocs;
      p->second.last_seen = clock::now();
    }
    path_of_.erase(id);
    sndbuf_of_.erase(id);
    remove_assoc(id);
  }

private:
  struct udp_sock {
    int fd;
    ip_endpoint local;
  };

  /// One SCTP listener per port; the UDP socket a new association came
  /// through says which admin listener (address) it reached.
  struct listener {
    uint16_t port = 0;
    std::map<int, std::shared_ptr<sctp_events>> by_fd;
  };

  using path_key = std::tuple<int, bool, std::array<uint8_t, 16>, uint16_t>;

  struct path_rec {
    int fd = -1;
    ip_endpoint remote;
    size_t assocs = 0;
    clock::time_point last_seen;
  };

  /// The UDP socket bound to `addr`'s address and our UDP port.
  int udp_socket_for(const ip_endpoint& addr, std::string& err) {
    auto local = addr;
    local.port = udp_port_;
    for (auto& u : udp_)
      if (u.local == local)
        return u.fd;
    int fd = open_udp(local, err);
    if (fd >= 0)
      udp_.push_back({fd, local});
    return fd;
  }

  /// The AF_CONN listening socket of SCTP port `port`.
  struct socket* listener_for(uint16_t port, std::string& err) {
    for (auto& kv : listeners_)
      if (kv.second.port == port)
        return kv.first;
    auto s = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr,
                            nullptr, 0, nullptr);
    if (!s) {
      err = std::strerror(errno);
      return nullptr;
    }
    // Accepted sockets inherit the buffers (and the window they announce).
    tune_socket(s, limits_.rcvbuf, limits_.sndbuf);
    sockaddr_storage ss;
    auto len = conn_address(0, port, ss); // every path
    if (usrsctp_bind(s, reinterpret_cast<sockaddr*>(&ss), len) != 0
        || usrsctp_listen(s, 64) != 0) {
      err = std::strerror(errno);
      usrsctp_close(s);
      return nullptr;
    }
    listeners_[s].port = port;
    return s;
  }

  static void upcall(struct socket* s, void* arg, int) {
    static_cast<udp_transport*>(arg)->mark_ready(s);
  }

  void mark_ready(struct socket* s) {
    std::lock_guard<std::mutex> guard{ready_mtx_};
    ready_.insert(s);
  }

  void run() {
    std::vector<pollfd> fds;
    fds.push_back({tasks_.fd(), POLLIN, 0});
    for (auto& u : udp_)
      fds.push_back({u.fd, POLLIN, 0});
    while (running_) {
      bool idle = paths_.empty() && assocs_.empty();
      ::poll(fds.data(), fds.size(), idle ? 500 : tick_ms);
      tasks_.run();
      read_datagrams();
      conn_tick();
      serve_ready();
      expire_closes();
      expire_paths();
    }
    drop_all();
  }

  /// Hands every waiting datagram (up to a round's worth) to usrsctp.
  void read_datagrams() {
    uint8_t buf[65536];
    for (auto& u : udp_) {
      for (int i = 0; i < datagrams_per_round; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        auto n = ::recvfrom(u.fd, buf, sizeof(buf), 0,
                            reinterpret_cast<sockaddr*>(&ss), &len);
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0)
          break;
        auto from = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
        if (!from)
          continue;
        if (auto p = path_for(u.fd, *from))
          conn_input(p, buf, static_cast<size_t>(n));
      }
    }
  }

  /// The path of `remote` through socket `fd`, created when new; 0 when
  /// the table is full of paths in use.
  conn_path path_for(int fd, const ip_endpoint& remote) {
    auto now = clock::now();
    auto key = path_key{fd, remote.v6, remote.bytes, remote.port};
    if (auto i = path_ids_.find(key); i != path_ids_.end()) {
      paths_.at(i->second).last_seen = now;
      return i->second;
    }
    if (paths_.size() >= max_paths && !forget_oldest_unused())
      return 0;
    auto p = conn_path_add(fd, remote);
    paths_[p] = path_rec{fd, remote, 0, now};
    path_ids_[key] = p;
    return p;
  }

  void forget_path(std::map<conn_path, path_rec>::iterator i) {
    auto& r = i->second;
    path_ids_.erase(path_key{r.fd, r.remote.v6, r.remote.bytes, r.remote.port});
    conn_path_remove(i->first);
    paths_.erase(i);
  }

  /// Forgets the least recently seen path without an association.
  bool forget_oldest_unused() {
    auto victim = paths_.end();
    for (auto i = paths_.begin(); i != paths_.end(); ++i)
      if (i->second.assocs == 0
          && (victim == paths_.end() || i->second.last_seen < victim->second.last_seen))
        victim = i;
    if (victim == paths_.end())
      return false;
    forget_path(victim);
    return true;
  }

  void expire_paths() {
    auto now = clock::now();
    for (auto i = paths_.begin(); i != paths_.end();) {
      auto next = std::next(i);
      if (i->second.assocs == 0 && now - i->second.last_seen > path_idle)
        forget_path(i);
      i = next;
    }
  }

  void serve_ready() {
    std::set<struct socket*> ready;
    {
      std::lock_guard<std::mutex> guard{ready_mtx_};
      ready.swap(ready_);
    }
    for (auto s : ready) {
      if (listeners_.count(s)) {
        accept_all(s);
        continue;
      }
      auto i = ids_.find(s);
      if (i != ids_.end())
        service(i->second); // else closed meanwhile
    }
  }

  /// The admin listener that a new association on `ls` from path `p`
  /// reached (nullptr: it came through another address's socket).
  std::shared_ptr<sctp_events> events_for(struct socket* ls, conn_path p) {
    auto pi = paths_.find(p);
    if (pi == paths_.end())
      return nullptr;
    auto& by_fd = listeners_.at(ls).by_fd;
    auto e = by_fd.find(pi->second.fd);
    return e != by_fd.end() ? e->second : nullptr;
  }

  void accept_all(struct socket* ls) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      auto s = usrsctp_accept(ls, reinterpret_cast<sockaddr*>(&ss), &len);
      if (!s)
        return;
      auto p = conn_path_of(ss);
      auto ev = events_for(ls, p);
      if (!ev || !admit(paths_.at(p).remote)) {
        set_linger_abort(s);
        usrsctp_close(s);
        continue;
      }
      tune_socket(s, limits_.rcvbuf, limits_.sndbuf);
      auto id = next_id_; // add_assoc takes this id
      socks_[id] = s;
      ids_[s] = id;
      path_of_[id] = p;
      sndbuf_of_[id] = limits_.sndbuf;
      ++paths_.at(p).assocs;
      add_assoc(std::move(ev), paths_.at(p).remote);
      usrsctp_set_upcall(s, &udp_transport::upcall, this);
      service(id); // data may already be queued
    }
  }

  void service(assoc_id id) {
    if (auto a = find(id); a && !a->outq.empty()
                           && (usrsctp_get_events(socks_.at(id)) & SCTP_EVENT_WRITE))
      flush(*a);
    read_some(id);
  }

  void read_some(assoc_id id) {
    uint8_t buf[8192];
    for (;;) {
      auto a = find(id);
      if (!a || !wants_read(*a))
        return;
      int flags = 0;
      auto n = conn_recv(socks_.at(id), buf, sizeof(buf), flags);
      if (n > 0) {
        if (!(flags & MSG_NOTIFICATION))
          on_bytes(*a, buf, static_cast<size_t>(n), (flags & MSG_EOR) != 0);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      // The end of the association: expected after our shutdown.
      drop(id, !(n == 0 && a->shut));
      return;
    }
  }

  uint16_t udp_port_;
  std::vector<udp_sock> udp_;
  std::map<struct socket*, listener> listeners_;
  std::map<conn_path, path_rec> paths_;
  std::map<path_key, conn_path> path_ids_;
  std::map<assoc_id, struct socket*> socks_;
  std::map<struct socket*, assoc_id> ids_;
  std::map<assoc_id, conn_path> path_of_;
  std::map<assoc_id, int> sndbuf_of_;
  std::mutex ready_mtx_;
  std::set<struct socket*> ready_;
};

} // namespace

std::unique_ptr<sctp_transport> make_udp_sctp(uint16_t udp_port,
                                              size_t max_message,
                                              std::string& err) {
  err.clear();
  return std::make_unique<udp_transport>(udp_port, max_message);
}

} // namespace px::net
