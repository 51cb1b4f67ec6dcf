// The users file: one user per line, `name:roles:hash[:options]`, where
// roles is a comma-separated subset of {socks, admin}, hash is a crypt(5)
// string (yescrypt by default; it never holds a ':'), and the optional
// options are `key=value` items separated by ',':
//
//   group=NAME     the user is in group NAME (repeatable; the rules' `group=`)
//   sessions=N     at most N sessions at once (0: no limit)
//   rate=N         at most N new sessions per second (0: no limit)
//   up=RATE        client-to-target bytes per second (config/limits.hpp)
//   down=RATE      target-to-client bytes per second
//   outbound=NAME  outgoing sockets use the profile [outbound.NAME] of
//                  proxy.ini instead of [outbound] (net/outbound_profile.hpp)
//   via=NAME       CONNECTs go through this parent or group of [upstream]
//                  (`direct`: none), unless a rule's via= says otherwise
//
// Each of sessions, rate, up and down overrides the `[limits]` default of
// proxy.ini for this user. '#' starts a comment line. Passwords never
// appear in clear text. Example:
//
//   alice:socks:$y$j9T$...:group=staff,group=ops,sessions=10,down=10M
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  user_entry() = default;

  /// A user without groups or limits of its own (a constructor, not
  /// aggregate initialization: callers that name three fields stay valid).
  user_entry(std::string name, uint8_t roles, std::string hash)
    : name(std::move(name)), roles(roles), hash(std::move(hash)) {
    // nop
  }

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
  /// The outbound profile the user's connections use (empty: the default).
  std::string outbound;
  /// Parent proxy or group of `[upstream]` (empty: the default).
  std::string via;

  friend bool operator==(const user_entry& x, const user_entry& y) {
    return x.name == y.name && x.roles == y.roles && x.hash == y.hash
           && x.groups == y.groups && x.sessions == y.sessions
           && x.connect_rate == y.connect_rate && x.bandwidth_up == y.bandwidth_up
           && x.bandwidth_down == y.bandwidth_down && x.outbound == y.outbound
           && x.via == y.via;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_entry& x) {
  return f(x.name, x.roles, x.hash, x.groups, x.sessions, x.connect_rate,
           x.bandwidth_up, x.bandwidth_down, x.outbound, x.via);
}

/// True when `name` can be stored in the users file.
bool valid_username(std::string_view name);

/// True when `name` can name a group: a valid user name without ',' or '='.
bool valid_group_name(std::string_view name);

/// True when `name` can name an outbound profile: 1 to 64 bytes of letters,
/// digits, '_' and '-'.
bool valid_profile_name(std::string_view name);

/// A crypt(5) hash the proxy can check and the users file can hold: a
/// supported method, printable, with nothing after the hash.
bool valid_hash(const std::string& hash);

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

/// Serializes users, one `name:roles:hash` line each, followed by
/// `:options` when the user has groups or limits of its own.
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
