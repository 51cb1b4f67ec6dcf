// proxyctl: the admin client of the proxy, over SCTP (kernel or over UDP).
//
// Exit codes: 0 success, 1 the proxy refused the request, 2 usage error,
// 3 authentication failed, 4 transport or protocol failure.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <termios.h>
#include <unistd.h>

#include "admin/codec.hpp"
#include "net/sctp.hpp"

namespace {

using namespace px;

constexpr int exit_ok = 0;
constexpr int exit_refused = 1;
constexpr int exit_usage = 2;
constexpr int exit_auth = 3;
constexpr int exit_transport = 4;

constexpr const char* usage_text = R"(usage: proxyctl [options] COMMAND [ARGS]

SPCP commands (port 9090):
  connections            concurrent connections now
  bytes                  bytes transferred since start
  accesses               connections accepted since start (historical)
  metrics                all three (add --json for JSON)
  transform              show the active transformation (empty: none)
  transform set CMD      pipe target-to-client bytes of new connections
                         through `/bin/sh -c CMD`
  transform off          disable the transformation
  buffer-size BYTES      buffer size for new connections
  check                  log in and out (tests credentials and reachability)

Manager commands (port 9091; one request per association):
  users add NAME         add a SOCKS user; its password comes from
                         $PROXYCTL_NEW_PASSWORD, a prompt, or the next line
                         of standard input. Saved to the users file.
  users list             list user names (at most 255)
  manager-metrics        historical, active and bytes, from the Manager protocol
  max-clients N          cap concurrent SOCKS clients (new connections only)

Options:
  --host ADDR            proxy admin address (default 127.0.0.1)
  --port N               SPCP port (default 9090)
  --manager-port N       Manager port (default 9091)
  --transport T          udp (SCTP over UDP, default) or kernel
  --udp-port N           the proxy's SCTP-over-UDP port (default 9899)
  --user NAME            admin user (default $PROXYCTL_USER or "admin")
  --timeout MS           per-reply timeout (default 5000)
  --json                 machine-readable output
  -h, --help             this text

The password is read from $PROXYCTL_PASSWORD, else prompted for on the
terminal, else read from the first line of standard input.

Exit codes: 0 ok, 1 refused by the proxy, 2 usage, 3 authentication failed,
4 transport or protocol failure.
)";

struct options {
  std::string host = "127.0.0.1";
  int port = spcp::default_port;
  int manager_port = admin::manager::default_port;
  std::string transport = "udp";
  int udp_port = 9899;
  std::string user;
  int timeout_ms = 5000;
  bool json = false;
  std::vector<std::string> command;
};

std::string read_password(const char* env_name = "PROXYCTL_PASSWORD",
                          const char* prompt = "password: ") {
  if (auto env = getenv(env_name))
    return env;
  std::string pw;
  if (isatty(STDIN_FILENO)) {
    std::cerr << prompt << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    auto quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, pw);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  } else {
    std::getline(std::cin, pw);
  }
  return pw;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

class session {
public:
  session(std::unique_ptr<net::sctp_client> c, int timeout_ms)
    : client_(std::move(c)), timeout_ms_(timeout_ms) {
    // nop
  }

  /// Sends one request; returns false (and prints why) on transport errors.
  bool call(spcp::cmd cmd, const std::vector<std::string>& args,
            admin::spcp_response& out) {
    auto msg = admin::encode_spcp_request(static_cast<uint8_t>(cmd), args);
    std::vector<uint8_t> in;
    if (!client_->send(msg) || !client_->receive(in, timeout_ms_)) {
      std::cerr << "proxyctl: " << client_->error() << "\n";
      return false;
    }
    auto r = admin::parse_spcp_response(in.data(), in.size());
    if (!r) {
      std::cerr << "proxyctl: malformed reply from the proxy\n";
      return false;
    }
    out = *r;
    return true;
  }

private:
  std::unique_ptr<net::sctp_client> client_;
  int timeout_ms_;
};

int fail_status(const admin::spcp_response& r, const char* what) {
  std::cerr << "proxyctl: " << what << ": " << spcp::to_string(r.status);
  if (!r.data.empty())
    std::cerr << " (" << r.data << ")";
  std::cerr << "\n";
  return r.status == spcp::status::auth_error ? exit_auth : exit_refused;
}

std::unique_ptr<net::sctp_client> connect(const options& opt,
                                          const net::ip_endpoint& server) {
  std::string err;
  std::unique_ptr<net::sctp_client> client;
  if (opt.transport == "kernel")
    client = net::connect_kernel_sctp(server, opt.timeout_ms, err);
  else
    client = net::connect_udp_sctp(server, static_cast<uint16_t>(opt.udp_port),
                                   opt.timeout_ms, err);
  if (!client)
    std::cerr << "proxyctl: " << err << "\n";
  return client;
}

namespace mgr = admin::manager;

int manager_fail(const std::vector<uint8_t>& in, const char* what) {
  if (in.size() == 3 && in[0] == mgr::version) {
    auto st = static_cast<mgr::status>(in[2]);
    std::cerr << "proxyctl: " << what << ": " << mgr::to_string(st) << "\n";
    return exit_refused;
  }
  std::cerr << "proxyctl: " << what << ": malformed reply from the proxy\n";
  return exit_transport;
}

int run_manager(const options& opt, const std::string& user) {
  auto& cmd = opt.command;
  auto server = net::ip_endpoint::parse(opt.host, opt.manager_port);
  if (!server) {
    std::cerr << "proxyctl: --host must be an IPv4 or IPv6 address\n";
    return exit_usage;
  }
  mgr::request req;
  if (cmd[0] == "users" && cmd.size() == 3 && cmd[1] == "add") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::add_user);
    req.user.user = cmd[2];
  } else if (cmd[0] == "users" && cmd.size() == 2 && cmd[1] == "list") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::list_users);
  } else if (cmd[0] == "manager-metrics" && cmd.size() == 1) {
    req.cmd = static_cast<uint8_t>(mgr::cmd::metrics);
  } else if (cmd[0] == "max-clients" && cmd.size() == 2) {
    char* end = nullptr;
    auto n = strtoul(cmd[1].c_str(), &end, 10);
    if (cmd[1].empty() || *end != '\0' || n > 0xFFFFFFFFul) {
      std::cerr << "proxyctl: max-clients needs a number up to 4294967295\n";
      return exit_usage;
    }
    req.cmd = static_cast<uint8_t>(mgr::cmd::max_clients);
    req.max_clients = static_cast<uint32_t>(n);
  } else {
    std::cerr << "proxyctl: use 'users add NAME', 'users list', "
                 "'manager-metrics' or 'max-clients N'\n";
    return exit_usage;
  }
  if (user.size() > 255) {
    std::cerr << "proxyctl: user name too long\n";
    return exit_usage;
  }
  auto password = read_password();
  if (req.cmd == static_cast<uint8_t>(mgr::cmd::add_user)) {
    req.user.password = read_password("PROXYCTL_NEW_PASSWORD", "new user's password: ");
    if (req.user.user.empty() || req.user.user.size() > 255
        || req.user.password.empty() || req.user.password.size() > 255) {
      std::cerr << "proxyctl: user name and password must be 1-255 bytes\n";
      return exit_usage;
    }
  }
  auto client = connect(opt, *server);
  if (!client)
    return exit_transport;
  std::vector<uint8_t> in;
  auto call = [&](const std::vector<uint8_t>& out) {
    if (!client->send(out) || !client->receive(in, opt.timeout_ms)) {
      std::cerr << "proxyctl: " << client->error() << "\n";
      return false;
    }
    return true;
  };
  if (!call(mgr::encode_login({user, password})))
    return exit_transport;
  if (in.size() != 2 || in[0] != mgr::version) {
    std::cerr << "proxyctl: login: malformed reply from the proxy\n";
    return exit_transport;
  }
  if (in[1] != 0) {
    std::cerr << "proxyctl: login: "
              << mgr::to_string(static_cast<mgr::status>(in[1])) << "\n";
    return exit_auth;
  }
  if (!call(mgr::encode_request(req)))
    return exit_transport;
  switch (static_cast<mgr::cmd>(req.cmd)) {
    case mgr::cmd::add_user:
    case mgr::cmd::max_clients:
      if (in.size() != 3 || in[0] != mgr::version || in[1] != req.cmd || in[2] != 0)
        return manager_fail(in, cmd[0].c_str());
      std::cout << (opt.json ? "{\"ok\": true}" : "ok") << "\n";
      return exit_ok;
    case mgr::cmd::list_users: {
      auto names = mgr::parse_list_reply(in.data(), in.size());
      if (!names)
        return manager_fail(in, "users list");
      if (opt.json) {
        std::cout << "[";
        for (size_t i = 0; i < names->size(); ++i)
          std::cout << (i ? ", " : "") << "\"" << json_escape((*names)[i]) << "\"";
        std::cout << "]\n";
      } else {
        for (auto& n : *names)
          std::cout << n << "\n";
      }
      return exit_ok;
    }
    case mgr::cmd::metrics: {
      auto v = mgr::parse_metrics_reply(in.data(), in.size());
      if (!v)
        return manager_fail(in, "manager-metrics");
      if (opt.json)
        std::cout << "{\"historical\": " << v->historical << ", \"active\": "
                  << v->active << ", \"bytes\": " << v->bytes << "}\n";
      else
        std::cout << "historical   " << v->historical << "\nactive       "
                  << v->active << "\nbytes        " << v->bytes << "\n";
      return exit_ok;
    }
  }
  return exit_transport;
}

int run(const options& opt) {
  auto server = net::ip_endpoint::parse(opt.host, opt.port);
  if (!server) {
    std::cerr << "proxyctl: --host must be an IPv4 or IPv6 address\n";
    return exit_usage;
  }
  auto& cmd = opt.command;
  if (cmd[0] == "users" || cmd[0] == "manager-metrics" || cmd[0] == "max-clients") {
    auto user = opt.user;
    if (user.empty())
      user = getenv("PROXYCTL_USER") ? getenv("PROXYCTL_USER") : "admin";
    return run_manager(opt, user);
  }
  // Validate the command before asking for a password.
  static const std::map<std::string, size_t> arity{
    {"connections", 1}, {"bytes", 1},     {"accesses", 1}, {"metrics", 1},
    {"transform", 0},   {"buffer-size", 2}, {"check", 1}};
  auto known = arity.find(cmd[0]);
  if (known == arity.end()) {
    std::cerr << "proxyctl: unknown command '" << cmd[0] << "'\n" << usage_text;
    return exit_usage;
  }
  if (known->second != 0 && cmd.size() != known->second) {
    std::cerr << "proxyctl: wrong number of arguments for '" << cmd[0] << "'\n";
    return exit_usage;
  }
  if (cmd[0] == "transform"
      && !(cmd.size() == 1 || (cmd.size() == 2 && cmd[1] == "off")
           || (cmd.size() == 3 && cmd[1] == "set"))) {
    std::cerr << "proxyctl: use 'transform', 'transform set CMD' or 'transform off'\n";
    return exit_usage;
  }
  auto user = opt.user;
  if (user.empty())
    user = getenv("PROXYCTL_USER") ? getenv("PROXYCTL_USER") : "admin";
  auto password = read_password();
  auto client = connect(opt, *server);
  if (!client)
    return exit_transport;
  session s{std::move(client), opt.timeout_ms};
  admin::spcp_response r;
  if (!s.call(spcp::cmd::user, {user}, r))
    return exit_transport;
  if (r.status != spcp::status::ok)
    return fail_status(r, "login");
  if (!s.call(spcp::cmd::pass, {password}, r))
    return exit_transport;
  if (r.status != spcp::status::ok)
    return fail_status(r, "login");
  int rc = exit_ok;
  auto query = [&](spcp::cmd c, const char* label, std::string& value) {
    if (!s.call(c, {}, r))
      return exit_transport;
    if (r.status != spcp::status::ok)
      return fail_status(r, label);
    value = r.data;
    return exit_ok;
  };
  const auto& name = cmd[0];
  std::string value;
  if (name == "connections" || name == "bytes" || name == "accesses") {
    auto c = name == "connections" ? spcp::cmd::concurrent
             : name == "bytes"     ? spcp::cmd::bytes
                                   : spcp::cmd::historical;
    rc = query(c, name.c_str(), value);
    if (rc == exit_ok) {
      if (opt.json)
        std::cout << "{\"" << name << "\": " << value << "}\n";
      else
        std::cout << value << "\n";
    }
  } else if (name == "metrics") {
    std::string conns, bytes, accesses;
    rc = query(spcp::cmd::concurrent, "connections", conns);
    if (rc == exit_ok)
      rc = query(spcp::cmd::bytes, "bytes", bytes);
    if (rc == exit_ok)
      rc = query(spcp::cmd::historical, "accesses", accesses);
    if (rc == exit_ok) {
      if (opt.json)
        std::cout << "{\"connections\": " << conns << ", \"bytes\": " << bytes
                  << ", \"accesses\": " << accesses << "}\n";
      else
        std::cout << "connections  " << conns << "\nbytes        " << bytes
                  << "\naccesses     " << accesses << "\n";
    }
  } else if (name == "transform" && cmd.size() == 1) {
    rc = query(spcp::cmd::get_transform, "transform", value);
    if (rc == exit_ok) {
      if (opt.json)
        std::cout << "{\"transform\": \"" << json_escape(value) << "\"}\n";
      else
        std::cout << (value.empty() ? "(none)" : value) << "\n";
    }
  } else if (name == "transform" || name == "buffer-size") {
    auto c = name == "transform" ? spcp::cmd::set_transform : spcp::cmd::set_buffer;
    std::vector<std::string> args;
    if (name == "buffer-size")
      args.push_back(cmd[1]);
    else if (cmd[1] == "set")
      args.push_back(cmd[2]);
    if (!s.call(c, args, r))
      return exit_transport;
    if (r.status != spcp::status::ok)
      rc = fail_status(r, name.c_str());
    else if (opt.json)
      std::cout << "{\"ok\": true}\n";
    else
      std::cout << "ok\n";
  }
  // check: nothing beyond the login.
  if (!s.call(spcp::cmd::quit, {}, r))
    return rc == exit_ok ? exit_transport : rc;
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "proxyctl: " << arg << " needs a value\n";
        exit(exit_usage);
      }
      return argv[++i];
    };
    auto number = [&](int lo, int hi) {
      auto v = value();
      char* end = nullptr;
      long n = strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo || n > hi) {
        std::cerr << "proxyctl: " << arg << ": '" << v << "' is not a number in ["
                  << lo << ", " << hi << "]\n";
        exit(exit_usage);
      }
      return static_cast<int>(n);
    };
    if (!opt.command.empty()) {
      opt.command.push_back(arg);
    } else if (arg == "-h" || arg == "--help") {
      std::cout << usage_text;
      return exit_ok;
    } else if (arg == "--host") {
      opt.host = value();
    } else if (arg == "--port") {
      opt.port = number(1, 65535);
    } else if (arg == "--manager-port") {
      opt.manager_port = number(1, 65535);
    } else if (arg == "--transport") {
      opt.transport = value();
      if (opt.transport != "udp" && opt.transport != "kernel") {
        std::cerr << "proxyctl: --transport must be udp or kernel\n";
        return exit_usage;
      }
    } else if (arg == "--udp-port") {
      opt.udp_port = number(1, 65535);
    } else if (arg == "--user") {
      opt.user = value();
    } else if (arg == "--timeout") {
      opt.timeout_ms = number(1, 600000);
    } else if (arg == "--json") {
      opt.json = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << "proxyctl: unknown option '" << arg << "'\n" << usage_text;
      return exit_usage;
    } else {
      opt.command.push_back(arg);
    }
  }
  if (opt.command.empty()) {
    std::cerr << usage_text;
    return exit_usage;
  }
  return run(opt);
}
