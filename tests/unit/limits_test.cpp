// The counters of `[limits]` alone (net/limits.hpp, net/source_table.hpp):
// token buckets on an injected clock, gauges under threads, and the table
// of client addresses with its takeover. No sockets, no actors.
#define CAF_SUITE limits
#include <caf/test/unit_test_impl.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "net/limits.hpp"
#include "net/source_table.hpp"

using namespace px;
using namespace std::chrono_literals;
using net::limit_clock;

namespace {

net::ip_endpoint ep(const char* text) {
  return *net::ip_endpoint::parse(text);
}

net::account_limits sessions_and_rate(uint32_t sessions, uint32_t rate) {
  net::account_limits lim;
  lim.sessions = sessions;
  lim.connect_rate = rate;
  return lim;
}

} // namespace

CAF_TEST(a connect-rate bucket passes its burst then one token per interval) {
  net::rate_bucket b;
  CAF_CHECK(b.unlimited());
  auto t0 = limit_clock::now();
  CAF_CHECK(b.take(t0)); // unlimited
  b.configure(5); // 5 a second, bursts of 5
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(b.take(t0));
  CAF_CHECK(!b.take(t0));
  CAF_CHECK(!b.take(t0 + 150ms)); // a token takes 200 ms
  CAF_CHECK(b.take(t0 + 200ms));
  CAF_CHECK(!b.take(t0 + 200ms));
  // Idle for long, the bucket is full again, never fuller.
  auto later = t0 + 10s;
  for (int i = 0; i < 5; ++i)
    CAF_CHECK(b.take(later));
  CAF_CHECK(!b.take(later));
}

CAF_TEST(a bandwidth bucket grants whole reads and says when to come back) {
  net::rate_bucket b;
  b.configure(1 << 20, 64 * 1024); // 1 MiB/s, 64 KiB deep
  auto t0 = limit_clock::now();
  limit_clock::time_point retry;
  CAF_CHECK_EQUAL(b.grant(t0, 256 * 1024, 16 * 1024, retry), 64u * 1024);
  // Empty: nothing; a big read waits for 16 KiB, there in 15.6 ms.
  CAF_CHECK_EQUAL(b.grant(t0, 100, 16 * 1024, retry), 0u);
  CAF_CHECK_EQUAL(b.grant(t0 + 1ms, 256 * 1024, 16 * 1024, retry), 0u);
  auto wait = retry - t0;
  CAF_CHECK_GREATER_OR_EQUAL(wait, 15ms);
  CAF_CHECK_LESS_OR_EQUAL(wait, 16ms);
  CAF_CHECK_GREATER_OR_EQUAL(b.grant(retry, 256 * 1024, 16 * 1024, retry), 16u * 1024);
  // Unused tokens go back.
  auto t1 = t0 + 10s;
  CAF_CHECK_EQUAL(b.grant(t1, 64 * 1024, 1, retry), 64u * 1024);
  b.refund(32 * 1024);
  CAF_CHECK_EQUAL(b.grant(t1, 64 * 1024, 1, retry), 32u * 1024);
}

CAF_TEST(a bandwidth bucket read as fast as it allows moves its rate) {
  // Ten simulated seconds of a reader that asks for 64 KiB whenever the
  // bucket lets it: 10 MiB plus the initial depth, within a read.
  net::rate_bucket b;
  constexpr uint64_t rate = 1 << 20;
  b.configure(rate, rate / 10);
  auto t0 = limit_clock::now();
  auto now = t0;
  uint64_t total = 0;
  while (now < t0 + 10s) {
    limit_clock::time_point retry;
    auto k = b.grant(now, 64 * 1024, 16 * 1024, retry);
    total += k;
    if (k == 0)
      now = retry;
  }
  auto expected = 10 * rate + rate / 10;
  CAF_CHECK_LESS_OR_EQUAL(total, expected + 64 * 1024);
  CAF_CHECK_GREATER_OR_EQUAL(total, expected - 64 * 1024);
}

CAF_TEST(a gauge never counts past its maximum under threads) {
  net::gauge g;
  std::atomic<uint32_t> inside{0};
  std::atomic<uint32_t> worst{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!g.enter(3))
          continue;
        auto n = inside.fetch_add(1) + 1;
        auto w = worst.load();
        while (n > w && !worst.compare_exchange_weak(w, n)) {
        }
        inside.fetch_sub(1);
        g.leave();
      }
    });
  for (auto& t : threads)
    t.join();
  CAF_CHECK_LESS_OR_EQUAL(worst.load(), 3u);
  CAF_CHECK_EQUAL(g.open(), 0u);
  CAF_CHECK(g.enter(0)); // 0: no maximum
  g.leave();
}

CAF_TEST(an account counts sessions and refusals and a lease gives its place back) {
  auto acct = std::make_shared<net::account>("alice");
  acct->configure(sessions_and_rate(2, 0));
  auto now = limit_clock::now();
  net::lease a;
  net::lease b;
  net::lease c;
  CAF_CHECK(net::lease::enter(acct, now, a) == net::limit_hit::none);
  CAF_CHECK(net::lease::enter(acct, now, b) == net::limit_hit::none);
  CAF_CHECK(net::lease::enter(acct, now, c) == net::limit_hit::sessions);
  CAF_CHECK(!c);
  CAF_CHECK_EQUAL(acct->sessions.open(), 2u);
  a.reset();
  CAF_CHECK_EQUAL(acct->sessions.open(), 1u);
  { net::lease moved = std::move(b); }
  CAF_CHECK_EQUAL(acct->sessions.open(), 0u);
  // The connect rate: its refusal does not keep a session place.
  acct->configure(sessions_and_rate(0, 1));
  CAF_CHECK(net::lease::enter(acct, now, a) == net::limit_hit::none);
  CAF_CHECK(net::lease::enter(acct, now, b) == net::limit_hit::rate);
  CAF_CHECK_EQUAL(acct->sessions.open(), 1u);
  CAF_CHECK_EQUAL(acct->connections.load(), 3u);
  CAF_CHECK_EQUAL(acct->refused_sessions.load(), 1u);
  CAF_CHECK_EQUAL(acct->refused_rate.load(), 1u);
  // Raising the limit applies at once.
  acct->configure(sessions_and_rate(0, 100));
  CAF_CHECK(net::lease::enter(acct, now + 1s, b) == net::limit_hit::none);
}

CAF_TEST(client addresses are limited each on its own) {
  net::source_limiter s{1024};
  auto now = limit_clock::now();
  auto lim = sessions_and_rate(2, 0);
  net::lease l1, l2, l3, l4;
  CAF_CHECK(s.enter(ep("10.0.0.1:1000"), lim, now, l1) == net::limit_hit::none);
  CAF_CHECK(s.enter(ep("10.0.0.1:1001"), lim, now, l2) == net::limit_hit::none);
  // The port does not matter, and a v4-mapped address is its IPv4 address.
  CAF_CHECK(s.enter(ep("[::ffff:10.0.0.1]:9"), lim, now, l3) == net::limit_hit::sessions);
  CAF_CHECK(s.enter(ep("10.0.0.2:1000"), lim, now, l4) == net::limit_hit::none);
  CAF_CHECK(s.enter(ep("[2001:db8::1]:1"), lim, now, l3) == net::limit_hit::none);
  CAF_CHECK_EQUAL(s.open(ep("10.0.0.1:0")), 2u);
  l1.reset();
  CAF_CHECK(s.enter(ep("10.0.0.1:1002"), lim, now, l1) == net::limit_hit::none);
  // A rate of 2 a second per address.
  auto rate = sessions_and_rate(0, 2);
  net::lease r1, r2, r3;
  CAF_CHECK(s.enter(ep("10.0.0.9:1"), rate, now, r1) == net::limit_hit::none);
  CAF_CHECK(s.enter(ep("10.0.0.9:2"), rate, now, r2) == net::limit_hit::none);
  CAF_CHECK(s.enter(ep("10.0.0.9:3"), rate, now, r3) == net::limit_hit::rate);
  CAF_CHECK(s.enter(ep("10.0.0.8:3"), rate, now, r3) == net::limit_hit::none);
  CAF_CHECK(s.enter(ep("10.0.0.9:4"), rate, now + 500ms, r3) == net::limit_hit::none);
}

CAF_TEST(a fresh table takes over and still counts what the old one holds) {
  net::source_limiter s{1024};
  auto now = limit_clock::now();
  auto lim = sessions_and_rate(2, 1);
  net::lease held;
  CAF_CHECK(s.enter(ep("192.0.2.1:1"), lim, now, held) == net::limit_hit::none);
  // 900 other addresses fill half of the table: the next
  // admission moves to a fresh table.
  for (int i = 0; i < 900; ++i) {
    net::lease l;
    auto addr = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":1";
    CAF_CHECK(s.enter(ep(addr.c_str()), lim, now, l) == net::limit_hit::none);
  }
  net::lease second;
  net::lease third;
  // One session in the old table and one in the new make two: the third
  // is over the limit. The rate moved over too (1 a second, used at t0).
  CAF_CHECK(s.enter(ep("192.0.2.1:2"), lim, now, second) == net::limit_hit::rate);
  CAF_CHECK(s.enter(ep("192.0.2.1:2"), lim, now + 1s, second) == net::limit_hit::none);
  CAF_CHECK_EQUAL(s.open(ep("192.0.2.1:0")), 2u);
  CAF_CHECK(s.enter(ep("192.0.2.1:3"), lim, now + 2s, third) == net::limit_hit::sessions);
  held.reset();
  CAF_CHECK(s.enter(ep("192.0.2.1:3"), lim, now + 3s, third) == net::limit_hit::none);
  CAF_CHECK_EQUAL(s.full(), 0u);
}
