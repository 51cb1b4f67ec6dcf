// Tier (b): login floods and registry writes (docs/hardening.md). The check
// queue alone, then the registry and sessions under CAF's test coordinator
// with a hasher and a disk that hold every job until the test answers it.
#define CAF_SUITE auth_queue
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/check_queue.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "config/users.hpp"

using namespace px;

namespace {

// -- the check queue alone ------------------------------------------------------

/// A check of (user, password) from `source` with one waiter.
check_job job(const std::string& user, bool exists, const std::string& source,
              uint64_t ticket = 0) {
  check_job j;
  j.key.second = "hash-of:" + user;
  j.user = user;
  j.password = "pw";
  j.exists = exists;
  j.source = source;
  j.waiters.push_back(check_waiter{ticket, exists, {}, false});
  return j;
}

/// The users of `jobs`, in order.
std::vector<std::string> users_of(const std::vector<check_job>& jobs) {
  std::vector<std::string> out;
  for (auto& j : jobs)
    out.push_back(j.user);
  return out;
}

using names = std::vector<std::string>;

// -- a hasher and a disk that answer when the test says so --------------------

struct gate_state {
  static inline const char* name = "gated-hasher";
  /// Passwords of the checks received, in order.
  std::vector<std::string> seen;
  /// Their answers, to give.
  std::vector<caf::typed_response_promise<bool>> held;
};

/// A hasher (dynamically typed, for the extra handler) that verifies only
/// when released with (publish, i, ok); hashes at once ("hash-of-" +
/// password).
caf::behavior gated_hasher(caf::stateful_actor<gate_state>* self) {
  return {
    [=](verify_atom, const std::string& password,
        const std::string&) -> caf::result<bool> {
      self->state.seen.push_back(password);
      self->state.held.push_back(self->make_response_promise<bool>());
      return self->state.held.back();
    },
    [=](hash_atom, const std::string& password) { return "hash-of-" + password; },
    [=](publish_atom, uint64_t i, bool ok) { self->state.held.at(i).deliver(ok); },
  };
}

struct disk_state {
  static inline const char* name = "scripted-disk";
  /// Contents of each write asked for, in order.
  std::vector<std::string> writes;
  /// Their answers, to give (error text; empty: written).
  std::vector<caf::typed_response_promise<std::string>> held;
};

/// A persister that answers a write only when told how it went with
/// (publish, i, error text).
caf::behavior scripted_disk(caf::stateful_actor<disk_state>* self) {
  return {
    [=](write_atom, const std::string&,
        const std::string& contents) -> caf::result<std::string> {
      self->state.writes.push_back(contents);
      self->state.held.push_back(self->make_response_promise<std::string>());
      return self->state.held.back();
    },
    [=](publish_atom, uint64_t i, std::string& err) {
      self->state.held.at(i).deliver(std::move(err));
    },
  };
}

/// Records what a session tells the reactor about logins.
class login_io : public net::conn_control {
public:
  void handshake(net::conn_id, std::shared_ptr<net::conn_handler>,
                 net::handshake_plan) override {}
  void authenticated(net::conn_id id, bool ok, net::login_grant = {}) override {
    verdicts.emplace_back(id, ok);
  }
  void send(net::conn_id, std::vector<uint8_t>, net::after) override {}
  void bind(net::conn_id, net::bind_request) override {}
  void udp_associate(net::conn_id, net::udp_request) override {}
  void start_relay(net::conn_id, std::vector<uint8_t>, std::vector<uint8_t>,
                   net::relay_options) override {}
  void close(net::conn_id) override {}
  void close_user(std::shared_ptr<net::account>) override {}
  uint64_t owned_closed() const override {
    return 0;
  }
  /// (connection, ok) of every `authenticated`.
  std::vector<std::pair<net::conn_id, bool>> verdicts;
};

using verdict_box = std::shared_ptr<std::optional<auth_verdict>>;

struct fixture : test_coordinator_fixture<> {
  fixture() {
    gate = sys.spawn(gated_hasher);
    disk = sys.spawn(scripted_disk);
    met = sys.spawn(metrics, nullptr);
  }

  ~fixture() override {
    for (auto& a : {caf::actor_cast<caf::actor>(reg), caf::actor_cast<caf::actor>(gate),
                    caf::actor_cast<caf::actor>(disk), caf::actor_cast<caf::actor>(met)})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
  }

  /// Runs every pending message without firing timeouts.
  void consume_all() {
    while (consume_message())
      ; // nop
  }

  /// The registry (user demo; `path` set: users written to the disk).
  void start_registry(check_limits lim, std::string path = {}) {
    std::vector<config::user_entry> users{plain_entry("demo", config::role_socks, "$y$demo")};
    reg = sys.spawn(registry, users,
                    std::vector<hasher_actor>{caf::actor_cast<hasher_actor>(gate)},
                    registry_config{std::move(path), 100, lim},
                    caf::actor_cast<persister_actor>(disk));
    consume_all();
  }

  /// A SOCKS login from `peer` with `ticket`; its verdict arrives in the box.
  verdict_box ask(std::string user, std::string password, uint64_t ticket,
                  const std::string& peer = "10.0.0.1:1000") {
    auto box = std::make_shared<std::optional<auth_verdict>>();
    login_request req{std::move(user), std::move(password),
                      uint8_t{config::role_socks},
                      *net::ip_endpoint::parse(peer), ticket};
    sys.spawn([=](caf::event_based_actor* asker) {
      asker->request(reg, caf::infinite, req).then([box](auth_verdict v) { *box = v; });
    });
    consume_all();
    return box;
  }

  gate_state& hasher_state() {
    return deref<caf::stateful_actor<gate_state>>(gate).state;
  }

  disk_state& disk_state_() {
    return deref<caf::stateful_actor<disk_state>>(disk).state;
  }

  /// The hasher answers its `i`th check with `ok`.
  void release(uint64_t i, bool ok) {
    self->send(gate, publish_atom_v, i, ok);
    consume_all();
  }

  /// The disk answers its `i`th write with `err` (empty: written).
  void answer_write(uint64_t i, std::string err) {
    self->send(disk, publish_atom_v, i, std::move(err));
    consume_all();
  }

  /// Adds `user` (answer in the box).
  std::shared_ptr<std::optional<add_result>> add(std::string user) {
    auto box = std::make_shared<std::optional<add_result>>();
    sys.spawn([=](caf::event_based_actor* asker) {
      asker->request(reg, caf::infinite, add_atom_v, user, std::string{"pw"},
                     uint8_t{config::role_socks})
        .then([box](add_result r) { *box = r; });
    });
    consume_all();
    return box;
  }

  bool user_exists(std::string user) {
    return request<bool>(reg, exists_atom_v, std::move(user),
                         uint8_t{config::role_socks});
  }

  caf::actor gate;
  caf::actor disk;
  metrics_actor met;
  registry_actor reg;
};

} // namespace

CAF_TEST(the queue caps each source and the total and serves sources in turn) {
  check_queue q{check_limits{2, 3, 0}};
  std::vector<check_job> over;
  CAF_CHECK(q.push(job("u1", false, "A"), over) == check_queue::pushed::queued);
  CAF_CHECK(q.push(job("u2", false, "A"), over) == check_queue::pushed::queued);
  // Source A is full: another made-up name is refused ...
  CAF_CHECK(q.push(job("u3", false, "A"), over) == check_queue::pushed::refused);
  CAF_CHECK(users_of(over) == names{"u3"});
  // ... a known name takes the place of A's newest made-up one.
  CAF_CHECK(q.push(job("k1", true, "A"), over) == check_queue::pushed::queued);
  CAF_CHECK(users_of(over) == (names{"u3", "u2"}));
  CAF_CHECK(q.push(job("b1", false, "B"), over) == check_queue::pushed::queued);
  // Full in total: a quiet source takes a place of the busiest one ...
  CAF_CHECK(q.push(job("c1", false, "C"), over) == check_queue::pushed::queued);
  CAF_CHECK(users_of(over) == (names{"u3", "u2", "u1"}));
  // ... not when the sources are even.
  CAF_CHECK(q.push(job("c2", false, "C"), over) == check_queue::pushed::refused);
  CAF_CHECK_EQUAL(q.queued(), 3u);
  // The same credentials share a check: no place of their own.
  CAF_CHECK(q.push(job("k1", true, "D"), over) == check_queue::pushed::joined);
  CAF_CHECK_EQUAL(q.queued(), 3u);
  names order;
  while (auto j = q.pop())
    order.push_back(j->user);
  CAF_CHECK(order == (names{"k1", "b1", "c1"}));
  CAF_CHECK_EQUAL(q.hashing(), 3u);
  auto k1 = q.finish(job("k1", true, "A").key);
  CAF_REQUIRE(k1);
  CAF_CHECK_EQUAL(k1->waiters.size(), 2u);
}

CAF_TEST(a cancelled check is dropped unless a hasher has it) {
  check_queue q;
  std::vector<check_job> over;
  q.push(job("x", false, "A", 1), over);
  q.push(job("y", false, "A", 2), over);
  q.push(job("z", false, "A", 3), over);
  q.push(job("z", false, "B", 4), over); // joins z
  CAF_CHECK_EQUAL(q.pop()->user, "x");
  CAF_CHECK(!q.cancel(1)); // being hashed: runs to its end
  CAF_CHECK(q.cancel(2));  // nobody else waits: dropped
  CAF_CHECK(!q.cancel(3)); // ticket 4 still waits for z
  CAF_CHECK(!q.cancel(99));
  CAF_CHECK_EQUAL(q.queued(), 1u);
  CAF_CHECK(q.cancel(4));
  CAF_CHECK_EQUAL(q.queued(), 0u);
  CAF_CHECK(q.pop() == nullptr);
  auto x = q.finish(job("x", false, "A").key);
  CAF_REQUIRE(x);
  CAF_CHECK(x->waiters.empty());
  CAF_CHECK(!q.finish(job("x", false, "A").key));
  // Overload begins: queued made-up names go, known ones stay.
  q.push(job("u", false, "A"), over);
  q.push(job("k", true, "A"), over);
  over.clear();
  q.drop_unknown(over);
  CAF_CHECK(users_of(over) == names{"u"});
  CAF_CHECK_EQUAL(q.pop()->user, "k");
}

CAF_TEST(a source is an IPv4 address or an IPv6 64-bit prefix) {
  auto src = [](const char* ep) { return source_of(*net::ip_endpoint::parse(ep)); };
  CAF_CHECK_EQUAL(src("10.1.2.3:5"), "10.1.2.3");
  CAF_CHECK_EQUAL(src("[::ffff:10.1.2.3]:5"), "10.1.2.3");
  CAF_CHECK_EQUAL(src("[2001:db8:1:2:3:4:5:6]:7"), "2001:db8:1:2::/64");
  CAF_CHECK_EQUAL(src("[2001:db8:1:2:ff::1]:7"), "2001:db8:1:2::/64");
}

CAF_TEST_FIXTURE_SCOPE(registry_queue_tests, fixture)

CAF_TEST(checks of clients that left are never hashed) {
  start_registry(check_limits{});
  auto a = ask("demo", "right", 1);
  auto b = ask("nobody", "pw-b", 2);
  auto c = ask("someone", "pw-c", 3);
  // One check at a time: the hasher has only the first.
  CAF_CHECK(hasher_state().seen == names{"right"});
  self->send(reg, cancel_atom_v, uint64_t{2}); // b's client closed
  consume_all();
  release(0, true);
  release(1, false);
  CAF_CHECK(hasher_state().seen == (names{"right", "pw-c"}));
  CAF_CHECK(*a == auth_verdict::granted);
  CAF_CHECK(!*b); // nobody to answer
  CAF_CHECK(*c == auth_verdict::denied);
}

CAF_TEST(a full source is answered overload at once and never denied) {
  start_registry(check_limits{2, 100, 0});
  auto a = ask("demo", "pw-a", 1);
  auto b = ask("x", "pw-b", 2);
  auto c = ask("y", "pw-c", 3);
  auto d = ask("z", "pw-d", 4);
  CAF_CHECK(*d == auth_verdict::overloaded);
  // Another source still has room.
  auto e = ask("w", "pw-e", 5, "10.0.0.2:1000");
  CAF_CHECK(!*e);
  // A known name takes the place of the full source's newest made-up one.
  auto f = ask("demo", "pw-f", 6);
  CAF_CHECK(*c == auth_verdict::overloaded);
  CAF_CHECK(!*f);
  for (uint64_t i = 0; i < 4; ++i)
    release(i, false);
  // Round robin between the sources: after A's first, B's, then A's.
  CAF_CHECK(hasher_state().seen == (names{"pw-a", "pw-e", "pw-b", "pw-f"}));
  for (auto& v : {a, b, e, f})
    CAF_CHECK(*v == auth_verdict::denied);
}

CAF_TEST(under overload made-up names are refused unchecked and real ones checked) {
  start_registry(check_limits{16, 100, 3});
  auto a = ask("x1", "pw-1", 1, "10.0.0.1:1");
  auto b = ask("x2", "pw-2", 2, "10.0.0.2:1");
  auto c = ask("x3", "pw-3", 3, "10.0.0.3:1");
  CAF_CHECK(!*b && !*c);
  // A fourth new check within a second: overload. The queued made-up names
  // are refused, and so is this one; the one being hashed runs on.
  auto d = ask("x4", "pw-4", 4, "10.0.0.4:1");
  CAF_CHECK(*b == auth_verdict::overloaded);
  CAF_CHECK(*c == auth_verdict::overloaded);
  CAF_CHECK(*d == auth_verdict::overloaded);
  auto k = ask("demo", "right", 5, "10.0.0.1:2");
  CAF_CHECK(!*k);
  release(0, false);
  release(1, true);
  CAF_CHECK(*a == auth_verdict::denied);
  CAF_CHECK(*k == auth_verdict::granted);
  CAF_CHECK(hasher_state().seen == (names{"pw-1", "right"}));
  // Quiet again a while later: made-up names are hashed like any other.
  advance_time(std::chrono::seconds{3});
  consume_all();
  auto e = ask("x5", "pw-5", 6);
  release(2, false);
  CAF_CHECK(*e == auth_verdict::denied);
  // An admin login refused for overload is an error, never `false`.
  for (int i = 0; i < 3; ++i)
    ask("y" + std::to_string(i), "pw", 10 + i);
  auto res = self->request(reg, caf::infinite, auth_atom_v, std::string{"boss"},
                           std::string{"pw"}, uint8_t{config::role_admin});
  run();
  std::optional<bool> answered;
  res.receive([&](bool ok) { answered = ok; }, [](caf::error&) {});
  CAF_CHECK(!answered);
}

CAF_TEST(a session that closes while its check waits cancels it) {
  start_registry(check_limits{});
  login_io io;
  auto settings = std::make_shared<const session_settings>();
  auto spawn = [&](net::conn_id id) {
    session_args args;
    args.id = id;
    args.peer = *net::ip_endpoint::parse("10.0.0.1:1000");
    args.settings = settings;
    args.deps = session_deps{&io, reg, met, access_log_actor{}, nullptr};
    return sys.spawn(session, std::move(args));
  };
  auto s1 = spawn(1);
  auto s2 = spawn(2);
  auto s3 = spawn(3);
  self->send(s1, conn_credentials{{"demo", "right"}});
  self->send(s2, conn_credentials{{"nobody", "pw-2"}});
  consume_all();
  net::close_stats gone;
  gone.reason = net::close_reason::client_gone;
  self->send(s2, conn_closed{gone, {}});
  consume_all();
  self->send(s3, conn_credentials{{"demo", "pw-3"}});
  consume_all();
  release(0, true);
  release(1, false);
  CAF_CHECK(hasher_state().seen == (names{"right", "pw-3"}));
  using v = std::vector<std::pair<net::conn_id, bool>>;
  CAF_CHECK(io.verdicts == (v{{1, true}, {3, false}}));
  auto m = request<metrics_snapshot>(met, get_atom_v);
  CAF_CHECK_EQUAL(m.auth_failures, 1u);
  CAF_CHECK_EQUAL(m.auth_overloads, 0u);
  for (auto& s : {s1, s3})
    self->send(s, conn_closed{gone, {}});
  consume_all();
}

CAF_TEST(an overloaded login fails for the client and counts as overload) {
  start_registry(check_limits{1, 100, 0});
  login_io io;
  session_args args;
  args.peer = *net::ip_endpoint::parse("10.0.0.1:1000");
  args.settings = std::make_shared<const session_settings>();
  args.deps = session_deps{&io, reg, met, access_log_actor{}, nullptr};
  std::vector<caf::actor> sessions;
  for (net::conn_id id = 1; id <= 3; ++id) {
    args.id = id;
    sessions.push_back(sys.spawn(session, args));
    self->send(sessions.back(),
               conn_credentials{{"u" + std::to_string(id), "pw"}});
    consume_all();
  }
  // 1 is being hashed, 2 waits, 3 finds the source full.
  using v = std::vector<std::pair<net::conn_id, bool>>;
  CAF_CHECK(io.verdicts == (v{{3, false}}));
  auto m = request<metrics_snapshot>(met, get_atom_v);
  CAF_CHECK_EQUAL(m.auth_overloads, 1u);
  CAF_CHECK_EQUAL(m.auth_failures, 0u);
  CAF_CHECK_EQUAL(deref<caf::stateful_actor<session_state>>(sessions[2]).state.result,
                  "auth-overload");
  net::close_stats gone;
  for (auto& s : sessions)
    self->send(s, conn_closed{gone, {}});
  consume_all();
}

CAF_TEST(a failed add is in no later write) {
  start_registry(check_limits{}, "users.txt");
  auto alice = add("alice");
  CAF_REQUIRE_EQUAL(disk_state_().writes.size(), 1u);
  auto bob = add("bob"); // hashed while alice's write is in flight
  CAF_CHECK_EQUAL(disk_state_().writes.size(), 1u);
  answer_write(0, "No space left on device");
  CAF_CHECK(*alice == add_result::io_error);
  CAF_REQUIRE_EQUAL(disk_state_().writes.size(), 2u);
  CAF_CHECK(disk_state_().writes[1].find("alice") == std::string::npos);
  CAF_CHECK(disk_state_().writes[1].find("bob:socks:hash-of-pw") != std::string::npos);
  answer_write(1, "");
  CAF_CHECK(*bob == add_result::ok);
  CAF_CHECK(!user_exists("alice"));
  CAF_CHECK(user_exists("bob"));
  // The name is free again.
  auto again = add("alice");
  CAF_REQUIRE_EQUAL(disk_state_().writes.size(), 3u);
  CAF_CHECK(disk_state_().writes[2].find("bob") != std::string::npos);
  answer_write(2, "");
  CAF_CHECK(*again == add_result::ok);
}

CAF_TEST(a write that timed out is followed by one without its adds) {
  start_registry(check_limits{}, "users.txt");
  auto carol = add("carol");
  CAF_REQUIRE_EQUAL(disk_state_().writes.size(), 1u);
  // The disk hangs: the registry gives up and says so ...
  advance_time(std::chrono::seconds{31});
  consume_all();
  CAF_CHECK(*carol == add_result::io_error);
  // ... and at once asks for a write without carol, which lands after the
  // one that hangs (the writer does one write after the other).
  CAF_REQUIRE_EQUAL(disk_state_().writes.size(), 2u);
  CAF_CHECK(disk_state_().writes[1].find("carol") == std::string::npos);
  CAF_CHECK(disk_state_().writes[1].find("demo") != std::string::npos);
  answer_write(1, "");
  CAF_CHECK(!user_exists("carol"));
}

CAF_TEST_FIXTURE_SCOPE_END()
