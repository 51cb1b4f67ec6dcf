// The Prometheus endpoint: GET /metrics in the text format, served by
// prometheus-cpp's Exposer on civetweb's own threads. Each scrape builds its
// series from the snapshot the metrics actor last published on its
// metrics_board (actors/metrics.hpp) and from /proc: a scrape never sends a
// message and never waits on an actor, and the values of one scrape come
// from one snapshot. The series are listed in docs/metrics.md.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "net/address.hpp"

namespace prometheus {
class Exposer;
} // namespace prometheus

namespace px {

/// Prefix of every series of the proxy (the process_* series excepted).
constexpr const char* metric_prefix = "socks5_proxy_";

/// The proxy's series for `snapshot`, and build_info labelled with
/// `version`: counters end in _total, durations are histograms in seconds.
std::vector<prometheus::MetricFamily>
families_of(const metrics_snapshot& snapshot, const std::string& version);

/// The process's series under the names every Prometheus client uses
/// (process_open_fds, process_resident_memory_bytes...), read from /proc;
/// a value that cannot be read is left out.
std::vector<prometheus::MetricFamily> process_families();

/// One series per user (bytes each way, logins, open connections, limit
/// refusals), read from the accounts' atomics. Only with per_user_metrics:
/// a proxy with many users would otherwise flood the scraper.
std::vector<prometheus::MetricFamily> user_families(const account_map& accounts);

/// What a scrape collects: the board's newest snapshot, then the process,
/// then (when the operator turned it on) the users' series.
class snapshot_collectable : public prometheus::Collectable {
public:
  /// Reads `board` (and `accounts`, when not null) on every scrape.
  explicit snapshot_collectable(std::shared_ptr<const metrics_board> board,
                                std::shared_ptr<const account_board> accounts = nullptr);

  /// Builds the series (on a civetweb thread).
  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  std::shared_ptr<const metrics_board> board_;
  std::shared_ptr<const account_board> accounts_;
};

/// A running /metrics endpoint; destroying it stops the server (and joins
/// its threads).
class prometheus_endpoint {
public:
  /// Serves /metrics on `addr` (port 0: one the kernel picks). On failure
  /// returns one line saying why ("prometheus: cannot listen on ADDR: ...").
  static std::variant<std::unique_ptr<prometheus_endpoint>, std::string>
  start(const net::ip_endpoint& addr, std::shared_ptr<const metrics_board> board,
        std::shared_ptr<const account_board> accounts = nullptr);

  ~prometheus_endpoint();

  prometheus_endpoint(const prometheus_endpoint&) = delete;
  prometheus_endpoint& operator=(const prometheus_endpoint&) = delete;

  /// Where it listens (the chosen port for port 0).
  const net::ip_endpoint& address() const {
    return addr_;
  }

private:
  prometheus_endpoint() = default;

  net::ip_endpoint addr_;
  std::shared_ptr<snapshot_collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace px
