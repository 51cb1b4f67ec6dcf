// The proxy program's command line (CLI11): loads and checks the
// configuration, or hashes a password; running the proxy is px::run
// (actors/wiring.hpp).
//
//   proxy --config FILE          run
//   proxy --config FILE --check  validate the config and users file, exit
//   proxy --hash-user NAME [--roles socks|admin|socks,admin]
//                                print a users-file line; the password comes
//                                from $PROXY_PASSWORD or the first stdin line
//   proxy --version, --help
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <variant>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "actors/access_log.hpp"
#include "actors/cluster_wiring.hpp"
#include "actors/wiring.hpp"
#include "config/upstream_parse.hpp"
#include "config/config.hpp"
#include "config/limits.hpp"
#include "config/users.hpp"
#include "net/log.hpp"
#include "net/rules.hpp"

namespace {

using namespace px;

constexpr const char* footer_text = R"(
Signals: SIGHUP rereads the configuration and the users file (an invalid file
keeps the running configuration) and reopens the access log; SIGUSR1 reopens
the access log; SIGINT and SIGTERM stop accepting, let connections finish for
shutdown_grace, and exit 0.

Exit codes: 0 ok, 1 the configuration, the users file or a listener failed
(one line on standard error), 2 usage.)";

/// --hash-user: prints a users-file line; returns the exit code.
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

/// The command line, parsed.
struct arguments {
  std::string config_path;
  std::string hash_name;
  std::string roles = "socks";
  bool check = false;
};

/// The program's name as it was called ("proxy" in the build tree,
/// "socks5-proxyd" installed).
std::string program_name(const char* argv0) {
  std::string name = argv0 != nullptr ? argv0 : "proxy";
  auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

/// The options, their help and how they combine.
void describe(CLI::App& app, arguments& args) {
  auto config = app.add_option("-c,--config", args.config_path,
                               "run the SOCKS5 proxy with this configuration file")
                  ->type_name("FILE");
  app.add_flag("--check", args.check,
               "only validate the configuration, the users file and the "
               "access log, print 'FILE: OK' and exit")
    ->needs(config);
  auto hash = app.add_option("--hash-user", args.hash_name,
                             "print a users-file line for user NAME; the "
                             "password is read from $PROXY_PASSWORD, else from "
                             "the first line of standard input")
                ->type_name("NAME")
                ->excludes(config);
  app.add_option("--roles", args.roles, "roles of that user: socks, admin or socks,admin")
    ->type_name("ROLES")
    ->capture_default_str()
    ->needs(hash);
}

/// --check: opens what a start would open besides the sockets (the users
/// file, the access log), prints the access rules as understood (when
/// there are any) and "PATH: OK"; returns the exit code.
int check_config(const config::proxy_config& cfg, const std::string& path) {
  if (!cfg.users_file.empty()) {
    auto users = config::load_users(cfg.users_file);
    if (auto err = std::get_if<std::string>(&users)) {
      log::error(*err);
      return 1;
    }
    auto& entries = std::get<std::vector<config::user_entry>>(users);
    if (auto err = config::check_user_vias(cfg, entries, cfg.users_file)) {
      log::error(*err);
      return 1;
    }
  }
  if (cfg.cluster.enabled) { // the cluster's TLS files (docs/cluster.md)
    if (auto err = check_cluster_tls(cfg.cluster); !err.empty()) {
      log::error(err);
      return 1;
    }
  }
  // What a start would open: a log the proxy may not write fails here too
  // (a missing file is created, as a start would).
  int log_fd = -1;
  if (auto err = open_access_log(cfg.access_log, log_fd); !err.empty()) {
    log::error(err);
    return 1;
  }
  if (log_fd > STDERR_FILENO)
    ::close(log_fd);
  net::rule_set rules{cfg.deny_destinations, cfg.rules, cfg.rules_default};
  if (!rules.trivial())
    std::cout << "access rules (first match wins):\n" << rules.describe();
  if (auto up = config::compile_upstream(cfg)) // passwords shown as ***
    std::cout << "upstream:\n" << up->describe();
  if (auto limits = config::describe_limits(cfg); !limits.empty())
    std::cout << "limits:\n" << limits;
  std::cout << path << ": OK\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  arguments args;
  CLI::App app{"SOCKS5 proxy with an SCTP admin plane (SPCP, Manager protocol)",
               program_name(argv[0])};
  app.set_version_flag("--version", program_name(argv[0])
                                      + " (socks5-proxy) " PROXY_VERSION);
  app.footer(footer_text);
  describe(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!args.hash_name.empty())
    return hash_user(args.hash_name, args.roles);
  if (args.config_path.empty()) {
    std::cerr << app.help();
    return 2;
  }
  auto loaded = config::load(args.config_path);
  if (auto err = std::get_if<std::string>(&loaded)) {
    log::error(*err);
    return 1;
  }
  auto& cfg = std::get<config::proxy_config>(loaded);
  if (args.check)
    return check_config(cfg, args.config_path);
  return px::run(cfg);
}
