// The proxy's configuration file (`proxy.ini`): an INI dialect we parse and
// validate ourselves (CAF's own config parser silently ignores mistakes).
// Every error names the file, the line and the key.
#pragma once

#include <string>
#include <variant>

#include "config/proxy_config.hpp"

namespace px::config {

/// Loads and validates a config file. On error, returns one line such as
/// "config/proxy.ini:12: key 'buffer_size': '12q' is not a size".
std::variant<proxy_config, std::string> load(const std::string& path);

/// Parses a config from text (`path` only names it in errors).
std::variant<proxy_config, std::string> parse(const std::string& text,
                                              const std::string& path);

} // namespace px::config
