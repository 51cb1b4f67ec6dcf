// The SOCKS5 session actor (one per client connection) and the acceptor that
// admits clients and spawns sessions.
//
// A session owns the decisions about one client; the reactor owns its
// sockets and runs the handshake under the plan the session hands it at
// spawn (methods accepted, deadline, how a CONNECT is run). Handlers
// (dynamically typed; reactor events arrive as messages):
//   conn_credentials       username/password     -> registry -> authenticated
//   conn_request           BIND / UDP ASSOCIATE  -> bind / udp_associate
//   conn_bound             BIND listener is up   -> first reply
//   conn_connected         BIND peer / UDP relay -> success reply, relay
//   conn_handshake_failed  malformed input       -> reply, close
//   conn_failed            upstream failed       -> failure reply, close
//   conn_closed            connection gone       -> access log line, quit
#pragma once

#include <chrono>
#include <cstdint>
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
  /// Logins the registry verified (see verified_logins).
  std::weak_ptr<const verified_logins> logins;
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
  std::weak_ptr<const verified_logins> logins;
  /// When the client was admitted.
  caf::actor_clock::time_point started;
  int64_t started_unix_ms = 0;
};

/// The session actor. Its spawner hands the connection to the reactor
/// (`start_session`), so a session can be spawned lazily: it first runs when
/// the reactor has something to tell it.
caf::behavior session(caf::stateful_actor<session_state>* self,
                      session_args args);

/// Spawns a session for an admitted client and starts its handshake under
/// `plan`.
caf::actor start_session(caf::local_actor* spawner, session_args args,
                         const net::handshake_plan& plan);

/// State of the acceptor.
struct acceptor_state {
  static inline const char* name = "socks5.acceptor";
  std::shared_ptr<const session_settings> settings;
  /// The plan derived from `settings`.
  net::handshake_plan plan;
  session_deps deps;
  /// The newest verified logins (sessions get weak references).
  std::shared_ptr<const verified_logins> logins;
  /// Sessions spawned so far.
  uint64_t admitted = 0;

  /// Client connections of admitted sessions still open.
  uint64_t active() const {
    auto closed = deps.io->owned_closed();
    return admitted > closed ? admitted - closed : 0;
  }

  /// True when allow_client admits `peer` (empty list: everyone).
  bool client_allowed(const net::ip_endpoint& peer) const;
};

/// The acceptor actor.
acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, session_deps deps);

/// Reactor adapter: turns a listener's accepts into messages to an acceptor.
std::shared_ptr<net::accept_handler> make_accept_handler(acceptor_actor dst);

} // namespace px
