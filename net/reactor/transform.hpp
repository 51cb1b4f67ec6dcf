// The transformation program of one connection: `/bin/sh -c CMD` with
// pipes on its standard input and output (the relay feeds it the target's
// bytes and sends its output to the client), and the reaper that collects
// programs once their connection is gone, without blocking the loop.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

#include "net/reactor/side.hpp"

namespace px::net {

/// A program must finish its output this long after its input ended, or
/// the connection is closed (a stalled filter never holds a connection
/// until the idle timeout).
constexpr auto transform_drain_timeout = std::chrono::seconds{10};

/// Collects exited programs (never blocks the loop).
class reaper {
public:
  /// `pid` was killed or has exited: collect it later.
  void add(pid_t pid) {
    zombies_.push_back(pid);
  }

  /// Collects those that are gone (WNOHANG).
  void reap();

  /// Collects every one (they were SIGKILLed: returns at once).
  void reap_all();

  bool empty() const {
    return zombies_.empty();
  }

private:
  std::vector<pid_t> zombies_;
};

/// A running program and the two pipes to it.
class transform_proc {
public:
  /// Starts `/bin/sh -c cmd`; false with errno set on failure. The pipes
  /// are non-blocking; the caller registers `input` and `output`.
  bool spawn(const std::string& cmd, side_owner* owner);

  /// The program's standard input (we write) and output (we read).
  side input;
  side output;

  /// Closes the program's input (its EOF).
  void close_input() {
    input.close();
  }

  /// Closes both pipes and kills the program if it still runs; `r`
  /// collects it.
  void stop(reaper& r);

private:
  pid_t pid_ = -1;
};

} // namespace px::net
