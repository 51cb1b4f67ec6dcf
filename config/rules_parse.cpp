#include "config/rules_parse.hpp"

#include <sstream>
#include <vector>

#include "config/ini.hpp"
#include "config/users.hpp"

namespace px::config {

namespace {

using error = std::optional<std::string>;

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{text};
  while (std::getline(in, item, sep))
    out.push_back(item);
  if (!text.empty() && text.back() == sep)
    out.emplace_back();
  return out;
}

error bad(const std::string& item, const std::string& what) {
  return "'" + shown(item) + "' is not " + what;
}

error parse_command(const std::string& item, net::rule& r) {
  if (item == "connect")
    r.commands |= net::cmd_connect;
  else if (item == "bind")
    r.commands |= net::cmd_bind;
  else if (item == "udp")
    r.commands |= net::cmd_udp;
  else
    return bad(item, "a command (connect, bind, udp)");
  return std::nullopt;
}

error parse_client(const std::string& item, net::rule& r) {
  auto block = net::cidr::parse(item);
  if (!block)
    return bad(item, "an address block (e.g. 10.0.0.0/8)");
  r.clients.push_back(*block);
  return std::nullopt;
}

error parse_user(const std::string& item, net::rule& r) {
  // RFC 1929 names are 1 to 255 bytes; ',' and blanks separate words here.
  if (item.empty() || item.size() > 255)
    return bad(item, "a user name");
  r.users.push_back(item);
  return std::nullopt;
}

error parse_group(const std::string& item, net::rule& r) {
  if (!valid_group_name(item))
    return bad(item, "a group name (like a user name, without ',' or '=')");
  r.groups.push_back(item);
  return std::nullopt;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '-' || c == '_' || c == '.';
}

error parse_dest(const std::string& item, net::rule& r) {
  if (auto block = net::cidr::parse(item)) {
    r.dest_nets.push_back(*block);
    return std::nullopt;
  }
  net::name_pattern p;
  std::string name = item;
  if (name.rfind("*.", 0) == 0) {
    p.below = true;
    name.erase(0, 1);
  } else if (!name.empty() && name.front() == '.') {
    p.self_and_below = true;
  }
  bool ok = name.size() > (p.below || p.self_and_below ? 1u : 0u) && name.size() <= 255
            && name.find("..") == std::string::npos;
  for (auto& c : name) {
    ok = ok && name_char(c);
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  if (!ok)
    return bad(item, "an address block or a name (host, *.suffix or .suffix)");
  if (name.back() == '.')
    name.pop_back();
  // "10.1.2.3." would print back as an address: write the address.
  if (name.empty() || name == "." || net::cidr::parse(name))
    return bad(item, "an address block or a name (host, *.suffix or .suffix)");
  p.text = std::move(name);
  r.dest_names.push_back(std::move(p));
  return std::nullopt;
}

error parse_port(const std::string& item, net::rule& r) {
  auto dash = item.find('-');
  auto lo = net::parse_decimal(item.substr(0, dash));
  auto hi = dash == std::string::npos ? lo : net::parse_decimal(item.substr(dash + 1));
  if (!lo || !hi || *lo > 65535 || *hi > 65535 || *lo > *hi)
    return bad(item, "a port or a range (e.g. 25, 6000-6063)");
  r.ports.push_back({static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)});
  return std::nullopt;
}

/// A parent or group name (the `[upstream]` section checks it exists).
error parse_via(const std::string& item, net::rule& r) {
  if (!valid_group_name(item))
    return bad(item, "a parent or group name of [upstream] (or direct)");
  if (!r.via.empty())
    return std::string{"takes one name"};
  r.via = item;
  return std::nullopt;
}

/// An outbound profile name (the config checks `[outbound.NAME]` exists).
error parse_outbound(const std::string& item, net::rule& r) {
  if (!valid_profile_name(item))
    return bad(item, "a profile name of [outbound.NAME]");
  if (!r.outbound.empty())
    return std::string{"takes one name"};
  r.outbound = item;
  return std::nullopt;
}

using item_parser = error (*)(const std::string&, net::rule&);

/// The parser of condition `key`, or nullptr.
item_parser parser_of(const std::string& key) {
  if (key == "command")
    return parse_command;
  if (key == "client")
    return parse_client;
  if (key == "user")
    return parse_user;
  if (key == "group")
    return parse_group;
  if (key == "dest")
    return parse_dest;
  if (key == "port")
    return parse_port;
  if (key == "via")
    return parse_via;
  if (key == "outbound")
    return parse_outbound;
  return nullptr;
}

/// One `key=LIST` word.
error parse_condition(const std::string& word, net::rule& r) {
  auto eq = word.find('=');
  if (eq == std::string::npos)
    return "unexpected word '" + shown(word)
           + "' (conditions are key=value; a rule ends with an optional 'log')";
  auto key = word.substr(0, eq);
  auto parse = parser_of(key);
  if (parse == nullptr)
    return "unknown condition '" + shown(key)
           + "' (known: command, client, user, group, dest, port, via, outbound)";
  auto value = word.substr(eq + 1);
  if (value.empty())
    return "condition '" + key + "' has no value";
  for (auto& item : split(value, ','))
    if (auto err = parse(item, r))
      return key + ": " + *err;
  return std::nullopt;
}

} // namespace

std::optional<std::string> parse_rule(const std::string& text, net::rule& out) {
  std::istringstream in{text};
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  if (words.empty() || (words[0] != "pass" && words[0] != "block"))
    return std::string{"a rule starts with pass or block"};
  out = net::rule{};
  out.action = words[0] == "pass" ? net::rule_action::pass : net::rule_action::block;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "log") {
      if (i + 1 != words.size())
        return std::string{"'log' must be the last word of a rule"};
      out.log = true;
      continue;
    }
    auto key = words[i].substr(0, words[i].find('='));
    for (size_t j = 1; j < i; ++j)
      if (words[j].substr(0, words[j].find('=')) == key)
        return "condition '" + shown(key) + "' given twice (use a list: a,b)";
    if (auto err = parse_condition(words[i], out))
      return err;
  }
  if ((!out.via.empty() || !out.outbound.empty()) && out.action != net::rule_action::pass)
    return std::string{"only a pass rule takes via= or outbound="};
  return std::nullopt;
}

} // namespace px::config
