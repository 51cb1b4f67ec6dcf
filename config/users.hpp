// The users file: one user per line, `name:roles:hash`, where roles is a
// comma-separated subset of {socks, admin} and hash is a crypt(5) string
// (yescrypt by default). '#' starts a comment line. Passwords never appear
// in clear text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace px::config {

/// Role bits of a user.
enum role : uint8_t {
  role_socks = 0x01,
  role_admin = 0x02,
};

/// One line of the users file.
struct user_entry {
  /// 1 to 255 bytes of printable ASCII without ':' or spaces.
  std::string name;
  /// Bitwise OR of `role` values (at least one).
  uint8_t roles = role_socks;
  /// crypt(5) hash of the password.
  std::string hash;
  /// Groups (the rules' `group=`), in file order, no duplicates.
  std::vector<std::string> groups;
  /// Per-user overrides of the [limits] defaults (-1: the default; 0: no limit).
  int64_t sessions = -1;
  int64_t connect_rate = -1;
  int64_t bandwidth_up = -1;
  int64_t bandwidth_down = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_entry& x) {
  return f(x.name, x.roles, x.hash);
}

/// True when `name` can be stored in the users file.
bool valid_username(std::string_view name);

/// True when `password` can be hashed (1 to 255 bytes, no NUL).
bool valid_password(std::string_view password);

/// "socks", "admin" or "socks,admin".
std::string roles_to_string(uint8_t roles);

/// Parses "socks", "admin", "socks,admin"; nullopt when invalid or empty.
std::optional<uint8_t> parse_roles(std::string_view text);

/// Parses a users file; an error names the file and the line.
std::variant<std::vector<user_entry>, std::string>
parse_users(const std::string& text, const std::string& path);

/// Reads and parses a users file.
std::variant<std::vector<user_entry>, std::string>
load_users(const std::string& path);

/// Serializes users, one `name:roles:hash` line each.
std::string format_users(const std::vector<user_entry>& users);

/// Hashes a password with yescrypt and a fresh random salt. Slow by design
/// (tens of milliseconds): never call it on an actor or reactor thread.
std::optional<std::string> hash_password(std::string_view password);

/// Checks a password against a crypt(5) hash. Slow by design, as above.
bool verify_password(std::string_view password, const std::string& hash);

/// Writes `contents` to `path` atomically and durably: temporary file in the
/// same folder, fsync, rename, fsync of the folder. Returns an error text.
std::optional<std::string> write_file_atomically(const std::string& path,
                                                 const std::string& contents);

} // namespace px::config
