// Deadlines and the idle timeout with an injected clock: the caller says
// what time it is; nothing here waits.
#define CAF_SUITE deadlines
#include <caf/test/unit_test_impl.hpp>

#include <vector>

#include "net/reactor/deadlines.hpp"

using namespace px;
using namespace std::chrono_literals;

namespace {

struct fixture {
  net::deadlines d;
  net::time_point t0 = net::time_point{} + 1000h;

  std::vector<net::deadline> due(net::time_point now) {
    std::vector<net::deadline> out;
    d.take_due(now, out);
    return out;
  }

  std::vector<net::conn_id> idle(net::time_point now) {
    std::vector<net::conn_id> out;
    d.take_idle(now, out);
    return out;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(deadline_tests, fixture)

CAF_TEST(deadlines come due in time order and only once) {
  d.arm(t0 + 30ms, 3, 0, net::deadline_kind::handshake);
  d.arm(t0 + 10ms, 1, 7, net::deadline_kind::operation);
  d.arm(t0 + 20ms, 2, 0, net::deadline_kind::drain);
  CAF_CHECK(d.next() == t0 + 10ms);
  CAF_CHECK(due(t0 + 9ms).empty());
  auto a = due(t0 + 20ms);
  CAF_REQUIRE_EQUAL(a.size(), 2u);
  CAF_CHECK_EQUAL(a[0].id, 1u);
  CAF_CHECK_EQUAL(a[0].gen, 7u);
  CAF_CHECK(a[0].kind == net::deadline_kind::operation);
  CAF_CHECK_EQUAL(a[1].id, 2u);
  CAF_CHECK(due(t0 + 20ms).empty());
  CAF_CHECK(d.next() == t0 + 30ms);
  CAF_CHECK_EQUAL(due(t0 + 1h).size(), 1u);
  CAF_CHECK(!d.next());
  CAF_CHECK_EQUAL(d.armed(), 0u);
}

CAF_TEST(a connection idles out after its limit without traffic) {
  net::idle_node a, b;
  a.id = 1;
  b.id = 2;
  d.idle_start(a, t0, 100ms);
  d.idle_start(b, t0 + 10ms, 100ms);
  CAF_CHECK(idle(t0 + 99ms).empty());
  d.idle_touch(a, t0 + 50ms); // traffic on a: b is now the oldest
  auto x = idle(t0 + 110ms);
  CAF_REQUIRE_EQUAL(x.size(), 1u);
  CAF_CHECK_EQUAL(x[0], 2u);
  CAF_CHECK(!b.linked);
  CAF_CHECK(idle(t0 + 149ms).empty());
  CAF_CHECK(idle(t0 + 150ms) == (std::vector<net::conn_id>{1}));
  CAF_CHECK(idle(t0 + 10h).empty());
}

CAF_TEST(a connection without a limit never idles out and is not listed) {
  net::idle_node a, b;
  a.id = 1;
  b.id = 2;
  d.idle_start(a, t0, 0ms);
  d.idle_start(b, t0, 100ms);
  CAF_CHECK(!a.linked);
  d.idle_touch(a, t0 + 1ms);
  CAF_CHECK(idle(t0 + 1000h) == (std::vector<net::conn_id>{2}));
}

CAF_TEST(a stopped connection is never reported) {
  net::idle_node a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  d.idle_start(a, t0, 10ms);
  d.idle_start(b, t0, 10ms);
  d.idle_start(c, t0, 10ms);
  d.idle_stop(b);
  d.idle_stop(b); // twice is harmless
  CAF_CHECK(idle(t0 + 1s) == (std::vector<net::conn_id>{1, 3}));
}

CAF_TEST_FIXTURE_SCOPE_END()
