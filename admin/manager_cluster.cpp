#include "admin/manager_cluster.hpp"

#include <chrono>

#include <caf/all.hpp>

#include "admin/cluster_codec.hpp"

namespace px {

namespace mgr = admin::manager;

namespace {

/// The cluster actor waits 1 s for each node, in parallel.
constexpr auto cluster_timeout = std::chrono::seconds{5};

/// The actors' view as the codec's.
mgr::cluster_metrics_values values_of(const cluster_metrics& m) {
  mgr::cluster_metrics_values v;
  for (auto& n : m.nodes)
    v.nodes.push_back(mgr::cluster_node_counters{n.node, n.active, n.accepted,
                                                 n.bytes_up, n.bytes_down,
                                                 n.auth_failures, n.users});
  v.missing = m.missing;
  return v;
}

} // namespace

void request_cluster_metrics(caf::stateful_actor<manager_state>* self,
                             std::function<void(std::vector<uint8_t>)> finish) {
  auto cmd = static_cast<uint8_t>(mgr::cmd::cluster_metrics);
  auto& cluster = self->state.deps.cluster;
  if (!cluster) {
    finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
    return;
  }
  self->request(cluster, cluster_timeout, cmetrics_atom_v)
    .then(
      [=](const cluster_metrics& m) {
        finish(mgr::encode_cluster_metrics_reply(values_of(m)));
      },
      [=](const caf::error&) {
        finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
      });
}

} // namespace px
