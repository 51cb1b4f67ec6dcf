// Load generator: runs every scenario direct (no proxy) and through each
// SOCKS5 server given, in one run, and prints results as ratios to direct.
//
//   bench [--seconds S] [--idle N] [--mib M] [--only PREFIX] [--stall-rounds R]
//         [--echo-port P] [--udp-port P] NAME=HOST:PORT[:USER:PASS[:PID]] ...
//
// The echo targets listen on the given ports (0: any; a fixed port avoids
// bind(port 0) when TIME_WAIT sockets of earlier runs hold the ephemeral
// range).
//
// Scenarios: CONNECT throughput with 1 and 8 streams (both directions at
// once), connection rate with 1 and 32 workers (greeting, auth, CONNECT, a
// 64-byte echo, close) with p50/p99 latency, idle connections held open and
// verified alive with the proxy's memory per connection, slow readers (the
// proxy's memory per stalled connection, every byte checked afterwards), UDP
// ASSOCIATE datagram rate and loss, the stall case (tunnels that carry bulk
// data both ways at once, then a final small write each way: every byte
// must come back, promptly; a stall shows as an error after 10 s), and the
// proxy's CPU time (from /proc/PID/stat).
#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

double secs_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// -- target servers (in this process) ----------------------------------------

/// TCP echo server: a few epoll threads sharing one listener.
class echo_server {
public:
  echo_server(int threads, uint16_t port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0
        || ::listen(lfd_, 4096) != 0) {
      perror("echo target");
      exit(1);
    }
    socklen_t len = sizeof(a);
    getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { run(); });
  }

  ~echo_server() {
    stop_ = true;
    for (auto& t : threads_)
      t.join();
    ::close(lfd_);
  }

  uint16_t port() const { return port_; }

private:
  struct conn {
    int fd;
    std::vector<char> buf = std::vector<char>(65536);
    size_t off = 0, len = 0;
  };

  void run() {
    int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = nullptr;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd_, &ev);
    std::map<int, std::unique_ptr<conn>> conns;
    epoll_event evs[128];
    while (!stop_) {
      int n = epoll_wait(ep, evs, 128, 100);
      for (int i = 0; i < n; ++i) {
        if (!evs[i].data.ptr) {
          for (;;) {
            int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK);
            if (fd < 0)
              break;
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            auto c = std::make_unique<conn>();
            c->fd = fd;
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.ptr = c.get();
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
            conns[fd] = std::move(c);
          }
          continue;
        }
        auto c = static_cast<conn*>(evs[i].data.ptr);
        bool dead = false;
        if (c->len == 0) {
          auto r = ::recv(c->fd, c->buf.data(), c->buf.size(), 0);
          if (r <= 0) {
            dead = r == 0 || (errno != EAGAIN && errno != EINTR);
          } else {
            c->len = static_cast<size_t>(r);
            c->off = 0;
          }
        }
        while (!dead && c->off < c->len) {
          auto w = ::send(c->fd, c->buf.data() + c->off, c->len - c->off, MSG_NOSIGNAL);
          if (w < 0) {
            dead = errno != EAGAIN;
            break;
          }
          c->off += static_cast<size_t>(w);
        }
        if (!dead) {
          if (c->off == c->len)
            c->len = c->off = 0;
          epoll_event e{};
          e.events = c->len ? EPOLLOUT : EPOLLIN;
          e.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        } else {
          ::close(c->fd);
          conns.erase(c->fd);
        }
      }
    }
    for (auto& kv : conns)
      ::close(kv.first);
    ::close(ep);
  }

  int lfd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

/// UDP echo server.
class udp_echo {
public:
  explicit udp_echo(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      perror("udp echo target");
      exit(1);
    }
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    int big = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    thread_ = std::thread([this] {
      char buf[65536];
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0)
          continue;
        sockaddr_storage from{};
        socklen_t fl = sizeof(from);
        auto n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n > 0)
          sendto(fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    });
  }
  ~udp_echo() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

private:
  int fd_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// -- SOCKS5 client ------------------------------------------------------------

struct target {
  std::string name = "direct";
  std::string host;
  uint16_t port = 0;
  std::string user, pass;
  int pid = 0;
  bool direct() const { return port == 0; }
};

bool read_full(int fd, void* buf, size_t n) {
  auto p = static_cast<char*>(buf);
  while (n > 0) {
    auto r = ::recv(fd, p, n, 0);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_full(int fd, const void* buf, size_t n) {
  auto p = static_cast<const char*>(buf);
  while (n > 0) {
    auto r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

int tcp_connect(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // A server that stalls shows up as errors, never as a hung benchmark.
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Greeting, auth (when the target has a user), and a command to
/// 127.0.0.1:port. Returns the reply's BND port in `bnd`.
bool socks_handshake(int fd, const target& t, uint8_t cmd, uint16_t port, uint16_t* bnd = nullptr) {
  bool userpass = !t.user.empty();
  uint8_t g[3] = {5, 1, static_cast<uint8_t>(userpass ? 2 : 0)};
  uint8_t r[2];
  if (!write_full(fd, g, 3) || !read_full(fd, r, 2) || r[1] != g[2])
    return false;
  if (userpass) {
    std::string a;
    a += '\x01';
    a += static_cast<char>(t.user.size());
    a += t.user;
    a += static_cast<char>(t.pass.size());
    a += t.pass;
    if (!write_full(fd, a.data(), a.size()) || !read_full(fd, r, 2) || r[1] != 0)
      return false;
  }
  uint8_t req[10] = {5, cmd, 0, 1, 127, 0, 0, 1,
                     static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port)};
  uint8_t rep[10];
  if (!write_full(fd, req, 10) || !read_full(fd, rep, 10) || rep[1] != 0)
    return false;
  if (bnd)
    *bnd = static_cast<uint16_t>((rep[8] << 8) | rep[9]);
  return true;
}

int open_stream(const target& t, uint16_t echo_port) {
  if (t.direct())
    return tcp_connect("127.0.0.1", echo_port);
  int fd = tcp_connect(t.host, t.port);
  if (fd >= 0 && !socks_handshake(fd, t, 1, echo_port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

double cpu_seconds(int pid) {
  if (pid <= 0)
    return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto p = s.rfind(')');
  if (p == std::string::npos)
    return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14)
      ut = std::stoull(field);
    if (i == 15)
      st = std::stoull(field);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kib(int pid) {
  if (pid <= 0)
    return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

// -- scenarios ----------------------------------------------------------------

struct result {
  double value = 0;     // main metric (MiB/s, conn/s, datagrams/s)
  double extra1 = 0;    // p50 us / loss %
  double extra2 = 0;    // p99 us
  double cpu = 0;       // proxy CPU seconds used
  double units = 0;     // GiB moved / connections made
  bool ok = true;
};

result throughput(const target& t, uint16_t echo_port, int streams, size_t mib) {
  result res;
  std::vector<int> fds;
  for (int i = 0; i < streams; ++i) {
    int fd = open_stream(t, echo_port);
    if (fd < 0) {
      res.ok = false;
      return res;
    }
    fds.push_back(fd);
  }
  size_t bytes = mib << 20;
  double cpu0 = cpu_seconds(t.pid);
  auto t0 = clock_type::now();
  std::vector<std::thread> ths;
  std::atomic<bool> ok{true};
  for (int fd : fds) {
    ths.emplace_back([fd, bytes] {
      std::vector<char> buf(256 * 1024, 'x');
      size_t left = bytes;
      while (left > 0) {
        auto n = std::min(left, buf.size());
        if (!write_full(fd, buf.data(), n))
          return;
        left -= n;
      }
      shutdown(fd, SHUT_WR);
    });
    ths.emplace_back([fd, bytes, &ok] {
      std::vector<char> buf(256 * 1024);
      size_t got = 0;
      for (;;) {
        auto n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0)
          break;
        got += static_cast<size_t>(n);
      }
      if (got != bytes)
        ok = false;
    });
  }
  for (auto& th : ths)
    th.join();
  double dt = secs_since(t0);
  for (int fd : fds)
    ::close(fd);
  res.ok = ok;
  double total = 2.0 * static_cast<double>(bytes) * streams; // both directions
  res.value = total / dt / (1 << 20);
  res.cpu = cpu_seconds(t.pid) - cpu0;
  res.units = total / (1 << 30);
  return res;
}

result conn_rate(const target& t, uint16_t echo_port, int workers, double seconds) {
  result res;
  std::mutex mtx;
  std::vector<double> lat;
  std::atomic<long> fails{0};
  double cpu0 = cpu_seconds(t.pid);
  auto t0 = clock_type::now();
  std::vector<std::thread> ths;
  for (int w = 0; w < workers; ++w) {
    ths.emplace_back([&] {
      std::vector<double> mine;
      char msg[64], back[64];
      std::memset(msg, 'p', sizeof(msg));
      while (secs_since(t0) < seconds) {
        auto a = clock_type::now();
        int fd = open_stream(t, echo_port);
        bool good = fd >= 0 && write_full(fd, msg, 64) && read_full(fd, back, 64);
        if (fd >= 0)
          ::close(fd);
        if (!good) {
          ++fails;
          continue;
        }
        mine.push_back(secs_since(a) * 1e6);
      }
      std::lock_guard<std::mutex> g{mtx};
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : ths)
    th.join();
  double dt = secs_since(t0);
  std::sort(lat.begin(), lat.end());
  res.value = static_cast<double>(lat.size()) / dt;
  if (!lat.empty()) {
    res.extra1 = lat[lat.size() / 2];
    res.extra2 = lat[lat.size() * 99 / 100];
  }
  res.cpu = cpu_seconds(t.pid) - cpu0;
  res.units = static_cast<double>(lat.size());
  res.ok = fails == 0;
  return res;
}

/// Opens up to `count` streams to the echo target (stops at the first
/// failure).
std::vector<int> open_streams(const target& t, uint16_t echo_port, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = open_stream(t, echo_port);
    if (fd < 0)
      break;
    fds.push_back(fd);
  }
  return fds;
}

result idle(const target& t, uint16_t echo_port, int count) {
  result res;
  long rss0 = rss_kib(t.pid);
  auto fds = open_streams(t, echo_port, count);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long rss1 = rss_kib(t.pid);
  int alive = 0;
  char c = 'a', d = 0;
  for (int fd : fds)
    alive += write_full(fd, &c, 1) && read_full(fd, &d, 1) && d == 'a';
  for (int fd : fds)
    ::close(fd);
  res.value = alive;
  res.extra1 = fds.empty() ? 0 : static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(fds.size());
  res.ok = alive == count;
  return res;
}

/// Slow readers: `count` connections write to the echo target as fast as
/// they can while never reading, until nothing moves any more; the proxy's
/// RSS growth per connection is taken at that point (a relay direction may
/// hold at most the buffer size). Then every byte is read back and checked.
result slow_reader(const target& t, uint16_t echo_port, int count) {
  result res;
  long rss0 = rss_kib(t.pid);
  auto fds = open_streams(t, echo_port, count);
  std::vector<size_t> sent(fds.size(), 0);
  std::vector<char> chunk(65536);
  auto fill = [&](size_t i, size_t off, char* out, size_t n) {
    for (size_t k = 0; k < n; ++k)
      out[k] = static_cast<char>('a' + (i + off + k) % 26);
  };
  auto quiet_since = clock_type::now();
  auto t0 = clock_type::now();
  long rss_peak = rss0;
  // Up to 8 MiB each: enough to fill every buffer on the way (loopback
  // socket buffers here hold megabytes) without minutes of reading back.
  constexpr size_t cap = 8 << 20;
  while (secs_since(quiet_since) < 0.5 && secs_since(t0) < 10) {
    bool moved = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (sent[i] >= cap)
        continue;
      fill(i, sent[i], chunk.data(), chunk.size());
      auto n = ::send(fds[i], chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent[i] += static_cast<size_t>(n);
        moved = true;
      }
    }
    if (moved)
      quiet_since = clock_type::now();
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rss_peak = std::max(rss_peak, rss_kib(t.pid));
  }
  int intact = 0;
  size_t total = 0;
  std::vector<char> want(65536), got(65536);
  for (size_t i = 0; i < fds.size(); ++i) {
    timeval tv{10, 0}; // a stalled relay shows as "not intact", not a hang
    setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t off = 0;
    bool ok = true;
    while (ok && off < sent[i]) {
      auto n = std::min(got.size(), sent[i] - off);
      ok = read_full(fds[i], got.data(), n);
      fill(i, off, want.data(), n);
      ok = ok && std::memcmp(got.data(), want.data(), n) == 0;
      off += n;
    }
    intact += ok;
    total += sent[i];
    ::close(fds[i]);
  }
  res.value = intact;
  res.extra1 = fds.empty() ? 0
                           : static_cast<double>(rss_peak - rss0) * 1024.0
                               / static_cast<double>(fds.size());
  res.extra2 = fds.empty() ? 0 : static_cast<double>(total) / static_cast<double>(fds.size());
  res.ok = intact == count;
  return res;
}

/// The stall case: `tunnels` streams at once each send `mib` MiB to the
/// echo target while reading the echo (bulk both ways), then, once every
/// byte came back, one more byte each way. Rounds of that; counts the
/// tunnels that got every byte back intact (value) and those that did not
/// (extra1: stalled, lost or wrong bytes).
result stall(const target& t, uint16_t echo_port, int tunnels, size_t mib, int rounds) {
  result res;
  size_t bytes = mib << 20;
  double cpu0 = cpu_seconds(t.pid);
  auto pattern = [](size_t tunnel, size_t off, char* out, size_t n) {
    for (size_t k = 0; k < n; ++k)
      out[k] = static_cast<char>((off + k) * 7 + tunnel + (off + k) / 4093);
  };
  for (int round = 0; round < rounds; ++round) {
    auto fds = open_streams(t, echo_port, tunnels);
    std::atomic<int> intact{0};
    std::vector<std::thread> ths;
    for (size_t i = 0; i < fds.size(); ++i) {
      int fd = fds[i];
      ths.emplace_back([fd, i, bytes, &pattern] {
        std::vector<char> buf(256 * 1024);
        for (size_t off = 0; off < bytes;) {
          auto n = std::min(buf.size(), bytes - off);
          pattern(i, off, buf.data(), n);
          if (!write_full(fd, buf.data(), n))
            return;
          off += n;
        }
      });
      ths.emplace_back([fd, i, bytes, &pattern, &intact] {
        std::vector<char> got(256 * 1024), want(256 * 1024);
        for (size_t off = 0; off < bytes;) {
          auto n = std::min(got.size(), bytes - off);
          pattern(i, off, want.data(), n);
          if (!read_full(fd, got.data(), n) || std::memcmp(got.data(), want.data(), n) != 0)
            return;
          off += n;
        }
        char z = 'Z', back = 0;
        if (write_full(fd, &z, 1) && read_full(fd, &back, 1) && back == 'Z')
          ++intact;
      });
    }
    for (auto& th : ths)
      th.join();
    for (int fd : fds)
      ::close(fd);
    res.value += intact;
    res.extra1 += static_cast<double>(tunnels - intact);
  }
  res.cpu = cpu_seconds(t.pid) - cpu0;
  res.units = 2.0 * static_cast<double>(bytes) * tunnels * rounds / (1 << 30);
  res.ok = res.extra1 == 0;
  return res;
}

result udp_rate(const target& t, uint16_t udp_port, double seconds) {
  result res;
  int ctl = -1;
  sockaddr_in relay{};
  relay.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &relay.sin_addr);
  int u = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
  ::bind(u, reinterpret_cast<sockaddr*>(&me), sizeof(me));
  int big = 4 << 20;
  setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  std::vector<char> head;
  if (t.direct()) {
    relay.sin_port = htons(udp_port);
  } else {
    ctl = tcp_connect(t.host, t.port);
    uint16_t bnd = 0;
    if (ctl < 0 || !socks_handshake(ctl, t, 3, 0, &bnd)) {
      res.ok = false;
      if (ctl >= 0)
        ::close(ctl);
      ::close(u);
      return res;
    }
    relay.sin_port = htons(bnd);
    head = {0, 0, 0, 1, 127, 0, 0, 1, static_cast<char>(udp_port >> 8),
            static_cast<char>(udp_port & 0xFF)};
  }
  ::connect(u, reinterpret_cast<sockaddr*>(&relay), sizeof(relay));
  std::vector<char> dgram(head);
  dgram.resize(head.size() + 64, 'u');
  long sent = 0, got = 0;
  const long window = 64;
  double cpu0 = cpu_seconds(t.pid);
  auto t0 = clock_type::now();
  char buf[2048];
  while (secs_since(t0) < seconds) {
    while (sent - got < window) {
      if (::send(u, dgram.data(), dgram.size(), 0) > 0)
        ++sent;
      else
        break;
    }
    pollfd p{u, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) {
      // Lost datagrams: keep the window moving.
      got = std::max(got, sent - window / 2);
      continue;
    }
    while (::recv(u, buf, sizeof(buf), MSG_DONTWAIT) > 0)
      ++got, ++res.units;
  }
  double dt = secs_since(t0);
  res.value = res.units / dt;
  res.extra1 = sent > 0 ? 100.0 * (1.0 - res.units / static_cast<double>(sent)) : 0;
  res.cpu = cpu_seconds(t.pid) - cpu0;
  ::close(u);
  if (ctl >= 0)
    ::close(ctl);
  return res;
}

target parse_target(const std::string& spec) {
  target t;
  auto eq = spec.find('=');
  t.name = spec.substr(0, eq);
  std::vector<std::string> parts;
  std::stringstream ss(spec.substr(eq + 1));
  std::string item;
  while (std::getline(ss, item, ':'))
    parts.push_back(item);
  t.host = parts.at(0);
  t.port = static_cast<uint16_t>(std::stoi(parts.at(1)));
  if (parts.size() >= 4) {
    t.user = parts[2];
    t.pass = parts[3];
  }
  if (parts.size() >= 5)
    t.pid = std::stoi(parts[4]);
  return t;
}

} // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  double seconds = 3;
  int idle_count = 2000;
  size_t mib = 256;
  // Runs only the scenarios whose name starts with this (e.g. "conn").
  std::string only;
  uint16_t echo_port = 0;
  uint16_t udp_port = 0;
  int stall_rounds = 3;
  std::vector<target> targets{target{}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = std::stod(argv[++i]);
    else if (a == "--idle" && i + 1 < argc)
      idle_count = std::stoi(argv[++i]);
    else if (a == "--mib" && i + 1 < argc)
      mib = std::stoul(argv[++i]);
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else if (a == "--echo-port" && i + 1 < argc)
      echo_port = static_cast<uint16_t>(std::stoi(argv[++i]));
    else if (a == "--udp-port" && i + 1 < argc)
      udp_port = static_cast<uint16_t>(std::stoi(argv[++i]));
    else if (a == "--stall-rounds" && i + 1 < argc)
      stall_rounds = std::stoi(argv[++i]);
    else
      targets.push_back(parse_target(a));
  }
  echo_server echo{2, echo_port};
  udp_echo uecho{udp_port};
  std::map<std::string, std::map<std::string, result>> all;
  auto run_all = [&](const target& t) {
    auto& r = all[t.name];
    auto step = [&](const char* what) {
      if (std::string{what}.rfind(only, 0) != 0)
        return false;
      fprintf(stderr, "[%s] %s\n", t.name.c_str(), what);
      return true;
    };
    if (step("throughput x1"))
      r["throughput x1"] = throughput(t, echo.port(), 1, mib);
    if (step("throughput x8"))
      r["throughput x8"] = throughput(t, echo.port(), 8, mib / 8 ? mib / 8 : 1);
    if (step("conn rate x1"))
      r["conn rate x1"] = conn_rate(t, echo.port(), 1, seconds);
    if (step("conn rate x32"))
      r["conn rate x32"] = conn_rate(t, echo.port(), 32, seconds);
    if (!t.direct() && step("idle"))
      r["idle"] = idle(t, echo.port(), idle_count);
    if (!t.direct() && step("slow reader"))
      r["slow reader"] = slow_reader(t, echo.port(), 50);
    if (step("udp"))
      r["udp"] = udp_rate(t, uecho.port(), seconds);
    if (step("stall both-ways"))
      r["stall both-ways"] = stall(t, echo.port(), 8, 32, stall_rounds);
  };
  for (auto& t : targets)
    run_all(t);
  auto& direct = all["direct"];
  printf("%-10s %-14s %12s %8s %10s %10s %14s\n", "server", "scenario", "value",
         "ratio", "p50/loss", "p99", "proxy CPU");
  for (auto& t : targets) {
    for (auto& kv : all[t.name]) {
      auto& r = kv.second;
      auto& d = direct[kv.first];
      std::string unit = kv.first.rfind("throughput", 0) == 0 ? "MiB/s"
                         : kv.first.rfind("conn", 0) == 0     ? "conn/s"
                         : kv.first == "udp"                  ? "dgram/s"
                         : kv.first == "idle"                 ? "alive"
                         : kv.first.rfind("stall", 0) == 0    ? "tunnels"
                                                              : "intact";
      char ratio[32] = "-";
      if (d.value > 0 && kv.first != "idle" && kv.first.rfind("stall", 0) != 0)
        snprintf(ratio, sizeof(ratio), "%.2fx", r.value / d.value);
      char cpu[48] = "-";
      if (t.pid > 0 && r.units > 0) {
        if (kv.first.rfind("throughput", 0) == 0 || kv.first.rfind("stall", 0) == 0)
          snprintf(cpu, sizeof(cpu), "%.2f s/GiB", r.cpu / r.units);
        else if (kv.first.rfind("conn", 0) == 0)
          snprintf(cpu, sizeof(cpu), "%.0f us/conn", r.cpu / r.units * 1e6);
        else if (kv.first == "udp")
          snprintf(cpu, sizeof(cpu), "%.1f us/dgram", r.cpu / r.units * 1e6);
      }
      char e1[32] = "-", e2[32] = "-";
      if (kv.first.rfind("conn", 0) == 0) {
        snprintf(e1, sizeof(e1), "%.0fus", r.extra1);
        snprintf(e2, sizeof(e2), "%.0fus", r.extra2);
      } else if (kv.first == "udp") {
        snprintf(e1, sizeof(e1), "%.1f%%", r.extra1);
      } else if (kv.first == "idle") {
        snprintf(e1, sizeof(e1), "%.0f B/conn", r.extra1);
      } else if (kv.first.rfind("stall", 0) == 0) {
        snprintf(e1, sizeof(e1), "%.0f stalled", r.extra1);
      } else if (kv.first == "slow reader") {
        snprintf(e1, sizeof(e1), "%.0f B/conn", r.extra1);
        snprintf(e2, sizeof(e2), "%.0fK sent", r.extra2 / 1024);
      }
      printf("%-10s %-14s %10.0f %-6s %8s %10s %10s %14s%s\n", t.name.c_str(),
             kv.first.c_str(), r.value, unit.c_str(), ratio, e1, e2, cpu,
             r.ok ? "" : "  (ERRORS)");
    }
  }
  return 0;
}
