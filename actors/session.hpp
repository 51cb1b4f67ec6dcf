// The SOCKS5 session actor (one per client connection), the acceptor that
// owns the admission policy, and the admission desk that applies it.
//
// A session owns the decisions about one client; the reactor owns its
// sockets and runs the handshake under the plan the acceptor published
// (methods accepted, deadline, how a CONNECT is run). The desk admits a
// client on the loop thread that accepted it, from the acceptor's newest
// published policy, spawns its session lazily and hands the reactor the
// session's handler: a client whose login the registry verified before
// costs the session one message, its close. Handlers (dynamically typed;
// reactor events arrive as messages):
//   conn_credentials       a login not verified before -> registry -> authenticated
//   conn_request           BIND / UDP ASSOCIATE  -> bind / udp_associate
//   conn_bound             BIND listener is up   -> first reply
//   conn_connected         BIND peer / UDP relay -> success reply, relay
//   conn_handshake_failed  malformed input       -> reply, close
//   conn_failed            upstream failed       -> failure reply, close
//   conn_closed            connection gone       -> access log line, quit
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"
#include "net/socks5_codec.hpp"

namespace px {

/// What a session talks to.
struct session_deps {
  /// Executes commands on connections (the reactor, or a fake in tests).
  net::conn_control* io = nullptr;
  registry_actor registry;
  metrics_actor metrics;
  /// Null when the access log is off.
  access_log_actor access_log;
};

/// Phases of a SOCKS5 session, as the session sees them.
enum class phase : uint8_t {
  /// The reactor runs the handshake (greeting, and the request once the
  /// credentials are accepted).
  handshake,
  /// The registry checks the credentials.
  authenticating,
  /// A BIND or UDP ASSOCIATE is being set up.
  connecting,
  /// BIND or UDP ASSOCIATE relays (a CONNECT's relay shows in the close).
  relaying,
  /// A final reply is on its way; the connection closes after it.
  closing,
};

/// Name of a phase, for logs.
const char* to_string(phase x);

/// State of one session.
struct session_state {
  static inline const char* name = "socks5.session";

  net::conn_id id = 0;
  net::ip_endpoint peer;
  std::shared_ptr<const session_settings> settings;
  session_deps deps;
  phase ph = phase::handshake;
  /// The request's command (CONNECT, BIND or UDP ASSOCIATE).
  socks5::command cmd = socks5::command::connect;
  std::string user = "-";
  std::string destination = "-";
  /// Why the session ended, when known before the connection closes.
  std::string result;
  caf::actor_clock::time_point started;
  int64_t started_unix_ms = 0;

  // -- decisions (pure, so tests can call them) --------------------------------

  /// The handshake plan the reactor runs for a client under `s`.
  static net::handshake_plan plan_for(const session_settings& s);

  /// The REP code that tells a client why its connect failed.
  static socks5::reply reply_for(net::connect_error err);

  /// The REP code for a malformed request.
  static socks5::reply reply_for(socks5::codec_error err);
};

/// Spawn arguments of a session.
struct session_args {
  net::conn_id id = 0;
  net::ip_endpoint peer;
  std::shared_ptr<const session_settings> settings;
  session_deps deps;
  /// When the client was admitted.
  caf::actor_clock::time_point started;
  int64_t started_unix_ms = 0;
};

/// The session actor. It is spawned lazily (see start_session): it first
/// runs when the reactor has something to tell it.
caf::behavior session(caf::stateful_actor<session_state>* self,
                      session_args args);

/// Spawns a session (lazily) and returns the handler that turns the
/// reactor's events for its connection into messages to it. The handler
/// grants a login found in `logins` at once, on the loop thread.
std::shared_ptr<net::conn_handler>
start_session(caf::actor_system& sys, session_args args,
              std::weak_ptr<const verified_logins> logins);

/// What the acceptor publishes for admissions: an immutable value.
struct admission_policy {
  std::shared_ptr<const session_settings> settings;
  /// The handshake plan derived from `settings`.
  std::shared_ptr<const net::handshake_plan> plan;
  /// The registry's newest verified logins (sessions get weak references).
  std::shared_ptr<const verified_logins> logins;
  /// Who hears of refused clients (null: nobody).
  acceptor_actor acceptor;

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
  admission_desk(caf::actor_system& sys, session_deps deps);

  /// Replaces the policy (the acceptor, on every change; any thread).
  void publish(std::shared_ptr<const admission_policy> p);

  net::admission on_accepted(net::conn_id id, net::ip_endpoint peer) override;

  const session_deps& deps() const {
    return deps_;
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
};

/// State of the acceptor.
struct acceptor_state {
  static inline const char* name = "socks5.acceptor";
  session_settings settings;
  std::shared_ptr<const verified_logins> logins;
  std::shared_ptr<admission_desk> desk;
};

/// The acceptor actor: owns the admission policy, logs and counts refused
/// clients. Its spawner publishes the initial policy itself
/// (admission_policy::make) before clients can come: an actor's first run is
/// asynchronous.
acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, std::shared_ptr<admission_desk> desk);

} // namespace px
