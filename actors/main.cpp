// The proxy program's arguments: loads and checks the configuration, or
// hashes a password; running the proxy is px::run (actors/wiring.hpp).
//
//   proxy --config FILE          run
//   proxy --config FILE --check  validate the config and users file, exit
//   proxy --hash-user NAME [--roles socks|admin|socks,admin]
//                                print a users-file line; the password comes
//                                from $PROXY_PASSWORD or the first stdin line
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <variant>

#include <unistd.h>

#include "actors/access_log.hpp"
#include "actors/wiring.hpp"
#include "config/config.hpp"
#include "config/users.hpp"
#include "net/log.hpp"

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

/// Reads the command line into `args`; returns the exit code when the program
/// ends here (--help, an unknown argument), else nothing. Exits 2 when an
/// option lacks its value.
std::optional<int> parse_arguments(int argc, char** argv, arguments& args) {
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
      args.config_path = value("a file");
    else if (arg == "--check")
      args.check = true;
    else if (arg == "--hash-user")
      args.hash_name = value("a user name");
    else if (arg == "--roles")
      args.roles = value("roles");
    else if (arg == "--help" || arg == "-h") {
      std::cout << usage_text;
      return 0;
    } else {
      std::cerr << "proxy: unknown argument '" << arg << "'\n" << usage_text;
      return 2;
    }
  }
  return std::nullopt;
}

/// --check: opens what a start would open besides the sockets (the users
/// file, the access log) and prints "PATH: OK"; returns the exit code.
int check_config(const config::proxy_config& cfg, const std::string& path) {
  if (!cfg.users_file.empty()) {
    auto users = config::load_users(cfg.users_file);
    if (auto err = std::get_if<std::string>(&users)) {
      log::error(*err);
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
  std::cout << path << ": OK\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  arguments args;
  if (auto rc = parse_arguments(argc, argv, args))
    return *rc;
  if (!args.hash_name.empty())
    return hash_user(args.hash_name, args.roles);
  if (args.config_path.empty()) {
    std::cerr << usage_text;
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
