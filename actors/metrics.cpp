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
  }
}

void metrics_state::apply(const net::traffic_counts& t) {
  // Batched by the reactor: per-connection events cost no message.
  auto& c = counters;
  c.bytes_up += t.bytes_up;
  c.bytes_down += t.bytes_down;
  c.udp_dropped += t.udp_dropped;
  c.replies[static_cast<uint8_t>(socks5::reply::succeeded)] += t.connects_ok;
  c.accepted += t.owned;
  c.active += t.owned;
  c.active -= std::min(c.active, t.owned_closed);
}

metrics_actor::behavior_type
metrics(metrics_actor::stateful_pointer<metrics_state> self) {
  return {
    [=](traffic& msg) { self->state.apply(msg.counts); },
    [=](metric_event& ev) { self->state.apply(ev); },
    [=](get_atom) { return self->state.counters; },
  };
}

} // namespace px
