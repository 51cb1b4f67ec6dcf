#include "config/keys.hpp"

#include "config/ini.hpp"
#include "config/limits.hpp"
#include "config/cluster_keys.hpp"
#include "config/outbound_keys.hpp"
#include "config/rules_parse.hpp"
#include "config/upstream_parse.hpp"

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace px::config {

// -- value parsers ------------------------------------------------------------

bool parse_duration(const std::string& text, std::chrono::milliseconds& out) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  auto n = net::parse_decimal(text.substr(0, i));
  if (!n)
    return false;
  auto unit = text.substr(i);
  unsigned long long unit_ms;
  if (unit == "ms")
    unit_ms = 1;
  else if (unit.empty() || unit == "s")
    unit_ms = 1000;
  else if (unit == "m")
    unit_ms = 60000;
  else if (unit == "h")
    unit_ms = 3600000;
  else
    return false;
  constexpr unsigned long long max_ms = 100ULL * 24 * 3600 * 1000; // 100 days
  if (*n > max_ms / unit_ms)
    return false;
  out = std::chrono::milliseconds{*n * unit_ms};
  return true;
}

bool parse_size(const std::string& text, size_t& out) {
  if (text.empty())
    return false;
  unsigned long long mul = 1;
  auto digits = text;
  switch (text.back()) {
    case 'k':
    case 'K':
      mul = 1024;
      digits.pop_back();
      break;
    case 'm':
    case 'M':
      mul = 1024 * 1024;
      digits.pop_back();
      break;
    default:
      break;
  }
  auto n = net::parse_decimal(digits);
  if (!n || *n > (1ULL << 40))
    return false;
  out = static_cast<size_t>(*n * mul);
  return true;
}

namespace {

/// What a value parser returns: the value, or what is wrong with the text.
template <class T>
struct parsed {
  std::optional<T> value;
  std::string error;
};

template <class T>
parsed<T> ok(T value) {
  return {std::move(value), {}};
}

/// "'TEXT' is not WHAT".
template <class T>
parsed<T> is_not(const std::string& text, const std::string& what) {
  return {std::nullopt, "'" + shown(text) + "' is not " + what};
}

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

std::string relative_to_config(const std::string& v, const std::string& config_path) {
  return v.front() == '/' ? v : dirname_of(config_path) + "/" + v;
}

namespace {

/// A decimal number in [lo, hi].
template <class T>
auto whole_number(unsigned long long lo, unsigned long long hi) {
  return [lo, hi](const std::string& v, const std::string&) -> parsed<T> {
    auto n = net::parse_decimal(v);
    if (!n)
      return is_not<T>(v, "a whole number");
    if (*n < lo || *n > hi)
      return {std::nullopt, std::to_string(*n) + " is out of range ["
                              + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
    return ok(static_cast<T>(*n));
  };
}

/// A size (parse_size) in [lo, hi]; `range` names the bounds for people.
auto size_in(size_t lo, size_t hi, std::string range) {
  return [lo, hi, range](const std::string& v, const std::string&) -> parsed<size_t> {
    size_t n = 0;
    if (!parse_size(v, n))
      return is_not<size_t>(v, "a size (e.g. 65536, 64k, 1m)");
    if (n < lo || n > hi)
      return {std::nullopt, "must be between " + range};
    return ok(n);
  };
}

/// A duration (parse_duration); `positive`: 0 is refused (a deadline of 0
/// would cut every client at once).
auto duration(bool positive = false) {
  return [positive](const std::string& v,
                    const std::string&) -> parsed<std::chrono::milliseconds> {
    std::chrono::milliseconds d{0};
    if (!parse_duration(v, d))
      return is_not<std::chrono::milliseconds>(v, "a duration (e.g. 10s, 500ms, 5m)");
    if (positive && d.count() == 0)
      return {std::nullopt, "must be more than 0"};
    return ok(d);
  };
}

auto boolean() {
  return [](const std::string& v, const std::string&) -> parsed<bool> {
    if (v == "true" || v == "yes" || v == "on")
      return ok(true);
    if (v == "false" || v == "no" || v == "off")
      return ok(false);
    return is_not<bool>(v, "true or false");
  };
}

/// One of the words in `choices`, each standing for a value.
template <class T>
auto choice(std::initializer_list<std::pair<const char*, T>> choices) {
  std::vector<std::pair<std::string, T>> table(choices.begin(), choices.end());
  std::string names;
  for (auto& c : table)
    names += (names.empty() ? "" : ", ") + c.first;
  return [table, names](const std::string& v, const std::string&) -> parsed<T> {
    for (auto& c : table)
      if (c.first == v)
        return ok(c.second);
    return is_not<T>(v, "one of " + names);
  };
}

/// ADDRESS:PORT (or a bare address with `default_port` >= 0); `what` says
/// what is expected.
auto endpoint(int default_port, std::string what) {
  return [default_port, what](const std::string& v,
                              const std::string&) -> parsed<net::ip_endpoint> {
    auto ep = net::ip_endpoint::parse(v, default_port);
    if (!ep)
      return is_not<net::ip_endpoint>(v, what);
    return ok(*ep);
  };
}

/// ADDRESS:PORT, or `off` for none.
auto listener_or_off() {
  using result = parsed<std::optional<net::ip_endpoint>>;
  return [](const std::string& v, const std::string&) -> result {
    if (v == "off")
      return ok(std::optional<net::ip_endpoint>{});
    auto ep = net::ip_endpoint::parse(v);
    if (!ep)
      return is_not<std::optional<net::ip_endpoint>>(v, "ADDRESS:PORT or off");
    return ok(ep);
  };
}

auto address_block() {
  return [](const std::string& v, const std::string&) -> parsed<net::cidr> {
    auto block = net::cidr::parse(v);
    if (!block)
      return is_not<net::cidr>(v, "an address block (e.g. 10.0.0.0/8)");
    return ok(*block);
  };
}

/// A RATE (config/limits.hpp): bytes per second, 0 for no limit.
auto bandwidth() {
  return [](const std::string& v, const std::string&) -> parsed<uint64_t> {
    auto n = parse_rate(v);
    if (!n)
      return is_not<uint64_t>(v, "a rate of at most 1024G bytes per second "
                                 "(e.g. 0, 512K, 10M, 1G/s)");
    return ok(*n);
  };
}

/// An access rule (config/rules_parse.hpp); its line is set by the caller.
auto access_rule() {
  return [](const std::string& v, const std::string&) -> parsed<net::rule> {
    net::rule r;
    if (auto err = parse_rule(v, r))
      return {std::nullopt, std::move(*err)};
    return ok(std::move(r));
  };
}

/// A value of [upstream] parsed by `parse` (config/upstream_parse.hpp).
template <class T>
auto upstream_value(std::optional<std::string> (*parse)(const std::string&, T&)) {
  return [parse](const std::string& v, const std::string&) -> parsed<T> {
    T out;
    if (auto err = parse(v, out))
      return {std::nullopt, std::move(*err)};
    return ok(std::move(out));
  };
}

/// A path, resolved against the config file's folder unless absolute or one
/// of the `verbatim` words; `if_empty` says what to write instead of nothing.
auto file_path(std::string if_empty, std::vector<std::string> verbatim = {}) {
  return [if_empty, verbatim](const std::string& v,
                              const std::string& path) -> parsed<std::string> {
    if (v.empty())
      return {std::nullopt, if_empty};
    if (std::find(verbatim.begin(), verbatim.end(), v) != verbatim.end())
      return ok(v);
    return ok(relative_to_config(v, path));
  };
}

// -- setters ------------------------------------------------------------------

/// A key given at most once: its value replaces the default in `member`.
template <class T, class Parser>
key_spec one(std::string_view section, std::string_view name,
             T proxy_config::*member, Parser parse) {
  auto set = [member, parse](const std::string& v, const std::string& path,
                             proxy_config& cfg) -> std::optional<std::string> {
    auto res = parse(v, path);
    if (!res.value)
      return std::move(res.error);
    cfg.*member = std::move(*res.value);
    return std::nullopt;
  };
  return {section, name, false, set};
}

/// A repeatable key: each value is appended to `member`.
template <class T, class Parser>
key_spec many(std::string_view section, std::string_view name,
              std::vector<T> proxy_config::*member, Parser parse) {
  auto set = [member, parse](const std::string& v, const std::string& path,
                             proxy_config& cfg) -> std::optional<std::string> {
    auto res = parse(v, path);
    if (!res.value)
      return std::move(res.error);
    (cfg.*member).push_back(std::move(*res.value));
    return std::nullopt;
  };
  return {section, name, true, set};
}

/// The keys of [socks].
std::vector<key_spec> socks_keys() {
  using c = proxy_config;
  return {
    listen_key(),
    one("socks", "auth", &c::auth,
        choice<auth_mode>({{"userpass", auth_mode::userpass},
                           {"none", auth_mode::none},
                           {"any", auth_mode::any}})),
    one("socks", "users_file", &c::users_file, file_path("empty path")),
    one("socks", "on_user_delete", &c::close_on_user_delete,
        choice<bool>({{"close", true}, {"keep", false}})),
    one("socks", "max_clients", &c::max_clients, whole_number<size_t>(1, 1000000)),
    one("socks", "buffer_size", &c::buffer_size,
        size_in(1024, 16 * 1024 * 1024, "1k and 16m")),
    one("socks", "handshake_timeout", &c::handshake_timeout, duration(true)),
    one("socks", "connect_timeout", &c::connect_timeout, duration(true)),
    one("socks", "prefer", &c::prefer,
        choice<net::address_family>({{"system", net::address_family::system},
                                     {"ipv4", net::address_family::ipv4},
                                     {"ipv6", net::address_family::ipv6}})),
    one("socks", "happy_eyeballs_delay", &c::happy_eyeballs_delay, duration(true)),
    one("socks", "bind_timeout", &c::bind_timeout, duration(true)),
    one("socks", "idle_timeout", &c::idle_timeout, duration()),
    many("socks", "allow_client", &c::allow_clients, address_block()),
    many("socks", "deny_destination", &c::deny_destinations, address_block()),
    many("socks", "dns_server", &c::dns_servers,
         endpoint(53, "an IP address with optional port")),
  };
}

/// The keys of [server] and [admin].
std::vector<key_spec> server_and_admin_keys() {
  using c = proxy_config;
  return {
    one("server", "threads", &c::threads, whole_number<size_t>(0, 255)),
    one("server", "actor_threads", &c::actor_threads, whole_number<size_t>(0, 64)),
    one("server", "splice", &c::splice, boolean()),
    one("server", "shutdown_grace", &c::shutdown_grace, duration()),
    one("server", "access_log", &c::access_log,
        file_path("empty value (use -, off or a path)", {"-", "off"})),
    one("server", "access_log_format", &c::access_log_fmt,
        choice<access_log_format>({{"text", access_log_format::text},
                                   {"json", access_log_format::json}})),
    one("server", "log_level", &c::log_level,
        choice<std::string>({{"error", "error"},
                             {"warning", "warning"},
                             {"info", "info"},
                             {"debug", "debug"}})),
    one("server", "max_users", &c::max_users, whole_number<size_t>(1, 1000000)),
    // -- [admin] ---
    one("admin", "transport", &c::transport,
        choice<admin_transport>({{"auto", admin_transport::automatic},
                                 {"kernel", admin_transport::kernel},
                                 {"udp", admin_transport::udp}})),
    one("admin", "udp_port", &c::udp_port, whole_number<uint16_t>(1, 65535)),
    one("admin", "spcp_listen", &c::spcp_listen, listener_or_off()),
    one("admin", "manager_listen", &c::manager_listen, listener_or_off()),
    one("admin", "transform_command", &c::transform_allowed,
        choice<bool>({{"allowed", true}, {"off", false}})),
  };
}

/// The keys of [rules] and [upstream].
std::vector<key_spec> policy_keys() {
  using c = proxy_config;
  return {
    many("rules", "rule", &c::rules, access_rule()),
    one("rules", "default", &c::rules_default,
        choice<net::rule_action>({{"pass", net::rule_action::pass},
                                  {"block", net::rule_action::block}})),
    // -- [upstream] ---
    many("upstream", "parent", &c::parents, upstream_value(parse_parent)),
    many("upstream", "group", &c::parent_groups, upstream_value(parse_parent_group)),
    one("upstream", "default", &c::upstream_default, upstream_value(parse_via_name)),
  };
}

/// The keys of [limits] (config/limits.hpp).
std::vector<key_spec> limits_keys() {
  using c = proxy_config;
  return {
    one("limits", "user_sessions", &c::user_sessions,
        whole_number<uint32_t>(0, max_sessions_limit)),
    one("limits", "user_connect_rate", &c::user_connect_rate,
        whole_number<uint32_t>(0, max_connect_rate_limit)),
    one("limits", "user_bandwidth_up", &c::user_bandwidth_up, bandwidth()),
    one("limits", "user_bandwidth_down", &c::user_bandwidth_down, bandwidth()),
    one("limits", "source_sessions", &c::source_sessions,
        whole_number<uint32_t>(0, max_sessions_limit)),
    one("limits", "source_connect_rate", &c::source_connect_rate,
        whole_number<uint32_t>(0, max_connect_rate_limit)),
    one("limits", "per_user_metrics", &c::per_user_metrics, boolean()),
  };
}

/// Every key, in the order the sections are documented.
std::vector<key_spec> make_key_table() {
  auto table = socks_keys();
  for (auto part : {server_and_admin_keys(), policy_keys(), limits_keys()})
    table.insert(table.end(), part.begin(), part.end());
  // The advertise keys join [socks]; [outbound] goes after [limits].
  auto socks_end = std::find_if(table.begin(), table.end(),
                                [](const key_spec& k) { return k.section != "socks"; });
  auto advertise = advertise_keys();
  table.insert(socks_end, advertise.begin(), advertise.end());
  auto outbound = outbound_keys();
  table.insert(table.end(), outbound.begin(), outbound.end());
  table.push_back(one("prometheus", "listen", &proxy_config::prometheus_listen,
                      listener_or_off()));
  auto cluster = cluster_keys(); // docs/cluster.md
  table.insert(table.end(), cluster.begin(), cluster.end());
  return table;
}

} // namespace

// -- lookups ------------------------------------------------------------------

const std::vector<key_spec>& key_table() {
  static const std::vector<key_spec> table = make_key_table();
  return table;
}

const key_spec* find_key(std::string_view section, std::string_view name) {
  for (auto& k : key_table())
    if (k.section == section && k.name == name)
      return &k;
  return nullptr;
}

bool known_section(std::string_view section) {
  for (auto& k : key_table())
    if (k.section == section)
      return true;
  return false;
}

std::string known_sections() {
  std::string out;
  std::string_view last;
  for (auto& k : key_table()) {
    if (k.section == last)
      continue;
    last = k.section;
    out += (out.empty() ? "[" : ", [") + std::string{last} + "]";
  }
  return out;
}

} // namespace px::config
