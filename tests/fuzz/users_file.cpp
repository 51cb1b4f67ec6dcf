// Fuzz target: the users file (config::parse_users, with its groups and
// limits after the hash) and roles.
#include <set>
#include <variant>

#include "config/users.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace px;
using namespace px::config;
using namespace px::fuzz;

namespace {

const std::string path = "/fuzz/users.txt";

using users = std::vector<user_entry>;

std::optional<std::string> error_of(const std::string& text) {
  auto res = parse_users(text, path);
  if (auto err = std::get_if<std::string>(&res))
    return *err;
  return std::nullopt;
}

/// Roles survive roles_to_string and parse_roles.
void check_roles(uint8_t roles) {
  FUZZ_CHECK(roles >= 1 && roles <= (role_socks | role_admin));
  auto back = parse_roles(roles_to_string(roles));
  FUZZ_CHECK(back && *back == roles);
}

void check_users(const users& list) {
  std::set<std::string> names;
  for (auto& u : list) {
    FUZZ_CHECK(valid_username(u.name));
    FUZZ_CHECK(names.insert(u.name).second);
    check_roles(u.roles);
    FUZZ_CHECK(!u.hash.empty() && u.hash.front() == '$');
    FUZZ_CHECK(u.hash.find(':') == std::string::npos);
    std::set<std::string> groups;
    for (auto& g : u.groups) {
      FUZZ_CHECK(valid_group_name(g));
      FUZZ_CHECK(groups.insert(g).second);
    }
    FUZZ_CHECK(u.sessions >= -1 && u.sessions <= int64_t{1000000});
    FUZZ_CHECK(u.connect_rate >= -1 && u.connect_rate <= int64_t{1000000});
    FUZZ_CHECK(u.bandwidth_up >= -1 && u.bandwidth_up <= int64_t{1} << 40);
    FUZZ_CHECK(u.bandwidth_down >= -1 && u.bandwidth_down <= int64_t{1} << 40);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto roles = parse_roles(text))
    check_roles(*roles);
  auto res = parse_users(text, path);
  check_line_error(text, path, error_of(text), error_of);
  auto list = std::get_if<users>(&res);
  if (list == nullptr)
    return 0;
  check_users(*list);
  // Round trip: what the proxy writes back (format_users, after a Manager
  // add) reads back as the same users (groups and limits included), and
  // writes back byte for byte.
  auto written = format_users(*list);
  auto back = parse_users(written, path);
  auto again = std::get_if<users>(&back);
  FUZZ_CHECK(again != nullptr && *again == *list);
  FUZZ_CHECK(again != nullptr && format_users(*again) == written);
  return 0;
}
