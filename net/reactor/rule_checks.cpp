#include "net/reactor/rule_checks.hpp"

#include <algorithm>

namespace px::net {

rule_command rule_command_of(socks5::command cmd) {
  switch (cmd) {
    case socks5::command::connect:
      return cmd_connect;
    case socks5::command::bind:
      return cmd_bind;
    case socks5::command::udp_associate:
      return cmd_udp;
  }
  return cmd_connect;
}

void count_rule_block(traffic_counts& counts, rule_command cmd) {
  switch (cmd) {
    case cmd_connect:
      ++counts.rule_blocks_connect;
      return;
    case cmd_bind:
      ++counts.rule_blocks_bind;
      return;
    case cmd_udp:
      ++counts.rule_blocks_udp;
      return;
  }
}

namespace {

/// What the rules see of `req` before DNS: a CONNECT's destination and
/// port; the host a BIND expects (its port means nothing yet; a name or
/// 0.0.0.0 is decided when the peer connects); of a UDP ASSOCIATE nothing
/// but the command (its DST is the client's own address; each datagram is
/// checked).
rule_query request_query(const rule_subject& who, const socks5::request& req) {
  auto cmd = rule_command_of(req.cmd);
  auto q = who.query(cmd);
  auto& dst = req.dst;
  if (cmd == cmd_connect) {
    q.port = dst.port();
    q.port_known = true;
    if (dst.type == socks5::atyp::domain)
      q.name = dst.domain;
    else
      q.address = &dst.ip;
  } else if (cmd == cmd_bind) {
    if (dst.type == socks5::atyp::domain)
      q.name = dst.domain;
    else if (!dst.ip.is_unspecified())
      q.address = &dst.ip;
  }
  return q;
}

} // namespace

const rule* routing_rule(const rule_subject& who, const socks5::request& req) {
  if (!who.rules || who.rules->trivial())
    return nullptr;
  return who.rules->first_sure_match(request_query(who, req));
}

bool request_blocked(const rule_subject& who, const socks5::request& req,
                     traffic_counts& counts) {
  if (!who.rules || who.rules->trivial())
    return false;
  auto cmd = rule_command_of(req.cmd);
  auto q = request_query(who, req);
  if (who.rules->check(q).kind != rule_verdict::block)
    return false;
  count_rule_block(counts, cmd);
  return true;
}

bool drop_blocked(const rule_subject& who, std::string_view name,
                  std::vector<ip_endpoint>& addrs) {
  if (!who.rules || who.rules->trivial())
    return false;
  auto q = who.query(cmd_connect);
  q.name = name;
  q.port_known = true;
  auto blocked = [&](const ip_endpoint& ep) {
    q.address = &ep;
    q.port = ep.port;
    return who.rules->check(q).kind == rule_verdict::block;
  };
  addrs.erase(std::remove_if(addrs.begin(), addrs.end(), blocked), addrs.end());
  return addrs.empty();
}

bool bind_peer_blocked(const rule_subject& who, const ip_endpoint& peer,
                       traffic_counts& counts) {
  if (!who.rules || who.rules->trivial())
    return false;
  auto q = who.query(cmd_bind);
  q.address = &peer;
  q.port = peer.port;
  q.port_known = true;
  if (who.rules->check(q).kind != rule_verdict::block)
    return false;
  count_rule_block(counts, cmd_bind);
  return true;
}

} // namespace px::net
