// Part of the cluster actor (actors/cluster.hpp): one metrics view of the
// cluster. Each node answers for itself from its metrics actor; the node
// asked over the admin plane asks every connected peer (1 s each, in
// parallel) and names the configured peers that did not answer.
#include <algorithm>
#include <memory>

#include <caf/all.hpp>

#include "actors/cluster.hpp"
#include "actors/fan_in.hpp"

namespace px {

namespace {

/// How long a node's metrics may take.
constexpr auto metrics_timeout = std::chrono::seconds{1};

/// One request to every node in progress.
using gathering = fan_in<cluster_metrics>;

} // namespace

void local_metrics(cluster_ptr self, caf::typed_response_promise<node_metrics> rp) {
  auto& st = self->state;
  node_metrics m;
  m.node = st.replica.self();
  m.users = st.replica.live();
  if (!st.deps.metrics) {
    rp.deliver(m);
    return;
  }
  self->request(st.deps.metrics, metrics_timeout, get_atom_v)
    .then(
      [=](const metrics_snapshot& s) mutable {
        m.active = s.active;
        m.accepted = s.accepted;
        m.bytes_up = s.bytes_up;
        m.bytes_down = s.bytes_down;
        m.auth_failures = s.auth_failures;
        rp.deliver(m);
      },
      [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
}

void cluster_wide_metrics(cluster_ptr self,
                          caf::typed_response_promise<cluster_metrics> rp) {
  auto& st = self->state;
  auto g = std::make_shared<gathering>();
  g->rp = std::move(rp);
  auto targets = st.targets();
  // Configured peers without a connection cannot answer.
  for (auto& s : st.slots)
    if (!s.handle && !s.incoming && std::none_of(st.peers.begin(), st.peers.end(),
                                  [&](auto& kv) { return kv.first == s.name; }))
      g->out.missing.push_back(s.name.empty() ? s.addr.text : s.name);
  g->waiting = targets.size() + 1;
  // This node's metrics, asked of itself (answered like a peer's).
  self->request(caf::actor_cast<caf::actor>(self), metrics_timeout, nmetrics_atom_v)
    .then(
      [=](const node_metrics& m) {
        g->out.nodes.insert(g->out.nodes.begin(), m);
        g->done();
      },
      [=](caf::error&) {
        g->out.missing.push_back(self->state.replica.self());
        g->done();
      });
  for (auto& h : targets) {
    auto name = st.name_of(h);
    self->request(h, metrics_timeout, nmetrics_atom_v)
      .then(
        [=](const node_metrics& m) {
          g->out.nodes.push_back(m);
          g->done();
        },
        [=](caf::error&) {
          g->out.missing.push_back(name.empty() ? "unnamed peer" : name);
          g->done();
        });
  }
}

} // namespace px
