// Tier (b): the SPCP admin session under CAF's test coordinator, with a fake
// SCTP transport that records replies.
#define CAF_SUITE admin_session
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include "actors/services.hpp"
#include "actors/session.hpp"
#include "admin/admin_session.hpp"

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
  void close(net::assoc_id) override { ++closes; }
  void stop() override {}

  std::vector<bytes> sent;
  int closes = 0;
};

bytes req(spcp::cmd c, std::vector<std::string> args = {}) {
  return admin::encode_spcp_request(static_cast<uint8_t>(c), args);
}

struct fixture : test_coordinator_fixture<> {
  fixture() {
    auto hash = config::hash_password("secret");
    CAF_REQUIRE(hash);
    std::vector<config::user_entry> users{{"root", config::role_admin, *hash},
                                          {"demo", config::role_socks, *hash}};
    hashers.push_back(sys.spawn(hasher));
    reg = sys.spawn(registry, users, hashers, registry_config{}, persister_actor{});
    met = sys.spawn(metrics);
    set = sys.spawn(px::settings, session_settings{}, acceptor_actor{});
    sess = sys.spawn(spcp_session, net::assoc_id{1},
                     *net::ip_endpoint::parse("127.0.0.1:9"),
                     admin_deps{&tx, reg, met, set});
    consume_all();
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
  caf::actor sess;
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
    msess = sys.spawn(manager_session, net::assoc_id{2},
                      *net::ip_endpoint::parse("127.0.0.1:9"),
                      admin_deps{&tx, reg, met, set});
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
  auto again = sys.spawn(manager_session, net::assoc_id{3},
                         *net::ip_endpoint::parse("127.0.0.1:9"),
                         admin_deps{&tx, reg, met, set});
  consume_all();
  msess = again;
  login();
  auto r = send_msg(mgr::encode_request({0x00, {"newbie", "pw"}, 0}));
  CAF_REQUIRE_EQUAL(r.size(), 3u);
  CAF_CHECK_EQUAL(r[1], 0x00);
  CAF_CHECK_NOT_EQUAL(r[2], 0x00);
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

CAF_TEST(trailing bytes after list) {
  login();
  CAF_CHECK(send_msg(bytes{0x05, 0x01, 0x00}) == (bytes{0x05, 0x01, 0x02}));
}

CAF_TEST_FIXTURE_SCOPE_END()
