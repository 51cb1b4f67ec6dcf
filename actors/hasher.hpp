// The hasher actor: verifies and hashes passwords with crypt(3) (yescrypt).
// Every handler blocks for tens of milliseconds, so production spawns
// hashers detached (each on its own thread); tests run them on the test
// scheduler.
#pragma once

#include "actors/messages.hpp"

namespace px {

/// Runs crypt(3): (verify, password, hash) -> matches?; (hash, password) ->
/// a new hash, empty when hashing failed.
hasher_actor::behavior_type hasher(hasher_actor::pointer self);

} // namespace px
