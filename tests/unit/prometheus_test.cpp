// The Prometheus side of the metrics: the histogram's buckets, the metrics
// actor's publication on its board (under CAF's test coordinator, with its
// clock), and the mapping of a snapshot to the text a scrape returns
// (names, labels, _total, cumulative buckets in seconds).
#define CAF_SUITE prometheus
#include <caf/test/unit_test_impl.hpp>

// dsl.hpp uses the short FAIL macro without defining it in CAF 0.17.6.
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/text_serializer.h>

#include "actors/metrics.hpp"
#include "actors/prometheus.hpp"

using namespace px;
using namespace std::chrono_literals;

namespace {

/// The text a scrape returns for `families`.
std::string text_of(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer{}.Serialize(families);
}

/// True when `text` has `line` as a whole line.
bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);)
    if (l == line)
      return true;
  return false;
}

/// A snapshot with a distinct value in every field.
metrics_snapshot sample_snapshot() {
  metrics_snapshot s;
  s.accepted = 7;
  s.active = 2;
  s.bytes_up = 100;
  s.bytes_down = 2000;
  s.auth_failures = 3;
  s.auth_overloads = 4;
  s.rejected_max_clients = 5;
  s.rejected_client_rule = 6;
  s.handshake_timeouts = 8;
  s.protocol_errors = 9;
  s.unexpected_messages = 10;
  s.admin_auth_failures = 11;
  s.udp_dropped = 12;
  s.replies[0] = 20;
  s.replies[5] = 21;
  s.handshake_durations.observe(300us); // le 0.0005
  s.handshake_durations.observe(7ms);   // le 0.01
  s.handshake_durations.observe(20s);   // above every bound
  s.connect_failed_durations.observe(3s);
  return s;
}

struct fixture : test_coordinator_fixture<> {
  /// Runs every pending message without firing timeouts.
  void consume_all() {
    while (consume_message())
      ; // nop
  }
};

} // namespace

CAF_TEST(durations land in the first bucket whose bound they do not exceed) {
  duration_histogram h;
  h.observe(-5ns); // as 0
  h.observe(500us); // exactly the first bound
  h.observe(500001ns);
  h.observe(10s);
  h.observe(10001ms);
  CAF_CHECK_EQUAL(h.counts[0], 2u);
  CAF_CHECK_EQUAL(h.counts[1], 1u);
  CAF_CHECK_EQUAL(h.counts[13], 1u);
  CAF_CHECK_EQUAL(h.counts[14], 1u);
  CAF_CHECK_EQUAL(h.count(), 5u);
  CAF_CHECK_EQUAL(h.sum_ns, 500000u + 500001u + 10000000000u + 10001000000u);
}

CAF_TEST(a snapshot maps to prefixed series with labels and _total counters) {
  auto text = text_of(families_of(sample_snapshot(), "1.2.3"));
  CAF_MESSAGE("scrape text:\n" << text);
  for (auto line : {
         "socks5_proxy_build_info{version=\"1.2.3\"} 1",
         "# TYPE socks5_proxy_connections_accepted_total counter",
         "socks5_proxy_connections_accepted_total 7",
         "# TYPE socks5_proxy_connections_active gauge",
         "socks5_proxy_connections_active 2",
         "socks5_proxy_connections_rejected_total{reason=\"max_clients\"} 5",
         "socks5_proxy_connections_rejected_total{reason=\"client_rule\"} 6",
         "socks5_proxy_relayed_bytes_total{direction=\"client_to_target\"} 100",
         "socks5_proxy_relayed_bytes_total{direction=\"target_to_client\"} 2000",
         "socks5_proxy_replies_total{code=\"0x00\",reply=\"succeeded\"} 20",
         "socks5_proxy_replies_total{code=\"0x05\",reply=\"connection-refused\"} 21",
         "socks5_proxy_replies_total{code=\"0x08\",reply=\"address-type-not-supported\"} 0",
         "socks5_proxy_auth_failures_total 3",
         "socks5_proxy_auth_overloads_total 4",
         "socks5_proxy_admin_auth_failures_total 11",
         "socks5_proxy_handshake_timeouts_total 8",
         "socks5_proxy_protocol_errors_total 9",
         "socks5_proxy_unexpected_messages_total 10",
         "socks5_proxy_udp_datagrams_dropped_total 12",
       }) {
    CAF_MESSAGE("expect: " << line);
    CAF_CHECK(has_line(text, line));
  }
}

CAF_TEST(histograms have cumulative buckets in seconds and an inf bucket) {
  auto text = text_of(families_of(sample_snapshot(), "1.2.3"));
  std::string hs = "socks5_proxy_handshake_duration_seconds";
  for (auto line : {
         "# TYPE " + hs + " histogram",
         hs + "_count 3",
         hs + "_sum 20.0073",
         hs + "_bucket{le=\"0.0005\"} 1",
         hs + "_bucket{le=\"0.001\"} 1",
         hs + "_bucket{le=\"0.0025\"} 1",
         hs + "_bucket{le=\"0.01\"} 2",
         hs + "_bucket{le=\"10\"} 2",
         hs + "_bucket{le=\"+Inf\"} 3",
       }) {
    CAF_MESSAGE("expect: " << line);
    CAF_CHECK(has_line(text, line));
  }
  std::string cn = "socks5_proxy_connect_duration_seconds";
  for (auto line : {
         cn + "_count{result=\"succeeded\"} 0",
         cn + "_bucket{result=\"succeeded\",le=\"+Inf\"} 0",
         cn + "_count{result=\"failed\"} 1",
         cn + "_sum{result=\"failed\"} 3",
         cn + "_bucket{result=\"failed\",le=\"2.5\"} 0",
         cn + "_bucket{result=\"failed\",le=\"5\"} 1",
         cn + "_bucket{result=\"failed\",le=\"+Inf\"} 1",
       }) {
    CAF_MESSAGE("expect: " << line);
    CAF_CHECK(has_line(text, line));
  }
}

CAF_TEST(every family is named once with the prefix and counters end in _total) {
  std::set<std::string> names;
  for (auto& f : families_of(metrics_snapshot{}, "0")) {
    CAF_MESSAGE("family " << f.name);
    CAF_CHECK(names.insert(f.name).second);
    CAF_CHECK_EQUAL(f.name.rfind(metric_prefix, 0), 0u);
    CAF_CHECK(!f.help.empty());
    CAF_CHECK_EQUAL(f.help.find('\n'), std::string::npos);
    auto ends_total = f.name.size() > 6
                      && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
    CAF_CHECK_EQUAL(f.type == prometheus::MetricType::Counter, ends_total);
    CAF_CHECK(!f.metric.empty());
  }
  CAF_CHECK_EQUAL(names.size(), 18u);
}

CAF_TEST(rule blocks are one family labelled by command) {
  metrics_snapshot s;
  s.rule_blocks_connect = 3;
  s.rule_blocks_bind = 1;
  s.rule_blocks_udp = 7;
  std::map<std::string, double> got;
  for (auto& f : families_of(s, "0"))
    if (f.name == std::string{metric_prefix} + "rule_blocks_total")
      for (auto& m : f.metric) {
        CAF_REQUIRE_EQUAL(m.label.size(), 1u);
        CAF_CHECK_EQUAL(m.label[0].name, "command");
        got[m.label[0].value] = m.counter.value;
      }
  CAF_CHECK_EQUAL(got.size(), 3u);
  CAF_CHECK_EQUAL(got["connect"], 3.0);
  CAF_CHECK_EQUAL(got["bind"], 1.0);
  CAF_CHECK_EQUAL(got["udp"], 7.0);
}

CAF_TEST(the collectable reads the board and adds the process series) {
  auto board = std::make_shared<metrics_board>();
  snapshot_collectable c{board};
  CAF_CHECK(has_line(text_of(c.Collect()), "socks5_proxy_connections_accepted_total 0"));
  board->publish(std::make_shared<const metrics_snapshot>(sample_snapshot()));
  auto text = text_of(c.Collect());
  CAF_CHECK(has_line(text, "socks5_proxy_connections_accepted_total 7"));
  CAF_CHECK(has_line(text, "socks5_proxy_build_info{version=\"" PROXY_VERSION "\"} 1"));
  for (auto name : {"process_open_fds", "process_max_fds", "process_resident_memory_bytes",
                    "process_virtual_memory_bytes", "process_cpu_seconds_total",
                    "process_start_time_seconds"}) {
    CAF_MESSAGE("expect " << name);
    CAF_CHECK(text.find(std::string{"\n"} + name + " ") != std::string::npos);
  }
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  for (auto& f : process_families()) {
    auto v = f.metric.at(0).gauge.value + f.metric.at(0).counter.value;
    CAF_MESSAGE(f.name << " = " << v);
    // A short test may not have used a whole clock tick of CPU yet.
    if (f.name == "process_cpu_seconds_total")
      CAF_CHECK(v >= 0 && v < 3600);
    else
      CAF_CHECK(v > 0);
    if (f.name == "process_start_time_seconds")
      CAF_CHECK(v <= static_cast<double>(now) + 1 && v > static_cast<double>(now) - 3600);
  }
}

CAF_TEST_FIXTURE_SCOPE(publication_tests, fixture)

CAF_TEST(the metrics actor publishes at once then at most once per interval) {
  auto board = std::make_shared<metrics_board>();
  auto met = sys.spawn(metrics, board);
  consume_all();
  auto first = board->current();
  CAF_CHECK_EQUAL(first->accepted, 0u);
  // A change after a quiet spell goes out at once.
  self->send(met, traffic{{10, 20, 0, 0, 3, 0}});
  consume_all();
  CAF_CHECK_EQUAL(board->current()->accepted, 3u);
  CAF_CHECK_EQUAL(board->current()->bytes_down, 20u);
  // Changes within the interval wait for its end, then go out together.
  self->send(met, conn_durations{2000000, net::connect_result::succeeded, 1000000});
  self->send(met, metric_event{metric::auth_failure, 0});
  consume_all();
  CAF_CHECK_EQUAL(board->current()->auth_failures, 0u);
  CAF_CHECK_EQUAL(board->current()->handshake_durations.count(), 0u);
  advance_time(metrics_publish_interval);
  consume_all();
  auto now = board->current();
  CAF_CHECK_EQUAL(now->auth_failures, 1u);
  CAF_CHECK_EQUAL(now->handshake_durations.count(), 1u);
  CAF_CHECK_EQUAL(now->connect_succeeded_durations.count(), 1u);
  // A published snapshot never changes: readers keep theirs.
  CAF_CHECK_EQUAL(first->accepted, 0u);
  self->send(met, metric_event{metric::protocol_error, 0});
  consume_all();
  CAF_CHECK_EQUAL(now->protocol_errors, 0u);
  advance_time(metrics_publish_interval);
  consume_all();
  CAF_CHECK_EQUAL(board->current()->protocol_errors, 1u);
  anon_send_exit(met, caf::exit_reason::user_shutdown);
}

CAF_TEST(without a board the metrics actor only counts) {
  auto met = sys.spawn(metrics, nullptr);
  self->send(met, conn_durations{1000, net::connect_result::failed, 5000});
  consume_all();
  auto m = request<metrics_snapshot>(met, get_atom_v);
  CAF_CHECK_EQUAL(m.connect_failed_durations.count(), 1u);
  CAF_CHECK_EQUAL(m.connect_failed_durations.sum_ns, 5000u);
  anon_send_exit(met, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
