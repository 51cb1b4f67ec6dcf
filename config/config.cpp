// config::parse in three steps: the tokenizer (config/ini.hpp) turns text
// into numbered lines, each line is applied through the key table
// (config/keys.hpp), and a final cross-check looks at the file as a whole.
#include "config/config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "config/cluster_keys.hpp"
#include "config/ini.hpp"
#include "config/keys.hpp"
#include "config/outbound_keys.hpp"
#include "config/upstream_parse.hpp"

namespace px::config {

namespace {

/// Where [upstream] entries were written (their cross-check names it).
void note_upstream_line(const ini_line& line, proxy_config& cfg) {
  if (line.key == "parent")
    cfg.parents.back().line = line.number;
  else if (line.key == "group")
    cfg.parent_groups.back().line = line.number;
  else if (line.key == "default")
    cfg.upstream_default_line = line.number;
}

/// Step 2: applies every line to `cfg` in file order; the first mistake.
std::optional<line_error> apply_lines(const std::vector<ini_line>& lines,
                                      const std::string& path, proxy_config& cfg) {
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& line : lines) {
    note_cluster_line(line, cfg);
    if (auto name = named_outbound(line.section)) { // [outbound.NAME]
      if (auto err = apply_named_outbound(line, *name, path, cfg, seen))
        return err;
      continue;
    }
    if (line.header) {
      if (!known_section(line.section))
        return line_error{line.number, {},
                          "unknown section [" + line.section + "] (known: "
                            + known_sections() + ", [outbound.NAME])"};
      continue;
    }
    auto key = find_key(line.section, line.key);
    if (key == nullptr)
      return line_error{line.number, line.key,
                        "unknown key in [" + line.section + "]"};
    if (!key->repeatable && !seen.emplace(line.section, line.key).second)
      return line_error{line.number, line.key, "given twice"};
    if (auto what = key->set(line.value, path, cfg))
      return line_error{line.number, line.key, std::move(*what)};
    if (line.section == "rules" && line.key == "rule")
      cfg.rules.back().line = line.number; // --check and logs name it
    if (line.section == "upstream")
      note_upstream_line(line, cfg);
  }
  return std::nullopt;
}

/// Step 3: rules that involve more than one key or a key's absence.
std::optional<std::string> cross_check(const proxy_config& cfg) {
  if (cfg.listen.empty())
    return "[socks] needs at least one 'listen = ADDRESS:PORT'";
  if (cfg.auth != auth_mode::none && cfg.users_file.empty())
    return "[socks] 'users_file' is required unless 'auth = none'";
  return std::nullopt;
}

} // namespace

std::variant<proxy_config, std::string> parse(const std::string& text,
                                              const std::string& path) {
  proxy_config cfg;
  cfg.path = path;
  auto file = tokenize(text); // step 1
  if (auto err = apply_lines(file.lines, path, cfg))
    return to_string(*err, path);
  if (file.error)
    return to_string(*file.error, path);
  if (auto what = cross_check(cfg))
    return to_string(line_error{0, {}, std::move(*what)}, path);
  if (auto err = check_upstream(cfg))
    return to_string(*err, path);
  if (auto err = check_cluster(cfg))
    return to_string(*err, path);
  return cfg;
}

std::variant<proxy_config, std::string> load(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return path + ": cannot open config file";
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return path + ": cannot read config file";
  return parse(ss.str(), path);
}

} // namespace px::config
