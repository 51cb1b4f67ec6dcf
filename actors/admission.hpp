// Admission: the code in actors/ that runs on the reactor's loop threads,
// not inside an actor. Everything here is called from an event loop (or
// from any thread, where a function says so) and MUST NEVER BLOCK: no
// waiting on a lock held across work, no file or socket I/O, no request to
// an actor that waits for the answer. It decides from immutable values the
// actors published beforehand and tells actors what happened with
// asynchronous sends only.
//
//   admission_desk    the listeners' accept handler: applies the acceptor's
//                     newest admission_policy (allow_client, the limits
//                     per client address, max_clients),
//                     spawns the session lazily and hands the reactor the
//                     session's handler and the handshake plan
//   session handler   (start_session) turns one connection's reactor events
//                     into messages to its session; grants a returning
//                     user's login itself from the registry's published
//                     verified_logins (keyed SHA-256, microseconds)
//   session_census    counts live sessions; the shutdown (main thread, the
//                     only place that may wait) waits on it
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include <caf/fwd.hpp>

#include "actors/messages.hpp"
#include "actors/session.hpp"
#include "net/conn_control.hpp"
#include "net/source_table.hpp"

namespace px {

/// Counts session actors from their spawn to their termination, so that the
/// shutdown can wait until every session has ended instead of sleeping. A
/// session sends its access record before it quits, so once none is live
/// every record is in the access log's mailbox.
class session_census {
public:
  /// A session is being spawned (a loop thread; an atomic increment).
  void spawned();

  /// A session terminated (a CAF thread; locks only to wake a waiter).
  void ended();

  /// Sessions spawned and not terminated yet (any thread).
  uint64_t live() const;

  /// Blocks until no session is live or `deadline` passes; true when none
  /// is live. Only for the thread that shuts down: never on a loop thread
  /// or in an actor.
  bool wait_until_none(std::chrono::steady_clock::time_point deadline);

private:
  std::atomic<uint64_t> spawned_{0};
  std::atomic<uint64_t> ended_{0};
  std::mutex mtx_;
  std::condition_variable cv_;
};

/// Spawns a session (lazily) and returns the handler that turns the
/// reactor's events for its connection into messages to it. The handler
/// grants a login found in `logins` at once, on the loop thread. The
/// session is counted in `census` until it terminates (null: not counted).
std::shared_ptr<net::conn_handler>
start_session(caf::actor_system& sys, session_args args,
              std::weak_ptr<const verified_logins> logins,
              std::shared_ptr<session_census> census = nullptr);

/// What the acceptor publishes for admissions: an immutable value.
struct admission_policy {
  /// The settings new sessions get.
  std::shared_ptr<const session_settings> settings;
  /// The handshake plan derived from `settings`.
  std::shared_ptr<const net::handshake_plan> plan;
  /// The registry's newest verified logins (sessions get weak references).
  std::shared_ptr<const verified_logins> logins;
  /// Who hears of refused clients (null: nobody).
  acceptor_actor acceptor;
  /// Per client address (sessions and connect_rate only; 0: none).
  net::account_limits source_limits;

  /// True when allow_client admits `peer` (empty list: everyone).
  bool client_allowed(const net::ip_endpoint& peer) const;

  /// The policy for `settings` and `logins`, refusals told to `acceptor`.
  static std::shared_ptr<const admission_policy>
  make(const session_settings& settings,
       std::shared_ptr<const verified_logins> logins, acceptor_actor acceptor);
};

/// The listeners' accept handler. Runs on the reactor's loop threads and
/// never blocks: it applies the acceptor's newest policy (allow_client,
/// max_clients), spawns the session and hands the reactor its handler and
/// plan, without a message to any actor.
class admission_desk : public net::accept_handler {
public:
  /// A desk whose sessions talk to `deps`.
  admission_desk(caf::actor_system& sys, session_deps deps);

  /// Replaces the policy (the acceptor, on every change; any thread).
  void publish(std::shared_ptr<const admission_policy> p);

  /// Admits or refuses a client a loop accepted (on that loop's thread).
  net::admission on_accepted(net::conn_id id, net::ip_endpoint peer,
                             const net::ip_endpoint& listener) override;

  /// What the desk's sessions talk to.
  const session_deps& deps() const {
    return deps_;
  }

  /// Counts the desk's sessions until they terminate.
  session_census& census() const {
    return *census_;
  }

  /// Sessions admitted so far.
  uint64_t admitted() const {
    return admitted_.load(std::memory_order_relaxed);
  }

  /// Client connections of admitted sessions still open. Every admitted
  /// session's connection is owned, so the reactor's closed-owned counter
  /// tells how many ended: no monitor, no message per session end.
  uint64_t active() const {
    auto closed = deps_.io->owned_closed();
    auto n = admitted();
    return n > closed ? n - closed : 0;
  }

private:
  caf::actor_system& sys_;
  session_deps deps_;
  /// Read and replaced with std::atomic_load / std::atomic_store.
  std::shared_ptr<const admission_policy> policy_;
  std::atomic<uint64_t> admitted_{0};
  /// Open and new connections per client address (lock-free; see
  /// net/source_table.hpp).
  net::source_limiter sources_;
  /// Shared with every session's termination hook.
  std::shared_ptr<session_census> census_ = std::make_shared<session_census>();
};

} // namespace px
