#include "admin/proxyctl_cluster.hpp"

#include <iostream>
#include <string>

#include "admin/cluster_codec.hpp"
#include "admin/codec.hpp"
#include "admin/proxyctl_common.hpp"

namespace px::proxyctl {

namespace {

namespace mgr = admin::manager;

/// The sum of every node's counters, named "total".
mgr::cluster_node_counters total_of(const mgr::cluster_metrics_values& v) {
  mgr::cluster_node_counters t;
  t.node = "total";
  for (auto& n : v.nodes) {
    t.active += n.active;
    t.accepted += n.accepted;
    t.bytes_up += n.bytes_up;
    t.bytes_down += n.bytes_down;
    t.auth_failures += n.auth_failures;
    t.users = std::max(t.users, n.users);
  }
  return t;
}

/// One node as a JSON object.
std::string node_json(const mgr::cluster_node_counters& n) {
  return json_object({{"node", n.node},
                      {"active", n.active},
                      {"accepted", n.accepted},
                      {"bytes_up", n.bytes_up},
                      {"bytes_down", n.bytes_down},
                      {"auth_failures", n.auth_failures},
                      {"users", n.users}});
}

/// One node as a line of the table.
void print_line(const mgr::cluster_node_counters& n) {
  std::cout << n.node << ": active " << n.active << ", accepted " << n.accepted
            << ", up " << n.bytes_up << " B, down " << n.bytes_down
            << " B, auth failures " << n.auth_failures << ", users " << n.users
            << "\n";
}

} // namespace

int print_cluster_metrics(const std::vector<uint8_t>& in, bool json) {
  auto v = mgr::parse_cluster_metrics_reply(in.data(), in.size());
  if (!v)
    return manager_fail(in, "cluster metrics");
  auto total = total_of(*v);
  if (json) {
    std::string nodes = "[";
    for (auto& n : v->nodes)
      nodes += (nodes.size() > 1 ? ", " : "") + node_json(n);
    nodes += "]";
    std::cout << "{\"nodes\": " << nodes << ", \"total\": " << node_json(total)
              << ", \"missing\": " << json_array(v->missing) << "}\n";
    return exit_ok;
  }
  for (auto& n : v->nodes)
    print_line(n);
  print_line(total);
  for (auto& m : v->missing)
    std::cout << "no answer: " << m << "\n";
  return exit_ok;
}

bool is_cluster_setting(const options& opt) {
  auto& c = opt.command;
  return opt.cluster && !c.empty()
         && (c[0] == "max-clients" || c[0] == "buffer-size"
             || (c[0] == "transform" && c.size() > 1));
}

std::optional<mgr::request> cluster_setting_request(const std::vector<std::string>& cmd) {
  using kind = mgr::cluster_setting_kind;
  mgr::request req;
  req.cmd = static_cast<uint8_t>(mgr::cmd::cluster_setting);
  if (cmd[0] == "max-clients" && cmd.size() == 2) {
    req.setting = static_cast<uint8_t>(kind::max_clients);
    req.value = cmd[1];
  } else if (cmd[0] == "buffer-size" && cmd.size() == 2) {
    req.setting = static_cast<uint8_t>(kind::buffer_size);
    req.value = cmd[1];
  } else if (cmd[0] == "transform" && cmd.size() == 3 && cmd[1] == "set") {
    req.setting = static_cast<uint8_t>(kind::transformation);
    req.value = cmd[2];
  } else if (cmd[0] == "transform" && cmd.size() == 2 && cmd[1] == "off") {
    req.setting = static_cast<uint8_t>(kind::transformation);
  } else {
    return std::nullopt;
  }
  if (req.value.size() > 255) {
    std::cerr << "proxyctl: the value must be at most 255 bytes\n";
    return std::nullopt;
  }
  return req;
}

int print_cluster_setting(const std::vector<uint8_t>& in, bool json) {
  auto v = mgr::parse_cluster_setting_reply(in.data(), in.size());
  if (!v)
    return manager_fail(in, "--cluster");
  bool all = v->missing.empty();
  std::vector<std::string> applied;
  std::string nodes = "[";
  for (auto& n : v->nodes) {
    all = all && n.st == mgr::status::ok;
    if (n.st == mgr::status::ok)
      applied.push_back(n.node);
    nodes += (nodes.size() > 1 ? ", " : "")
             + json_object({{"node", n.node},
                            {"applied", n.st == mgr::status::ok},
                            {"status", mgr::to_string(n.st)}});
    if (!json)
      std::cout << n.node << ": "
                << (n.st == mgr::status::ok ? "applied" : mgr::to_string(n.st)) << "\n";
  }
  if (json)
    std::cout << "{\"nodes\": " << nodes << "], \"applied\": " << json_array(applied)
              << ", \"missing\": " << json_array(v->missing) << "}\n";
  else
    for (auto& m : v->missing)
      std::cout << "no answer: " << m << "\n";
  return all ? exit_ok : exit_refused;
}

} // namespace px::proxyctl
