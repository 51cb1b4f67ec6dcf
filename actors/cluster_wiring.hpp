// Starting the cluster (docs/cluster.md), for the program's wiring
// (actors/wiring_start.cpp): only when [cluster] is configured are the middleman
// and, with TLS, the OpenSSL module loaded.
#pragma once

#include <string>
#include <variant>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/messages.hpp"
#include "config/proxy_config.hpp"

namespace px {

/// Checks the TLS material of [cluster] (readable, PEM, key matches the
/// certificate); an error line naming the file, or empty.
std::string check_cluster_tls(const config::cluster_config& c);

/// Loads the middleman (and the OpenSSL module with TLS) into `sys_cfg`,
/// with heartbeats, the TLS files and the cluster's message types.
void prepare_cluster(caf::actor_system_config& sys_cfg,
                     const config::cluster_config& c);

/// What the cluster actor needs from the rest of the node.
struct cluster_links {
  registry_actor registry;
  metrics_actor metrics;
  settings_actor settings;
  persister_actor persist;
  /// The users file (its state goes to USERS_FILE.cluster; empty: none).
  std::string users_file;
};

/// Loads the state file, spawns the cluster actor and publishes it on the
/// listen address: the actor, or an error line.
std::variant<caf::actor, std::string>
start_cluster(caf::actor_system& sys, const config::cluster_config& c,
              const cluster_links& links);

} // namespace px
