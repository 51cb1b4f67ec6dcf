// The validated settings of `proxy.ini` as a plain struct: what the key
// table (config/keys.hpp) fills in and what the rest of the proxy reads.
// Parsing a file into it is config::load (config/config.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/cluster_config.hpp"
#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/outbound_profile.hpp"
#include "net/rules.hpp"
#include "net/upstream.hpp"

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

/// How the access log writes a connection.
enum class access_log_format {
  /// One line of `key=value` fields (the historical format).
  text,
  /// One JSON object per line (JSON Lines).
  json,
};

/// The advertised addresses of one listener: the words after its address,
/// `listen = 0.0.0.0:1080 udp_advertise=203.0.113.5 bind_advertise=...`
/// (`advertise=IP` sets both). Unset: the [socks] keys' (or the socket's).
struct listener_advertise {
  net::ip_endpoint listen;
  std::optional<net::ip_endpoint> udp;
  std::optional<net::ip_endpoint> bind;

  friend bool operator==(const listener_advertise& x, const listener_advertise& y) {
    return x.listen == y.listen && x.udp == y.udp && x.bind == y.bind;
  }
  friend bool operator!=(const listener_advertise& x, const listener_advertise& y) {
    return !(x == y);
  }
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
  /// Key `on_user_delete`: `close` (true) ends a deleted user's open
  /// sessions at once, `keep` (false) lets them run to their end.
  bool close_on_user_delete = true;
  size_t max_clients = 1024;
  size_t buffer_size = 64 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};
  /// Which family of a name's addresses a CONNECT tries first (`prefer`),
  /// and how long an attempt may go unanswered before the next address is
  /// tried alongside it (`happy_eyeballs_delay`, RFC 8305).
  net::address_family prefer = net::address_family::system;
  std::chrono::milliseconds happy_eyeballs_delay{250};
  /// BIND: how long to wait for the peer to connect.
  std::chrono::milliseconds bind_timeout{60000};
  std::chrono::milliseconds idle_timeout{300000};
  /// Clients allowed to connect (empty: everyone).
  std::vector<net::cidr> allow_clients;
  /// Destinations refused with REP 0x02 (shorthand: each is a
  /// `block dest=BLOCK` rule in front of the [rules]).
  std::vector<net::cidr> deny_destinations;
  /// DNS servers (key `dns_server`, repeatable; empty: /etc/resolv.conf).
  std::vector<net::ip_endpoint> dns_servers;
  /// BND.ADDR of UDP ASSOCIATE replies and of BIND's first reply (keys
  /// `udp_advertise_address`, `bind_advertise_address`; absent: the
  /// socket's own address). The port is always the socket's.
  std::optional<net::ip_endpoint> udp_advertise;
  std::optional<net::ip_endpoint> bind_advertise;
  /// Listeners with advertised addresses of their own (words of `listen`).
  std::vector<listener_advertise> per_listener;

  // -- [server] ---
  /// Reactor threads (0: one per core).
  size_t threads = 0;
  /// CAF scheduler threads (0: half the cores, at least one).
  size_t actor_threads = 0;
  bool splice = true;
  std::chrono::milliseconds shutdown_grace{5000};
  /// "-" for stderr, "off", or a file path.
  std::string access_log = "-";
  /// Text lines or JSON lines.
  access_log_format access_log_fmt = access_log_format::text;
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
  /// Whether SPCP may set a transformation command (`transform_command =
  /// allowed`); false (`off`): refused, and no filter ever runs.
  bool transform_allowed = true;

  // -- [rules] ---
  /// Access rules in file order, first match wins (key `rule`, repeatable).
  std::vector<net::rule> rules;
  /// What happens when no rule matches (key `default`).
  net::rule_action rules_default = net::rule_action::pass;

  // -- [upstream] ---
  /// Parent proxies (key `parent`, repeatable; config/upstream_parse.hpp).
  std::vector<net::parent_proxy> parents;
  /// Groups of parents tried in order (key `group`, repeatable).
  std::vector<net::parent_group> parent_groups;
  /// The parent or group of every CONNECT without a rule's or user's
  /// `via` (key `default`; empty or `direct`: none), and its line.
  std::string upstream_default;
  int upstream_default_line = 0;

  // -- [limits] ---
  /// Concurrent SOCKS sessions per authenticated user (0: no limit).
  uint32_t user_sessions = 0;
  /// New sessions per second per user (0: no limit); bursts of as many.
  uint32_t user_connect_rate = 0;
  /// Bytes per second per user, client to target (up) and back (down); 0: no limit.
  uint64_t user_bandwidth_up = 0;
  uint64_t user_bandwidth_down = 0;
  /// Concurrent connections per client address (0: no limit).
  uint32_t source_sessions = 0;
  /// New connections per second per client address (0: no limit).
  uint32_t source_connect_rate = 0;
  /// Export one time series per user in /metrics (off by default).
  bool per_user_metrics = false;

  // -- [outbound] and [outbound.NAME] ---
  /// Where outgoing sockets leave from: [outbound] is every connection's
  /// default, [outbound.NAME] a profile users select (`outbound=NAME`).
  net::outbound_table outbound;

  // -- [prometheus] ---
  /// Where GET /metrics is served (absent: off).
  std::optional<net::ip_endpoint> prometheus_listen
    = net::ip_endpoint::parse("127.0.0.1:9464");

  // -- [cluster] ---
  /// Nodes sharing users and metrics (absent: a single node; docs/cluster.md).
  cluster_config cluster;
};

} // namespace px::config
