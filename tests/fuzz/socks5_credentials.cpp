// Fuzz target: the RFC 1929 username/password request.
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::credentials c;
  auto res = check_resumable(data, size, socks5::parse_credentials,
                             socks5::credentials{"stale-user", "stale-password"}, c);
  if (res.status != socks5::parse_status::done)
    return 0;
  FUZZ_CHECK(res.consumed <= socks5::max_handshake_message);
  FUZZ_CHECK(!c.user.empty() && c.user.size() <= 255);
  FUZZ_CHECK(!c.password.empty() && c.password.size() <= 255);
  // Round trip: the value re-encoded is exactly the bytes consumed.
  FUZZ_CHECK(same_bytes(encode(c), data, res.consumed));
  return 0;
}
