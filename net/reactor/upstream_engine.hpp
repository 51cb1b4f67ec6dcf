// The client side of a parent proxy's handshake as a pure state machine:
// the parent, the client's target and the parent's bytes in, our bytes and
// an action out. No sockets or clocks: upstream_io feeds it what it read
// from the parent and writes what it appends to `out`. Fed the same bytes
// in any split, it answers the same (tests/unit/upstream_engine_test.cpp).
//
// SOCKS5 parent (RFC 1928, RFC 1929), one message at a time (some servers
// read each message with one recv):
//   start     -> greeting: VER=5 NMETHODS METHODS (00, and 02 with credentials)
//   method    -> 00: the request; 02: the RFC 1929 request; else failed
//   auth      -> STATUS 00: the request; else failed
//   request   -> VER=5 CMD RSV ATYP DST.ADDR DST.PORT: for CONNECT the
//                client's target as the client gave it (a name stays a name:
//                the parent resolves it); for UDP ASSOCIATE the address our
//                datagrams will come from
//   reply     -> REP 00: done, BND kept (for UDP ASSOCIATE, where the
//                parent's relay waits); else failed with the REP mapped back
// HTTP parent: `CONNECT host:port HTTP/1.1` with Host (and
// Proxy-Authorization: Basic with credentials); the response head (at most
// max_http_head bytes) ends at an empty line; a 2xx status is done.
//
// Whatever follows the reply (the target may speak first) is not consumed:
// the caller hands it to the client after our own reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "net/conn_control.hpp"
#include "net/socks5_codec.hpp"
#include "net/upstream.hpp"

namespace px::net {

/// Where a parent handshake stands.
enum class up_step : uint8_t {
  /// SOCKS5: waiting for the method choice.
  method,
  /// SOCKS5: waiting for the RFC 1929 status.
  auth,
  /// SOCKS5: waiting for the reply to the request.
  reply,
  /// HTTP: waiting for the response head.
  http_head,
  /// Done or failed.
  done,
};

/// Largest HTTP response head a parent may send.
constexpr size_t max_http_head = 8192;

/// What the engine asks of its driver.
struct up_action {
  enum kind_t : uint8_t {
    /// More bytes of the parent are needed (write `out` first).
    need_more,
    /// The tunnel to the target is open.
    done,
    /// The handshake failed (`err`, `parent_fault`).
    failed,
  };
  kind_t kind = need_more;
  /// Bytes of the input this call consumed.
  size_t consumed = 0;
  /// Why it failed, as our REP code tells it (the parent's REP mapped back).
  connect_error err = connect_error::none;
  /// The parent itself failed (bad protocol, refused our credentials or
  /// method, an HTTP 407): another parent of a group may do better. False
  /// when the parent reported on the target (REP 0x02-0x06, HTTP 403, 5xx).
  bool parent_fault = false;
};

/// The connect_error a parent's REP code stands for (REP 0x00: none).
connect_error from_parent_reply(uint8_t rep);

/// The connect_error an HTTP parent's status stands for (2xx: none).
connect_error from_http_status(int status);

class upstream_engine {
public:
  /// Starts a handshake with `parent` for `target`: appends the first
  /// message (greeting or CONNECT request) to `out`. `cmd`: CONNECT, or
  /// UDP ASSOCIATE (a SOCKS5 parent only) with `target` our datagrams'
  /// source.
  void start(const parent_proxy& parent, const socks5::address& target,
             std::vector<uint8_t>& out,
             socks5::command cmd = socks5::command::connect);

  /// Parses what the parent sent so far (all of it, from the start of the
  /// current message), appending our next message to `out`.
  up_action advance(const uint8_t* data, size_t size, std::vector<uint8_t>& out);

  up_step step() const {
    return step_;
  }

  /// After done: the BND of the parent's SOCKS5 reply.
  const socks5::address& bound() const {
    return bound_;
  }

private:
  up_action on_method(const uint8_t* data, size_t size, std::vector<uint8_t>& out);
  up_action on_auth(const uint8_t* data, size_t size, std::vector<uint8_t>& out);
  up_action on_reply(const uint8_t* data, size_t size);
  up_action on_http_head(const uint8_t* data, size_t size);
  void send_request(std::vector<uint8_t>& out);
  up_action fail(connect_error err, bool parent_fault);

  up_step step_ = up_step::done;
  const parent_proxy* parent_ = nullptr;
  socks5::address target_;
  socks5::command cmd_ = socks5::command::connect;
  socks5::address bound_;
};

/// The HTTP CONNECT request for `target` (exposed for tests).
std::string http_connect_request(const parent_proxy& parent,
                                 const socks5::address& target);

/// RFC 4648 base64 of `in`.
std::string base64(std::string_view in);

} // namespace px::net
