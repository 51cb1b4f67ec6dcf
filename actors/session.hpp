// The SOCKS5 session actor, one per client connection.
//
// A session owns the decisions about one client; the reactor owns its
// sockets and runs the handshake under the plan the acceptor published
// (methods accepted, deadline, how a CONNECT is run). The admission desk
// (actors/admission.hpp) spawns a session lazily when a loop accepts its
// client, and the session's handler turns the reactor's events into
// messages: a client whose login the registry verified before costs the
// session one message, its close. Handlers (dynamically typed; reactor
// events arrive as messages):
//   conn_credentials       a login not verified before -> registry -> authenticated
//   conn_request           BIND / UDP ASSOCIATE  -> bind / udp_associate
//   conn_bound             BIND listener is up   -> first reply
//   conn_connected         BIND peer / UDP relay -> success reply, relay
//   conn_handshake_failed  malformed input       -> reply, close
//   conn_failed            upstream failed       -> failure reply, close
//   conn_closed            connection gone       -> cancel a pending login
//                                                   check, the durations to
//                                                   metrics, access log line, quit
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>

#include "actors/messages.hpp"
#include "actors/accounts.hpp"
#include "net/conn_control.hpp"
#include "net/socks5_codec.hpp"

namespace px {

/// What a session talks to.
struct session_deps {
  /// Executes commands on connections (the reactor, or a fake in tests).
  net::conn_control* io = nullptr;
  /// Checks credentials not verified before.
  registry_actor registry;
  /// Counts failures, timeouts and replies.
  metrics_actor metrics;
  /// Null when the access log is off.
  access_log_actor access_log;
  /// The users' accounts, for their limits (null: none).
  std::shared_ptr<const account_board> accounts;
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
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "socks5.session";

  /// The client connection.
  net::conn_id id = 0;
  /// The client's address.
  net::ip_endpoint peer;
  /// The listener the client connected to (its configured address).
  net::ip_endpoint listener;
  /// The settings in force when the client was admitted.
  std::shared_ptr<const session_settings> settings;
  /// Who the session talks to.
  session_deps deps;
  /// Where the session is.
  phase ph = phase::handshake;
  /// The request's command (CONNECT, BIND or UDP ASSOCIATE).
  socks5::command cmd = socks5::command::connect;
  /// The authenticated user ("-": none yet).
  std::string user = "-";
  /// The request's destination, as logged ("-": none yet).
  std::string destination = "-";
  /// Why the session ended, when known before the connection closes.
  std::string result;
  /// When the client was admitted (CAF's clock, for the duration).
  caf::actor_clock::time_point started;
  /// When the client was admitted (wall clock, for the log line).
  int64_t started_unix_ms = 0;

  // -- decisions (pure, so tests can call them) --------------------------------

  /// The handshake plan the reactor runs for a client under `s`.
  static net::handshake_plan plan_for(const session_settings& s);

  /// The relay options a session under `s` asks for.
  static net::relay_options relay_for(const session_settings& s);

  /// The address UDP ASSOCIATE replies (`udp`) or BIND's first reply
  /// advertise to a client of `listener` under `s`: the listener's own
  /// (`listen = ... udp_advertise=IP`), else the [socks] key's;
  /// unspecified: the socket's address.
  static net::ip_endpoint advertise_for(const session_settings& s,
                                        const net::ip_endpoint& listener, bool udp);

  /// The REP code that tells a client why its connect failed.
  static socks5::reply reply_for(net::connect_error err);

  /// The REP code for a malformed request.
  static socks5::reply reply_for(socks5::codec_error err);
};

/// Spawn arguments of a session.
struct session_args {
  /// The client connection.
  net::conn_id id = 0;
  /// The client's address.
  net::ip_endpoint peer;
  /// The listener the client connected to.
  net::ip_endpoint listener;
  /// The settings in force at admission.
  std::shared_ptr<const session_settings> settings;
  /// Who the session talks to.
  session_deps deps;
  /// When the client was admitted.
  caf::actor_clock::time_point started;
  /// When the client was admitted (wall clock).
  int64_t started_unix_ms = 0;
};

/// The session actor. It is spawned lazily (see start_session in
/// actors/admission.hpp): it first runs when the reactor has something to
/// tell it.
caf::behavior session(caf::stateful_actor<session_state>* self,
                      session_args args);

} // namespace px
