// Tier (b): the cluster's merge rules (pure, actors/cluster_state.hpp) and
// the cluster actor with a real registry (users in memory) and stand-in
// peers, under CAF's test coordinator: message order, duplicates,
// conflicting writes, tombstones, a peer that vanishes.
#define CAF_SUITE cluster
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <memory>
#include <string>
#include <vector>

#include "actors/cluster.hpp"
#include "actors/cluster_state.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/persister.hpp"
#include "actors/registry.hpp"
#include "actors/settings.hpp"
#include "config/users.hpp"

using namespace px;

namespace {

cluster_entry live(std::string user, uint64_t counter, std::string origin,
                   std::string hash, uint8_t roles = config::role_socks) {
  return cluster_entry{std::move(user), counter, std::move(origin), false, roles,
                       std::move(hash)};
}

cluster_entry dead(std::string user, uint64_t counter, std::string origin) {
  return cluster_entry{std::move(user), counter, std::move(origin), true, 0, {}};
}

/// (user, counter, origin, deleted, hash) of every entry, for comparisons.
std::vector<std::string> shape(const std::vector<cluster_entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(e.user + "@" + std::to_string(e.counter) + "/" + e.origin
                  + (e.deleted ? " dead" : " " + e.hash));
  return out;
}

/// What a stand-in peer received.
struct peer_box_state {
  static inline const char* name = "peer-box";
  std::vector<cluster_delta> deltas;
  std::vector<cluster_hello> hellos;
  std::vector<cluster_digest> digests;
};

/// A stand-in peer node: records what the cluster actor sends it, answers
/// metrics as node `name`.
caf::behavior peer_box(caf::stateful_actor<peer_box_state>* self, std::string name) {
  return {
    [=](cluster_delta& d) { self->state.deltas.push_back(std::move(d)); },
    [=](cluster_hello& h) { self->state.hellos.push_back(std::move(h)); },
    [=](cluster_digest& d) { self->state.digests.push_back(std::move(d)); },
    [=](nmetrics_atom) {
      node_metrics m;
      m.node = name;
      m.active = 2;
      return m;
    },
  };
}

} // namespace

/// A settings actor that takes max clients up to 100 and no transformation.
settings_actor::behavior_type fake_settings() {
  return {
    [](get_atom) { return session_settings{}; },
    [](buffer_atom, uint64_t) { return setting_change::applied; },
    [](maxcli_atom, uint64_t n) { return n <= 100; },
    [](transform_atom, const std::string&) { return setting_change::disabled; },
    [](reload_atom, session_settings&) { return true; },
  };
}

// -- the merge rules, without actors -------------------------------------------

CAF_TEST(a greater counter wins and the origin name breaks ties) {
  CAF_CHECK(newer(live("u", 6, "a", "h"), live("u", 5, "z", "h")));
  CAF_CHECK(newer(live("u", 5, "b", "h"), live("u", 5, "a", "h")));
  CAF_CHECK(!newer(live("u", 5, "a", "h"), live("u", 5, "a", "h")));
  CAF_CHECK(newer(dead("u", 5, "b"), live("u", 5, "a", "h")));
}

CAF_TEST(the winner does not depend on the order or on duplicates) {
  std::vector<cluster_entry> in{live("x", 5, "b", "hb"), live("x", 5, "c", "hc"),
                                dead("y", 3, "a"), live("y", 2, "c", "hy"),
                                live("z", 1, "a", "hz")};
  auto sorted = in;
  std::vector<std::vector<std::string>> results;
  std::sort(sorted.begin(), sorted.end(),
            [](auto& a, auto& b) { return shape({a}) < shape({b}); });
  do {
    cluster_replica r{"n"};
    for (auto& e : sorted) {
      r.merge(e);
      r.merge(e); // a duplicate changes nothing
    }
    results.push_back(shape(r.all()));
  } while (std::next_permutation(sorted.begin(), sorted.end(),
                                 [](auto& a, auto& b) { return shape({a}) < shape({b}); }));
  CAF_CHECK_EQUAL(results.size(), 120u);
  for (auto& res : results)
    CAF_CHECK_EQUAL(res, results.front());
  CAF_CHECK_EQUAL(results.front(),
                  (std::vector<std::string>{"x@5/c hc", "y@3/a dead", "z@1/a hz"}));
}

CAF_TEST(tombstones win and lose like writes) {
  cluster_replica r{"n"};
  CAF_CHECK(r.merge(live("u", 3, "a", "h1")));
  // It wins, but the registry never had u: confirmed at once, nothing to apply.
  CAF_CHECK(!r.merge(dead("u", 4, "b")));
  CAF_CHECK(r.wanted().empty());
  CAF_CHECK(!r.merge(live("u", 4, "a", "h2"))); // same counter, smaller origin
  CAF_CHECK(r.current("u")->deleted);
  CAF_CHECK(r.merge(live("u", 5, "a", "h3"))); // a later re-add
  CAF_CHECK(!r.current("u")->deleted);
  CAF_CHECK(!r.merge(dead("u", 2, "c"))); // an old delete arriving late
  CAF_CHECK_EQUAL(r.current("u")->hash, "h3");
  CAF_CHECK_EQUAL(r.clock(), 5u);
}

CAF_TEST(local changes are versioned after everything seen) {
  cluster_replica r{"me"};
  auto first = r.observe({cluster_user{"a", 1, "ha"}});
  CAF_REQUIRE_EQUAL(first.size(), 1u);
  CAF_CHECK_EQUAL(shape(first), (std::vector<std::string>{"a@1/me ha"}));
  CAF_CHECK(r.observe({cluster_user{"a", 1, "ha"}}).empty()); // no change
  CAF_CHECK(r.merge(live("b", 10, "peer", "hb")));             // wanted
  // The registry has not applied b yet: b stays wanted, nothing is local.
  CAF_CHECK(r.observe({cluster_user{"a", 1, "ha"}}).empty());
  CAF_CHECK_EQUAL(r.wanted().size(), 1u);
  // Now it has: b is confirmed with the peer's version.
  CAF_CHECK(r.observe({cluster_user{"a", 1, "ha"}, cluster_user{"b", 1, "hb"}}).empty());
  CAF_CHECK(r.wanted().empty());
  CAF_CHECK_EQUAL(r.confirmed().at("b").origin, "peer");
  // A delete here: a tombstone after the peer's counter.
  auto del = r.observe({cluster_user{"b", 1, "hb"}});
  CAF_CHECK_EQUAL(shape(del), (std::vector<std::string>{"a@11/me dead"}));
}

CAF_TEST(a local change of a wanted user wins over the entry of the peer) {
  cluster_replica r{"me"};
  r.observe({cluster_user{"u", 1, "h0"}});
  CAF_CHECK(r.merge(live("u", 7, "peer", "hp")));
  // An admin changed u here meanwhile (its apply was refused as busy).
  auto out = r.observe({cluster_user{"u", 1, "hl"}});
  CAF_CHECK_EQUAL(shape(out), (std::vector<std::string>{"u@8/me hl"}));
  CAF_CHECK(r.wanted().empty());
}

CAF_TEST(an entry that comes while an older one is being applied is not lost) {
  // A peer adds u (7) and deletes it (8) before this registry has written
  // the add: the delete must not be confirmed over the add in flight, and
  // the add landing must not read as a local re-add.
  cluster_replica r{"me"};
  auto add = live("u", 7, "peer", "hu");
  CAF_CHECK(r.merge(add));
  r.begin_apply("u");
  CAF_CHECK(r.merge(dead("u", 8, "peer"))); // wanted, not confirmed at once
  CAF_CHECK(r.current("u")->deleted);
  r.finish_apply(add, true);
  CAF_CHECK_EQUAL(r.confirmed().at("u").counter, 7u);
  CAF_REQUIRE_EQUAL(r.wanted().size(), 1u);
  // The registry's snapshot after the add: no local change.
  CAF_CHECK(r.observe({cluster_user{"u", 1, "hu"}}).empty());
  CAF_CHECK(r.current("u")->deleted);
  // The delete is applied in turn: confirmed, still nothing local.
  r.begin_apply("u");
  r.finish_apply(dead("u", 8, "peer"), true);
  CAF_CHECK(r.observe({}).empty());
  CAF_CHECK(r.wanted().empty());
  CAF_CHECK(r.confirmed().at("u").deleted);
  // A refused apply leaves the entry wanted.
  auto again = live("u", 9, "peer", "hu2");
  CAF_CHECK(r.merge(again));
  r.begin_apply("u");
  r.finish_apply(again, false);
  CAF_CHECK(!r.applying("u"));
  CAF_CHECK_EQUAL(r.wanted().count("u"), 1u);
}

CAF_TEST(the state file keeps versions and tombstones) {
  cluster_replica r{"me"};
  r.observe({cluster_user{"a", 1, "$y$j9T$salt$x"}, cluster_user{"b", 3, "$y$j9T$salt$y"}});
  r.observe({cluster_user{"a", 1, "$y$j9T$salt$x"}});
  CAF_CHECK(r.take_dirty());
  CAF_CHECK(!r.take_dirty());
  auto res = cluster_replica::load("me", r.save());
  CAF_REQUIRE(std::holds_alternative<cluster_replica>(res));
  auto& back = std::get<cluster_replica>(res);
  CAF_CHECK_EQUAL(shape(back.all()), shape(r.all()));
  CAF_CHECK_EQUAL(back.clock(), 3u);
  CAF_CHECK_EQUAL(back.digest().hash, r.digest().hash);
  auto bad = cluster_replica::load("me", "clock 3\na 1 me live\n");
  CAF_REQUIRE(std::holds_alternative<std::string>(bad));
  CAF_CHECK_EQUAL(std::get<std::string>(bad), "line 2: malformed entry");
}

// -- the cluster actor ------------------------------------------------------------

namespace {

using cluster_actor_impl = caf::stateful_actor<cluster_state>;

struct fixture : test_coordinator_fixture<> {
  fixture() {
    std::vector<config::user_entry> users{
      plain_entry("demo", config::role_socks, "$y$j9T$salt$demo")};
    reg = sys.spawn(registry, users, std::vector<hasher_actor>{}, registry_config{},
                    persister_actor{});
    met = sys.spawn(metrics, nullptr);
    consume_all();
  }

  ~fixture() override {
    // The base class runs the scheduler with timeouts in its destructor:
    // the clusters' periodic ticks would never end.
    for (auto& cl : clusters)
      caf::anon_send_exit(cl, caf::exit_reason::user_shutdown);
    consume_all();
  }

  /// Runs every pending message without firing timeouts (the cluster's
  /// tick repeats forever).
  void consume_all() {
    while (consume_message())
      ; // nop
  }

  /// Asks `hdl`, runs the messages, returns the answer.
  template <class T, class Handle, class... Ts>
  T ask(Handle hdl, Ts... xs) {
    auto res = self->request(hdl, caf::infinite, std::move(xs)...);
    consume_all();
    test_coordinator_fixture_fetch_helper<T> f;
    return f(res);
  }

  /// Spawns the cluster actor of node `name` (nobody is dialed: no
  /// middleman), with `peers` configured.
  caf::actor spawn_cluster(std::string name,
                           std::vector<config::cluster_peer> peers = {}) {
    cluster_deps deps;
    deps.peers = std::move(peers);
    deps.registry = reg;
    deps.metrics = met;
    deps.settings = sys.spawn(fake_settings);
    deps.replica = cluster_replica{name};
    auto cl = sys.spawn(cluster, std::move(deps));
    clusters.push_back(cl);
    consume_all();
    return cl;
  }

  /// Lets timers of the next 20 ms fire and runs what follows.
  void settle() {
    advance_time(std::chrono::milliseconds{20});
    consume_all();
  }

  cluster_state& state_of(const caf::actor& cl) {
    return deref<cluster_actor_impl>(cl).state;
  }

  peer_box_state& box(const caf::actor& p) {
    return deref<caf::stateful_actor<peer_box_state>>(p).state;
  }

  std::vector<std::string> users() {
    return ask<std::vector<std::string>>(reg, list_atom_v);
  }

  registry_actor reg;
  metrics_actor met;
  std::vector<caf::actor> clusters;
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_actor_tests, fixture)

CAF_TEST(a hello gets the full state and local changes reach the peer) {
  auto cl = spawn_cluster("a");
  CAF_CHECK_EQUAL(shape(state_of(cl).replica.all()),
                  (std::vector<std::string>{"demo@1/a $y$j9T$salt$demo"}));
  auto p = sys.spawn(peer_box, "b");
  caf::send_as(p, cl, cluster_hello{cluster_protocol, "b", 0, ""});
  consume_all();
  CAF_REQUIRE_EQUAL(box(p).deltas.size(), 1u);
  CAF_CHECK(box(p).deltas[0].full);
  CAF_CHECK_EQUAL(shape(box(p).deltas[0].entries),
                  (std::vector<std::string>{"demo@1/a $y$j9T$salt$demo"}));
  // A reload of the users file (SIGHUP) adds carol and drops demo.
  caf::anon_send(reg, reload_atom_v,
                 std::vector<config::user_entry>{
                   plain_entry("carol", config::role_socks, "$y$j9T$salt$carol")});
  consume_all();
  settle();
  CAF_REQUIRE_EQUAL(box(p).deltas.size(), 2u);
  CAF_CHECK(!box(p).deltas[1].full);
  CAF_CHECK_EQUAL(shape(box(p).deltas[1].entries),
                  (std::vector<std::string>{"carol@2/a $y$j9T$salt$carol", "demo@3/a dead"}));
}

CAF_TEST(a write of a peer is applied once and duplicates change nothing) {
  auto cl = spawn_cluster("a");
  auto p = sys.spawn(peer_box, "b");
  caf::send_as(p, cl, cluster_hello{cluster_protocol, "b", 0, ""});
  consume_all();
  auto delta = cluster_delta{"b", false, {live("dave", 10, "b", "$y$j9T$salt$dave")}};
  caf::send_as(p, cl, delta);
  consume_all();
  CAF_CHECK_EQUAL(users(), (std::vector<std::string>{"dave", "demo"}));
  settle();
  auto& st = state_of(cl);
  CAF_CHECK(st.replica.wanted().empty());
  CAF_CHECK_EQUAL(st.replica.confirmed().at("dave").origin, "b");
  auto sent = box(p).deltas.size();
  caf::send_as(p, cl, delta); // a duplicate
  consume_all();
  settle();
  CAF_CHECK_EQUAL(box(p).deltas.size(), sent); // nothing echoed as local
  CAF_CHECK_EQUAL(st.replica.clock(), 10u);
  // A later local change counts after the peer's: 11.
  caf::anon_send(reg, reload_atom_v,
                 std::vector<config::user_entry>{
                   plain_entry("demo", config::role_socks, "$y$j9T$salt$demo")});
  consume_all();
  settle();
  CAF_CHECK_EQUAL(shape(box(p).deltas.back().entries),
                  (std::vector<std::string>{"dave@11/a dead"}));
}

CAF_TEST(malformed entries of a peer are dropped) {
  auto cl = spawn_cluster("a");
  auto p = sys.spawn(peer_box, "b");
  caf::send_as(p, cl, cluster_hello{cluster_protocol, "b", 0, ""});
  consume_all();
  caf::send_as(p, cl,
               cluster_delta{"b", false,
                             {live("colon", 4, "b", "$y$j9T$salt$a:b"),
                              live("nohash", 4, "b", "plain"),
                              live("spaced", 4, "b c", "$y$j9T$salt$ok"),
                              live("good", 4, "b", "$y$j9T$salt$good")}});
  consume_all();
  CAF_CHECK_EQUAL(users(), (std::vector<std::string>{"demo", "good"}));
  auto& st = state_of(cl);
  CAF_CHECK(st.replica.current("colon") == nullptr);
  CAF_CHECK(st.replica.current("nohash") == nullptr);
  CAF_CHECK(st.replica.current("spaced") == nullptr);
}

CAF_TEST(a winning entry from one peer is passed on to the others once) {
  auto cl = spawn_cluster("a");
  auto b = sys.spawn(peer_box, "b");
  auto c = sys.spawn(peer_box, "c");
  for (auto& p : {b, c})
    caf::send_as(p, cl, cluster_hello{cluster_protocol, p == b ? "b" : "c", 0, ""});
  consume_all();
  auto sent_b = box(b).deltas.size();
  auto sent_c = box(c).deltas.size();
  auto delta = cluster_delta{"b", false, {live("erin", 5, "b", "$y$j9T$salt$erin")}};
  caf::send_as(b, cl, delta);
  consume_all();
  // c hears it from a at once; b, where it came from, does not.
  CAF_REQUIRE_EQUAL(box(c).deltas.size(), sent_c + 1);
  CAF_CHECK_EQUAL(shape(box(c).deltas.back().entries),
                  (std::vector<std::string>{"erin@5/b $y$j9T$salt$erin"}));
  CAF_CHECK_EQUAL(box(b).deltas.size(), sent_b);
  // The same entry again (from c, which passes it on too): no change, no
  // forwarding, so the rounds end.
  caf::send_as(c, cl, cluster_delta{"c", false, {live("erin", 5, "b", "$y$j9T$salt$erin")}});
  consume_all();
  CAF_CHECK_EQUAL(box(b).deltas.size(), sent_b);
  CAF_CHECK_EQUAL(box(c).deltas.size(), sent_c + 1);
}

CAF_TEST(conflicting writes resolve the same way in either order) {
  for (bool c_first : {true, false}) {
    auto cl = spawn_cluster("a");
    auto b = sys.spawn(peer_box, "b");
    auto c = sys.spawn(peer_box, "c");
    auto from_b = cluster_delta{"b", false, {live("x", 5, "b", "$y$j9T$salt$b")}};
    auto from_c = cluster_delta{"c", false, {live("x", 5, "c", "$y$j9T$salt$c")}};
    caf::send_as(c_first ? c : b, cl, c_first ? from_c : from_b);
    consume_all();
    caf::send_as(c_first ? b : c, cl, c_first ? from_b : from_c);
    consume_all();
    settle();
    auto& st = state_of(cl);
    CAF_CHECK(st.replica.wanted().empty());
    CAF_CHECK_EQUAL(st.replica.confirmed().at("x").hash, "$y$j9T$salt$c");
    // A delete at a later counter wins over both.
    caf::send_as(b, cl, cluster_delta{"b", false, {dead("x", 6, "b")}});
    consume_all();
    settle();
    CAF_CHECK_EQUAL(users(), (std::vector<std::string>{"demo"}));
    CAF_CHECK(st.replica.confirmed().at("x").deleted);
    caf::anon_send_exit(cl, caf::exit_reason::user_shutdown);
    consume_all();
  }
}

CAF_TEST(a peer that vanishes is forgotten and named in the metrics) {
  auto cl = spawn_cluster("a", {config::cluster_peer{"10.9.9.9", 7700, "10.9.9.9:7700"}});
  auto p = sys.spawn(peer_box, "b");
  caf::send_as(p, cl, cluster_hello{cluster_protocol, "b", 0, ""});
  consume_all();
  CAF_CHECK_EQUAL(state_of(cl).peers.size(), 1u);
  auto m = ask<cluster_metrics>(cl, cmetrics_atom_v);
  CAF_REQUIRE_EQUAL(m.nodes.size(), 2u);
  CAF_CHECK_EQUAL(m.nodes[0].node, "a");
  CAF_CHECK_EQUAL(m.nodes[0].users, 1u);
  CAF_CHECK_EQUAL(m.nodes[1].node, "b");
  CAF_CHECK_EQUAL(m.nodes[1].active, 2u);
  CAF_CHECK_EQUAL(m.missing, (std::vector<std::string>{"10.9.9.9:7700"}));
  // The configured peer dials this node: no longer missing.
  auto q = sys.spawn(peer_box, "q");
  caf::send_as(q, cl, cluster_hello{cluster_protocol, "q", 0, "10.9.9.9:7700"});
  consume_all();
  m = ask<cluster_metrics>(cl, cmetrics_atom_v);
  CAF_CHECK_EQUAL(m.nodes.size(), 3u);
  CAF_CHECK(m.missing.empty());
  caf::anon_send_exit(q, caf::exit_reason::kill);
  caf::anon_send_exit(p, caf::exit_reason::kill);
  consume_all();
  CAF_CHECK(state_of(cl).peers.empty());
  // Changes go on without it.
  caf::anon_send(reg, reload_atom_v, std::vector<config::user_entry>{});
  consume_all();
  settle();
  CAF_CHECK_EQUAL(shape(state_of(cl).replica.all()),
                  (std::vector<std::string>{"demo@2/a dead"}));
  m = ask<cluster_metrics>(cl, cmetrics_atom_v);
  CAF_CHECK_EQUAL(m.nodes.size(), 1u);
}

CAF_TEST(a peer with another protocol version is ignored) {
  auto cl = spawn_cluster("a");
  auto p = sys.spawn(peer_box, "b");
  caf::send_as(p, cl, cluster_hello{cluster_protocol + 1, "b", 0, ""});
  consume_all();
  CAF_CHECK(box(p).deltas.empty());
  CAF_CHECK(state_of(cl).peers.empty());
}

CAF_TEST(digests that differ bring the full state) {
  auto cl = spawn_cluster("a");
  auto p = sys.spawn(peer_box, "b");
  auto mine = state_of(cl).replica.digest();
  caf::send_as(p, cl, cluster_digest{"b", mine.count, mine.hash});
  consume_all();
  CAF_CHECK(box(p).deltas.empty());
  caf::send_as(p, cl, cluster_digest{"b", 0, 0});
  consume_all();
  CAF_REQUIRE_EQUAL(box(p).deltas.size(), 1u);
  CAF_CHECK(box(p).deltas[0].full);
}

CAF_TEST(a setting applied to the cluster names who applied and who did not answer) {
  auto cl = spawn_cluster("a", {config::cluster_peer{"10.9.9.9", 7700, "10.9.9.9:7700"}});
  auto b = spawn_cluster("b");
  caf::send_as(b, cl, cluster_hello{cluster_protocol, "b", 0, ""});
  consume_all();
  auto r = ask<cluster_applied>(cl, csetting_atom_v, uint8_t{1}, std::string{"50"});
  CAF_REQUIRE_EQUAL(r.nodes.size(), 2u);
  CAF_CHECK_EQUAL(r.nodes[0].node, "a");
  CAF_CHECK_EQUAL(r.nodes[0].status, 0u);
  CAF_CHECK_EQUAL(r.nodes[1].node, "b");
  CAF_CHECK_EQUAL(r.nodes[1].status, 0u);
  CAF_CHECK_EQUAL(r.missing, (std::vector<std::string>{"10.9.9.9:7700"}));
  r = ask<cluster_applied>(cl, csetting_atom_v, uint8_t{1}, std::string{"500"});
  CAF_CHECK_EQUAL(r.nodes[0].status, static_cast<uint8_t>(node_setting::out_of_range));
  r = ask<cluster_applied>(cl, csetting_atom_v, uint8_t{2}, std::string{"x"});
  CAF_CHECK_EQUAL(r.nodes[1].status, static_cast<uint8_t>(node_setting::out_of_range));
  r = ask<cluster_applied>(cl, csetting_atom_v, uint8_t{3}, std::string{"cat"});
  CAF_CHECK_EQUAL(r.nodes[1].status, static_cast<uint8_t>(node_setting::disabled));
}

CAF_TEST(replicated entries are written to the users file and keep local limits) {
  char tmpl[] = "/tmp/cluster-test-XXXXXX";
  CAF_REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string path = std::string{tmpl} + "/users.txt";
  auto h1 = config::hash_password("one");
  auto h2 = config::hash_password("two");
  CAF_REQUIRE(h1 && h2);
  auto demo = plain_entry("demo", config::role_socks, *h1);
  demo.sessions = 3; // a local limit (users file option)
  auto persist = sys.spawn(persister);
  auto r = sys.spawn(registry, std::vector<config::user_entry>{demo},
                     std::vector<hasher_actor>{}, registry_config{path, 100}, persist);
  auto put = ask<add_result>(r, apply_atom_v, live("demo", 5, "b", *h2));
  CAF_CHECK_EQUAL(put, add_result::ok);
  CAF_CHECK_EQUAL(ask<add_result>(r, apply_atom_v, live("eve", 6, "b", *h1)),
                  add_result::ok);
  auto loaded = config::load_users(path);
  CAF_REQUIRE(std::holds_alternative<std::vector<config::user_entry>>(loaded));
  auto& users = std::get<std::vector<config::user_entry>>(loaded);
  CAF_REQUIRE_EQUAL(users.size(), 2u);
  CAF_CHECK_EQUAL(users[0].name, "demo");
  CAF_CHECK_EQUAL(users[0].hash, *h2);
  CAF_CHECK_EQUAL(users[0].sessions, 3);
  CAF_CHECK_EQUAL(users[1].name, "eve");
  // A tombstone removes the user from the file; one for nobody is a no-op.
  CAF_CHECK_EQUAL(ask<add_result>(r, apply_atom_v, dead("demo", 7, "c")), add_result::ok);
  CAF_CHECK_EQUAL(ask<add_result>(r, apply_atom_v, dead("nobody", 8, "c")),
                  add_result::ok);
  loaded = config::load_users(path);
  CAF_REQUIRE(std::holds_alternative<std::vector<config::user_entry>>(loaded));
  CAF_CHECK_EQUAL(std::get<std::vector<config::user_entry>>(loaded).size(), 1u);
  // Invalid entries are refused without a write.
  CAF_CHECK_EQUAL(ask<add_result>(r, apply_atom_v, live("bad name", 9, "c", *h1)),
                  add_result::invalid);
  CAF_CHECK_EQUAL(ask<add_result>(r, apply_atom_v, live("x", 9, "c", "")),
                  add_result::invalid);
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(persist, caf::exit_reason::user_shutdown);
  consume_all();
  std::remove(path.c_str());
  rmdir(tmpl);
}

CAF_TEST_FIXTURE_SCOPE_END()
