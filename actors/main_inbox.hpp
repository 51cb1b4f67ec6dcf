// What the main thread waits for: the signals it handles (read through a
// signalfd) and reload requests from the admin plane's reload desk (an
// eventfd). The main thread blocks in `next`, which may; `ring` is one
// write(2) to the eventfd and never blocks, so the desk calls it on a
// scheduler thread. Program only (like the reloader), main thread only
// except `ring`.
#pragma once

#include <csignal>
#include <string>

namespace px {

class main_inbox {
public:
  /// What `next` returns for a reload request (signals are positive).
  static constexpr int reload_request = 0;

  /// Watches `signals`, which must be blocked in every thread; check
  /// `error()` before use.
  explicit main_inbox(const sigset_t& signals);

  ~main_inbox();

  main_inbox(const main_inbox&) = delete;
  main_inbox& operator=(const main_inbox&) = delete;

  /// Why the descriptors could not be made (empty: ready).
  const std::string& error() const {
    return error_;
  }

  /// Any thread: asks the main thread for a reload (requests before it
  /// takes them count once).
  void ring();

  /// Main thread: waits for the next signal (its number) or reload request
  /// (`reload_request`). A pending signal comes before a pending request,
  /// so that SIGTERM is never held up behind reloads.
  int next();

private:
  /// A pending signal's number, or 0 when none is pending.
  int take_signal();

  int signal_fd_ = -1;
  int event_fd_ = -1;
  std::string error_;
};

} // namespace px
