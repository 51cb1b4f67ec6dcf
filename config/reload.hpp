// What a reload (SIGHUP) changes: compares the running configuration with
// the file as read now, key by key. Keys the running proxy can take at once
// (rules, timeouts, limits, log level, access log) are applied; keys bound
// into sockets, threads or the admin transport at the start (listeners,
// threads, DNS servers, users file path...) keep their running values and
// are named, so the log can say that a restart is needed for them.
#pragma once

#include <string>
#include <vector>

#include "config/proxy_config.hpp"

namespace px::config {

/// The outcome of comparing two configurations.
struct reload_plan {
  /// What to run with: the new file, with every key of `restart_needed`
  /// set back to its running value.
  proxy_config next;
  /// Keys (as written in the file) whose new value is applied now.
  std::vector<std::string> changed;
  /// Keys whose new value needs a restart (not applied).
  std::vector<std::string> restart_needed;
};

/// Compares `running` with `loaded` (a valid file, read again).
reload_plan plan_reload(const proxy_config& running, const proxy_config& loaded);

/// The keys the reload compares, as written in the file (each key of the
/// key table must be one: a test checks it).
std::vector<std::string> reload_keys();

/// "a, b, c".
std::string join(const std::vector<std::string>& keys);

} // namespace px::config
