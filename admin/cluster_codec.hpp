// The Manager protocol's cluster metrics reply, our extension 0x08
// (docs/admin-protocols.md, docs/cluster.md). Pure code over bytes.
//
//   VER CMD=0x08 STATUS=0x00 COUNT { NLEN NAME 6 x (LEN NUM) }
//                            MISSING { NLEN NAME }
//
// COUNT nodes that answered (the asked node first), each with its counters
// in the order of `cluster_node_counters`, numbers as in the metrics reply;
// then the names of the peers that did not answer in time. At most 255 of
// each (a longer list is cut).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "admin/codec.hpp"

namespace px::admin::manager {

/// KIND of a cluster_setting request (0x09): DATA = KIND VLEN VALUE.
enum class cluster_setting_kind : uint8_t {
  /// VALUE: max clients, decimal ASCII.
  max_clients = 0x01,
  /// VALUE: buffer size in bytes, decimal ASCII.
  buffer_size = 0x02,
  /// VALUE: the transformation command (empty: off).
  transformation = 0x03,
};

/// One node's answer to a cluster_setting request.
struct cluster_node_status {
  std::string node; ///< Node name.
  status st = status::ok; ///< ok: applied; else why not.
};

/// A decoded cluster_setting reply:
///   VER CMD=0x09 STATUS=0x00 COUNT { NLEN NAME STATUS } MISSING { NLEN NAME }
struct cluster_setting_values {
  std::vector<cluster_node_status> nodes; ///< Nodes that answered.
  std::vector<std::string> missing; ///< Peers that did not answer.
};

/// Encodes a cluster_setting reply with status ok.
std::vector<uint8_t> encode_cluster_setting_reply(const cluster_setting_values& v);

/// Parses a cluster_setting reply with status ok.
std::optional<cluster_setting_values> parse_cluster_setting_reply(const uint8_t* buf,
                                                                  size_t n);

/// One node's counters.
struct cluster_node_counters {
  std::string node; ///< Node name (1-64 bytes).
  uint64_t active = 0; ///< Clients connected now.
  uint64_t accepted = 0; ///< Connections accepted since start.
  uint64_t bytes_up = 0; ///< Client to target since start.
  uint64_t bytes_down = 0; ///< Target to client since start.
  uint64_t auth_failures = 0; ///< Failed SOCKS logins since start.
  uint64_t users = 0; ///< Users the node holds.
};

/// A decoded cluster metrics reply.
struct cluster_metrics_values {
  std::vector<cluster_node_counters> nodes; ///< Nodes that answered.
  std::vector<std::string> missing; ///< Peers that did not answer.
};

/// Encodes a reply with status ok.
std::vector<uint8_t> encode_cluster_metrics_reply(const cluster_metrics_values& v);

/// Parses a reply with status ok; nullopt when malformed or another reply.
std::optional<cluster_metrics_values> parse_cluster_metrics_reply(const uint8_t* buf,
                                                                  size_t n);

} // namespace px::admin::manager
