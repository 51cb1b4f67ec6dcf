// The access log actor: writes one line per finished connection (sessions
// send an access_record when their connection closes), as text or as a JSON
// object (JSON Lines). Writes block, so production spawns it detached. A
// flush request is answered once every record that arrived before it is
// written: the shutdown waits for it. A reopen request (SIGHUP, SIGUSR1:
// logrotate renamed the file) opens the target anew and switches to it;
// when that fails the old file stays in use.
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

  /// Whether `fd` is closed when replaced or at the end (false for
  /// standard output).
  bool owns_fd = false;

  /// Where the records go and how they look.
  access_log_spec spec;

  /// Lines written so far.
  uint64_t written = 0;

  /// Closes `fd` if owned.
  ~access_log_state();

  /// Writes one record as a line; false when the write failed.
  bool write(const access_record& rec);

  /// Opens `next.target` and switches to it (closing the old file if
  /// owned); returns an error text and keeps the old file when it cannot
  /// be opened.
  std::string reopen(const access_log_spec& next);
};

/// Formats one access log line as text (without newline).
std::string format_access_record(const access_record& rec);

/// Formats one access log line as a JSON object (without newline): keys
/// time, client, user, dest, result, up, down, ms; user and dest are null
/// when there is none ("-"); bytes that are not UTF-8 become U+FFFD.
std::string format_access_json(const access_record& rec);

/// Opens the access log `target`: "-" (stdout), "off", or a file path opened
/// for appending. Returns an error text when the file cannot be opened.
std::string open_access_log(const std::string& target, int& fd);

/// The access log actor, writing to `fd` (closed at the end if `owns_fd`)
/// in the format of `spec` (whose target is what `fd` was opened from).
access_log_actor::behavior_type
access_log(access_log_actor::stateful_pointer<access_log_state> self, int fd,
           bool owns_fd, access_log_spec spec);

} // namespace px
