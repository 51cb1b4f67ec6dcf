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

/// A node's answer as a Manager status.
mgr::status status_of(uint8_t s) {
  switch (static_cast<node_setting>(s)) {
    case node_setting::applied:
      return mgr::status::ok;
    case node_setting::out_of_range:
      return mgr::status::invalid_value;
    case node_setting::disabled:
      return mgr::status::forbidden;
    case node_setting::failed:
      return mgr::status::server_error;
  }
  return mgr::status::server_error;
}

} // namespace

void request_cluster_setting(caf::stateful_actor<manager_state>* self, uint8_t kind,
                             const std::string& value,
                             std::function<void(std::vector<uint8_t>)> finish) {
  auto cmd = static_cast<uint8_t>(mgr::cmd::cluster_setting);
  auto& cluster = self->state.deps.cluster;
  if (!cluster) {
    finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
    return;
  }
  self->request(cluster, cluster_timeout, csetting_atom_v, kind, value)
    .then(
      [=](const cluster_applied& a) {
        mgr::cluster_setting_values v;
        for (auto& n : a.nodes)
          v.nodes.push_back(mgr::cluster_node_status{n.node, status_of(n.status)});
        v.missing = a.missing;
        finish(mgr::encode_cluster_setting_reply(v));
      },
      [=](const caf::error&) {
        finish(mgr::encode_status_reply(cmd, mgr::status::server_error));
      });
}

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
