// The mapping of a metrics_snapshot to Prometheus series (families_of) and
// the collectable that a scrape calls. Help texts stay on one line:
// prometheus-cpp 1.0.1 writes them unescaped.
#include "actors/prometheus.hpp"

#include <cstdio>
#include <utility>

#include "actors/registry.hpp"
#include "net/socks5_proto.hpp"

namespace px {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using labels = std::vector<ClientMetric::Label>;

/// An empty family named with the prefix.
MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = std::string{metric_prefix} + name;
  f.help = help;
  f.type = type;
  return f;
}

/// One sample of a counter or a gauge.
ClientMetric sample(MetricType type, uint64_t value, labels ls = {}) {
  ClientMetric m;
  m.label = std::move(ls);
  if (type == MetricType::Counter)
    m.counter.value = static_cast<double>(value);
  else
    m.gauge.value = static_cast<double>(value);
  return m;
}

/// A family with one sample and no labels.
MetricFamily single(const char* name, const char* help, MetricType type,
                    uint64_t value) {
  auto f = family(name, help, type);
  f.metric.push_back(sample(type, value));
  return f;
}

/// One histogram sample: cumulative buckets in seconds (prometheus-cpp
/// adds the +Inf bucket from the count).
ClientMetric histogram(const duration_histogram& h, labels ls = {}) {
  ClientMetric m;
  m.label = std::move(ls);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < duration_bounds_ns.size() && i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    m.histogram.bucket.push_back(
      {cumulative, static_cast<double>(duration_bounds_ns[i]) / 1e9});
  }
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  return m;
}

/// "0x05" for REP 5.
std::string code_of(size_t rep) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", static_cast<unsigned>(rep));
  return buf;
}

/// Connections: admitted, open, turned away; bytes; replies.
void add_connection_families(const metrics_snapshot& s,
                             std::vector<MetricFamily>& out) {
  using t = MetricType;
  out.push_back(single("connections_accepted_total",
                       "Client connections admitted (handed to a session).",
                       t::Counter, s.accepted));
  out.push_back(single("connections_active", "Admitted client connections open now.",
                       t::Gauge, s.active));
  auto rejected = family("connections_rejected_total",
                         "Client connections closed at once, by reason.", t::Counter);
  rejected.metric.push_back(
    sample(t::Counter, s.rejected_max_clients, {{"reason", "max_clients"}}));
  rejected.metric.push_back(
    sample(t::Counter, s.rejected_client_rule, {{"reason", "client_rule"}}));
  rejected.metric.push_back(
    sample(t::Counter, s.rejected_source_sessions, {{"reason", "source_sessions"}}));
  rejected.metric.push_back(
    sample(t::Counter, s.rejected_source_rate, {{"reason", "source_connect_rate"}}));
  out.push_back(std::move(rejected));
  auto limited = family("logins_limited_total",
                        "Verified logins refused at a limit of their user, by limit.",
                        t::Counter);
  limited.metric.push_back(sample(t::Counter, s.user_limit_sessions, {{"limit", "sessions"}}));
  limited.metric.push_back(sample(t::Counter, s.user_limit_rate, {{"limit", "connect_rate"}}));
  out.push_back(std::move(limited));
  out.push_back(single("bandwidth_waits_total",
                       "Relay reads put off because a user's bandwidth was used up.",
                       t::Counter, s.bandwidth_waits));
  auto blocks = family("rule_blocks_total",
                       "Requests, BIND peers and UDP datagrams the access rules "
                       "blocked, by command.",
                       t::Counter);
  blocks.metric.push_back(sample(t::Counter, s.rule_blocks_connect, {{"command", "connect"}}));
  blocks.metric.push_back(sample(t::Counter, s.rule_blocks_bind, {{"command", "bind"}}));
  blocks.metric.push_back(sample(t::Counter, s.rule_blocks_udp, {{"command", "udp"}}));
  out.push_back(std::move(blocks));
  auto bytes = family("relayed_bytes_total", "Bytes relayed, by direction.", t::Counter);
  bytes.metric.push_back(
    sample(t::Counter, s.bytes_up, {{"direction", "client_to_target"}}));
  bytes.metric.push_back(
    sample(t::Counter, s.bytes_down, {{"direction", "target_to_client"}}));
  out.push_back(std::move(bytes));
  auto replies = family("replies_total", "SOCKS5 replies sent, by REP code.", t::Counter);
  for (size_t rep = 0; rep < s.replies.size(); ++rep) {
    auto name = to_string(static_cast<socks5::reply>(rep));
    replies.metric.push_back(
      sample(t::Counter, s.replies[rep], {{"code", code_of(rep)}, {"reply", name}}));
  }
  out.push_back(std::move(replies));
}

/// A counter of the snapshot shown as one unlabelled series.
struct plain_counter {
  const char* name;
  const char* help;
  uint64_t metrics_snapshot::*field;
};

/// Failures, refusals and drops.
constexpr plain_counter failure_counters[] = {
  {"auth_failures_total",
   "Failed username/password checks (wrong user, password or role).",
   &metrics_snapshot::auth_failures},
  {"auth_overloads_total",
   "Logins refused unchecked because password checks were overloaded.",
   &metrics_snapshot::auth_overloads},
  {"admin_auth_failures_total", "Failed logins on the admin protocols (SPCP, Manager).",
   &metrics_snapshot::admin_auth_failures},
  {"handshake_timeouts_total", "Clients that did not finish their handshake in time.",
   &metrics_snapshot::handshake_timeouts},
  {"protocol_errors_total", "Malformed greetings, authentication requests or requests.",
   &metrics_snapshot::protocol_errors},
  {"unexpected_messages_total",
   "Messages that reached an actor with no handler for them.",
   &metrics_snapshot::unexpected_messages},
  {"udp_datagrams_dropped_total", "UDP datagrams dropped by the UDP ASSOCIATE relay.",
   &metrics_snapshot::udp_dropped},
};

/// The failure counters.
void add_failure_families(const metrics_snapshot& s, std::vector<MetricFamily>& out) {
  for (auto& c : failure_counters)
    out.push_back(single(c.name, c.help, MetricType::Counter, s.*c.field));
}

/// The duration histograms.
void add_duration_families(const metrics_snapshot& s, std::vector<MetricFamily>& out) {
  auto hs = family("handshake_duration_seconds",
                   "From the accept to the parsed SOCKS5 request.",
                   MetricType::Histogram);
  hs.metric.push_back(histogram(s.handshake_durations));
  out.push_back(std::move(hs));
  auto cn = family("connect_duration_seconds",
                   "CONNECT from the request to the upstream connect's outcome, "
                   "DNS included.",
                   MetricType::Histogram);
  cn.metric.push_back(histogram(s.connect_succeeded_durations, {{"result", "succeeded"}}));
  cn.metric.push_back(histogram(s.connect_failed_durations, {{"result", "failed"}}));
  out.push_back(std::move(cn));
}

} // namespace

std::vector<MetricFamily> families_of(const metrics_snapshot& snapshot,
                                      const std::string& version) {
  std::vector<MetricFamily> out;
  auto info = family("build_info", "Always 1; the version is in the label.",
                     MetricType::Gauge);
  info.metric.push_back(sample(MetricType::Gauge, 1, {{"version", version}}));
  out.push_back(std::move(info));
  add_connection_families(snapshot, out);
  add_failure_families(snapshot, out);
  add_duration_families(snapshot, out);
  return out;
}

std::vector<MetricFamily> user_families(const account_map& accounts) {
  auto bytes = family("user_relayed_bytes_total",
                      "Bytes relayed per user and direction (per_user_metrics = on).",
                      MetricType::Counter);
  auto conns = family("user_connections_total",
                      "Logins granted per user (per_user_metrics = on).",
                      MetricType::Counter);
  auto open = family("user_connections_active",
                     "Connections logged in per user now (per_user_metrics = on).",
                     MetricType::Gauge);
  auto limited = family("user_logins_limited_total",
                        "Verified logins refused at a limit, per user and limit "
                        "(per_user_metrics = on).",
                        MetricType::Counter);
  for (auto& kv : accounts.by_name) {
    auto s = stats_of(*kv.second);
    auto user = [&](labels more = {}) {
      more.insert(more.begin(), ClientMetric::Label{"user", s.name});
      return more;
    };
    bytes.metric.push_back(sample(MetricType::Counter, s.bytes_up, user({{"direction", "up"}})));
    bytes.metric.push_back(
      sample(MetricType::Counter, s.bytes_down, user({{"direction", "down"}})));
    conns.metric.push_back(sample(MetricType::Counter, s.connections, user()));
    open.metric.push_back(sample(MetricType::Gauge, s.open, user()));
    limited.metric.push_back(
      sample(MetricType::Counter, s.refused_sessions, user({{"limit", "sessions"}})));
    limited.metric.push_back(
      sample(MetricType::Counter, s.refused_rate, user({{"limit", "connect_rate"}})));
  }
  return {std::move(bytes), std::move(conns), std::move(open), std::move(limited)};
}

snapshot_collectable::snapshot_collectable(std::shared_ptr<const metrics_board> board,
                                           std::shared_ptr<const account_board> accounts)
  : board_(std::move(board)), accounts_(std::move(accounts)) {
  // nop
}

std::vector<MetricFamily> snapshot_collectable::Collect() const {
  auto out = families_of(*board_->current(), PROXY_VERSION);
  for (auto& f : process_families())
    out.push_back(std::move(f));
  if (accounts_ && accounts_->per_user_metrics())
    for (auto& f : user_families(*accounts_->current()))
      out.push_back(std::move(f));
  return out;
}

} // namespace px
