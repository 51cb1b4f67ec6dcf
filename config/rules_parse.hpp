// The syntax of one access rule in `[rules]` (docs/configuration.md):
//
//   rule = pass|block [command=LIST] [client=LIST] [user=LIST] [group=LIST]
//          [dest=LIST] [port=LIST] [via=NAME] [log]
//
// Words are separated by blanks; a LIST is items separated by commas, and
// holds when any item does. `command`: connect, bind, udp. `client`: address
// blocks. `user`: user names. `group`: groups of the users file (a
// logged-in user in any of them). `dest`: address blocks (either family) and
// names (`host.example.com` exactly, `*.example.com` below it,
// `.example.com` it and below it; any case). `port`: ports or ranges
// (`1-1023`). `via` (pass rules only): the parent proxy or group of
// `[upstream]` a CONNECT it passes goes through (`direct`: none).
#pragma once

#include <optional>
#include <string>

#include "net/rules.hpp"

namespace px::config {

/// Parses the value of a `rule =` line into `out` (its `line` stays 0);
/// returns what is wrong, or nothing.
std::optional<std::string> parse_rule(const std::string& text, net::rule& out);

} // namespace px::config
