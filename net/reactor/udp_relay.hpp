// The relay of a UDP ASSOCIATE: a socket facing the client and one socket
// per family towards destinations. Datagrams from the client's address
// (RFC 1928 section 7 header, FRAG 0 only) go to their destination, names
// resolved in the loop and remembered; answers come back with a header
// naming their source. Anything else is dropped and counted. It lives as
// long as its TCP control connection; the loop owns that.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/outbound_profile.hpp"
#include "net/rules.hpp"
#include "net/reactor/deadlines.hpp"
#include "net/reactor/io_handler.hpp"

namespace px::net {

struct loop_context;
struct resolve_result;

class udp_relay : public std::enable_shared_from_this<udp_relay> {
public:
  /// `expect`: where the client sends from (port 0: any port, learned from
  /// the first datagram); `who`: whose datagrams the access rules check
  /// (those they block are dropped and counted); `idle`: touched on traffic.
  udp_relay(loop_context& ctx, idle_node& idle, ip_endpoint expect,
            rule_subject who);
  ~udp_relay();

  udp_relay(const udp_relay&) = delete;
  udp_relay& operator=(const udp_relay&) = delete;

  /// Opens the client-facing socket on `local` (any port) and the outgoing
  /// sockets under `profile` (null: none; a family it refuses gets no
  /// socket, and datagrams to it are dropped). Returns the client-facing
  /// address, or nothing (errno set).
  std::optional<ip_endpoint> open(ip_endpoint local, const outbound_profile* profile);

  /// Datagrams of `user` (null: none) count in its totals, and those over
  /// its bandwidth are dropped (counted): a datagram cannot wait the way a
  /// stream's reads do, so UDP is policed, not paced.
  void set_user(account* user) {
    user_ = user;
  }

  /// Datagrams flow from now on.
  void start();

  /// Closes the sockets (the control connection ended).
  void close();

  /// Bytes relayed each way.
  uint64_t bytes_up() const {
    return up_;
  }
  uint64_t bytes_down() const {
    return down_;
  }

  /// Where the client sends from (as expected before its first datagram).
  const ip_endpoint& expected() const {
    return expect_;
  }

private:
  struct udp_socket final : io_handler {
    udp_relay* owner = nullptr;
    int fd = -1;
    bool rd = false;
    void on_io(uint32_t events) override;
  };

  struct waiting {
    std::string domain;
    uint16_t port;
    std::vector<uint8_t> payload;
  };

  bool open_socket(udp_socket& s, const ip_endpoint& addr);
  /// The outgoing socket of a family under `p`; false with errno set.
  bool open_outgoing(udp_socket& s, bool v6, const outbound_profile* p);
  void service();
  void from_client();
  void from_targets(udp_socket& out);
  bool from_expected_client(const ip_endpoint& src) const;
  /// `name`: the destination's name, when the client gave one.
  void send_to(const ip_endpoint& to, const uint8_t* data, size_t n,
               std::string_view name = {});
  /// True when the rules block a datagram to `name`/`to` (counted).
  bool blocked(std::string_view name, const ip_endpoint* to, uint16_t port);
  void to_name(const std::string& domain, uint16_t port, const uint8_t* data,
               size_t n);
  void on_resolved(const std::string& domain, const resolve_result& res);
  void touch();
  /// True when `bucket` has no room for `n` bytes now (the datagram is
  /// dropped and counted).
  bool over_bandwidth(rate_bucket& bucket, size_t n);

  loop_context& ctx_;
  idle_node& idle_;
  udp_socket client_;
  udp_socket out4_;
  udp_socket out6_;
  ip_endpoint expect_;
  ip_endpoint client_addr_;
  bool client_known_ = false;
  bool started_ = false;
  rule_subject who_;
  std::map<std::string, ip_endpoint> names_;
  std::deque<waiting> queue_;
  std::set<std::string> resolving_;
  uint64_t up_ = 0;
  uint64_t down_ = 0;
  account* user_ = nullptr;
};

} // namespace px::net
