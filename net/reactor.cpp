#include "net/reactor.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <deque>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>

#include <ares.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/log.hpp"

namespace px::net {

// -- enum names ---------------------------------------------------------------

const char* to_string(connect_error x) {
  switch (x) {
    case connect_error::none:
      return "none";
    case connect_error::refused:
      return "refused";
    case connect_error::network_unreachable:
      return "network-unreachable";
    case connect_error::host_unreachable:
      return "host-unreachable";
    case connect_error::name_not_found:
      return "name-not-found";
    case connect_error::timeout:
      return "timeout";
    case connect_error::denied:
      return "denied";
    case connect_error::resolver_failure:
      return "resolver-failure";
    case connect_error::other:
      return "other";
  }
  return "unknown";
}

const char* to_string(close_reason x) {
  switch (x) {
    case close_reason::done:
      return "done";
    case close_reason::requested:
      return "requested";
    case close_reason::client_gone:
      return "client-gone";
    case close_reason::upstream_error:
      return "upstream-error";
    case close_reason::idle_timeout:
      return "idle-timeout";
    case close_reason::shutdown:
      return "shutdown";
    case close_reason::transform_failed:
      return "transform-failed";
    case close_reason::handshake_timeout:
      return "handshake-timeout";
  }
  return "unknown";
}

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

constexpr int loop_shift = 56;

/// A transformation program must finish its output this long after its
/// input ended, or the connection is closed (a stalled filter never holds a
/// connection until the idle timeout).
constexpr auto transform_drain_timeout = std::chrono::seconds{10};
/// Bytes a relay direction copies before it switches to splice.
constexpr uint64_t splice_after = 64 * 1024;

connect_error from_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return connect_error::refused;
    case ENETUNREACH:
    case ENETDOWN:
      return connect_error::network_unreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case EADDRNOTAVAIL:
      return connect_error::host_unreachable;
    case ETIMEDOUT:
      return connect_error::timeout;
    default:
      return connect_error::other;
  }
}

/// What an epoll registration points at (tin/tout: the transformation
/// program's stdin and stdout pipes).
enum class wkind : uint8_t {
  wake, listener, down, up, dns, tin, tout, udp_client, udp_v4, udp_v6
};

struct watcher {
  wkind kind;
  void* obj;
};

/// One socket of a connection with its edge-triggered readiness.
struct side {
  int fd = -1;
  bool rd = false;
  bool wr = false;
  /// The peer's FIN (or an error) was reported: a short read no longer
  /// proves the socket drained, since that edge has passed.
  bool hup = false;
  /// EPOLLERR or EPOLLHUP was reported (a connect that failed, a reset).
  bool err = false;
  /// Sockets use send/recv and half-close; pipes use read/write and close.
  bool sock = true;
  watcher w{wkind::down, nullptr};

  /// A new socket: nothing reported yet.
  void reset_readiness() {
    rd = wr = hup = err = false;
  }
};

/// A pipe used by the splice relay.
struct pipe_pair {
  int rd = -1;
  int wr = -1;
  size_t capacity = 0;
  bool valid() const { return rd >= 0; }
};

/// One direction of a tunnel: src -> (pipe or buffer) -> dst.
struct pump {
  side* src = nullptr;
  side* dst = nullptr;
  /// Bytes written before anything relayed (reply or pipelined data).
  std::vector<uint8_t> prefix;
  size_t prefix_off = 0;
  /// The prefix is client data (sent early, after the request) and counts
  /// as relayed; a reply does not.
  bool prefix_is_data = false;
  /// Splice mode: bytes sitting in `pipe`.
  pipe_pair pipe;
  /// Copy mode: bytes in buf[head, tail).
  std::unique_ptr<uint8_t[]> buf;
  size_t head = 0;
  size_t tail = 0;
  /// Bytes held (pipe or buffer).
  size_t held = 0;
  /// Bytes this direction may hold.
  size_t cap = 0;
  bool use_splice = false;
  /// Switch to splice once this direction has moved `splice_after` bytes.
  bool splice_later = false;
  bool eof = false;
  bool shut = false;
  /// Bytes delivered to dst (a reply in the prefix excluded).
  uint64_t moved = 0;
  bool done() const { return shut; }
};

enum class cstate : uint8_t {
  accepted, handshake, connecting, binding, connected, relaying, udp_relaying
};

/// Largest number of datagrams waiting for a destination name to resolve.
constexpr size_t max_udp_waiting = 64;
/// Largest number of resolved names remembered per UDP association.
constexpr size_t max_udp_names = 64;

/// State of a UDP ASSOCIATE relay (allocated only for those connections).
struct udp_relay {
  /// Client-facing socket, and one socket per family towards destinations.
  side client;
  side out4;
  side out6;
  /// Where datagrams must come from (port 0: any port, learned once).
  ip_endpoint expect;
  ip_endpoint client_addr;
  bool client_known = false;
  std::vector<cidr> deny;
  std::chrono::milliseconds dns_timeout{10000};
  std::map<std::string, ip_endpoint> names;
  struct waiting {
    std::string domain;
    uint16_t port;
    std::vector<uint8_t> payload;
  };
  std::deque<waiting> queue;
  std::set<std::string> resolving;
};

/// Where a handshake under a plan stands.
enum class hstep : uint8_t { greeting, credentials, authenticating, request, done };

struct conn {
  conn_id id = 0;
  cstate state = cstate::accepted;
  bool closed = false;
  side down;
  side up;
  std::shared_ptr<conn_handler> handler;
  // -- handshake ---
  /// The owner's plan (shared by its connections); dropped when the relay
  /// starts.
  std::shared_ptr<const handshake_plan> plan;
  hstep step = hstep::greeting;
  /// Bytes read from the client and not parsed yet (at most one message
  /// plus one read); after the request, what the client sent early.
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;
  size_t out_off = 0;
  after after_out = after::hold;
  /// The close reason once `out` is written with after::close.
  close_reason close_why = close_reason::requested;
  /// The request's DST (for the close report) and the upstream peer.
  bool has_target = false;
  socks5::address target;
  ip_endpoint remote;
  // -- connect ---
  connect_request creq;
  std::vector<ip_endpoint> addrs;
  size_t next_addr = 0;
  connect_error last_err = connect_error::none;
  uint32_t op_gen = 0;
  // -- relay ---
  /// pumps[0]: client -> target. Without a transformation pumps[1] is
  /// target -> client; with one, pumps[1] is target -> program stdin and
  /// pumps[2] is program stdout -> client.
  std::array<pump, 3> pumps;
  size_t npumps = 2;
  side tin;
  side tout;
  pid_t child = -1;
  /// UDP ASSOCIATE relay.
  std::unique_ptr<udp_relay> udp;
  /// When the program's stdin was closed (for the drain timeout).
  time_point tin_closed{};
  std::chrono::milliseconds idle{0};
  time_point last_active;
  conn* lru_prev = nullptr;
  conn* lru_next = nullptr;
  bool in_lru = false;
};

struct timer_entry {
  time_point when;
  conn_id id;
  uint32_t gen;
  /// The handshake deadline (else a connect or BIND deadline).
  bool handshake = false;
  bool operator>(const timer_entry& other) const { return when > other.when; }
};

} // namespace

/// A listening socket, shared read-only by every loop.
struct listener {
  /// One socket per loop (SO_REUSEPORT), or one shared by every loop.
  std::vector<int> fds;
  ip_endpoint addr;
  std::shared_ptr<accept_handler> handler;
  /// Accepted sockets inherit TCP_NODELAY from the listener (Linux does);
  /// checked on the first accept, else set on each one.
  std::atomic<int> nodelay_inherited{-1};
  /// TCP_DEFER_ACCEPT is on: an accepted client has most likely sent its
  /// first message already.
  bool deferred = false;

  /// The socket loop `index` accepts on.
  int fd_for(size_t index) const {
    return fds.empty() ? -1 : fds[index < fds.size() ? index : 0];
  }

  void close_all() {
    for (auto fd : fds)
      ::close(fd);
    fds.clear();
  }
};

// -- loop ---------------------------------------------------------------------

class loop {
public:
  loop(size_t index, const reactor_config& cfg, traffic_sink traffic)
    : index_(index), cfg_(cfg), traffic_(std::move(traffic)) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wake_w_ = watcher{wkind::wake, nullptr};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_w_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_fd_, &ev);
    ares_options opts{};
    opts.sock_state_cb = &loop::ares_sock_state;
    opts.sock_state_cb_data = this;
    opts.timeout = 2000;
    opts.tries = 2;
    if (ares_init_options(&ares_, &opts,
                          ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS
                            | ARES_OPT_TRIES)
        != ARES_SUCCESS) {
      ares_ = nullptr;
      log::error("c-ares initialization failed: DNS names will not resolve");
    } else if (!cfg_.dns_servers.empty()
               && ares_set_servers_ports_csv(ares_, cfg_.dns_servers.c_str())
                    != ARES_SUCCESS) {
      log::error("invalid DNS server list: " + cfg_.dns_servers);
    }
  }

  ~loop() {
    for (auto& kv : conns_)
      release_fds(*kv.second);
    conns_.clear();
    graveyard_.clear();
    if (ares_)
      ares_destroy(ares_);
    for (auto& p : pipe_pool_) {
      ::close(p.rd);
      ::close(p.wr);
    }
    ::close(wake_fd_);
    ::close(ep_);
  }

  void add_listener(listener* l) { listeners_.push_back(l); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    post([this] {
      running_ = false;
    });
    if (thread_.joinable())
      thread_.join();
  }

  /// Runs `f` on this loop's thread.
  void post(std::function<void()> f) {
    bool notify;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      notify = tasks_.empty();
      tasks_.push_back(std::move(f));
    }
    if (notify) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
    }
  }

  size_t count() const { return count_.load(std::memory_order_relaxed); }

  uint64_t owned_closed() const {
    return owned_closed_.load(std::memory_order_relaxed);
  }

  // -- commands (on the loop thread) ------------------------------------------

  void do_handshake(conn_id id, std::shared_ptr<conn_handler> h,
                    handshake_plan plan) {
    auto c = find(id);
    if (!c) {
      ++owned_;
      close_stats stats;
      stats.reason = close_reason::requested;
      stats.closed_at = now_;
      report_closed(std::move(h), id, std::move(stats));
      return;
    }
    if (c->state != cstate::accepted)
      return;
    own(*c, std::move(h), std::make_shared<const handshake_plan>(std::move(plan)));
  }

  /// `h` owns `c` from now on; its handshake runs under `plan`. The read
  /// flags are exact: the socket has been registered since its accept.
  void own(conn& c, std::shared_ptr<conn_handler> h,
           std::shared_ptr<const handshake_plan> plan) {
    ++owned_;
    c.handler = std::move(h);
    c.state = cstate::handshake;
    c.plan = std::move(plan);
    timers_.push(timer_entry{now_ + c.plan->deadline, c.id, 0, true});
    process(c);
  }

  void do_authenticated(conn_id id, bool ok) {
    auto c = find(id);
    if (!c || c->state != cstate::handshake || c->step != hstep::authenticating)
      return;
    authenticate(*c, ok);
    process(*c);
  }

  /// Queues the RFC 1929 status; the handshake goes on or closes after it.
  static void authenticate(conn& c, bool ok) {
    auto status = socks5::encode_auth_status(ok);
    c.out.insert(c.out.end(), status.begin(), status.end());
    if (ok) {
      c.step = hstep::request;
    } else {
      c.step = hstep::done;
      c.after_out = after::close;
    }
  }

  void do_send(conn_id id, std::vector<uint8_t> bytes, after next) {
    auto c = find(id);
    if (!c || c->state == cstate::relaying || c->state == cstate::connecting
        || c->state == cstate::udp_relaying)
      return;
    c->out.insert(c->out.end(), bytes.begin(), bytes.end());
    c->after_out = next;
    process(*c);
  }

  /// Runs a CONNECT: DNS when needed, then each address in turn.
  void start_connect(conn& c, connect_request req) {
    c.state = cstate::connecting;
    c.creq = std::move(req);
    c.addrs.clear();
    c.next_addr = 0;
    c.last_err = connect_error::none;
    auto gen = ++c.op_gen;
    timers_.push(timer_entry{now_ + c.creq.timeout, c.id, gen});
    if (c.creq.target.type == socks5::atyp::domain) {
      resolve(c, c.creq.target.domain, gen);
      return;
    }
    c.addrs.push_back(c.creq.target.ip);
    filter_and_connect(c);
  }

  /// Starts resolving `name` for a connect or a BIND; dns_done continues.
  void resolve(conn& c, const std::string& name, uint32_t gen) {
    if (!ares_) {
      connect_failed(c, connect_error::resolver_failure);
      return;
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    ares_getaddrinfo(ares_, name.c_str(), nullptr, &hints, &loop::dns_done,
                     new dns_arg{this, c.id, gen});
  }

  void do_bind(conn_id id, bind_request req) {
    auto c = find(id);
    if (!c || c->state != cstate::handshake)
      return;
    c->state = cstate::binding;
    c->addrs.clear();
    auto gen = ++c->op_gen;
    timers_.push(timer_entry{now_ + req.timeout, id, gen});
    if (req.peer.type == socks5::atyp::domain) {
      c->creq.target = req.peer;
      resolve(*c, req.peer.domain, gen);
      return;
    }
    if (!req.peer.ip.is_unspecified())
      c->addrs.push_back(req.peer.ip);
    bind_listen(*c);
  }

  /// Opens the BIND listener on the address the client reached us at.
  void bind_listen(conn& c) {
    auto local = ip_endpoint::local_of(c.down.fd);
    if (!local) {
      connect_failed(c, connect_error::other);
      return;
    }
    local->port = 0;
    int fd = ::socket(local->v6 ? AF_INET6 : AF_INET,
                      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    auto len = local->to_sockaddr(ss);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0
        || ::listen(fd, 4) != 0) {
      auto err = from_errno(errno);
      if (fd >= 0)
        ::close(fd);
      connect_failed(c, err);
      return;
    }
    auto bound = ip_endpoint::local_of(fd);
    c.up.fd = fd;
    c.up.rd = false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = &c.up.w;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    c.handler->on_bound(c.id, bound.value_or(*local));
  }

  static bool same_host(const ip_endpoint& a, const ip_endpoint& b) {
    auto norm = [](const ip_endpoint& x) {
      static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
      ip_endpoint y = x;
      y.port = 0;
      if (x.v6 && std::memcmp(x.bytes.data(), mapped, 12) == 0) {
        y.v6 = false;
        y.bytes = {};
        std::memcpy(y.bytes.data(), x.bytes.data() + 12, 4);
      }
      return y;
    };
    return norm(a) == norm(b);
  }

  /// BIND: accepts the expected peer; other hosts are turned away.
  void accept_peer(conn& c) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = accept4(c.up.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        c.up.rd = false;
        return;
      }
      auto peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
      bool ok = peer && (c.addrs.empty()
                         || std::any_of(c.addrs.begin(), c.addrs.end(),
                                        [&](const ip_endpoint& a) {
                                          return same_host(a, *peer);
                                        }));
      if (!ok) {
        log::debug("BIND: turned away " + (peer ? peer->to_string() : "?"));
        ::close(fd);
        continue;
      }
      ::close(c.up.fd); // the listener
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      c.up.fd = fd;
      c.up.reset_readiness();
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = &c.up.w;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      ++c.op_gen; // cancels the deadline
      c.state = cstate::connected;
      c.handler->on_connected(c.id, ip_endpoint::local_of(fd).value_or(ip_endpoint{}),
                              *peer);
      return;
    }
  }

  int open_udp(side& s, const ip_endpoint& addr, wkind kind, conn& c) {
    int fd = ::socket(addr.v6 ? AF_INET6 : AF_INET,
                      SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return -1;
    int one = 1;
    if (addr.v6)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss;
    auto len = addr.to_sockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd);
      return -1;
    }
    s.fd = fd;
    s.sock = true;
    s.w = watcher{kind, &c};
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = &s.w;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return fd;
  }

  void do_udp_associate(conn_id id, udp_request req) {
    auto c = find(id);
    if (!c || c->state != cstate::handshake)
      return;
    auto local = ip_endpoint::local_of(c->down.fd);
    auto peer = ip_endpoint::peer_of(c->down.fd);
    if (!local || !peer) {
      connect_failed(*c, connect_error::other);
      return;
    }
    c->udp = std::make_unique<udp_relay>();
    auto& u = *c->udp;
    u.deny = std::move(req.deny);
    u.dns_timeout = req.dns_timeout;
    u.expect = req.client_hint;
    if (u.expect.is_unspecified()) {
      auto port = u.expect.port;
      u.expect = *peer;
      u.expect.port = port;
    }
    local->port = 0;
    ip_endpoint any4, any6;
    any6.v6 = true;
    if (open_udp(u.client, *local, wkind::udp_client, *c) < 0
        || open_udp(u.out4, any4, wkind::udp_v4, *c) < 0) {
      connect_failed(*c, from_errno(errno));
      return;
    }
    open_udp(u.out6, any6, wkind::udp_v6, *c); // optional: no IPv6 is fine
    c->state = cstate::connected;
    c->handler->on_connected(
      id, ip_endpoint::local_of(u.client.fd).value_or(*local), u.expect);
  }

  /// The TCP control connection of a UDP association: bytes are discarded;
  /// its end ends the association.
  void udp_control(conn& c) {
    handshake_io(c); // flushes the reply
    if (c.closed)
      return;
    uint8_t sink[512];
    while (c.down.rd) {
      auto n = ::recv(c.down.fd, sink, sizeof(sink), 0);
      if (n > 0)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c.down.rd = false;
        return;
      }
      if (n < 0 && errno == EINTR)
        continue;
      close_conn(c, n == 0 ? close_reason::done : close_reason::client_gone);
      return;
    }
  }

  void udp_send_to(conn& c, const ip_endpoint& dst, const uint8_t* data, size_t n) {
    auto& u = *c.udp;
    bool denied = std::any_of(u.deny.begin(), u.deny.end(),
                              [&](const cidr& b) { return b.contains(dst); });
    auto& out = dst.v6 ? u.out6 : u.out4;
    if (denied || out.fd < 0) {
      ++udp_dropped_;
      return;
    }
    sockaddr_storage ss;
    auto len = dst.to_sockaddr(ss);
    if (::sendto(out.fd, data, n, 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      ++udp_dropped_; // full socket buffer: datagrams may be lost
      return;
    }
    c.pumps[0].moved += n;
    traffic_up_ += n;
    c.last_active = now_;
    lru_touch(c);
  }

  struct udp_dns_arg {
    loop* self;
    conn_id id;
    std::string domain;
  };

  static void udp_dns_done(void* arg, int status, int, ares_addrinfo* res) {
    std::unique_ptr<udp_dns_arg> a{static_cast<udp_dns_arg*>(arg)};
    auto self = a->self;
    auto c = self->find(a->id);
    std::optional<ip_endpoint> ip;
    if (status == ARES_SUCCESS && res)
      for (auto ai = res->nodes; ai && !ip; ai = ai->ai_next)
        ip = ip_endpoint::from_sockaddr(ai->ai_addr);
    if (res)
      ares_freeaddrinfo(res);
    if (!c || !c->udp)
      return;
    auto& u = *c->udp;
    u.resolving.erase(a->domain);
    if (ip && u.names.size() < max_udp_names)
      u.names[a->domain] = *ip;
    std::deque<udp_relay::waiting> rest;
    for (auto& w : u.queue) {
      if (w.domain != a->domain) {
        rest.push_back(std::move(w));
      } else if (ip) {
        auto dst = *ip;
        dst.port = w.port;
        self->udp_send_to(*c, dst, w.payload.data(), w.payload.size());
      } else {
        ++self->udp_dropped_;
      }
    }
    u.queue.swap(rest);
  }

  void udp_service(conn& c) {
    auto& u = *c.udp;
    static thread_local std::vector<uint8_t> buf(65536);
    while (u.client.rd) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      auto n = ::recvfrom(u.client.fd, buf.data(), buf.size(), 0,
                          reinterpret_cast<sockaddr*>(&ss), &len);
      if (n < 0) {
        if (errno != EINTR)
          u.client.rd = false;
        continue;
      }
      auto src = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
      bool from_client = src && same_host(*src, u.expect)
                         && (u.expect.port == 0 || src->port == u.expect.port)
                         && (!u.client_known || *src == u.client_addr);
      socks5::udp_header h;
      auto r = socks5::parse_udp_header(buf.data(), static_cast<size_t>(n), h);
      if (!from_client || r.status != socks5::parse_status::done || h.frag != 0) {
        ++udp_dropped_;
        continue;
      }
      if (!u.client_known) {
        u.client_known = true;
        u.client_addr = *src;
      }
      auto payload = buf.data() + r.consumed;
      auto plen = static_cast<size_t>(n) - r.consumed;
      if (h.addr.type != socks5::atyp::domain) {
        udp_send_to(c, h.addr.ip, payload, plen);
        continue;
      }
      if (auto i = u.names.find(h.addr.domain); i != u.names.end()) {
        auto dst = i->second;
        dst.port = h.addr.port();
        udp_send_to(c, dst, payload, plen);
        continue;
      }
      if (u.queue.size() >= max_udp_waiting || !ares_) {
        ++udp_dropped_;
        continue;
      }
      u.queue.push_back({h.addr.domain, h.addr.port(),
                         std::vector<uint8_t>(payload, payload + plen)});
      if (u.resolving.insert(h.addr.domain).second) {
        ares_addrinfo_hints hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        ares_getaddrinfo(ares_, h.addr.domain.c_str(), nullptr, &hints,
                         &loop::udp_dns_done, new udp_dns_arg{this, c.id, h.addr.domain});
      }
    }
    for (auto* out : {&u.out4, &u.out6}) {
      while (out->rd && out->fd >= 0) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        auto n = ::recvfrom(out->fd, buf.data() + 300, buf.size() - 300, 0,
                            reinterpret_cast<sockaddr*>(&ss), &len);
        if (n < 0) {
          if (errno != EINTR)
            out->rd = false;
          continue;
        }
        auto src = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
        if (!src || !u.client_known) {
          ++udp_dropped_;
          continue;
        }
        std::vector<uint8_t> head;
        socks5::encode_udp_header(socks5::address::from(*src), head);
        // Put the header right before the payload: one sendto, no copy of
        // the payload.
        auto start = buf.data() + 300 - head.size();
        std::memcpy(start, head.data(), head.size());
        sockaddr_storage cs;
        auto clen = u.client_addr.to_sockaddr(cs);
        auto total = head.size() + static_cast<size_t>(n);
        if (::sendto(u.client.fd, start, total, 0, reinterpret_cast<sockaddr*>(&cs),
                     clen)
            < 0) {
          ++udp_dropped_;
          continue;
        }
        c.pumps[1].moved += static_cast<size_t>(n);
        traffic_down_ += static_cast<size_t>(n);
        c.last_active = now_;
        lru_touch(c);
      }
    }
  }

  void do_start_relay(conn_id id, std::vector<uint8_t> to_client,
                      std::vector<uint8_t> to_upstream, relay_options opts) {
    auto c = find(id);
    if (!c || c->state != cstate::connected)
      return;
    begin_relay(*c, std::move(to_client), std::move(to_upstream), opts, false);
  }

  /// `flags_exact`: the readiness flags of both sockets are known (a CONNECT
  /// under a plan); otherwise the first pass tries every socket once.
  void begin_relay(conn& c, std::vector<uint8_t> to_client,
                   std::vector<uint8_t> to_upstream, const relay_options& opts,
                   bool flags_exact) {
    auto id = c.id;
    // What the client sent right after its request goes first.
    if (!c.in.empty() && !c.udp)
      to_upstream.insert(to_upstream.begin(), c.in.begin(), c.in.end());
    std::vector<uint8_t>{}.swap(c.in);
    c.plan.reset();
    if (c.udp) {
      c.state = cstate::udp_relaying;
      c.out.insert(c.out.end(), to_client.begin(), to_client.end());
      c.after_out = after::hold;
      c.idle = opts.idle_timeout;
      c.last_active = now_;
      c.down.rd = c.down.wr = true;
      c.udp->client.rd = c.udp->out4.rd = c.udp->out6.rd = true;
      lru_push(c);
      process(c);
      return;
    }
    if (!opts.transform.empty() && !spawn_transform(c, opts.transform)) {
      // The client is told: a general failure instead of the success reply.
      log::warning("transformation program could not start: "
                   + std::string{std::strerror(errno)});
      c.state = cstate::handshake;
      c.close_why = close_reason::transform_failed;
      std::vector<uint8_t> rep{socks5::version,
                               static_cast<uint8_t>(socks5::reply::general_failure),
                               0, 1, 0, 0, 0, 0, 0, 0};
      do_send(id, std::move(rep), after::close);
      return;
    }
    c.state = cstate::relaying;
    setup_pump(c.pumps[0], &c.down, &c.up, opts);
    pump* to_client_pump;
    if (c.child > 0) {
      c.npumps = 3;
      setup_pump(c.pumps[1], &c.up, &c.tin, opts);
      setup_pump(c.pumps[2], &c.tout, &c.down, opts);
      c.pumps[1].use_splice = c.pumps[2].use_splice = false;
      c.pumps[1].splice_later = c.pumps[2].splice_later = false;
      to_client_pump = &c.pumps[2];
    } else {
      setup_pump(c.pumps[1], &c.up, &c.down, opts);
      to_client_pump = &c.pumps[1];
    }
    // Pending handshake output goes out before the reply.
    if (c.out_off < c.out.size())
      to_client_pump->prefix.assign(c.out.begin() + static_cast<long>(c.out_off),
                                    c.out.end());
    c.out.clear();
    c.out_off = 0;
    to_client_pump->prefix.insert(to_client_pump->prefix.end(), to_client.begin(),
                                  to_client.end());
    c.pumps[0].prefix = std::move(to_upstream);
    c.pumps[0].prefix_is_data = true;
    c.idle = opts.idle_timeout;
    c.last_active = now_;
    if (!flags_exact)
      c.down.rd = c.down.wr = c.up.rd = c.up.wr = true;
    c.tin.wr = c.tout.rd = c.child > 0;
    lru_push(c);
    process(c);
  }

  void do_close(conn_id id, close_reason reason) {
    if (auto c = find(id))
      close_conn(*c, reason);
  }

  void do_close_all() {
    std::vector<conn*> all;
    for (auto& kv : conns_)
      all.push_back(kv.second.get());
    for (auto c : all)
      close_conn(*c, close_reason::shutdown);
  }

  void do_remove_listeners() {
    for (auto l : listeners_)
      epoll_ctl(ep_, EPOLL_CTL_DEL, l->fd_for(index_), nullptr);
    listeners_.clear();
  }

  void register_listeners() {
    listener_w_.clear(); // (re)registration happens between event batches
    for (auto l : listeners_) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLEXCLUSIVE;
      listener_w_.push_back(std::make_unique<watcher>(watcher{wkind::listener, l}));
      ev.data.ptr = listener_w_.back().get();
      epoll_ctl(ep_, EPOLL_CTL_ADD, l->fd_for(index_), &ev);
    }
  }

private:
  struct dns_arg {
    loop* self;
    conn_id id;
    uint32_t gen;
  };

  // -- main loop --------------------------------------------------------------

  void run() {
    register_listeners();
    auto next_tick = clock_type::now() + cfg_.traffic_interval;
    epoll_event events[256];
    while (running_) {
      now_ = clock_type::now();
      // Rounded up: a timer less than a millisecond away must not turn
      // into epoll_wait(0) calls that spin until it is due.
      auto until = [&](time_point t) {
        return std::chrono::ceil<std::chrono::milliseconds>(t - now_);
      };
      auto wait = until(next_tick);
      if (!timers_.empty())
        wait = std::min(wait, until(timers_.top().when));
      if (!closing_.empty())
        wait = std::min(wait, until(closing_since_ + cfg_.close_delay));
      if (ares_ && dns_pending_ > 0) {
        timeval tv{};
        if (auto tvp = ares_timeout(ares_, nullptr, &tv))
          wait = std::min(wait, std::chrono::milliseconds(
                                  tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000));
      }
      int timeout = static_cast<int>(std::max<long>(0, wait.count()));
      int n = epoll_wait(ep_, events, 256, timeout);
      now_ = clock_type::now();
      for (int i = 0; i < n; ++i)
        dispatch(events[i]);
      if (ares_ && dns_pending_ > 0)
        ares_process_fd(ares_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      run_timers();
      if (!closing_.empty()
          && (closing_.size() >= cfg_.close_batch
              || now_ >= closing_since_ + cfg_.close_delay))
        deliver_closes();
      if (now_ >= next_tick) {
        next_tick = now_ + cfg_.traffic_interval;
        sweep_idle();
        flush_traffic();
        if (accept_paused_) {
          accept_paused_ = false;
          register_listeners();
        }
        if (!zombies_.empty())
          reap_children();
        check_draining();
      }
      graveyard_.clear();
    }
    do_close_all();
    deliver_closes();
    flush_traffic();
    graveyard_.clear();
    for (auto pid : zombies_)
      waitpid(pid, nullptr, 0); // SIGKILLed: returns at once
    zombies_.clear();
  }

  void dispatch(const epoll_event& ev) {
    auto w = static_cast<watcher*>(ev.data.ptr);
    switch (w->kind) {
      case wkind::wake:
        run_tasks();
        break;
      case wkind::listener:
        accept_some(static_cast<listener*>(w->obj));
        break;
      case wkind::down:
      case wkind::up:
      case wkind::tin:
      case wkind::tout: {
        auto c = static_cast<conn*>(w->obj);
        if (c->closed)
          return;
        auto& s = w->kind == wkind::down ? c->down
                  : w->kind == wkind::up ? c->up
                  : w->kind == wkind::tin ? c->tin
                                          : c->tout;
        if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
          s.rd = true;
        if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
          s.hup = true;
        if (ev.events & (EPOLLHUP | EPOLLERR))
          s.err = true;
        if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
          s.wr = true;
        process(*c);
        break;
      }
      case wkind::udp_client:
      case wkind::udp_v4:
      case wkind::udp_v6: {
        auto c = static_cast<conn*>(w->obj);
        if (c->closed || !c->udp)
          return;
        auto& u = *c->udp;
        auto& s = w->kind == wkind::udp_client ? u.client
                  : w->kind == wkind::udp_v4   ? u.out4
                                               : u.out6;
        s.rd = true;
        process(*c);
        break;
      }
      case wkind::dns: {
        auto fd = static_cast<int>(reinterpret_cast<intptr_t>(w->obj));
        ares_socket_t r = (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
        ares_socket_t wr = (ev.events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
        ares_process_fd(ares_, r, wr);
        break;
      }
    }
  }

  void run_tasks() {
    uint64_t v;
    [[maybe_unused]] auto n = ::read(wake_fd_, &v, sizeof(v));
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      tasks.swap(tasks_);
    }
    for (auto& f : tasks)
      f();
  }

  void accept_some(listener* l) {
    for (int i = 0; i < 32; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd = accept4(l->fd_for(index_), reinterpret_cast<sockaddr*>(&ss), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          // Level-triggered: the listener would wake us again at once. Stop
          // listening on this loop until the next tick, and say it once.
          if (!accept_paused_)
            log::warning(std::string{"accept: "} + std::strerror(errno)
                         + " (raise the open-file limit); pausing accepts");
          accept_paused_ = true;
          for (auto lst : listeners_)
            epoll_ctl(ep_, EPOLL_CTL_DEL, lst->fd_for(index_), nullptr);
        }
        return;
      }
      auto inherited = l->nodelay_inherited.load(std::memory_order_relaxed);
      if (inherited < 0) {
        int on = 0;
        socklen_t olen = sizeof(on);
        getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen);
        inherited = on ? 1 : 0;
        l->nodelay_inherited.store(inherited, std::memory_order_relaxed);
      }
      if (inherited == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      auto c = std::make_unique<conn>();
      c->id = (static_cast<conn_id>(index_) << loop_shift) | ++seq_;
      c->down.fd = fd;
      c->down.wr = true; // a new socket's send buffer is empty
      c->down.w = watcher{wkind::down, c.get()};
      c->up.w = watcher{wkind::up, c.get()};
      c->tin.w = watcher{wkind::tin, c.get()};
      c->tout.w = watcher{wkind::tout, c.get()};
      c->tin.sock = c->tout.sock = false;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = &c->down.w;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      auto peer = ip_endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
      auto& cr = *c;
      conns_.emplace(cr.id, std::move(c));
      count_.fetch_add(1, std::memory_order_relaxed);
      auto adm = l->handler->on_accepted(cr.id, peer.value_or(ip_endpoint{}));
      switch (adm.what) {
        case admission::verdict::refuse:
          close_conn(cr, close_reason::requested);
          break;
        case admission::verdict::own:
          // Deferred accept: the greeting is most likely there already (if
          // the deferral ran out without data, one read says EAGAIN).
          cr.down.rd = l->deferred;
          own(cr, std::move(adm.handler), std::move(adm.plan));
          break;
        case admission::verdict::defer:
          break;
      }
    }
  }

  conn* find(conn_id id) {
    auto i = conns_.find(id);
    return i != conns_.end() ? i->second.get() : nullptr;
  }

  // -- per-connection state machine -------------------------------------------

  void process(conn& c) {
    switch (c.state) {
      case cstate::accepted:
        return;
      case cstate::handshake:
      case cstate::connected:
        handshake_io(c);
        return;
      case cstate::connecting:
        if (c.up.wr || c.up.rd)
          check_connect(c);
        return;
      case cstate::binding:
        handshake_io(c);
        if (!c.closed && c.state == cstate::binding && c.up.rd)
          accept_peer(c);
        return;
      case cstate::relaying:
        relay(c);
        return;
      case cstate::udp_relaying:
        udp_control(c);
        if (!c.closed)
          udp_service(c);
        return;
    }
  }

  void handshake_io(conn& c) {
    if (flush_out(c) && c.state == cstate::handshake && c.plan)
      advance(c);
  }

  /// Writes pending handshake output; false once the connection is closed
  /// (a write failed, or it was written with after::close).
  bool flush_out(conn& c) {
    while (c.out_off < c.out.size() && c.down.wr) {
      auto n = ::send(c.down.fd, c.out.data() + c.out_off,
                      c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c.down.wr = false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        close_conn(c, close_reason::client_gone);
        return false;
      }
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
      if (c.after_out == after::close) {
        close_conn(c, c.close_why);
        return false;
      }
    }
    return true;
  }

  /// Parses the handshake under the plan until the owner must decide or
  /// the client must send more.
  void advance(conn& c) {
    for (;;) {
      const uint8_t* data = c.in.data();
      size_t size = c.in.size();
      socks5::parse_result r;
      switch (c.step) {
        case hstep::greeting: {
          socks5::greeting g;
          r = socks5::parse_greeting(data, size, g);
          if (r.status != socks5::parse_status::done)
            break;
          consume(c, r.consumed);
          auto m = socks5::choose_method(g, c.plan->userpass, c.plan->no_auth);
          if (m == socks5::method::none_acceptable) {
            fail_handshake(c, handshake_stage::method, socks5::codec_error::none);
            return;
          }
          auto bytes = socks5::encode_method_choice(m);
          c.out.insert(c.out.end(), bytes.begin(), bytes.end());
          c.step = m == socks5::method::userpass ? hstep::credentials
                                                 : hstep::request;
          if (!flush_out(c))
            return;
          continue;
        }
        case hstep::credentials: {
          socks5::credentials creds;
          r = socks5::parse_credentials(data, size, creds);
          if (r.status != socks5::parse_status::done)
            break;
          consume(c, r.consumed);
          c.step = hstep::authenticating;
          if (!c.handler->on_credentials(c.id, std::move(creds)))
            return; // the owner answers with `authenticated`
          authenticate(c, true);
          if (!flush_out(c))
            return;
          continue;
        }
        case hstep::request: {
          socks5::request req;
          r = socks5::parse_request(data, size, req);
          if (r.status != socks5::parse_status::done)
            break;
          consume(c, r.consumed);
          c.step = hstep::done;
          c.has_target = true;
          c.target = req.dst;
          if (req.cmd == socks5::command::connect) {
            connect_request creq;
            creq.target = req.dst;
            creq.timeout = c.plan->connect_timeout;
            creq.deny = c.plan->deny;
            start_connect(c, std::move(creq));
          } else {
            c.handler->on_request(c.id, std::move(req));
          }
          return;
        }
        case hstep::authenticating:
        case hstep::done:
          return;
      }
      if (r.status == socks5::parse_status::error) {
        auto stage = c.step == hstep::greeting      ? handshake_stage::greeting
                     : c.step == hstep::credentials ? handshake_stage::credentials
                                                    : handshake_stage::request;
        fail_handshake(c, stage, r.error);
        return;
      }
      if (!read_more(c))
        return;
    }
  }

  static void consume(conn& c, size_t n) {
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<long>(n));
  }

  void fail_handshake(conn& c, handshake_stage stage, socks5::codec_error err) {
    c.step = hstep::done;
    c.handler->on_handshake_failed(c.id, stage, err);
  }

  /// Appends one read to `c.in`; false when nothing came (or it closed).
  bool read_more(conn& c) {
    if (!c.down.rd)
      return false;
    auto old = c.in.size();
    c.in.resize(old + cfg_.chunk_size);
    auto n = ::recv(c.down.fd, c.in.data() + old, cfg_.chunk_size, 0);
    c.in.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) {
      // A short read drained the socket; the next arrival is a new edge.
      if (static_cast<size_t>(n) < cfg_.chunk_size && !c.down.hup)
        c.down.rd = false;
      return true;
    }
    if (n < 0 && errno == EINTR)
      return true;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.down.rd = false;
      return false;
    }
    close_conn(c, close_reason::client_gone);
    return false;
  }

  // -- connect ----------------------------------------------------------------

  static void dns_done(void* arg, int status, int, ares_addrinfo* res) {
    std::unique_ptr<dns_arg> a{static_cast<dns_arg*>(arg)};
    auto self = a->self;
    auto c = self->find(a->id);
    if (!c || (c->state != cstate::connecting && c->state != cstate::binding)
        || c->op_gen != a->gen) {
      if (res)
        ares_freeaddrinfo(res);
      return;
    }
    if (status != ARES_SUCCESS || !res) {
      if (res)
        ares_freeaddrinfo(res);
      connect_error err;
      switch (status) {
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
        case ARES_ENONAME:
        case ARES_EBADNAME:
          err = connect_error::name_not_found;
          break;
        case ARES_ETIMEOUT:
          err = connect_error::timeout;
          break;
        default:
          err = connect_error::resolver_failure;
      }
      self->connect_failed(*c, err);
      return;
    }
    for (auto ai = res->nodes; ai; ai = ai->ai_next) {
      if (auto ep = ip_endpoint::from_sockaddr(ai->ai_addr)) {
        ep->port = c->creq.target.port();
        if (std::find(c->addrs.begin(), c->addrs.end(), *ep) == c->addrs.end())
          c->addrs.push_back(*ep);
      }
    }
    ares_freeaddrinfo(res);
    if (c->addrs.empty()) {
      self->connect_failed(*c, connect_error::name_not_found);
      return;
    }
    if (c->state == cstate::binding)
      self->bind_listen(*c);
    else
      self->filter_and_connect(*c);
  }

  static void ares_sock_state(void* data, ares_socket_t fd, int readable,
                              int writable) {
    auto self = static_cast<loop*>(data);
    auto i = self->dns_watchers_.find(fd);
    if (!readable && !writable) {
      if (i != self->dns_watchers_.end()) {
        epoll_ctl(self->ep_, EPOLL_CTL_DEL, fd, nullptr);
        self->dns_watchers_.erase(i);
      }
      return;
    }
    epoll_event ev{};
    ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
    if (i == self->dns_watchers_.end()) {
      auto w = std::make_unique<watcher>(
        watcher{wkind::dns, reinterpret_cast<void*>(static_cast<intptr_t>(fd))});
      ev.data.ptr = w.get();
      self->dns_watchers_.emplace(fd, std::move(w));
      epoll_ctl(self->ep_, EPOLL_CTL_ADD, fd, &ev);
    } else {
      ev.data.ptr = i->second.get();
      epoll_ctl(self->ep_, EPOLL_CTL_MOD, fd, &ev);
    }
    self->dns_pending_ = self->dns_watchers_.size();
  }

  void filter_and_connect(conn& c) {
    if (!c.creq.deny.empty()) {
      auto denied = [&](const ip_endpoint& ep) {
        return std::any_of(c.creq.deny.begin(), c.creq.deny.end(),
                           [&](const cidr& block) { return block.contains(ep); });
      };
      c.addrs.erase(std::remove_if(c.addrs.begin(), c.addrs.end(), denied),
                    c.addrs.end());
      if (c.addrs.empty()) {
        connect_failed(c, connect_error::denied);
        return;
      }
    }
    try_next(c);
  }

  void try_next(conn& c) {
    while (c.next_addr < c.addrs.size()) {
      auto& ep = c.addrs[c.next_addr++];
      int fd = ::socket(ep.v6 ? AF_INET6 : AF_INET,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        c.last_err = from_errno(errno);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      sockaddr_storage ss;
      auto len = ep.to_sockaddr(ss);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
      if (rc < 0 && errno != EINPROGRESS) {
        c.last_err = from_errno(errno);
        ::close(fd);
        continue;
      }
      c.up.fd = fd;
      c.up.reset_readiness();
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = &c.up.w;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      if (rc == 0)
        c.up.wr = true, check_connect(c);
      return;
    }
    connect_failed(c, c.last_err == connect_error::none ? connect_error::other
                                                        : c.last_err);
  }

  void check_connect(conn& c) {
    std::optional<ip_endpoint> remote;
    if (c.up.wr && !c.up.err) {
      // Writable without an error or hang-up: connected. The peer is the
      // address we connected to (no getsockopt, no getpeername).
      remote = c.addrs[c.next_addr - 1];
    } else {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.up.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        retry_connect(c, err);
        return;
      }
      if (!c.up.wr)
        return; // readable without error or writability: keep waiting
      // An error event with SO_ERROR 0: only a peer address proves the
      // connection (gVisor has reported refused connects this way).
      remote = ip_endpoint::peer_of(c.up.fd);
      if (!remote) {
        retry_connect(c, errno == ENOTCONN ? ECONNREFUSED : errno);
        return;
      }
    }
    auto local = ip_endpoint::local_of(c.up.fd);
    ++c.op_gen; // cancels the deadline
    c.state = cstate::connected;
    if (c.plan) {
      // A CONNECT under the plan: the success reply names our address
      // towards the target, and the relay starts at once.
      c.remote = remote.value_or(ip_endpoint{});
      ++connects_ok_;
      auto plan = c.plan; // begin_relay drops the connection's reference
      begin_relay(c,
                  socks5::encode_reply(socks5::reply::succeeded,
                                       socks5::address::from(
                                         local.value_or(ip_endpoint{}))),
                  {}, plan->relay, true);
      return;
    }
    c.handler->on_connected(c.id, local.value_or(ip_endpoint{}),
                            remote.value_or(ip_endpoint{}));
  }

  /// The attempt on the current address failed with `err`: the next one.
  void retry_connect(conn& c, int err) {
    c.last_err = from_errno(err);
    ::close(c.up.fd);
    c.up.fd = -1;
    try_next(c);
  }

  void connect_failed(conn& c, connect_error err) {
    ++c.op_gen;
    if (c.up.fd >= 0) {
      ::close(c.up.fd);
      c.up.fd = -1;
    }
    c.state = cstate::handshake; // the owner now sends a reply and closes
    c.handler->on_connect_failed(c.id, err);
  }

  void run_timers() {
    while (!timers_.empty() && timers_.top().when <= now_) {
      auto t = timers_.top();
      timers_.pop();
      auto c = find(t.id);
      if (!c)
        continue;
      if (t.handshake) {
        if (c->state == cstate::handshake && c->step != hstep::done)
          close_conn(*c, close_reason::handshake_timeout);
        continue;
      }
      if ((c->state == cstate::connecting || c->state == cstate::binding)
          && c->op_gen == t.gen)
        connect_failed(*c, connect_error::timeout);
    }
  }

  // -- relay ------------------------------------------------------------------

  void setup_pump(pump& p, side* src, side* dst, const relay_options& opts) {
    p.src = src;
    p.dst = dst;
    p.cap = std::max<size_t>(opts.buffer_size, 1);
    // Small exchanges (a handshake, a request and its answer) cost fewer
    // system calls copied through a buffer: a short read proves the socket
    // drained, a short splice does not (the pipe may be out of slots). Bulk
    // transfers switch to splice after the first `splice_after` bytes.
    p.use_splice = false;
    p.splice_later = opts.splice;
  }

  bool acquire_pipe(pump& p) {
    if (!pipe_pool_.empty()) {
      p.pipe = pipe_pool_.back();
      pipe_pool_.pop_back();
    } else {
      int fds[2];
      if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return false;
      p.pipe.rd = fds[0];
      p.pipe.wr = fds[1];
      p.pipe.capacity = static_cast<size_t>(fcntl(fds[0], F_GETPIPE_SZ));
    }
    if (p.pipe.capacity < p.cap) {
      auto got = fcntl(p.pipe.wr, F_SETPIPE_SZ, static_cast<int>(p.cap));
      if (got > 0)
        p.pipe.capacity = static_cast<size_t>(got);
    }
    return true;
  }

  void release_pipe(pump& p) {
    if (!p.pipe.valid())
      return;
    if (p.held == 0 && pipe_pool_.size() < cfg_.pipe_pool) {
      pipe_pool_.push_back(p.pipe);
    } else {
      ::close(p.pipe.rd);
      ::close(p.pipe.wr);
    }
    p.pipe = pipe_pair{};
  }

  enum class io_result { progress, blocked, error };

  /// Moves as much as possible.
  io_result pump_step(pump& p) {
    bool progress = false;
    for (;;) {
      bool moved = false;
      // 1. prefix
      while (p.prefix_off < p.prefix.size() && p.dst->wr) {
        auto n = write_some(*p.dst, p.prefix.data() + p.prefix_off,
                            p.prefix.size() - p.prefix_off);
        if (n > 0) {
          p.prefix_off += static_cast<size_t>(n);
          moved = true;
          if (p.prefix_is_data) {
            p.moved += static_cast<size_t>(n);
            traffic_up_ += static_cast<size_t>(n);
          }
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          p.dst->wr = false;
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return io_result::error;
        }
      }
      if (p.prefix_off < p.prefix.size())
        break;
      if (!p.prefix.empty()) {
        p.prefix.clear();
        p.prefix.shrink_to_fit();
        p.prefix_off = 0;
      }
      // 2. held bytes -> dst
      if (p.held > 0 && p.dst->wr) {
        ssize_t n;
        if (p.use_splice)
          n = splice(p.pipe.rd, nullptr, p.dst->fd, nullptr, p.held,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        else
          n = write_some(*p.dst, p.buf.get() + p.head, p.tail - p.head);
        if (n > 0) {
          auto k = static_cast<size_t>(n);
          p.held -= k;
          p.moved += k;
          moved = true;
          if (p.dst->w.kind == wkind::up)
            traffic_up_ += k;
          else if (p.dst->w.kind == wkind::down)
            traffic_down_ += k;
          if (!p.use_splice) {
            p.head += k;
            if (p.head == p.tail)
              p.head = p.tail = 0;
          }
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          p.dst->wr = false;
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return io_result::error;
        }
      }
      if (p.held == 0) {
        if (p.use_splice)
          release_pipe(p);
        else if (p.buf)
          p.buf.reset();
        // A bulk transfer: splice from here on (the buffer is empty, so no
        // byte can overtake another).
        if (p.splice_later && p.moved >= splice_after) {
          p.splice_later = false;
          p.use_splice = true;
        }
      }
      // 3. src -> held
      if (!p.eof && p.src->rd && p.held < p.cap) {
        ssize_t n;
        auto room = p.cap - p.held;
        if (p.use_splice) {
          if (!p.pipe.valid() && !acquire_pipe(p)) {
            p.use_splice = false; // out of fds for pipes: fall back to copy
            continue;
          }
          if (p.pipe.capacity > p.held)
            room = std::min(room, p.pipe.capacity - p.held);
          n = splice(p.src->fd, nullptr, p.pipe.wr, nullptr, room,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        } else {
          if (!p.buf)
            p.buf.reset(new uint8_t[p.cap]);
          if (p.tail == p.cap && p.head > 0) {
            std::memmove(p.buf.get(), p.buf.get() + p.head, p.tail - p.head);
            p.tail -= p.head;
            p.head = 0;
          }
          room = p.cap - p.tail;
          n = p.src->sock ? ::recv(p.src->fd, p.buf.get() + p.tail, room, 0)
                          : ::read(p.src->fd, p.buf.get() + p.tail, room);
        }
        if (n > 0) {
          // A short read from a socket drained it: edge-triggered epoll
          // reports the next arrival, so skip the read that would only
          // say EAGAIN (as nginx does). A short splice proves nothing: the
          // pipe may have run out of slots (one per socket buffer fragment,
          // however small) with bytes still queued on the socket, and no
          // new edge comes for bytes that are already there.
          if (p.src->sock && !p.use_splice && static_cast<size_t>(n) < room
              && !p.src->hup)
            p.src->rd = false;
          p.held += static_cast<size_t>(n);
          if (!p.use_splice)
            p.tail += static_cast<size_t>(n);
          moved = true;
        } else if (n == 0) {
          p.eof = true;
          moved = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          // With splice, EAGAIN can also mean "pipe full" (out of pipe
          // slots): only trust it as "socket drained" when the pipe is
          // empty; otherwise read again once the pipe has drained.
          if (p.held == 0 || !p.use_splice)
            p.src->rd = false;
        } else if (errno == EINTR) {
          continue;
        } else {
          return io_result::error;
        }
      }
      if (!moved)
        break;
      progress = true;
    }
    // An idle direction holds no pipe: 5 000 idle tunnels must not cost
    // 20 000 pipe descriptors.
    if (p.use_splice && p.held == 0)
      release_pipe(p);
    // 4. half-close once src is exhausted and everything is delivered
    if (p.eof && p.held == 0 && p.prefix.empty() && !p.shut) {
      auto& owner = *static_cast<conn*>(p.dst->w.obj);
      if (p.dst->sock) {
        // The last direction needs no shutdown: the connection closes now,
        // and close sends the FIN (nothing is unread on dst: the other
        // direction read it to its end).
        if (!others_done(owner, p))
          ::shutdown(p.dst->fd, SHUT_WR);
      } else {
        ::close(p.dst->fd); // EOF for the program's stdin
        p.dst->fd = -1;
        draining_.push_back(owner.id);
        owner.tin_closed = now_;
      }
      p.shut = true;
      if (p.use_splice)
        release_pipe(p);
      progress = true;
    }
    return progress ? io_result::progress : io_result::blocked;
  }

  /// Every direction of `c` but `p` is done.
  static bool others_done(const conn& c, const pump& p) {
    for (size_t i = 0; i < c.npumps; ++i)
      if (&c.pumps[i] != &p && !c.pumps[i].done())
        return false;
    return true;
  }

  static ssize_t write_some(side& s, const uint8_t* data, size_t n) {
    return s.sock ? ::send(s.fd, data, n, MSG_NOSIGNAL) : ::write(s.fd, data, n);
  }

  /// Starts `/bin/sh -c cmd` with pipes on stdin and stdout.
  bool spawn_transform(conn& c, const std::string& cmd) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
      return false;
    if (pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char**>(argv),
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      errno = rc;
      return false;
    }
    c.child = pid;
    c.tin.fd = in[1];
    c.tout.fd = out[0];
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    for (auto* s : {&c.tin, &c.tout}) {
      epoll_event ev{};
      ev.events = (s == &c.tin ? EPOLLOUT : EPOLLIN) | EPOLLET;
      ev.data.ptr = &s->w;
      epoll_ctl(ep_, EPOLL_CTL_ADD, s->fd, &ev);
    }
    return true;
  }

  /// Closes connections whose program did not finish after its input ended.
  void check_draining() {
    for (size_t i = 0; i < draining_.size();) {
      auto c = find(draining_[i]);
      if (!c || c->pumps[2].done()) {
        draining_[i] = draining_.back();
        draining_.pop_back();
      } else if (now_ - c->tin_closed >= transform_drain_timeout) {
        draining_[i] = draining_.back();
        draining_.pop_back();
        close_conn(*c, close_reason::transform_failed);
      } else {
        ++i;
      }
    }
  }

  /// Collects exited transformation programs (never blocks).
  void reap_children() {
    for (size_t i = 0; i < zombies_.size();) {
      if (waitpid(zombies_[i], nullptr, WNOHANG) != 0) {
        zombies_[i] = zombies_.back();
        zombies_.pop_back();
      } else {
        ++i;
      }
    }
  }

  void relay(conn& c) {
    bool active = false;
    for (size_t i = 0; i < c.npumps; ++i) {
      auto* p = &c.pumps[i];
      if (p->done())
        continue;
      auto r = pump_step(*p);
      if (r == io_result::error) {
        close_conn(c, c.npumps == 3 && i > 0 ? close_reason::transform_failed
                      : i == 0              ? close_reason::upstream_error
                                            : close_reason::client_gone);
        return;
      }
      active = active || r == io_result::progress;
    }
    bool all_done = true;
    for (size_t i = 0; i < c.npumps; ++i)
      all_done = all_done && c.pumps[i].done();
    if (all_done) {
      close_conn(c, close_reason::done);
      return;
    }
    if (active) {
      c.last_active = now_;
      lru_touch(c);
    }
  }

  // -- idle timeout (LRU list: least recently active first) ------------------

  void lru_push(conn& c) {
    c.in_lru = true;
    c.lru_prev = lru_tail_;
    c.lru_next = nullptr;
    if (lru_tail_)
      lru_tail_->lru_next = &c;
    else
      lru_head_ = &c;
    lru_tail_ = &c;
  }

  void lru_remove(conn& c) {
    if (!c.in_lru)
      return;
    if (c.lru_prev)
      c.lru_prev->lru_next = c.lru_next;
    else
      lru_head_ = c.lru_next;
    if (c.lru_next)
      c.lru_next->lru_prev = c.lru_prev;
    else
      lru_tail_ = c.lru_prev;
    c.in_lru = false;
    c.lru_prev = c.lru_next = nullptr;
  }

  void lru_touch(conn& c) {
    if (lru_tail_ == &c)
      return;
    lru_remove(c);
    lru_push(c);
  }

  void sweep_idle() {
    while (lru_head_) {
      auto c = lru_head_;
      if (c->idle.count() == 0 || now_ - c->last_active < c->idle)
        break;
      close_conn(*c, close_reason::idle_timeout);
    }
  }

  void flush_traffic() {
    traffic_counts t{traffic_up_, traffic_down_,       udp_dropped_,
                     connects_ok_, owned_,             owned_closed_batch_};
    if ((t.bytes_up || t.bytes_down || t.udp_dropped || t.connects_ok || t.owned
         || t.owned_closed)
        && traffic_)
      traffic_(t);
    traffic_up_ = traffic_down_ = udp_dropped_ = connects_ok_ = 0;
    owned_ = owned_closed_batch_ = 0;
  }


  // -- teardown ---------------------------------------------------------------

  void release_fds(conn& c) {
    if (c.down.fd >= 0)
      ::close(c.down.fd);
    if (c.up.fd >= 0)
      ::close(c.up.fd);
    c.down.fd = c.up.fd = -1;
    for (auto* s : {&c.tin, &c.tout}) {
      if (s->fd >= 0)
        ::close(s->fd);
      s->fd = -1;
    }
    if (c.udp) {
      for (auto* s : {&c.udp->client, &c.udp->out4, &c.udp->out6}) {
        if (s->fd >= 0)
          ::close(s->fd);
        s->fd = -1;
      }
    }
    if (c.child > 0) {
      if (waitpid(c.child, nullptr, WNOHANG) == 0) {
        ::kill(c.child, SIGKILL);
        zombies_.push_back(c.child); // reaped on a later tick
      }
      c.child = -1;
    }
    for (auto* p : {&c.pumps[0], &c.pumps[1], &c.pumps[2]}) {
      if (p->pipe.valid()) {
        ::close(p->pipe.rd);
        ::close(p->pipe.wr);
        p->pipe = pipe_pair{};
      }
    }
  }

  void close_conn(conn& c, close_reason reason) {
    if (c.closed)
      return;
    c.closed = true;
    lru_remove(c);
    for (auto& p : c.pumps)
      if (p.held == 0)
        release_pipe(p);
    release_fds(c);
    close_stats stats;
    stats.bytes_up = c.pumps[0].moved;
    stats.bytes_down = c.pumps[c.npumps - 1].moved;
    stats.reason = reason;
    stats.relayed = c.state == cstate::relaying || c.state == cstate::udp_relaying;
    stats.has_target = c.has_target;
    stats.target = c.target;
    stats.remote = c.remote;
    stats.closed_at = now_;
    // Only an owner names a handler: a connection with one is owned.
    auto handler = std::move(c.handler);
    auto i = conns_.find(c.id);
    auto id = c.id;
    graveyard_.push_back(std::move(i->second));
    conns_.erase(i);
    count_.fetch_sub(1, std::memory_order_relaxed);
    if (handler)
      report_closed(std::move(handler), id, std::move(stats));
  }

  /// Counts an owned connection as closed and queues its on_closed for the
  /// next batch (see reactor_config::close_delay).
  void report_closed(std::shared_ptr<conn_handler> h, conn_id id,
                     close_stats stats) {
    ++owned_closed_batch_;
    owned_closed_.fetch_add(1, std::memory_order_relaxed);
    if (closing_.empty())
      closing_since_ = now_;
    closing_.push_back(pending_close{std::move(h), id, std::move(stats)});
  }

  /// Reports the closes waiting in `closing_`.
  void deliver_closes() {
    auto batch = std::move(closing_);
    closing_.clear();
    for (auto& x : batch)
      x.handler->on_closed(x.id, std::move(x.stats));
  }

  size_t index_;
  reactor_config cfg_;
  traffic_sink traffic_;
  int ep_ = -1;
  int wake_fd_ = -1;
  watcher wake_w_;
  std::thread thread_;
  bool running_ = true;
  std::mutex mtx_;
  std::vector<std::function<void()>> tasks_;
  std::vector<listener*> listeners_;
  std::vector<std::unique_ptr<watcher>> listener_w_;
  std::unordered_map<conn_id, std::unique_ptr<conn>> conns_;
  std::vector<std::unique_ptr<conn>> graveyard_;
  std::atomic<size_t> count_{0};
  uint64_t seq_ = 0;
  time_point now_ = clock_type::now();
  std::priority_queue<timer_entry, std::vector<timer_entry>,
                      std::greater<timer_entry>>
    timers_;
  ares_channel ares_ = nullptr;
  std::unordered_map<int, std::unique_ptr<watcher>> dns_watchers_;
  size_t dns_pending_ = 0;
  std::vector<pipe_pair> pipe_pool_;
  conn* lru_head_ = nullptr;
  conn* lru_tail_ = nullptr;
  uint64_t traffic_up_ = 0;
  uint64_t traffic_down_ = 0;
  uint64_t udp_dropped_ = 0;
  uint64_t connects_ok_ = 0;
  uint64_t owned_ = 0;
  uint64_t owned_closed_batch_ = 0;
  std::atomic<uint64_t> owned_closed_{0};
  /// Accepting stopped after EMFILE/ENFILE until the next tick.
  bool accept_paused_ = false;
  /// Killed transformation programs not yet reaped.
  std::vector<pid_t> zombies_;
  /// Connections whose program's stdin is closed and output not finished.
  std::vector<conn_id> draining_;
  /// Closes not reported yet (see reactor_config::close_delay), and when
  /// the oldest of them happened.
  struct pending_close {
    std::shared_ptr<conn_handler> handler;
    conn_id id;
    close_stats stats;
  };
  std::vector<pending_close> closing_;
  time_point closing_since_{};
};

// -- reactor ------------------------------------------------------------------

namespace {

std::once_flag ares_once;

} // namespace

reactor::reactor(reactor_config cfg) : cfg_(cfg) {
  std::call_once(ares_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  if (cfg_.threads == 0)
    cfg_.threads = std::max(1u, std::thread::hardware_concurrency());
  cfg_.threads = std::min<size_t>(cfg_.threads, 255);
}

reactor::~reactor() {
  stop();
  for (auto& l : listeners_)
    l->close_all();
}

namespace {

/// A TCP socket bound to `addr` (port 0: any), not listening yet; -1 with
/// errno set on error.
/// Closes `fd` and returns -1, leaving errno as it was.
int close_keep_errno(int fd) {
  auto err = errno;
  ::close(fd);
  errno = err;
  return -1;
}

int bound_tcp_socket(const ip_endpoint& addr, bool reuseport) {
  int fd = ::socket(addr.v6 ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (addr.v6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss;
  auto len = addr.to_sockaddr(ss);
  if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
      || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return close_keep_errno(fd);
  return fd;
}

/// A listening socket on `addr` (port 0: any); -1 with errno set on error.
int open_listener(const ip_endpoint& addr, bool reuseport,
                  std::chrono::seconds client_first, bool& deferred) {
  int fd = bound_tcp_socket(addr, reuseport);
  if (fd < 0)
    return -1;
  if (::listen(fd, 1024) != 0)
    return close_keep_errno(fd);
  deferred = false;
  if (client_first.count() > 0) {
    int secs = static_cast<int>(std::min<long>(client_first.count(), 3600));
    deferred = setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) == 0;
  }
  return fd;
}

} // namespace

std::variant<ip_endpoint, std::string>
reactor::listen(const ip_endpoint& addr, std::shared_ptr<accept_handler> h,
                std::chrono::seconds client_first) {
  // One socket per loop (SO_REUSEPORT): the kernel spreads clients over the
  // loops, where one shared socket hands a burst to whichever loop wakes
  // first. Where that fails, the loops share one socket.
  auto fail = [&] {
    return std::string{"cannot listen on "} + addr.to_string() + ": "
           + std::strerror(errno);
  };
  auto l = std::make_unique<listener>();
  bool many = cfg_.threads > 1;
  auto at = addr;
  if (many) {
    // SO_REUSEPORT would let a second proxy started on the same port by
    // mistake share it silently: a plain bind first proves the port free
    // (and picks one for port 0).
    int probe = bound_tcp_socket(addr, false);
    if (probe < 0)
      return fail();
    at = ip_endpoint::local_of(probe).value_or(addr);
    ::close(probe);
  }
  int fd = open_listener(at, many, client_first, l->deferred);
  if (fd < 0 && many) {
    many = false;
    fd = open_listener(addr, false, client_first, l->deferred);
  }
  if (fd < 0)
    return fail();
  l->addr = ip_endpoint::local_of(fd).value_or(addr);
  l->fds.push_back(fd);
  for (size_t i = 1; many && i < cfg_.threads; ++i) {
    bool deferred = false;
    int more = open_listener(l->addr, true, client_first, deferred);
    if (more < 0 || deferred != l->deferred) {
      if (more >= 0)
        ::close(more);
      log::warning("SO_REUSEPORT listener for " + l->addr.to_string()
                   + " failed; the loops share one socket");
      for (size_t k = 1; k < l->fds.size(); ++k)
        ::close(l->fds[k]);
      l->fds.resize(1);
      break;
    }
    l->fds.push_back(more);
  }
  l->handler = std::move(h);
  auto result = l->addr;
  listeners_.push_back(std::move(l));
  return result;
}

void reactor::start() {
  if (started_)
    return;
  started_ = true;
  for (size_t i = 0; i < cfg_.threads; ++i) {
    loops_.push_back(std::make_unique<loop>(i, cfg_, traffic_));
    for (auto& l : listeners_)
      loops_.back()->add_listener(l.get());
  }
  for (auto& lp : loops_)
    lp->start();
}

void reactor::stop_listening() {
  std::vector<std::future<void>> done;
  for (auto& lp : loops_) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    auto raw = lp.get();
    lp->post([raw, p] {
      raw->do_remove_listeners();
      p->set_value();
    });
  }
  for (auto& f : done)
    f.wait();
  for (auto& l : listeners_)
    l->close_all();
}

void reactor::close_all() {
  for (auto& lp : loops_) {
    auto raw = lp.get();
    lp->post([raw] { raw->do_close_all(); });
  }
}

void reactor::stop() {
  for (auto& lp : loops_)
    lp->stop();
  loops_.clear();
  // No accept can happen any more: let the handlers go now (they may hold
  // resources of their owner's, such as actor handles).
  for (auto& l : listeners_)
    l->handler.reset();
}

size_t reactor::connection_count() const {
  size_t n = 0;
  for (auto& lp : loops_)
    n += lp->count();
  return n;
}

loop& reactor::owner(conn_id id) {
  auto index = static_cast<size_t>(id >> loop_shift);
  return *loops_[index < loops_.size() ? index : 0];
}

void reactor::handshake(conn_id id, std::shared_ptr<conn_handler> h,
                        handshake_plan plan) {
  auto& lp = owner(id);
  lp.post([&lp, id, h = std::move(h), p = std::move(plan)]() mutable {
    lp.do_handshake(id, std::move(h), std::move(p));
  });
}

void reactor::authenticated(conn_id id, bool ok) {
  auto& lp = owner(id);
  lp.post([&lp, id, ok] { lp.do_authenticated(id, ok); });
}

void reactor::send(conn_id id, std::vector<uint8_t> bytes, after next) {
  auto& lp = owner(id);
  lp.post([&lp, id, b = std::move(bytes), next]() mutable {
    lp.do_send(id, std::move(b), next);
  });
}

void reactor::bind(conn_id id, bind_request req) {
  auto& lp = owner(id);
  lp.post([&lp, id, r = std::move(req)]() mutable { lp.do_bind(id, std::move(r)); });
}

void reactor::udp_associate(conn_id id, udp_request req) {
  auto& lp = owner(id);
  lp.post([&lp, id, r = std::move(req)]() mutable {
    lp.do_udp_associate(id, std::move(r));
  });
}

void reactor::start_relay(conn_id id, std::vector<uint8_t> to_client,
                          std::vector<uint8_t> to_upstream,
                          relay_options opts) {
  auto& lp = owner(id);
  lp.post([&lp, id, a = std::move(to_client), b = std::move(to_upstream),
           opts]() mutable {
    lp.do_start_relay(id, std::move(a), std::move(b), opts);
  });
}

uint64_t reactor::owned_closed() const {
  uint64_t n = 0;
  for (auto& lp : loops_)
    n += lp->owned_closed();
  return n;
}

void reactor::close(conn_id id) {
  auto& lp = owner(id);
  lp.post([&lp, id] { lp.do_close(id, close_reason::requested); });
}

} // namespace px::net
