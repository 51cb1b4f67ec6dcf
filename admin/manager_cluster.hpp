// The Manager session's cluster metrics command, our extension 0x08
// and cluster setting command 0x09 (docs/admin-protocols.md, docs/cluster.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "admin/admin_session.hpp"

namespace px {

/// Asks the cluster actor for every node's metrics and hands `finish` the
/// reply (admin/cluster_codec.hpp); without [cluster], a server error.
void request_cluster_metrics(caf::stateful_actor<manager_state>* self,
                             std::function<void(std::vector<uint8_t>)> finish);

/// Asks the cluster actor to apply setting `kind` = `value` on every node
/// and hands `finish` the reply (who applied, who refused, who did not
/// answer); without [cluster], a server error.
void request_cluster_setting(caf::stateful_actor<manager_state>* self, uint8_t kind,
                             const std::string& value,
                             std::function<void(std::vector<uint8_t>)> finish);

} // namespace px
