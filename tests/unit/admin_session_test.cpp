// Tier (b): the SPCP and Manager admin sessions and the login guard under
// CAF's test coordinator, with a fake SCTP transport that records replies.
#define CAF_SUITE admin_session
#include <caf/test/unit_test_impl.hpp>

#include <set>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include "actors/reload_desk.hpp"
#include "actors/services.hpp"
#include "actors/session.hpp"
#include "admin/admin_session.hpp"
#include "admin/manager_reload.hpp"

using namespace px;
using bytes = std::vector<uint8_t>;

namespace {

class fake_tx : public net::sctp_transport {
public:
  const char* kind() const override { return "fake"; }
  std::variant<net::ip_endpoint, std::string>
  listen(const net::ip_endpoint& addr, std::shared_ptr<net::sctp_events>) override {
    return addr;
  }
  void start() override {}
  void send(net::assoc_id, std::vector<uint8_t> msg) override {
    sent.push_back(std::move(msg));
  }
  void close(net::assoc_id id) override {
    ++closes;
    closed.insert(id);
  }
  void stop() override {}

  std::vector<bytes> sent;
  int closes = 0;
  std::set<net::assoc_id> closed;
};

bytes req(spcp::cmd c, std::vector<std::string> args = {}) {
  return admin::encode_spcp_request(static_cast<uint8_t>(c), args);
}

struct fixture : test_coordinator_fixture<> {
  fixture() {
    auto hash = config::hash_password("secret");
    CAF_REQUIRE(hash);
    std::vector<config::user_entry> users{plain_entry("root", config::role_admin, *hash),
                                          plain_entry("demo", config::role_socks, *hash)};
    hashers.push_back(sys.spawn(hasher));
    reg = sys.spawn(registry, users, hashers, registry_config{}, persister_actor{});
    met = sys.spawn(metrics, nullptr);
    set = sys.spawn(px::settings, session_settings{}, acceptor_actor{});
    guard = sys.spawn(login_guard);
    // The main thread, played by the test: it counts the rings and answers
    // with reload_outcome messages.
    desk = sys.spawn(reload_desk, [this] { ++rings; });
    sess = spawn_spcp("127.0.0.1:9");
  }

  ~fixture() {
    // The base class runs what is left, timeouts included: no session may
    // reach for `tx` (destroyed first) at its login deadline.
    sched.clock().cancel_all();
  }

  admin_deps deps() {
    return admin_deps{&tx, reg, met, set, guard, desk, caf::actor{}};
  }

  /// A new SPCP session for an association from `peer`.
  caf::actor spawn_spcp(const char* peer) {
    auto s = sys.spawn(spcp_session, net::assoc_id{++last_id},
                       *net::ip_endpoint::parse(peer), deps());
    consume_all();
    return s;
  }

  /// USER root, PASS `password` on a new association from `peer`: the
  /// PASS reply (or the USER reply when USER failed).
  spcp::status try_login(const char* peer, const std::string& password) {
    sess = spawn_spcp(peer);
    auto st = call(req(spcp::cmd::user, {"root"})).status;
    if (st != spcp::status::ok)
      return st;
    return call(req(spcp::cmd::pass, {password})).status;
  }

  /// How long the guard keeps `peer`'s address locked (read from its state:
  /// a request would run every pending timeout, login deadlines included).
  caf::timespan locked_for(const char* peer) {
    using impl = std::remove_pointer_t<
      login_guard_actor::stateful_pointer<login_guard_state>>;
    return deref<impl>(guard).state.locked_for(*net::ip_endpoint::parse(peer),
                                               sched.clock().now());
  }

  void consume_all() {
    while (consume_message())
      ; // nop
  }

  /// Sends one request and returns the one reply it produced.
  admin::spcp_response call(const bytes& msg) {
    tx.sent.clear();
    self->send(sess, admin_msg{msg, false});
    consume_all();
    CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
    auto r = admin::parse_spcp_response(tx.sent[0].data(), tx.sent[0].size());
    CAF_REQUIRE(r);
    return *r;
  }

  void login() {
    CAF_REQUIRE(call(req(spcp::cmd::user, {"root"})).status == spcp::status::ok);
    CAF_REQUIRE(call(req(spcp::cmd::pass, {"secret"})).status == spcp::status::ok);
  }

  fake_tx tx;
  std::vector<hasher_actor> hashers;
  registry_actor reg;
  metrics_actor met;
  settings_actor set;
  login_guard_actor guard;
  reload_desk_actor desk;
  int rings = 0;
  caf::actor sess;
  uint64_t last_id = 0;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(spcp_tests, fixture)

CAF_TEST(login then every query) {
  login();
  // 5 admitted, 1 of them closed: 4 open, 5 historical.
  self->send(met, traffic{{100, 23, 0, 0, 5, 1}});
  consume_all();
  auto r = call(req(spcp::cmd::concurrent));
  CAF_CHECK(r.status == spcp::status::ok);
  CAF_CHECK_EQUAL(r.data, "4");
  CAF_CHECK_EQUAL(call(req(spcp::cmd::bytes)).data, "123");
  CAF_CHECK_EQUAL(call(req(spcp::cmd::historical)).data, "5");
  r = call(req(spcp::cmd::get_transform));
  CAF_CHECK(r.status == spcp::status::ok);
  CAF_CHECK_EQUAL(r.data, "");
}

CAF_TEST(setters change the settings actor) {
  login();
  CAF_CHECK(call(req(spcp::cmd::set_buffer, {"131072"})).status == spcp::status::ok);
  CAF_CHECK(call(req(spcp::cmd::set_transform, {"tr a-z A-Z"})).status
            == spcp::status::ok);
  auto s = request<session_settings>(set, get_atom_v);
  CAF_CHECK_EQUAL(s.buffer_size, 131072u);
  CAF_CHECK_EQUAL(s.transform, "tr a-z A-Z");
  CAF_CHECK_EQUAL(call(req(spcp::cmd::get_transform)).data, "tr a-z A-Z");
  // No argument, or an empty one, disables it.
  CAF_CHECK(call(req(spcp::cmd::set_transform)).status == spcp::status::ok);
  CAF_CHECK_EQUAL(call(req(spcp::cmd::get_transform)).data, "");
  CAF_CHECK(call(req(spcp::cmd::set_transform, {"x"})).status == spcp::status::ok);
  CAF_CHECK(call(req(spcp::cmd::set_transform, {""})).status == spcp::status::ok);
  CAF_CHECK_EQUAL(call(req(spcp::cmd::get_transform)).data, "");
}

CAF_TEST(invalid arguments) {
  login();
  CAF_CHECK(call(req(spcp::cmd::set_buffer, {"12k"})).status == spcp::status::invalid_args);
  CAF_CHECK(call(req(spcp::cmd::set_buffer, {"10"})).status == spcp::status::invalid_args);
  CAF_CHECK(call(req(spcp::cmd::set_buffer, {"99999999999999999999"})).status
            == spcp::status::invalid_args);
  CAF_CHECK(call(req(spcp::cmd::set_buffer)).status == spcp::status::invalid_args);
  CAF_CHECK(call(req(spcp::cmd::concurrent, {"x"})).status == spcp::status::invalid_args);
  CAF_CHECK(call(req(spcp::cmd::set_transform, {"a", "b"})).status
            == spcp::status::invalid_args);
  CAF_CHECK(call(bytes{0x02, 0x01, 0x09}).status == spcp::status::invalid_args);
  CAF_CHECK(call(bytes{0x02, 0x00, 0x00}).status == spcp::status::invalid_args);
  CAF_CHECK(call(bytes{0x02}).status == spcp::status::invalid_command);
  tx.sent.clear();
  self->send(sess, admin_msg{{}, true}); // oversized
  consume_all();
  CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
  CAF_CHECK_EQUAL(tx.sent[0][0], 0x03);
}

CAF_TEST(unknown and out of state commands) {
  login();
  CAF_CHECK(call(req(static_cast<spcp::cmd>(0x08))).status == spcp::status::invalid_command);
  CAF_CHECK(call(bytes{0x42, 0x00}).status == spcp::status::invalid_command);
  CAF_CHECK(call(req(spcp::cmd::user, {"root"})).status == spcp::status::invalid_command);
  CAF_CHECK_EQUAL(tx.closes, 0);
  CAF_CHECK(call(req(spcp::cmd::quit)).status == spcp::status::ok);
  CAF_CHECK_EQUAL(tx.closes, 1);
}

CAF_TEST(commands before login get auth errors) {
  CAF_CHECK(call(req(spcp::cmd::concurrent)).status == spcp::status::auth_error);
  CAF_CHECK(call(req(spcp::cmd::quit)).status == spcp::status::auth_error);
  CAF_CHECK(call(bytes{0x42, 0x00}).status == spcp::status::auth_error);
  CAF_CHECK(call(req(spcp::cmd::user)).status == spcp::status::invalid_args);
  CAF_CHECK_EQUAL(tx.closes, 0);
}

CAF_TEST(three failed logins end the association) {
  // Unknown user, a SOCKS-only user, then a wrong password.
  CAF_CHECK(call(req(spcp::cmd::user, {"nobody"})).status == spcp::status::auth_error);
  CAF_CHECK(call(req(spcp::cmd::user, {"demo"})).status == spcp::status::auth_error);
  CAF_CHECK_EQUAL(tx.closes, 0);
  CAF_CHECK(call(req(spcp::cmd::user, {"root"})).status == spcp::status::ok);
  CAF_CHECK(call(req(spcp::cmd::pass, {"wrong"})).status == spcp::status::auth_error);
  CAF_CHECK_EQUAL(tx.closes, 1);
  auto m = request<metrics_snapshot>(met, get_atom_v);
  CAF_CHECK_EQUAL(m.admin_auth_failures, 3u);
  // Once closing, further requests get no reply.
  tx.sent.clear();
  self->send(sess, admin_msg{req(spcp::cmd::user, {"root"}), false});
  consume_all();
  CAF_CHECK(tx.sent.empty());
}

CAF_TEST(a failed pass allows a new user command) {
  CAF_CHECK(call(req(spcp::cmd::pass, {"secret"})).status == spcp::status::auth_error);
  CAF_CHECK(call(req(spcp::cmd::user, {"root"})).status == spcp::status::ok);
  CAF_CHECK(call(req(spcp::cmd::pass, {"secret"})).status == spcp::status::ok);
  CAF_CHECK_EQUAL(call(req(spcp::cmd::historical)).data, "0");
}

CAF_TEST(an association that does not log in within the deadline is closed) {
  sched.advance_time(admin_login_deadline - std::chrono::milliseconds{1});
  consume_all();
  CAF_CHECK_EQUAL(tx.closes, 0);
  CAF_CHECK(call(req(spcp::cmd::user, {"root"})).status == spcp::status::ok);
  sched.advance_time(std::chrono::milliseconds{1});
  consume_all();
  CAF_CHECK_EQUAL(tx.closes, 1);
  // Closing: the PASS that comes too late gets no reply.
  tx.sent.clear();
  self->send(sess, admin_msg{req(spcp::cmd::pass, {"secret"}), false});
  consume_all();
  CAF_CHECK(tx.sent.empty());
}

CAF_TEST(a logged in association outlives the login deadline) {
  login();
  sched.advance_time(admin_login_deadline * 2);
  consume_all();
  CAF_CHECK_EQUAL(tx.closes, 0);
  CAF_CHECK(call(req(spcp::cmd::historical)).status == spcp::status::ok);
}

CAF_TEST(failed logins from one address lock it and only it) {
  // Three failures cost nothing, across associations.
  CAF_CHECK(try_login("127.0.0.1:1000", "wrong") == spcp::status::auth_error);
  CAF_CHECK(try_login("127.0.0.1:1001", "wrong") == spcp::status::auth_error);
  CAF_CHECK(try_login("127.0.0.1:1002", "wrong") == spcp::status::auth_error);
  CAF_CHECK_EQUAL(locked_for("127.0.0.1:1"), caf::timespan{0});
  // The fourth locks the address for 1 s, whatever the port.
  CAF_CHECK(try_login("127.0.0.1:1003", "wrong") == spcp::status::auth_error);
  CAF_CHECK_EQUAL(locked_for("127.0.0.1:1"), caf::timespan{std::chrono::seconds{1}});
  // Locked: even the right password is refused, already at USER.
  CAF_CHECK(try_login("127.0.0.1:1004", "secret") == spcp::status::auth_error);
  // Another address is not affected.
  CAF_CHECK(try_login("127.0.0.2:1000", "secret") == spcp::status::ok);
  CAF_CHECK(try_login("[::1]:1000", "secret") == spcp::status::ok);
  // After the lock, the right password works and clears the record.
  sched.advance_time(std::chrono::seconds{1});
  CAF_CHECK(try_login("127.0.0.1:1005", "secret") == spcp::status::ok);
  CAF_CHECK(try_login("127.0.0.1:1006", "wrong") == spcp::status::auth_error);
  CAF_CHECK_EQUAL(locked_for("127.0.0.1:1"), caf::timespan{0});
  auto m = request<metrics_snapshot>(met, get_atom_v);
  CAF_CHECK_EQUAL(m.admin_auth_failures, 6u);
}

CAF_TEST(each further failure doubles the lock) {
  for (int i = 0; i < 4; ++i)
    try_login("10.0.0.1:1", "wrong");
  sched.advance_time(std::chrono::seconds{1});
  CAF_CHECK(try_login("10.0.0.1:2", "wrong") == spcp::status::auth_error);
  CAF_CHECK_EQUAL(locked_for("10.0.0.1:1"), caf::timespan{std::chrono::seconds{2}});
  sched.advance_time(std::chrono::seconds{1});
  CAF_CHECK(try_login("10.0.0.1:3", "secret") == spcp::status::auth_error);
  sched.advance_time(std::chrono::seconds{1});
  CAF_CHECK(try_login("10.0.0.1:4", "secret") == spcp::status::ok);
}

CAF_TEST(lock lengths and forgetting) {
  using std::chrono::seconds;
  CAF_CHECK_EQUAL(login_guard_state::lock_after(3).count(), 0);
  CAF_CHECK_EQUAL(login_guard_state::lock_after(4).count(), 1);
  CAF_CHECK_EQUAL(login_guard_state::lock_after(5).count(), 2);
  CAF_CHECK_EQUAL(login_guard_state::lock_after(9).count(), 32);
  CAF_CHECK_EQUAL(login_guard_state::lock_after(10).count(), 60);
  CAF_CHECK_EQUAL(login_guard_state::lock_after(1000).count(), 60);
  login_guard_state st;
  auto ip = *net::ip_endpoint::parse("10.1.1.1:5");
  login_guard_state::time_point t0{};
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(st.failed(ip, t0).count(), 0);
  // Fifteen minutes later, the three failures are forgotten.
  auto later = t0 + std::chrono::minutes{16};
  CAF_CHECK_EQUAL(st.failed(ip, later).count(), 0);
  CAF_CHECK_EQUAL(st.sources.size(), 1u);
  CAF_CHECK_EQUAL(st.sources.begin()->second.failures, 1);
}

CAF_TEST(decimal parsing) {
  auto v = spcp_state::parse_decimal("65536");
  CAF_REQUIRE(v.has_value());
  CAF_CHECK_EQUAL(v.value_or(0), 65536u);
  CAF_CHECK(!spcp_state::parse_decimal(""));
  CAF_CHECK(!spcp_state::parse_decimal("-1"));
  CAF_CHECK(!spcp_state::parse_decimal("1e3"));
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

namespace mgr = admin::manager;

struct manager_fixture : fixture {
  manager_fixture() {
    msess = sys.spawn(manager_session, net::assoc_id{100},
                      *net::ip_endpoint::parse("127.0.0.1:9"), deps());
    consume_all();
  }

  /// Sends one message; returns what came back (empty when nothing).
  bytes send_msg(const bytes& msg) {
    tx.sent.clear();
    self->send(msess, admin_msg{msg, false});
    consume_all();
    if (tx.sent.empty())
      return {};
    CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
    return tx.sent[0];
  }

  bytes login(const std::string& user = "root", const std::string& pw = "secret") {
    return send_msg(mgr::encode_login({user, pw}));
  }

  caf::actor msess;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(manager_tests, manager_fixture)

CAF_TEST(login then metrics then close) {
  CAF_CHECK(login() == (bytes{0x05, 0x00}));
  CAF_CHECK_EQUAL(tx.closes, 0);
  self->send(met, traffic{{70000, 0, 0, 0, 1, 1}});
  consume_all();
  // HLEN=1 HIST=1, ALEN=1 ACTIVE=0, BLEN=3 BYTES=70000 (0x011170)
  CAF_CHECK(send_msg(bytes{0x05, 0x02})
            == (bytes{0x05, 0x02, 0x01, 0x01, 0x01, 0x00, 0x03, 0x01, 0x11, 0x70}));
  CAF_CHECK_EQUAL(tx.closes, 1);
  // Exactly one request per association.
  CAF_CHECK(send_msg(bytes{0x05, 0x01}).empty());
}

CAF_TEST(failed or malformed login closes) {
  CAF_CHECK(login("root", "wrong") == (bytes{0x05, 0x01}));
  CAF_CHECK_EQUAL(tx.closes, 1);
  CAF_CHECK(send_msg(bytes{0x05, 0x02}).empty());
}

CAF_TEST(malformed login message) {
  CAF_CHECK(send_msg(bytes{0x02, 0x01, 'a'}) == (bytes{0x05, 0x02}));
  CAF_CHECK_EQUAL(tx.closes, 1);
}

CAF_TEST(a socks user cannot log in) {
  CAF_CHECK(login("demo", "secret") == (bytes{0x05, 0x01}));
}

CAF_TEST(list users) {
  login();
  auto reply = send_msg(bytes{0x05, 0x01});
  auto names = mgr::parse_list_reply(reply.data(), reply.size());
  CAF_REQUIRE(names);
  CAF_CHECK(*names == (std::vector<std::string>{"demo", "root"}));
}

CAF_TEST(add user then duplicate) {
  login();
  CAF_CHECK(send_msg(mgr::encode_request({0x00, {"newbie", "pw"}, 0}))
            == (bytes{0x05, 0x00, 0x00}));
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"newbie"}, std::string{"pw"},
                          uint8_t{config::role_socks}));
  auto again = sys.spawn(manager_session, net::assoc_id{101},
                         *net::ip_endpoint::parse("127.0.0.1:9"), deps());
  consume_all();
  msess = again;
  login();
  auto r = send_msg(mgr::encode_request({0x00, {"newbie", "pw"}, 0}));
  CAF_REQUIRE_EQUAL(r.size(), 3u);
  CAF_CHECK_EQUAL(r[1], 0x00);
  CAF_CHECK_NOT_EQUAL(r[2], 0x00);
}

CAF_TEST(delete user and change password) {
  // One request per association: a fresh session for each.
  auto next = [&](net::assoc_id id) {
    msess = sys.spawn(manager_session, id, *net::ip_endpoint::parse("127.0.0.1:9"),
                      deps());
    consume_all();
    CAF_REQUIRE(login() == (bytes{0x05, 0x00}));
  };
  auto passwd = [](std::string user, std::string pw) {
    return mgr::encode_request({0x05, {std::move(user), std::move(pw)}, 0});
  };
  auto del = [](std::string user) {
    return mgr::encode_request({0x04, {std::move(user), {}}, 0});
  };
  login();
  CAF_CHECK(send_msg(passwd("demo", "n3w")) == (bytes{0x05, 0x05, 0x00}));
  CAF_CHECK_EQUAL(tx.closes, 1);
  CAF_CHECK(!request<bool>(reg, auth_atom_v, std::string{"demo"},
                           std::string{"secret"}, uint8_t{config::role_socks}));
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"}, std::string{"n3w"},
                          uint8_t{config::role_socks}));
  next(101);
  CAF_CHECK(send_msg(passwd("ghost", "x")) == (bytes{0x05, 0x05, 0x08}));
  next(102);
  CAF_CHECK(send_msg(del("root")) == (bytes{0x05, 0x04, 0x09}));
  next(103);
  CAF_CHECK(send_msg(del("demo")) == (bytes{0x05, 0x04, 0x00}));
  CAF_CHECK(!request<bool>(reg, exists_atom_v, std::string{"demo"},
                           uint8_t{config::role_socks}));
  next(104);
  CAF_CHECK(send_msg(del("demo")) == (bytes{0x05, 0x04, 0x08}));
  next(105);
  // A delete carrying a password is malformed.
  CAF_CHECK(send_msg(bytes{0x05, 0x04, 0x01, 'x', 0x01, 'y'}) == (bytes{0x05, 0x04, 0x02}));
}

CAF_TEST(a manager association that does not log in is closed) {
  sched.advance_time(admin_login_deadline);
  consume_all();
  CAF_CHECK_EQUAL(tx.closed.count(100), 1u);
  CAF_CHECK(login().empty());
}

CAF_TEST(a locked address cannot log in over the manager protocol) {
  for (int i = 0; i < 4; ++i) {
    msess = sys.spawn(manager_session, net::assoc_id{200u + i},
                      *net::ip_endpoint::parse("127.0.0.1:9"), deps());
    CAF_CHECK(login("root", "wrong") == (bytes{0x05, 0x01}));
  }
  msess = sys.spawn(manager_session, net::assoc_id{210},
                    *net::ip_endpoint::parse("127.0.0.1:9"), deps());
  CAF_CHECK(login() == (bytes{0x05, 0x01}));
  sched.advance_time(std::chrono::seconds{1});
  msess = sys.spawn(manager_session, net::assoc_id{211},
                    *net::ip_endpoint::parse("127.0.0.1:9"), deps());
  CAF_CHECK(login() == (bytes{0x05, 0x00}));
}

CAF_TEST(max clients) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x03, 0x04, 0x00, 0x00, 0x00, 0x07})
            == (bytes{0x05, 0x03, 0x00}));
  CAF_CHECK_EQUAL(request<session_settings>(set, get_atom_v).max_clients, 7u);
}

CAF_TEST(max clients zero is refused) {
  login();
  auto r = send_msg(bytes{0x05, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00});
  CAF_REQUIRE_EQUAL(r.size(), 3u);
  CAF_CHECK_NOT_EQUAL(r[2], 0x00);
}

CAF_TEST(malformed and unknown requests get a nonzero status) {
  login();
  auto r = send_msg(bytes{0x05, 0x03, 0x02, 0x00, 0x07});
  CAF_CHECK(r == (bytes{0x05, 0x03, 0x02}));
  CAF_CHECK_EQUAL(tx.closes, 1);
}

CAF_TEST(unknown command) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x7F}) == (bytes{0x05, 0x7F, 0x03}));
}

CAF_TEST(reload answers with the outcome of the main thread) {
  login();
  // No reply until the main thread has reloaded; it was rung once.
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty());
  CAF_CHECK_EQUAL(rings, 1);
  self->send(desk, reload_outcome{true, "reloaded p.ini"});
  consume_all();
  CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
  CAF_CHECK(tx.sent[0] == mgr::encode_reload_reply(mgr::status::ok, "reloaded p.ini"));
  CAF_CHECK_EQUAL(tx.closes, 1);
}

CAF_TEST(a failed reload names the file and line) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty());
  self->send(desk, reload_outcome{false, "p.ini:3: key 'rule': bad"});
  consume_all();
  CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
  auto r = mgr::parse_reload_reply(tx.sent[0].data(), tx.sent[0].size());
  CAF_REQUIRE(r);
  CAF_CHECK(r->st == mgr::status::invalid_config);
  CAF_CHECK_EQUAL(r->text, "p.ini:3: key 'rule': bad");
}

CAF_TEST(reloads are serialized and a request waits for a reload that starts after it) {
  auto open = [&](net::assoc_id id) {
    auto s = sys.spawn(manager_session, id, *net::ip_endpoint::parse("127.0.0.1:9"),
                       deps());
    consume_all();
    msess = s;
    CAF_REQUIRE(login() == (bytes{0x05, 0x00}));
  };
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty()); // the first reload starts
  open(101);
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty()); // waits for the next one
  open(102);
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty()); // shares the next one
  CAF_CHECK_EQUAL(rings, 1);
  tx.sent.clear();
  self->send(desk, reload_outcome{true, "first"});
  consume_all();
  CAF_CHECK_EQUAL(rings, 2); // the next reload starts at once
  CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
  CAF_CHECK(tx.sent[0] == mgr::encode_reload_reply(mgr::status::ok, "first"));
  tx.sent.clear();
  self->send(desk, reload_outcome{true, "second"});
  consume_all();
  CAF_CHECK_EQUAL(rings, 2);
  CAF_REQUIRE_EQUAL(tx.sent.size(), 2u);
  CAF_CHECK(tx.sent[0] == mgr::encode_reload_reply(mgr::status::ok, "second"));
  CAF_CHECK(tx.sent[1] == mgr::encode_reload_reply(mgr::status::ok, "second"));
  // An outcome nobody asked for (a late one) changes nothing.
  self->send(desk, reload_outcome{true, "stray"});
  consume_all();
  CAF_CHECK_EQUAL(rings, 2);
}

CAF_TEST(reload without an outcome in time is a server error) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x06}).empty());
  sched.advance_time(reload_timeout);
  consume_all();
  CAF_REQUIRE_EQUAL(tx.sent.size(), 1u);
  auto r = mgr::parse_reload_reply(tx.sent[0].data(), tx.sent[0].size());
  CAF_REQUIRE(r);
  CAF_CHECK(r->st == mgr::status::server_error);
  CAF_CHECK_EQUAL(tx.closed.count(100), 1u);
  // The late outcome reaches no one (and frees the desk's promise).
  tx.sent.clear();
  self->send(desk, reload_outcome{true, "late"});
  consume_all();
  CAF_CHECK(tx.sent.empty());
}

CAF_TEST(reload with data is malformed and before login it is no login) {
  CAF_CHECK(send_msg(bytes{0x05, 0x06}) == (bytes{0x05, 0x02}));
  msess = sys.spawn(manager_session, net::assoc_id{101},
                    *net::ip_endpoint::parse("127.0.0.1:9"), deps());
  consume_all();
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x06, 0x00}) == (bytes{0x05, 0x06, 0x02}));
  CAF_CHECK_EQUAL(rings, 0);
}

CAF_TEST(trailing bytes after list) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x01, 0x00}) == (bytes{0x05, 0x01, 0x02}));
}

CAF_TEST_FIXTURE_SCOPE_END()
