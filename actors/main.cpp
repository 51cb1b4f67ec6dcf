// The proxy program: loads the configuration, spawns the actors, starts the
// reactor and handles signals.
//
//   proxy --config FILE          run
//   proxy --config FILE --check  validate the config and users file, exit
//   proxy --hash-user NAME [--roles socks|admin|socks,admin]
//                                print a users-file line; the password comes
//                                from $PROXY_PASSWORD or the first stdin line
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include "actors/acceptor.hpp"
#include "actors/admission.hpp"
#include "actors/messages.hpp"
#include "actors/services.hpp"
#include "admin/admin_session.hpp"
#include "admin/codec.hpp"
#include "config/config.hpp"
#include "config/users.hpp"
#include "net/log.hpp"
#include "net/reactor.hpp"
#include "net/sctp.hpp"

namespace {

using namespace px;

constexpr const char* usage_text
  = "usage: proxy --config FILE [--check]\n"
    "       proxy --hash-user NAME [--roles socks|admin|socks,admin]\n"
    "\n"
    "  --config FILE   run the SOCKS5 proxy with this configuration\n"
    "  --check         only validate the configuration and users file\n"
    "  --hash-user N   print a users-file line for user N; the password is\n"
    "                  read from $PROXY_PASSWORD, else from the first line of\n"
    "                  standard input\n"
    "  --roles R       roles of that user (default: socks)\n";

int hash_user(const std::string& name, const std::string& roles_text) {
  if (!config::valid_username(name)) {
    std::cerr << "proxy: invalid user name (1-255 printable characters, no ':' or spaces)\n";
    return 2;
  }
  auto roles = config::parse_roles(roles_text);
  if (!roles) {
    std::cerr << "proxy: --roles must be socks, admin or socks,admin\n";
    return 2;
  }
  std::string password;
  if (auto env = getenv("PROXY_PASSWORD"))
    password = env;
  else if (!std::getline(std::cin, password))
    password.clear();
  if (!config::valid_password(password)) {
    std::cerr << "proxy: the password must be 1-255 bytes\n";
    return 2;
  }
  auto hash = config::hash_password(password);
  if (!hash) {
    std::cerr << "proxy: hashing failed\n";
    return 1;
  }
  std::cout << name << ":" << config::roles_to_string(*roles) << ":" << *hash
            << "\n";
  return 0;
}

log::level level_of(const std::string& name) {
  if (name == "error")
    return log::level::error;
  if (name == "warning")
    return log::level::warning;
  if (name == "debug")
    return log::level::debug;
  return log::level::info;
}

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/// Opens the admin plane's SCTP transport as configured.
std::unique_ptr<net::sctp_transport> open_admin_transport(const config::proxy_config& cfg,
                                                          std::string& err) {
  using t = config::admin_transport;
  if (cfg.transport == t::kernel)
    return net::make_kernel_sctp(admin::max_admin_message, err);
  if (cfg.transport == t::automatic && net::kernel_sctp_available())
    return net::make_kernel_sctp(admin::max_admin_message, err);
  return net::make_udp_sctp(cfg.udp_port, admin::max_admin_message, err);
}

int run(const config::proxy_config& cfg) {
  log::set_level(level_of(cfg.log_level));
  std::vector<config::user_entry> users;
  if (!cfg.users_file.empty()) {
    auto loaded = config::load_users(cfg.users_file);
    if (auto err = std::get_if<std::string>(&loaded)) {
      log::error(*err);
      return 1;
    }
    users = std::get<std::vector<config::user_entry>>(std::move(loaded));
  }
  int log_fd = -1;
  if (auto err = open_access_log(cfg.access_log, log_fd); !err.empty()) {
    log::error(err);
    return 1;
  }
  raise_fd_limit();
  // Block the signals we handle in every thread; main waits for them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  net::reactor_config rcfg;
  rcfg.threads = cfg.threads;
  for (auto& ep : cfg.dns_servers)
    rcfg.dns_servers += (rcfg.dns_servers.empty() ? "" : ",") + ep.to_string();
  net::reactor io{rcfg};

  caf::actor_system_config sys_cfg;
  auto actor_threads = cfg.actor_threads;
  if (actor_threads == 0)
    actor_threads = std::max<size_t>(1, std::thread::hardware_concurrency() / 2);
  sys_cfg.set("scheduler.max-threads", actor_threads);
  // Work sharing parks idle workers on a condition variable; work stealing
  // spins (polls) first, which costs CPU per message at low load.
  sys_cfg.set("scheduler.policy", caf::atom("sharing"));
  sys_cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};

  std::vector<hasher_actor> hashers;
  for (int i = 0; i < 2; ++i)
    hashers.push_back(sys.spawn<caf::detached>(hasher));
  auto pers = sys.spawn<caf::detached>(persister);
  auto reg = sys.spawn(registry, users, hashers,
                       registry_config{cfg.users_file, cfg.max_users}, pers);
  auto met = sys.spawn(metrics);
  auto alog = sys.spawn<caf::detached>(access_log, log_fd,
                                       log_fd != STDOUT_FILENO && log_fd >= 0);
  // With the access log off, sessions send no record at all.
  session_deps deps{&io, reg, met, log_fd >= 0 ? alog : access_log_actor{}};
  auto initial = make_settings(cfg);
  // Admits clients on the reactor's threads under the acceptor's policy.
  auto desk = std::make_shared<admission_desk>(sys, deps);
  auto acc = sys.spawn(acceptor, initial, desk);
  // The acceptor publishes on its first run, which is asynchronous: the
  // same policy goes out now, before any client can come (and before the
  // registry and the settings actor know the acceptor, so no newer policy
  // can be overwritten).
  desk->publish(admission_policy::make(initial, nullptr, acc));
  caf::anon_send(reg, logins_sink{acc});
  auto set = sys.spawn(settings, initial, acc);

  auto stop_actors = [&] {
    for (auto& h : hashers)
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(pers, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(met, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(alog, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(acc, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(set, caf::exit_reason::user_shutdown);
  };

  std::unique_ptr<net::sctp_transport> admin_tx;
  auto stop_admin = [&] {
    if (admin_tx)
      admin_tx->stop();
  };
  if (cfg.spcp_listen || cfg.manager_listen) {
    std::string err;
    admin_tx = open_admin_transport(cfg, err);
    if (!admin_tx) {
      log::error("admin plane: " + err);
      stop_actors();
      return 1;
    }
    admin_deps adeps{admin_tx.get(), reg, met, set};
    std::vector<std::string> lines;
    std::string how = admin_tx->kind() == std::string{"kernel"}
                        ? "kernel SCTP"
                        : "SCTP over UDP port " + std::to_string(cfg.udp_port);
    how += cfg.transport == config::admin_transport::automatic
             ? ", chosen by transport = auto)"
             : ")";
    auto listen_admin = [&](const char* proto, const net::ip_endpoint& addr,
                            std::shared_ptr<net::sctp_events> ev) {
      auto res = admin_tx->listen(addr, std::move(ev));
      if (auto e = std::get_if<std::string>(&res)) {
        log::error("admin plane: " + *e);
        return false;
      }
      lines.push_back(std::string{proto} + " listening on " + addr.to_string()
                      + " (" + how);
      return true;
    };
    bool ok = true;
    if (cfg.spcp_listen)
      ok = listen_admin("SPCP", *cfg.spcp_listen,
                        make_admin_events("SPCP", [&sys, adeps](net::assoc_id id,
                                                                net::ip_endpoint peer) {
                          return sys.spawn(spcp_session, id, peer, adeps);
                        }));
    if (ok && cfg.manager_listen)
      ok = listen_admin("Manager", *cfg.manager_listen,
                        make_admin_events("Manager", [&sys, adeps](net::assoc_id id,
                                                                   net::ip_endpoint peer) {
                          return sys.spawn(manager_session, id, peer, adeps);
                        }));
    if (!ok) {
      admin_tx.reset();
      stop_actors();
      return 1;
    }
    admin_tx->start();
    for (auto& l : lines)
      log::info(l);
  }

  std::vector<std::string> bound;
  for (auto& addr : cfg.listen) {
    // SOCKS5 clients speak first: the kernel holds a new connection until
    // its greeting arrives (for up to a second; a client that waits longer
    // is accepted then as usual), and the loop reads the greeting right
    // after the accept instead of waiting for epoll to report it.
    auto res = io.listen(addr, desk, std::chrono::seconds{1});
    if (auto err = std::get_if<std::string>(&res)) {
      log::error(*err);
      stop_admin();
      stop_actors();
      return 1;
    }
    bound.push_back(std::get<net::ip_endpoint>(res).to_string());
  }
  io.set_traffic_sink([met](const net::traffic_counts& t) {
    caf::anon_send(met, traffic{t});
  });
  io.start();
  for (auto& b : bound)
    log::info("SOCKS5 listening on " + b);
  log::info("ready: " + std::to_string(io.size()) + " reactor threads, "
            + std::to_string(users.size()) + " users, max_clients "
            + std::to_string(cfg.max_clients));

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      if (cfg.users_file.empty())
        continue;
      auto loaded = config::load_users(cfg.users_file);
      if (auto err = std::get_if<std::string>(&loaded)) {
        log::error("reload failed, keeping the previous users: " + *err);
        continue;
      }
      caf::anon_send(reg, reload_atom_v,
                     std::get<std::vector<config::user_entry>>(std::move(loaded)));
      continue;
    }
    log::info(std::string{"received "} + strsignal(sig) + ", shutting down");
    break;
  }
  stop_admin();
  io.stop_listening();
  auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_grace;
  while (io.connection_count() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  if (auto n = io.connection_count(); n > 0)
    log::info("closing " + std::to_string(n) + " connections still open");
  io.close_all();
  io.stop();
  // Let sessions see their conn_closed and write their access log lines.
  std::this_thread::sleep_for(std::chrono::milliseconds{50});
  stop_actors();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string hash_name;
  std::string roles = "socks";
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "proxy: " << arg << " needs " << what << "\n" << usage_text;
        exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c")
      config_path = value("a file");
    else if (arg == "--check")
      check = true;
    else if (arg == "--hash-user")
      hash_name = value("a user name");
    else if (arg == "--roles")
      roles = value("roles");
    else if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return 0;
    } else {
      std::cerr << "proxy: unknown argument '" << arg << "'\n" << usage_text;
      return 2;
    }
  }
  if (!hash_name.empty())
    return hash_user(hash_name, roles);
  if (config_path.empty()) {
    std::cerr << usage_text;
    return 2;
  }
  auto loaded = config::load(config_path);
  if (auto err = std::get_if<std::string>(&loaded)) {
    log::error(*err);
    return 1;
  }
  auto& cfg = std::get<config::proxy_config>(loaded);
  if (check) {
    if (!cfg.users_file.empty()) {
      auto users = config::load_users(cfg.users_file);
      if (auto err = std::get_if<std::string>(&users)) {
        log::error(*err);
        return 1;
      }
    }
    std::cout << config_path << ": OK\n";
    return 0;
  }
  return run(cfg);
}
