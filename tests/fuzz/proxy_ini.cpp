// Fuzz target: config::parse on the text of a proxy.ini.
#include <sstream>
#include <variant>

#include "config/config.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace px;
using namespace px::config;
using namespace px::fuzz;

namespace {

const std::string path = "/fuzz/proxy.ini";

std::string cidr_text(const net::cidr& c) {
  return c.base.host_string() + "/" + std::to_string(c.prefix);
}

std::string listener_text(const std::optional<net::ip_endpoint>& ep) {
  return ep ? ep->to_string() : "off";
}

/// Writes every setting of `c` as proxy.ini text, in a fixed order and form
/// (durations in ms, sizes in bytes): equal configs give equal texts.
std::string write_ini(const proxy_config& c) {
  static const char* auth_names[] = {"userpass", "none", "any"};
  static const char* transport_names[] = {"auto", "kernel", "udp"};
  std::ostringstream os;
  os << "[socks]\n";
  for (auto& ep : c.listen)
    os << "listen = " << ep.to_string() << "\n";
  os << "auth = " << auth_names[static_cast<int>(c.auth)] << "\n";
  if (!c.users_file.empty())
    os << "users_file = " << c.users_file << "\n";
  os << "max_clients = " << c.max_clients << "\nbuffer_size = " << c.buffer_size
     << "\nhandshake_timeout = " << c.handshake_timeout.count()
     << "ms\nconnect_timeout = " << c.connect_timeout.count()
     << "ms\nbind_timeout = " << c.bind_timeout.count()
     << "ms\nidle_timeout = " << c.idle_timeout.count() << "ms\n";
  for (auto& b : c.allow_clients)
    os << "allow_client = " << cidr_text(b) << "\n";
  for (auto& b : c.deny_destinations)
    os << "deny_destination = " << cidr_text(b) << "\n";
  for (auto& ep : c.dns_servers)
    os << "dns_server = " << ep.to_string() << "\n";
  os << "[server]\nthreads = " << c.threads << "\nactor_threads = " << c.actor_threads
     << "\nsplice = " << (c.splice ? "true" : "false")
     << "\nshutdown_grace = " << c.shutdown_grace.count()
     << "ms\naccess_log = " << c.access_log << "\naccess_log_format = "
     << (c.access_log_fmt == access_log_format::json ? "json" : "text")
     << "\nlog_level = " << c.log_level
     << "\nmax_users = " << c.max_users << "\n";
  os << "[admin]\ntransport = " << transport_names[static_cast<int>(c.transport)]
     << "\nudp_port = " << c.udp_port << "\nspcp_listen = " << listener_text(c.spcp_listen)
     << "\nmanager_listen = " << listener_text(c.manager_listen)
     << "\ntransform_command = " << (c.transform_allowed ? "allowed" : "off") << "\n";
  os << "[rules]\n";
  for (auto& r : c.rules)
    os << "rule = " << net::to_string(r) << "\n";
  os << "default = " << (c.rules_default == net::rule_action::pass ? "pass" : "block")
     << "\n";
  os << "[limits]\nuser_sessions = " << c.user_sessions
     << "\nuser_connect_rate = " << c.user_connect_rate
     << "\nuser_bandwidth_up = " << c.user_bandwidth_up
     << "\nuser_bandwidth_down = " << c.user_bandwidth_down
     << "\nsource_sessions = " << c.source_sessions
     << "\nsource_connect_rate = " << c.source_connect_rate
     << "\nper_user_metrics = " << (c.per_user_metrics ? "on" : "off") << "\n";
  os << "[prometheus]\nlisten = " << listener_text(c.prometheus_listen) << "\n";
  return os.str();
}

/// The error, or the config written back: equal outcomes give equal texts.
std::string outcome(const std::variant<proxy_config, std::string>& res) {
  if (auto err = std::get_if<std::string>(&res))
    return "error: " + *err;
  return write_ini(std::get<proxy_config>(res));
}

std::optional<std::string> error_of(const std::string& text) {
  auto res = parse(text, path);
  if (auto err = std::get_if<std::string>(&res))
    return *err;
  return std::nullopt;
}

/// CR before LF changes nothing (blanks around items are ignored).
std::string with_crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

/// What every accepted config satisfies (the cross-check and the key table).
void check_config(const proxy_config& c) {
  FUZZ_CHECK(c.path == path && !c.listen.empty());
  FUZZ_CHECK(c.auth == auth_mode::none || !c.users_file.empty());
  FUZZ_CHECK(c.users_file.empty() || c.users_file.front() == '/');
  FUZZ_CHECK(c.buffer_size >= 1024 && c.buffer_size <= 16 * 1024 * 1024);
  FUZZ_CHECK(c.max_clients >= 1 && c.udp_port >= 1 && c.threads <= 255);
  FUZZ_CHECK(c.user_sessions <= 1000000 && c.source_sessions <= 1000000);
  FUZZ_CHECK(c.user_connect_rate <= 1000000 && c.source_connect_rate <= 1000000);
  FUZZ_CHECK(c.user_bandwidth_up <= uint64_t{1} << 40);
  FUZZ_CHECK(c.user_bandwidth_down <= uint64_t{1} << 40);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto res = parse(text, path);
  auto first = outcome(res);
  FUZZ_CHECK(outcome(parse(with_crlf(text), path)) == first);
  check_line_error(text, path, error_of(text), error_of);
  auto cfg = std::get_if<proxy_config>(&res);
  if (cfg == nullptr)
    return 0;
  check_config(*cfg);
  // Round trip: the config written back parses to the same config.
  auto back = parse(first, path);
  FUZZ_CHECK(outcome(back) == first);
  return 0;
}
