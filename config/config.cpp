#include "config/config.hpp"

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace px::config {

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

/// Drops a trailing comment: '#' or ';' at the start or after whitespace.
std::string strip_comment(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if ((s[i] == '#' || s[i] == ';') && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
      return s.substr(0, i);
  return s;
}

bool parse_uint(const std::string& text, unsigned long long& out) {
  auto v = net::parse_decimal(text);
  out = v.value_or(0);
  return v.has_value();
}

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

bool parse_duration(const std::string& text, std::chrono::milliseconds& out) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  unsigned long long n;
  if (!parse_uint(text.substr(0, i), n))
    return false;
  auto unit = text.substr(i);
  unsigned long long ms;
  if (unit == "ms")
    ms = n;
  else if (unit.empty() || unit == "s")
    ms = n * 1000;
  else if (unit == "m")
    ms = n * 60000;
  else if (unit == "h")
    ms = n * 3600000;
  else
    return false;
  if (n > 100ULL * 24 * 3600 * 1000)
    return false;
  out = std::chrono::milliseconds{ms};
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
  unsigned long long n;
  if (!parse_uint(digits, n) || n > (1ULL << 40))
    return false;
  out = static_cast<size_t>(n * mul);
  return true;
}

std::variant<proxy_config, std::string> parse(const std::string& text,
                                              const std::string& path) {
  proxy_config cfg;
  cfg.path = path;
  std::string section;
  int lineno = 0;
  std::set<std::string> seen;
  std::string error;
  auto fail = [&](const std::string& key, const std::string& what) {
    std::ostringstream os;
    os << path << ":" << lineno << ": ";
    if (!key.empty())
      os << "key '" << key << "': ";
    os << what;
    error = os.str();
    return false;
  };
  auto ranged = [&](const std::string& key, const std::string& v, size_t lo,
                    size_t hi, size_t& out) {
    unsigned long long n;
    if (!parse_uint(v, n))
      return fail(key, "'" + v + "' is not a whole number");
    if (n < lo || n > hi)
      return fail(key, std::to_string(n) + " is out of range ["
                         + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = static_cast<size_t>(n);
    return true;
  };
  auto duration = [&](const std::string& key, const std::string& v,
                      std::chrono::milliseconds& out) {
    if (!parse_duration(v, out))
      return fail(key, "'" + v + "' is not a duration (e.g. 10s, 500ms, 5m)");
    return true;
  };
  auto boolean = [&](const std::string& key, const std::string& v, bool& out) {
    if (v == "true" || v == "yes" || v == "on")
      out = true;
    else if (v == "false" || v == "no" || v == "off")
      out = false;
    else
      return fail(key, "'" + v + "' is not true or false");
    return true;
  };
  auto listener_or_off = [&](const std::string& key, const std::string& v,
                             std::optional<net::ip_endpoint>& out) {
    if (v == "off") {
      out.reset();
      return true;
    }
    auto ep = net::ip_endpoint::parse(v);
    if (!ep)
      return fail(key, "'" + v + "' is not ADDRESS:PORT or off");
    out = *ep;
    return true;
  };
  using handler = std::function<bool(const std::string&, const std::string&)>;
  // Keys that may appear several times.
  const std::set<std::string> repeatable{"socks.listen", "socks.allow_client",
                                         "socks.deny_destination",
                                         "socks.dns_server"};
  const std::map<std::string, handler> keys{
    {"socks.listen",
     [&](const std::string& k, const std::string& v) {
       auto ep = net::ip_endpoint::parse(v);
       if (!ep)
         return fail(k, "'" + v + "' is not ADDRESS:PORT (e.g. 127.0.0.1:1080 or [::1]:1080)");
       cfg.listen.push_back(*ep);
       return true;
     }},
    {"socks.auth",
     [&](const std::string& k, const std::string& v) {
       if (v == "userpass")
         cfg.auth = auth_mode::userpass;
       else if (v == "none")
         cfg.auth = auth_mode::none;
       else if (v == "any")
         cfg.auth = auth_mode::any;
       else
         return fail(k, "'" + v + "' is not one of userpass, none, any");
       return true;
     }},
    {"socks.users_file",
     [&](const std::string& k, const std::string& v) {
       if (v.empty())
         return fail(k, "empty path");
       cfg.users_file = v.front() == '/' ? v : dirname_of(path) + "/" + v;
       return true;
     }},
    {"socks.max_clients",
     [&](const std::string& k, const std::string& v) {
       return ranged(k, v, 1, 1000000, cfg.max_clients);
     }},
    {"socks.buffer_size",
     [&](const std::string& k, const std::string& v) {
       if (!parse_size(v, cfg.buffer_size))
         return fail(k, "'" + v + "' is not a size (e.g. 65536, 64k, 1m)");
       if (cfg.buffer_size < 1024 || cfg.buffer_size > 16 * 1024 * 1024)
         return fail(k, "must be between 1k and 16m");
       return true;
     }},
    {"socks.handshake_timeout",
     [&](const std::string& k, const std::string& v) {
       return duration(k, v, cfg.handshake_timeout);
     }},
    {"socks.connect_timeout",
     [&](const std::string& k, const std::string& v) {
       return duration(k, v, cfg.connect_timeout);
     }},
    {"socks.bind_timeout",
     [&](const std::string& k, const std::string& v) {
       return duration(k, v, cfg.bind_timeout);
     }},
    {"socks.idle_timeout",
     [&](const std::string& k, const std::string& v) {
       return duration(k, v, cfg.idle_timeout);
     }},
    {"socks.allow_client",
     [&](const std::string& k, const std::string& v) {
       auto block = net::cidr::parse(v);
       if (!block)
         return fail(k, "'" + v + "' is not an address block (e.g. 10.0.0.0/8)");
       cfg.allow_clients.push_back(*block);
       return true;
     }},
    {"socks.deny_destination",
     [&](const std::string& k, const std::string& v) {
       auto block = net::cidr::parse(v);
       if (!block)
         return fail(k, "'" + v + "' is not an address block (e.g. 10.0.0.0/8)");
       cfg.deny_destinations.push_back(*block);
       return true;
     }},
    {"socks.dns_server",
     [&](const std::string& k, const std::string& v) {
       auto ep = net::ip_endpoint::parse(v, 53);
       if (!ep)
         return fail(k, "'" + v + "' is not an IP address with optional port");
       cfg.dns_servers.push_back(*ep);
       return true;
     }},
    {"server.threads",
     [&](const std::string& k, const std::string& v) {
       return ranged(k, v, 0, 255, cfg.threads);
     }},
    {"server.actor_threads",
     [&](const std::string& k, const std::string& v) {
       return ranged(k, v, 0, 64, cfg.actor_threads);
     }},
    {"server.splice",
     [&](const std::string& k, const std::string& v) {
       return boolean(k, v, cfg.splice);
     }},
    {"server.shutdown_grace",
     [&](const std::string& k, const std::string& v) {
       return duration(k, v, cfg.shutdown_grace);
     }},
    {"server.access_log",
     [&](const std::string& k, const std::string& v) {
       if (v.empty())
         return fail(k, "empty value (use -, off or a path)");
       cfg.access_log = (v == "-" || v == "off" || v.front() == '/')
                          ? v
                          : dirname_of(path) + "/" + v;
       return true;
     }},
    {"server.log_level",
     [&](const std::string& k, const std::string& v) {
       if (v != "error" && v != "warning" && v != "info" && v != "debug")
         return fail(k, "'" + v + "' is not one of error, warning, info, debug");
       cfg.log_level = v;
       return true;
     }},
    {"admin.transport",
     [&](const std::string& k, const std::string& v) {
       if (v == "auto")
         cfg.transport = admin_transport::automatic;
       else if (v == "kernel")
         cfg.transport = admin_transport::kernel;
       else if (v == "udp")
         cfg.transport = admin_transport::udp;
       else
         return fail(k, "'" + v + "' is not one of auto, kernel, udp");
       return true;
     }},
    {"admin.udp_port",
     [&](const std::string& k, const std::string& v) {
       size_t port;
       if (!ranged(k, v, 1, 65535, port))
         return false;
       cfg.udp_port = static_cast<uint16_t>(port);
       return true;
     }},
    {"admin.spcp_listen",
     [&](const std::string& k, const std::string& v) {
       return listener_or_off(k, v, cfg.spcp_listen);
     }},
    {"admin.manager_listen",
     [&](const std::string& k, const std::string& v) {
       return listener_or_off(k, v, cfg.manager_listen);
     }},
    {"server.max_users",
     [&](const std::string& k, const std::string& v) {
       return ranged(k, v, 1, 1000000, cfg.max_users);
     }},
  };
  std::istringstream in{text};
  std::string raw;
  while (std::getline(in, raw)) {
    ++lineno;
    auto line = trim(strip_comment(raw));
    if (line.empty())
      continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        fail("", "malformed section header '" + line + "'");
        return error;
      }
      section = trim(line.substr(1, line.size() - 2));
      if (section != "socks" && section != "server" && section != "admin") {
        fail("", "unknown section [" + section
                   + "] (known: [socks], [server], [admin])");
        return error;
      }
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      fail("", "expected 'key = value', got '" + line + "'");
      return error;
    }
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (section.empty()) {
      fail(key, "appears before any [section]");
      return error;
    }
    auto full = section + "." + key;
    auto i = keys.find(full);
    if (i == keys.end()) {
      fail(key, "unknown key in [" + section + "]");
      return error;
    }
    if (!repeatable.count(full) && !seen.insert(full).second) {
      fail(key, "given twice");
      return error;
    }
    if (!i->second(key, value))
      return error;
  }
  lineno = 0;
  if (cfg.listen.empty()) {
    error = path + ": [socks] needs at least one 'listen = ADDRESS:PORT'";
    return error;
  }
  if (cfg.auth != auth_mode::none && cfg.users_file.empty()) {
    error = path + ": [socks] 'users_file' is required unless 'auth = none'";
    return error;
  }
  return cfg;
}

std::variant<proxy_config, std::string> load(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return path + ": cannot open config file";
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return path + ": cannot read config file";
  return parse(ss.str(), path);
}

} // namespace px::config
