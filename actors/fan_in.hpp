// One answer to a request that asked every node of the cluster: the nodes'
// answers (this node's first, then by name) and the names of the nodes
// that did not answer in time, delivered once the last is in. Shared by
// cluster metrics and cluster-wide settings.
#pragma once

#include <algorithm>
#include <cstddef>

#include <caf/typed_response_promise.hpp>

namespace px {

/// `Reply` has `nodes` (each with a `node` name; the first is this node's)
/// and `missing` (names).
template <class Reply>
struct fan_in {
  caf::typed_response_promise<Reply> rp;
  Reply out;
  size_t waiting = 0;

  /// One answer (or failure) less: answers once all are in.
  void done() {
    if (--waiting > 0)
      return;
    auto& n = out.nodes;
    if (n.size() > 1)
      std::sort(n.begin() + 1, n.end(),
                [](const auto& a, const auto& b) { return a.node < b.node; });
    std::sort(out.missing.begin(), out.missing.end());
    rp.deliver(std::move(out));
  }
};

} // namespace px
