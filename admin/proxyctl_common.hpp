// What the parts of proxyctl share: the exit codes, the options, the JSON
// output, and the steps both protocols take (the admin user, the password, the
// association, one request and its reply, the output). proxyctl.cpp reads
// the command line; proxyctl_spcp.cpp and proxyctl_manager.cpp run the
// commands of one protocol each.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/codec.hpp"
#include "net/address.hpp"
#include "net/sctp.hpp"

namespace px::proxyctl {

/// Success.
constexpr int exit_ok = 0;
/// The proxy refused the request.
constexpr int exit_refused = 1;
/// A usage error: nothing was sent.
constexpr int exit_usage = 2;
/// Authentication failed.
constexpr int exit_auth = 3;
/// Transport or protocol failure.
constexpr int exit_transport = 4;

/// Says why the proxy refused `what` (a Manager status reply), or that its
/// reply is malformed; returns exit_refused or exit_transport.
int manager_fail(const std::vector<uint8_t>& in, const char* what);

/// The command line.
struct options {
  std::string host = "127.0.0.1";
  int port = spcp::default_port;
  int manager_port = admin::manager::default_port;
  /// "udp" or "kernel".
  std::string transport = "udp";
  int udp_port = 9899;
  /// Empty: $PROXYCTL_USER or "admin".
  std::string user;
  int timeout_ms = 5000;
  bool json = false;
  /// max-clients, buffer-size, transform set/off: on every cluster node
  /// (Manager extension 0x09) instead of this node alone.
  bool cluster = false;
  /// The command words and their arguments, e.g. {"users", "add", NAME}
  /// (never empty once parsed).
  std::vector<std::string> command;
};

/// The admin user: --user, else $PROXYCTL_USER, else "admin".
std::string admin_user(const options& opt);

/// The proxy's address at `port`; prints why and returns nothing unless
/// --host is an IP address.
std::optional<net::ip_endpoint> server_address(const options& opt, int port);

/// A password from $`env_name`, else asked for on the terminal (no echo),
/// else the first line of standard input.
std::string read_password(const char* env_name = "PROXYCTL_PASSWORD",
                          const char* prompt = "password: ");

/// One JSON object on one line, members in the given order, written as
/// `{"key": value, "key2": value2}`. Strings that are not UTF-8 (user
/// names, a transformation) get U+FFFD for each bad byte: the output is
/// always valid JSON.
std::string json_object(
  const std::vector<std::pair<std::string, nlohmann::json>>& members);

/// A JSON array on one line: `["a", "b"]` (strings as in json_object).
std::string json_array(const std::vector<std::string>& items);

/// A number the proxy sent as decimal text: a JSON number, or a string when
/// it is not one (the output stays valid JSON whatever the proxy sends).
nlohmann::json json_count(const std::string& text);

/// Prints what a successful setter prints: "ok", or {"ok": true} with --json.
void print_ok(const options& opt);

/// Opens an association to `server` over the transport of `opt`; prints why
/// and returns nullptr when that fails.
std::unique_ptr<net::sctp_client> connect(const options& opt,
                                          const net::ip_endpoint& server);

/// Sends `out` and waits for one reply into `in`; prints the transport's
/// error and returns false when either fails.
bool exchange(net::sctp_client& client, const std::vector<uint8_t>& out,
              std::vector<uint8_t>& in, int timeout_ms);

} // namespace px::proxyctl
