// The access log actor: writes one line per finished connection (sessions
// send an access_record when their connection closes). Writes block, so
// production spawns it detached. A flush request is answered once every
// record that arrived before it is written: the shutdown waits for it.
#pragma once

#include <string>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"

namespace px {

/// State of the access log actor.
struct access_log_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "access-log";

  /// File descriptor written to (-1: off).
  int fd = -1;

  /// Whether the destructor closes `fd` (false for standard output).
  bool owns_fd = false;

  /// Lines written so far.
  uint64_t written = 0;

  /// Closes `fd` if owned.
  ~access_log_state();

  /// Writes one record as a line; false when the write failed.
  bool write(const access_record& rec);
};

/// Formats one access log line (without newline).
std::string format_access_record(const access_record& rec);

/// Opens the access log `target`: "-" (stdout), "off", or a file path opened
/// for appending. Returns an error text when the file cannot be opened.
std::string open_access_log(const std::string& target, int& fd);

/// The access log actor, writing to `fd` (closed at the end if `owns_fd`).
access_log_actor::behavior_type
access_log(access_log_actor::stateful_pointer<access_log_state> self, int fd,
           bool owns_fd);

} // namespace px
