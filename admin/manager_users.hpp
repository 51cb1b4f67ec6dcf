// The Manager session's user commands: add user, and our extension's
// delete user and change password (docs/admin-protocols.md).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "admin/admin_session.hpp"

namespace px {

/// True for the commands request_user_change handles.
bool is_user_command(uint8_t cmd);

/// Asks the registry for the add, delete or password change in `req` and
/// hands `finish` the reply (VER CMD STATUS) once the registry answers.
void request_user_change(caf::stateful_actor<manager_state>* self,
                         const admin::manager::request& req,
                         std::function<void(std::vector<uint8_t>)> finish);

/// Asks the registry for the counters of user `name` (empty: every user)
/// and hands `finish` the reply (no_such_user for an unknown name).
void request_user_stats(caf::stateful_actor<manager_state>* self,
                        const std::string& name,
                        std::function<void(std::vector<uint8_t>)> finish);

} // namespace px
