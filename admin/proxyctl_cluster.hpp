// proxyctl's `cluster metrics`: prints the Manager protocol's cluster
// metrics reply (admin/cluster_codec.hpp) as a table or JSON.
#pragma once

#include <cstdint>
#include <vector>

namespace px::proxyctl {

/// Prints every node, the totals and the nodes that did not answer (or a
/// JSON object); the exit code (0 even when nodes are missing: they are
/// named).
int print_cluster_metrics(const std::vector<uint8_t>& in, bool json);

} // namespace px::proxyctl
