// The bytes of a handshake on the client socket: what the proxy still has
// to write (method choice, status, replies), and reads of what the client
// sends, each bounded by one chunk. Outcomes only; closing is the loop's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/conn_control.hpp"
#include "net/reactor/side.hpp"

namespace px::net {

/// Bytes waiting to be written to the client, and what follows them.
struct outbox {
  std::vector<uint8_t> bytes;
  size_t off = 0;
  /// Hold the connection, or close it once the bytes are written.
  after then = after::hold;
  /// The close reason after::close reports.
  close_reason why = close_reason::requested;

  bool pending() const {
    return off < bytes.size();
  }

  /// Appends `more`.
  void add(const std::vector<uint8_t>& more) {
    bytes.insert(bytes.end(), more.begin(), more.end());
  }

  /// The unwritten bytes, taken out.
  std::vector<uint8_t> take();
};

enum class flush_status : uint8_t {
  /// Bytes are left; the socket is full.
  pending,
  /// Everything is written; hold the connection.
  flushed,
  /// Everything is written and the outbox says to close (`why`).
  close,
  /// The write failed: the client is gone.
  error,
};

/// Writes what `out` holds to `s`.
flush_status flush(side& s, outbox& out);

enum class read_status : uint8_t {
  /// Bytes were appended.
  got,
  /// Nothing to read now.
  none,
  /// The client closed (only `discard` tells EOF from an error).
  eof,
  /// EOF or an error: the client is gone.
  gone,
};

/// Appends at most `chunk` bytes read from `s` to `in`.
read_status read_more(side& s, std::vector<uint8_t>& in, size_t chunk);

/// While the owner checks credentials the loop reads nothing, so a client
/// that left shows only as a hang-up: true when it is gone for good (a
/// reset, or EOF with nothing unread) and not merely half-closed after
/// sending its request too (`buffered`: unparsed bytes are waiting).
bool peer_gone(const side& s, bool buffered);

/// Reads and drops what `s` has (a UDP association's control connection).
read_status discard(side& s);

} // namespace px::net
