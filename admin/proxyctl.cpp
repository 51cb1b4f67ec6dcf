// proxyctl: the admin client of the proxy, over SCTP (kernel or over UDP).
// Here: the command line (CLI11: one subcommand per command; the global
// options may also follow the command, as in `proxyctl metrics --json`),
// and the protocol its command belongs to; the commands themselves are in
// proxyctl_spcp.cpp and proxyctl_manager.cpp.
//
// Exit codes: 0 success, 1 the proxy refused the request, 2 usage error,
// 3 authentication failed, 4 transport or protocol failure.
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "admin/proxyctl_common.hpp"
#include "admin/proxyctl_cluster.hpp"
#include "admin/proxyctl_manager.hpp"
#include "admin/proxyctl_spcp.hpp"

namespace {

using namespace px::proxyctl;

constexpr const char* footer_text = R"(
The SPCP commands use --port (9090), the Manager commands --manager-port
(9091; one request per association).

Environment:
  PROXYCTL_PASSWORD      the admin's password (else a prompt without echo on
                         a terminal, else the first line of standard input)
  PROXYCTL_NEW_PASSWORD  users add, users passwd: the new password (else a
                         prompt, else the next line of standard input)
  PROXYCTL_USER          the admin user when --user is not given

Exit codes: 0 ok, 1 refused by the proxy, 2 usage, 3 authentication failed,
4 transport or protocol failure.)";

/// The options every command takes; their values land in `opt`.
void add_global_options(CLI::App& app, options& opt) {
  app.add_option("--host", opt.host, "proxy admin address (IPv4 or IPv6)")
    ->type_name("ADDR")
    ->capture_default_str();
  app.add_option("--port", opt.port, "SPCP port")
    ->type_name("N")
    ->check(CLI::Range(1, 65535))
    ->capture_default_str();
  app.add_option("--manager-port", opt.manager_port, "Manager protocol port")
    ->type_name("N")
    ->check(CLI::Range(1, 65535))
    ->capture_default_str();
  app.add_option("--transport", opt.transport,
                 "udp (SCTP over UDP, RFC 6951) or kernel (kernel SCTP)")
    ->type_name("T")
    ->check(CLI::IsMember({"udp", "kernel"}))
    ->capture_default_str();
  app.add_option("--udp-port", opt.udp_port, "the proxy's SCTP-over-UDP port")
    ->type_name("N")
    ->check(CLI::Range(1, 65535))
    ->capture_default_str();
  app.add_option("--user", opt.user, "admin user (default $PROXYCTL_USER, else admin)")
    ->type_name("NAME");
  app.add_option("--timeout", opt.timeout_ms, "per-reply timeout in milliseconds")
    ->type_name("MS")
    ->check(CLI::Range(1, 600000))
    ->capture_default_str();
  app.add_flag("--json", opt.json, "machine-readable output (JSON)");
  app.add_flag("--cluster", opt.cluster,
               "max-clients, buffer-size, transform set/off: apply on every "
               "node of the cluster (Manager protocol) and name who applied");
}

/// The command words and arguments the parse filled in.
struct command_line {
  std::string transform_cmd;
  std::string buffer_bytes;
  std::string new_user;
  uint64_t max_clients = 0;
};

/// A command without arguments.
void simple(CLI::App& app, const char* name, const char* what,
            std::vector<std::string>& command) {
  app.add_subcommand(name, what)->callback([&command, name] { command = {name}; });
}

void add_spcp_commands(CLI::App& app, command_line& cl, std::vector<std::string>& cmd) {
  simple(app, "connections", "SPCP: concurrent connections now", cmd);
  simple(app, "bytes", "SPCP: bytes transferred since start", cmd);
  simple(app, "accesses", "SPCP: connections accepted since start (historical)", cmd);
  simple(app, "metrics", "SPCP: connections, bytes and accesses", cmd);
  auto tr = app.add_subcommand(
    "transform", "SPCP: show the active transformation (empty: none); "
                 "'transform set CMD' pipes target-to-client bytes of new "
                 "connections through `/bin/sh -c CMD`; 'transform off' "
                 "disables it");
  tr->require_subcommand(0, 1);
  tr->callback([&cmd, tr] {
    if (tr->get_subcommands().empty())
      cmd = {"transform"};
  });
  auto set = tr->add_subcommand("set", "pipe new connections through CMD");
  set->add_option("CMD", cl.transform_cmd, "the filter command")->required();
  set->callback([&] { cmd = {"transform", "set", cl.transform_cmd}; });
  tr->add_subcommand("off", "disable the transformation")->callback([&cmd] {
    cmd = {"transform", "off"};
  });
  auto buf = app.add_subcommand("buffer-size", "SPCP: buffer size for new connections");
  buf->add_option("BYTES", cl.buffer_bytes, "bytes per direction")->required();
  buf->callback([&] { cmd = {"buffer-size", cl.buffer_bytes}; });
  simple(app, "check", "SPCP: log in and out (tests credentials and reachability)",
         cmd);
}

void add_manager_commands(CLI::App& app, command_line& cl,
                          std::vector<std::string>& cmd) {
  auto users = app.add_subcommand("users",
                                  "Manager: add, delete, list users; set passwords; counters");
  users->require_subcommand(1);
  auto add = users->add_subcommand(
    "add", "add a SOCKS user (password from $PROXYCTL_NEW_PASSWORD, a prompt "
           "or the next line of standard input); saved to the users file");
  add->add_option("NAME", cl.new_user, "the new user's name")->required();
  add->callback([&] { cmd = {"users", "add", cl.new_user}; });
  auto del = users->add_subcommand(
    "del", "delete a user (its open sessions are closed unless the proxy has "
           "on_user_delete = keep); saved to the users file");
  del->add_option("NAME", cl.new_user, "the user's name")->required();
  del->callback([&] { cmd = {"users", "del", cl.new_user}; });
  auto pw = users->add_subcommand(
    "passwd", "change a user's password (from $PROXYCTL_NEW_PASSWORD, a prompt "
              "or the next line of standard input); saved to the users file");
  pw->add_option("NAME", cl.new_user, "the user's name")->required();
  pw->callback([&] { cmd = {"users", "passwd", cl.new_user}; });
  users->add_subcommand("list", "list user names (at most 255)")->callback([&cmd] {
    cmd = {"users", "list"};
  });
  auto stats = users->add_subcommand(
    "stats", "per-user counters: open and total connections, bytes each way, "
             "logins refused at each limit, the limits in force (all users, or NAME)");
  stats->add_option("NAME", cl.new_user, "one user (default: every user)");
  stats->callback([&] {
    cmd = {"users", "stats"};
    if (!cl.new_user.empty())
      cmd.push_back(cl.new_user);
  });
  simple(app, "manager-metrics",
         "Manager: historical, active and bytes, from the Manager protocol", cmd);
  auto mc = app.add_subcommand("max-clients",
                               "Manager: cap concurrent SOCKS clients (new connections)");
  mc->add_option("N", cl.max_clients, "the cap")
    ->required()
    ->check(CLI::Range(uint64_t{0}, uint64_t{0xFFFFFFFF}));
  mc->callback([&] { cmd = {"max-clients", std::to_string(cl.max_clients)}; });
  simple(app, "reload",
         "Manager: reload the config file and the users file, as SIGHUP does; "
         "prints the outcome (exit 1 and FILE:LINE when a file is invalid)",
         cmd);
  auto cluster = app.add_subcommand("cluster", "Manager: the cluster (docs/cluster.md)");
  cluster->require_subcommand(1);
  cluster
    ->add_subcommand("metrics", "every node's counters and the totals; names "
                                "the nodes that did not answer within 1 s")
    ->callback([&cmd] { cmd = {"cluster", "metrics"}; });
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  command_line cl;
  CLI::App app{"proxyctl: the admin client of the SOCKS5 proxy (SPCP and the "
               "Manager protocol over SCTP)",
               "proxyctl"};
  app.set_version_flag("--version", "proxyctl (socks5-proxy) " PROXY_VERSION);
  // Global options may follow the command too: `proxyctl metrics --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(footer_text);
  add_global_options(app, opt);
  add_spcp_commands(app, cl, opt.command);
  add_manager_commands(app, cl, opt.command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  if (opt.cluster && !is_cluster_setting(opt)) {
    std::cerr << "proxyctl: --cluster applies to max-clients, buffer-size and "
                 "transform set|off\n";
    return exit_usage;
  }
  if (is_manager_command(opt.command[0]) || is_cluster_setting(opt))
    return run_manager(opt);
  return run_spcp(opt);
}
