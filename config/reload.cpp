#include "config/reload.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace px::config {

namespace {

/// One key as the reload sees it.
struct key_rule {
  /// The key as written in the file.
  const char* name;
  /// True when the running proxy can take a new value.
  bool reloadable;
  /// True when the key has the same value in both configs.
  std::function<bool(const proxy_config&, const proxy_config&)> same;
  /// Copies the key's value from the second config into the first.
  std::function<void(proxy_config&, const proxy_config&)> keep;
};

template <class T>
key_rule rule(const char* name, bool reloadable, T proxy_config::*member) {
  return {name, reloadable,
          [member](const proxy_config& a, const proxy_config& b) {
            return a.*member == b.*member;
          },
          [member](proxy_config& dst, const proxy_config& src) {
            dst.*member = src.*member;
          }};
}

/// A key of the outbound profiles: the same when every profile (the
/// default and the named ones) has the same `field`, and the same profiles
/// exist.
template <class T>
key_rule profile_rule(const char* name, T net::outbound_profile::*field) {
  auto same = [field](const proxy_config& a, const proxy_config& b) {
    auto& x = a.outbound;
    auto& y = b.outbound;
    if (x.fallback.*field != y.fallback.*field || x.named.size() != y.named.size())
      return false;
    for (auto i = x.named.begin(), j = y.named.begin(); i != x.named.end(); ++i, ++j)
      if (i->first != j->first || i->second.*field != j->second.*field)
        return false;
    return true;
  };
  auto keep = [](proxy_config& dst, const proxy_config& src) {
    dst.outbound = src.outbound;
  };
  return {name, true, same, keep};
}

/// A key of [cluster] (restart needed): the same when `get` gives the same.
template <class Get>
key_rule cluster_rule(const char* name, Get get) {
  return {name, false,
          [get](const proxy_config& a, const proxy_config& b) {
            return get(a.cluster) == get(b.cluster);
          },
          [](proxy_config& dst, const proxy_config& src) {
            dst.cluster = src.cluster;
          }};
}

using c = proxy_config;
constexpr bool now = true;
constexpr bool restart = false;

void add_socks_rules(std::vector<key_rule>& t) {
  t.insert(t.end(), {
    rule("listen", restart, &c::listen),
    rule("auth", now, &c::auth),
    rule("users_file", restart, &c::users_file),
    rule("on_user_delete", restart, &c::close_on_user_delete),
    rule("max_clients", now, &c::max_clients),
    rule("buffer_size", now, &c::buffer_size),
    rule("handshake_timeout", now, &c::handshake_timeout),
    rule("connect_timeout", now, &c::connect_timeout),
    rule("prefer", now, &c::prefer),
    rule("happy_eyeballs_delay", now, &c::happy_eyeballs_delay),
    rule("bind_timeout", now, &c::bind_timeout),
    rule("idle_timeout", now, &c::idle_timeout),
    rule("allow_client", now, &c::allow_clients),
    rule("deny_destination", now, &c::deny_destinations),
    rule("dns_server", restart, &c::dns_servers),
    rule("udp_advertise_address", now, &c::udp_advertise),
    rule("bind_advertise_address", now, &c::bind_advertise),
    // A listener's advertise words are taken at once; its address is not.
    rule("listen", now, &c::per_listener),
  });
}

void add_server_and_admin_rules(std::vector<key_rule>& t) {
  t.insert(t.end(), {
    // -- [server] ---
    rule("threads", restart, &c::threads),
    rule("actor_threads", restart, &c::actor_threads),
    rule("splice", now, &c::splice),
    rule("shutdown_grace", now, &c::shutdown_grace),
    rule("access_log", now, &c::access_log),
    rule("access_log_format", now, &c::access_log_fmt),
    rule("log_level", now, &c::log_level),
    rule("max_users", restart, &c::max_users),
    // -- [admin] ---
    rule("transport", restart, &c::transport),
    rule("udp_port", restart, &c::udp_port),
    rule("spcp_listen", restart, &c::spcp_listen),
    rule("manager_listen", restart, &c::manager_listen),
    rule("transform_command", now, &c::transform_allowed),
    // -- [prometheus] ---
    rule("[prometheus] listen", restart, &c::prometheus_listen),
  });
}

/// [rules], [upstream], [limits] and [outbound]: what requests may do and
/// where they go.
void add_policy_rules(std::vector<key_rule>& t) {
  t.insert(t.end(), {
    rule("rule", now, &c::rules),
    rule("default", now, &c::rules_default),
    rule("parent", now, &c::parents),
    rule("group", now, &c::parent_groups),
    rule("[upstream] default", now, &c::upstream_default),
    rule("user_sessions", now, &c::user_sessions),
    rule("user_connect_rate", now, &c::user_connect_rate),
    rule("user_bandwidth_up", now, &c::user_bandwidth_up),
    rule("user_bandwidth_down", now, &c::user_bandwidth_down),
    rule("source_sessions", now, &c::source_sessions),
    rule("source_connect_rate", now, &c::source_connect_rate),
    rule("per_user_metrics", now, &c::per_user_metrics),
    profile_rule("address4", &net::outbound_profile::address4),
    profile_rule("address6", &net::outbound_profile::address6),
    profile_rule("interface", &net::outbound_profile::interface),
    profile_rule("mark", &net::outbound_profile::mark),
  });
}

/// [cluster] (docs/cluster.md): every key needs a restart.
void add_cluster_rules(std::vector<key_rule>& t) {
  t.insert(t.end(), {
    cluster_rule("name", [](const cluster_config& x) { return x.name; }),
    cluster_rule("[cluster] listen", [](const cluster_config& x) { return x.listen; }),
    cluster_rule("peer", [](const cluster_config& x) {
      std::vector<std::string> out;
      for (auto& p : x.peers)
        out.push_back(p.text);
      return out;
    }),
    cluster_rule("cert", [](const cluster_config& x) { return x.cert; }),
    cluster_rule("key", [](const cluster_config& x) { return x.key; }),
    cluster_rule("ca", [](const cluster_config& x) { return x.ca; }),
  });
}

/// Every key that can differ between two valid files, and whether the
/// running proxy takes it (in the order plan_reload reports them).
const std::vector<key_rule>& rules() {
  static const std::vector<key_rule> table = [] {
    std::vector<key_rule> t;
    add_socks_rules(t);
    add_server_and_admin_rules(t);
    add_policy_rules(t);
    add_cluster_rules(t);
    return t;
  }();
  return table;
}

} // namespace

reload_plan plan_reload(const proxy_config& running, const proxy_config& loaded) {
  reload_plan plan{loaded, {}, {}};
  for (auto& r : rules()) {
    if (r.same(running, loaded))
      continue;
    if (r.reloadable) {
      plan.changed.emplace_back(r.name);
    } else {
      plan.restart_needed.emplace_back(r.name);
      r.keep(plan.next, running);
    }
  }
  // Sessions send access records only when the log was on at the start:
  // turning it on (or off) needs a restart; another file or "-" does not.
  bool was_off = running.access_log == "off";
  if (was_off != (loaded.access_log == "off")) {
    plan.changed.erase(std::remove(plan.changed.begin(), plan.changed.end(),
                                   std::string{"access_log"}),
                       plan.changed.end());
    plan.restart_needed.emplace_back("access_log (to or from off)");
    plan.next.access_log = running.access_log;
  }
  return plan;
}

std::vector<std::string> reload_keys() {
  std::vector<std::string> out;
  for (auto& r : rules())
    if (std::find(out.begin(), out.end(), r.name) == out.end())
      out.emplace_back(r.name);
  return out;
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (auto& k : keys)
    out += (out.empty() ? "" : ", ") + k;
  return out;
}

} // namespace px::config
