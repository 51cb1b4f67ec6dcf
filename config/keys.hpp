// The key table of `proxy.ini`: one entry per key with its section, its name,
// whether it may repeat, and how its value is parsed, validated and stored
// in a `proxy_config` (config/proxy_config.hpp), and the duration and size
// parsers its entries share. `config::parse` (config.cpp) looks every entry
// of the tokenized file up here; docs/configuration.md documents the same keys.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/proxy_config.hpp"

namespace px::config {

/// Parses "10s", "500ms", "2m", "1h" or a plain number of seconds, at most
/// 100 days.
bool parse_duration(const std::string& text, std::chrono::milliseconds& out);

/// Parses "65536", "64k", "1m" (binary multiples).
bool parse_size(const std::string& text, size_t& out);

/// Parses, validates and stores one value. Gets the value and the path of the
/// config file (relative paths are resolved against its folder); returns
/// what is wrong with the value, or nothing when it was stored.
using key_setter = std::function<std::optional<std::string>(
  const std::string& value, const std::string& path, proxy_config& cfg)>;

/// One key of `proxy.ini`.
struct key_spec {
  /// Section name without brackets.
  std::string_view section;
  /// Key name.
  std::string_view name;
  /// True when the key may appear several times (each adds to a list).
  bool repeatable = false;
  /// Parses the value and stores it.
  key_setter set;
};

/// `v` (a path given in the config file, not empty) resolved against the
/// folder of the config file `config_path`, unless absolute.
std::string relative_to_config(const std::string& v, const std::string& config_path);

/// Every key, grouped by section in the order the sections are documented.
const std::vector<key_spec>& key_table();

/// The entry of `section`.`name`, or nullptr.
const key_spec* find_key(std::string_view section, std::string_view name);

/// True when some key lives in `section`.
bool known_section(std::string_view section);

/// "[socks], [server], [admin]": the sections of the table in order.
std::string known_sections();

} // namespace px::config
