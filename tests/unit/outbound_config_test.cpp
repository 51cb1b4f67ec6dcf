// The outbound keys of proxy.ini ([outbound], [outbound.NAME], the advertise
// keys of [socks]), their errors (FILE:LINE: key), their reload, and the
// users file's `outbound=NAME` option.
#define CAF_SUITE outbound_config
#include <caf/test/unit_test_impl.hpp>

#include <string>
#include <variant>

#include "config/config.hpp"
#include "config/reload.hpp"
#include "config/users.hpp"

using namespace px;
using namespace px::config;

namespace {

const char* minimal = "[socks]\nlisten = 127.0.0.1:1080\nauth = none\n";

std::string error_of(const std::string& text) {
  auto res = parse(text, "t.ini");
  if (auto err = std::get_if<std::string>(&res))
    return *err;
  return "OK";
}

proxy_config config_of(const std::string& text) {
  auto res = parse(text, "t.ini");
  if (auto err = std::get_if<std::string>(&res))
    CAF_FAIL("does not parse: " << *err);
  return std::get<proxy_config>(res);
}

std::string host(const std::optional<net::ip_endpoint>& x) {
  return x ? x->host_string() : "-";
}

} // namespace

CAF_TEST(no outbound keys: an empty default profile and no advertise address) {
  auto cfg = config_of(minimal);
  CAF_CHECK(cfg.outbound.trivial());
  CAF_CHECK(cfg.outbound.named.empty());
  CAF_CHECK(!cfg.udp_advertise);
  CAF_CHECK(!cfg.bind_advertise);
}

CAF_TEST(the default profile and named profiles parse) {
  auto cfg = config_of(std::string{minimal}
                       + "udp_advertise_address = 203.0.113.5\n"
                         "bind_advertise_address = 2001:db8::5\n"
                         "[outbound]\naddress4 = 192.0.2.10\naddress6 = 2001:db8::10\n"
                         "interface = eth1\nmark = 0x2a\n"
                         "[outbound.office]\naddress4 = 198.51.100.7\n"
                         "[outbound.v6-only]\naddress6 = ::1\nmark = 7\n"
                         "[outbound.plain]\n");
  CAF_CHECK_EQUAL(host(cfg.udp_advertise), "203.0.113.5");
  CAF_CHECK_EQUAL(host(cfg.bind_advertise), "2001:db8::5");
  auto& d = cfg.outbound.fallback;
  CAF_CHECK_EQUAL(host(d.address4), "192.0.2.10");
  CAF_CHECK_EQUAL(host(d.address6), "2001:db8::10");
  CAF_CHECK_EQUAL(d.interface, "eth1");
  CAF_CHECK_EQUAL(d.mark.value_or(0), 42u);
  CAF_REQUIRE_EQUAL(cfg.outbound.named.size(), 3u);
  auto office = cfg.outbound.find("office");
  CAF_REQUIRE(office != nullptr);
  // A named profile does not inherit the default's keys.
  CAF_CHECK_EQUAL(host(office->address4), "198.51.100.7");
  CAF_CHECK(!office->address6 && office->interface.empty() && !office->mark);
  CAF_CHECK(office->refuses(true));
  auto v6 = cfg.outbound.find("v6-only");
  CAF_REQUIRE(v6 != nullptr);
  CAF_CHECK(v6->refuses(false) && !v6->refuses(true));
  CAF_CHECK_EQUAL(v6->mark.value_or(0), 7u);
  CAF_CHECK(cfg.outbound.find("plain") != nullptr && cfg.outbound.find("plain")->empty());
  CAF_CHECK(cfg.outbound.find("nope") == nullptr);
}

CAF_TEST(outbound errors name file line and key) {
  auto with = [](const std::string& tail) { return error_of(std::string{minimal} + tail); };
  CAF_CHECK_EQUAL(with("[outbound]\naddress4 = 2001:db8::1\n"),
                  "t.ini:5: key 'address4': '2001:db8::1' is not an IPv4 address (without port)");
  CAF_CHECK_EQUAL(with("[outbound]\naddress6 = 10.0.0.1\n"),
                  "t.ini:5: key 'address6': '10.0.0.1' is not an IPv6 address (without port)");
  CAF_CHECK_EQUAL(with("[outbound]\naddress4 = 10.0.0.1:80\n"),
                  "t.ini:5: key 'address4': '10.0.0.1:80' is not an IPv4 address (without port)");
  CAF_CHECK_EQUAL(with("[outbound]\naddress4 = 0.0.0.0\n"),
                  "t.ini:5: key 'address4': '0.0.0.0' is not an IPv4 address (without port)");
  CAF_CHECK_EQUAL(with("[outbound]\ninterface = a-very-long-device-name\n"),
                  "t.ini:5: key 'interface': 'a-very-long-device-name' is not a network "
                  "interface name (1 to 15 bytes)");
  CAF_CHECK_EQUAL(with("[outbound]\nmark = 4294967296\n"),
                  "t.ini:5: key 'mark': '4294967296' is not a mark from 0 to 4294967295 "
                  "(or 0x hex)");
  CAF_CHECK_EQUAL(with("[outbound]\nmark = 0x\n"),
                  "t.ini:5: key 'mark': '0x' is not a mark from 0 to 4294967295 (or 0x hex)");
  CAF_CHECK_EQUAL(with("[outbound]\nmark = 1\nmark = 2\n"), "t.ini:6: key 'mark': given twice");
  CAF_CHECK_EQUAL(with("[outbound.a]\nmark = 1\n[outbound.b]\nmark = 2\n"), "OK");
  CAF_CHECK_EQUAL(with("[outbound.a]\nmark = 1\nmark = 2\n"), "t.ini:6: key 'mark': given twice");
  CAF_CHECK_EQUAL(with("[outbound.a]\nsource = 1.2.3.4\n"),
                  "t.ini:5: key 'source': unknown key in [outbound.a]");
  CAF_CHECK_EQUAL(with("[outbound.a]\naddress4 = ::1\n"),
                  "t.ini:5: key 'address4': '::1' is not an IPv4 address (without port)");
  CAF_CHECK_EQUAL(with("[outbound.]\n"),
                  "t.ini:4: [outbound.]: a profile name is 1 to 64 letters, digits, '_' or '-'");
  CAF_CHECK_EQUAL(with("[outbound.a b]\n"),
                  "t.ini:4: [outbound.a b]: a profile name is 1 to 64 letters, digits, '_' or "
                  "'-'");
  CAF_CHECK_EQUAL(with("udp_advertise_address = nat.example\n"),
                  "t.ini:4: key 'udp_advertise_address': 'nat.example' is not an IP address "
                  "(without port)");
  CAF_CHECK_EQUAL(with("bind_advertise_address = 0.0.0.0\n"),
                  "t.ini:4: key 'bind_advertise_address': '0.0.0.0' is not an IP address "
                  "(without port)");
}

CAF_TEST(outbound keys and advertise addresses reload without a restart) {
  auto running = config_of(std::string{minimal} + "[outbound]\naddress4 = 127.0.0.2\n");
  auto next = config_of(std::string{minimal}
                        + "udp_advertise_address = 203.0.113.5\n"
                          "[outbound]\naddress4 = 127.0.0.3\n[outbound.office]\nmark = 1\n");
  auto plan = plan_reload(running, next);
  CAF_CHECK(plan.restart_needed.empty());
  CAF_CHECK_EQUAL(join(plan.changed), "udp_advertise_address, address4, address6, interface, mark");
  CAF_CHECK(plan.next.outbound == next.outbound);
  CAF_CHECK(plan_reload(next, next).changed.empty());
}

CAF_TEST(the users file carries outbound and writes it back byte for byte) {
  auto hash = hash_password("pw");
  CAF_REQUIRE(hash);
  auto text = "# name:roles:hash (written by the proxy; edit with care)\n"
              "alice:socks:" + *hash + ":group=staff,sessions=2,outbound=office\n"
              "bob:socks:" + *hash + ":outbound=v6-only\n"
              "carol:socks:" + *hash + "\n";
  auto res = parse_users(text, "u.txt");
  CAF_REQUIRE(std::holds_alternative<std::vector<user_entry>>(res));
  auto& users = std::get<std::vector<user_entry>>(res);
  CAF_CHECK_EQUAL(users[0].outbound, "office");
  CAF_CHECK_EQUAL(users[1].outbound, "v6-only");
  CAF_CHECK_EQUAL(users[2].outbound, "");
  CAF_CHECK_EQUAL(format_users(users), text);
  auto err = [&](const std::string& opts) {
    auto r = parse_users("a:socks:" + *hash + ":" + opts + "\n", "u.txt");
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "OK";
  };
  CAF_CHECK_EQUAL(err("outbound=a b"),
                  "u.txt:1: user 'a': outbound: 'a b' is not a profile name (letters, "
                  "digits, '_', '-')");
  CAF_CHECK_EQUAL(err("outbound="), "u.txt:1: user 'a': outbound: '' is not a profile name "
                                    "(letters, digits, '_', '-')");
  CAF_CHECK_EQUAL(err("outbound=x,outbound=y"), "u.txt:1: user 'a': option 'outbound' given twice");
}

CAF_TEST(a rule picks an outbound profile by outbound= or by via=) {
  auto office = std::string{minimal} + "[outbound.office]\naddress4 = 198.51.100.7\n";
  auto cfg = config_of(office + "[rules]\nrule = pass port=25 outbound=office\n"
                                "rule = pass port=26 via=office\nrule = pass\n");
  CAF_REQUIRE_EQUAL(cfg.rules.size(), 3u);
  CAF_CHECK_EQUAL(cfg.rules[0].outbound, "office");
  CAF_CHECK_EQUAL(cfg.rules[1].via, "office");
  CAF_CHECK_EQUAL(net::to_string(cfg.rules[0]), "pass port=25 outbound=office");
  // Unknown profiles, block rules and names shared with parents are errors
  // with their line.
  CAF_CHECK_EQUAL(error_of(office + "[rules]\nrule = pass outbound=home\n"),
                  "t.ini:7: key 'rule': outbound 'home' names no [outbound.home] section");
  CAF_CHECK_EQUAL(error_of(office + "[rules]\nrule = block outbound=office\n"),
                  "t.ini:7: key 'rule': only a pass rule takes via= or outbound=");
  CAF_CHECK_EQUAL(error_of(office + "[rules]\nrule = pass outbound=office,x\n"),
                  "t.ini:7: key 'rule': outbound: takes one name");
  CAF_CHECK_EQUAL(error_of(office + "[upstream]\nparent = office socks5://127.0.0.1:1\n"),
                  "t.ini:7: key 'parent': 'office' is also the name of [outbound.office] "
                  "(a rule's via= could mean either)");
}

CAF_TEST(a listener carries advertised addresses of its own) {
  auto cfg = config_of("[socks]\nlisten = 0.0.0.0:1080 udp_advertise=203.0.113.5\n"
                       "listen = [::]:1081 advertise=2001:db8::5\n"
                       "listen = 127.0.0.1:1082\nauth = none\n");
  CAF_REQUIRE_EQUAL(cfg.listen.size(), 3u);
  CAF_CHECK_EQUAL(cfg.listen[1].to_string(), "[::]:1081");
  CAF_REQUIRE_EQUAL(cfg.per_listener.size(), 2u);
  CAF_CHECK_EQUAL(cfg.per_listener[0].listen.to_string(), "0.0.0.0:1080");
  CAF_CHECK_EQUAL(host(cfg.per_listener[0].udp), "203.0.113.5");
  CAF_CHECK_EQUAL(host(cfg.per_listener[0].bind), "-");
  CAF_CHECK_EQUAL(host(cfg.per_listener[1].udp), "2001:db8::5");
  CAF_CHECK_EQUAL(host(cfg.per_listener[1].bind), "2001:db8::5");
  CAF_CHECK_EQUAL(error_of("[socks]\nlisten = 0.0.0.0:1080 nat=1.2.3.4\n"),
                  "t.ini:2: key 'listen': unexpected word 'nat=1.2.3.4' (after the "
                  "address: udp_advertise=IP, bind_advertise=IP, advertise=IP)");
  CAF_CHECK_EQUAL(error_of("[socks]\nlisten = 0.0.0.0:1080 advertise=1.2.3.4:5\n"),
                  "t.ini:2: key 'listen': advertise: '1.2.3.4:5' is not an IP address "
                  "(without port)");
  // New advertise words are taken by a reload; a new address needs a restart.
  auto next = config_of("[socks]\nlisten = 0.0.0.0:1080 udp_advertise=203.0.113.9\n"
                        "listen = [::]:1081 advertise=2001:db8::5\n"
                        "listen = 127.0.0.1:1082\nauth = none\n");
  auto plan = plan_reload(cfg, next);
  CAF_CHECK_EQUAL(join(plan.changed), "listen");
  CAF_CHECK(plan.restart_needed.empty());
  CAF_CHECK_EQUAL(host(plan.next.per_listener[0].udp), "203.0.113.9");
}
