// The reload desk: where the admin plane asks for a reload. A reload rereads
// the config file and the users file and waits for the actors that own their
// values, so it runs on the main thread (actors/reloader.hpp), never on a
// scheduler thread. The desk rings the main thread (`ring`, one write to an
// eventfd, see actors/main_inbox.hpp) and answers every waiting request when
// the main thread sends back the outcome.
//
// One reload at a time: a request that arrives while a reload runs waits
// for the next one (the running reload may have read the files before the
// operator's edit), and every request waiting when a reload begins shares
// its outcome. SIGHUP reloads run on the same thread, so they serialize with
// these. At most `max_reload_waiters` requests wait; more are refused.
//
// Handlers (reload_desk_actor in actors/messages.hpp):
//   reload_atom     -> the outcome of a reload that began after it
//   reload_outcome  from the main thread: the reload it asked for ended
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/messages.hpp"

namespace px {

/// Requests that may wait for a reload at once (the admin plane holds at
/// most 32 associations, each with one request).
constexpr size_t max_reload_waiters = 64;

/// State of the reload desk.
struct reload_desk_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "reload.desk";

  using promise = caf::typed_response_promise<reload_outcome>;

  /// Asks the main thread for a reload (never blocks).
  std::function<void()> ring;

  /// Whether the main thread was rung and has not answered yet.
  bool running = false;

  /// The requests the running reload answers.
  std::vector<promise> current;

  /// The requests that came while it ran: the next reload answers them.
  std::vector<promise> next;

  /// Whether `max_reload_waiters` requests wait.
  bool full() const {
    return current.size() + next.size() >= max_reload_waiters;
  }

  /// Queues `rp` (unless full); rings the main thread unless a reload runs.
  void enqueue(promise rp);

  /// The running reload ended with `outcome`: answers its requests and
  /// starts the next reload if requests wait for one.
  void finished(const reload_outcome& outcome);
};

/// The reload desk; `ring` asks the main thread for a reload.
reload_desk_actor::behavior_type
reload_desk(reload_desk_actor::stateful_pointer<reload_desk_state> self,
            std::function<void()> ring);

} // namespace px
