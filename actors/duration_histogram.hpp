// A histogram of durations over fixed buckets: how the metrics actor counts
// the handshake and CONNECT durations the reactor measures, and what the
// Prometheus endpoint shows as *_duration_seconds histograms.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace px {

/// Upper bounds of the buckets, in nanoseconds: 0.5 ms to 10 s (the default
/// handshake and connect timeouts), roughly 1-2.5-5 per decade. Loopback
/// handshakes land in the first buckets, a yescrypt login check near 10 to
/// 100 ms, a connect that times out in the last ones.
inline constexpr std::array<int64_t, 14> duration_bounds_ns{
  500'000,     1'000'000,     2'500'000,     5'000'000,     10'000'000,
  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
  1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

/// Observations of a duration, counted per bucket.
struct duration_histogram {
  /// Observations per bucket, not cumulative: `counts[i]` holds those in
  /// (bound i-1, bound i], the last element those above every bound.
  std::vector<uint64_t> counts
    = std::vector<uint64_t>(duration_bounds_ns.size() + 1, 0);
  /// Sum of every observation, in nanoseconds.
  uint64_t sum_ns = 0;

  /// Counts one duration (a negative one as 0).
  void observe(std::chrono::nanoseconds d) {
    auto ns = std::max<int64_t>(0, d.count());
    size_t i = 0;
    while (i < duration_bounds_ns.size() && ns > duration_bounds_ns[i])
      ++i;
    if (i < counts.size())
      ++counts[i];
    sum_ns += static_cast<uint64_t>(ns);
  }

  /// Observations so far.
  uint64_t count() const {
    return std::accumulate(counts.begin(), counts.end(), uint64_t{0});
  }
};

/// @relates duration_histogram
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, duration_histogram& x) {
  return f(caf::meta::type_name("duration_histogram"), x.counts, x.sum_ns);
}

} // namespace px
