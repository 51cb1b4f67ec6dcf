// A CONNECT through parent proxies, on the loop: which parents a request
// goes through (the route), the one being tried, the deadline of the whole,
// and the parent's handshake bytes on the connection's upstream side
// (upstream_engine does the protocol). Outcomes only: the loop core
// (loop_upstream.cpp) connects, fails over and starts the relay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/conn_control.hpp"
#include "net/reactor/deadlines.hpp"
#include "net/reactor/handshake_io.hpp"
#include "net/reactor/side.hpp"
#include "net/reactor/upstream_engine.hpp"
#include "net/upstream.hpp"

namespace px::net {

enum class upstream_status : uint8_t { pending, done, failed };

struct upstream_outcome {
  upstream_status status = upstream_status::pending;
  /// Why it failed (failed).
  connect_error err = connect_error::none;
  /// The parent itself failed: the next parent of the route may be tried.
  bool parent_fault = false;
};

/// The parent handshake's bytes on the upstream socket.
class upstream_io {
public:
  /// Starts the handshake with `parent` (which outlives it) for `target`
  /// (`cmd`: see upstream_engine::start).
  void start(const parent_proxy& parent, const socks5::address& target,
             socks5::command cmd = socks5::command::connect);

  /// Writes what is due and reads what the parent sent, as far as the
  /// socket allows.
  upstream_outcome step(side& up, size_t chunk);

  /// After `done`: bytes the target sent after the parent's reply.
  std::vector<uint8_t> take_early();

  /// After `done`: the BND of the parent's reply.
  const socks5::address& bound() const {
    return engine_.bound();
  }

private:
  upstream_engine engine_;
  outbox out_;
  std::vector<uint8_t> in_;
};

/// Where a CONNECT through parents stands (inactive: a direct CONNECT).
struct via_state {
  /// The compiled parents (kept alive while `route` points into it).
  std::shared_ptr<const upstream_set> set;
  /// The parents to try, in order (null: direct).
  const parent_route* route = nullptr;
  /// The index in `route` of the next parent to try.
  size_t next = 0;
  /// The parent being tried.
  const parent_proxy* current = nullptr;
  /// The deadline of the whole CONNECT (every parent within it).
  time_point until{};
  /// The last parent's failure.
  connect_error last = connect_error::none;
  upstream_io io;

  bool active() const {
    return route != nullptr;
  }
};

/// The route of a CONNECT from `who` for `req` under `set` (null set:
/// direct): the `via` of the first pass rule that surely matches, else the
/// user's `via`, else the default. `via=direct` (or an unknown name) is
/// direct. Null: direct.
const parent_route* choose_route(const upstream_set* set, const rule_subject& who,
                                 const account* user, const socks5::request& req);

} // namespace px::net
