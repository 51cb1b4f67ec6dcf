// The cluster actor (docs/cluster.md): one per node when [cluster] is
// configured. It owns membership (the peers, their handles, the back-off of
// redials) and replication (actors/cluster_state.hpp: the users' versions
// and tombstones, saved in USERS_FILE.cluster). The registry stays the one
// owner of the users file: the cluster actor learns the users from it
// (users_snapshot) and asks it to apply entries that won (apply_atom).
//
// Dynamically typed (it also receives down messages and the middleman's
// answers); its handlers:
//   cluster_hello          a peer connected: answered with the full state
//   cluster_delta          entries from a peer: merged, winners applied
//   cluster_digest         a peer's summary: a different one is answered
//                          with the full state
//   (nmetrics_atom)        -> node_metrics of this node
//   (cmetrics_atom)        -> cluster_metrics of every node (admin plane)
//   (nsetting_atom, k, v)  -> node_setting: setting k = v applied here
//   (csetting_atom, k, v)  -> cluster_applied: applied on every node
//   users_snapshot         the registry's users: local changes versioned,
//                          saved and sent to every peer
//   (dial_atom, size_t)    dial configured peer i (back-off timer)
//   (gossip_atom)          every second: retry wanted entries; digests
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cluster_state.hpp"
#include "actors/messages.hpp"
#include "config/cluster_config.hpp"

namespace px {

/// Of two nodes, the one with the greater listen address waits this long
/// before dialing the other (which dials at once), so that they rarely
/// dial each other at the same time: CAF's middleman then drops both
/// connections as redundant.
constexpr auto cluster_dial_defer = std::chrono::milliseconds{1000};

/// Longest pause between two dials of an unreachable peer.
constexpr auto cluster_max_backoff = std::chrono::milliseconds{2000};

/// What the cluster actor works with.
struct cluster_deps {
  /// This node's listen address as peers write it (ADDRESS:PORT).
  std::string listen;
  /// The peers to dial.
  std::vector<config::cluster_peer> peers;
  /// The node's registry and metrics.
  registry_actor registry;
  metrics_actor metrics;
  /// The node's runtime settings (null: settings are not applied).
  settings_actor settings;
  /// Writes `state_path` (null or an empty path: the state is not saved).
  persister_actor persist;
  std::string state_path;
  /// Connects to peers (the middleman's or the OpenSSL manager's actor;
  /// null: nobody is dialed, as in tests).
  caf::io::middleman_actor mm;
  /// The state as loaded from `state_path`.
  cluster_replica replica;
};

/// A configured peer.
struct cluster_slot {
  /// Where it listens.
  config::cluster_peer addr;
  /// Its cluster actor while connected (dialed by this node).
  caf::actor handle;
  /// Its cluster actor while it is connected to this node (it dialed).
  caf::actor incoming;
  /// This node waited once before dialing (see `dial`).
  bool deferred = false;
  /// Its node name, once it said so.
  std::string name;
  /// A dial is in flight.
  bool dialing = false;
  /// The failure of the last dial was logged (one line per streak).
  bool failing = false;
  /// Pause before the next dial.
  std::chrono::milliseconds backoff{100};
  /// Probes the address (detached: a blocking connect with a timeout).
  caf::actor dialer;
};

/// State of the cluster actor.
struct cluster_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "cluster";

  /// Dependencies and configuration.
  cluster_deps deps;
  /// The users' entries.
  cluster_replica replica;
  /// The configured peers.
  std::vector<cluster_slot> slots;
  /// Every peer that said hello or sent entries, by node name.
  std::map<std::string, caf::actor> peers;
  /// A write of the state file is in flight; changes wait for a write.
  bool save_busy = false;
  bool save_again = false;
  /// Gossip ticks so far (digests go out every other tick).
  uint64_t ticks = 0;

  /// Every distinct peer handle (connected slots and named peers).
  std::vector<caf::actor> targets() const;

  /// The name of `who` (a peer's handle), or empty.
  std::string name_of(const caf::actor& who) const;
};

/// The cluster actor's pointer.
using cluster_ptr = caf::stateful_actor<cluster_state>*;

/// The cluster actor. Dials every peer, registers with the registry.
caf::behavior cluster(cluster_ptr self, cluster_deps deps);

/// Answers (probe_atom, host, port) with whether a TCP connect to it
/// succeeds within a second (blocks: spawn detached).
caf::behavior cluster_dialer(caf::event_based_actor* self);

/// This node's metrics (nmetrics_atom), answered through `rp`.
void local_metrics(cluster_ptr self, caf::typed_response_promise<node_metrics> rp);

/// The whole cluster's metrics (cmetrics_atom), answered through `rp`.
void cluster_wide_metrics(cluster_ptr self,
                          caf::typed_response_promise<cluster_metrics> rp);

/// Applies setting `kind` (admin/cluster_codec.hpp) = `value` on this node.
void apply_setting(cluster_ptr self, uint8_t kind, const std::string& value,
                   caf::typed_response_promise<uint8_t> rp);

/// Applies setting `kind` = `value` on every node (nsetting_atom to each).
void apply_setting_everywhere(cluster_ptr self, uint8_t kind, const std::string& value,
                              caf::typed_response_promise<cluster_applied> rp);

} // namespace px
