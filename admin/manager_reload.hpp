// The Manager session's reload command, our extension 0x06
// (docs/admin-protocols.md, "Reload").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "admin/admin_session.hpp"

namespace px {

/// How long a session waits for the outcome of its reload: the main thread
/// waits up to 10 s for each of the three actors that own reloaded values.
constexpr auto reload_timeout = std::chrono::seconds{60};

/// Asks the reload desk for a reload and hands `finish` the reply (VER CMD
/// STATUS TLEN TEXT) once the main thread ran it.
void request_reload(caf::stateful_actor<manager_state>* self,
                    std::function<void(std::vector<uint8_t>)> finish);

} // namespace px
