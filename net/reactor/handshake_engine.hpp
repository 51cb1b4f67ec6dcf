// The SOCKS5 handshake as a pure state machine: bytes and the plan's
// methods in, an action out. No sockets, clocks or owners: the loop feeds
// it what it read, writes what it appends to `out`, and does what the
// action says (ask the owner about credentials, run or hand over the
// request, report a failure). Fed the same bytes in any split, it answers
// the same (tests/fuzz/handshake_engine.cpp checks it).
//
//   greeting  -> the method choice is appended; go on with credentials
//                (username/password) or the request (no authentication)
//   credentials -> action `credentials`; `authenticated(ok)` appends the
//                RFC 1929 status and goes on with the request, or ends
//   request   -> action `request` (the handshake is over)
//   malformed input or no acceptable method -> action `failed`
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/conn_control.hpp"
#include "net/socks5_codec.hpp"

namespace px::net {

/// Where a handshake stands.
enum class hs_step : uint8_t {
  greeting,
  credentials,
  /// The owner is checking the credentials.
  authenticating,
  request,
  /// The request was read, or the handshake failed.
  done,
};

/// What the engine asks of the loop.
struct hs_action {
  enum kind_t : uint8_t {
    /// Every byte given was consumed and more are needed (write `out` first).
    need_more,
    /// The client sent `creds`: ask the owner, then call `authenticated`.
    credentials,
    /// The client's request `req` is read; the handshake is over.
    request,
    /// The handshake cannot go on (`stage`, `error`); the owner replies.
    failed,
    /// Waiting for the owner's verdict, or over: nothing to do.
    idle,
  };
  kind_t kind = need_more;
  /// Bytes of the input this call consumed.
  size_t consumed = 0;
  socks5::credentials creds;
  socks5::request req;
  handshake_stage stage = handshake_stage::greeting;
  socks5::codec_error error = socks5::codec_error::none;
};

class handshake_engine {
public:
  /// Starts a handshake accepting these methods (see handshake_plan).
  void reset(bool userpass, bool no_auth);

  /// Parses as many messages of `data` as the handshake takes now,
  /// appending replies to `out` (the method choice).
  hs_action advance(const uint8_t* data, size_t size, std::vector<uint8_t>& out);

  /// The owner's verdict on the credentials: appends the RFC 1929 status
  /// to `out`; true when the handshake goes on (false: close after `out`).
  /// Ignored (false) unless the engine is waiting for a verdict.
  bool authenticated(bool ok, std::vector<uint8_t>& out);

  hs_step step() const {
    return step_;
  }

private:
  /// One message each; `consumed` relative to `data`. A greeting answers
  /// need_more with its bytes consumed (the next message may follow).
  hs_action on_greeting(const uint8_t* data, size_t size, std::vector<uint8_t>& out);
  hs_action on_credentials(const uint8_t* data, size_t size);
  hs_action on_request(const uint8_t* data, size_t size);
  hs_action fail(handshake_stage stage, socks5::codec_error err, size_t consumed);

  hs_step step_ = hs_step::greeting;
  bool userpass_ = true;
  bool no_auth_ = false;
};

} // namespace px::net
