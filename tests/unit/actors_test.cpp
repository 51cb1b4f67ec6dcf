// Tier (b): the session, acceptor, registry and metrics actors driven
// message by message under CAF's test coordinator, with a fake reactor that
// records every command.
#define CAF_SUITE actors
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include "actors/acceptor.hpp"
#include "actors/access_log.hpp"
#include "actors/admission.hpp"
#include "actors/hasher.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/persister.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "actors/settings.hpp"
#include "config/config.hpp"
#include "config/users.hpp"
#include "tests/unit/fake_io.hpp"

using namespace px;
using namespace px::test;

namespace {

struct access_sink_state {
  static inline const char* name = "access-sink";
  std::vector<access_record> records;
};

access_log_actor::behavior_type
access_sink(access_log_actor::stateful_pointer<access_sink_state> self) {
  return {
    [=](access_record& rec) { self->state.records.push_back(std::move(rec)); },
    [=](flush_atom) { return uint64_t{self->state.records.size()}; },
    [=](reopen_atom, access_log_spec&) { return std::string{}; },
  };
}

struct logins_box_state {
  static inline const char* name = "logins-box";
  std::vector<std::shared_ptr<const verified_logins>> got;
};

/// Collects what the registry publishes.
logins_sink::behavior_type
logins_box(logins_sink::stateful_pointer<logins_box_state> self) {
  return {
    [=](logins_update& u) { self->state.got.push_back(std::move(u.logins)); },
  };
}

/// Lines in the file at `path`.
size_t line_count(const std::string& path) {
  std::ifstream in{path};
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

socks5::credentials creds(std::string user, std::string password) {
  return socks5::credentials{std::move(user), std::move(password)};
}

struct fixture : test_coordinator_fixture<> {
  fixture() {
    auto hash = config::hash_password("demo");
    CAF_REQUIRE(hash);
    std::vector<config::user_entry> users{plain_entry("demo", config::role_socks, *hash),
                                          plain_entry("boss", config::role_admin, *hash)};
    hashers.push_back(sys.spawn(hasher));
    registry_config rc;
    rc.accounts = accounts;
    rc.io = &io;
    reg = sys.spawn(registry, users, hashers, rc, persister_actor{});
    met = sys.spawn(metrics, nullptr);
    sink = sys.spawn(access_sink);
    deps = session_deps{&io, reg, met, sink, accounts};
    desk = std::make_shared<admission_desk>(sys, deps);
    consume_all();
  }

  ~fixture() override {
    // The base class runs the scheduler again in its destructor: let
    // sessions finish while the fake reactor still exists.
    run();
  }

  /// Runs every pending message without firing timeouts.
  void consume_all() {
    while (consume_message())
      ; // nop
  }

  /// Publishes `settings` and `logins` to the desk, as the acceptor does.
  void publish() {
    desk->publish(admission_policy::make(settings, logins, acceptor_actor{}));
  }

  /// A loop accepted client `id`: the desk's verdict (handlers of admitted
  /// clients go where `at` finds them).
  net::admission admit(net::conn_id id, std::string peer = "127.0.0.1:5555",
                       std::string listener = "127.0.0.1:1080") {
    auto adm = desk->on_accepted(id, *net::ip_endpoint::parse(peer),
                                 *net::ip_endpoint::parse(listener));
    if (adm.handler)
      io.handlers[id] = adm.handler;
    consume_all();
    return adm;
  }

  /// Admits a client under the current settings; returns its plan.
  net::handshake_plan start(net::conn_id id = 7) {
    publish();
    auto adm = admit(id);
    CAF_REQUIRE(adm.what == net::admission::verdict::own);
    CAF_REQUIRE(adm.handler && adm.plan);
    // The session is spawned lazily and asked nothing yet.
    CAF_REQUIRE(io.take().empty());
    return *adm.plan;
  }

  net::conn_handler& at(net::conn_id id = 7) {
    return *io.handlers.at(id);
  }

  /// The reactor reports credentials; returns the commands that follow
  /// (none when the handler granted the login itself: `granted`).
  std::vector<command> login(std::string user, std::string password,
                             net::conn_id id = 7) {
    granted = at(id).on_credentials(id, creds(std::move(user), std::move(password)),
                                    io.grants[id]);
    consume_all();
    return io.take();
  }

  /// The reactor reports the close (and counts it as owned_closed).
  void closed(net::close_stats stats, net::conn_id id = 7) {
    ++io.closed;
    at(id).on_closed(id, std::move(stats));
    consume_all();
  }

  static net::close_stats stats(uint64_t up, uint64_t down, net::close_reason why,
                                bool relayed = false) {
    net::close_stats st;
    st.bytes_up = up;
    st.bytes_down = down;
    st.reason = why;
    st.relayed = relayed;
    return st;
  }

  metrics_snapshot snapshot() {
    return request<metrics_snapshot>(met, get_atom_v);
  }

  std::vector<access_record>& records() {
    return deref<access_log_actor::stateful_base<access_sink_state>>(sink)
      .state.records;
  }

  /// Publishes an account for `user` (as the registry does for its users).
  std::shared_ptr<net::account> add_account(const std::string& user) {
    auto m = std::make_shared<account_map>(*accounts->current());
    auto acct = std::make_shared<net::account>(user);
    m->by_name[user] = acct;
    accounts->publish(m);
    return acct;
  }

  fake_io io;
  /// The users' accounts (the registry publishes them).
  std::shared_ptr<account_board> accounts = std::make_shared<account_board>();
  std::shared_ptr<admission_desk> desk;
  bool granted = false;
  std::vector<hasher_actor> hashers;
  registry_actor reg;
  metrics_actor met;
  access_log_actor sink;
  session_deps deps;
  session_settings settings;
  std::shared_ptr<const verified_logins> logins;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(session_tests, fixture)

CAF_TEST(the plan follows the settings) {
  using cm = config::auth_mode;
  settings.auth = cm::userpass;
  settings.handshake_timeout_ms = 1500;
  settings.connect_timeout_ms = 2500;
  settings.buffer_size = 4096;
  settings.rules = std::make_shared<const net::rule_set>(
    std::vector<net::cidr>{*net::cidr::parse("10.0.0.0/8")}, std::vector<net::rule>{},
    net::rule_action::pass);
  settings.transform = "tr a-z A-Z";
  auto p = session_state::plan_for(settings);
  CAF_CHECK(p.userpass && !p.no_auth);
  CAF_CHECK_EQUAL(p.deadline.count(), 1500);
  CAF_CHECK_EQUAL(p.connect_timeout.count(), 2500);
  CAF_CHECK(p.rules == settings.rules); // shared, not copied
  CAF_CHECK(p.outbound == nullptr);
  auto table = std::make_shared<net::outbound_table>();
  table->fallback.address4 = net::ip_endpoint::parse("192.0.2.10", 0);
  settings.outbound = table;
  CAF_CHECK(session_state::plan_for(settings).outbound == settings.outbound);
  CAF_CHECK_EQUAL(p.relay.buffer_size, 4096u);
  CAF_CHECK_EQUAL(p.relay.transform, "tr a-z A-Z");
  settings.auth = cm::none;
  p = session_state::plan_for(settings);
  CAF_CHECK(!p.userpass && p.no_auth);
  settings.auth = cm::any;
  p = session_state::plan_for(settings);
  CAF_CHECK(p.userpass && p.no_auth);
}

CAF_TEST(connect errors map to distinct reply codes) {
  using ce = net::connect_error;
  using rep = socks5::reply;
  CAF_CHECK(session_state::reply_for(ce::refused) == rep::connection_refused);
  CAF_CHECK(session_state::reply_for(ce::network_unreachable) == rep::network_unreachable);
  CAF_CHECK(session_state::reply_for(ce::host_unreachable) == rep::host_unreachable);
  CAF_CHECK(session_state::reply_for(ce::name_not_found) == rep::host_unreachable);
  CAF_CHECK(session_state::reply_for(ce::timeout) == rep::ttl_expired);
  CAF_CHECK(session_state::reply_for(ce::denied) == rep::not_allowed);
  CAF_CHECK(session_state::reply_for(socks5::codec_error::bad_command)
            == rep::command_not_supported);
  CAF_CHECK(session_state::reply_for(socks5::codec_error::bad_address_type)
            == rep::address_type_not_supported);
}

CAF_TEST(a connect session from credentials to the access log) {
  start();
  auto cmds = login("demo", "demo");
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::authenticated);
  CAF_CHECK(cmds[0].plan.userpass); // ok
  // The reactor ran the CONNECT under the plan and reports it at the close.
  auto st = stats(100, 2000, net::close_reason::done, true);
  st.has_target = true;
  st.target.type = socks5::atyp::domain;
  st.target.domain = "localhost";
  st.target.ip.port = 8080;
  st.remote = *net::ip_endpoint::parse("127.0.0.1:8080");
  st.handshake_time = std::chrono::milliseconds{30};
  st.connect = net::connect_result::succeeded;
  st.connect_time = std::chrono::milliseconds{2};
  // Closes reach sessions in batches: the duration ends at the close.
  st.closed_at = sys.clock().now() + std::chrono::milliseconds{1500};
  closed(st);
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  auto& rec = records()[0];
  CAF_CHECK_EQUAL(rec.duration_ms, 1500);
  CAF_CHECK_EQUAL(rec.user, "demo");
  CAF_CHECK_EQUAL(rec.result, "ok");
  CAF_CHECK_EQUAL(rec.bytes_up, 100u);
  CAF_CHECK_EQUAL(rec.bytes_down, 2000u);
  CAF_CHECK_EQUAL(rec.destination, "localhost:8080 (127.0.0.1:8080)");
  CAF_CHECK_EQUAL(rec.client, "127.0.0.1:5555");
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.auth_failures, 0u);
  // The reactor's durations reach the histograms (buckets 25-50 ms, 1-2.5 ms).
  CAF_CHECK_EQUAL(m.handshake_durations.count(), 1u);
  CAF_CHECK_EQUAL(m.handshake_durations.counts[6], 1u);
  CAF_CHECK_EQUAL(m.handshake_durations.sum_ns, 30000000u);
  CAF_CHECK_EQUAL(m.connect_succeeded_durations.counts[2], 1u);
  CAF_CHECK_EQUAL(m.connect_failed_durations.count(), 0u);
}

CAF_TEST(a returning user is granted on the loop from the published logins) {
  // "ghost" is unknown to the registry: only the published value can
  // accept it, so acceptance proves the registry was not asked.
  auto v = std::make_shared<verified_logins>();
  v->key[0] = 42;
  v->users["ghost"] = {config::role_socks, login_digest(v->key, "ghost", "pw")};
  logins = v;
  add_account("ghost");
  start();
  auto cmds = login("ghost", "pw");
  CAF_CHECK(granted);
  CAF_CHECK(cmds.empty()); // the session was not asked
  closed(stats(0, 0, net::close_reason::done));
  CAF_CHECK_EQUAL(records().at(0).user, "ghost");
  // A wrong password, or a role the user lacks, goes to the registry.
  start(8);
  cmds = login("ghost", "nope", 8);
  CAF_CHECK(!granted);
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::authenticated);
  CAF_CHECK(!cmds[0].plan.userpass);
  CAF_CHECK(!v->check("ghost", "pw", config::role_admin));
  // Once the acceptor publishes a new value (a reload), a handler holding
  // a weak reference to the old one no longer uses it.
  start(9);
  logins.reset();
  v.reset();
  publish();
  cmds = login("ghost", "pw", 9);
  CAF_CHECK(!granted);
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(!cmds[0].plan.userpass);
}

CAF_TEST(a wrong password is refused and counted) {
  start();
  auto cmds = login("demo", "nope");
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::authenticated);
  CAF_CHECK(!cmds[0].plan.userpass);
  closed(stats(0, 0, net::close_reason::requested));
  CAF_CHECK_EQUAL(snapshot().auth_failures, 1u);
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].result, "auth-failed");
  CAF_CHECK_EQUAL(records()[0].user, "-");
}

CAF_TEST(an admin-only user cannot use socks) {
  start();
  auto cmds = login("boss", "demo");
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(!cmds[0].plan.userpass);
}

CAF_TEST(malformed handshakes get the right reply) {
  using hs = net::handshake_stage;
  using ce = socks5::codec_error;
  struct expect {
    hs stage;
    ce error;
    bytes reply;
    const char* result;
  };
  std::vector<expect> cases{
    {hs::method, ce::none, {0x05, 0xFF}, "no-acceptable-method"},
    {hs::greeting, ce::no_methods, {0x05, 0xFF}, "no-acceptable-method"},
    {hs::greeting, ce::bad_version, {}, "bad-greeting:bad-version"},
    {hs::credentials, ce::empty_credentials, {0x01, 0x01}, "bad-auth:empty-credentials"},
    {hs::request, ce::bad_address_type, {0x05, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0},
     "bad-request:bad-address-type"},
    {hs::request, ce::bad_command, {0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0},
     "bad-request:bad-command"},
  };
  net::conn_id id = 20;
  for (auto& x : cases) {
    CAF_MESSAGE("stage " << static_cast<int>(x.stage) << ": " << x.result);
    start(id);
    at(id).on_handshake_failed(id, x.stage, x.error);
    consume_all();
    auto cmds = io.take();
    CAF_REQUIRE_EQUAL(cmds.size(), 1u);
    CAF_CHECK_EQUAL(cmds[0].kind, command::send);
    CAF_CHECK(cmds[0].data == x.reply);
    CAF_CHECK(cmds[0].next == net::after::close);
    closed(stats(0, 0, net::close_reason::requested), id);
    CAF_CHECK_EQUAL(records().back().result, x.result);
    ++id;
  }
  // Every malformed message counts; a client without an acceptable method
  // did nothing wrong.
  CAF_CHECK_EQUAL(snapshot().protocol_errors, 5u);
}

CAF_TEST(bind sends two replies and relays) {
  settings.auth = config::auth_mode::none;
  start();
  socks5::request req{socks5::command::bind,
                      socks5::address::from(*net::ip_endpoint::parse("10.0.0.5:21"))};
  at().on_request(7, req);
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::bind);
  CAF_CHECK_EQUAL(cmds[0].target.to_string(), "10.0.0.5:21");
  at().on_bound(7, *net::ip_endpoint::parse("127.0.0.1:5000"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  // First reply: where to connect (127.0.0.1:5000 = 0x1388).
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x13, 0x88}));
  CAF_CHECK(cmds[0].next == net::after::hold);
  at().on_connected(7, *net::ip_endpoint::parse("127.0.0.1:5000"),
                    *net::ip_endpoint::parse("10.0.0.5:40001"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::start_relay);
  // Second reply: the peer that connected (10.0.0.5:40001 = 0x9C41).
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 10, 0, 0, 5, 0x9C, 0x41}));
  CAF_CHECK_EQUAL(cmds[0].opts.buffer_size, settings.buffer_size);
  closed(stats(5, 6, net::close_reason::done, true));
  CAF_CHECK_EQUAL(records().at(0).destination, "bind:10.0.0.5:21 (peer 10.0.0.5:40001)");
  CAF_CHECK_EQUAL(records().at(0).result, "ok");
  auto m = snapshot(); // (CAF_CHECK_EQUAL binds a reference: no temporaries)
  CAF_CHECK_EQUAL(m.replies[0], 1u);
}

CAF_TEST(bind timeout sends ttl expired) {
  settings.auth = config::auth_mode::none;
  start();
  at().on_request(7, socks5::request{socks5::command::bind,
                                     socks5::address::from(
                                       *net::ip_endpoint::parse("10.0.0.5:21"))});
  consume_all();
  io.take();
  at().on_connect_failed(7, net::connect_error::timeout);
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].data[1], 0x06);
  CAF_CHECK(cmds[0].next == net::after::close);
}

CAF_TEST(udp associate replies with the relay address) {
  settings.auth = config::auth_mode::none;
  start();
  at().on_request(7, socks5::request{socks5::command::udp_associate,
                                     socks5::address::from(
                                       *net::ip_endpoint::parse("127.0.0.1:12345"))});
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::udp);
  CAF_CHECK_EQUAL(cmds[0].target.to_string(), "127.0.0.1:12345");
  at().on_connected(7, *net::ip_endpoint::parse("127.0.0.1:7000"),
                    *net::ip_endpoint::parse("127.0.0.1:12345"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::start_relay);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x1B, 0x58}));
  closed(stats(30, 40, net::close_reason::done, true));
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].destination, "udp:127.0.0.1:12345");
  CAF_CHECK_EQUAL(records()[0].bytes_up, 30u);
}

CAF_TEST(udp and bind replies name the advertised address with the real port) {
  settings.auth = config::auth_mode::none;
  settings.udp_advertise = *net::ip_endpoint::parse("203.0.113.5", 0);
  settings.bind_advertise = *net::ip_endpoint::parse("2001:db8::5", 0);
  start();
  at().on_request(7, socks5::request{socks5::command::udp_associate, {}});
  consume_all();
  io.take();
  at().on_connected(7, *net::ip_endpoint::parse("10.0.0.1:7000"),
                    *net::ip_endpoint::parse("127.0.0.1:12345"));
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 203, 0, 113, 5, 0x1B, 0x58}));
  start(8);
  at(8).on_request(8, socks5::request{socks5::command::bind,
                                      socks5::address::from(
                                        *net::ip_endpoint::parse("10.0.0.5:21"))});
  consume_all();
  io.take();
  at(8).on_bound(8, *net::ip_endpoint::parse("10.0.0.1:5000"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  auto first = bytes{0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8};
  first.insert(first.end(), 11, 0); // 2001:db8::5
  first.insert(first.end(), {0x05, 0x13, 0x88});
  CAF_CHECK(cmds[0].data == first);
}

CAF_TEST(the own advertised addresses of a listener come before the socks keys) {
  settings.udp_advertise = *net::ip_endpoint::parse("203.0.113.5", 0);
  settings.bind_advertise = *net::ip_endpoint::parse("203.0.113.6", 0);
  config::listener_advertise own;
  own.listen = *net::ip_endpoint::parse("0.0.0.0:1081");
  own.udp = *net::ip_endpoint::parse("198.51.100.1", 0);
  settings.per_listener.push_back(own);
  auto pick = [&](const char* listener, bool udp) {
    return session_state::advertise_for(settings, *net::ip_endpoint::parse(listener), udp)
      .host_string();
  };
  CAF_CHECK_EQUAL(pick("0.0.0.0:1081", true), "198.51.100.1");
  // That listener sets no BIND address: the [socks] key's.
  CAF_CHECK_EQUAL(pick("0.0.0.0:1081", false), "203.0.113.6");
  // Another listener (same address, another port): the [socks] keys'.
  CAF_CHECK_EQUAL(pick("0.0.0.0:1080", true), "203.0.113.5");
}

CAF_TEST(a failed connect sends the matching reply) {
  settings.auth = config::auth_mode::none;
  start();
  // The reactor ran the CONNECT under the plan; it failed.
  at().on_connect_failed(7, net::connect_error::refused);
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  CAF_CHECK(cmds[0].next == net::after::close);
  auto st = stats(0, 0, net::close_reason::requested);
  st.has_target = true;
  st.target = socks5::address::from(*net::ip_endpoint::parse("127.0.0.1:1"));
  st.connect = net::connect_result::failed;
  st.connect_time = std::chrono::seconds{3};
  closed(st);
  CAF_CHECK_EQUAL(records().at(0).result, "connect-refused");
  CAF_CHECK_EQUAL(records().at(0).destination, "127.0.0.1:1");
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.replies[5], 1u);
  CAF_CHECK_EQUAL(m.handshake_durations.count(), 1u);
  CAF_CHECK_EQUAL(m.connect_succeeded_durations.count(), 0u);
  CAF_CHECK_EQUAL(m.connect_failed_durations.counts[12], 1u); // (2.5 s, 5 s]
}

CAF_TEST(a handshake timeout is counted and logged) {
  start();
  closed(stats(0, 0, net::close_reason::handshake_timeout));
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.handshake_timeouts, 1u);
  // No request was parsed: no duration is observed.
  CAF_CHECK_EQUAL(m.handshake_durations.count(), 0u);
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].result, "handshake-timeout");
}

CAF_TEST(a client gone mid-handshake is logged with its phase) {
  start();
  net::login_grant g;
  at().on_credentials(7, creds("demo", "demo"), g);
  // The client leaves while the registry checks (nothing consumed yet).
  closed(stats(0, 0, net::close_reason::client_gone));
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].result, "closed-in-authenticating");
}

CAF_TEST(the registry publishes verified logins) {
  auto box = sys.spawn(logins_box);
  self->send(reg, logins_sink{box});
  consume_all();
  auto& got = deref<logins_sink::stateful_base<logins_box_state>>(box).state.got;
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0]->users.empty()); // nothing verified yet
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"},
                          std::string{"demo"}, uint8_t{config::role_socks}));
  // Published after a short delay that coalesces a burst of first logins.
  trigger_timeouts();
  consume_all();
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK(got[1]->check("demo", "demo", config::role_socks));
  CAF_CHECK(!got[1]->check("demo", "wrong", config::role_socks));
  CAF_CHECK(!got[1]->check("demo", "demo", config::role_admin));
  // A reload that drops the user publishes at once.
  self->send(reg, reload_atom_v, std::vector<config::user_entry>{});
  consume_all();
  CAF_REQUIRE_EQUAL(got.size(), 3u);
  CAF_CHECK(!got[2]->check("demo", "demo", config::role_socks));
  caf::anon_send_exit(box, caf::exit_reason::user_shutdown);
}

CAF_TEST(the registry caches a verified password but not a wrong one) {
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"},
                          std::string{"demo"}, uint8_t{config::role_socks}));
  auto& st = deref<registry_actor::stateful_base<registry_state>>(reg).state;
  CAF_CHECK(st.users.at("demo").has_verified);
  CAF_CHECK(!request<bool>(reg, auth_atom_v, std::string{"demo"},
                           std::string{"wrong"}, uint8_t{config::role_socks}));
  CAF_CHECK(!request<bool>(reg, auth_atom_v, std::string{"ghost"},
                           std::string{"demo"}, uint8_t{config::role_socks}));
  CAF_CHECK(!request<bool>(reg, auth_atom_v, std::string{"demo"},
                           std::string{"demo"}, uint8_t{config::role_admin}));
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"boss"},
                          std::string{"demo"}, uint8_t{config::role_admin}));
  auto names = request<std::vector<std::string>>(reg, list_atom_v);
  CAF_CHECK(names == (std::vector<std::string>{"boss", "demo"}));
}

CAF_TEST(concurrent checks of the same credentials share one hash) {
  // A hasher that counts its work (the real one is yescrypt: milliseconds).
  auto calls = std::make_shared<int>(0);
  auto counting = sys.spawn([calls]() -> hasher_actor::behavior_type {
    return {
      [calls](verify_atom, const std::string& password, const std::string&) {
        ++*calls;
        return password == "demo";
      },
      [](hash_atom, const std::string&) { return std::string{}; },
    };
  });
  auto hash = config::hash_password("demo");
  CAF_REQUIRE(hash);
  std::vector<config::user_entry> users{plain_entry("demo", config::role_socks, *hash),
                                        plain_entry("boss", config::role_admin, *hash)};
  auto r = sys.spawn(registry, users, std::vector<hasher_actor>{counting},
                     registry_config{}, persister_actor{});
  consume_all();
  // Six logins arrive before any hash finishes: three share demo/demo (one
  // of them asks for a role demo lacks), two share demo/wrong, one is boss.
  using req = std::tuple<std::string, std::string, uint8_t>;
  std::vector<req> logins{{"demo", "demo", config::role_socks},
                          {"demo", "demo", config::role_socks},
                          {"demo", "demo", config::role_admin},
                          {"demo", "wrong", config::role_socks},
                          {"demo", "wrong", config::role_socks},
                          {"boss", "demo", config::role_admin}};
  auto got = std::make_shared<std::vector<std::optional<bool>>>(logins.size());
  for (size_t i = 0; i < logins.size(); ++i) {
    auto [user, password, role] = logins[i];
    sys.spawn([=](caf::event_based_actor* asker) {
      asker->request(r, caf::infinite, auth_atom_v, user, password, role)
        .then([got, i](bool ok) { (*got)[i] = ok; });
    });
  }
  consume_all();
  CAF_CHECK_EQUAL(*calls, 3); // demo/demo, demo/wrong, boss/demo
  std::vector<std::optional<bool>> want{true, true, false, false, false, true};
  CAF_CHECK(*got == want);
  // Afterwards demo/demo is cached: no hash at all.
  CAF_CHECK(request<bool>(r, auth_atom_v, std::string{"demo"}, std::string{"demo"},
                          uint8_t{config::role_socks}));
  CAF_CHECK_EQUAL(*calls, 3);
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(counting, caf::exit_reason::user_shutdown);
}

CAF_TEST(a reload replaces users and drops stale cache entries) {
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"},
                          std::string{"demo"}, uint8_t{config::role_socks}));
  auto other = config::hash_password("new");
  CAF_REQUIRE(other);
  self->send(reg, reload_atom_v,
             std::vector<config::user_entry>{plain_entry("demo", config::role_socks, *other)});
  consume_all();
  CAF_CHECK(!request<bool>(reg, auth_atom_v, std::string{"demo"},
                           std::string{"demo"}, uint8_t{config::role_socks}));
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"},
                          std::string{"new"}, uint8_t{config::role_socks}));
}

CAF_TEST(adding users ok duplicate invalid limit in memory) {
  auto add = [&](std::string name, std::string pw) {
    return request<add_result>(reg, add_atom_v, std::move(name), std::move(pw),
                               uint8_t{config::role_socks});
  };
  CAF_CHECK(add("carol", "pw") == add_result::ok);
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"carol"},
                          std::string{"pw"}, uint8_t{config::role_socks}));
  CAF_CHECK(add("carol", "other") == add_result::exists);
  CAF_CHECK(add("demo", "x") == add_result::exists);
  CAF_CHECK(add("bad:name", "x") == add_result::invalid);
  CAF_CHECK(add("dave", "") == add_result::invalid);
  auto& st = deref<registry_actor::stateful_base<registry_state>>(reg).state;
  st.cfg.max_users = 3; // boss, demo, carol
  CAF_CHECK(add("erin", "pw") == add_result::full);
  CAF_CHECK(st.pending.empty());
}

CAF_TEST(the first step of an add validates without side effects) {
  auto& st = deref<registry_actor::stateful_base<registry_state>>(reg).state;
  uint8_t socks = config::role_socks;
  CAF_CHECK(st.validate_add("carol", "pw", socks) == add_result::ok);
  CAF_CHECK(st.validate_add("carol", "pw", 0) == add_result::invalid);
  CAF_CHECK(st.validate_add("carol", "pw", 0x80) == add_result::invalid);
  CAF_CHECK(st.validate_add("bad name", "pw", socks) == add_result::invalid);
  CAF_CHECK(st.validate_add("demo", "pw", socks) == add_result::exists);
  st.pending["carol"] = plain_entry("carol", socks, {});
  CAF_CHECK(st.validate_add("carol", "pw", socks) == add_result::exists);
  st.pending.clear();
  st.cfg.max_users = 2; // boss, demo
  CAF_CHECK(st.validate_add("carol", "pw", socks) == add_result::full);
  CAF_CHECK(st.pending.empty());
  CAF_CHECK_EQUAL(st.users.size(), 2u);
}

CAF_TEST(a failed hash step answers and frees the name) {
  // A hasher that cannot hash (crypt failed): the add is invalid.
  auto broken = sys.spawn([]() -> hasher_actor::behavior_type {
    return {
      [](verify_atom, const std::string&, const std::string&) { return false; },
      [](hash_atom, const std::string&) { return std::string{}; },
    };
  });
  auto r = sys.spawn(registry, std::vector<config::user_entry>{},
                     std::vector<hasher_actor>{broken}, registry_config{},
                     persister_actor{});
  consume_all();
  CAF_CHECK(request<add_result>(r, add_atom_v, std::string{"carol"},
                                std::string{"pw"}, uint8_t{config::role_socks})
            == add_result::invalid);
  auto& st = deref<registry_actor::stateful_base<registry_state>>(r).state;
  CAF_CHECK(st.pending.empty());
  CAF_CHECK(st.users.empty());
  // A hasher that is gone: the request fails, the add is an I/O error.
  caf::anon_send_exit(broken, caf::exit_reason::user_shutdown);
  consume_all();
  CAF_CHECK(request<add_result>(r, add_atom_v, std::string{"carol"},
                                std::string{"pw"}, uint8_t{config::role_socks})
            == add_result::io_error);
  CAF_CHECK(st.pending.empty());
  CAF_CHECK(st.users.empty());
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
}

CAF_TEST(added users are written atomically and acknowledged after the write) {
  char dir[] = "/tmp/proxy-reg-XXXXXX";
  CAF_REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string{dir} + "/users.txt";
  auto pers = sys.spawn(persister);
  auto r2 = sys.spawn(registry, std::vector<config::user_entry>{}, hashers,
                      registry_config{path, 10}, pers);
  consume_all();
  // Two adds in flight at once: neither write may drop the other user.
  auto h1 = self->request(r2, caf::infinite, add_atom_v, std::string{"u1"},
                          std::string{"pw-one!"}, uint8_t{config::role_socks});
  auto h2 = self->request(r2, caf::infinite, add_atom_v, std::string{"u2"},
                          std::string{"p2"}, uint8_t{config::role_socks});
  run();
  int ok = 0;
  for (auto* h : {&h1, &h2})
    h->receive([&](add_result r) { ok += r == add_result::ok; },
               [&](caf::error&) {});
  CAF_CHECK_EQUAL(ok, 2);
  auto loaded = config::load_users(path);
  CAF_REQUIRE(std::holds_alternative<std::vector<config::user_entry>>(loaded));
  auto& users = std::get<std::vector<config::user_entry>>(loaded);
  CAF_REQUIRE_EQUAL(users.size(), 2u);
  CAF_CHECK_EQUAL(users[0].name, "u1");
  CAF_CHECK_EQUAL(users[1].name, "u2");
  // '-' and '!' are outside crypt's base64 alphabet: a clear-text leak only.
  CAF_CHECK(users[0].hash.find("pw-one!") == std::string::npos);
  CAF_CHECK(config::verify_password("pw-one!", users[0].hash));
  // An unwritable file: the add fails and the user does not exist.
  auto r3 = sys.spawn(registry, std::vector<config::user_entry>{}, hashers,
                      registry_config{"/nonexistent-dir/users.txt", 10}, pers);
  consume_all();
  CAF_CHECK(request<add_result>(r3, add_atom_v, std::string{"u3"}, std::string{"p3"},
                                uint8_t{config::role_socks})
            == add_result::io_error);
  CAF_CHECK(!request<bool>(r3, exists_atom_v, std::string{"u3"},
                           uint8_t{config::role_socks}));
  std::remove(path.c_str());
  rmdir(dir);
  for (auto& a : {caf::actor_cast<caf::actor>(r2), caf::actor_cast<caf::actor>(r3),
                  caf::actor_cast<caf::actor>(pers)})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST(metrics count events and traffic) {
  self->send(met, traffic{{10, 20, 0, 0, 3, 0}});
  self->send(met, traffic{{1, 2, 5, 2, 0, 1}});
  self->send(met, metric_event{metric::reply, 4});
  self->send(met, metric_event{metric::reply, 200}); // out of range: ignored
  consume_all();
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.bytes_up, 11u);
  CAF_CHECK_EQUAL(m.bytes_down, 22u);
  CAF_CHECK_EQUAL(m.udp_dropped, 5u);
  CAF_CHECK_EQUAL(m.accepted, 3u);
  CAF_CHECK_EQUAL(m.active, 2u);
  CAF_CHECK_EQUAL(m.replies[0], 2u);
  CAF_CHECK_EQUAL(m.replies[4], 1u);
}

CAF_TEST(the acceptor policy enforces max clients and the allow list) {
  using verdict = net::admission::verdict;
  settings.max_clients = 1;
  auto acc = sys.spawn(acceptor, settings, desk);
  consume_all();
  auto adm = admit(1);
  CAF_REQUIRE(adm.what == verdict::own);
  CAF_CHECK(adm.plan->userpass);
  CAF_CHECK(admit(2).what == verdict::refuse);
  CAF_CHECK_EQUAL(desk->active(), 1u);
  CAF_CHECK_EQUAL(snapshot().rejected_max_clients, 1u);
  // Raising the cap through the settings actor applies to the next client.
  auto set = sys.spawn(px::settings, settings, acc);
  consume_all();
  CAF_CHECK(request<bool>(set, maxcli_atom_v, uint64_t{2}));
  CAF_CHECK(!request<bool>(set, maxcli_atom_v, uint64_t{0}));
  CAF_CHECK(request<setting_change>(set, buffer_atom_v, uint64_t{10})
            == setting_change::out_of_range);
  CAF_CHECK(admit(3).what == verdict::own);
  // At the cap (2 open) the next one is refused; once one closes, admitted.
  CAF_CHECK(admit(4).what == verdict::refuse);
  closed(stats(0, 0, net::close_reason::client_gone), 1);
  CAF_CHECK(admit(5).what == verdict::own);
  CAF_CHECK_EQUAL(desk->active(), 2u);
  CAF_CHECK_EQUAL(desk->admitted(), 3u);
  // The acceptor publishes the newest verified logins.
  auto v = std::make_shared<verified_logins>();
  v->users["ghost"] = {config::role_socks, login_digest(v->key, "ghost", "pw")};
  self->send(acc, logins_update{v});
  add_account("ghost");
  consume_all();
  // A client outside allow_client is refused.
  settings.allow_clients = {*net::cidr::parse("10.0.0.0/8")};
  settings.max_clients = 100;
  self->send(acc, settings);
  consume_all();
  CAF_CHECK(admit(6).what == verdict::refuse);
  CAF_CHECK_EQUAL(snapshot().rejected_client_rule, 1u);
  settings.allow_clients = {*net::cidr::parse("127.0.0.0/8")};
  self->send(acc, settings);
  consume_all();
  CAF_CHECK(admit(7).what == verdict::own);
  CAF_CHECK(admit(8, "[::1]:4000").what == verdict::refuse);
  auto cmds = login("ghost", "pw");
  CAF_CHECK(granted); // from the value the acceptor published
  CAF_CHECK(cmds.empty());
  for (net::conn_id id : {3, 5, 7})
    closed(stats(0, 0, net::close_reason::client_gone), id);
  CAF_CHECK_EQUAL(desk->active(), 0u);
  caf::anon_send_exit(acc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(set, caf::exit_reason::user_shutdown);
}

CAF_TEST(the access log answers a flush after writing what came before) {
  char path[] = "/tmp/proxy-access-XXXXXX";
  int fd = mkstemp(path);
  CAF_REQUIRE(fd >= 0);
  auto alog = sys.spawn(access_log, fd, true, access_log_spec{path});
  access_record rec;
  rec.client = "127.0.0.1:1";
  rec.result = "ok";
  self->send(alog, rec);
  self->send(alog, rec);
  CAF_CHECK_EQUAL(request<uint64_t>(alog, flush_atom_v), 2u);
  CAF_CHECK_EQUAL(line_count(path), 2u);
  // Off (no file): nothing is written, the flush is answered all the same.
  auto off = sys.spawn(access_log, -1, false, access_log_spec{"off"});
  self->send(off, rec);
  CAF_CHECK_EQUAL(request<uint64_t>(off, flush_atom_v), 0u);
  caf::anon_send_exit(alog, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(off, caf::exit_reason::user_shutdown);
  run();
  std::remove(path);
}

CAF_TEST(once the census sees no session the access log holds every record) {
  // What the shutdown relies on: a session sends its record before it
  // quits, so a flush requested after the census reached zero is answered
  // only once every record is written.
  char path[] = "/tmp/proxy-access-XXXXXX";
  int fd = mkstemp(path);
  CAF_REQUIRE(fd >= 0);
  auto alog = sys.spawn(access_log, fd, true, access_log_spec{path});
  auto desk2 = std::make_shared<admission_desk>(
    sys, session_deps{&io, reg, met, alog, nullptr});
  desk2->publish(admission_policy::make(settings, nullptr, acceptor_actor{}));
  auto& census = desk2->census();
  auto peer = *net::ip_endpoint::parse("127.0.0.1:5555");
  auto h1 = desk2->on_accepted(1, peer, net::ip_endpoint{}).handler;
  auto h2 = desk2->on_accepted(2, peer, net::ip_endpoint{}).handler;
  CAF_REQUIRE(h1 && h2);
  consume_all();
  CAF_CHECK_EQUAL(census.live(), 2u);
  using clock = std::chrono::steady_clock;
  CAF_CHECK(!census.wait_until_none(clock::now()));
  h1->on_closed(1, stats(1, 2, net::close_reason::done));
  consume_all();
  CAF_CHECK_EQUAL(census.live(), 1u);
  CAF_CHECK_EQUAL(line_count(path), 1u);
  // Run only until the census sees the second session gone: its record is
  // queued at the access log, not written yet.
  h2->on_closed(2, stats(3, 4, net::close_reason::shutdown));
  while (census.live() > 0)
    CAF_REQUIRE(consume_message());
  CAF_CHECK(census.wait_until_none(clock::now()));
  CAF_CHECK_EQUAL(line_count(path), 1u);
  CAF_CHECK_EQUAL(request<uint64_t>(alog, flush_atom_v), 2u);
  CAF_CHECK_EQUAL(line_count(path), 2u);
  caf::anon_send_exit(alog, caf::exit_reason::user_shutdown);
  run();
  std::remove(path);
}

CAF_TEST(the census wakes a waiting thread when the last session ends) {
  using namespace std::chrono;
  session_census census;
  census.spawned();
  census.spawned();
  CAF_CHECK(!census.wait_until_none(steady_clock::now() + milliseconds{5}));
  auto waited = std::make_shared<bool>(false);
  auto t0 = steady_clock::now();
  std::thread waiter{[&census, waited] {
    *waited = census.wait_until_none(steady_clock::now() + seconds{30});
  }};
  census.ended();
  census.ended();
  waiter.join();
  CAF_CHECK(*waited);
  CAF_CHECK_EQUAL(census.live(), 0u);
  // Woken by the last end, not by the deadline.
  CAF_CHECK(steady_clock::now() - t0 < seconds{10});
}

CAF_TEST(access log lines never carry control characters) {
  access_record rec;
  rec.start_unix_ms = 0;
  rec.client = "1.2.3.4:5";
  rec.user = "evil\nuser";
  rec.destination = "x\r\n:80";
  rec.result = "ok";
  auto line = format_access_record(rec);
  CAF_CHECK(line.find('\n') == std::string::npos);
  CAF_CHECK(line.find('\r') == std::string::npos);
  CAF_CHECK_EQUAL(line, "1970-01-01T00:00:00.000Z client=1.2.3.4:5 user=evil?user "
                        "dest=x??:80 result=ok up=0 down=0 ms=0");
}

CAF_TEST(rules are published with the plan and a reload swaps them for new clients) {
  using verdict = net::admission::verdict;
  auto settings_of = [](const std::string& rules) {
    auto res = config::parse("[socks]\nlisten = 127.0.0.1:1080\nauth = none\n"
                             "deny_destination = 169.254.0.0/16\n[rules]\n" + rules,
                             "t.ini");
    if (auto err = std::get_if<std::string>(&res))
      CAF_FAIL(*err);
    return make_settings(std::get<config::proxy_config>(res));
  };
  settings = settings_of("rule = block port=25\n");
  auto acc = sys.spawn(acceptor, settings, desk);
  consume_all();
  auto set = sys.spawn(px::settings, settings, acc);
  consume_all();
  publish(); // what the wiring does before the first client
  auto first = admit(1);
  CAF_REQUIRE(first.what == verdict::own && first.plan->rules);
  // Compiled once: the shorthand first, then the rule; shared, not copied.
  CAF_CHECK_EQUAL(first.plan->rules->rules().size(), 2u);
  CAF_CHECK(admit(2).plan->rules == first.plan->rules);
  net::rule_query q;
  q.client = *net::ip_endpoint::parse("127.0.0.1:5555");
  auto dst = *net::ip_endpoint::parse("192.0.2.1:80");
  q.address = &dst;
  q.port = 80;
  CAF_CHECK(first.plan->rules->check(q).kind == net::rule_verdict::pass);
  // A reload is answered once the acceptor published the new rules.
  CAF_CHECK(request<bool>(set, reload_atom_v,
                          settings_of("rule = block dest=192.0.2.0/24\ndefault = block\n")));
  auto third = admit(3);
  CAF_REQUIRE(third.what == verdict::own && third.plan->rules);
  CAF_CHECK(third.plan->rules != first.plan->rules);
  CAF_CHECK(third.plan->rules->check(q).kind == net::rule_verdict::block);
  CAF_CHECK_EQUAL(third.plan->rules->check(q).index, 1);
  // Clients admitted before keep the value they started with.
  CAF_CHECK(first.plan->rules->check(q).kind == net::rule_verdict::pass);
  // The settings actor hands out the same compiled value.
  auto now = request<session_settings>(set, get_atom_v);
  CAF_CHECK(now.rules == third.plan->rules);
  for (net::conn_id id : {1, 2, 3})
    closed(stats(0, 0, net::close_reason::client_gone), id);
  caf::anon_send_exit(acc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(set, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
