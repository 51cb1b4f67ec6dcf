// Every service actor's header at once. Kept for includers outside actors/
// that predate the one-actor-per-file split (tests/unit/admin_session_test);
// new code includes the header of the actor it uses.
#pragma once

#include "actors/access_log.hpp"
#include "actors/hasher.hpp"
#include "actors/metrics.hpp"
#include "actors/persister.hpp"
#include "actors/registry.hpp"
#include "actors/settings.hpp"
