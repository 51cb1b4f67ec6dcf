#include "config/outbound_keys.hpp"

#include <sstream>

#include "config/users.hpp"

namespace px::config {

namespace {

using error = std::optional<std::string>;

/// An address of the given family without a port into `out`.
error source_address(const std::string& v, bool v6, std::optional<net::ip_endpoint>& out) {
  auto ep = net::ip_endpoint::parse(v, 0);
  if (!ep || ep->port != 0 || ep->v6 != v6 || ep->is_unspecified()
      || v.find(']') != std::string::npos)
    return "'" + shown(v) + "' is not an " + (v6 ? "IPv6" : "IPv4")
           + " address (without port)";
  out = *ep;
  return std::nullopt;
}

/// An IPv4 or IPv6 address without a port into `out`.
error any_address(const std::string& v, std::optional<net::ip_endpoint>& out) {
  auto ep = net::ip_endpoint::parse(v, 0);
  if (!ep || ep->port != 0 || ep->is_unspecified() || v.find(']') != std::string::npos)
    return "'" + shown(v) + "' is not an IP address (without port)";
  out = *ep;
  return std::nullopt;
}

/// A network device name (at most 15 bytes, no '/', ':' or blanks).
error device(const std::string& v, std::string& out) {
  bool ok = !v.empty() && v.size() <= 15 && v != "." && v != "..";
  for (unsigned char c : v)
    ok = ok && c > 0x20 && c < 0x7F && c != '/' && c != ':';
  if (!ok)
    return "'" + shown(v) + "' is not a network interface name (1 to 15 bytes)";
  out = v;
  return std::nullopt;
}

/// A firewall mark: 0 to 4294967295, decimal or 0x hexadecimal.
error firewall_mark(const std::string& v, std::optional<uint32_t>& out) {
  std::optional<uint64_t> n;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    if (v.size() <= 10 && v.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos)
      n = std::stoull(v.substr(2), nullptr, 16);
  } else {
    n = net::parse_decimal(v);
  }
  if (!n || *n > 0xFFFFFFFFull)
    return "'" + shown(v) + "' is not a mark from 0 to 4294967295 (or 0x hex)";
  out = static_cast<uint32_t>(*n);
  return std::nullopt;
}

/// A key of [outbound]: `set` stores into the default profile.
template <class F>
key_spec profile_key(std::string_view name, F set) {
  return {"outbound", name, false,
          [set](const std::string& v, const std::string&, proxy_config& cfg) {
            return set(v, cfg.outbound.fallback);
          }};
}

} // namespace

std::vector<key_spec> advertise_keys() {
  auto advertise = [](std::optional<net::ip_endpoint> proxy_config::*member) {
    return [member](const std::string& v, const std::string&, proxy_config& cfg) {
      return any_address(v, cfg.*member);
    };
  };
  return {
    {"socks", "udp_advertise_address", false, advertise(&proxy_config::udp_advertise)},
    {"socks", "bind_advertise_address", false, advertise(&proxy_config::bind_advertise)},
  };
}

namespace {

/// One `NAME=IP` word after a listener's address.
error advertise_word(const std::string& word, listener_advertise& out) {
  auto eq = word.find('=');
  auto key = word.substr(0, eq);
  if (eq == std::string::npos
      || (key != "udp_advertise" && key != "bind_advertise" && key != "advertise"))
    return "unexpected word '" + shown(word)
           + "' (after the address: udp_advertise=IP, bind_advertise=IP, advertise=IP)";
  std::optional<net::ip_endpoint> ip;
  if (auto err = any_address(word.substr(eq + 1), ip))
    return key + ": " + *err;
  if (key != "bind_advertise")
    out.udp = ip;
  if (key != "udp_advertise")
    out.bind = ip;
  return std::nullopt;
}

} // namespace

key_spec listen_key() {
  auto set = [](const std::string& v, const std::string&, proxy_config& cfg) -> error {
    std::istringstream in{v};
    std::string first;
    in >> first;
    auto ep = net::ip_endpoint::parse(first, -1);
    if (!ep)
      return "'" + shown(v) + "' is not ADDRESS:PORT (e.g. 127.0.0.1:1080 or [::1]:1080)";
    listener_advertise adv;
    adv.listen = *ep;
    for (std::string word; in >> word;)
      if (auto err = advertise_word(word, adv))
        return err;
    cfg.listen.push_back(*ep);
    if (adv.udp || adv.bind)
      cfg.per_listener.push_back(adv);
    return std::nullopt;
  };
  return {"socks", "listen", true, set};
}

std::vector<key_spec> outbound_keys() {
  using p = net::outbound_profile;
  return {
    profile_key("address4",
                [](const std::string& v, p& x) { return source_address(v, false, x.address4); }),
    profile_key("address6",
                [](const std::string& v, p& x) { return source_address(v, true, x.address6); }),
    profile_key("interface", [](const std::string& v, p& x) { return device(v, x.interface); }),
    profile_key("mark", [](const std::string& v, p& x) { return firewall_mark(v, x.mark); }),
  };
}

std::optional<std::string> named_outbound(std::string_view section) {
  constexpr std::string_view prefix = "outbound.";
  if (section.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  return std::string{section.substr(prefix.size())};
}

std::optional<line_error>
apply_named_outbound(const ini_line& line, const std::string& name,
                     const std::string& path, proxy_config& cfg,
                     std::set<std::pair<std::string, std::string>>& seen) {
  if (!valid_profile_name(name))
    return line_error{line.number, {},
                      "[outbound." + shown(name)
                        + "]: a profile name is 1 to 64 letters, digits, '_' or '-'"};
  auto& profile = cfg.outbound.named[name];
  if (line.header)
    return std::nullopt;
  auto key = find_key("outbound", line.key);
  if (key == nullptr)
    return line_error{line.number, line.key, "unknown key in [" + line.section + "]"};
  if (!seen.emplace(line.section, line.key).second)
    return line_error{line.number, line.key, "given twice"};
  // The key's setter fills a default profile: it works on a scratch config.
  proxy_config scratch;
  scratch.outbound.fallback = profile;
  if (auto what = key->set(line.value, path, scratch))
    return line_error{line.number, line.key, std::move(*what)};
  profile = scratch.outbound.fallback;
  return std::nullopt;
}

} // namespace px::config
