// The reactor's access-rule checks (net/rules.hpp), one per moment a rule
// can decide: the request (before DNS), each resolved address of a CONNECT,
// the peer of a BIND, and each datagram of a UDP association (udp_relay).
// They count every block in the loop's traffic counters.
#pragma once

#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/rules.hpp"
#include "net/socks5_codec.hpp"

namespace px::net {

/// The rule command of a SOCKS command.
rule_command rule_command_of(socks5::command cmd);

/// Counts one block of `cmd` in `counts`.
void count_rule_block(traffic_counts& counts, rule_command cmd);

/// True when the rules block `req` from `who` as far as it is known before
/// DNS (a CONNECT to a name, a BIND or UDP ASSOCIATE may be decided later);
/// counted.
bool request_blocked(const rule_subject& who, const socks5::request& req,
                     traffic_counts& counts);

/// The first pass rule that surely matches `req` from `who` as far as it
/// is known before DNS (null: none, or a block rule first): its `via=` and
/// `outbound=` route the request.
const rule* routing_rule(const rule_subject& who, const socks5::request& req);

/// Drops from `addrs` (canonical) the addresses the rules block for a
/// CONNECT to `name` (empty: an address was given); true when none is left
/// (the connector counts the block when the request fails for it).
bool drop_blocked(const rule_subject& who, std::string_view name,
                  std::vector<ip_endpoint>& addrs);

/// True when the rules block the BIND peer `peer`; counted.
bool bind_peer_blocked(const rule_subject& who, const ip_endpoint& peer,
                       traffic_counts& counts);

} // namespace px::net
