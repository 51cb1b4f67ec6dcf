#include "admin/proxyctl_common.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <termios.h>
#include <unistd.h>

namespace px::proxyctl {

const char* const usage_text = R"(usage: proxyctl [options] COMMAND [ARGS]

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

std::string admin_user(const options& opt) {
  if (!opt.user.empty())
    return opt.user;
  return getenv("PROXYCTL_USER") ? getenv("PROXYCTL_USER") : "admin";
}

std::optional<net::ip_endpoint> server_address(const options& opt, int port) {
  auto server = net::ip_endpoint::parse(opt.host, port);
  if (!server)
    std::cerr << "proxyctl: --host must be an IPv4 or IPv6 address\n";
  return server;
}

std::string read_password(const char* env_name, const char* prompt) {
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

void print_ok(const options& opt) {
  std::cout << (opt.json ? "{\"ok\": true}" : "ok") << "\n";
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

bool exchange(net::sctp_client& client, const std::vector<uint8_t>& out,
              std::vector<uint8_t>& in, int timeout_ms) {
  if (!client.send(out) || !client.receive(in, timeout_ms)) {
    std::cerr << "proxyctl: " << client.error() << "\n";
    return false;
  }
  return true;
}

} // namespace px::proxyctl
