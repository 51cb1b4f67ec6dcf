// The running proxy as a few steps, for the wiring's files only:
// wiring_start.cpp (users, access log, reactor, actors, cluster, listeners,
// Prometheus), wiring_admin.cpp (the SCTP admin plane) and wiring.cpp
// (run(): serving, signals, reloads, shutdown).
#pragma once

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/acceptor.hpp"
#include "actors/access_log.hpp"
#include "actors/admission.hpp"
#include "actors/hasher.hpp"
#include "actors/main_inbox.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/persister.hpp"
#include "actors/prometheus.hpp"
#include "actors/registry.hpp"
#include "actors/reload_desk.hpp"
#include "actors/reloader.hpp"
#include "actors/settings.hpp"
#include "config/config.hpp"
#include "net/reactor.hpp"
#include "net/sctp.hpp"

namespace px {

/// The running proxy: what it holds, and its life as a few steps. Members
/// are destroyed in reverse order: the admin transport first, then the
/// actor system (which waits for its actors), the reactor last (sessions
/// hold a pointer to it).
class proxy_program {
public:
  explicit proxy_program(const config::proxy_config& cfg) : cfg_(cfg) {
    // nop
  }

  /// Reads the users file (if any); false (logged) when it is broken.
  bool load_users();

  /// Opens the access log; false (logged) when it cannot be opened.
  bool open_access_log();

  /// Raises the open-file limit; blocks the signals main waits for and
  /// opens the main thread's inbox; false (logged) when it cannot.
  bool prepare_process();

  /// Constructs the reactor (its loops start later, in start_serving).
  void open_reactor();

  /// Starts the actor system and spawns the service actors, the admission
  /// desk and the acceptor, and publishes the initial admission policy.
  void spawn_services();

  /// Starts the cluster actor where [cluster] is configured; false
  /// (logged) when its state file is broken or it cannot listen.
  bool start_cluster();

  /// Starts SPCP and the Manager protocol where configured; false (logged)
  /// when the transport cannot be opened or a port cannot be bound.
  bool start_admin_plane();

  /// Binds every SOCKS listener; false (logged) on the first failure.
  bool open_listeners();

  /// Serves /metrics where configured; false (logged) when it cannot listen.
  bool start_prometheus();

  /// A later step failed before the loops started: the listeners opened so
  /// far let their handler go (it holds actor handles the actor system's
  /// end would otherwise wait for).
  void release_listeners();

  /// Starts the reactor's loops and logs that the proxy is ready.
  void start_serving();

  /// Tells the service manager that every listener accepts (READY=1).
  void notify_ready();

  /// Waits for SIGINT or SIGTERM; reloads on SIGHUP and when the reload
  /// desk asks, reopens the access log on SIGUSR1.
  void wait_for_stop_signal();

  /// Reloads between RELOADING=1 and READY=1; the outcome.
  reload_outcome reload_now(const std::string& why);

  /// Stops accepting, waits for connections, closes the rest, stops.
  void shut_down();

  /// Waits until every session has ended and the access log has written
  /// every record they sent (each wait at most drain_bound).
  void drain_access_records();

  /// Stops the admin transport.
  void stop_admin();

  /// Asks every service actor to quit.
  void stop_actors();

private:
  /// Starts the actor system with the configured scheduler.
  void start_actor_system();

  /// Listens for `proto` on `addr`; false (logged) on failure.
  bool listen_admin(const char* proto, const net::ip_endpoint& addr,
                    std::shared_ptr<net::sctp_events> ev,
                    const std::string& how, std::vector<std::string>& lines);

  /// The configuration in force (the reloader's, once it exists).
  const config::proxy_config& cfg() const {
    return reloader_ ? reloader_->running() : cfg_;
  }

  const config::proxy_config& cfg_;
  std::vector<config::user_entry> users_;
  int log_fd_ = -1;
  sigset_t signals_{};
  /// Signals and reload requests (shared with the reload desk's `ring`).
  std::shared_ptr<main_inbox> inbox_;
  std::optional<net::reactor> io_;
  std::optional<caf::actor_system_config> sys_cfg_;
  std::optional<caf::actor_system> sys_;
  std::vector<hasher_actor> hashers_;
  persister_actor persister_;
  registry_actor registry_;
  metrics_actor metrics_;
  access_log_actor access_log_;
  std::shared_ptr<admission_desk> desk_;
  acceptor_actor acceptor_;
  settings_actor settings_;
  reload_desk_actor reloads_;
  /// The cluster actor (null without [cluster]).
  caf::actor cluster_;
  /// Holds actor handles: destroyed before the actor system.
  std::optional<reloader> reloader_;
  std::unique_ptr<net::sctp_transport> admin_tx_;
  std::vector<std::string> bound_;
  /// The metrics actor's published snapshot (with Prometheus on).
  std::shared_ptr<metrics_board> board_;
  std::unique_ptr<prometheus_endpoint> prometheus_;
  /// The users' accounts (the registry publishes them; sessions, loops,
  /// the reloader and /metrics read them).
  std::shared_ptr<account_board> accounts_;
};

} // namespace px
