#include "admin/proxyctl_common.hpp"

#include <cstdlib>
#include <iostream>

#include <termios.h>
#include <unistd.h>

namespace px::proxyctl {

int manager_fail(const std::vector<uint8_t>& in, const char* what) {
  namespace mgr = admin::manager;
  if (in.size() == 3 && in[0] == mgr::version) {
    auto st = static_cast<mgr::status>(in[2]);
    std::cerr << "proxyctl: " << what << ": " << mgr::to_string(st) << "\n";
    return exit_refused;
  }
  std::cerr << "proxyctl: " << what << ": malformed reply from the proxy\n";
  return exit_transport;
}

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

namespace {

/// `j` on one line; invalid UTF-8 becomes U+FFFD.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

std::string json_object(
  const std::vector<std::pair<std::string, nlohmann::json>>& members) {
  std::string out = "{";
  for (auto& [key, value] : members)
    out += (out.size() > 1 ? ", " : "") + dump(key) + ": " + dump(value);
  return out + "}";
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (auto& item : items)
    out += (out.size() > 1 ? ", " : "") + dump(item);
  return out + "]";
}

nlohmann::json json_count(const std::string& text) {
  if (text.empty() || text.size() > 19
      || text.find_first_not_of("0123456789") != std::string::npos)
    return text;
  return std::stoull(text);
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
