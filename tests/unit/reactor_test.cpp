// The reactor's handshake under a plan, driven through real loopback
// sockets: the parsing it does on a session's behalf (bytes one at a time or
// all in one packet), the events it reports, the CONNECT it runs, its
// deadline, and what it reports at the close. No actors: the handler records.
#define CAF_SUITE reactor
#include <caf/test/unit_test_impl.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <atomic>
#include <thread>
#include <vector>

#include "net/reactor.hpp"
#include "net/reactor/connector.hpp"
#include "net/reactor/dual_lookup.hpp"
#include "net/reactor/hosts_table.hpp"

using namespace px;
using namespace std::chrono_literals;
using bytes = std::vector<uint8_t>;

namespace {

/// What the reactor reported, in order.
struct event {
  enum kind_t { accepted, credentials, request, failed_handshake, connect_failed,
                closed } kind;
  net::conn_id id = 0;
  socks5::credentials creds;
  socks5::request req;
  net::handshake_stage stage = net::handshake_stage::greeting;
  socks5::codec_error error = socks5::codec_error::none;
  net::close_stats stats;
};

/// A thread-safe queue of events with a timed wait. As the accept handler
/// it defers (the test sends `handshake`), or owns clients at once under
/// `own_plan` and grants the login `grant_user` itself.
class recorder : public net::conn_handler,
                 public net::accept_handler,
                 public std::enable_shared_from_this<recorder> {
public:
  net::admission on_accepted(net::conn_id id, net::ip_endpoint,
                             const net::ip_endpoint&) override {
    push(event{event::accepted, id, {}, {}, {}, {}, {}});
    net::admission adm;
    std::lock_guard<std::mutex> guard{mtx_};
    if (own_plan) {
      adm.what = net::admission::verdict::own;
      adm.handler = shared_from_this();
      adm.plan = own_plan;
    }
    return adm;
  }
  bool on_credentials(net::conn_id id, socks5::credentials c, net::login_grant&) override {
    bool granted;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      granted = !grant_user.empty() && c.user == grant_user;
    }
    event e{event::credentials, id, std::move(c), {}, {}, {}, {}};
    push(std::move(e));
    return granted;
  }
  void on_request(net::conn_id id, socks5::request r) override {
    push(event{event::request, id, {}, std::move(r), {}, {}, {}});
  }
  void on_handshake_failed(net::conn_id id, net::handshake_stage s,
                           socks5::codec_error err) override {
    push(event{event::failed_handshake, id, {}, {}, s, err, {}});
  }
  void on_connected(net::conn_id, net::ip_endpoint, net::ip_endpoint) override {
    // BIND and UDP only; not used here.
  }
  void on_bound(net::conn_id, net::ip_endpoint) override {
    // BIND only; not used here.
  }
  void on_connect_failed(net::conn_id id, net::connect_error) override {
    push(event{event::connect_failed, id, {}, {}, {}, {}, {}});
  }
  void on_closed(net::conn_id id, net::close_stats st) override {
    push(event{event::closed, id, {}, {}, {}, {}, std::move(st)});
  }

  /// From now on, owns clients at accept under `plan` and grants `user`.
  void own_and_grant(net::handshake_plan plan, std::string user) {
    std::lock_guard<std::mutex> guard{mtx_};
    own_plan = std::make_shared<const net::handshake_plan>(std::move(plan));
    grant_user = std::move(user);
  }

  /// The next event, or nothing after `timeout`.
  std::optional<event> next(std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!cv_.wait_for(guard, timeout, [&] { return !q_.empty(); }))
      return std::nullopt;
    auto e = std::move(q_.front());
    q_.pop_front();
    return e;
  }

private:
  void push(event e) {
    std::lock_guard<std::mutex> guard{mtx_};
    q_.push_back(std::move(e));
    cv_.notify_all();
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<event> q_;
  std::shared_ptr<const net::handshake_plan> own_plan;
  std::string grant_user;
};

int tcp_listen(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  ::listen(fd, 16);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  return fd;
}

int tcp_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  return fd;
}

/// Reads exactly `n` bytes (fewer on EOF or after the 5 s receive timeout).
bytes read_n(int fd, size_t n) {
  bytes out(n);
  size_t got = 0;
  while (got < n) {
    auto k = ::recv(fd, out.data() + got, n - got, 0);
    if (k <= 0)
      break;
    got += static_cast<size_t>(k);
  }
  out.resize(got);
  return out;
}

void write_all(int fd, const bytes& b, bool one_at_a_time = false) {
  for (size_t i = 0; i < b.size();) {
    auto n = one_at_a_time ? size_t{1} : b.size() - i;
    auto k = ::send(fd, b.data() + i, n, MSG_NOSIGNAL);
    if (k <= 0)
      return;
    i += static_cast<size_t>(k);
    if (one_at_a_time)
      std::this_thread::sleep_for(1ms);
  }
}

bytes connect_request(uint16_t port) {
  return bytes{0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1,
               static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port)};
}

bytes concat(std::initializer_list<bytes> parts) {
  bytes out;
  for (auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

const bytes greeting{0x05, 0x01, 0x02};
const bytes auth_demo{0x01, 0x04, 'd', 'e', 'm', 'o', 0x02, 'p', 'w'};

/// The loops' clock in these tests: the real one plus an offset a test can
/// move forward (reset by every fixture).
std::atomic<int64_t> clock_offset_ms{0};

struct fixture {
  fixture() : io((clock_offset_ms = 0, config())) {
    rec = std::make_shared<recorder>();
    auto res = io.listen(*net::ip_endpoint::parse("127.0.0.1", 0), rec);
    if (auto err = std::get_if<std::string>(&res))
      CAF_FAIL("listen: " << *err);
    port = std::get<net::ip_endpoint>(res).port;
    io.start();
    // An echo target that serves one connection at a time.
    target_fd = tcp_listen(target_port);
    echo = std::thread([this] {
      for (;;) {
        int c = ::accept(target_fd, nullptr, nullptr);
        if (c < 0)
          return;
        uint8_t buf[4096];
        for (;;) {
          auto n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0)
            break;
          ::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
        ::close(c);
      }
    });
  }

  ~fixture() {
    io.stop();
    ::shutdown(target_fd, SHUT_RDWR);
    ::close(target_fd);
    echo.join();
  }

  static net::reactor_config config() {
    net::reactor_config cfg;
    cfg.threads = 1;
    cfg.clock = [] {
      return std::chrono::steady_clock::now() + std::chrono::milliseconds{clock_offset_ms};
    };
    return cfg;
  }

  net::handshake_plan plan(std::chrono::milliseconds deadline = 5000ms) {
    net::handshake_plan p;
    p.userpass = true;
    p.no_auth = false;
    p.deadline = deadline;
    p.connect_timeout = 3000ms;
    return p;
  }

  /// Connects a client and hands the connection over with `p`.
  std::pair<int, net::conn_id> client(net::handshake_plan p) {
    int fd = tcp_connect(port);
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::accepted);
    io.handshake(e->id, rec, std::move(p));
    return {fd, e->id};
  }

  /// A client through the handshake and the CONNECT to the echo target.
  std::pair<int, net::conn_id> relayed_client(net::handshake_plan p) {
    auto [fd, id] = client(std::move(p));
    write_all(fd, concat({greeting, auth_demo}));
    CAF_REQUIRE(read_n(fd, 2) == (bytes{0x05, 0x02}));
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::credentials);
    io.authenticated(id, true);
    CAF_REQUIRE(read_n(fd, 2) == (bytes{0x01, 0x00}));
    write_all(fd, connect_request(target_port));
    auto reply = read_n(fd, 10);
    CAF_REQUIRE(reply.size() == 10 && reply[1] == 0);
    return {fd, id};
  }

  /// The kind of the next event (-1: none within 5 s).
  int next_kind() {
    auto e = rec->next();
    return e ? static_cast<int>(e->kind) : -1;
  }

  net::reactor io;
  std::shared_ptr<recorder> rec;
  uint16_t port = 0;
  int target_fd = -1;
  uint16_t target_port = 0;
  std::thread echo;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(reactor_tests, fixture)

CAF_TEST(a handshake fed one byte at a time reaches the relay) {
  auto t0 = std::chrono::steady_clock::now();
  auto [fd, id] = client(plan());
  write_all(fd, greeting, true);
  CAF_CHECK(read_n(fd, 2) == (bytes{0x05, 0x02}));
  write_all(fd, auth_demo, true);
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  CAF_CHECK_EQUAL(e->creds.user, "demo");
  CAF_CHECK_EQUAL(e->creds.password, "pw");
  io.authenticated(id, true);
  CAF_CHECK(read_n(fd, 2) == (bytes{0x01, 0x00}));
  // 1.5 s pass on the loop's clock before the request: the handshake's
  // duration says so.
  clock_offset_ms += 1500;
  write_all(fd, connect_request(target_port), true);
  auto reply = read_n(fd, 10);
  CAF_REQUIRE_EQUAL(reply.size(), 10u);
  CAF_CHECK_EQUAL(reply[1], 0x00);                         // succeeded
  CAF_CHECK(bytes(reply.begin() + 4, reply.begin() + 8) == (bytes{127, 0, 0, 1}));
  write_all(fd, bytes{'p', 'i', 'n', 'g'});
  CAF_CHECK(read_n(fd, 4) == (bytes{'p', 'i', 'n', 'g'}));
  CAF_CHECK_EQUAL(io.owned_closed(), 0u);
  ::close(fd);
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK(e->stats.relayed);
  CAF_CHECK(e->stats.has_target);
  CAF_CHECK_EQUAL(e->stats.target.to_string(),
                  "127.0.0.1:" + std::to_string(target_port));
  CAF_CHECK_EQUAL(e->stats.remote.port, target_port);
  CAF_CHECK_EQUAL(e->stats.bytes_up, 4u);
  CAF_CHECK_EQUAL(e->stats.bytes_down, 4u);
  CAF_CHECK_EQUAL(io.owned_closed(), 1u);
  // The durations of the handshake and of the CONNECT, on the loop's clock.
  CAF_CHECK(e->stats.handshake_time >= 1500ms);
  CAF_CHECK(e->stats.handshake_time < 1500ms + (std::chrono::steady_clock::now() - t0));
  CAF_CHECK(e->stats.connect == net::connect_result::succeeded);
  CAF_CHECK(e->stats.connect_time >= 0ms);
  CAF_CHECK(e->stats.connect_time < 1000ms);
  // Reported in a batch, stamped with the time of the close itself (on the
  // loop's clock, 1.5 s ahead of the real one).
  CAF_CHECK(e->stats.closed_at > t0 + 1500ms);
  CAF_CHECK(e->stats.closed_at <= std::chrono::steady_clock::now() + 1500ms);
}

CAF_TEST(greeting credentials request and data in one packet) {
  auto [fd, id] = client(plan());
  write_all(fd, concat({greeting, auth_demo, connect_request(target_port),
                        bytes{'e', 'a', 'r', 'l', 'y'}}));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  io.authenticated(id, true);
  auto got = read_n(fd, 2 + 2 + 10 + 5);
  CAF_REQUIRE_EQUAL(got.size(), 19u);
  CAF_CHECK(bytes(got.begin(), got.begin() + 4) == (bytes{0x05, 0x02, 0x01, 0x00}));
  CAF_CHECK_EQUAL(got[5], 0x00);
  // The bytes sent right after the request went upstream first.
  CAF_CHECK(bytes(got.end() - 5, got.end()) == (bytes{'e', 'a', 'r', 'l', 'y'}));
  ::close(fd);
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK_EQUAL(e->stats.bytes_up, 5u);
}

CAF_TEST(a client that leaves during the login check is closed at once) {
  auto [fd, id] = client(plan());
  write_all(fd, concat({greeting, auth_demo}));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  ::close(fd); // gone before the owner answers
  e = rec->next(2000ms);
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK_EQUAL(e->id, id);
  CAF_CHECK(e->stats.reason == net::close_reason::client_gone);
  io.authenticated(id, true); // the late verdict finds nobody
}

CAF_TEST(a client that half-closes after a pipelined request is kept) {
  auto [fd, id] = client(plan());
  write_all(fd, concat({greeting, auth_demo, connect_request(target_port)}));
  ::shutdown(fd, SHUT_WR);
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  CAF_CHECK(!rec->next(300ms));
  io.authenticated(id, true);
  auto got = read_n(fd, 2 + 2 + 10);
  CAF_REQUIRE_EQUAL(got.size(), 14u);
  CAF_CHECK_EQUAL(got[5], 0x00); // connected
  ::close(fd);
  CAF_CHECK_EQUAL(next_kind(), event::closed);
}

CAF_TEST(a refused login closes after the status) {
  auto [fd, id] = client(plan());
  write_all(fd, concat({greeting, auth_demo}));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  io.authenticated(id, false);
  CAF_CHECK(read_n(fd, 5) == (bytes{0x05, 0x02, 0x01, 0x01})); // then EOF
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK(!e->stats.relayed);
  ::close(fd);
}

CAF_TEST(malformed input is reported with its stage) {
  {
    auto [fd, id] = client(plan());
    write_all(fd, bytes{0x05, 0x01, 0x00}); // only no-auth offered
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::failed_handshake);
    CAF_CHECK(e->stage == net::handshake_stage::method);
    io.close(id);
    CAF_CHECK(next_kind() == event::closed);
    ::close(fd);
  }
  {
    auto [fd, id] = client(plan());
    write_all(fd, bytes{'G', 'E', 'T', ' '});
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::failed_handshake);
    CAF_CHECK(e->stage == net::handshake_stage::greeting);
    CAF_CHECK(e->error == socks5::codec_error::bad_version);
    io.close(id);
    CAF_CHECK(next_kind() == event::closed);
    ::close(fd);
  }
  {
    auto [fd, id] = client(plan());
    write_all(fd, concat({greeting, auth_demo}));
    CAF_REQUIRE_EQUAL(next_kind(), event::credentials);
    io.authenticated(id, true);
    write_all(fd, bytes{0x05, 0x01, 0x00, 0x07, 1, 2, 3, 4, 0, 80}); // ATYP 7
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::failed_handshake);
    CAF_CHECK(e->stage == net::handshake_stage::request);
    CAF_CHECK(e->error == socks5::codec_error::bad_address_type);
    // The owner's reply goes out, then the connection closes.
    io.send(id, bytes{0x05, 0x08, 0, 1, 0, 0, 0, 0, 0, 0}, net::after::close);
    auto got = read_n(fd, 14 + 1);
    CAF_CHECK_EQUAL(got.size(), 14u);
    CAF_CHECK(next_kind() == event::closed);
    ::close(fd);
  }
}

CAF_TEST(bind and udp requests go to the owner) {
  auto p = plan();
  p.userpass = false;
  p.no_auth = true;
  auto [fd, id] = client(p);
  write_all(fd, concat({bytes{0x05, 0x01, 0x00},
                        bytes{0x05, 0x03, 0x00, 0x01, 127, 0, 0, 1, 0x30, 0x39}}));
  CAF_CHECK(read_n(fd, 2) == (bytes{0x05, 0x00}));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::request);
  CAF_CHECK(e->req.cmd == socks5::command::udp_associate);
  CAF_CHECK_EQUAL(e->req.dst.to_string(), "127.0.0.1:12345");
  io.close(id);
  CAF_CHECK(next_kind() == event::closed);
  ::close(fd);
}

CAF_TEST(the handshake deadline closes a silent client) {
  auto t0 = std::chrono::steady_clock::now();
  auto [fd, id] = client(plan(200ms));
  write_all(fd, greeting); // then silence
  CAF_CHECK(read_n(fd, 2) == (bytes{0x05, 0x02}));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK(e->stats.reason == net::close_reason::handshake_timeout);
  CAF_CHECK(!e->stats.has_target);
  CAF_CHECK(e->stats.handshake_time == 0ms);
  CAF_CHECK(e->stats.connect == net::connect_result::none);
  CAF_CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CAF_CHECK(read_n(fd, 1).empty()); // EOF
  ::close(fd);
  (void) id;
}

CAF_TEST(a refused connect is reported for the owner to answer) {
  uint16_t closed_port = 0;
  int tmp = tcp_listen(closed_port);
  ::close(tmp); // nothing listens there now
  auto [fd, id] = client(plan());
  write_all(fd, concat({greeting, auth_demo}));
  CAF_REQUIRE_EQUAL(next_kind(), event::credentials);
  io.authenticated(id, true);
  write_all(fd, connect_request(closed_port));
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::connect_failed);
  io.close(id);
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK(e->stats.has_target);
  CAF_CHECK_EQUAL(e->stats.target.port(), closed_port);
  // The CONNECT failed: its outcome and duration are reported all the same.
  CAF_CHECK(e->stats.connect == net::connect_result::failed);
  CAF_CHECK(e->stats.connect_time >= 0ms);
  CAF_CHECK(e->stats.connect_time < 3s);
  ::close(fd);
}

CAF_TEST(an owner that admits at accept and grants a known login needs no command) {
  rec->own_and_grant(plan(), "demo");
  int fd = tcp_connect(port);
  write_all(fd, concat({greeting, auth_demo, connect_request(target_port),
                        bytes{'h', 'i'}}));
  // Method choice, auth status, reply and the echo, with no command sent.
  auto got = read_n(fd, 2 + 2 + 10 + 2);
  CAF_REQUIRE_EQUAL(got.size(), 16u);
  CAF_CHECK(bytes(got.begin(), got.begin() + 4) == (bytes{0x05, 0x02, 0x01, 0x00}));
  CAF_CHECK_EQUAL(got[5], 0x00);
  CAF_CHECK(bytes(got.end() - 2, got.end()) == (bytes{'h', 'i'}));
  CAF_CHECK_EQUAL(next_kind(), event::accepted);
  auto e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  CAF_CHECK_EQUAL(e->creds.user, "demo");
  ::close(fd);
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK(e->stats.relayed);
  CAF_CHECK_EQUAL(e->stats.bytes_up, 2u);
  CAF_CHECK_EQUAL(io.owned_closed(), 1u);
  // Another login is not granted by the handler: the owner must answer.
  fd = tcp_connect(port);
  write_all(fd, concat({greeting, bytes{0x01, 0x03, 'b', 'o', 'b', 0x01, 'x'}}));
  CAF_CHECK(read_n(fd, 2) == (bytes{0x05, 0x02}));
  CAF_CHECK_EQUAL(next_kind(), event::accepted);
  e = rec->next();
  CAF_REQUIRE(e && e->kind == event::credentials);
  io.authenticated(e->id, false);
  CAF_CHECK(read_n(fd, 3) == (bytes{0x01, 0x01})); // then EOF
  CAF_CHECK_EQUAL(next_kind(), event::closed);
  ::close(fd);
}

CAF_TEST(a refused admission closes the client at once) {
  struct refuser : net::accept_handler {
    net::admission on_accepted(net::conn_id, net::ip_endpoint,
                               const net::ip_endpoint&) override {
      net::admission adm;
      adm.what = net::admission::verdict::refuse;
      return adm;
    }
  };
  net::reactor other{config()};
  auto res = other.listen(*net::ip_endpoint::parse("127.0.0.1", 0),
                          std::make_shared<refuser>());
  CAF_REQUIRE(std::holds_alternative<net::ip_endpoint>(res));
  other.start();
  int fd = tcp_connect(std::get<net::ip_endpoint>(res).port);
  write_all(fd, greeting);
  // Closed without a byte: EOF or a reset, not the 5 s receive timeout.
  uint8_t b = 0;
  auto k = ::recv(fd, &b, 1, 0);
  CAF_CHECK(k == 0 || (k < 0 && errno == ECONNRESET));
  CAF_CHECK_EQUAL(other.owned_closed(), 0u);
  ::close(fd);
  other.stop();
}

CAF_TEST(the idle timeout closes a quiet tunnel on the clock of the loop) {
  auto p = plan();
  p.relay.idle_timeout = 60000ms;
  auto [fd, id] = relayed_client(p);
  write_all(fd, bytes{'p', 'i', 'n', 'g'});
  CAF_CHECK(read_n(fd, 4) == (bytes{'p', 'i', 'n', 'g'}));
  // Real time passes, the loop's clock says seconds: nothing closes.
  CAF_CHECK(!rec->next(600ms));
  clock_offset_ms += 58000;
  CAF_CHECK(!rec->next(600ms));
  // A minute without traffic on the loop's clock: closed as idle.
  clock_offset_ms += 3000;
  auto e = rec->next(3000ms);
  CAF_REQUIRE(e && e->kind == event::closed);
  CAF_CHECK_EQUAL(e->id, id);
  CAF_CHECK(e->stats.reason == net::close_reason::idle_timeout);
  CAF_CHECK_EQUAL(e->stats.bytes_up, 4u);
  CAF_CHECK(read_n(fd, 1).empty()); // EOF
  ::close(fd);
}

CAF_TEST(copy and splice relays move bulk data intact both ways) {
  for (bool splice : {false, true}) {
    auto p = plan();
    p.relay.splice = splice;
    auto [fd, id] = relayed_client(p);
    bytes data(8 << 20);
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = static_cast<uint8_t>(i * 31 + i / 4093);
    std::thread writer([&, fd = fd] {
      write_all(fd, data);
      ::shutdown(fd, SHUT_WR);
    });
    auto got = read_n(fd, data.size());
    writer.join();
    CAF_CHECK_EQUAL(got.size(), data.size());
    CAF_CHECK(got == data);
    ::close(fd);
    auto e = rec->next();
    CAF_REQUIRE(e && e->kind == event::closed);
    CAF_CHECK_EQUAL(e->id, id);
    CAF_CHECK_EQUAL(e->stats.bytes_up, data.size());
    CAF_CHECK_EQUAL(e->stats.bytes_down, data.size());
  }
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(happy eyeballs orders addresses by family and interleaves them) {
  auto ep = [](const char* s) { return *net::ip_endpoint::parse(s, 80); };
  std::vector<net::ip_endpoint> resolved{ep("10.0.0.1"), ep("10.0.0.2"), ep("::1"),
                                         ep("::2"), ep("::3")};
  auto order = [&](net::address_family f) {
    auto v = resolved;
    net::order_for_attempts(v, f);
    std::vector<std::string> out;
    for (auto& a : v)
      out.push_back(a.host_string());
    return out;
  };
  using f = net::address_family;
  using names = std::vector<std::string>;
  // System: the resolver's first family leads.
  CAF_CHECK(order(f::system) == (names{"10.0.0.1", "::1", "10.0.0.2", "::2", "::3"}));
  CAF_CHECK(order(f::ipv6) == (names{"::1", "10.0.0.1", "::2", "10.0.0.2", "::3"}));
  CAF_CHECK(order(f::ipv4) == order(f::system));
  // One family only: the resolver's order.
  std::vector<net::ip_endpoint> v4{ep("10.0.0.2"), ep("10.0.0.1")};
  net::order_for_attempts(v4, f::ipv6);
  CAF_CHECK_EQUAL(v4[0].host_string(), "10.0.0.2");
}

namespace {

net::resolve_result found(std::initializer_list<const char*> addrs) {
  net::resolve_result r;
  for (auto a : addrs)
    r.addrs.push_back(*net::ip_endpoint::parse(a, 0));
  return r;
}

net::resolve_result failed(net::connect_error e) {
  net::resolve_result r;
  r.err = e;
  return r;
}

std::vector<std::string> hosts(const net::resolve_result& r) {
  std::vector<std::string> out;
  for (auto& a : r.addrs)
    out.push_back(a.host_string());
  return out;
}

} // namespace

CAF_TEST(a dual lookup waits the resolution delay after a first answer with addresses) {
  using names = std::vector<std::string>;
  auto t0 = net::dual_lookup::clock::now();
  net::dual_lookup l;
  CAF_CHECK(!l.deadline());
  CAF_CHECK(!l.add(false, found({"10.0.0.1", "10.0.0.2"}), t0));
  CAF_REQUIRE(l.deadline());
  CAF_CHECK(*l.deadline() == t0 + net::dual_lookup::resolution_delay);
  CAF_CHECK(!l.has_both_families());
  // The delay ran out: what the first family found, no error.
  auto r = l.take(true);
  CAF_CHECK(r.err == net::connect_error::none);
  CAF_CHECK(hosts(r) == (names{"10.0.0.1", "10.0.0.2"}));
  // Both in time: complete at the second, either family first.
  net::dual_lookup both;
  CAF_CHECK(!both.add(true, found({"::1"}), t0));
  CAF_CHECK(both.add(false, found({"10.0.0.1"}), t0));
  CAF_CHECK(both.has_both_families());
  CAF_CHECK_EQUAL(both.first_v6().host_string(), "::1");
  CAF_CHECK(hosts(both.take(false)) == (names{"10.0.0.1", "::1"}));
}

CAF_TEST(a dual lookup does not stop waiting for an error and reports the truer one) {
  auto t0 = net::dual_lookup::clock::now();
  // AAAA: no such data. Then nothing runs out: the A answer decides.
  net::dual_lookup l;
  CAF_CHECK(!l.add(true, failed(net::connect_error::name_not_found), t0));
  CAF_CHECK(!l.deadline());
  CAF_CHECK(l.add(false, found({"10.0.0.9"}), t0));
  CAF_CHECK_EQUAL(l.take(true).addrs.size(), 1u);
  // A timeout of one family and "no such name" of the other: a timeout.
  net::dual_lookup t;
  CAF_CHECK(!t.add(false, failed(net::connect_error::timeout), t0));
  CAF_CHECK(t.add(true, failed(net::connect_error::name_not_found), t0));
  CAF_CHECK(t.take(true).err == net::connect_error::timeout);
  // Both say no such name; an empty success counts as that too.
  net::dual_lookup n;
  CAF_CHECK(!n.add(false, net::resolve_result{}, t0));
  CAF_CHECK(!n.deadline());
  CAF_CHECK(n.add(true, failed(net::connect_error::name_not_found), t0));
  CAF_CHECK(n.take(true).err == net::connect_error::name_not_found);
  // A family answering twice changes nothing.
  net::dual_lookup d;
  CAF_CHECK(!d.add(false, found({"10.0.0.1"}), t0));
  CAF_CHECK(!d.add(false, found({"10.0.0.2"}), t0));
  CAF_CHECK(hosts(d.take(true)) == (std::vector<std::string>{"10.0.0.1"}));
}

CAF_TEST(the hosts table reads the file once and again only after it changed) {
  char path[] = "/tmp/hosts-test-XXXXXX";
  int fd = mkstemp(path);
  CAF_REQUIRE(fd >= 0);
  auto write_file = [&](const std::string& text) {
    CAF_REQUIRE(::ftruncate(fd, 0) == 0);
    CAF_REQUIRE(::pwrite(fd, text.data(), text.size(), 0) == ssize_t(text.size()));
  };
  write_file("# comment\n127.0.0.1 localhost Loop # trailing\n::1 localhost\n"
             "10.0.0.1 dual\n10.0.0.1 dual\nfe80::1%eth0 scoped\n");
  net::hosts_table t{path};
  auto t0 = net::hosts_table::clock::now();
  auto e = t.find("LOCALHOST", t0);
  CAF_REQUIRE(e != nullptr);
  CAF_REQUIRE_EQUAL(e->v4.size(), 1u);
  CAF_CHECK_EQUAL(e->v4[0].host_string(), "127.0.0.1");
  CAF_REQUIRE_EQUAL(e->v6.size(), 1u);
  CAF_CHECK_EQUAL(e->v6[0].host_string(), "::1");
  CAF_CHECK(t.find("loop", t0) != nullptr);
  CAF_CHECK_EQUAL(t.find("dual", t0)->v4.size(), 1u); // the same address once
  CAF_CHECK(t.find("scoped", t0) == nullptr);
  CAF_CHECK(t.find("trailing", t0) == nullptr);
  // Changed: not seen within the second, seen after it.
  write_file("10.9.9.9 fresh\n");
  CAF_CHECK(t.find("fresh", t0 + std::chrono::milliseconds{500}) == nullptr);
  CAF_CHECK(t.find("fresh", t0 + std::chrono::seconds{2}) != nullptr);
  CAF_CHECK(t.find("localhost", t0 + std::chrono::seconds{2}) == nullptr);
  ::close(fd);
  ::unlink(path);
}
