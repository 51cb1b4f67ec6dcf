// The persister actor: writes files atomically and durably (the users file).
// Every handler blocks on fsync, so production spawns it detached.
#pragma once

#include "actors/messages.hpp"

namespace px {

/// Writes with config::write_file_atomically: (write, path, contents) ->
/// error text, empty on success.
persister_actor::behavior_type persister(persister_actor::pointer self);

} // namespace px
