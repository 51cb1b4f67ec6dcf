// One direction of the relay alone, on socketpairs and loopback TCP: no
// loop, no connection, no actors. A small rig registers the two borrowed
// descriptors with an edge-triggered epoll of its own and steps the pump on
// every event, as the loop does; peer threads write and read the other ends.
#define CAF_SUITE pump
#include <caf/test/unit_test_impl.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "net/reactor/pump.hpp"

using namespace px;
using namespace std::chrono_literals;
using bytes = std::vector<uint8_t>;

namespace {

/// A connected pair of stream sockets: `near` goes to the pump, `far` to a
/// peer thread.
struct sock_pair {
  int near = -1;
  int far = -1;
};

sock_pair unix_pair() {
  int fds[2];
  CAF_REQUIRE_EQUAL(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  return {fds[0], fds[1]};
}

sock_pair tcp_pair() {
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CAF_REQUIRE_EQUAL(::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ::listen(l, 1);
  socklen_t len = sizeof(sa);
  getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len);
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  CAF_REQUIRE_EQUAL(::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  int a = ::accept(l, nullptr, nullptr);
  ::close(l);
  return {a, c};
}

/// A pattern that shows reordering and loss.
bytes pattern(size_t n, uint8_t seed = 0) {
  bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>((i * 7 + seed + i / 251) & 0xFF);
  return out;
}

/// Writes `b` to `fd` (blocking), in pieces of `piece` bytes.
void write_all(int fd, const bytes& b, size_t piece = 1 << 20) {
  for (size_t i = 0; i < b.size();) {
    auto k = ::send(fd, b.data() + i, std::min(piece, b.size() - i), MSG_NOSIGNAL);
    if (k <= 0)
      return;
    i += static_cast<size_t>(k);
  }
}

/// Reads from `fd` (blocking) until EOF, an error, `limit` bytes, or 5 s
/// without a byte. `eof` tells whether the end was a clean EOF.
bytes read_all(int fd, size_t limit, bool* eof = nullptr) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bytes out;
  uint8_t buf[65536];
  if (eof)
    *eof = false;
  while (out.size() < limit) {
    auto n = ::recv(fd, buf, std::min(sizeof(buf), limit - out.size()), 0);
    if (n == 0 && eof)
      *eof = true;
    if (n <= 0)
      break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

/// The pump between two borrowed descriptors, stepped on their epoll
/// events as the loop would.
class rig final : public net::side_owner {
public:
  rig(int src_fd, int dst_fd, const net::pump_config& cfg) : pool_(4) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (auto [s, fd] : {std::pair{&src, src_fd}, std::pair{&dst, dst_fd}}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      s->fd = fd;
      s->owner = this;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = static_cast<net::io_handler*>(s);
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    }
    p.start(src, dst, cfg, pool_);
  }

  ~rig() {
    p.release();
    ::close(ep_);
  }

  void on_side_ready() override {
    // The rig steps the pump after each batch of events.
  }

  /// Steps the pump on every event until `stop` holds, the pump fails, or
  /// `quiet` passes without an event. Half-closes when the source ended.
  net::pump_result run(const std::function<bool()>& stop,
                       std::chrono::milliseconds quiet = 2000ms) {
    auto r = step();
    while (r.status != net::pump_status::error && !stop()) {
      epoll_event evs[4];
      int n = epoll_wait(ep_, evs, 4, static_cast<int>(quiet.count()));
      if (n <= 0)
        break;
      for (int i = 0; i < n; ++i)
        static_cast<net::io_handler*>(evs[i].data.ptr)->on_io(evs[i].events);
      r = step();
    }
    return r;
  }

  net::side src;
  net::side dst;
  net::pump p;
  /// The most bytes the pump held after any step, and what it delivered.
  size_t max_held = 0;
  uint64_t delivered = 0;
  bool splice_seen = false;

private:
  net::pump_result step() {
    auto r = p.step();
    delivered += r.delivered;
    max_held = std::max(max_held, p.held());
    splice_seen = splice_seen || p.splicing();
    if (r.status != net::pump_status::error && p.ended())
      p.half_close(true);
    return r;
  }

  int ep_ = -1;
  net::pipe_pool pool_;
};

net::pump_config copy_only(size_t cap = 64 * 1024) {
  net::pump_config cfg;
  cfg.cap = cap;
  cfg.splice = false;
  return cfg;
}

net::pump_config splice_now(size_t cap = 64 * 1024) {
  net::pump_config cfg;
  cfg.cap = cap;
  cfg.splice = true;
  cfg.splice_after = 0;
  return cfg;
}

/// Sends `data` through a pump from `in` to `out` (the writer half-closes
/// when done) and returns what came out and whether it ended with EOF.
struct transfer {
  bytes got;
  bool eof = false;
  net::pump_status status = net::pump_status::blocked;
  size_t max_held = 0;
  bool spliced = false;
};

transfer send_through(sock_pair in, sock_pair out, const bytes& data,
                      const net::pump_config& cfg, size_t piece = 1 << 20,
                      bytes prefix = {}, bool prefix_is_data = false) {
  transfer t;
  {
    rig r{in.near, out.near, cfg};
    if (!prefix.empty()) {
      if (prefix_is_data)
        r.p.set_prefix({}, prefix);
      else
        r.p.set_prefix(prefix);
    }
    std::thread writer([&] {
      write_all(in.far, data, piece);
      ::shutdown(in.far, SHUT_WR);
    });
    std::thread reader([&] {
      t.got = read_all(out.far, prefix.size() + data.size() + 1, &t.eof);
    });
    auto res = r.run([&] { return r.p.done(); });
    writer.join();
    reader.join();
    t.status = res.status;
    t.max_held = r.max_held;
    t.spliced = r.splice_seen;
  }
  for (int fd : {in.near, in.far, out.near, out.far})
    ::close(fd);
  return t;
}

} // namespace

CAF_TEST(a reply prefix goes out first and does not count as relayed) {
  auto in = unix_pair();
  auto out = unix_pair();
  rig r{in.near, out.near, copy_only()};
  r.p.set_prefix(bytes{'H', 'I', ':'});
  write_all(in.far, bytes{'d', 'a', 't', 'a'});
  ::shutdown(in.far, SHUT_WR);
  r.run([&] { return r.p.done(); });
  bool eof = false;
  CAF_CHECK(read_all(out.far, 100, &eof) == (bytes{'H', 'I', ':', 'd', 'a', 't', 'a'}));
  CAF_CHECK(eof);
  CAF_CHECK_EQUAL(r.p.moved(), 4u);
  CAF_CHECK_EQUAL(r.delivered, 4u);
  for (int fd : {in.near, in.far, out.near, out.far})
    ::close(fd);
}

CAF_TEST(a prefix of a reply then early data counts only the data) {
  auto in = unix_pair();
  auto out = unix_pair();
  rig r{in.near, out.near, copy_only()};
  r.p.set_prefix(bytes{'R', 'E', 'P'}, bytes{'e', 'a'});
  write_all(in.far, bytes{'d', 'a', 't', 'a'});
  ::shutdown(in.far, SHUT_WR);
  r.run([&] { return r.p.done(); });
  bool eof = false;
  CAF_CHECK(read_all(out.far, 100, &eof)
            == (bytes{'R', 'E', 'P', 'e', 'a', 'd', 'a', 't', 'a'}));
  CAF_CHECK(eof);
  CAF_CHECK_EQUAL(r.p.moved(), 6u);
  CAF_CHECK_EQUAL(r.delivered, 6u);
  for (int fd : {in.near, in.far, out.near, out.far})
    ::close(fd);
}

CAF_TEST(early client data in the prefix counts as relayed) {
  auto t = send_through(unix_pair(), unix_pair(), bytes{'x', 'y'}, copy_only(), 1 << 20,
                        bytes{'a', 'b', 'c'}, true);
  CAF_CHECK(t.got == (bytes{'a', 'b', 'c', 'x', 'y'}));
  CAF_CHECK(t.eof);
}

CAF_TEST(a large prefix waits for a slow reader and nothing overtakes it) {
  auto prefix = pattern(4 << 20, 1);
  auto data = pattern(256 * 1024, 2);
  auto t = send_through(tcp_pair(), tcp_pair(), data, splice_now(), 1 << 20, prefix, true);
  auto want = prefix;
  want.insert(want.end(), data.begin(), data.end());
  CAF_CHECK_EQUAL(t.got.size(), want.size());
  CAF_CHECK(t.got == want);
  CAF_CHECK(t.eof);
}

CAF_TEST(half-close passes the end on after every byte each way) {
  for (bool tcp : {false, true}) {
    for (auto cfg : {copy_only(), splice_now()}) {
      auto data = pattern(3 << 20, 3);
      auto t = send_through(tcp ? tcp_pair() : unix_pair(), tcp ? tcp_pair() : unix_pair(),
                            data, cfg);
      CAF_CHECK_EQUAL(t.got.size(), data.size());
      CAF_CHECK(t.got == data);
      CAF_CHECK(t.eof);
      CAF_CHECK(t.status != net::pump_status::error);
    }
  }
}

CAF_TEST(a destination that is gone is reported as the failed side) {
  auto in = unix_pair();
  auto out = unix_pair();
  ::close(out.far); // the destination's peer left
  rig r{in.near, out.near, copy_only()};
  write_all(in.far, pattern(1000));
  auto res = r.run([] { return false; }, 500ms);
  CAF_CHECK(res.status == net::pump_status::error);
  CAF_CHECK(res.failed == &r.dst);
  for (int fd : {in.near, in.far, out.near})
    ::close(fd);
}

CAF_TEST(both peers closing ends the direction without an error) {
  auto in = unix_pair();
  auto out = unix_pair();
  rig r{in.near, out.near, copy_only()};
  ::close(in.far);
  ::shutdown(out.far, SHUT_WR); // the destination's peer closes its side too
  auto res = r.run([&] { return r.p.done(); });
  CAF_CHECK(res.status != net::pump_status::error);
  CAF_CHECK(r.p.done());
  CAF_CHECK_EQUAL(r.p.moved(), 0u);
  for (int fd : {in.near, out.near, out.far})
    ::close(fd);
}

CAF_TEST(a direction copies first and splices once it carries bulk data) {
  net::pump_config cfg;
  cfg.cap = 64 * 1024;
  cfg.splice = true;
  cfg.splice_after = 64 * 1024;
  auto data = pattern(8 << 20, 4);
  auto t = send_through(tcp_pair(), tcp_pair(), data, cfg);
  CAF_CHECK(t.got == data);
  CAF_CHECK(t.eof);
  CAF_CHECK(t.spliced);
  // Without splice it never switches.
  auto c = send_through(tcp_pair(), tcp_pair(), data, copy_only());
  CAF_CHECK(c.got == data);
  CAF_CHECK(!c.spliced);
}

CAF_TEST(a small exchange stays in copy mode) {
  net::pump_config cfg;
  cfg.splice = true;
  cfg.splice_after = 64 * 1024;
  auto data = pattern(1000, 5);
  auto t = send_through(tcp_pair(), tcp_pair(), data, cfg);
  CAF_CHECK(t.got == data);
  CAF_CHECK(!t.spliced);
}

CAF_TEST(the cap bounds what a direction holds and a slow reader pushes back) {
  for (auto cfg : {copy_only(16 * 1024), splice_now(16 * 1024)}) {
    auto in = tcp_pair();
    auto out = tcp_pair();
    auto data = pattern(32 << 20, 6);
    std::atomic<size_t> written{0};
    {
      rig r{in.near, out.near, cfg};
      std::thread writer([&] {
        // Non-blocking, so that the writer sees the back-pressure: the
        // proxy stops reading once it holds `cap` bytes.
        fcntl(in.far, F_SETFL, fcntl(in.far, F_GETFL) | O_NONBLOCK);
        size_t off = 0;
        auto until = std::chrono::steady_clock::now() + 1s;
        while (off < data.size() && std::chrono::steady_clock::now() < until) {
          auto k = ::send(in.far, data.data() + off, data.size() - off, MSG_NOSIGNAL);
          if (k > 0)
            off += static_cast<size_t>(k);
          else
            std::this_thread::sleep_for(1ms);
        }
        written = off;
      });
      // Nobody reads the destination: the pump fills, then stops.
      r.run([] { return false; }, 300ms);
      writer.join();
      CAF_CHECK_LESS_OR_EQUAL(r.max_held, 16u * 1024);
      // Socket buffers took a few MB at most; the rest of 32 MiB waited.
      CAF_CHECK_LESS(written.load(), data.size());
      // Now the reader drains it all, intact.
      std::thread rest([&] {
        fcntl(in.far, F_SETFL, fcntl(in.far, F_GETFL) & ~O_NONBLOCK);
        write_all(in.far, bytes(data.begin() + static_cast<long>(written.load()),
                                data.end()));
        ::shutdown(in.far, SHUT_WR);
      });
      bytes got;
      bool eof = false;
      std::thread reader([&] { got = read_all(out.far, data.size() + 1, &eof); });
      r.run([&] { return r.p.done(); });
      rest.join();
      reader.join();
      CAF_CHECK_LESS_OR_EQUAL(r.max_held, 16u * 1024);
      CAF_CHECK(got == data);
      CAF_CHECK(eof);
    }
    for (int fd : {in.near, in.far, out.near, out.far})
      ::close(fd);
  }
}

// The stall: each small write on a unix socket is a buffer of its own, and
// a pipe holds one buffer per slot, so a splice into it returns short while
// bytes are still queued. Taking that for "drained" left them there for
// good once the writer stopped writing (it waits for an answer).
CAF_TEST(bytes queued behind a short splice are delivered without a new edge) {
  for (bool tcp : {false, true}) {
    auto in = tcp ? tcp_pair() : unix_pair();
    auto out = unix_pair();
    auto data = pattern(600 * 1000, 7);
    {
      rig r{in.near, out.near, splice_now()};
      // Many small writes, then silence (no EOF: the writer waits).
      std::thread writer([&] { write_all(in.far, data, 1000); });
      bytes got;
      std::thread reader([&] { got = read_all(out.far, data.size()); });
      r.run([&] { return r.delivered >= data.size(); }, 1000ms);
      ::shutdown(in.far, SHUT_RDWR); // a stalled writer would wait forever
      writer.join();
      reader.join();
      CAF_CHECK_EQUAL(got.size(), data.size());
      CAF_CHECK(got == data);
    }
    for (int fd : {in.near, in.far, out.near, out.far})
      ::close(fd);
  }
}

CAF_TEST(a bandwidth bucket paces the reads and says when to step again) {
  // Stepped by hand on an injected clock: 64 KiB of depth go at once, then
  // nothing until the bucket holds 16 KiB again (15.6 ms at 1 MiB/s), and
  // nothing is read ahead meanwhile: the rest stays in the socket.
  for (auto cfg : {copy_only(), splice_now()}) {
    auto in = unix_pair();
    auto out = unix_pair();
    auto data = pattern(128 * 1024);
    write_all(in.far, data);
    net::rate_bucket bucket;
    bucket.configure(1 << 20, 64 * 1024);
    std::atomic<uint64_t> counted{0};
    rig t{in.near, out.near, cfg};
    t.src.rd = t.dst.wr = true;
    t.p.shape(&bucket, &counted);
    auto t0 = net::limit_clock::now();
    auto r = t.p.step(t0);
    CAF_CHECK_EQUAL(r.delivered, 64u * 1024);
    CAF_CHECK_EQUAL(t.p.held(), 0u);
    CAF_REQUIRE(r.resume != net::limit_clock::time_point{});
    CAF_CHECK_GREATER_OR_EQUAL(r.resume - t0, 15ms);
    CAF_CHECK_LESS_OR_EQUAL(r.resume - t0, 16ms);
    CAF_CHECK_EQUAL(t.p.step(t0 + 1ms).delivered, 0u);
    auto r2 = t.p.step(r.resume);
    CAF_CHECK_GREATER_OR_EQUAL(r2.delivered, 16u * 1024);
    CAF_CHECK_LESS(r2.delivered, 20u * 1024);
    CAF_CHECK_EQUAL(counted.load(), r.delivered + r2.delivered);
    // Unlimited again (a reload lifted the limit): the rest flows at once.
    bucket.configure(0);
    auto r3 = t.p.step(r.resume);
    CAF_CHECK_EQUAL(r.delivered + r2.delivered + r3.delivered, data.size());
    auto got = read_all(out.far, data.size());
    CAF_CHECK(got == data);
    for (int fd : {in.near, in.far, out.near, out.far})
      ::close(fd);
  }
}
