// The relay of a UDP ASSOCIATE: a socket facing the client and one socket
// per family towards destinations. Datagrams from the client's address
// (RFC 1928 section 7 header, FRAG 0 only) go to their destination, names
// resolved in the loop and remembered; answers come back with a header
// naming their source. Anything else is dropped and counted. It lives as
// long as its TCP control connection; the loop owns that.
//
// Through a parent proxy (udp_relay_via.cpp), the relay has one outgoing
// socket instead, towards the parent's relay: the client's datagrams go
// there whole (the header names the destination; a name stays a name, the
// parent resolves it), and the parent's datagrams, already headed with
// their source, come back to the client whole. The rules and the user's
// bandwidth apply as for a direct association.
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
#include "net/socks5_codec.hpp"
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

  /// Opens the client-facing socket only, on `local` (any port), for an
  /// association through a parent (open_via follows). Returns its address,
  /// or nothing (errno set).
  std::optional<ip_endpoint> open_client(ip_endpoint local);

  /// Opens the socket towards a parent at `parent` (its family) under
  /// `profile`. Returns its address as the parent sees it: `near` (our end
  /// of the control connection to the parent) with the socket's port; or
  /// nothing (errno set).
  std::optional<ip_endpoint> open_via(const ip_endpoint& parent, const ip_endpoint& near,
                                      const outbound_profile* profile);

  /// The parent's relay waits at `relay`: datagrams go there, and only its
  /// datagrams come back.
  void set_parent_relay(const ip_endpoint& relay) {
    relay_ = relay;
  }

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

  /// Where the client sends to (the client-facing socket's address).
  ip_endpoint client_side() const {
    return ip_endpoint::local_of(client_.fd).value_or(ip_endpoint{});
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
  /// Through a parent: the client's datagram `data` (its header `h`,
  /// `head` bytes long) goes whole to the parent's relay.
  void to_parent(const uint8_t* data, size_t n, const socks5::udp_header& h,
                 size_t head);
  void from_parent();
  /// Counts `n` payload bytes relayed (up or down) and touches the idle timer.
  void count(bool up, size_t n);
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
  /// Towards a parent's relay (fd -1: direct).
  udp_socket via_;
  ip_endpoint relay_;
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
