// proxyctl's cluster commands: `cluster metrics` prints the Manager
// protocol's cluster metrics reply (admin/cluster_codec.hpp) as a table or
// JSON; `--cluster` turns max-clients, buffer-size and transform set/off
// into a cluster setting request (0x09) and prints who applied it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "admin/codec.hpp"
#include "admin/proxyctl_common.hpp"

namespace px::proxyctl {

/// Prints every node, the totals and the nodes that did not answer (or a
/// JSON object); the exit code (0 even when nodes are missing: they are
/// named).
int print_cluster_metrics(const std::vector<uint8_t>& in, bool json);

/// True when --cluster asks for a setting on every node.
bool is_cluster_setting(const options& opt);

/// The cluster setting request of `cmd` (max-clients N, buffer-size N,
/// transform set CMD, transform off).
std::optional<admin::manager::request>
cluster_setting_request(const std::vector<std::string>& cmd);

/// Prints each node's answer (or a JSON object); 0 when every node applied
/// and none was missing, else 1.
int print_cluster_setting(const std::vector<uint8_t>& in, bool json);

} // namespace px::proxyctl
