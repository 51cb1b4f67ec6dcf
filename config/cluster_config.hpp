// The `[cluster]` section as a plain struct (docs/cluster.md): this node's
// name, where peers reach it, the peers, and the TLS material. Filled by the
// keys of config/cluster_keys.hpp; absent section: `enabled` is false and
// the proxy loads no network layer for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.hpp"

namespace px::config {

/// A peer node: where to reach its cluster listener.
struct cluster_peer {
  /// Host name or IP address (no brackets).
  std::string host;
  /// TCP port.
  uint16_t port = 0;
  /// As written (HOST:PORT), for logs.
  std::string text;
};

/// The `[cluster]` section.
struct cluster_config {
  /// The section is present.
  bool enabled = false;
  /// This node's name (1-64 of [A-Za-z0-9._-]).
  std::string name;
  /// Where peers connect to this node.
  std::optional<net::ip_endpoint> listen;
  /// The other nodes.
  std::vector<cluster_peer> peers;
  /// This node's certificate, its key and the cluster's CA (PEM paths;
  /// empty: no TLS, allowed on loopback only).
  std::string cert;
  std::string key;
  std::string ca;
  /// Lines of the section header and of the keys (0: absent), for errors.
  int section_line = 0;
  int name_line = 0;
  int listen_line = 0;
  int tls_line = 0;

  /// True when cert, key and ca are set.
  bool tls() const {
    return !cert.empty() && !key.empty() && !ca.empty();
  }
};

} // namespace px::config
