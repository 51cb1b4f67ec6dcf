// The reactor's contract: what the actors see of the data plane. Actors
// include this header, never the reactor itself (net/reactor.hpp is for the
// program's wiring and the reactor's own tests).
//
// The reactor runs event-loop threads (epoll) that own every socket of the SOCKS
// data plane. It reports events to handlers and executes commands; it never
// decides. Each connection is pinned to one loop for its whole life.
//
// Life of a client connection:
//   accepted  -> accept_handler::on_accepted (nothing is read yet) returns
//                the owner's admission: refuse, own (a handler and its
//                handshake plan), or defer (a `handshake` command follows)
//   handshake -> under the owner's plan (which methods it accepts, its
//                deadline, how a CONNECT is to be run) the loop parses with
//                the pure SOCKS5 codec and asks the owner only what needs a
//                decision:
//                  on_credentials   -> granted at once, or authenticated(ok?)
//                  on_request       (BIND, UDP ASSOCIATE) -> bind / udp_associate
//                  on_handshake_failed (malformed input)  -> send(reply, close)
//                A CONNECT runs under the plan: DNS (c-ares, inside the loop),
//                a non-blocking connect to each address in turn within the
//                deadline, the success reply and the relay; a failure is
//                reported (on_connect_failed) for the owner to answer.
//   relay     -> bytes move inside the loop (splice or copy) with half-close,
//                per-direction caps and an idle timeout
//   closed    -> conn_handler::on_closed with byte counts, the request's
//                target and the upstream peer, exactly once
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/limits.hpp"
#include "net/outbound_profile.hpp"
#include "net/rules.hpp"
#include "net/socks5_codec.hpp"
#include "net/upstream.hpp"

namespace px::net {

/// Identifies a connection across threads: the loop index is in the top 8
/// bits, a per-loop sequence number below.
using conn_id = uint64_t;

/// Why a connect command failed.
enum class connect_error : uint8_t {
  /// No error.
  none,
  /// The target answered with RST (ECONNREFUSED).
  refused,
  /// No route to the network (ENETUNREACH).
  network_unreachable,
  /// No route to the host (EHOSTUNREACH).
  host_unreachable,
  /// The name does not resolve (NXDOMAIN or no address).
  name_not_found,
  /// The deadline passed (DNS or TCP).
  timeout,
  /// The access rules block the request (or every resolved address).
  denied,
  /// The resolver failed for another reason.
  resolver_failure,
  /// Any other socket error.
  other,
  /// A parent proxy does not support the target's address type (its REP
  /// 0x08, told to the client as such).
  address_unsupported,
  /// A parent proxy does not support the command (its REP 0x07, or an
  /// HTTP parent asked to carry UDP), told to the client as such.
  command_unsupported,
};

/// Name of a connect error, for logs.
const char* to_string(connect_error x);

/// Why a connection ended.
enum class close_reason : uint8_t {
  /// Both directions finished (EOF each way).
  done,
  /// The owner asked to close.
  requested,
  /// The client closed or reset the connection.
  client_gone,
  /// The target reset the connection or a socket error occurred.
  upstream_error,
  /// No byte moved for the idle timeout.
  idle_timeout,
  /// The proxy is shutting down.
  shutdown,
  /// The transformation program failed (issue 3).
  transform_failed,
  /// The handshake did not finish within the plan's deadline.
  handshake_timeout,
};

/// Name of a close reason, for logs.
const char* to_string(close_reason x);

/// How a CONNECT run under the plan ended (close_stats::connect).
enum class connect_result : uint8_t {
  /// No CONNECT reached an outcome (another command, or closed before).
  none,
  /// The upstream connect succeeded.
  succeeded,
  /// DNS or every connect attempt failed (on_connect_failed was sent).
  failed,
};

/// What is reported when a connection closes.
struct close_stats {
  /// Bytes relayed from the client to the target.
  uint64_t bytes_up = 0;
  /// Bytes relayed from the target to the client.
  uint64_t bytes_down = 0;
  close_reason reason = close_reason::done;
  /// The relay ran (CONNECT, BIND or UDP ASSOCIATE reached its data phase).
  bool relayed = false;
  /// A request was parsed: `target` is its DST.ADDR/DST.PORT.
  bool has_target = false;
  socks5::address target;
  /// The upstream peer a CONNECT reached (unset otherwise); through a
  /// parent proxy, the parent's address.
  ip_endpoint remote;
  /// The parent proxy a CONNECT went through, or tried last (empty: direct).
  std::string parent;
  /// From the accept to the parsed request, on the loop's clock (valid when
  /// `has_target`). With deferred accept the kernel hands a client over once
  /// its greeting is there: the time before it is not counted.
  std::chrono::nanoseconds handshake_time{0};
  /// Whether a CONNECT reached an outcome, and how long it took from the
  /// request (DNS and every attempt; valid unless `connect` is none).
  connect_result connect = connect_result::none;
  std::chrono::nanoseconds connect_time{0};
  /// When the connection closed (on_closed may come up to
  /// reactor_config::close_delay later).
  std::chrono::steady_clock::time_point closed_at;
};

/// Which family of a name's addresses is tried first (`prefer`).
enum class address_family : uint8_t {
  /// The family of the resolver's first address.
  system,
  ipv4,
  ipv6,
};

/// How a CONNECT picks among a name's addresses (Happy Eyeballs, RFC 8305).
struct connect_policy {
  address_family prefer = address_family::system;
  /// The next address is tried after this long without an answer (or at
  /// once when the attempt before failed).
  std::chrono::milliseconds attempt_delay{250};
};

/// Parameters of a connect command.
struct connect_request {
  /// Where to connect: an IP endpoint or a domain name with a port.
  socks5::address target;
  /// Deadline for DNS and every TCP attempt together.
  std::chrono::milliseconds timeout{10000};
};

/// Parameters of a relay.
struct relay_options {
  /// Bytes a connection may hold per direction.
  size_t buffer_size = 64 * 1024;
  /// Closes the tunnel after this long without traffic (0: never).
  std::chrono::milliseconds idle_timeout{300000};
  /// Zero-copy relay through pipes (falls back to copy when unavailable).
  bool splice = true;
  /// When not empty, target-to-client bytes go through `/bin/sh -c transform`
  /// (one process per connection) before they reach the client.
  std::string transform;
};

/// Parameters of a BIND command.
struct bind_request {
  /// The host allowed to connect (DST.ADDR of the request; a domain is
  /// resolved first). 0.0.0.0 or :: accepts any host.
  socks5::address peer;
  /// How long to wait for that host.
  std::chrono::milliseconds timeout{60000};
};

/// Parameters of a UDP ASSOCIATE command.
struct udp_request {
  /// DST.ADDR/DST.PORT of the request: where the client will send from
  /// (zeros: the control connection's address, any port).
  ip_endpoint client_hint;
  /// Resolution deadline for domain destinations.
  std::chrono::milliseconds dns_timeout{10000};
};

/// What the loop runs on the owner's behalf from the first handshake byte to
/// the relay. The owner decides it once (from its settings); the loop applies
/// it with the pure codec, so that a client costs the owner three messages
/// (credentials, the authentication verdict, the close) instead of one per
/// handshake step.
struct handshake_plan {
  /// Methods the owner accepts (username/password preferred when a client
  /// offers both).
  bool userpass = true;
  bool no_auth = false;
  /// The connection is closed (close_reason::handshake_timeout) when its
  /// request has not been read by then.
  std::chrono::milliseconds deadline{10000};
  /// How a CONNECT is run: deadline for DNS and every TCP attempt, and
  /// the order and pace of the attempts.
  std::chrono::milliseconds connect_timeout{10000};
  connect_policy connect;
  /// The access rules (null: none), checked by the loop for every request
  /// (REP 0x02 through on_connect_failed(denied) when one blocks), every
  /// resolved address of a CONNECT, a BIND's peer and UDP datagrams.
  std::shared_ptr<const rule_set> rules;
  /// Where CONNECT's, BIND's and UDP's outgoing sockets leave from (null:
  /// no profile): the user's profile when its login names one, else the
  /// table's default (net/reactor/outbound.hpp).
  std::shared_ptr<const outbound_table> outbound;
  /// The parent proxies (null: none): a CONNECT goes through the route its
  /// rule's, its user's or the default `via` names (net/upstream.hpp),
  /// within `connect_timeout`, and the close report's `remote` is the
  /// parent it went through.
  std::shared_ptr<const upstream_set> upstream;
  /// The relay a CONNECT starts.
  relay_options relay;
};

/// What a granted login brings to its connection: the user's account,
/// whose bandwidth buckets the relay obeys and whose byte counters it adds
/// to, and the connection's place in the user's gauge, left when the
/// connection closes. Empty: no account (no limits, no counters).
struct login_grant {
  std::shared_ptr<account> user;
  std::shared_ptr<lease> session;
};

/// Where a handshake went wrong (on_handshake_failed).
enum class handshake_stage : uint8_t {
  /// The greeting is malformed (`error` says how).
  greeting,
  /// The greeting offers no method the plan accepts (`error` is none).
  method,
  /// The RFC 1929 request is malformed.
  credentials,
  /// The SOCKS5 request is malformed (bad command, address type...).
  request,
};

/// What happens after a `send` has been written.
enum class after : uint8_t { hold, close };

/// Receives events of one connection, on its loop's thread. Must not block.
class conn_handler {
public:
  virtual ~conn_handler() = default;
  /// The client sent username/password. Returns true to grant at once (a
  /// login the owner verified before, checked against a value it
  /// published; `grant` says what the login brings); otherwise the owner
  /// answers with `authenticated`.
  virtual bool on_credentials(conn_id id, socks5::credentials creds,
                              login_grant& grant) = 0;
  /// A BIND or UDP ASSOCIATE request (a CONNECT runs under the plan).
  virtual void on_request(conn_id id, socks5::request req) = 0;
  /// The handshake cannot go on; the owner sends its reply and closes.
  virtual void on_handshake_failed(conn_id id, handshake_stage stage,
                                   socks5::codec_error error) = 0;
  /// The upstream connect succeeded; `local` is the proxy's address on it.
  virtual void on_connected(conn_id id, ip_endpoint local, ip_endpoint remote) = 0;
  /// BIND: the proxy listens on `local` for the expected peer.
  virtual void on_bound(conn_id id, ip_endpoint local) = 0;
  /// The upstream connect failed; the owner sends the reply and closes.
  virtual void on_connect_failed(conn_id id, connect_error err) = 0;
  /// The connection is gone (sent exactly once, also when never attached;
  /// batched, see reactor_config::close_delay).
  virtual void on_closed(conn_id id, close_stats stats) = 0;
};

/// What the owner of a listener decides for a client it accepted.
struct admission {
  enum class verdict : uint8_t {
    /// Closed at once; nobody owns the connection (no on_closed).
    refuse,
    /// `handler` owns it, and the handshake starts now under `plan`.
    own,
    /// Decided later, with a `handshake` or a `close` command.
    defer,
  };
  verdict what = verdict::defer;
  std::shared_ptr<conn_handler> handler;
  std::shared_ptr<const handshake_plan> plan;
  /// The client address's place in its per-address gauge (null: none),
  /// held until the connection closes.
  std::shared_ptr<lease> source;
};

/// Receives accepted connections of a listener, on a loop thread. Must not
/// block: an owner decides from values it published beforehand (or defers).
class accept_handler {
public:
  virtual ~accept_handler() = default;
  /// `listener`: the address the client connected to, as configured
  /// (`listen`), which decides what replies advertise.
  virtual admission on_accepted(conn_id id, ip_endpoint peer,
                                const ip_endpoint& listener) = 0;
};

/// Counters a loop batches to its traffic sink.
struct traffic_counts {
  /// Bytes relayed each way.
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  /// Datagrams dropped (fragments, foreign sources, denied or unresolvable
  /// destinations, full queues).
  uint64_t udp_dropped = 0;
  /// CONNECT success replies the loop sent under a handshake plan.
  uint64_t connects_ok = 0;
  /// Connections handed to an owner (`handshake`), and those of them closed.
  uint64_t owned = 0;
  uint64_t owned_closed = 0;
  /// Requests, BIND peers and UDP datagrams the access rules blocked, by
  /// command.
  uint64_t rule_blocks_connect = 0;
  uint64_t rule_blocks_bind = 0;
  uint64_t rule_blocks_udp = 0;
  /// Reads the relay put off because a user's bandwidth was used up.
  uint64_t bandwidth_waits = 0;
};

/// Receives counters, batched per loop (on a loop thread).
using traffic_sink = std::function<void(const traffic_counts&)>;

/// Commands on connections. Callable from any thread; every command is
/// executed later on the connection's loop. Commands on a closed connection
/// are ignored.
class conn_control {
public:
  virtual ~conn_control() = default;
  /// Names the handler and runs the handshake under `plan`.
  virtual void handshake(conn_id id, std::shared_ptr<conn_handler> h,
                         handshake_plan plan) = 0;
  /// The owner's verdict on on_credentials: writes the RFC 1929 status; on
  /// success the handshake goes on under `grant`, otherwise the connection
  /// closes.
  virtual void authenticated(conn_id id, bool ok, login_grant grant = {}) = 0;
  /// Writes bytes to the client, then does `next`.
  virtual void send(conn_id id, std::vector<uint8_t> bytes, after next) = 0;
  /// Listens for the peer of a BIND request: on_bound, then on_connected
  /// (remote = the peer) or on_connect_failed (timeout).
  virtual void bind(conn_id id, bind_request req) = 0;
  /// Opens a UDP relay: on_connected (local = the relay's address), then
  /// `start_relay` writes the reply and datagrams flow until the control
  /// connection closes.
  virtual void udp_associate(conn_id id, udp_request req) = 0;
  /// Writes `to_client` (the reply) and `to_upstream` (bytes the client sent
  /// after its request: the loop prepends those it read itself), then
  /// relays in both directions.
  virtual void start_relay(conn_id id, std::vector<uint8_t> to_client,
                           std::vector<uint8_t> to_upstream,
                           relay_options opts) = 0;
  /// Closes at once.
  virtual void close(conn_id id) = 0;
  /// Closes every connection logged in as `user` (on every loop), at once.
  virtual void close_user(std::shared_ptr<account> user) = 0;
  /// Connections closed after a `handshake` command named their owner
  /// (monotonic; callable from any thread). An owner that counts its
  /// `handshake` commands knows how many of its connections are open.
  virtual uint64_t owned_closed() const = 0;
};

} // namespace px::net
