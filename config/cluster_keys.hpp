// The keys of `[cluster]` (docs/cluster.md) and the section's cross-check:
// name and listen are required, TLS (cert, key, ca) whenever listen is not
// a loopback address.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "config/ini.hpp"
#include "config/keys.hpp"

namespace px::config {

/// A cluster node's name: 1 to 64 of A-Z a-z 0-9 . _ -.
bool valid_node_name(std::string_view name);

/// The keys of [cluster].
std::vector<key_spec> cluster_keys();

/// Notes where the [cluster] header and its keys are (for check_cluster).
void note_cluster_line(const ini_line& line, proxy_config& cfg);

/// What is wrong with the [cluster] section as a whole, if anything.
std::optional<line_error> check_cluster(const proxy_config& cfg);

} // namespace px::config
