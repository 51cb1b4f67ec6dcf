// SCTP transports for the admin plane: one interface, two implementations.
//   kernel: lksctp, one-to-one style (SOCK_STREAM), when the kernel has SCTP;
//   udp:    usrsctp, SCTP encapsulated in UDP (RFC 6951), when it does not.
// Both run their own I/O thread (admin traffic is small and must never share a
// loop with the SOCKS data plane), deliver whole messages only (reassembled
// until end of record, capped), and report association events to a handler.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "net/address.hpp"

namespace px::net {

/// Identifies an association (one admin client connection).
using assoc_id = uint64_t;

/// Receives events of one listener's associations, always on the transport's
/// I/O thread, in order. Must not block.
class sctp_events {
public:
  virtual ~sctp_events() = default;
  /// A new association from `peer`.
  virtual void on_assoc_up(assoc_id id, ip_endpoint peer) = 0;
  /// One whole message. `oversized` is true when the message exceeded the
  /// transport's cap: `msg` is then empty and the rest was discarded.
  virtual void on_message(assoc_id id, std::vector<uint8_t> msg,
                          bool oversized) = 0;
  /// The association is gone (peer closed, error, or our close finished).
  virtual void on_assoc_down(assoc_id id) = 0;
};

/// A server-side SCTP transport. `send` and `close` may be called from any
/// thread; they run later on the I/O thread.
class sctp_transport {
public:
  virtual ~sctp_transport() = default;

  /// "kernel" or "udp".
  virtual const char* kind() const = 0;

  /// Binds and listens (before `start`).
  virtual std::variant<ip_endpoint, std::string>
  listen(const ip_endpoint& addr, std::shared_ptr<sctp_events> events) = 0;

  /// Starts the I/O thread.
  virtual void start() = 0;

  /// Sends one message.
  virtual void send(assoc_id id, std::vector<uint8_t> msg) = 0;

  /// Closes gracefully once every queued message is sent.
  virtual void close(assoc_id id) = 0;

  /// Closes everything and joins the I/O thread.
  virtual void stop() = 0;
};

/// True when this kernel can open SCTP sockets.
bool kernel_sctp_available();

/// Kernel SCTP transport; nullptr and `err` set when unavailable.
std::unique_ptr<sctp_transport> make_kernel_sctp(size_t max_message,
                                                 std::string& err);

/// usrsctp transport over UDP port `udp_port` (bound on all interfaces, as
/// usrsctp does); nullptr and `err` set when the port is taken.
std::unique_ptr<sctp_transport> make_udp_sctp(uint16_t udp_port,
                                              size_t max_message,
                                              std::string& err);

/// A blocking SCTP client for proxyctl and tests.
class sctp_client {
public:
  virtual ~sctp_client() = default;
  /// Sends one message; false on error.
  virtual bool send(const std::vector<uint8_t>& msg) = 0;
  /// Receives one whole message within `timeout_ms`; false on EOF, error or
  /// timeout (`error()` says which).
  virtual bool receive(std::vector<uint8_t>& msg, int timeout_ms) = 0;
  /// Text of the last error.
  virtual std::string error() const = 0;
};

/// Connects with kernel SCTP.
std::unique_ptr<sctp_client> connect_kernel_sctp(const ip_endpoint& server,
                                                 int timeout_ms, std::string& err);

/// Connects with usrsctp over UDP to `server`, whose usrsctp listens on UDP
/// port `remote_udp_port`, from the local address the kernel picks or from
/// `source` (port 0: any).
std::unique_ptr<sctp_client>
connect_udp_sctp(const ip_endpoint& server, uint16_t remote_udp_port,
                 int timeout_ms, std::string& err,
                 const std::optional<ip_endpoint>& source = std::nullopt);

} // namespace px::net
