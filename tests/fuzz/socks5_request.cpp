// Fuzz target: the SOCKS5 request (RFC 1928 section 4) and, through it, the
// address parser and encoder shared with replies and UDP headers.
#include "tests/fuzz/socks5_fuzz.hpp"

using namespace px;
using namespace px::fuzz;

namespace {

bool same_request(const socks5::request& x, const socks5::request& y) {
  return x.cmd == y.cmd && same_address(x.dst, y.dst);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  socks5::request req;
  socks5::request stale;
  stale.cmd = socks5::command::udp_associate;
  stale.dst.type = socks5::atyp::domain;
  stale.dst.domain = "stale.example";
  auto res = check_resumable(data, size, socks5::parse_request, same_request,
                             stale, req);
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
  socks5::request back;
  auto again = socks5::parse_request(rep.data(), rep.size(), back);
  FUZZ_CHECK(again.status == socks5::parse_status::done);
  FUZZ_CHECK(again.consumed == rep.size());
  FUZZ_CHECK(same_request(back, req));
  return 0;
}
