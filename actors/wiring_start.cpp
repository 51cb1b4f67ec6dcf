// The proxy's start: users, access log, process limits and signals, the
// reactor, the actor system and its service actors, the cluster, the SOCKS
// listeners and /metrics (actors/proxy_program.hpp).
#include <algorithm>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <sys/resource.h>

#include "actors/cluster_wiring.hpp"
#include "actors/proxy_program.hpp"
#include "config/upstream_parse.hpp"
#include "config/users.hpp"
#include "net/log.hpp"

namespace px {

namespace {

/// Hasher actors (each a thread: crypt(3) blocks).
constexpr int hasher_count = 2;

/// Raises the open-file limit to the hard limit.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

} // namespace

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

} // namespace px
