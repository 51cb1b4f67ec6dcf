// Fuzz target: the header of a UDP ASSOCIATE datagram (RFC 1928 section 7).
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

namespace {

bool same_header(const socks5::udp_header& x, const socks5::udp_header& y) {
  return x.frag == y.frag && same_address(x.addr, y.addr);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::udp_header h;
  socks5::udp_header stale;
  stale.frag = 7;
  stale.addr.type = socks5::atyp::ipv6;
  stale.addr.ip.v6 = true;
  stale.addr.ip.bytes.fill(0xAB);
  // A datagram is whole, but the parser must still decide on the shortest
  // prefix that holds the header, as a stream parser does.
  auto res = check_resumable(data, size, socks5::parse_udp_header, same_header,
                             stale, h);
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
  socks5::udp_header back;
  auto again = socks5::parse_udp_header(encoded.data(), encoded.size(), back);
  FUZZ_CHECK(again.status == socks5::parse_status::done);
  FUZZ_CHECK(again.consumed == encoded.size());
  FUZZ_CHECK(back.frag == 0 && same_address(back.addr, h.addr));
  return 0;
}
