// The keys of outgoing sockets and of what replies advertise: `[outbound]`
// (the default profile), `[outbound.NAME]` (a named profile, same keys) and
// the `*_advertise_address` keys of [socks]. config::parse (config.cpp) reads
// a named section's lines through `apply_named_outbound`.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/ini.hpp"
#include "config/keys.hpp"

namespace px::config {

/// The advertise keys of [socks].
std::vector<key_spec> advertise_keys();

/// `[socks] listen = ADDRESS:PORT [udp_advertise=IP] [bind_advertise=IP]
/// [advertise=IP]` (repeatable): a listener and what replies to its
/// clients advertise.
key_spec listen_key();

/// The keys of [outbound] (stored in the default profile).
std::vector<key_spec> outbound_keys();

/// NAME of a `[outbound.NAME]` section; nothing for other sections.
std::optional<std::string> named_outbound(std::string_view section);

/// Applies one line of a `[outbound.NAME]` section (a header creates the
/// profile); `seen` holds the (section, key) pairs before it.
std::optional<line_error>
apply_named_outbound(const ini_line& line, const std::string& name,
                     const std::string& path, proxy_config& cfg,
                     std::set<std::pair<std::string, std::string>>& seen);

} // namespace px::config
