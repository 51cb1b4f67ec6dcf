#include "actors/metrics.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace px {

void metrics_state::apply(const metric_event& ev) {
  auto& c = counters;
  switch (ev.kind) {
    case metric::rejected_max_clients:
      ++c.rejected_max_clients;
      break;
    case metric::rejected_client_rule:
      ++c.rejected_client_rule;
      break;
    case metric::auth_failure:
      ++c.auth_failures;
      break;
    case metric::auth_overload:
      ++c.auth_overloads;
      break;
    case metric::handshake_timeout:
      ++c.handshake_timeouts;
      break;
    case metric::protocol_error:
      ++c.protocol_errors;
      break;
    case metric::reply:
      if (ev.arg < c.replies.size())
        ++c.replies[ev.arg];
      break;
    case metric::unexpected_message:
      ++c.unexpected_messages;
      break;
    case metric::admin_auth_failure:
      ++c.admin_auth_failures;
      break;
    case metric::rejected_source_sessions:
      ++c.rejected_source_sessions;
      break;
    case metric::rejected_source_rate:
      ++c.rejected_source_rate;
      break;
    case metric::user_limit_sessions:
      ++c.user_limit_sessions;
      break;
    case metric::user_limit_rate:
      ++c.user_limit_rate;
      break;
  }
}

void metrics_state::apply(const net::traffic_counts& t) {
  // Batched by the reactor: per-connection events cost no message.
  auto& c = counters;
  c.bytes_up += t.bytes_up;
  c.bytes_down += t.bytes_down;
  c.udp_dropped += t.udp_dropped;
  c.rule_blocks_connect += t.rule_blocks_connect;
  c.rule_blocks_bind += t.rule_blocks_bind;
  c.rule_blocks_udp += t.rule_blocks_udp;
  c.bandwidth_waits += t.bandwidth_waits;
  c.replies[static_cast<uint8_t>(socks5::reply::succeeded)] += t.connects_ok;
  c.accepted += t.owned;
  c.active += t.owned;
  c.active -= std::min(c.active, t.owned_closed);
}

void metrics_state::apply(const conn_durations& d) {
  using std::chrono::nanoseconds;
  counters.handshake_durations.observe(nanoseconds{d.handshake_ns});
  switch (d.connect) {
    case net::connect_result::none:
      break;
    case net::connect_result::succeeded:
      counters.connect_succeeded_durations.observe(nanoseconds{d.connect_ns});
      break;
    case net::connect_result::failed:
      counters.connect_failed_durations.observe(nanoseconds{d.connect_ns});
      break;
  }
}

namespace {

using metrics_ptr = metrics_actor::stateful_pointer<metrics_state>;

/// Puts a copy of the counters on the board.
void publish(metrics_ptr self) {
  auto& st = self->state;
  st.publish_pending = false;
  st.last_publish = self->clock().now();
  st.board->publish(std::make_shared<const metrics_snapshot>(st.counters));
}

/// The counters changed: publishes now, or when the interval since the
/// last publication ends (one snapshot for every change until then).
void changed(metrics_ptr self) {
  auto& st = self->state;
  if (!st.board || st.publish_pending)
    return;
  auto due = st.last_publish + metrics_publish_interval;
  auto now = self->clock().now();
  if (now >= due) {
    publish(self);
    return;
  }
  st.publish_pending = true;
  self->delayed_send(self, due - now, publish_atom_v);
}

} // namespace

metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self,
        std::shared_ptr<metrics_board> board) {
  self->state.board = std::move(board);
  return {
    [=](traffic& msg) {
      self->state.apply(msg.counts);
      changed(self);
    },
    [=](metric_event& ev) {
      self->state.apply(ev);
      changed(self);
    },
    [=](conn_durations& d) {
      self->state.apply(d);
      changed(self);
    },
    [=](publish_atom) {
      if (self->state.board)
        publish(self);
    },
    [=](get_atom) { return self->state.counters; },
  };
}

} // namespace px
