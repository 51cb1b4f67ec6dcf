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
  if (!v) {
    if (in.size() == 3 && in[0] == mgr::version) {
      std::cerr << "proxyctl: cluster metrics: "
                << mgr::to_string(static_cast<mgr::status>(in[2])) << "\n";
      return exit_refused;
    }
    std::cerr << "proxyctl: cluster metrics: malformed reply from the proxy\n";
    return exit_transport;
  }
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

} // namespace px::proxyctl
