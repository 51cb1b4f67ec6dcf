// Runs on loop threads and in actors at once: atomics only (see limits.hpp).
#include "net/limits.hpp"

#include <algorithm>

namespace px::net {

namespace {

/// Ticks of the buckets' clock per nanosecond.
constexpr int64_t ticks_per_ns = 64;

constexpr int64_t ticks_per_second = 1'000'000'000 * ticks_per_ns;

} // namespace

// -- rate_bucket ----------------------------------------------------------------

namespace {

/// The buckets' common origin (ticks of 1/64 ns from it last 4.6 years).
limit_clock::time_point base() {
  static const auto origin = limit_clock::now();
  return origin;
}

int64_t ticks(limit_clock::time_point t) {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  return duration_cast<nanoseconds>(t - base()).count() * ticks_per_ns;
}

limit_clock::time_point at(int64_t ticks) {
  auto ns = std::chrono::nanoseconds{(ticks + ticks_per_ns - 1) / ticks_per_ns};
  return base() + std::chrono::duration_cast<limit_clock::duration>(ns);
}

} // namespace

void rate_bucket::configure(uint64_t per_second, uint64_t burst) {
  if (per_second == 0) {
    interval_.store(0, std::memory_order_relaxed);
    return;
  }
  auto interval = std::max<int64_t>(1, ticks_per_second / static_cast<int64_t>(per_second));
  auto depth = burst == 0 ? per_second : burst;
  depth_.store(interval * static_cast<int64_t>(depth), std::memory_order_relaxed);
  interval_.store(interval, std::memory_order_relaxed);
}

bool rate_bucket::take(limit_clock::time_point now) {
  auto interval = interval_.load(std::memory_order_relaxed);
  if (interval == 0)
    return true;
  auto depth = depth_.load(std::memory_order_relaxed);
  auto n = ticks(now);
  auto t = tat_.load(std::memory_order_relaxed);
  for (;;) {
    auto next = std::max(t, n) + interval;
    if (next - n > depth)
      return false;
    if (tat_.compare_exchange_weak(t, next, std::memory_order_relaxed))
      return true;
  }
}

size_t rate_bucket::grant(limit_clock::time_point now, size_t want,
                          size_t quantum, limit_clock::time_point& retry) {
  auto interval = interval_.load(std::memory_order_relaxed);
  if (interval == 0 || want == 0)
    return want;
  auto depth = depth_.load(std::memory_order_relaxed);
  auto need = static_cast<int64_t>(std::min(want, std::max<size_t>(quantum, 1)));
  auto n = ticks(now);
  auto t = tat_.load(std::memory_order_relaxed);
  for (;;) {
    auto start = std::max(t, n);
    auto avail = (n + depth - start) / interval;
    if (avail < need) {
      retry = at(start + need * interval - depth);
      return 0;
    }
    auto k = std::min(static_cast<int64_t>(want), avail);
    if (tat_.compare_exchange_weak(t, start + k * interval, std::memory_order_relaxed))
      return static_cast<size_t>(k);
  }
}

void rate_bucket::copy_level(const rate_bucket& other) {
  tat_.store(other.tat_.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void rate_bucket::refund(size_t n) {
  auto interval = interval_.load(std::memory_order_relaxed);
  if (interval != 0 && n > 0)
    tat_.fetch_sub(static_cast<int64_t>(n) * interval, std::memory_order_relaxed);
}

// -- gauge ------------------------------------------------------------------------

bool gauge::enter(uint32_t max) {
  auto n = open_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max != 0 && n > max) {
    open_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void gauge::leave() {
  open_.fetch_sub(1, std::memory_order_relaxed);
}

const char* to_string(limit_hit x) {
  switch (x) {
    case limit_hit::sessions:
      return "sessions";
    case limit_hit::rate:
      return "rate";
    case limit_hit::none:
      break;
  }
  return "";
}

// -- account ----------------------------------------------------------------------

namespace {

/// A bandwidth bucket holds a tenth of a second's bytes, at least 16 KiB:
/// small next to what a second moves, big enough for whole reads.
uint64_t bandwidth_depth(uint64_t per_second) {
  return std::max<uint64_t>(per_second / 10, 16 * 1024);
}

} // namespace

account::account(std::string name) : name_(std::move(name)) {
  // nop
}

void account::configure(const account_limits& lim) {
  max_sessions_.store(lim.sessions, std::memory_order_relaxed);
  if (connect_rate_.exchange(lim.connect_rate, std::memory_order_relaxed)
      != lim.connect_rate)
    connects.configure(lim.connect_rate);
  if (bandwidth_up_.exchange(lim.bandwidth_up, std::memory_order_relaxed)
      != lim.bandwidth_up)
    up.configure(lim.bandwidth_up, bandwidth_depth(lim.bandwidth_up));
  if (bandwidth_down_.exchange(lim.bandwidth_down, std::memory_order_relaxed)
      != lim.bandwidth_down)
    down.configure(lim.bandwidth_down, bandwidth_depth(lim.bandwidth_down));
}

account_limits account::limits() const {
  account_limits out;
  out.sessions = max_sessions_.load(std::memory_order_relaxed);
  out.connect_rate = connect_rate_.load(std::memory_order_relaxed);
  out.bandwidth_up = bandwidth_up_.load(std::memory_order_relaxed);
  out.bandwidth_down = bandwidth_down_.load(std::memory_order_relaxed);
  return out;
}

std::shared_ptr<const std::vector<std::string>> account::groups() const {
  static const auto none = std::make_shared<const std::vector<std::string>>();
  auto out = std::atomic_load(&groups_);
  return out ? out : none;
}

void account::set_groups(std::vector<std::string> groups) {
  std::atomic_store(&groups_, std::make_shared<const std::vector<std::string>>(
                                std::move(groups)));
}

std::shared_ptr<const std::string> account::outbound() const {
  static const auto none = std::make_shared<const std::string>();
  auto out = std::atomic_load(&outbound_);
  return out ? out : none;
}

void account::set_outbound(std::string name) {
  std::atomic_store(&outbound_, std::make_shared<const std::string>(std::move(name)));
}

std::shared_ptr<const std::string> account::via() const {
  static const auto none = std::make_shared<const std::string>();
  auto out = std::atomic_load(&via_);
  return out ? out : none;
}

void account::set_via(std::string via) {
  std::atomic_store(&via_, std::make_shared<const std::string>(std::move(via)));
}

// -- lease ------------------------------------------------------------------------

lease& lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    reset();
    gauge_ = std::move(other.gauge_);
  }
  return *this;
}

lease::~lease() {
  reset();
}

void lease::reset() {
  if (gauge_) {
    gauge_->leave();
    gauge_.reset();
  }
}

limit_hit lease::enter(std::shared_ptr<account> acct, limit_clock::time_point now,
                       lease& out) {
  out.reset();
  if (!acct)
    return limit_hit::none;
  if (!acct->sessions.enter(acct->limits().sessions)) {
    acct->refused_sessions.fetch_add(1, std::memory_order_relaxed);
    return limit_hit::sessions;
  }
  if (!acct->connects.take(now)) {
    acct->sessions.leave();
    acct->refused_rate.fetch_add(1, std::memory_order_relaxed);
    return limit_hit::rate;
  }
  acct->connections.fetch_add(1, std::memory_order_relaxed);
  out = adopt(acct, acct->sessions);
  return limit_hit::none;
}

} // namespace px::net
