// The proxy's configuration file (`proxy.ini`): an INI dialect we parse and
// validate ourselves (CAF's own config parser silently ignores mistakes).
// Every error names the file, the line and the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "net/address.hpp"

namespace px::config {

/// Which SOCKS5 methods clients may use.
enum class auth_mode {
  /// RFC 1929 username/password only.
  userpass,
  /// No authentication only.
  none,
  /// Username/password when the client offers it, otherwise no-auth.
  any,
};

/// Which SCTP implementation the admin plane uses.
enum class admin_transport {
  /// Kernel SCTP when a socket can be opened, else SCTP over UDP.
  automatic,
  /// Kernel SCTP (lksctp) only.
  kernel,
  /// SCTP over UDP (usrsctp) only.
  udp,
};

/// Every setting of `proxy.ini`, validated.
struct proxy_config {
  /// The file this was read from.
  std::string path;

  // -- [socks] ---
  /// Addresses to accept SOCKS clients on (key `listen`, repeatable).
  std::vector<net::ip_endpoint> listen;
  auth_mode auth = auth_mode::userpass;
  /// Users file, resolved relative to the config file's folder.
  std::string users_file;
  size_t max_clients = 1024;
  size_t buffer_size = 64 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};
  /// BIND: how long to wait for the peer to connect.
  std::chrono::milliseconds bind_timeout{60000};
  std::chrono::milliseconds idle_timeout{300000};
  /// Clients allowed to connect (empty: everyone).
  std::vector<net::cidr> allow_clients;
  /// Destinations refused with REP 0x02.
  std::vector<net::cidr> deny_destinations;
  /// DNS servers (key `dns_server`, repeatable; empty: /etc/resolv.conf).
  std::vector<net::ip_endpoint> dns_servers;

  // -- [server] ---
  /// Reactor threads (0: one per core).
  size_t threads = 0;
  /// CAF scheduler threads (0: half the cores, at least one).
  size_t actor_threads = 0;
  bool splice = true;
  std::chrono::milliseconds shutdown_grace{5000};
  /// "-" for stderr, "off", or a file path.
  std::string access_log = "-";
  /// error, warning, info or debug.
  std::string log_level = "info";
  /// Largest number of users the registry holds.
  size_t max_users = 10000;

  // -- [admin] ---
  admin_transport transport = admin_transport::automatic;
  /// UDP port of SCTP-over-UDP (RFC 6951).
  uint16_t udp_port = 9899;
  /// SPCP listener (absent: off).
  std::optional<net::ip_endpoint> spcp_listen
    = net::ip_endpoint::parse("127.0.0.1:9090");
  /// Manager listener (absent: off).
  std::optional<net::ip_endpoint> manager_listen
    = net::ip_endpoint::parse("127.0.0.1:9091");
};

/// Loads and validates a config file. On error, returns one line such as
/// "config/proxy.ini:12: key 'buffer_size': '12q' is not a size".
std::variant<proxy_config, std::string> load(const std::string& path);

/// Parses a config from text (`path` only names it in errors).
std::variant<proxy_config, std::string> parse(const std::string& text,
                                              const std::string& path);

/// Parses "10s", "500ms", "2m", "1h" or a plain number of seconds, at most
/// 100 days.
bool parse_duration(const std::string& text, std::chrono::milliseconds& out);

/// Parses "65536", "64k", "1m" (binary multiples).
bool parse_size(const std::string& text, size_t& out);

} // namespace px::config
