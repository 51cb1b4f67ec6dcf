// Fuzz target: the SOCKS5 request (RFC 1928 section 4) and, through it, the
// address parser and encoder shared with replies and UDP headers.
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::request req;
  auto stale = socks5::request{socks5::command::udp_associate, stale_address()};
  auto res = check_resumable(data, size, socks5::parse_request, stale, req);
  if (res.status != socks5::parse_status::done)
    return 0;
  FUZZ_CHECK(res.consumed <= 3 + 2 + 255 + 2);
  check_address(req.dst);
  // Round trip: VER CMD RSV and the encoded address are the bytes consumed.
  bytes encoded{socks5::version, static_cast<uint8_t>(req.cmd), 0x00};
  socks5::encode_address(req.dst, encoded);
  FUZZ_CHECK(same_bytes(encoded, data, res.consumed));
  // A reply has the request's layout with REP in place of CMD: the reply
  // encoder's bytes, read back as a request, give the same address.
  auto rep = socks5::encode_reply(static_cast<socks5::reply>(req.cmd), req.dst);
  check_parses_back(rep, socks5::parse_request, req);
  return 0;
}
