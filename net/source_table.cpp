// Runs on loop threads: atomics only (see source_table.hpp).
#include "net/source_table.hpp"

#include <cstring>
#include <random>

namespace px::net {

namespace {

/// Slots probed for a key before its table counts as full there.
constexpr size_t probe_run = 64;

uint64_t mix(uint64_t x) {
  // splitmix64's finalizer.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

size_t round_up_pow2(size_t n) {
  size_t out = 1024;
  while (out < n)
    out <<= 1;
  return out;
}

} // namespace

// -- source_table ---------------------------------------------------------------

source_table::source_table(size_t capacity, uint64_t)
  : slots_(new slot[round_up_pow2(capacity)]), mask_(round_up_pow2(capacity) - 1) {
  // nop
}

source_table::slot* source_table::find_or_add(uint64_t key, bool& added) {
  added = false;
  for (size_t i = 0; i < probe_run; ++i) {
    auto& s = slots_[(key + i) & mask_];
    auto k = s.key.load(std::memory_order_acquire);
    if (k == key)
      return &s;
    if (k != 0)
      continue;
    if (s.key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      used_.fetch_add(1, std::memory_order_relaxed);
      added = true;
      return &s;
    }
    if (k == key) // another loop claimed it for the same address
      return &s;
  }
  return nullptr;
}

source_table::slot* source_table::find(uint64_t key) const {
  for (size_t i = 0; i < probe_run; ++i) {
    auto& s = slots_[(key + i) & mask_];
    auto k = s.key.load(std::memory_order_acquire);
    if (k == key)
      return &s;
    if (k == 0)
      return nullptr; // slots are never freed: the key would be here
  }
  return nullptr;
}

std::shared_ptr<source_table> source_table::previous() const {
  return std::atomic_load(&prev_);
}

void source_table::set_previous(std::shared_ptr<source_table> prev) {
  std::atomic_store(&prev_, std::move(prev));
}

// -- source_limiter ---------------------------------------------------------------

source_limiter::source_limiter(size_t capacity)
  : capacity_(capacity), seed_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32)),
    table_(std::make_shared<source_table>(capacity, seed_)) {
  // nop
}

uint64_t source_limiter::key_of(const ip_endpoint& addr) const {
  // The host only (ports aside); an IPv4-mapped IPv6 address is its IPv4.
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const uint8_t* p = addr.bytes.data();
  size_t n = addr.v6 ? 16 : 4;
  if (addr.v6 && std::memcmp(p, mapped, 12) == 0) {
    p += 12;
    n = 4;
  }
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::memcpy(&lo, p, n < 8 ? n : 8);
  if (n > 8)
    std::memcpy(&hi, p + 8, 8);
  auto k = mix(mix(lo ^ seed_) ^ hi ^ (n == 4 ? 0 : 0x8000000000000000ULL));
  return k == 0 ? 1 : k;
}

std::shared_ptr<source_table> source_limiter::current() {
  auto cur = std::atomic_load(&table_);
  if (cur->used() < cur->capacity() / 2)
    return cur;
  // Half used (linear probing stays short below that): a fresh table takes over, once the one before
  // the current holds no connection (only the current refers to it).
  auto prev = cur->previous();
  if (prev && prev.use_count() > 2) // `cur` and this copy
    return cur;
  prev.reset();
  cur->set_previous(nullptr);
  auto next = std::make_shared<source_table>(capacity_, seed_);
  next->set_previous(cur);
  if (std::atomic_compare_exchange_strong(&table_, &cur, next))
    return next;
  return cur; // another loop rotated first: `cur` is its table now
}

limit_hit source_limiter::enter(const ip_endpoint& addr, const account_limits& lim,
                                limit_clock::time_point now, lease& out) {
  out.reset();
  auto table = current();
  auto key = key_of(addr);
  bool added = false;
  auto s = table->find_or_add(key, added);
  if (s == nullptr) {
    full_.fetch_add(1, std::memory_order_relaxed);
    return limit_hit::none;
  }
  auto prev = table->previous();
  auto old = prev ? prev->find(key) : nullptr;
  if (s->rate.exchange(lim.connect_rate, std::memory_order_relaxed) != lim.connect_rate)
    s->connects.configure(lim.connect_rate);
  if (added && old)
    s->connects.copy_level(old->connects);
  uint32_t before = old ? old->sessions.open() : 0;
  if (lim.sessions != 0 && (before >= lim.sessions || !s->sessions.enter(lim.sessions - before)))
    return limit_hit::sessions;
  if (lim.sessions == 0)
    s->sessions.enter(0);
  if (!s->connects.take(now)) {
    s->sessions.leave();
    return limit_hit::rate;
  }
  out = lease::adopt(table, s->sessions);
  return limit_hit::none;
}

uint32_t source_limiter::open(const ip_endpoint& addr) const {
  auto table = std::atomic_load(&table_);
  auto key = key_of(addr);
  uint32_t n = 0;
  if (auto s = table->find(key))
    n += s->sessions.open();
  if (auto prev = table->previous())
    if (auto s = prev->find(key))
      n += s->sessions.open();
  return n;
}

} // namespace px::net
