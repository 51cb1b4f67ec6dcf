// Access rules: an ordered list of pass/block rules, first match wins, with
// a default. The config parser (config/rules_parse.hpp) builds them from the
// `[rules]` section; the settings actor compiles them once into an
// immutable rule_set that the acceptor publishes with its handshake plan;
// the reactor evaluates it on its loop threads (a CONNECT's request and each
// resolved address, a BIND's request and its peer, every UDP datagram),
// without a message per connection and without allocating.
//
// A check may not know everything yet: before DNS, a name's address is
// unknown; a UDP ASSOCIATE names no destination at all. A rule whose known
// conditions match while a condition it needs is unknown may or may not
// match: the first rule that surely matches (or the default) still decides
// when every such rule before it has the same action (a name blocked
// whatever its address needs no DNS); otherwise the check is `undecided`,
// and the caller goes on and checks again once it knows more (every
// resolved address, every datagram).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace px::net {

/// What a rule does with what it matches.
enum class rule_action : uint8_t {
  /// Let it through.
  pass,
  /// Refuse it (REP 0x02; a UDP datagram is dropped).
  block,
};

/// Commands as bits of rule::commands.
enum rule_command : uint8_t {
  /// CONNECT.
  cmd_connect = 1,
  /// BIND (the request, then the peer that connects).
  cmd_bind = 2,
  /// UDP ASSOCIATE (the request, then every datagram).
  cmd_udp = 4,
};

/// "connect", "bind" or "udp" (for metrics labels and logs).
const char* to_string(rule_command x);

/// A destination name pattern (lower case).
struct name_pattern {
  /// The name, or the suffix without its leading "*" ("*.example.com" is
  /// ".example.com") or with its leading "." (Dante's ".example.com").
  std::string text;
  /// `*.suffix`: only names below the suffix.
  bool below = false;
  /// `.suffix`: the name itself and every name below it.
  bool self_and_below = false;

  /// True when `name` (any case, one trailing dot ignored) matches.
  bool matches(std::string_view name) const;

  friend bool operator==(const name_pattern& x, const name_pattern& y) {
    return x.text == y.text && x.below == y.below
           && x.self_and_below == y.self_and_below;
  }
};

/// An inclusive port range.
struct port_range {
  uint16_t lo = 0;
  uint16_t hi = 65535;

  friend bool operator==(const port_range& x, const port_range& y) {
    return x.lo == y.lo && x.hi == y.hi;
  }
};

/// One rule. Every condition present must hold; a list holds when any of
/// its items does; an absent condition holds always.
struct rule {
  /// Where the rule was written (file line; 0: made from a shorthand key).
  int line = 0;
  rule_action action = rule_action::pass;
  /// Log every match (one info line on the loop thread).
  bool log = false;
  /// rule_command bits; 0: any command.
  uint8_t commands = 0;
  /// Client address blocks (`client=`).
  std::vector<cidr> clients;
  /// User names (`user=`), exact and case-sensitive.
  std::vector<std::string> users;
  /// Groups of users (`group=`), exact and case-sensitive: the rule holds
  /// for an authenticated user in any of them.
  std::vector<std::string> groups;
  /// Destination address blocks (`dest=` items that are addresses).
  std::vector<cidr> dest_nets;
  /// Destination names (`dest=` items that are names).
  std::vector<name_pattern> dest_names;
  /// Destination ports (`port=`).
  std::vector<port_range> ports;
  /// A pass rule's parent proxy or group for a CONNECT (`via=NAME`, see
  /// net/upstream.hpp; "direct": none; empty: the user's or the default).
  std::string via;
  /// A pass rule's outbound profile (`outbound=NAME` of `[outbound.NAME]`,
  /// or a `via=` naming a profile rather than a parent): what the request
  /// leaves under (empty: the user's or the default profile).
  std::string outbound;

  friend bool operator==(const rule& x, const rule& y);
};

/// The rule as `proxy --check` prints it (the syntax it was parsed from).
std::string to_string(const rule& r);

/// What a check knows about one request, datagram or peer. Views only: a
/// check copies nothing.
struct rule_query {
  rule_command command = cmd_connect;
  /// The client's address.
  ip_endpoint client;
  /// The authenticated user (empty: none).
  std::string_view user;
  /// The authenticated user's groups (null or empty: none).
  const std::vector<std::string>* groups = nullptr;
  /// The destination name (empty: an address was given).
  std::string_view name;
  /// The destination address (null: not known yet).
  const ip_endpoint* address = nullptr;
  /// The destination port (with `port_known`).
  uint16_t port = 0;
  bool port_known = true;
};

/// The outcome of a check.
struct rule_verdict {
  enum kind_t : uint8_t {
    /// Let it through.
    pass,
    /// Refuse it.
    block,
    /// A rule needs what the query does not know yet: check again later.
    undecided,
  };
  kind_t kind = pass;
  /// The 0-based index of the rule that decided, or (undecided) of the
  /// first rule that could not; -1: the default.
  int index = -1;
};

/// The compiled rules: immutable once built, shared by every loop thread.
class rule_set {
public:
  /// `deny` (the `deny_destination` shorthand) become block rules in front
  /// of `rules`; `fallback` applies when no rule matches.
  rule_set(std::vector<cidr> deny, std::vector<rule> rules, rule_action fallback);

  /// First match wins. Never allocates; logs a match of a `log` rule.
  rule_verdict check(const rule_query& q) const;

  /// The first rule that surely matches `q` when it is a pass rule (null
  /// when none does, or a block rule does first); rules that need what
  /// `q` lacks are skipped. For a pass rule's `via`.
  const rule* first_sure_match(const rule_query& q) const;

  /// The rules in order (the shorthand ones first).
  const std::vector<rule>& rules() const {
    return rules_;
  }

  rule_action fallback() const {
    return fallback_;
  }

  /// True when no rule exists and the default passes (nothing to check).
  bool trivial() const {
    return rules_.empty() && fallback_ == rule_action::pass;
  }

  /// One line per rule, then the default, as `proxy --check` prints them.
  std::string describe() const;

private:
  void log_match(const rule& r, int index, const rule_query& q) const;

  std::vector<rule> rules_;
  rule_action fallback_;
};

/// The rules a connection's checks need: the set and who is asking.
struct rule_subject {
  std::shared_ptr<const rule_set> rules;
  ip_endpoint client;
  std::string user;
  /// The user's groups (the users file's `group=`).
  std::vector<std::string> groups;

  /// A query for `command` from this subject (destination unknown); it
  /// points into this subject.
  rule_query query(rule_command command) const {
    rule_query q;
    q.command = command;
    q.client = client;
    q.user = user;
    q.groups = &groups;
    q.port_known = false;
    return q;
  }

  /// True when `q` is blocked (no rules: never).
  bool blocks(const rule_query& q) const {
    return rules && rules->check(q).kind == rule_verdict::block;
  }
};

} // namespace px::net
