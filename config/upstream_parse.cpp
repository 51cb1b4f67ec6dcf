#include "config/upstream_parse.hpp"

#include <algorithm>
#include <sstream>

namespace px::config {

namespace {

using error = std::optional<std::string>;

/// The words of `text`, split at blanks.
std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in{text};
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

error check_name(const std::string& name) {
  if (!valid_group_name(name) || name.find(':') != std::string::npos)
    return "'" + shown(name) + "' is not a name (like a group name, without ':')";
  if (name == "direct")
    return std::string{"'direct' is reserved (it means no parent)"};
  return std::nullopt;
}

bool defines(const proxy_config& cfg, const std::string& name) {
  return std::any_of(cfg.parents.begin(), cfg.parents.end(),
                     [&](const net::parent_proxy& p) { return p.name == name; })
         || std::any_of(cfg.parent_groups.begin(), cfg.parent_groups.end(),
                        [&](const net::parent_group& g) { return g.name == name; });
}

/// `via` names a parent, a group or `direct`.
bool known_via(const proxy_config& cfg, const std::string& via) {
  return via == "direct" || defines(cfg, via);
}

std::string unknown(const std::string& via) {
  return "via '" + via + "' names no parent or group of [upstream]";
}

std::string also_profile(const std::string& name) {
  return "'" + name + "' is also the name of [outbound." + name
         + "] (a rule's via= could mean either)";
}

/// A rule's `via` and `outbound` name something.
std::optional<line_error> check_rule_names(const proxy_config& cfg, const net::rule& r) {
  if (!r.via.empty() && !known_via(cfg, r.via) && cfg.outbound.named.count(r.via) == 0)
    return line_error{r.line, "rule", unknown(r.via) + " nor an [outbound.NAME] profile"};
  if (!r.outbound.empty() && cfg.outbound.named.count(r.outbound) == 0)
    return line_error{r.line, "rule", "outbound '" + r.outbound + "' names no [outbound."
                                        + r.outbound + "] section"};
  return std::nullopt;
}

/// Names defined twice, and groups of unknown parents.
std::optional<line_error> check_definitions(const proxy_config& cfg) {
  std::vector<std::string> seen;
  for (auto& p : cfg.parents) {
    if (std::find(seen.begin(), seen.end(), p.name) != seen.end())
      return line_error{p.line, "parent", "'" + p.name + "' is defined twice"};
    if (cfg.outbound.named.count(p.name) != 0)
      return line_error{p.line, "parent", also_profile(p.name)};
    seen.push_back(p.name);
  }
  for (auto& g : cfg.parent_groups) {
    if (std::find(seen.begin(), seen.end(), g.name) != seen.end())
      return line_error{g.line, "group", "'" + g.name + "' is defined twice"};
    if (cfg.outbound.named.count(g.name) != 0)
      return line_error{g.line, "group", also_profile(g.name)};
    seen.push_back(g.name);
    for (auto& m : g.members)
      if (std::none_of(cfg.parents.begin(), cfg.parents.end(),
                       [&](const net::parent_proxy& p) { return p.name == m; }))
        return line_error{g.line, "group", "'" + m + "' is not a parent defined above"};
  }
  return std::nullopt;
}

} // namespace

error parse_parent(const std::string& text, net::parent_proxy& out) {
  auto w = words_of(text);
  if (w.size() != 2)
    return std::string{"expected NAME socks5://[USER:PASS@]IP:PORT or NAME http://..."};
  if (auto err = check_name(w[0]))
    return err;
  out = net::parent_proxy{};
  out.name = w[0];
  return net::parse_parent_url(w[1], out);
}

error parse_parent_group(const std::string& text, net::parent_group& out) {
  auto w = words_of(text);
  if (w.size() != 2)
    return std::string{"expected NAME PARENT1,PARENT2,..."};
  if (auto err = check_name(w[0]))
    return err;
  out = net::parent_group{};
  out.name = w[0];
  std::istringstream in{w[1]};
  for (std::string m; std::getline(in, m, ',');) {
    if (auto err = check_name(m))
      return err;
    out.members.push_back(m);
  }
  if (out.members.empty() || w[1].back() == ',')
    return std::string{"a group lists at least one parent (PARENT1,PARENT2,...)"};
  return std::nullopt;
}

error parse_via_name(const std::string& text, std::string& out) {
  if (text != "direct")
    if (auto err = check_name(text))
      return err;
  out = text;
  return std::nullopt;
}

std::optional<line_error> check_upstream(const proxy_config& cfg) {
  if (auto err = check_definitions(cfg))
    return err;
  if (!cfg.upstream_default.empty() && !known_via(cfg, cfg.upstream_default))
    return line_error{cfg.upstream_default_line, "default", unknown(cfg.upstream_default)};
  for (auto& r : cfg.rules)
    if (auto err = check_rule_names(cfg, r))
      return err;
  return std::nullopt;
}

std::optional<std::string> check_user_vias(const proxy_config& cfg,
                                           const std::vector<user_entry>& users,
                                           const std::string& path) {
  for (auto& u : users)
    if (!u.via.empty() && !known_via(cfg, u.via))
      return path + ": user '" + u.name + "': " + unknown(u.via);
  return std::nullopt;
}

std::shared_ptr<const net::upstream_set> compile_upstream(const proxy_config& cfg) {
  if (cfg.parents.empty())
    return nullptr;
  auto def = cfg.upstream_default == "direct" ? std::string{} : cfg.upstream_default;
  return std::make_shared<const net::upstream_set>(cfg.parents, cfg.parent_groups,
                                                   std::move(def));
}

} // namespace px::config
