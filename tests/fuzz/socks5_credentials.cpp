// Fuzz target: the RFC 1929 username/password request.
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

namespace {

bool same_credentials(const socks5::credentials& x, const socks5::credentials& y) {
  return x.user == y.user && x.password == y.password;
}

/// VER ULEN UNAME PLEN PASSWD, as a client sends it.
bytes encode_credentials(const socks5::credentials& c) {
  bytes out{socks5::auth_version, static_cast<uint8_t>(c.user.size())};
  out.insert(out.end(), c.user.begin(), c.user.end());
  out.push_back(static_cast<uint8_t>(c.password.size()));
  out.insert(out.end(), c.password.begin(), c.password.end());
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::credentials c;
  auto res = check_resumable(data, size, socks5::parse_credentials,
                             same_credentials,
                             socks5::credentials{"stale-user", "stale-password"}, c);
  if (res.status != socks5::parse_status::done)
    return 0;
  FUZZ_CHECK(res.consumed <= socks5::max_handshake_message);
  FUZZ_CHECK(!c.user.empty() && c.user.size() <= 255);
  FUZZ_CHECK(!c.password.empty() && c.password.size() <= 255);
  // Round trip: the value re-encoded is exactly the bytes consumed.
  FUZZ_CHECK(same_bytes(encode_credentials(c), data, res.consumed));
  return 0;
}
