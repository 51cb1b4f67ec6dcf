// Per-user and per-source limits: the RATE syntax shared by `[limits]` in
// proxy.ini (config/keys.cpp) and the users file's per-user overrides
// (config/users.hpp), their bounds, and what `proxy --check` prints.
//
// A RATE is bytes per second: a whole number with an optional binary suffix
// K, M or G (either case; 1K = 1024, 1M = 1048576, 1G = 1073741824) and an
// optional "/s" ("512K", "10M/s", "1500"). 0 means no limit; the largest is
// 1024G (1 TiB per second).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace px::config {

struct proxy_config;

/// Largest session count (`user_sessions`, `source_sessions`, `sessions=`).
constexpr uint64_t max_sessions_limit = 1'000'000;

/// Largest number of new sessions per second (`*_connect_rate`, `rate=`).
constexpr uint64_t max_connect_rate_limit = 1'000'000;

/// Largest bandwidth, bytes per second (1 TiB/s).
constexpr uint64_t max_bandwidth_limit = uint64_t{1} << 40;

/// Parses a RATE (see above) of at most max_bandwidth_limit; nullopt when
/// malformed or too large.
std::optional<uint64_t> parse_rate(std::string_view text);

/// Writes a rate with the largest suffix that keeps it exact ("1M",
/// "1536", "3G"); parse_rate reads it back.
std::string format_rate(uint64_t bytes_per_second);

/// The [limits] that are set, one `key = value` line each (nothing when
/// none is), as `proxy --check` prints them.
std::string describe_limits(const proxy_config& cfg);

} // namespace px::config
