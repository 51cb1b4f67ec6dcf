#include "actors/wiring.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "actors/acceptor.hpp"
#include "actors/access_log.hpp"
#include "actors/admission.hpp"
#include "actors/cluster_wiring.hpp"
#include "actors/hasher.hpp"
#include "actors/main_inbox.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/persister.hpp"
#include "actors/prometheus.hpp"
#include "actors/registry.hpp"
#include "actors/reload_desk.hpp"
#include "actors/reloader.hpp"
#include "actors/service_notify.hpp"
#include "actors/settings.hpp"
#include "admin/admin_session.hpp"
#include "admin/codec.hpp"
#include "config/upstream_parse.hpp"
#include "config/users.hpp"
#include "net/log.hpp"
#include "net/reactor.hpp"
#include "net/sctp.hpp"

namespace px {

namespace {

/// Hasher actors (each a thread: crypt(3) blocks).
constexpr int hasher_count = 2;

/// After the reactor stopped: how long sessions may take to handle their
/// last close, and the access log to write what they sent (each).
constexpr auto drain_bound = std::chrono::seconds{1};

/// Raises the open-file limit to the hard limit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/// Opens the admin plane's SCTP transport as configured.
std::unique_ptr<net::sctp_transport>
open_admin_transport(const config::proxy_config& cfg, std::string& err) {
  using t = config::admin_transport;
  if (cfg.transport == t::kernel)
    return net::make_kernel_sctp(admin::max_admin_message, err);
  if (cfg.transport == t::automatic && net::kernel_sctp_available())
    return net::make_kernel_sctp(admin::max_admin_message, err);
  return net::make_udp_sctp(cfg.udp_port, admin::max_admin_message, err);
}

/// How the admin plane listens, for the log: "kernel SCTP)" or "SCTP over
/// UDP port N)", with the reason when transport = auto chose it.
std::string describe_transport(const config::proxy_config& cfg,
                               const net::sctp_transport& tx) {
  std::string how = tx.kind() == std::string{"kernel"}
                      ? "kernel SCTP"
                      : "SCTP over UDP port " + std::to_string(cfg.udp_port);
  how += cfg.transport == config::admin_transport::automatic
           ? ", chosen by transport = auto)"
           : ")";
  return how;
}

/// The admin plane's events for `proto`: one `session_fn` actor per
/// association.
template <class SessionFn>
std::shared_ptr<net::sctp_events> admin_events(const char* proto,
                                               caf::actor_system& sys,
                                               admin_deps deps,
                                               SessionFn session_fn) {
  return make_admin_events(proto, [&sys, deps, session_fn](net::assoc_id id,
                                                          net::ip_endpoint peer) {
    return sys.spawn(session_fn, id, peer, deps);
  });
}

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

bool proxy_program::load_users() {
  if (cfg_.users_file.empty())
    return true;
  auto loaded = config::load_users(cfg_.users_file);
  if (auto err = std::get_if<std::string>(&loaded)) {
    log::error(*err);
    return false;
  }
  users_ = std::get<std::vector<config::user_entry>>(std::move(loaded));
  if (auto err = config::check_user_vias(cfg_, users_, cfg_.users_file)) {
    log::error(*err);
    return false;
  }
  return true;
}

bool proxy_program::open_access_log() {
  if (auto err = px::open_access_log(cfg_.access_log, log_fd_); !err.empty()) {
    log::error(err);
    return false;
  }
  return true;
}

bool proxy_program::prepare_process() {
  raise_fd_limit();
  // Block the signals we handle in every thread; main waits for them.
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGHUP);
  sigaddset(&signals_, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
  inbox_ = std::make_shared<main_inbox>(signals_);
  if (!inbox_->error().empty()) {
    log::error(inbox_->error());
    return false;
  }
  return true;
}

void proxy_program::open_reactor() {
  net::reactor_config rcfg;
  rcfg.threads = cfg_.threads;
  for (auto& ep : cfg_.dns_servers)
    rcfg.dns_servers += (rcfg.dns_servers.empty() ? "" : ",") + ep.to_string();
  io_.emplace(rcfg);
}

void proxy_program::start_actor_system() {
  auto& sys_cfg = sys_cfg_.emplace();
  auto actor_threads = cfg_.actor_threads;
  if (actor_threads == 0)
    actor_threads = std::max<size_t>(1, std::thread::hardware_concurrency() / 2);
  sys_cfg.set("scheduler.max-threads", actor_threads);
  // Work sharing parks idle workers on a condition variable; work stealing
  // spins (polls) first, which costs CPU per message at low load.
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  sys_cfg.set("logger.verbosity", caf::atom("quiet"));
  if (cfg_.cluster.enabled) // else no middleman at all
    prepare_cluster(sys_cfg, cfg_.cluster);
  sys_.emplace(sys_cfg);
}

void proxy_program::spawn_services() {
  start_actor_system();
  auto& sys = *sys_;
  for (int i = 0; i < hasher_count; ++i)
    hashers_.push_back(sys.spawn<caf::detached>(hasher));
  persister_ = sys.spawn<caf::detached>(persister);
  // The users' accounts (limits and counters), published by the registry.
  accounts_ = std::make_shared<account_board>();
  accounts_->set_per_user_metrics(cfg_.per_user_metrics);
  auto& accounts = accounts_;
  registry_config reg_cfg{cfg_.users_file, cfg_.max_users};
  reg_cfg.accounts = accounts;
  reg_cfg.io = &*io_;
  reg_cfg.user_defaults = user_limits(cfg_);
  reg_cfg.close_on_delete = cfg_.close_on_user_delete;
  registry_ = sys.spawn(registry, users_, hashers_, std::move(reg_cfg), persister_);
  if (cfg_.prometheus_listen)
    board_ = std::make_shared<metrics_board>();
  metrics_ = sys.spawn(metrics, board_);
  access_log_ = sys.spawn<caf::detached>(
    access_log, log_fd_, log_fd_ != STDOUT_FILENO && log_fd_ >= 0,
    access_log_spec{cfg_.access_log, cfg_.access_log_fmt});
  // With the access log off, sessions send no record at all.
  session_deps deps{&*io_, registry_, metrics_,
                    log_fd_ >= 0 ? access_log_ : access_log_actor{}, accounts};
  auto initial = make_settings(cfg_);
  // Admits clients on the reactor's threads under the acceptor's policy.
  desk_ = std::make_shared<admission_desk>(sys, deps);
  acceptor_ = sys.spawn(acceptor, initial, desk_);
  // The acceptor publishes on its first run, which is asynchronous: the
  // same policy goes out now, before any client can come (and before the
  // registry and the settings actor know the acceptor, so no newer policy
  // can be overwritten).
  desk_->publish(admission_policy::make(initial, nullptr, acceptor_));
  caf::anon_send(registry_, logins_sink{acceptor_});
  settings_ = sys.spawn(settings, initial, acceptor_);
  reloads_ = sys.spawn(reload_desk, [inbox = inbox_] { inbox->ring(); });
  reloader_.emplace(sys, cfg_,
                    reload_targets{settings_, registry_,
                                   log_fd_ >= 0 ? access_log_ : access_log_actor{},
                                   accounts_});
}

bool proxy_program::listen_admin(const char* proto, const net::ip_endpoint& addr,
                                 std::shared_ptr<net::sctp_events> ev,
                                 const std::string& how,
                                 std::vector<std::string>& lines) {
  auto res = admin_tx_->listen(addr, std::move(ev));
  if (auto e = std::get_if<std::string>(&res)) {
    log::error("admin plane: " + *e);
    return false;
  }
  lines.push_back(std::string{proto} + " listening on " + addr.to_string()
                  + " (" + how);
  return true;
}

bool proxy_program::start_cluster() {
  if (!cfg_.cluster.enabled)
    return true;
  if (auto err = check_cluster_tls(cfg_.cluster); !err.empty()) {
    log::error(err);
    return false;
  }
  auto res = px::start_cluster(*sys_, cfg_.cluster,
                               cluster_links{registry_, metrics_, settings_,
                                             persister_, cfg_.users_file});
  if (auto err = std::get_if<std::string>(&res)) {
    log::error(*err);
    return false;
  }
  cluster_ = std::get<caf::actor>(res);
  return true;
}

bool proxy_program::start_admin_plane() {
  if (!cfg_.spcp_listen && !cfg_.manager_listen)
    return true;
  std::string err;
  admin_tx_ = open_admin_transport(cfg_, err);
  if (!admin_tx_) {
    log::error("admin plane: " + err);
    return false;
  }
  admin_deps adeps{admin_tx_.get(), registry_, metrics_, settings_,
                   sys_->spawn(login_guard), reloads_, cluster_};
  auto how = describe_transport(cfg_, *admin_tx_);
  std::vector<std::string> lines;
  bool ok = !cfg_.spcp_listen
            || listen_admin("SPCP", *cfg_.spcp_listen,
                            admin_events("SPCP", *sys_, adeps, spcp_session),
                            how, lines);
  ok = ok
       && (!cfg_.manager_listen
           || listen_admin("Manager", *cfg_.manager_listen,
                           admin_events("Manager", *sys_, adeps, manager_session),
                           how, lines));
  if (!ok) {
    admin_tx_.reset();
    return false;
  }
  admin_tx_->start();
  for (auto& l : lines)
    log::info(l);
  return true;
}

bool proxy_program::open_listeners() {
  for (auto& addr : cfg_.listen) {
    // SOCKS5 clients speak first: the kernel holds a new connection until
    // its greeting arrives (for up to a second; a client that waits longer
    // is accepted then as usual), and the loop reads the greeting right
    // after the accept instead of waiting for epoll to report it.
    auto res = io_->listen(addr, desk_, std::chrono::seconds{1});
    if (auto err = std::get_if<std::string>(&res)) {
      log::error(*err);
      return false;
    }
    bound_.push_back(std::get<net::ip_endpoint>(res).to_string());
  }
  return true;
}

bool proxy_program::start_prometheus() {
  if (!cfg_.prometheus_listen)
    return true;
  auto res = prometheus_endpoint::start(*cfg_.prometheus_listen, board_, accounts_);
  if (auto err = std::get_if<std::string>(&res)) {
    log::error(*err);
    return false;
  }
  prometheus_ = std::get<std::unique_ptr<prometheus_endpoint>>(std::move(res));
  log::info("Prometheus listening on " + prometheus_->address().to_string()
            + " (GET /metrics)");
  return true;
}

void proxy_program::release_listeners() {
  io_->stop();
}

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

void proxy_program::stop_admin() {
  if (admin_tx_)
    admin_tx_->stop();
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

} // namespace

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
