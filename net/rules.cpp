#include "net/rules.hpp"

#include <algorithm>

#include "net/log.hpp"

namespace px::net {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// `name` ends with `suffix` (lower case), ignoring case.
bool ends_with(std::string_view name, std::string_view suffix) {
  if (name.size() < suffix.size())
    return false;
  auto tail = name.substr(name.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(),
                    [](char a, char b) { return lower(a) == b; });
}

/// Whether a condition holds: yes, no, or unknown (the query lacks it).
enum class tri : uint8_t { yes, no, unknown };

/// `dst`: the query's address made canonical (null: not known).
tri destination_holds(const rule& r, const rule_query& q, const ip_endpoint* dst) {
  if (r.dest_nets.empty() && r.dest_names.empty())
    return tri::yes;
  if (!q.name.empty()
      && std::any_of(r.dest_names.begin(), r.dest_names.end(),
                     [&](const name_pattern& p) { return p.matches(q.name); }))
    return tri::yes;
  if (r.dest_nets.empty())
    return tri::no; // names only, and none matches (or no name)
  if (dst == nullptr)
    return tri::unknown;
  return std::any_of(r.dest_nets.begin(), r.dest_nets.end(),
                     [&](const cidr& b) { return b.contains(*dst); })
           ? tri::yes
           : tri::no;
}

tri port_holds(const rule& r, const rule_query& q) {
  if (r.ports.empty())
    return tri::yes;
  if (!q.port_known)
    return tri::unknown;
  return std::any_of(r.ports.begin(), r.ports.end(),
                     [&](const port_range& p) {
                       return q.port >= p.lo && q.port <= p.hi;
                     })
           ? tri::yes
           : tri::no;
}

/// True when an authenticated user of `q` is in one of `groups`.
bool in_any_group(const std::vector<std::string>& groups, const rule_query& q) {
  if (q.user.empty() || q.groups == nullptr)
    return false;
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(q.groups->begin(), q.groups->end(), g) != q.groups->end();
  });
}

/// The conditions that a query always knows.
bool subject_holds(const rule& r, const rule_query& q) {
  if (r.commands != 0 && (r.commands & q.command) == 0)
    return false;
  if (!r.clients.empty()
      && std::none_of(r.clients.begin(), r.clients.end(),
                      [&](const cidr& b) { return b.contains(q.client); }))
    return false;
  if (!r.users.empty()
      && (q.user.empty()
          || std::none_of(r.users.begin(), r.users.end(),
                          [&](const std::string& u) { return u == q.user; })))
    return false;
  if (!r.groups.empty() && !in_any_group(r.groups, q))
    return false;
  return true;
}

std::string block_string(const cidr& b) {
  return b.base.host_string() + "/" + std::to_string(b.prefix);
}

template <class T, class F>
std::string joined(const std::vector<T>& items, F show) {
  std::string out;
  for (auto& x : items)
    out += (out.empty() ? "" : ",") + show(x);
  return out;
}

} // namespace

const char* to_string(rule_command x) {
  switch (x) {
    case cmd_connect:
      return "connect";
    case cmd_bind:
      return "bind";
    case cmd_udp:
      return "udp";
  }
  return "unknown";
}

bool name_pattern::matches(std::string_view name) const {
  if (!name.empty() && name.back() == '.')
    name.remove_suffix(1);
  if (below)
    return name.size() > text.size() && ends_with(name, text);
  if (self_and_below) {
    if (name.size() == text.size() - 1)
      return ends_with(name, std::string_view{text}.substr(1));
    return ends_with(name, text);
  }
  return name.size() == text.size() && ends_with(name, text);
}

bool operator==(const rule& x, const rule& y) {
  return x.line == y.line && x.action == y.action && x.log == y.log
         && x.commands == y.commands && x.clients == y.clients
         && x.users == y.users && x.groups == y.groups && x.dest_nets == y.dest_nets
         && x.dest_names == y.dest_names && x.ports == y.ports && x.via == y.via
         && x.outbound == y.outbound;
}

std::string to_string(const rule& r) {
  std::string out = r.action == rule_action::pass ? "pass" : "block";
  if (r.commands != 0) {
    std::string cmds;
    for (auto c : {cmd_connect, cmd_bind, cmd_udp})
      if (r.commands & c)
        cmds += (cmds.empty() ? "" : ",") + std::string{to_string(c)};
    out += " command=" + cmds;
  }
  if (!r.clients.empty())
    out += " client=" + joined(r.clients, block_string);
  if (!r.users.empty())
    out += " user=" + joined(r.users, [](const std::string& u) { return u; });
  if (!r.groups.empty())
    out += " group=" + joined(r.groups, [](const std::string& g) { return g; });
  if (!r.dest_nets.empty() || !r.dest_names.empty()) {
    auto names = joined(r.dest_names, [](const name_pattern& p) {
      return (p.below ? "*" : "") + p.text;
    });
    auto nets = joined(r.dest_nets, block_string);
    out += " dest=" + nets + (nets.empty() || names.empty() ? "" : ",") + names;
  }
  if (!r.ports.empty())
    out += " port=" + joined(r.ports, [](const port_range& p) {
             return p.lo == p.hi ? std::to_string(p.lo)
                                 : std::to_string(p.lo) + "-" + std::to_string(p.hi);
           });
  if (!r.via.empty())
    out += " via=" + r.via;
  if (!r.outbound.empty())
    out += " outbound=" + r.outbound;
  if (r.log)
    out += " log";
  return out;
}

rule_set::rule_set(std::vector<cidr> deny, std::vector<rule> rules,
                   rule_action fallback)
  : fallback_(fallback) {
  rules_.reserve(deny.size() + rules.size());
  for (auto& block : deny) {
    rule r;
    r.action = rule_action::block;
    r.dest_nets.push_back(block);
    rules_.push_back(std::move(r));
  }
  for (auto& r : rules)
    rules_.push_back(std::move(r));
}

rule_verdict rule_set::check(const rule_query& q) const {
  // Rules that need what the query lacks might match or not: the first
  // rule that surely matches (or the default) decides only when every such
  // rule before it has the same action; otherwise the check is undecided.
  bool maybe_pass = false;
  bool maybe_block = false;
  int first_unsure = -1;
  // What a connection reaches (0.0.0.0 is the local host), computed once.
  ip_endpoint canonical;
  if (q.address != nullptr)
    canonical = canonical_destination(*q.address);
  auto dst = q.address != nullptr ? &canonical : nullptr;
  auto decide = [&](rule_action a, int index) -> rule_verdict {
    if (a == rule_action::pass ? maybe_block : maybe_pass)
      return {rule_verdict::undecided, first_unsure};
    return {a == rule_action::pass ? rule_verdict::pass : rule_verdict::block, index};
  };
  for (size_t i = 0; i < rules_.size(); ++i) {
    auto& r = rules_[i];
    if (!subject_holds(r, q))
      continue;
    auto dest = destination_holds(r, q, dst);
    auto port = port_holds(r, q);
    if (dest == tri::no || port == tri::no)
      continue;
    if (dest == tri::unknown || port == tri::unknown) {
      (r.action == rule_action::pass ? maybe_pass : maybe_block) = true;
      if (first_unsure < 0)
        first_unsure = static_cast<int>(i);
      continue;
    }
    auto v = decide(r.action, static_cast<int>(i));
    if (r.log && v.kind != rule_verdict::undecided)
      log_match(r, v.index, q);
    return v;
  }
  return decide(fallback_, -1);
}

const rule* rule_set::first_sure_match(const rule_query& q) const {
  ip_endpoint canonical;
  if (q.address != nullptr)
    canonical = canonical_destination(*q.address);
  auto dst = q.address != nullptr ? &canonical : nullptr;
  for (auto& r : rules_) {
    if (!subject_holds(r, q) || destination_holds(r, q, dst) != tri::yes
        || port_holds(r, q) != tri::yes)
      continue;
    return r.action == rule_action::pass ? &r : nullptr;
  }
  return nullptr;
}

void rule_set::log_match(const rule& r, int index, const rule_query& q) const {
  if (!log::enabled(log::level::info))
    return;
  std::string dest = q.name.empty() ? std::string{} : log::escape(q.name);
  if (q.address != nullptr)
    dest += (dest.empty() ? "" : " ") + q.address->host_string();
  if (q.port_known)
    dest += " port " + std::to_string(q.port);
  log::line(log::level::info,
            "rule " + std::to_string(index + 1)
              + (r.line > 0 ? " (line " + std::to_string(r.line) + ")" : "")
              + (r.action == rule_action::pass ? " passes " : " blocks ")
              + to_string(q.command) + " from " + q.client.host_string()
              + (q.user.empty() ? "" : " user '" + log::escape(q.user) + "'")
              + " to " + (dest.empty() ? "-" : dest));
}

std::string rule_set::describe() const {
  std::string out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    auto& r = rules_[i];
    out += "rule " + std::to_string(i + 1) + ": " + to_string(r)
           + (r.line > 0 ? "  (line " + std::to_string(r.line) + ")"
                         : "  (deny_destination)")
           + "\n";
  }
  out += std::string{"default: "}
         + (fallback_ == rule_action::pass ? "pass" : "block") + "\n";
  return out;
}

} // namespace px::net
