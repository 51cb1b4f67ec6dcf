// Tier (b): the session, acceptor, registry and metrics actors driven
// message by message under CAF's test coordinator, with a fake reactor that
// records every command.
#define CAF_SUITE actors
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <cstdio>
#include <memory>
#include <unistd.h>
#include <vector>

#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "actors/session.hpp"
#include "config/users.hpp"

using namespace px;
using bytes = std::vector<uint8_t>;

namespace {

/// One command the session gave the reactor.
struct command {
  enum kind_t { attach, read, send, connect, start_relay, close, bind, udp } kind;
  net::conn_id id = 0;
  bytes data;
  bytes extra;
  net::after next = net::after::hold;
  net::connect_request req;
  net::relay_options opts;
};

/// Records commands instead of touching sockets.
class fake_io : public net::conn_control {
public:
  void attach(net::conn_id id, std::shared_ptr<net::conn_handler> h) override {
    handlers[id] = std::move(h);
    log.push_back({command::attach, id, {}, {}, net::after::hold, {}, {}});
  }
  void read(net::conn_id id) override {
    log.push_back({command::read, id, {}, {}, net::after::hold, {}, {}});
  }
  void send(net::conn_id id, bytes b, net::after next) override {
    log.push_back({command::send, id, std::move(b), {}, next, {}, {}});
  }
  void connect(net::conn_id id, net::connect_request req) override {
    log.push_back({command::connect, id, {}, {}, net::after::hold, std::move(req), {}});
  }
  void start_relay(net::conn_id id, bytes a, bytes b,
                   net::relay_options opts) override {
    log.push_back({command::start_relay, id, std::move(a), std::move(b),
                   net::after::hold, {}, opts});
  }
  void close(net::conn_id id) override {
    log.push_back({command::close, id, {}, {}, net::after::hold, {}, {}});
  }
  void bind(net::conn_id id, net::bind_request req) override {
    net::connect_request as_connect;
    as_connect.target = req.peer;
    log.push_back({command::bind, id, {}, {}, net::after::hold, as_connect, {}});
  }
  void udp_associate(net::conn_id id, net::udp_request req) override {
    net::connect_request as_connect;
    as_connect.target = socks5::address::from(req.client_hint);
    log.push_back({command::udp, id, {}, {}, net::after::hold, as_connect, {}});
  }

  /// Removes and returns the commands recorded so far, minus reads.
  std::vector<command> take() {
    std::vector<command> out;
    for (auto& c : log)
      if (c.kind != command::read)
        out.push_back(std::move(c));
    log.clear();
    return out;
  }

  std::map<net::conn_id, std::shared_ptr<net::conn_handler>> handlers;
  std::vector<command> log;
};

struct access_sink_state {
  static inline const char* name = "access-sink";
  std::vector<access_record> records;
};

access_log_actor::behavior_type
access_sink(access_log_actor::stateful_pointer<access_sink_state> self) {
  return {
    [=](access_record& rec) { self->state.records.push_back(std::move(rec)); },
  };
}

bytes greeting_userpass{0x05, 0x01, 0x02};
bytes auth_demo{0x01, 0x04, 'd', 'e', 'm', 'o', 0x04, 'd', 'e', 'm', 'o'};
bytes auth_wrong{0x01, 0x04, 'd', 'e', 'm', 'o', 0x04, 'n', 'o', 'p', 'e'};
bytes connect_localhost{0x05, 0x01, 0x00, 0x03, 9, 'l', 'o', 'c', 'a', 'l',
                        'h', 'o', 's', 't', 0x1F, 0x90};

struct fixture : test_coordinator_fixture<> {
  fixture() {
    auto hash = config::hash_password("demo");
    CAF_REQUIRE(hash);
    std::vector<config::user_entry> users{{"demo", config::role_socks, *hash},
                                          {"boss", config::role_admin, *hash}};
    hashers.push_back(sys.spawn(hasher));
    reg = sys.spawn(registry, users, hashers, registry_config{}, persister_actor{});
    met = sys.spawn(metrics);
    sink = sys.spawn(access_sink);
    deps = session_deps{&io, reg, met, sink};
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

  caf::actor spawn_session(net::conn_id id = 7) {
    auto s = sys.spawn(session, session_args{id, *net::ip_endpoint::parse(
                                                   "127.0.0.1:5555"),
                                             settings, deps});
    consume_all();
    return s;
  }

  void deliver(net::conn_id id, bytes b) {
    io.handlers.at(id)->on_data(id, std::move(b));
    consume_all();
  }

  metrics_snapshot snapshot() {
    return request<metrics_snapshot>(met, get_atom_v);
  }

  std::vector<access_record>& records() {
    return deref<access_log_actor::stateful_base<access_sink_state>>(sink)
      .state.records;
  }

  fake_io io;
  std::vector<hasher_actor> hashers;
  registry_actor reg;
  metrics_actor met;
  access_log_actor sink;
  session_deps deps;
  session_settings settings;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(session_tests, fixture)

CAF_TEST(method choice follows the auth mode) {
  socks5::greeting both{{0x00, 0x02}};
  socks5::greeting none_only{{0x00}};
  socks5::greeting gssapi{{0x01}};
  using cm = config::auth_mode;
  CAF_CHECK(session_state::choose_method(cm::userpass, both) == socks5::method::userpass);
  CAF_CHECK(session_state::choose_method(cm::userpass, none_only)
            == socks5::method::none_acceptable);
  CAF_CHECK(session_state::choose_method(cm::none, both) == socks5::method::no_auth);
  CAF_CHECK(session_state::choose_method(cm::any, none_only) == socks5::method::no_auth);
  CAF_CHECK(session_state::choose_method(cm::any, gssapi)
            == socks5::method::none_acceptable);
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
}

CAF_TEST(a session walks through every phase to the relay) {
  spawn_session();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::attach);
  deliver(7, greeting_userpass);
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x02}));
  CAF_CHECK(cmds[0].next == net::after::read);
  deliver(7, auth_demo);
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x01, 0x00}));
  deliver(7, connect_localhost);
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::connect);
  CAF_CHECK_EQUAL(cmds[0].req.target.domain, "localhost");
  CAF_CHECK_EQUAL(cmds[0].req.target.port(), 8080);
  auto local = *net::ip_endpoint::parse("127.0.0.1:40000");
  io.handlers.at(7)->on_connected(7, local, *net::ip_endpoint::parse("127.0.0.1:8080"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::start_relay);
  // VER REP=0 RSV ATYP=1 127.0.0.1 port 40000 (0x9C40)
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x9C, 0x40}));
  CAF_CHECK(cmds[0].extra.empty());
  CAF_CHECK_EQUAL(cmds[0].opts.buffer_size, settings.buffer_size);
  // The handshake deadline no longer applies once relaying.
  trigger_timeouts();
  consume_all();
  CAF_CHECK(io.take().empty());
  io.handlers.at(7)->on_closed(7, net::close_stats{100, 2000, net::close_reason::done});
  consume_all();
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  auto& rec = records()[0];
  CAF_CHECK_EQUAL(rec.user, "demo");
  CAF_CHECK_EQUAL(rec.result, "ok");
  CAF_CHECK_EQUAL(rec.bytes_up, 100u);
  CAF_CHECK_EQUAL(rec.bytes_down, 2000u);
  CAF_CHECK_EQUAL(rec.destination, "localhost:8080 (127.0.0.1:8080)");
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.replies[0], 1u);
  CAF_CHECK_EQUAL(m.auth_failures, 0u);
}

CAF_TEST(pipelined greeting auth request and data in one chunk) {
  spawn_session();
  io.take();
  bytes all = greeting_userpass;
  all.insert(all.end(), auth_demo.begin(), auth_demo.end());
  all.insert(all.end(), connect_localhost.begin(), connect_localhost.end());
  all.insert(all.end(), {'G', 'E', 'T'});
  deliver(7, all);
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 3u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x02}));
  CAF_CHECK(cmds[1].data == (bytes{0x01, 0x00}));
  CAF_CHECK_EQUAL(cmds[2].kind, command::connect);
  io.handlers.at(7)->on_connected(7, *net::ip_endpoint::parse("127.0.0.1:1"),
                                  *net::ip_endpoint::parse("127.0.0.1:8080"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  // Bytes after the request go upstream first.
  CAF_CHECK(cmds[0].extra == (bytes{'G', 'E', 'T'}));
}

CAF_TEST(messages split into single bytes) {
  spawn_session();
  io.take();
  bytes all = greeting_userpass;
  all.insert(all.end(), auth_demo.begin(), auth_demo.end());
  for (auto b : all)
    deliver(7, bytes{b});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK(cmds[1].data == (bytes{0x01, 0x00}));
}

CAF_TEST(a wrong password is refused and counted) {
  spawn_session();
  io.take();
  deliver(7, greeting_userpass);
  deliver(7, auth_wrong);
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK(cmds[1].data == (bytes{0x01, 0x01}));
  CAF_CHECK(cmds[1].next == net::after::close);
  io.handlers.at(7)->on_closed(7, net::close_stats{});
  consume_all();
  CAF_CHECK_EQUAL(snapshot().auth_failures, 1u);
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].result, "auth-failed");
  CAF_CHECK_EQUAL(records()[0].user, "-");
}

CAF_TEST(an admin-only user cannot use socks) {
  spawn_session();
  io.take();
  deliver(7, greeting_userpass);
  deliver(7, bytes{0x01, 0x04, 'b', 'o', 's', 's', 0x04, 'd', 'e', 'm', 'o'});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK(cmds[1].data == (bytes{0x01, 0x01}));
}

CAF_TEST(no acceptable method) {
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00}); // only no-auth, but userpass required
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0xFF}));
  CAF_CHECK(cmds[0].next == net::after::close);
}

CAF_TEST(bind sends two replies and relays) {
  settings.auth = config::auth_mode::none;
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00});
  deliver(7, bytes{0x05, 0x02, 0x00, 0x01, 10, 0, 0, 5, 0, 21});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK_EQUAL(cmds[1].kind, command::bind);
  CAF_CHECK_EQUAL(cmds[1].req.target.to_string(), "10.0.0.5:21");
  io.handlers.at(7)->on_bound(7, *net::ip_endpoint::parse("127.0.0.1:5000"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  // First reply: where to connect (127.0.0.1:5000 = 0x1388).
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x13, 0x88}));
  CAF_CHECK(cmds[0].next == net::after::hold);
  io.handlers.at(7)->on_connected(7, *net::ip_endpoint::parse("127.0.0.1:5000"),
                                  *net::ip_endpoint::parse("10.0.0.5:40001"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::start_relay);
  // Second reply: the peer that connected (10.0.0.5:40001 = 0x9C41).
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 10, 0, 0, 5, 0x9C, 0x41}));
}

CAF_TEST(bind timeout sends ttl expired) {
  settings.auth = config::auth_mode::none;
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00});
  deliver(7, bytes{0x05, 0x02, 0x00, 0x01, 10, 0, 0, 5, 0, 21});
  io.take();
  io.handlers.at(7)->on_connect_failed(7, net::connect_error::timeout);
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].data[1], 0x06);
  CAF_CHECK(cmds[0].next == net::after::close);
}

CAF_TEST(udp associate replies with the relay address) {
  settings.auth = config::auth_mode::none;
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00});
  deliver(7, bytes{0x05, 0x03, 0x00, 0x01, 127, 0, 0, 1, 0x30, 0x39});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK_EQUAL(cmds[1].kind, command::udp);
  CAF_CHECK_EQUAL(cmds[1].req.target.to_string(), "127.0.0.1:12345");
  io.handlers.at(7)->on_connected(7, *net::ip_endpoint::parse("127.0.0.1:7000"),
                                  *net::ip_endpoint::parse("127.0.0.1:12345"));
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::start_relay);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x1B, 0x58}));
  io.handlers.at(7)->on_closed(7, net::close_stats{30, 40, net::close_reason::done});
  consume_all();
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].destination, "udp:127.0.0.1:12345");
  CAF_CHECK_EQUAL(records()[0].bytes_up, 30u);
}

CAF_TEST(a bad address type gets 0x08) {
  settings.auth = config::auth_mode::none;
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x09});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK_EQUAL(cmds[1].data[1], 0x08);
  CAF_CHECK_EQUAL(snapshot().protocol_errors, 1u);
}

CAF_TEST(a failed connect sends the matching reply) {
  settings.auth = config::auth_mode::none;
  spawn_session();
  io.take();
  deliver(7, bytes{0x05, 0x01, 0x00});
  deliver(7, bytes{0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0, 1});
  io.take();
  io.handlers.at(7)->on_connect_failed(7, net::connect_error::refused);
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data == (bytes{0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  CAF_CHECK(cmds[0].next == net::after::close);
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.replies[5], 1u);
}

CAF_TEST(a silent client hits the handshake deadline) {
  spawn_session();
  io.take();
  deliver(7, greeting_userpass);
  io.take();
  CAF_CHECK(trigger_timeout());
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::close);
  io.handlers.at(7)->on_closed(7, net::close_stats{0, 0, net::close_reason::requested});
  consume_all();
  CAF_CHECK_EQUAL(snapshot().handshake_timeouts, 1u);
  CAF_REQUIRE_EQUAL(records().size(), 1u);
  CAF_CHECK_EQUAL(records()[0].result, "handshake-timeout");
}

CAF_TEST(garbage instead of a greeting closes without a reply) {
  spawn_session();
  io.take();
  deliver(7, bytes{'G', 'E', 'T', ' ', '/'});
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK(cmds[0].data.empty());
  CAF_CHECK(cmds[0].next == net::after::close);
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

CAF_TEST(a reload replaces users and drops stale cache entries) {
  CAF_CHECK(request<bool>(reg, auth_atom_v, std::string{"demo"},
                          std::string{"demo"}, uint8_t{config::role_socks}));
  auto other = config::hash_password("new");
  CAF_REQUIRE(other);
  self->send(reg, reload_atom_v,
             std::vector<config::user_entry>{{"demo", config::role_socks, *other}});
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
  self->send(met, traffic{10, 20});
  self->send(met, traffic{1, 2});
  self->send(met, metric_event{metric::accepted, 0});
  self->send(met, metric_event{metric::reply, 4});
  self->send(met, metric_event{metric::reply, 200}); // out of range: ignored
  self->send(met, active_atom_v, uint64_t{3});
  consume_all();
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.bytes_up, 11u);
  CAF_CHECK_EQUAL(m.bytes_down, 22u);
  CAF_CHECK_EQUAL(m.accepted, 1u);
  CAF_CHECK_EQUAL(m.replies[4], 1u);
  CAF_CHECK_EQUAL(m.active, 3u);
}

CAF_TEST(the acceptor enforces max clients and the allow list) {
  settings.max_clients = 1;
  auto acc = sys.spawn(acceptor, settings, deps);
  consume_all();
  auto peer = *net::ip_endpoint::parse("127.0.0.1:1000");
  self->send(acc, conn_accepted{1, peer, peer});
  consume_all();
  self->send(acc, conn_accepted{2, peer, peer});
  consume_all();
  auto cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 2u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::attach);
  CAF_CHECK_EQUAL(cmds[0].id, 1u);
  CAF_CHECK_EQUAL(cmds[1].kind, command::close);
  CAF_CHECK_EQUAL(cmds[1].id, 2u);
  auto m = snapshot();
  CAF_CHECK_EQUAL(m.rejected_max_clients, 1u);
  CAF_CHECK_EQUAL(m.accepted, 1u);
  CAF_CHECK_EQUAL(m.active, 1u);
  // Raising the cap through the settings actor applies to the next client.
  auto set = sys.spawn(px::settings, settings, acc);
  consume_all();
  CAF_CHECK(request<bool>(set, maxcli_atom_v, uint64_t{2}));
  CAF_CHECK(!request<bool>(set, maxcli_atom_v, uint64_t{0}));
  CAF_CHECK(!request<bool>(set, buffer_atom_v, uint64_t{10}));
  io.take(); // request() above also fired session 1's handshake deadline
  self->send(acc, conn_accepted{3, peer, peer});
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::attach);
  CAF_CHECK_EQUAL(cmds[0].id, 3u);
  // When the first session ends, the gauge goes down.
  io.handlers.at(1)->on_closed(1, net::close_stats{});
  consume_all();
  CAF_CHECK_EQUAL(snapshot().active, 1u);
  // A client outside allow_client is refused.
  settings.allow_clients = {*net::cidr::parse("10.0.0.0/8")};
  self->send(acc, settings);
  consume_all();
  io.take();
  self->send(acc, conn_accepted{4, peer, peer});
  consume_all();
  cmds = io.take();
  CAF_REQUIRE_EQUAL(cmds.size(), 1u);
  CAF_CHECK_EQUAL(cmds[0].id, 4u);
  CAF_CHECK_EQUAL(cmds[0].kind, command::close);
  CAF_CHECK_EQUAL(snapshot().rejected_client_rule, 1u);
  caf::anon_send_exit(acc, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(set, caf::exit_reason::user_shutdown);
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

CAF_TEST_FIXTURE_SCOPE_END()
