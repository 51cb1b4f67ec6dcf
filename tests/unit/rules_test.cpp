// Access rules: the syntax of `[rules]` and rule matching as a table (first
// match, default, names before and after resolution, ports, CIDRs of both
// families, users, groups, commands).
#define CAF_SUITE rules
#include <caf/test/unit_test_impl.hpp>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "config/rules_parse.hpp"
#include "net/rules.hpp"

using namespace px;
using namespace px::net;

namespace {

const char* head = "[socks]\nlisten = 127.0.0.1:1080\nauth = none\n";

/// The rules of `[rules]` text `body` (deny_destination lines may precede
/// it in `socks`).
rule_set rules_of(const std::string& body, const std::string& socks = "") {
  auto res = config::parse(head + socks + "[rules]\n" + body, "t.ini");
  if (auto err = std::get_if<std::string>(&res))
    CAF_FAIL("does not parse: " << *err);
  auto& cfg = std::get<config::proxy_config>(res);
  return rule_set{cfg.deny_destinations, cfg.rules, cfg.rules_default};
}

std::string error_of(const std::string& body) {
  auto res = config::parse(head + std::string{"[rules]\n"} + body, "t.ini");
  if (auto err = std::get_if<std::string>(&res))
    return *err;
  return "OK";
}

ip_endpoint ip(const char* text, uint16_t port = 0) {
  auto ep = ip_endpoint::parse(text, port);
  if (!ep)
    CAF_FAIL("bad address " << text);
  return *ep;
}

/// One row: who asks for what, and the verdict (index: 1-based rule, 0:
/// the default).
struct row {
  const char* what;
  rule_command cmd;
  const char* client;
  const char* user;
  const char* name; // "" for none
  const char* address; // "" for not known
  int port; // -1 for not known
  rule_verdict::kind_t kind;
  int index;
};

void check_rows(const rule_set& rules, const std::vector<row>& rows) {
  for (auto& r : rows) {
    CAF_MESSAGE(r.what);
    rule_query q;
    q.command = r.cmd;
    q.client = ip(r.client);
    q.user = r.user;
    q.name = r.name;
    ip_endpoint dst;
    if (*r.address != '\0') {
      dst = ip(r.address, r.port < 0 ? 0 : static_cast<uint16_t>(r.port));
      q.address = &dst;
    }
    q.port_known = r.port >= 0;
    q.port = r.port < 0 ? 0 : static_cast<uint16_t>(r.port);
    auto v = rules.check(q);
    CAF_CHECK_EQUAL(static_cast<int>(v.kind), static_cast<int>(r.kind));
    CAF_CHECK_EQUAL(v.index + 1, r.index);
  }
}

/// One row of a group table: a CONNECT to 1.2.3.4:80 from 1.1.1.1 by
/// `user` in `groups` (comma-separated; "" for none; nullptr: no list).
struct group_row {
  const char* what;
  const char* user;
  const char* groups;
  rule_verdict::kind_t kind;
  int index;
};

std::vector<std::string> split_groups(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    start = comma == std::string::npos ? text.size() : comma + 1;
  }
  return out;
}

void check_group_rows(const rule_set& rules, const std::vector<group_row>& rows) {
  auto dst = ip("1.2.3.4", 80);
  for (auto& r : rows) {
    CAF_MESSAGE(r.what);
    rule_subject subject{nullptr, ip("1.1.1.1"), r.user, {}};
    if (r.groups != nullptr)
      subject.groups = split_groups(r.groups);
    auto q = subject.query(cmd_connect);
    if (r.groups == nullptr)
      q.groups = nullptr;
    q.address = &dst;
    q.port = 80;
    q.port_known = true;
    auto v = rules.check(q);
    CAF_CHECK_EQUAL(static_cast<int>(v.kind), static_cast<int>(r.kind));
    CAF_CHECK_EQUAL(v.index + 1, r.index);
  }
}

constexpr auto pass = rule_verdict::pass;
constexpr auto block = rule_verdict::block;
constexpr auto undecided = rule_verdict::undecided;

} // namespace

CAF_TEST(first match wins and the default decides the rest) {
  auto rules = rules_of("rule = block port=25\n"
                        "rule = pass user=alice dest=*.example.com port=443 command=connect\n"
                        "rule = block dest=10.0.0.0/8,fd00::/8\n"
                        "rule = pass client=192.168.0.0/16 user=bob,carol\n"
                        "default = block\n");
  check_rows(rules, {
    {"SMTP is blocked for everyone", cmd_connect, "192.168.1.2", "alice", "", "1.2.3.4", 25, block, 1},
    {"SMTP by name is blocked before DNS", cmd_connect, "192.168.1.2", "alice", "mx.example.com", "", 25, block, 1},
    {"alice reaches *.example.com on 443", cmd_connect, "1.1.1.1", "alice", "WWW.Example.COM", "", 443, pass, 2},
    {"a trailing dot changes nothing", cmd_connect, "1.1.1.1", "alice", "www.example.com.", "", 443, pass, 2},
    {"*.example.com is not example.com", cmd_connect, "1.1.1.1", "alice", "example.com", "1.2.3.4", 443, block, 0},
    {"nor a name that merely ends alike", cmd_connect, "1.1.1.1", "alice", "badexample.com", "1.2.3.4", 443, block, 0},
    {"alice on another port falls to the default", cmd_connect, "1.1.1.1", "alice", "www.example.com", "1.2.3.4", 80, block, 0},
    {"alice's rule is connect only", cmd_udp, "1.1.1.1", "alice", "www.example.com", "1.2.3.4", 443, block, 0},
    {"bob from the LAN passes", cmd_connect, "192.168.7.7", "bob", "", "8.8.8.8", 53, pass, 4},
    {"bob from outside does not", cmd_connect, "10.1.1.1", "bob", "", "8.8.8.8", 53, block, 0},
    {"a private v4 network is blocked for bob", cmd_connect, "192.168.7.7", "bob", "", "10.2.3.4", 80, block, 3},
    {"a private v6 network is blocked too", cmd_connect, "192.168.7.7", "bob", "", "fd12::1", 80, block, 3},
    {"a v4-mapped address is its v4 address", cmd_connect, "192.168.7.7", "bob", "", "::ffff:10.0.0.1", 80, block, 3},
    {"a name blocked whatever its address needs no DNS", cmd_connect, "1.1.1.1", "alice", "www.example.com", "", 80, block, 0},
    {"a name the network rule cannot judge yet", cmd_connect, "192.168.1.1", "bob", "www.example.com", "", 80, undecided, 3},
    {"no user matches no user rule", cmd_connect, "192.168.7.7", "", "", "8.8.8.8", 53, block, 0},
  });
}

CAF_TEST(a name is decided by name first and again by every address) {
  auto rules = rules_of("rule = block dest=10.0.0.0/8\n"
                        "rule = pass dest=.corp.example\n"
                        "rule = block dest=*.example\n");
  check_rows(rules, {
    {"before DNS the network rule is undecided", cmd_connect, "1.1.1.1", "", "a.corp.example", "", 80, undecided, 1},
    {"the name resolved into the blocked network", cmd_connect, "1.1.1.1", "", "a.corp.example", "10.9.9.9", 80, block, 1},
    {"the name resolved elsewhere passes by name", cmd_connect, "1.1.1.1", "", "a.corp.example", "1.2.3.4", 80, pass, 2},
    {".suffix matches the name itself", cmd_connect, "1.1.1.1", "", "corp.example", "1.2.3.4", 80, pass, 2},
    {"an address literal never matches a name rule", cmd_connect, "1.1.1.1", "", "", "1.2.3.4", 80, pass, 0},
    {"a name blocked by name whatever its address", cmd_connect, "1.1.1.1", "", "x.example", "", 80, block, 3},
    {"another name below *.example is blocked after DNS", cmd_connect, "1.1.1.1", "", "x.example", "1.2.3.4", 80, block, 3},
  });
}

CAF_TEST(ranges and commands and what a request knows before its destination) {
  auto rules = rules_of("rule = block command=bind\n"
                        "rule = block command=udp port=1-1023\n"
                        "rule = pass port=6000-6063,8080 log\n"
                        "default = block\n");
  check_rows(rules, {
    {"every BIND is blocked", cmd_bind, "1.1.1.1", "", "", "", -1, block, 1},
    {"a UDP ASSOCIATE waits for its datagrams", cmd_udp, "1.1.1.1", "", "", "", -1, undecided, 2},
    {"a datagram to a low port is blocked", cmd_udp, "1.1.1.1", "", "", "9.9.9.9", 53, block, 2},
    {"the range's ends are inside", cmd_connect, "1.1.1.1", "", "", "9.9.9.9", 6063, pass, 3},
    {"and its neighbours outside", cmd_connect, "1.1.1.1", "", "", "9.9.9.9", 6064, block, 0},
    {"a single port of a list", cmd_connect, "1.1.1.1", "", "", "9.9.9.9", 8080, pass, 3},
  });
}

CAF_TEST(deny_destination is a block rule in front of the rules) {
  auto rules = rules_of("rule = pass dest=10.1.0.0/16\n",
                        "deny_destination = 10.0.0.0/8\ndeny_destination = ::1\n");
  CAF_CHECK_EQUAL(rules.rules().size(), 3u);
  check_rows(rules, {
    {"the shorthand comes first", cmd_connect, "1.1.1.1", "", "", "10.1.2.3", 80, block, 1},
    {"an IPv6 shorthand", cmd_connect, "1.1.1.1", "", "", "::1", 80, block, 2},
    {"0.0.0.0 is the local host, not a way around", cmd_connect, "1.1.1.1", "", "", "0.0.0.0", 80, pass, 0},
  });
  CAF_CHECK_EQUAL(rules.describe(),
                  "rule 1: block dest=10.0.0.0/8  (deny_destination)\n"
                  "rule 2: block dest=::1/128  (deny_destination)\n"
                  "rule 3: pass dest=10.1.0.0/16  (line 7)\n"
                  "default: pass\n");
}

CAF_TEST(group rules hold for a logged-in user in any listed group) {
  auto rules = rules_of("rule = block group=banned\n"
                        "rule = pass user=alice group=ops\n"
                        "rule = pass group=staff,admins\n"
                        "default = block\n");
  check_group_rows(rules, {
    {"a member of a listed group passes", "bob", "staff", pass, 3},
    {"the second group of the list", "bob", "admins", pass, 3},
    {"one of several groups of the user", "bob", "guests,admins,x", pass, 3},
    {"no listed group", "bob", "guests", block, 0},
    {"group names are exact", "bob", "Staff,staf,staffs", block, 0},
    {"a user without groups", "bob", "", block, 0},
    {"a query without a group list", "bob", nullptr, block, 0},
    {"no login never matches a group", "", "staff", block, 0},
    {"a blocked group comes first", "carol", "staff,banned", block, 1},
    {"user and group together", "alice", "ops", pass, 2},
    {"the user alone is not enough", "alice", "dev", block, 0},
    {"nor the group alone", "dave", "ops", block, 0},
  });
}

CAF_TEST(the query of a subject points at its groups) {
  rule_subject subject;
  subject.user = "bob";
  subject.groups = {"staff"};
  auto q = subject.query(cmd_udp);
  CAF_CHECK(q.groups == &subject.groups);
  CAF_CHECK_EQUAL(q.user, "bob");
  auto rules = std::make_shared<const rule_set>(
    std::vector<cidr>{}, rules_of("rule = block group=staff\n").rules(),
    rule_action::pass);
  subject.rules = rules;
  CAF_CHECK(subject.blocks(subject.query(cmd_connect)));
  subject.groups = {"other"};
  CAF_CHECK(!subject.blocks(subject.query(cmd_connect)));
}

CAF_TEST(no rules and a passing default is trivial) {
  CAF_CHECK(rules_of("").trivial());
  CAF_CHECK(!rules_of("default = block\n").trivial());
}

CAF_TEST(rules print as they were understood and parse back) {
  auto text = "block command=connect,udp client=10.0.0.0/8,::/0 user=alice,bob group=ops,dev "
              "dest=192.0.2.0/24,*.example.com,.corp,host.lan port=25,6000-6063 log";
  net::rule r;
  CAF_REQUIRE(!config::parse_rule(text, r));
  CAF_CHECK_EQUAL(to_string(r), text);
  net::rule again;
  CAF_REQUIRE(!config::parse_rule(to_string(r), again));
  CAF_CHECK(again == r);
}

CAF_TEST(rule errors name the file and line) {
  CAF_CHECK_EQUAL(error_of("rule = allow port=25\n"),
                  "t.ini:5: key 'rule': a rule starts with pass or block");
  CAF_CHECK_EQUAL(error_of("rule = block port=70000\n"),
                  "t.ini:5: key 'rule': port: '70000' is not a port or a range (e.g. 25, 6000-6063)");
  CAF_CHECK_EQUAL(error_of("rule = block port=30-20\n"),
                  "t.ini:5: key 'rule': port: '30-20' is not a port or a range (e.g. 25, 6000-6063)");
  CAF_CHECK_EQUAL(error_of("rule = block command=ping\n"),
                  "t.ini:5: key 'rule': command: 'ping' is not a command (connect, bind, udp)");
  CAF_CHECK_EQUAL(error_of("\nrule = pass\nrule = block client=10.0.0.0/33\n"),
                  "t.ini:7: key 'rule': client: '10.0.0.0/33' is not an address block (e.g. 10.0.0.0/8)");
  CAF_CHECK_EQUAL(error_of("rule = block dest=a..b\n"),
                  "t.ini:5: key 'rule': dest: 'a..b' is not an address block or a name (host, *.suffix or .suffix)");
  CAF_CHECK_EQUAL(error_of("rule = block group=staff\n"), "OK");
  CAF_CHECK_EQUAL(error_of("rule = block group=staff,a=b\n"),
                  "t.ini:5: key 'rule': group: 'a=b' is not a group name (like a user name, without ',' or '=')");
  CAF_CHECK_EQUAL(error_of("rule = block group=staff,\n"),
                  "t.ini:5: key 'rule': group: '' is not a group name (like a user name, without ',' or '=')");
  CAF_CHECK_EQUAL(error_of("rule = block group=a group=b\n"),
                  "t.ini:5: key 'rule': condition 'group' given twice (use a list: a,b)");
  CAF_CHECK_EQUAL(error_of("rule = block dst=1.2.3.4\n"),
                  "t.ini:5: key 'rule': unknown condition 'dst' (known: command, client, user, group, dest, port, via, outbound)");
  CAF_CHECK_EQUAL(error_of("rule = block port=25 port=26\n"),
                  "t.ini:5: key 'rule': condition 'port' given twice (use a list: a,b)");
  CAF_CHECK_EQUAL(error_of("rule = block log port=25\n"),
                  "t.ini:5: key 'rule': 'log' must be the last word of a rule");
  CAF_CHECK_EQUAL(error_of("rule = block port=\n"),
                  "t.ini:5: key 'rule': condition 'port' has no value");
  CAF_CHECK_EQUAL(error_of("default = deny\n"),
                  "t.ini:5: key 'default': 'deny' is not one of pass, block");
  CAF_CHECK_EQUAL(error_of("default = pass\ndefault = block\n"),
                  "t.ini:6: key 'default': given twice");
}
