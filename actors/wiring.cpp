#include "actors/wiring.hpp"

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "actors/proxy_program.hpp"
#include "actors/service_notify.hpp"
#include "net/log.hpp"

namespace px {

namespace {

/// After the reactor stopped: how long sessions may take to handle their
/// last close, and the access log to write what they sent (each).
constexpr auto drain_bound = std::chrono::seconds{1};

} // namespace

void proxy_program::start_serving() {
  io_->set_traffic_sink([met = metrics_](const net::traffic_counts& t) {
    caf::anon_send(met, traffic{t});
  });
  io_->start();
  for (auto& b : bound_)
    log::info("SOCKS5 listening on " + b);
  log::info("ready: " + std::to_string(io_->size()) + " reactor threads, "
            + std::to_string(users_.size()) + " users, max_clients "
            + std::to_string(cfg_.max_clients));
}

void proxy_program::notify_ready() {
  service::ready("serving SOCKS5 on " + std::to_string(bound_.size())
                 + " listeners");
}

void proxy_program::wait_for_stop_signal() {
  for (;;) {
    int sig = inbox_->next();
    if (sig == main_inbox::reload_request) {
      caf::anon_send(reloads_, reload_now("reloading " + cfg().path
                                          + " (asked over the admin plane)"));
      continue;
    }
    if (sig == SIGHUP) {
      reload_now("reloading " + cfg().path);
      continue;
    }
    if (sig == SIGUSR1) {
      reloader_->reopen_access_log();
      continue;
    }
    log::info(std::string{"received "} + strsignal(sig) + ", shutting down");
    service::stopping("shutting down");
    return;
  }
}

reload_outcome proxy_program::reload_now(const std::string& why) {
  service::reloading(why);
  auto outcome = reloader_->reload();
  service::ready(outcome.ok ? outcome.text
                            : "reload failed, running with the previous configuration");
  return outcome;
}

// The shutdown waits for events, never for a guessed time. Every owned
// connection has a session, a session ends only after its conn_closed
// (sending its access record first), and the reactor reports every close,
// also those of close_all and stop. So:
//   1. grace: wait on the session census (a condition variable the last
//      session's end wakes) until no session is live or shutdown_grace has
//      passed, instead of polling the connection count;
//   2. close what is left and stop the reactor (its loops deliver the last
//      closes before they exit);
//   3. drain: wait on the census again, at most drain_bound, for the
//      sessions to handle those closes; then every record is in the access
//      log's mailbox, and a flush request (answered in mailbox order, at
//      most drain_bound) returns once all of them are written.
// The whole shutdown is bounded by shutdown_grace + 2 * drain_bound and
// exits 0 either way; a bound that runs out is logged as a warning.
void proxy_program::shut_down() {
  stop_admin();
  prometheus_.reset();
  io_->stop_listening();
  auto& census = desk_->census();
  census.wait_until_none(std::chrono::steady_clock::now() + cfg().shutdown_grace);
  if (auto n = io_->connection_count(); n > 0)
    log::info("closing " + std::to_string(n) + " connections still open");
  io_->close_all();
  io_->stop();
  drain_access_records();
  stop_actors();
}

void proxy_program::drain_access_records() {
  auto& census = desk_->census();
  if (!census.wait_until_none(std::chrono::steady_clock::now() + drain_bound))
    log::warning(std::to_string(census.live())
                 + " sessions did not end: their access log lines are lost");
  if (log_fd_ < 0)
    return;
  caf::scoped_actor self{*sys_};
  self->request(access_log_, drain_bound, flush_atom_v)
    .receive([](uint64_t) {},
             [](const caf::error& err) {
               log::warning("access log not flushed: " + caf::to_string(err));
             });
}

void proxy_program::stop_actors() {
  for (auto& h : hashers_)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(persister_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(metrics_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(access_log_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(acceptor_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(settings_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(reloads_, caf::exit_reason::user_shutdown);
  if (cluster_)
    caf::anon_send_exit(cluster_, caf::exit_reason::user_shutdown);
}

int run(const config::proxy_config& cfg) {
  log::set_level(log_level_of(cfg.log_level));
  proxy_program proxy{cfg};
  if (!proxy.load_users() || !proxy.open_access_log())
    return 1;
  if (!proxy.prepare_process())
    return 1;
  proxy.open_reactor();
  proxy.spawn_services();
  if (!proxy.start_cluster() || !proxy.start_admin_plane()) {
    proxy.stop_actors();
    return 1;
  }
  if (!proxy.open_listeners() || !proxy.start_prometheus()) {
    proxy.stop_admin();
    proxy.release_listeners();
    proxy.stop_actors();
    return 1;
  }
  proxy.start_serving();
  // READY=1 once every listener (SOCKS, admin, metrics) accepts.
  proxy.notify_ready();
  proxy.wait_for_stop_signal();
  proxy.shut_down();
  return 0;
}

} // namespace px
