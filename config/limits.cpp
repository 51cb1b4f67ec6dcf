#include "config/limits.hpp"

#include "config/proxy_config.hpp"

namespace px::config {

std::optional<uint64_t> parse_rate(std::string_view text) {
  if (text.size() >= 2 && text.substr(text.size() - 2) == "/s")
    text.remove_suffix(2);
  uint64_t mul = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        mul = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        mul = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        mul = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (mul != 1)
      text.remove_suffix(1);
  }
  // At most 13 digits: anything longer is above the bound anyway, and the
  // product below cannot overflow.
  if (text.empty() || text.size() > 13)
    return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max_bandwidth_limit / mul)
    return std::nullopt;
  return n * mul;
}

std::string format_rate(uint64_t bytes_per_second) {
  static constexpr struct {
    unsigned shift;
    char suffix;
  } units[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
  if (bytes_per_second != 0)
    for (auto& u : units)
      if (bytes_per_second % (uint64_t{1} << u.shift) == 0)
        return std::to_string(bytes_per_second >> u.shift) + u.suffix;
  return std::to_string(bytes_per_second);
}

std::string describe_limits(const proxy_config& cfg) {
  std::string out;
  auto count = [&out](const char* key, uint64_t value) {
    if (value != 0)
      out += std::string{key} + " = " + std::to_string(value) + "\n";
  };
  auto rate = [&out](const char* key, uint64_t value) {
    if (value != 0)
      out += std::string{key} + " = " + format_rate(value) + "/s\n";
  };
  count("user_sessions", cfg.user_sessions);
  count("user_connect_rate", cfg.user_connect_rate);
  rate("user_bandwidth_up", cfg.user_bandwidth_up);
  rate("user_bandwidth_down", cfg.user_bandwidth_down);
  count("source_sessions", cfg.source_sessions);
  count("source_connect_rate", cfg.source_connect_rate);
  if (cfg.per_user_metrics)
    out += "per_user_metrics = on\n";
  return out;
}

} // namespace px::config
