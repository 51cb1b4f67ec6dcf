// Pure SOCKS5 codec: bytes in, a parsed value / "need more" / an error out;
// values in, bytes out. No sockets, clocks or actors.
//
// Protocol overview (RFC 1928, RFC 1929), as seen by the server:
//   phase greeting:  VER=5 NMETHODS(1) METHODS(NMETHODS)        -> VER METHOD
//   phase auth:      VER=1 ULEN(1) UNAME PLEN(1) PASSWD         -> VER STATUS
//   phase request:   VER=5 CMD RSV=0 ATYP DST.ADDR DST.PORT(2)  -> VER REP RSV
//                                                         ATYP BND.ADDR BND.PORT
// Framing: every message is self-delimiting; none is longer than 515 bytes.
// A client may send several messages in one packet, or one message over
// many packets: each parser is called on the bytes buffered so far, reports
// how many it consumed when a whole message is there, and checks every field
// as soon as it arrives, so garbage is rejected without waiting for more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/socks5_proto.hpp"

namespace px::socks5 {

// -- parse results ------------------------------------------------------------

/// Why a message was rejected.
enum class codec_error : uint8_t {
  /// No error.
  none,
  /// VER is not 5 (or not 1 in the RFC 1929 sub-negotiation).
  bad_version,
  /// NMETHODS is zero.
  no_methods,
  /// ULEN or PLEN is zero.
  empty_credentials,
  /// CMD is not CONNECT, BIND or UDP ASSOCIATE.
  bad_command,
  /// RSV is not zero.
  bad_reserved,
  /// ATYP is not 1, 3 or 4.
  bad_address_type,
  /// A domain name is empty or holds a NUL byte.
  bad_domain,
};

/// Name of an error, for logs.
const char* to_string(codec_error x);

/// Outcome of one parse attempt.
enum class parse_status : uint8_t { done, need_more, error };

struct parse_result {
  parse_status status = parse_status::need_more;
  /// Bytes the message took (only for `done`).
  size_t consumed = 0;
  /// Why it failed (only for `error`).
  codec_error error = codec_error::none;

  static parse_result ok(size_t n) { return {parse_status::done, n, codec_error::none}; }
  static parse_result more() { return {}; }
  static parse_result fail(codec_error e) { return {parse_status::error, 0, e}; }
};

// -- messages -----------------------------------------------------------------

/// Method-selection message from the client.
struct greeting {
  /// The METHOD bytes offered, in the client's order (1 to 255 of them).
  std::vector<uint8_t> methods;

  /// True when the client offered method `m`.
  bool offers(method m) const;
};

/// The method to answer `g` with when the server accepts username/password
/// and/or no authentication (username/password preferred: a client that
/// offers both gets asked for its credentials); none_acceptable otherwise.
method choose_method(const greeting& g, bool userpass, bool no_auth);

/// RFC 1929 username/password request.
struct credentials {
  /// UNAME, 1 to 255 bytes.
  std::string user;
  /// PASSWD, 1 to 255 bytes.
  std::string password;
};

/// DST.ADDR / BND.ADDR with its port.
struct address {
  /// ATYP of this address.
  atyp type = atyp::ipv4;
  /// Domain name, for ATYP 3 (1 to 255 bytes, no NUL).
  std::string domain;
  /// Address and port; for a domain only `ip.port` is used.
  net::ip_endpoint ip;

  uint16_t port() const { return ip.port; }

  /// "host:port" for logs ("[v6]:port" for IPv6).
  std::string to_string() const;

  static address from(const net::ip_endpoint& ep);
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, address& x) {
  return f(x.type, x.domain, x.ip);
}

/// A client request (CONNECT, BIND or UDP ASSOCIATE).
struct request {
  /// CMD; already validated by the parser.
  command cmd = command::connect;
  /// DST.ADDR and DST.PORT.
  address dst;
};

// -- parsers ------------------------------------------------------------------

/// Parses a method-selection message from the first `n` bytes of `buf`.
parse_result parse_greeting(const uint8_t* buf, size_t n, greeting& out);

/// Parses an RFC 1929 username/password request.
parse_result parse_credentials(const uint8_t* buf, size_t n, credentials& out);

/// Parses a SOCKS5 request.
parse_result parse_request(const uint8_t* buf, size_t n, request& out);

/// Parses ATYP, address and port starting at `buf` (shared by requests and
/// UDP headers).
parse_result parse_address(const uint8_t* buf, size_t n, address& out);

/// Header of a UDP ASSOCIATE datagram: RSV(2)=0 FRAG(1) ATYP DST.ADDR
/// DST.PORT, followed by the payload.
struct udp_header {
  /// Fragment number; the proxy drops every datagram with FRAG != 0.
  uint8_t frag = 0;
  /// Destination (client to proxy) or source (proxy to client).
  address addr;
};

/// Parses a UDP datagram header; `consumed` is the payload offset. A
/// datagram is whole, so "need more" means truncated.
parse_result parse_udp_header(const uint8_t* buf, size_t n, udp_header& out);

/// Appends RSV=0 FRAG=0 ATYP ADDR PORT for `from` to `out`.
void encode_udp_header(const address& from, std::vector<uint8_t>& out);

// -- encoders -----------------------------------------------------------------

/// VER METHOD.
std::vector<uint8_t> encode_method_choice(method m);

/// VER=1 STATUS.
std::vector<uint8_t> encode_auth_status(bool success);

/// VER REP RSV ATYP BND.ADDR BND.PORT (a domain address is encoded as such).
std::vector<uint8_t> encode_reply(reply rep, const address& bound);

/// Appends ATYP, address and port to `out`.
void encode_address(const address& addr, std::vector<uint8_t>& out);

/// Largest message a client sends during the handshake (an RFC 1929 request:
/// 1 + 1 + 255 + 1 + 255).
constexpr size_t max_handshake_message = 513;

} // namespace px::socks5
