// The program's wiring: builds the running proxy from its configuration
// (reactor, actors, admin plane, listeners), serves until SIGINT or SIGTERM
// and shuts down. The only file in actors/ that constructs the reactor
// (net/reactor.hpp); it is linked into the `proxy` executable, not into the
// actors library, because it also starts the admin plane (admin/).
#pragma once

#include "config/config.hpp"

namespace px {

/// Runs the proxy configured by `cfg` until SIGINT or SIGTERM. Returns the
/// exit code: 0 after a clean shutdown, 1 when it could not start (the
/// reason is logged as one line).
int run(const config::proxy_config& cfg);

} // namespace px
