// Starts and stops prometheus-cpp's Exposer (civetweb) for /metrics.
#include "actors/prometheus.hpp"

#include <cerrno>
#include <cstring>
#include <exception>

#include <unistd.h>

#include <CivetServer.h>
#include <prometheus/exposer.h>

#include "net/log.hpp"
#include "net/socket_ops.hpp"

namespace px {

namespace {

/// mg_check_feature bit of IPv6 support.
constexpr unsigned civetweb_ipv6 = 8;

/// Threads civetweb serves requests on (scrapes are rare and short).
constexpr const char* server_threads = "2";

/// A request must arrive and be answered within this many milliseconds.
constexpr const char* request_timeout_ms = "10000";

/// civetweb's first complaint while a server starts on this thread.
thread_local std::string civetweb_error;

/// civetweb's log: while starting, the reason it failed; afterwards (one
/// bad request or another) a debug line. civetweb itself writes nothing.
int on_civetweb_log(const mg_connection*, const char* message) {
  std::string text = message != nullptr ? message : "";
  if (civetweb_error.empty())
    civetweb_error = text;
  log::debug("prometheus: " + text);
  return 1;
}

/// Why civetweb could not listen on `addr`, found before it tries (its own
/// errors are less clear): no IPv6 in this build, or what a plain bind says.
/// Empty when the address can be bound.
std::string probe(const net::ip_endpoint& addr) {
  if (addr.v6 && mg_check_feature(civetweb_ipv6) == 0)
    return "this civetweb is built without IPv6; use an IPv4 address";
  int fd = net::bound_tcp_socket(addr, false);
  if (fd < 0)
    return std::strerror(errno);
  ::close(fd);
  return {};
}

} // namespace

std::variant<std::unique_ptr<prometheus_endpoint>, std::string>
prometheus_endpoint::start(const net::ip_endpoint& addr,
                           std::shared_ptr<const metrics_board> board,
                           std::shared_ptr<const account_board> accounts) {
  auto fail = [&](const std::string& why) {
    return "prometheus: cannot listen on " + addr.to_string() + ": " + why;
  };
  if (auto err = probe(addr); !err.empty())
    return fail(err);
  std::unique_ptr<prometheus_endpoint> ep{new prometheus_endpoint};
  ep->addr_ = addr;
  CivetCallbacks callbacks;
  callbacks.log_message = on_civetweb_log;
  civetweb_error.clear();
  try {
    ep->exposer_ = std::make_unique<prometheus::Exposer>(
      std::vector<std::string>{"listening_ports", ep->addr_.to_string(),
                               "num_threads", server_threads,
                               "request_timeout_ms", request_timeout_ms},
      &callbacks);
  } catch (const std::exception& e) {
    return fail(civetweb_error.empty() ? e.what() : civetweb_error);
  }
  // For port 0, the one civetweb bound.
  if (auto ports = ep->exposer_->GetListeningPorts(); !ports.empty())
    ep->addr_.port = static_cast<uint16_t>(ports.front());
  ep->collectable_ = std::make_shared<snapshot_collectable>(std::move(board),
                                                           std::move(accounts));
  ep->exposer_->RegisterCollectable(ep->collectable_);
  return ep;
}

prometheus_endpoint::~prometheus_endpoint() {
  // The Exposer stops civetweb and joins its threads; the collectable it
  // points to (weakly) goes after it.
  exposer_.reset();
}

} // namespace px
