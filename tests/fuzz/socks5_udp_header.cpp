// Fuzz target: the header of a UDP ASSOCIATE datagram (RFC 1928 section 7).
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::udp_header h;
  // A datagram is whole, but the parser must still decide on the shortest
  // prefix that holds the header, as a stream parser does.
  auto res = check_resumable(data, size, socks5::parse_udp_header,
                             socks5::udp_header{7, stale_address()}, h);
  if (res.status != socks5::parse_status::done)
    return 0;
  FUZZ_CHECK(res.consumed <= 3 + 2 + 255 + 2);
  check_address(h.addr);
  // Round trip: the encoder writes FRAG=0, so with FRAG=0 its bytes are the
  // header consumed, and its output always parses back to the same address.
  bytes encoded;
  socks5::encode_udp_header(h.addr, encoded);
  if (h.frag == 0)
    FUZZ_CHECK(same_bytes(encoded, data, res.consumed));
  auto unfragmented = h;
  unfragmented.frag = 0;
  check_parses_back(encoded, socks5::parse_udp_header, unfragmented);
  return 0;
}
