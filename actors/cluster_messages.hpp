// The cluster's part of the message vocabulary (included by
// actors/messages.hpp, which holds the one type-ID block): what crosses
// nodes (hello, deltas, digests, per-node metrics) and what the registry
// tells the cluster actor. Every struct here that crosses nodes is part of
// the wire format between nodes: never change its fields, add a new type at
// the end of the type-ID block instead (docs/cluster.md, "Message
// versioning").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace px {

/// The cluster protocol this build speaks (cluster_hello::protocol).
constexpr uint32_t cluster_protocol = 1;

/// A user as the registry holds it, for the cluster actor.
struct cluster_user {
  std::string name; ///< The user name.
  uint8_t roles = 0; ///< config::role_socks and/or config::role_admin.
  std::string hash; ///< The password hash (never a password).
};

/// The users in force, sent by the registry after every change (local-only).
struct users_snapshot {
  std::vector<cluster_user> users; ///< Sorted by name.
};

/// One user's replicated state: a version (Lamport counter, then origin
/// node as tie-break) and the user's roles and hash, or a tombstone.
struct cluster_entry {
  std::string user; ///< The user name.
  uint64_t counter = 0; ///< Lamport counter of the change.
  std::string origin; ///< The node where the change was made.
  bool deleted = false; ///< A tombstone: the user was deleted.
  uint8_t roles = 0; ///< Roles (live entries).
  std::string hash; ///< Password hash (live entries).
};

/// First message on a new connection, both ways.
struct cluster_hello {
  uint32_t protocol = cluster_protocol; ///< Major protocol version.
  std::string node; ///< The sender's node name.
  uint64_t clock = 0; ///< The sender's Lamport clock.
  /// The sender's listen address (ADDRESS:PORT), as peers name it in
  /// their `peer` keys: a node need not dial a peer that dialed it.
  std::string listen;
};

/// Entries from `node`: changes as they happen, or (full) every entry.
struct cluster_delta {
  std::string node; ///< The sender's node name.
  bool full = false; ///< Every entry the sender holds.
  std::vector<cluster_entry> entries; ///< The entries.
};

/// A summary of a node's entries; a peer with another digest answers with
/// its full state and asks for the sender's.
struct cluster_digest {
  std::string node; ///< The sender's node name.
  uint64_t count = 0; ///< Number of entries.
  uint64_t hash = 0; ///< Hash over every (user, counter, origin, deleted).
};

/// One node's counters, as `proxyctl cluster metrics` shows them.
struct node_metrics {
  std::string node; ///< Node name.
  uint64_t active = 0; ///< Clients connected now.
  uint64_t accepted = 0; ///< Connections accepted since start.
  uint64_t bytes_up = 0; ///< Bytes client to target since start.
  uint64_t bytes_down = 0; ///< Bytes target to client since start.
  uint64_t auth_failures = 0; ///< Failed SOCKS logins since start.
  uint64_t users = 0; ///< Users (live entries) the node holds.
};

/// The cluster's metrics: every node that answered, and who did not.
struct cluster_metrics {
  std::vector<node_metrics> nodes; ///< This node first, then peers by name.
  std::vector<std::string> missing; ///< Peers that did not answer in time.
};

/// What a node did with a setting applied to the whole cluster.
enum class node_setting : uint8_t {
  applied = 0, ///< In force for new connections.
  out_of_range = 1, ///< The value is out of its bounds (or not a number).
  disabled = 2, ///< The node's config forbids it (`transform_command = off`).
  failed = 3, ///< No answer from the node's settings actor.
};

/// One node's answer to a setting applied to the whole cluster.
struct node_applied {
  std::string node; ///< Node name.
  uint8_t status = 0; ///< A node_setting.
};

/// Every node's answer to a setting applied to the whole cluster.
struct cluster_applied {
  std::vector<node_applied> nodes; ///< This node first, then peers by name.
  std::vector<std::string> missing; ///< Peers that did not answer in time.
};

// -- inspect ------------------------------------------------------------------

/// @relates cluster_user
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_user& x) {
  return f(caf::meta::type_name("cluster_user"), x.name, x.roles, x.hash);
}

/// @relates users_snapshot
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, users_snapshot& x) {
  return f(caf::meta::type_name("users_snapshot"), x.users);
}

/// @relates cluster_entry
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_entry& x) {
  return f(caf::meta::type_name("cluster_entry"), x.user, x.counter, x.origin,
           x.deleted, x.roles, x.hash);
}

/// @relates cluster_hello
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_hello& x) {
  return f(caf::meta::type_name("cluster_hello"), x.protocol, x.node, x.clock,
           x.listen);
}

/// @relates cluster_delta
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_delta& x) {
  return f(caf::meta::type_name("cluster_delta"), x.node, x.full, x.entries);
}

/// @relates cluster_digest
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_digest& x) {
  return f(caf::meta::type_name("cluster_digest"), x.node, x.count, x.hash);
}

/// @relates node_metrics
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_metrics& x) {
  return f(caf::meta::type_name("node_metrics"), x.node, x.active, x.accepted,
           x.bytes_up, x.bytes_down, x.auth_failures, x.users);
}

/// @relates cluster_metrics
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_metrics& x) {
  return f(caf::meta::type_name("cluster_metrics"), x.nodes, x.missing);
}

/// @relates node_applied
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_applied& x) {
  return f(caf::meta::type_name("node_applied"), x.node, x.status);
}

/// @relates cluster_applied
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_applied& x) {
  return f(caf::meta::type_name("cluster_applied"), x.nodes, x.missing);
}

} // namespace px
