#include "config/cluster_keys.hpp"

#include <string>

#include "net/address.hpp"

namespace px::config {

bool valid_node_name(std::string_view v) {
  bool ok = !v.empty() && v.size() <= 64;
  for (unsigned char c : v)
    ok = ok && (isalnum(c) || c == '.' || c == '_' || c == '-');
  return ok;
}

namespace {

using error = std::optional<std::string>;

/// A node name: 1-64 of [A-Za-z0-9._-].
error node_name(const std::string& v, proxy_config& cfg) {
  if (!valid_node_name(v))
    return "'" + shown(v) + "' is not a node name (1 to 64 of A-Z a-z 0-9 . _ -)";
  cfg.cluster.name = v;
  return std::nullopt;
}

/// ADDRESS:PORT with a port from 1 to 65535.
error listen_address(const std::string& v, proxy_config& cfg) {
  auto ep = net::ip_endpoint::parse(v);
  if (!ep || ep->port == 0)
    return "'" + shown(v) + "' is not ADDRESS:PORT (e.g. 10.0.0.1:7700 or [::1]:7700)";
  cfg.cluster.listen = *ep;
  return std::nullopt;
}

/// HOST:PORT (an IP address or a host name; IPv6 in brackets).
error peer(const std::string& v, proxy_config& cfg) {
  auto bad = [&] { return "'" + shown(v) + "' is not HOST:PORT"; };
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
    return bad();
  auto host = v.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return bad();
    host = host.substr(1, host.size() - 2);
  }
  for (unsigned char c : host)
    if (c <= 0x20 || c >= 0x7F || c == '/' || c == '[' || c == ']')
      return bad();
  auto port = net::parse_decimal(v.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535)
    return bad() + " (port 1 to 65535)";
  cfg.cluster.peers.push_back(
    cluster_peer{host, static_cast<uint16_t>(*port), v});
  return std::nullopt;
}

/// A path key (cert, key, ca): stored resolved against the config's folder.
key_spec path_key(std::string_view name, std::string cluster_config::*member) {
  auto set = [member](const std::string& v, const std::string& path,
                      proxy_config& cfg) -> error {
    if (v.empty())
      return std::string{"empty path"};
    cfg.cluster.*member = relative_to_config(v, path);
    return std::nullopt;
  };
  return {"cluster", name, false, set};
}

/// A key whose setter needs no path.
template <class F>
key_spec plain_key(std::string_view name, bool repeatable, F f) {
  return {"cluster", name, repeatable,
          [f](const std::string& v, const std::string&, proxy_config& cfg) {
            return f(v, cfg);
          }};
}

/// True for 127.0.0.0/8 and ::1.
bool loopback(const net::ip_endpoint& ep) {
  if (!ep.v6)
    return ep.bytes[0] == 127;
  for (size_t i = 0; i < 15; ++i)
    if (ep.bytes[i] != 0)
      return false;
  return ep.bytes[15] == 1;
}

} // namespace

std::vector<key_spec> cluster_keys() {
  return {
    plain_key("name", false, node_name),
    plain_key("listen", false, listen_address),
    plain_key("peer", true, peer),
    path_key("cert", &cluster_config::cert),
    path_key("key", &cluster_config::key),
    path_key("ca", &cluster_config::ca),
  };
}

void note_cluster_line(const ini_line& line, proxy_config& cfg) {
  if (line.section != "cluster")
    return;
  auto& c = cfg.cluster;
  c.enabled = true;
  if (line.header && c.section_line == 0)
    c.section_line = line.number;
  if (line.key == "name")
    c.name_line = line.number;
  else if (line.key == "listen")
    c.listen_line = line.number;
  else if (line.key == "cert" || line.key == "key" || line.key == "ca")
    c.tls_line = c.tls_line == 0 ? line.number : c.tls_line;
}

std::optional<line_error> check_cluster(const proxy_config& cfg) {
  auto& c = cfg.cluster;
  if (!c.enabled)
    return std::nullopt;
  if (c.name.empty())
    return line_error{c.section_line, "name", "[cluster] needs 'name = NODE'"};
  if (!c.listen)
    return line_error{c.section_line, "listen",
                      "[cluster] needs 'listen = ADDRESS:PORT'"};
  bool some = !c.cert.empty() || !c.key.empty() || !c.ca.empty();
  if (some && !c.tls())
    return line_error{c.tls_line, "cert",
                      "[cluster] TLS needs all of cert, key and ca"};
  if (!c.tls() && !loopback(*c.listen))
    return line_error{c.listen_line, "listen",
                      "listening beyond loopback requires TLS (cert, key and ca)"};
  return std::nullopt;
}

} // namespace px::config
