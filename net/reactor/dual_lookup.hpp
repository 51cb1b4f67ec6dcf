// One name's A and AAAA queries, asked at the same time and merged (RFC 8305
// section 3, without adding addresses to a race already running): the
// lookup completes when both families have answered, or a resolution delay
// after the first answer that has addresses, so that a family whose answer
// is lost or slow costs that delay, not the resolver's timeout. A family
// whose answer is an error (no such data, a timeout) is waited for no
// longer than the other: the lookup then holds what the other found.
#pragma once

#include <chrono>
#include <optional>

#include "net/reactor/resolver.hpp"

namespace px::net {

class dual_lookup {
public:
  using clock = std::chrono::steady_clock;

  /// How long a lookup whose first family found addresses waits for the
  /// other (RFC 8305 recommends 50 ms).
  static constexpr std::chrono::milliseconds resolution_delay{50};

  /// The answer of one family (`v6`: AAAA). True when the lookup is
  /// complete now.
  bool add(bool v6, resolve_result answer, clock::time_point now);

  /// The resolution delay runs out then (none: it is not running).
  std::optional<clock::time_point> deadline() const {
    return deadline_;
  }

  /// Both families answered.
  bool both() const {
    return got_[0] && got_[1];
  }

  /// The merged result: the addresses of both families (IPv6 first when
  /// `v6_first`, each family in its resolver's order), or, when neither
  /// found any, the more telling error (a timeout or failure over "no
  /// such name", which only both families can say).
  resolve_result take(bool v6_first);

  /// Both families found addresses (the caller chooses which leads).
  bool has_both_families() const {
    return !answer_[0].addrs.empty() && !answer_[1].addrs.empty();
  }

  /// The first IPv6 address found (has_both_families()).
  const ip_endpoint& first_v6() const {
    return answer_[1].addrs.front();
  }

private:
  /// [0]: IPv4, [1]: IPv6.
  resolve_result answer_[2];
  bool got_[2] = {false, false};
  std::optional<clock::time_point> deadline_;
};

} // namespace px::net
