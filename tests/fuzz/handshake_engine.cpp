// Fuzz target: the handshake engine (net/reactor/handshake_engine.hpp) fed
// random splits. The first input byte picks the plan's methods, the second
// the owner's verdicts on credentials, the third seeds the splits; the rest
// is what a client sends. Whole or in pieces, the engine must take the same
// actions, consume the same bytes and write the same replies; it never
// consumes more than it was given, waits idle while the owner decides, and
// writes nothing but a method choice and an RFC 1929 status.
#include <random>
#include <string>
#include <vector>

#include "net/reactor/handshake_engine.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace px;
using namespace px::fuzz;

namespace {

struct trace {
  std::vector<int> kinds;
  bytes out;
  std::string detail;
  size_t consumed = 0;
};

/// Checks the owner's turn after a credentials action; false ends the run.
bool on_credentials(net::handshake_engine& e, const net::hs_action& a, bytes& buf,
                    bool grant, trace& t) {
  t.detail += a.creds.user + '\0' + a.creds.password + '\0';
  FUZZ_CHECK(!a.creds.user.empty() && !a.creds.password.empty());
  FUZZ_CHECK(e.step() == net::hs_step::authenticating);
  auto idle = e.advance(buf.data(), buf.size(), t.out);
  FUZZ_CHECK(idle.kind == net::hs_action::idle && idle.consumed == 0);
  if (e.authenticated(grant, t.out))
    return true;
  FUZZ_CHECK(e.step() == net::hs_step::done);
  return false;
}

/// Runs the engine over `in`, handing it pieces drawn from `rng` (whole
/// when null), as the loop does: unconsumed bytes stay buffered.
trace run(const uint8_t* in, size_t n, uint8_t methods, uint8_t verdicts,
          std::minstd_rand* rng) {
  net::handshake_engine e;
  e.reset(methods & 1, (methods & 2) != 0);
  trace t;
  bytes buf;
  size_t fed = 0;
  int asked = 0;
  for (;;) {
    auto a = e.advance(buf.data(), buf.size(), t.out);
    FUZZ_CHECK(a.consumed <= buf.size());
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(a.consumed));
    t.consumed += a.consumed;
    if (a.kind == net::hs_action::need_more) {
      if (fed == n)
        return t;
      auto piece = rng ? 1 + (*rng)() % (n - fed) : n - fed;
      buf.insert(buf.end(), in + fed, in + fed + piece);
      fed += piece;
      continue;
    }
    t.kinds.push_back(a.kind);
    if (a.kind == net::hs_action::credentials
        && on_credentials(e, a, buf, (verdicts >> (asked++ % 8)) & 1, t))
      continue;
    if (a.kind == net::hs_action::request)
      t.detail += std::to_string(static_cast<int>(a.req.cmd)) + a.req.dst.to_string();
    if (a.kind == net::hs_action::failed)
      t.detail += std::to_string(static_cast<int>(a.stage))
                  + std::to_string(static_cast<int>(a.error));
    FUZZ_CHECK(a.kind == net::hs_action::credentials || e.step() == net::hs_step::done);
    return t;
  }
}

/// What the engine writes: VER METHOD (00 or 02), then after 02 at most
/// one status 01 00 or 01 01.
void check_replies(const bytes& out) {
  FUZZ_CHECK(out.size() <= 4);
  if (out.empty())
    return;
  FUZZ_CHECK(out.size() >= 2 && out[0] == 0x05 && (out[1] == 0x00 || out[1] == 0x02));
  if (out.size() > 2)
    FUZZ_CHECK(out[1] == 0x02 && out.size() == 4 && out[2] == 0x01 && out[3] <= 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3)
    return 0;
  auto methods = data[0];
  auto verdicts = data[1];
  std::minstd_rand rng{data[2] + 1u};
  auto in = data + 3;
  auto n = size - 3;
  auto whole = run(in, n, methods, verdicts, nullptr);
  check_replies(whole.out);
  FUZZ_CHECK(whole.consumed <= n);
  for (int round = 0; round < 4; ++round) {
    auto split = run(in, n, methods, verdicts, &rng);
    FUZZ_CHECK(split.kinds == whole.kinds);
    FUZZ_CHECK(split.out == whole.out);
    FUZZ_CHECK(split.detail == whole.detail);
    FUZZ_CHECK(split.consumed == whole.consumed);
  }
  return 0;
}
