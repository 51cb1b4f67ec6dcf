// The syntax of `[upstream]` (docs/configuration.md):
//
//   parent  = NAME socks5://[USER:PASS@]IP:PORT    (repeatable)
//   parent  = NAME http://[USER:PASS@]IP:PORT      (an HTTP CONNECT proxy)
//   group   = NAME PARENT1,PARENT2,...             (repeatable; failover in order)
//   default = NAME                                 (a parent or group; absent: direct)
//
// NAME is like a group name of the users file (no ',', '=', ':' or blanks);
// `direct` is reserved (it means no parent). A rule's `via=NAME` and a
// user's `via=NAME` pick a parent or group too; a rule's `via=` may name an
// outbound profile instead (`[outbound.NAME]`: direct, under that profile),
// as may its `outbound=`. Every name used must be defined, and no parent or
// group may share its name with a profile: check_upstream says where.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/ini.hpp"
#include "config/proxy_config.hpp"
#include "config/users.hpp"
#include "net/upstream.hpp"

namespace px::config {

/// Parses the value of a `parent =` line; returns what is wrong, or nothing.
std::optional<std::string> parse_parent(const std::string& text, net::parent_proxy& out);

/// Parses the value of a `group =` line.
std::optional<std::string> parse_parent_group(const std::string& text,
                                              net::parent_group& out);

/// Parses the value of `[upstream] default =`.
std::optional<std::string> parse_via_name(const std::string& text, std::string& out);

/// Names used twice, groups of unknown parents, a default or a rule's
/// `via` or `outbound` naming nothing: the first such mistake, with its
/// line.
std::optional<line_error> check_upstream(const proxy_config& cfg);

/// A user's `via` naming no parent or group of `cfg`: "PATH: user 'NAME':
/// ..." for the users file `path`.
std::optional<std::string> check_user_vias(const proxy_config& cfg,
                                           const std::vector<user_entry>& users,
                                           const std::string& path);

/// The compiled parents of `cfg` (null when it has none).
std::shared_ptr<const net::upstream_set> compile_upstream(const proxy_config& cfg);

} // namespace px::config
