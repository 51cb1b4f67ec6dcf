// The SOCKS5 session actor (one per client connection) and the acceptor that
// admits clients and spawns sessions.
//
// A session owns the protocol state of one client; the reactor owns its
// sockets. Handlers (dynamically typed; reactor events arrive as messages):
//   conn_data       handshake bytes          -> parse, reply, ask registry
//   conn_connected  upstream is up           -> success reply, start relay
//   conn_failed     upstream failed          -> failure reply, close
//   conn_closed     connection gone          -> access log line, quit
//   deadline_atom   handshake took too long  -> close
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
  access_log_actor access_log;
};

/// Phases of a SOCKS5 session.
enum class phase : uint8_t {
  greeting,
  auth,
  authenticating,
  request,
  connecting,
  relaying,
  closing,
};

/// Name of a phase, for logs.
const char* to_string(phase x);

/// Largest number of handshake bytes a session buffers.
constexpr size_t max_session_buffer = 4096;

/// State of one session.
struct session_state {
  static inline const char* name = "socks5.session";

  net::conn_id id = 0;
  net::ip_endpoint peer;
  session_settings settings;
  session_deps deps;
  phase ph = phase::greeting;
  /// Handshake bytes received and not yet parsed.
  std::vector<uint8_t> buf;
  /// The request's command (CONNECT, BIND or UDP ASSOCIATE).
  socks5::command cmd = socks5::command::connect;
  std::string user = "-";
  std::string destination = "-";
  /// Why the session ended, when known before the connection closes.
  std::string result;
  caf::actor_clock::time_point started;
  int64_t started_unix_ms = 0;

  // -- decisions (pure, so tests can call them) --------------------------------

  /// The method to answer a greeting with, under the configured auth mode.
  static socks5::method choose_method(config::auth_mode mode,
                                      const socks5::greeting& g);

  /// The REP code that tells a client why its connect failed.
  static socks5::reply reply_for(net::connect_error err);

  /// The REP code for a malformed request.
  static socks5::reply reply_for(socks5::codec_error err);
};

/// Spawn arguments of a session.
struct session_args {
  net::conn_id id = 0;
  net::ip_endpoint peer;
  session_settings settings;
  session_deps deps;
};

/// The session actor.
caf::behavior session(caf::stateful_actor<session_state>* self,
                      session_args args);

/// State of the acceptor.
struct acceptor_state {
  static inline const char* name = "socks5.acceptor";
  session_settings settings;
  session_deps deps;
  /// Sessions alive now.
  uint64_t active = 0;

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
