// The proxy's message vocabulary: every atom, message type and typed actor
// interface, in one CAF type-ID block. Build with CAF_ENABLE_TYPE_ID_CHECKS so
// that sending a type missing here fails to compile.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include "actors/cluster_messages.hpp"
#include "actors/duration_histogram.hpp"
#include "actors/registry_messages.hpp"
#include "config/config.hpp"
#include "config/users.hpp"
#include "net/conn_control.hpp"

namespace px {

// -- reactor events, as messages ----------------------------------------------

/// The client sent username/password (to its session).
struct conn_credentials {
  socks5::credentials creds; ///< What the client sent (never logged).
  /// A login_check (actors/accounts.hpp): `granted` asks the session to
  /// check the login; `sessions` or `rate` say the handler verified it and
  /// the user's limit refused it (the session answers and logs that).
  uint8_t limited = 0;
};

/// The client asked for BIND or UDP ASSOCIATE (to its session).
struct conn_request {
  socks5::request req; ///< The parsed request.
};

/// The handshake cannot go on (to its session).
struct conn_handshake_failed {
  /// The message that could not be parsed or accepted.
  net::handshake_stage stage = net::handshake_stage::greeting;
  /// How it was malformed (none: no acceptable method).
  socks5::codec_error error = socks5::codec_error::none;
};

/// The upstream connect succeeded (to its session).
struct conn_connected {
  net::ip_endpoint local; ///< The proxy's address (UDP ASSOCIATE: the relay's).
  net::ip_endpoint remote; ///< The peer (BIND: the host that connected).
};

/// BIND: the proxy listens for the peer on `local` (to its session).
struct conn_bound {
  net::ip_endpoint local; ///< Where the peer must connect to.
};

/// The upstream connect failed (to its session).
struct conn_failed {
  net::connect_error error = net::connect_error::none; ///< Why.
};

/// The connection is gone (to its session, exactly once).
struct conn_closed {
  /// Bytes, reason, target and upstream peer of the connection.
  net::close_stats stats;
  /// The login granted without asking the session (from the published
  /// verified logins); empty otherwise.
  std::string user;
};

/// One whole message on an admin association (to its admin session).
struct admin_msg {
  std::vector<uint8_t> bytes; ///< The message as received.
  /// The message exceeded the transport's cap; `bytes` is empty.
  bool oversized = false;
};

/// Counters of the reactor since the last batch (to metrics): bytes, UDP
/// drops, CONNECT successes, admitted connections (handed to a session) and
/// those of them closed.
struct traffic {
  net::traffic_counts counts; ///< The counts of one batch.
};

// -- settings -----------------------------------------------------------------

/// Runtime knobs a session needs; owned by the settings actor, copied to the
/// acceptor on every change and from there, in its admission policy, to each
/// new session.
struct session_settings {
  /// Which methods clients may use.
  config::auth_mode auth = config::auth_mode::userpass;
  /// Bytes a connection may hold per direction.
  uint64_t buffer_size = 64 * 1024;
  uint64_t max_clients = 1024; ///< Clients served at once; more are refused.
  /// Greeting to request, in milliseconds.
  int64_t handshake_timeout_ms = 10000;
  /// DNS and every TCP attempt of a CONNECT, in milliseconds.
  int64_t connect_timeout_ms = 10000;
  /// Which family a CONNECT to a name tries first, and the delay between
  /// its attempts (Happy Eyeballs), in milliseconds.
  net::address_family prefer = net::address_family::system;
  int64_t attempt_delay_ms = 250;
  /// How long a BIND waits for its peer, in milliseconds.
  int64_t bind_timeout_ms = 60000;
  /// A relay without traffic this long closes, in milliseconds.
  int64_t idle_timeout_ms = 300000;
  bool splice = true; ///< Zero-copy relay through pipes.
  std::vector<net::cidr> allow_clients; ///< Clients admitted (empty: everyone).
  /// Connections at once and new connections a second per client address
  /// (`[limits] source_sessions`, `source_connect_rate`; 0: none).
  uint32_t source_sessions = 0;
  uint32_t source_connect_rate = 0;
  /// The access rules compiled from [rules] and deny_destination
  /// (immutable, shared by every session and loop thread; null: none).
  std::shared_ptr<const net::rule_set> rules;
  /// The outbound profiles of [outbound] and [outbound.NAME] (immutable,
  /// shared like the rules; null: none).
  std::shared_ptr<const net::outbound_table> outbound;
  /// BND.ADDR of UDP ASSOCIATE replies and of BIND's first reply, with the
  /// socket's port (`udp_advertise_address`, `bind_advertise_address`;
  /// 0.0.0.0: the socket's own address).
  net::ip_endpoint udp_advertise;
  net::ip_endpoint bind_advertise;
  /// Listeners that advertise addresses of their own (`listen = ADDR:PORT
  /// udp_advertise=IP ...`), before the two above.
  std::vector<config::listener_advertise> per_listener;
  /// The parent proxies compiled from [upstream] (immutable, shared like
  /// the rules; null: none, every CONNECT is direct).
  std::shared_ptr<const net::upstream_set> upstream;
  /// Filter program for target-to-client bytes (empty: none).
  std::string transform;
  /// Whether a filter may be set (`[admin] transform_command`); when false,
  /// `transform` stays empty.
  bool transform_allowed = true;
};

/// How the settings actor answered a change from the admin plane.
enum class setting_change : uint8_t {
  /// The value is in force for new connections.
  applied,
  /// The value is out of its bounds: nothing changed.
  out_of_range,
  /// The configuration forbids this change (`transform_command = off`).
  disabled,
};

/// Builds the settings of the config file (at the start and on a reload).
session_settings make_settings(const config::proxy_config& cfg);

/// The users' default limits of the config file (`[limits] user_*`).
net::account_limits user_limits(const config::proxy_config& cfg);

// -- metrics ------------------------------------------------------------------

/// Events counted by the metrics actor (admitted connections, relayed bytes
/// and CONNECT successes arrive batched in `traffic`).
enum class metric : uint8_t {
  /// A client was refused because max_clients was reached.
  rejected_max_clients,
  /// A client address is outside allow_client.
  rejected_client_rule,
  /// A username/password check failed.
  auth_failure,
  /// A username/password check was refused for overload (not checked).
  auth_overload,
  /// A client did not finish its handshake in time.
  handshake_timeout,
  /// A client sent a malformed message.
  protocol_error,
  /// A reply was sent; the argument is the REP code.
  reply,
  /// A message reached an actor that has no handler for it.
  unexpected_message,
  /// A failed login on an admin protocol.
  admin_auth_failure,
  /// A client address was at its source_sessions limit.
  rejected_source_sessions,
  /// A client address was at its source_connect_rate limit.
  rejected_source_rate,
  /// A user's login was refused at its sessions limit.
  user_limit_sessions,
  /// A user's login was refused at its connect-rate limit.
  user_limit_rate,
};

/// One counted event.
struct metric_event {
  metric kind = metric::protocol_error; ///< What happened.
  uint8_t arg = 0; ///< The REP code for `metric::reply`, else 0.
};

/// How long a client's handshake and CONNECT took, as the reactor measured
/// them (a session tells the metrics actor at the close of a connection
/// whose request was parsed).
struct conn_durations {
  int64_t handshake_ns = 0; ///< From the accept to the parsed request.
  /// How the CONNECT ended (none: BIND, UDP ASSOCIATE, or closed before).
  net::connect_result connect = net::connect_result::none;
  int64_t connect_ns = 0; ///< From the request to the CONNECT's outcome.
};

/// The admission desk turned a client away (to the acceptor, which logs and
/// counts it: no log write on a reactor thread).
struct client_refused {
  net::ip_endpoint peer; ///< The client's address.
  /// rejected_client_rule, rejected_max_clients, or a source limit.
  metric reason = metric::rejected_client_rule;
};

/// All counters and gauges at one moment.
struct metrics_snapshot {
  /// Clients admitted (handed to a session) since the start.
  uint64_t accepted = 0;
  uint64_t active = 0; ///< Clients connected now.
  uint64_t bytes_up = 0; ///< Bytes relayed from clients to targets.
  uint64_t bytes_down = 0; ///< Bytes relayed from targets to clients.
  uint64_t auth_failures = 0; ///< Failed username/password checks.
  /// Username/password checks refused for overload (not checked).
  uint64_t auth_overloads = 0;
  uint64_t rejected_max_clients = 0; ///< Clients refused at max_clients.
  uint64_t rejected_client_rule = 0; ///< Clients refused by allow_client.
  uint64_t handshake_timeouts = 0; ///< Handshakes that did not finish in time.
  uint64_t protocol_errors = 0; ///< Malformed client messages.
  uint64_t unexpected_messages = 0; ///< Messages no handler expected.
  uint64_t admin_auth_failures = 0; ///< Failed logins on the admin protocols.
  /// UDP datagrams dropped (fragments, foreign sources, denied or
  /// unresolvable destinations, full buffers).
  uint64_t udp_dropped = 0;
  /// Requests, BIND peers and UDP datagrams the access rules blocked, by
  /// command.
  uint64_t rule_blocks_connect = 0;
  uint64_t rule_blocks_bind = 0;
  uint64_t rule_blocks_udp = 0;
  /// Clients refused at a limit of their address, and logins refused at a
  /// limit of their user ([limits]).
  uint64_t rejected_source_sessions = 0;
  uint64_t rejected_source_rate = 0;
  uint64_t user_limit_sessions = 0;
  uint64_t user_limit_rate = 0;
  /// Reads the relay put off because a user's bandwidth was used up.
  uint64_t bandwidth_waits = 0;
  /// Replies sent, indexed by REP code (0x00 to 0x08).
  std::vector<uint64_t> replies = std::vector<uint64_t>(socks5::reply_count, 0);
  /// Handshakes that reached a request: from the accept to the request.
  duration_histogram handshake_durations;
  /// CONNECTs, from the request to the connect's success or failure.
  duration_histogram connect_succeeded_durations;
  duration_histogram connect_failed_durations;
};

// -- access log ---------------------------------------------------------------

/// One line of the access log, written when a connection ends.
struct access_record {
  /// When the client was admitted (Unix time, milliseconds).
  int64_t start_unix_ms = 0;
  int64_t duration_ms = 0; ///< From admission to the close.
  std::string client; ///< The client's address.
  std::string user; ///< The authenticated user ("-": none).
  /// The request's destination (and the address it resolved to).
  std::string destination;
  /// How the connection ended ("ok", "auth-failed", "connect-refused"...).
  std::string result;
  uint64_t bytes_up = 0; ///< Bytes relayed from the client to the target.
  uint64_t bytes_down = 0; ///< Bytes relayed from the target to the client.
};

/// Where the access log writes and in which format (its reopen request).
struct access_log_spec {
  /// "-" (standard output), "off", or a file path.
  std::string target = "-";
  /// Text lines or JSON lines.
  config::access_log_format format = config::access_log_format::text;
};

// -- reload -------------------------------------------------------------------

/// The outcome of a reload of the config file and the users file (SIGHUP or
/// the admin plane's reload command).
struct reload_outcome {
  /// The files were valid and their values are in force.
  bool ok = false;
  /// One line: "reloaded PATH" (and the keys that need a restart), or the
  /// error that kept the running configuration (FILE:LINE: ...).
  std::string text;
};

// -- registry -----------------------------------------------------------------

// Verified logins, login checks and their verdicts, adds: in
// actors/registry_messages.hpp (included above).

// -- inspect ------------------------------------------------------------------

// One inspect() per message type: CAF's type system uses it to name, compare
// and print messages.

/// @relates conn_credentials
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_credentials& x) {
  // The password never reaches a log: CAF's logger is off and no handler
  // prints this message.
  return f(caf::meta::type_name("conn_credentials"), x.creds.user,
           x.creds.password, x.limited);
}

/// @relates conn_request
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_request& x) {
  return f(caf::meta::type_name("conn_request"), x.req.cmd, x.req.dst);
}

/// @relates conn_handshake_failed
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_handshake_failed& x) {
  return f(caf::meta::type_name("conn_handshake_failed"), x.stage, x.error);
}

/// @relates conn_connected
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_connected& x) {
  return f(caf::meta::type_name("conn_connected"), x.local, x.remote);
}

/// @relates conn_bound
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_bound& x) {
  return f(caf::meta::type_name("conn_bound"), x.local);
}

/// @relates conn_failed
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_failed& x) {
  return f(caf::meta::type_name("conn_failed"), x.error);
}

/// @relates conn_closed
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_closed& x) {
  return f(caf::meta::type_name("conn_closed"), x.stats.bytes_up,
           x.stats.bytes_down, x.stats.reason, x.stats.relayed,
           x.stats.has_target, x.stats.target, x.stats.remote, x.user);
}

/// @relates admin_msg
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_msg& x) {
  return f(caf::meta::type_name("admin_msg"), x.bytes, x.oversized);
}

/// @relates traffic
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, traffic& x) {
  auto& c = x.counts;
  return f(caf::meta::type_name("traffic"), c.bytes_up, c.bytes_down,
           c.udp_dropped, c.connects_ok, c.owned, c.owned_closed,
           c.rule_blocks_connect, c.rule_blocks_bind, c.rule_blocks_udp,
           c.bandwidth_waits);
}

/// @relates session_settings
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_settings& x) {
  // The rules are a process-local value (never serialized): their count only.
  auto rules = x.rules ? x.rules->rules().size() : size_t{0};
  // The outbound profiles likewise: their count (the default one aside).
  auto profiles = x.outbound ? x.outbound->named.size() : size_t{0};
  auto listeners = x.per_listener.size();
  return f(caf::meta::type_name("session_settings"), x.auth, x.buffer_size,
           x.max_clients, x.handshake_timeout_ms, x.connect_timeout_ms, x.prefer,
           x.attempt_delay_ms,
           x.bind_timeout_ms,
           x.idle_timeout_ms, x.splice, x.allow_clients, x.source_sessions,
           x.source_connect_rate, rules, profiles, x.udp_advertise,
           x.bind_advertise, listeners, x.transform, x.transform_allowed);
}

/// @relates metric_event
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metric_event& x) {
  return f(caf::meta::type_name("metric_event"), x.kind, x.arg);
}

/// @relates conn_durations
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conn_durations& x) {
  return f(caf::meta::type_name("conn_durations"), x.handshake_ns, x.connect,
           x.connect_ns);
}

/// @relates client_refused
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_refused& x) {
  return f(caf::meta::type_name("client_refused"), x.peer, x.reason);
}

/// @relates metrics_snapshot
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_snapshot& x) {
  return f(caf::meta::type_name("metrics_snapshot"), x.accepted, x.active,
           x.bytes_up, x.bytes_down, x.auth_failures, x.auth_overloads,
           x.rejected_max_clients,
           x.rejected_client_rule, x.handshake_timeouts, x.protocol_errors,
           x.unexpected_messages, x.admin_auth_failures, x.udp_dropped,
           x.rule_blocks_connect, x.rule_blocks_bind, x.rule_blocks_udp,
           x.rejected_source_sessions, x.rejected_source_rate,
           x.user_limit_sessions, x.user_limit_rate, x.bandwidth_waits,
           x.replies, x.handshake_durations, x.connect_succeeded_durations,
           x.connect_failed_durations);
}

/// @relates access_record
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, access_record& x) {
  return f(caf::meta::type_name("access_record"), x.start_unix_ms,
           x.duration_ms, x.client, x.user, x.destination, x.result,
           x.bytes_up, x.bytes_down);
}

/// @relates access_log_spec
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, access_log_spec& x) {
  return f(caf::meta::type_name("access_log_spec"), x.target, x.format);
}

/// @relates reload_outcome
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reload_outcome& x) {
  return f(caf::meta::type_name("reload_outcome"), x.ok, x.text);
}

} // namespace px

namespace px::net {

/// @relates account_limits
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_limits& x) {
  return f(caf::meta::type_name("account_limits"), x.sessions, x.connect_rate,
           x.bandwidth_up, x.bandwidth_down);
}

/// @relates cidr
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cidr& x) {
  return f(x.base, x.prefix);
}

} // namespace px::net

// -- atoms ---------------------------------------------------------------------

/// Asks the registry to check credentials.
CAF_ADD_ATOM(proxy, px, auth_atom, "auth")
/// Asks a hasher to verify a password against a hash.
CAF_ADD_ATOM(proxy, px, verify_atom, "verify")
/// Asks a hasher to hash a password.
CAF_ADD_ATOM(proxy, px, hash_atom, "hash")
/// Replaces the registry's users, or the file's settings (SIGHUP reload);
/// alone: asks the reload desk for a reload.
CAF_ADD_ATOM(proxy, px, reload_atom, "reload")
/// Gives the registry the users' default limits.
CAF_ADD_ATOM(proxy, px, limits_atom, "limits")
/// Opens the access log anew (SIGHUP, SIGUSR1).
CAF_ADD_ATOM(proxy, px, reopen_atom, "reopen")
/// Lists user names.
CAF_ADD_ATOM(proxy, px, list_atom, "list")
/// Asks the registry for users' counters.
CAF_ADD_ATOM(proxy, px, stats_atom, "stats")
/// Reads a snapshot (metrics, settings).
CAF_ADD_ATOM(proxy, px, get_atom, "get")
/// Sets the buffer size.
CAF_ADD_ATOM(proxy, px, buffer_atom, "buffer")
/// Sets max clients.
CAF_ADD_ATOM(proxy, px, maxcli_atom, "maxcli")
/// Adds a user.
CAF_ADD_ATOM(proxy, px, add_atom, "add")
CAF_ADD_ATOM(proxy, px, del_atom, "del")
CAF_ADD_ATOM(proxy, px, passwd_atom, "passwd")
/// Writes a file atomically.
CAF_ADD_ATOM(proxy, px, write_atom, "write")
/// The admin association is gone.
CAF_ADD_ATOM(proxy, px, down_atom, "down")
/// Asks whether a user exists with a role.
CAF_ADD_ATOM(proxy, px, exists_atom, "exists")
/// Sets the transformation command.
CAF_ADD_ATOM(proxy, px, transform_atom, "transform")
/// Publishes a value now.
CAF_ADD_ATOM(proxy, px, publish_atom, "publish")
/// Asks the access log to answer once every record it received is written.
CAF_ADD_ATOM(proxy, px, flush_atom, "flush")
/// The asker of a login check is gone (its connection closed).
CAF_ADD_ATOM(proxy, px, cancel_atom, "cancel")
/// Logs how many login checks were refused for overload lately.
CAF_ADD_ATOM(proxy, px, overload_atom, "overload")
/// The registry's users, for the cluster actor (docs/cluster.md).
CAF_ADD_ATOM(proxy, px, users_atom, "users")
/// Applies a replicated entry (registry); retries wanted entries (cluster).
CAF_ADD_ATOM(proxy, px, apply_atom, "apply")
/// The cluster actor: dial a peer; probe a peer's address (dialer).
CAF_ADD_ATOM(proxy, px, dial_atom, "dial")
CAF_ADD_ATOM(proxy, px, probe_atom, "probe")
/// The cluster actor: send digests to every peer.
CAF_ADD_ATOM(proxy, px, gossip_atom, "gossip")
/// A node's own metrics (node_metrics); the whole cluster's (cluster_metrics).
CAF_ADD_ATOM(proxy, px, nmetrics_atom, "nmetrics")
CAF_ADD_ATOM(proxy, px, cmetrics_atom, "cmetrics")
/// A setting on this node (nsetting) or on every node (csetting), from the
/// cluster actor (KIND as in admin/cluster_codec.hpp, value as text).
CAF_ADD_ATOM(proxy, px, nsetting_atom, "nsetting")
CAF_ADD_ATOM(proxy, px, csetting_atom, "csetting")

namespace px {

// -- typed interfaces ---------------------------------------------------------

/// Verifies and hashes passwords; runs blocking crypt(3), so production
/// spawns it detached (its own thread), tests on the test scheduler.
using hasher_actor = caf::typed_actor<
  caf::replies_to<verify_atom, std::string, std::string>::with<bool>,
  caf::replies_to<hash_atom, std::string>::with<std::string>>;

/// Writes files atomically and durably; blocks on fsync, so production
/// spawns it detached. (path, contents) -> error text, empty on success.
using persister_actor = caf::typed_actor<
  caf::replies_to<write_atom, std::string, std::string>::with<std::string>>;

/// Receives the registry's verified logins.
using logins_sink = caf::typed_actor<caf::reacts_to<logins_update>>;

/// Receives the registry's users after every change (the cluster actor).
using users_listener = caf::typed_actor<caf::reacts_to<users_snapshot>>;

/// Owns the users: credentials checks and the user list.
using registry_actor = caf::typed_actor<
  /// Names who gets every new verified_logins value (one sink).
  caf::reacts_to<logins_sink>,
  /// Publishes verified_logins now (coalesces cache updates).
  caf::reacts_to<publish_atom>,
  /// (user, password, required role) -> accepted? (admin logins; a check
  /// refused for overload is answered with an error, never with false)
  caf::replies_to<auth_atom, std::string, std::string, uint8_t>::with<bool>,
  /// A SOCKS login: queued per client address, answered with a verdict.
  caf::replies_to<login_request>::with<auth_verdict>,
  /// The asker with this ticket is gone: its check is dropped unhashed.
  caf::reacts_to<cancel_atom, uint64_t>,
  /// Logs the overload refusals counted since the last such line.
  caf::reacts_to<overload_atom>,
  /// Replaces all users (after a reload from disk).
  caf::reacts_to<reload_atom, std::vector<config::user_entry>>,
  /// The [limits] defaults of users (at the start and on a reload).
  caf::reacts_to<limits_atom, net::account_limits>,
  /// (user, role) -> does the user exist with that role?
  caf::replies_to<exists_atom, std::string, uint8_t>::with<bool>,
  /// (user, password, roles) -> result; acknowledged once durable.
  caf::replies_to<add_atom, std::string, std::string, uint8_t>::with<add_result>,
  /// user -> result; acknowledged once durable, the user's sessions closed.
  caf::replies_to<del_atom, std::string>::with<add_result>,
  /// (user, new password) -> result; acknowledged once durable.
  caf::replies_to<passwd_atom, std::string, std::string>::with<add_result>,
  /// Names of all users, sorted.
  caf::replies_to<list_atom>::with<std::vector<std::string>>,
  /// Counters of one user (or of all: an empty name), sorted by name.
  caf::replies_to<stats_atom, std::string>::with<std::vector<user_stats>>,
  /// Names who gets the users after every change (docs/cluster.md).
  caf::reacts_to<users_listener>,
  /// Sends the users to the listener now (coalesces changes).
  caf::reacts_to<users_atom>,
  /// A replicated entry -> result; acknowledged once durable.
  caf::replies_to<apply_atom, cluster_entry>::with<add_result>>;

/// Owns counters and gauges.
using metrics_actor = caf::typed_actor<
  caf::reacts_to<traffic>,
  caf::reacts_to<metric_event>,
  caf::reacts_to<conn_durations>,
  /// Publishes the snapshot for readers on other threads (metrics_board).
  caf::reacts_to<publish_atom>,
  caf::replies_to<get_atom>::with<metrics_snapshot>>;

/// Writes the access log.
using access_log_actor = caf::typed_actor<
  caf::reacts_to<access_record>,
  /// Answered after every record received before it is written: the
  /// number of lines written so far.
  caf::replies_to<flush_atom>::with<uint64_t>,
  /// Opens the target anew and writes there in the given format from now
  /// on -> error text, empty on success (on failure the old file stays).
  caf::replies_to<reopen_atom, access_log_spec>::with<std::string>>;

/// Owns the admission policy (allow_client, max_clients, the handshake plan,
/// the newest verified logins) and publishes it to the listeners' admission
/// handler, which spawns sessions. A request with new settings is answered
/// once the policy for them is published.
using acceptor_actor = caf::typed_actor<
  caf::reacts_to<client_refused>,
  caf::reacts_to<logins_update>,
  caf::reacts_to<session_settings>>;

/// Owns runtime settings and tells subscribers about changes.
using settings_actor = caf::typed_actor<
  caf::replies_to<get_atom>::with<session_settings>,
  /// New buffer size in bytes -> applied or out of range.
  caf::replies_to<buffer_atom, uint64_t>::with<setting_change>,
  /// New max clients -> accepted?
  caf::replies_to<maxcli_atom, uint64_t>::with<bool>,
  /// New transformation command (empty: off) -> applied, out of range, or
  /// disabled by `transform_command = off`.
  caf::replies_to<transform_atom, std::string>::with<setting_change>,
  /// The settings of a reloaded config file: they replace the runtime
  /// values (the transformation stays unless the file forbids it) ->
  /// answered once the acceptor published them.
  caf::replies_to<reload_atom, session_settings>::with<bool>>;

/// Hands reloads asked for over the admin plane to the main thread, which
/// runs them one at a time (actors/reload_desk.hpp).
using reload_desk_actor = caf::typed_actor<
  /// Reload -> the outcome of a reload that began after this request.
  caf::replies_to<reload_atom>::with<reload_outcome>,
  /// From the main thread: the reload it was asked for has ended.
  caf::reacts_to<reload_outcome>>;

} // namespace px

// -- type IDs ------------------------------------------------------------------

CAF_BEGIN_TYPE_ID_BLOCK(proxy, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(proxy, (px::conn_credentials))
  CAF_ADD_TYPE_ID(proxy, (px::conn_request))
  CAF_ADD_TYPE_ID(proxy, (px::conn_handshake_failed))
  CAF_ADD_TYPE_ID(proxy, (px::conn_connected))
  CAF_ADD_TYPE_ID(proxy, (px::conn_failed))
  CAF_ADD_TYPE_ID(proxy, (px::conn_bound))
  CAF_ADD_TYPE_ID(proxy, (px::conn_closed))
  CAF_ADD_TYPE_ID(proxy, (px::traffic))
  CAF_ADD_TYPE_ID(proxy, (px::logins_update))
  CAF_ADD_TYPE_ID(proxy, (px::logins_sink))
  CAF_ADD_TYPE_ID(proxy, (px::admin_msg))
  CAF_ADD_TYPE_ID(proxy, (px::session_settings))
  CAF_ADD_TYPE_ID(proxy, (px::metric_event))
  CAF_ADD_TYPE_ID(proxy, (px::client_refused))
  CAF_ADD_TYPE_ID(proxy, (px::metrics_snapshot))
  CAF_ADD_TYPE_ID(proxy, (px::access_record))
  CAF_ADD_TYPE_ID(proxy, (px::access_log_spec))
  CAF_ADD_TYPE_ID(proxy, (px::setting_change))
  CAF_ADD_TYPE_ID(proxy, (px::config::user_entry))
  CAF_ADD_TYPE_ID(proxy, (std::vector<px::config::user_entry>))
  CAF_ADD_TYPE_ID(proxy, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(proxy, (px::net::ip_endpoint))
  CAF_ADD_TYPE_ID(proxy, (px::hasher_actor))
  CAF_ADD_TYPE_ID(proxy, (px::persister_actor))
  CAF_ADD_TYPE_ID(proxy, (px::add_result))
  CAF_ADD_TYPE_ID(proxy, (px::login_request))
  CAF_ADD_TYPE_ID(proxy, (px::auth_verdict))
  CAF_ADD_TYPE_ID(proxy, (px::registry_actor))
  CAF_ADD_TYPE_ID(proxy, (px::metrics_actor))
  CAF_ADD_TYPE_ID(proxy, (px::access_log_actor))
  CAF_ADD_TYPE_ID(proxy, (px::acceptor_actor))
  CAF_ADD_TYPE_ID(proxy, (px::settings_actor))
  CAF_ADD_TYPE_ID(proxy, (px::conn_durations))
  CAF_ADD_TYPE_ID(proxy, (px::net::account_limits))
  CAF_ADD_TYPE_ID(proxy, (px::user_stats))
  CAF_ADD_TYPE_ID(proxy, (std::vector<px::user_stats>))
  CAF_ADD_TYPE_ID(proxy, (px::reload_outcome))
  // -- cluster (docs/cluster.md): append only, IDs cross nodes ---
  CAF_ADD_TYPE_ID(proxy, (px::cluster_user))
  CAF_ADD_TYPE_ID(proxy, (px::users_snapshot))
  CAF_ADD_TYPE_ID(proxy, (px::users_listener))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_entry))
  CAF_ADD_TYPE_ID(proxy, (std::vector<px::cluster_entry>))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_hello))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_delta))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_digest))
  CAF_ADD_TYPE_ID(proxy, (px::node_metrics))
  CAF_ADD_TYPE_ID(proxy, (std::vector<px::node_metrics>))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_metrics))
  CAF_ADD_TYPE_ID(proxy, (px::node_applied))
  CAF_ADD_TYPE_ID(proxy, (px::cluster_applied))

CAF_END_TYPE_ID_BLOCK(proxy)
