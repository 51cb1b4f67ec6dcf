// Fuzz target: the SOCKS5 method-selection message (RFC 1928 section 3).
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

namespace {

/// The server's choice is one the client offered, username/password first.
void check_choice(const socks5::greeting& g) {
  using socks5::method;
  for (bool userpass : {false, true}) {
    for (bool no_auth : {false, true}) {
      auto m = socks5::choose_method(g, userpass, no_auth);
      if (m != method::none_acceptable)
        FUZZ_CHECK(g.offers(m));
      if (userpass && g.offers(method::userpass))
        FUZZ_CHECK(m == method::userpass);
      else if (no_auth && g.offers(method::no_auth))
        FUZZ_CHECK(m == method::no_auth);
      else
        FUZZ_CHECK(m == method::none_acceptable);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::greeting g;
  auto res = check_resumable(data, size, socks5::parse_greeting,
                             socks5::greeting{{0x02, 0x80}}, g);
  if (res.status != socks5::parse_status::done)
    return 0;
  FUZZ_CHECK(!g.methods.empty() && g.methods.size() <= 255);
  // Round trip: the value re-encoded is exactly the bytes consumed.
  FUZZ_CHECK(same_bytes(encode(g), data, res.consumed));
  check_choice(g);
  return 0;
}
