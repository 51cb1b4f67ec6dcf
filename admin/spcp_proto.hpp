// SPCP (Simple Proxy Communication Protocol, ../shared/specs/spcp.txt): every
// number the protocol puts on the wire.
#pragma once

#include <cstdint>

namespace px::spcp {

/// Default SCTP port of the SPCP listener (from the spec).
constexpr uint16_t default_port = 9090;

/// CMD values of requests.
enum class cmd : uint8_t {
  /// Authentication: the user name (1 argument).
  user = 0x00,
  /// Authentication: the password (1 argument), right after USER.
  pass = 0x01,
  /// Concurrent connections (no argument).
  concurrent = 0x02,
  /// Bytes transferred since start (no argument).
  bytes = 0x03,
  /// Historical accesses: connections accepted since start (no argument).
  historical = 0x04,
  /// The active transformation, empty when none (no argument).
  get_transform = 0x05,
  /// Buffer size for new connections (1 argument, decimal bytes).
  set_buffer = 0x06,
  /// Transformation command (0 arguments or an empty one disables it).
  set_transform = 0x07,
  /// End of session: reply OK, then close.
  quit = 0x09,
};

/// STATUS values of responses.
enum class status : uint8_t {
  ok = 0x00,
  auth_error = 0x01,
  invalid_command = 0x02,
  invalid_args = 0x03,
  general_error = 0x04,
};

/// Name of a status, for proxyctl and logs.
const char* to_string(status x);

/// Name of a command, for logs (nullptr when unknown).
const char* to_string(cmd x);

} // namespace px::spcp
