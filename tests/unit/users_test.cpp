// Tier (b): user management in the registry under CAF's test coordinator
// (docs/admin-protocols.md, "User management"): deleting a user closes its
// sessions and forgets its logins, a new password invalidates remembered
// logins, both are written to the users file before they are answered, and
// a reload that drops a user acts like a delete. Plus the user-session
// directory alone.
#define CAF_SUITE users
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unistd.h>
#include <variant>
#include <vector>

#include "actors/admission.hpp"
#include "actors/hasher.hpp"
#include "actors/messages.hpp"
#include "actors/persister.hpp"
#include "actors/registry.hpp"
#include "actors/accounts.hpp"
#include "config/users.hpp"
#include "tests/unit/fake_io.hpp"

using namespace px;
using namespace px::test;

namespace {

/// Connection ids the fake reactor was told to close.
std::vector<net::conn_id> closes(fake_io& io) {
  std::vector<net::conn_id> out;
  for (auto& c : io.take())
    if (c.kind == command::close)
      out.push_back(c.id);
  return out;
}

struct fixture : test_coordinator_fixture<> {
  fixture() {
    auto hash = config::hash_password("demo");
    CAF_REQUIRE(hash);
    hash_demo = *hash;
    hashers.push_back(sys.spawn(hasher));
    reg = spawn_registry({}, persister_actor{});
  }

  ~fixture() override {
    run();
  }

  /// A registry with demo (socks) and boss (admin), publishing `accounts`.
  registry_actor spawn_registry(std::string path, persister_actor pers) {
    registry_config rc{std::move(path), 100};
    rc.accounts = accounts;
    rc.io = &io;
    rc.close_on_delete = close_on_delete;
    std::vector<config::user_entry> users{plain_entry("boss", config::role_admin, hash_demo),
                                          plain_entry("demo", config::role_socks, hash_demo)};
    auto r = sys.spawn(registry, users, hashers, rc, std::move(pers));
    run();
    return r;
  }

  registry_state& state(registry_actor& r) {
    return deref<registry_actor::stateful_base<registry_state>>(r).state;
  }

  /// A SOCKS login of connection `id` checked by the registry.
  auth_verdict login(std::string user, std::string pw, net::conn_id id) {
    login_request req{user, std::move(pw),
                      static_cast<uint8_t>(config::role_socks),
                      *net::ip_endpoint::parse("127.0.0.1:1"), id};
    auto h = self->request(reg, caf::infinite, std::move(req));
    run();
    auth_verdict out = auth_verdict::overloaded;
    h.receive([&](auth_verdict v) { out = v; }, [](caf::error&) {});
    // As the session does with a granted login: a place in the account,
    // which the connection (here: the fake loop) holds.
    if (out == auth_verdict::granted && id != 0
        && grant_login(accounts.get(), user, fresh_login, io.grants[id])
             != login_check::granted)
      io.grants.erase(id);
    return out;
  }

  /// Open connections counted for `user`.
  size_t open(const std::string& user) {
    auto acct = accounts->find(user);
    return acct ? acct->sessions.open() : 0;
  }

  add_result change(caf::atom_value what, std::string user, std::string pw = {}) {
    auto out = add_result::io_error;
    if (what == del_atom_v) {
      auto h = self->request(reg, caf::infinite, del_atom_v, std::move(user));
      run();
      h.receive([&](add_result r) { out = r; }, [](caf::error&) {});
    } else {
      auto h = self->request(reg, caf::infinite, passwd_atom_v, std::move(user),
                             std::move(pw));
      run();
      h.receive([&](add_result r) { out = r; }, [](caf::error&) {});
    }
    return out;
  }

  /// A session handler granting from `logins` (as admission hands it out).
  std::shared_ptr<net::conn_handler>
  handler(net::conn_id id, std::shared_ptr<const verified_logins> logins) {
    session_args args;
    args.id = id;
    args.peer = *net::ip_endpoint::parse("127.0.0.1:2");
    args.settings = std::make_shared<const session_settings>();
    args.deps = session_deps{&io, reg, metrics_actor{}, access_log_actor{}, accounts};
    return start_session(sys, std::move(args), logins);
  }

  fake_io io;
  std::shared_ptr<account_board> accounts = std::make_shared<account_board>();
  bool close_on_delete = true;
  std::string hash_demo;
  std::vector<hasher_actor> hashers;
  registry_actor reg;
};

} // namespace

CAF_TEST(an account grants logins within its limits and refuses stale ones) {
  account_board board;
  auto acct = std::make_shared<net::account>("a");
  net::account_limits lim;
  lim.sessions = 2;
  acct->configure(lim);
  auto m = std::make_shared<account_map>();
  m->by_name["a"] = acct;
  board.publish(m);
  net::login_grant g1;
  net::login_grant g2;
  net::login_grant g3;
  CAF_CHECK(grant_login(&board, "a", 1, g1) == login_check::granted);
  CAF_CHECK(g1.user == acct);
  CAF_CHECK(grant_login(&board, "a", 1, g2) == login_check::granted);
  // The third is one too many; the refusal holds no place.
  CAF_CHECK(grant_login(&board, "a", 1, g3) == login_check::sessions);
  CAF_CHECK(!g3.user);
  CAF_CHECK_EQUAL(acct->sessions.open(), 2u);
  CAF_CHECK_EQUAL(acct->refused_sessions.load(), 1u);
  g1 = {}; // a connection closed
  CAF_CHECK_EQUAL(acct->sessions.open(), 1u);
  CAF_CHECK(grant_login(&board, "a", 1, g1) == login_check::granted);
  // A password change at epoch 3: logins remembered at 2 are stale, the
  // registry's own checks are not.
  acct->revoked_epoch = 3;
  g1 = {};
  CAF_CHECK(grant_login(&board, "a", 2, g1) == login_check::stale);
  CAF_CHECK(grant_login(&board, "a", 3, g1) == login_check::granted);
  g1 = {};
  // Deleted, or unknown: stale whatever the epoch.
  CAF_CHECK(grant_login(&board, "nobody", fresh_login, g1) == login_check::stale);
  acct->deleted = true;
  CAF_CHECK(grant_login(&board, "a", fresh_login, g1) == login_check::stale);
  // Without a board nothing is counted.
  CAF_CHECK(grant_login(nullptr, "a", 1, g1) == login_check::granted);
  CAF_CHECK(!g1.user);
}

CAF_TEST_FIXTURE_SCOPE(users_tests, fixture)

CAF_TEST(deleting a user closes its sessions and refuses its next login) {
  CAF_CHECK(login("demo", "demo", 7) == auth_verdict::granted);
  CAF_CHECK_EQUAL(open("demo"), 1u);
  // The loop path: a login granted from the published value holds a
  // place in the account too.
  auto logins = state(reg).logins();
  CAF_REQUIRE(logins->check("demo", "demo", config::role_socks));
  auto h = handler(8, logins);
  CAF_CHECK(h->on_credentials(8, socks5::credentials{"demo", "demo"}, io.grants[8]));
  CAF_CHECK_EQUAL(open("demo"), 2u);
  auto epoch = state(reg).epoch;
  CAF_CHECK(change(del_atom_v, "demo") == add_result::ok);
  auto ids = closes(io);
  std::sort(ids.begin(), ids.end());
  CAF_CHECK(ids == (std::vector<net::conn_id>{7, 8}));
  CAF_CHECK_GREATER(state(reg).epoch, epoch);
  CAF_CHECK_EQUAL(state(reg).users.count("demo"), 0u);
  CAF_CHECK(!state(reg).logins()->check("demo", "demo", config::role_socks));
  // A handshake still holding the old value is not granted on the loop:
  // it goes to the registry, which denies it.
  auto late = handler(9, logins);
  net::login_grant none;
  CAF_CHECK(!late->on_credentials(9, socks5::credentials{"demo", "demo"}, none));
  CAF_CHECK(login("demo", "demo", 10) == auth_verdict::denied);
  CAF_CHECK(change(del_atom_v, "demo") == add_result::no_user);
  CAF_CHECK(change(del_atom_v, "boss") == add_result::forbidden);
  CAF_CHECK_EQUAL(state(reg).users.count("boss"), 1u);
  h->on_closed(8, net::close_stats{});
  late->on_closed(9, net::close_stats{});
  run();
}

CAF_TEST(a new password forgets remembered logins and keeps sessions) {
  CAF_CHECK(login("demo", "demo", 7) == auth_verdict::granted);
  auto old = state(reg).logins();
  CAF_REQUIRE(old->check("demo", "demo", config::role_socks));
  CAF_CHECK(change(passwd_atom_v, "demo", "") == add_result::invalid);
  CAF_CHECK(change(passwd_atom_v, "nobody", "x") == add_result::no_user);
  CAF_CHECK(change(passwd_atom_v, "demo", "n3w") == add_result::ok);
  CAF_CHECK(closes(io).empty()); // open sessions stay
  CAF_CHECK_EQUAL(open("demo"), 1u);
  CAF_CHECK(!state(reg).users["demo"].has_verified);
  // The old value's remembered login is refused on the loop...
  auto h = handler(8, old);
  net::login_grant none;
  CAF_CHECK(!h->on_credentials(8, socks5::credentials{"demo", "demo"}, none));
  // ... and by the registry; the new password is accepted.
  CAF_CHECK(login("demo", "demo", 9) == auth_verdict::denied);
  CAF_CHECK(login("demo", "n3w", 10) == auth_verdict::granted);
  CAF_CHECK(state(reg).logins()->check("demo", "n3w", config::role_socks));
  h->on_closed(8, net::close_stats{});
  run();
}

CAF_TEST(deletes and new passwords are written before they are answered) {
  char dir[] = "/tmp/proxy-users-XXXXXX";
  CAF_REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string{dir} + "/users.txt";
  auto pers = sys.spawn(persister);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
  reg = spawn_registry(path, pers);
  CAF_CHECK(change(passwd_atom_v, "demo", "n3w-pw") == add_result::ok);
  auto loaded = config::load_users(path);
  CAF_REQUIRE(std::holds_alternative<std::vector<config::user_entry>>(loaded));
  auto users = std::get<std::vector<config::user_entry>>(loaded);
  CAF_REQUIRE_EQUAL(users.size(), 2u);
  CAF_CHECK_EQUAL(users[1].name, "demo");
  CAF_CHECK(config::verify_password("n3w-pw", users[1].hash));
  CAF_CHECK(!config::verify_password("demo", users[1].hash));
  CAF_CHECK(change(del_atom_v, "demo") == add_result::ok);
  loaded = config::load_users(path);
  CAF_REQUIRE(std::holds_alternative<std::vector<config::user_entry>>(loaded));
  users = std::get<std::vector<config::user_entry>>(loaded);
  CAF_REQUIRE_EQUAL(users.size(), 1u);
  CAF_CHECK_EQUAL(users[0].name, "boss");
  // A file that cannot be written: the user stays, its sessions too.
  CAF_CHECK(login("boss", "demo", 5) == auth_verdict::denied); // no socks role
  auto bad = spawn_registry("/nonexistent-dir/users.txt", pers);
  std::swap(bad, reg);
  CAF_CHECK(login("demo", "demo", 6) == auth_verdict::granted);
  auto failed = change(del_atom_v, "demo");
  CAF_CHECK_EQUAL(std::string{to_string(failed)}, "io-error");
  CAF_CHECK(closes(io).empty());
  CAF_CHECK_EQUAL(state(reg).users.count("demo"), 1u);
  CAF_CHECK(state(reg).pending.empty());
  std::remove(path.c_str());
  rmdir(dir);
  for (auto& a : {caf::actor_cast<caf::actor>(bad), caf::actor_cast<caf::actor>(pers)})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

CAF_TEST(the registry publishes accounts with the limits and groups in force) {
  // demo: the defaults; boss: its own line's overrides and groups.
  auto boss = plain_entry("boss", config::role_admin | config::role_socks, hash_demo);
  boss.sessions = 1;
  boss.bandwidth_down = 0; // explicitly unlimited
  boss.groups = {"ops", "staff"};
  self->send(reg, reload_atom_v,
             std::vector<config::user_entry>{boss, plain_entry("demo", config::role_socks,
                                                               hash_demo)});
  net::account_limits defaults;
  defaults.sessions = 5;
  defaults.connect_rate = 10;
  defaults.bandwidth_down = 1 << 20;
  self->send(reg, limits_atom_v, defaults);
  run();
  auto demo = accounts->find("demo");
  auto chief = accounts->find("boss");
  CAF_REQUIRE(demo && chief);
  CAF_CHECK(demo->limits() == defaults);
  CAF_CHECK_EQUAL(chief->limits().sessions, 1u);
  CAF_CHECK_EQUAL(chief->limits().connect_rate, 10u);
  CAF_CHECK_EQUAL(chief->limits().bandwidth_down, 0u);
  CAF_CHECK(*chief->groups() == (std::vector<std::string>{"ops", "staff"}));
  // New defaults reach existing accounts (the same objects: counters stay).
  CAF_CHECK(login("demo", "demo", 7) == auth_verdict::granted);
  defaults.sessions = 0;
  self->send(reg, limits_atom_v, defaults);
  run();
  CAF_CHECK(accounts->find("demo") == demo);
  CAF_CHECK_EQUAL(demo->limits().sessions, 0u);
  // The counters, as `proxyctl users stats` reads them.
  auto h = self->request(reg, caf::infinite, stats_atom_v, std::string{"demo"});
  run();
  std::vector<user_stats> got;
  h.receive([&](std::vector<user_stats>& v) { got = std::move(v); }, [](caf::error&) {});
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK_EQUAL(got[0].name, "demo");
  CAF_CHECK_EQUAL(got[0].open, 1u);
  CAF_CHECK_EQUAL(got[0].connections, 1u);
  CAF_CHECK_EQUAL(got[0].bandwidth_down, uint64_t{1} << 20);
  // A user dropped by a reload loses its account (marked deleted first).
  self->send(reg, reload_atom_v, std::vector<config::user_entry>{boss});
  run();
  CAF_CHECK(!accounts->find("demo"));
  CAF_CHECK(demo->deleted.load());
  CAF_CHECK(closes(io) == (std::vector<net::conn_id>{7}));
}

CAF_TEST(a reload that drops a user acts like a delete) {
  CAF_CHECK(login("demo", "demo", 7) == auth_verdict::granted);
  self->send(reg, reload_atom_v,
             std::vector<config::user_entry>{plain_entry("boss", config::role_admin, hash_demo)});
  run();
  CAF_CHECK(closes(io) == (std::vector<net::conn_id>{7}));
  CAF_CHECK(login("demo", "demo", 8) == auth_verdict::denied);
}

CAF_TEST_FIXTURE_SCOPE_END()

/// on_user_delete = keep.
struct keep_fixture : fixture {
  keep_fixture() {
    close_on_delete = false;
    caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
    reg = spawn_registry({}, persister_actor{});
  }
};

CAF_TEST_FIXTURE_SCOPE(keep_tests, keep_fixture)

CAF_TEST(with keep the sessions of a deleted user stay but it cannot log in) {
  CAF_CHECK(login("demo", "demo", 7) == auth_verdict::granted);
  CAF_CHECK(change(del_atom_v, "demo") == add_result::ok);
  CAF_CHECK(closes(io).empty());
  CAF_CHECK(login("demo", "demo", 8) == auth_verdict::denied);
}

CAF_TEST_FIXTURE_SCOPE_END()
