// The Manager session's cluster metrics command, our extension 0x08
// (docs/admin-protocols.md, docs/cluster.md).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "admin/admin_session.hpp"

namespace px {

/// Asks the cluster actor for every node's metrics and hands `finish` the
/// reply (admin/cluster_codec.hpp); without [cluster], a server error.
void request_cluster_metrics(caf::stateful_actor<manager_state>* self,
                             std::function<void(std::vector<uint8_t>)> finish);

} // namespace px
