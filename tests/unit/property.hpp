// Property tests under CAF's unit-test framework: a seeded PRNG and a loop
// that stops at the first counterexample, naming the seed to replay it with.
// Every test prints its seed; PROXY_TEST_SEED=N replays a run.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <caf/test/unit_test.hpp>

namespace px::test {

/// The seed of this run: $PROXY_TEST_SEED, else taken from the clock.
inline uint64_t property_seed() {
  if (auto env = std::getenv("PROXY_TEST_SEED"))
    return std::strtoull(env, nullptr, 10);
  static const auto seed = static_cast<uint64_t>(
    std::chrono::steady_clock::now().time_since_epoch().count());
  return seed;
}

/// Random values for one property test.
class property_rng {
public:
  property_rng() : seed_(property_seed()), gen_(seed_) {
    std::fprintf(stderr, "property seed %llu (replay: PROXY_TEST_SEED=%llu)\n",
                 static_cast<unsigned long long>(seed_),
                 static_cast<unsigned long long>(seed_));
  }

  uint64_t seed() const { return seed_; }

  /// Uniform in [lo, hi].
  uint64_t between(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>{lo, hi}(gen_);
  }

  /// A uniform 64-bit value with a uniform number of significant bits, so
  /// that every byte length is as likely as every other.
  uint64_t any_width() {
    auto bits = between(0, 64);
    auto v = between(0, UINT64_MAX);
    return bits == 64 ? v : v & ((uint64_t{1} << bits) - 1);
  }

  uint8_t byte() { return static_cast<uint8_t>(between(0, 255)); }

  /// `n` arbitrary bytes (NUL included).
  std::string bytes(size_t n) {
    std::string out(n, '\0');
    for (auto& c : out)
      c = static_cast<char>(byte());
    return out;
  }

private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

/// Hex of a byte string (the first 96 bytes), for failure messages.
template <class Bytes>
std::string hex(const Bytes& data) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  size_t n = 0;
  for (auto c : data) {
    if (++n > 96)
      return out + "... (" + std::to_string(data.size()) + " bytes)";
    auto b = static_cast<uint8_t>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

/// Runs `body(rng)` `cases` times. `body` returns an empty string when the
/// property holds, else a description of the counterexample; the first one
/// is printed with the seed and the case number and fails the check.
template <class Body>
void for_all(property_rng& rng, const char* property, int cases, Body body) {
  int held = 0;
  for (; held < cases; ++held) {
    auto counterexample = body(rng);
    if (!counterexample.empty()) {
      CAF_TEST_PRINT_ERROR(property << " fails in case " << held << " of seed "
                                    << rng.seed() << ": " << counterexample);
      break;
    }
  }
  CAF_CHECK_EQUAL(held, cases);
}

} // namespace px::test
