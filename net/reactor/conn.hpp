// The state of one client connection inside its loop: its sides, where it
// stands, and the state of the job it is in (handshake, connect, BIND, UDP
// relay, relay). The loop core switches on `state`; each job's module owns
// its part.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "net/conn_control.hpp"
#include "net/rules.hpp"
#include "net/reactor/bind_op.hpp"
#include "net/reactor/connector.hpp"
#include "net/reactor/deadlines.hpp"
#include "net/reactor/handshake_engine.hpp"
#include "net/reactor/handshake_io.hpp"
#include "net/reactor/relay.hpp"
#include "net/reactor/side.hpp"
#include "net/reactor/transform.hpp"
#include "net/reactor/udp_relay.hpp"
#include "net/reactor/upstream_io.hpp"

namespace px::net {

class loop;

/// Where a connection stands.
enum class cstate : uint8_t {
  /// Accepted, waiting for an owner (admission deferred).
  accepted,
  /// The handshake runs under the owner's plan (or the owner answers).
  handshake,
  /// DNS and connect attempts of a CONNECT (to a parent, through one).
  connecting,
  /// A CONNECT through a parent: the parent's handshake (upstream_io).
  via_handshake,
  /// A BIND waits for its peer.
  binding,
  /// Upstream connected (BIND peer or UDP relay ready); the owner starts
  /// the relay.
  connected,
  /// Bytes flow both ways.
  relaying,
  /// A UDP association relays; its control connection is watched.
  udp_relaying,
};

struct conn final : side_owner {
  conn_id id = 0;
  cstate state = cstate::accepted;
  bool closed = false;
  loop* core = nullptr;
  /// The client and the target (or the BIND listener, then its peer).
  side down;
  side up;
  std::shared_ptr<conn_handler> handler;

  // -- handshake ---
  /// The owner's plan (shared by its connections); dropped at the relay.
  std::shared_ptr<const handshake_plan> plan;
  handshake_engine engine;
  /// Bytes read from the client and not parsed yet (at most one message
  /// plus one read); after the request, what the client sent early.
  std::vector<uint8_t> in;
  outbox out;
  /// The request's DST (for the close report) and the upstream peer.
  bool has_target = false;
  socks5::command command = socks5::command::connect;
  socks5::address target;
  ip_endpoint remote;
  /// The parent proxy of `remote` (empty: direct).
  std::string parent;

  // -- durations (for the close report) ---
  /// When the loop accepted the client, then when it parsed its request.
  time_point accepted_at{};
  time_point requested_at{};
  /// The CONNECT's outcome and when it came (none: no outcome).
  connect_result connect = connect_result::none;
  time_point connected_at{};

  // -- connect and BIND ---
  /// Generation of the running DNS/connect/BIND operation: a deadline or a
  /// DNS answer of an older one is stale.
  uint32_t op_gen = 0;
  /// Whose requests the access rules check: the plan's rules, the client's
  /// address, and the user once a login is granted.
  rule_subject who;
  connector connect_op;
  bind_op bind;
  /// A CONNECT through parent proxies (loop_upstream.cpp; inactive: direct).
  via_state via;

  // -- limits ---
  /// The client address's place in its gauge (null: no per-address limit).
  std::shared_ptr<lease> source;
  /// The login's account and place in the user's gauge (empty: none).
  login_grant login;
  /// When the relay steps again for the user's bandwidth (epoch: not armed).
  time_point resume_at{};

  // -- relay ---
  relay rel;
  std::unique_ptr<transform_proc> program;
  std::shared_ptr<udp_relay> udp;
  idle_node idle;

  void on_side_ready() override;
};

} // namespace px::net
