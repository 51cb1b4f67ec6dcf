#include "config/users.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <crypt.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/ini.hpp"
#include "config/limits.hpp"
#include "net/address.hpp"
#include "net/write_all.hpp"

namespace px::config {

namespace {

/// True when every byte of `s` is visible ASCII: no space, control byte, NUL
/// or byte above 0x7E.
bool visible_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7F)
      return false;
  return true;
}

/// True when `hash` is a whole crypt(5) hash, not just a setting (its salt
/// and parameters, which crypt_checksalt accepts too, but which no password
/// verifies against): `$id$[params$]salt$hash` with a non-empty last field,
/// as many fields as the method has, or bcrypt's fixed 60 bytes.
bool whole_hash(std::string_view hash) {
  if (hash.size() > 4 && hash[0] == '$' && hash[1] == '2' && hash[3] == '$')
    return hash.size() == 60; // bcrypt: $2b$NN$ + 53 bytes of salt and hash
  size_t fields = 0;
  for (char c : hash)
    fields += c == '$';
  if (hash.back() == '$')
    return false;
  auto id = hash.substr(1, hash.find('$', 1) - 1);
  if (id == "y" || id == "gy" || id == "7")
    return fields == 4; // $id$params$salt$hash
  if (id == "5" || id == "6") // $id$[rounds=N$]salt$hash
    return fields == 3 || (fields == 4 && hash.find("$rounds=") == id.size() + 1);
  return fields >= 3;
}

using error = std::optional<std::string>;

/// "'TEXT' is not WHAT" for option `key`.
error bad_value(std::string_view key, std::string_view text, const char* what) {
  return std::string{key} + ": '" + shown(std::string{text}) + "' is not " + what;
}

/// A count in [0, max] into `out`.
error parse_count(std::string_view key, std::string_view text, uint64_t max,
                  int64_t& out) {
  auto n = net::parse_decimal(text);
  if (!n || *n > max)
    return std::string{key} + ": '" + shown(std::string{text})
           + "' is not a whole number from 0 to " + std::to_string(max);
  out = static_cast<int64_t>(*n);
  return std::nullopt;
}

/// One `key=value` option of a user line into `u`; `seen` holds the keys
/// before it.
error parse_option(std::string_view item, std::set<std::string>& seen, user_entry& u) {
  auto eq = item.find('=');
  if (item.empty() || eq == std::string_view::npos)
    return "option '" + shown(std::string{item})
           + "' is not key=value (options are separated by ',')";
  auto key = item.substr(0, eq);
  auto value = item.substr(eq + 1);
  if (key != "group" && !seen.insert(std::string{key}).second)
    return "option '" + shown(std::string{key}) + "' given twice";
  if (key == "group") {
    if (!valid_group_name(value))
      return bad_value(key, value, "a group name (like a user name, without ',' or '=')");
    if (std::find(u.groups.begin(), u.groups.end(), value) == u.groups.end())
      u.groups.emplace_back(value);
    return std::nullopt;
  }
  if (key == "sessions")
    return parse_count(key, value, max_sessions_limit, u.sessions);
  if (key == "rate")
    return parse_count(key, value, max_connect_rate_limit, u.connect_rate);
  if (key == "up" || key == "down") {
    auto n = parse_rate(value);
    if (!n)
      return bad_value(key, value, "a rate of at most 1024G (e.g. 0, 512K, 10M)");
    (key == "up" ? u.bandwidth_up : u.bandwidth_down) = static_cast<int64_t>(*n);
    return std::nullopt;
  }
  if (key == "outbound") {
    if (!valid_profile_name(value))
      return bad_value(key, value, "a profile name (letters, digits, '_', '-')");
    u.outbound = std::string{value};
    return std::nullopt;
  }
  if (key == "via") {
    if (!valid_group_name(value))
      return bad_value(key, value, "a parent or group name of [upstream] (or direct)");
    u.via = std::string{value};
    return std::nullopt;
  }
  return "unknown option '" + shown(std::string{key})
         + "' (known: group, sessions, rate, up, down, outbound, via)";
}

/// The options field after the hash (`text`: without its ':').
error parse_options(std::string_view text, user_entry& u) {
  std::set<std::string> seen;
  for (;;) {
    auto comma = text.find(',');
    if (auto err = parse_option(text.substr(0, comma), seen, u))
      return err;
    if (comma == std::string_view::npos)
      return std::nullopt;
    text.remove_prefix(comma + 1);
  }
}

/// The options field of `u` (empty when it has none).
std::string format_options(const user_entry& u) {
  std::string out;
  auto add = [&out](const std::string& item) {
    out += (out.empty() ? "" : ",") + item;
  };
  for (auto& g : u.groups)
    add("group=" + g);
  if (u.sessions >= 0)
    add("sessions=" + std::to_string(u.sessions));
  if (u.connect_rate >= 0)
    add("rate=" + std::to_string(u.connect_rate));
  if (u.bandwidth_up >= 0)
    add("up=" + format_rate(static_cast<uint64_t>(u.bandwidth_up)));
  if (u.bandwidth_down >= 0)
    add("down=" + format_rate(static_cast<uint64_t>(u.bandwidth_down)));
  if (!u.outbound.empty())
    add("outbound=" + u.outbound);
  if (!u.via.empty())
    add("via=" + u.via);
  return out;
}

/// One user line (not a comment) into `u`.
error parse_user_line(const std::string& line, user_entry& u) {
  auto c1 = line.find(':');
  auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
  if (c2 == std::string::npos)
    return std::string{"expected 'name:roles:hash'"};
  auto c3 = line.find(':', c2 + 1);
  u.name = line.substr(0, c1);
  auto roles = parse_roles(std::string_view{line}.substr(c1 + 1, c2 - c1 - 1));
  u.hash = line.substr(c2 + 1, c3 == std::string::npos ? c3 : c3 - c2 - 1);
  if (!valid_username(u.name))
    return std::string{"invalid user name (1-255 printable characters, no ':' or spaces)"};
  if (!roles)
    return "user '" + u.name + "': roles must be socks, admin or socks,admin";
  u.roles = *roles;
  if (!valid_hash(u.hash))
    return "user '" + u.name
           + "': password hash is not a supported crypt(5) hash"
             " (create entries with 'proxy --hash-user')";
  if (c3 != std::string::npos)
    if (auto err = parse_options(std::string_view{line}.substr(c3 + 1), u))
      return "user '" + u.name + "': " + *err;
  return std::nullopt;
}

} // namespace

bool valid_hash(const std::string& hash) {
  // (crypt_checksalt reads up to a NUL: the rest must be checked here.)
  return !hash.empty() && hash.front() == '$' && visible_ascii(hash)
         && crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK && whole_hash(hash);
}

bool valid_profile_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '_' && c != '-')
      return false;
  return true;
}

bool valid_group_name(std::string_view name) {
  return valid_username(name) && name.find_first_of(",=") == std::string_view::npos;
}

bool valid_username(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '#')
    return false;
  return visible_ascii(name) && name.find(':') == std::string_view::npos;
}

bool valid_password(std::string_view password) {
  return !password.empty() && password.size() <= 255
         && password.find('\0') == std::string_view::npos;
}

std::string roles_to_string(uint8_t roles) {
  std::string out;
  if (roles & role_socks)
    out = "socks";
  if (roles & role_admin)
    out += out.empty() ? "admin" : ",admin";
  return out;
}

std::optional<uint8_t> parse_roles(std::string_view text) {
  uint8_t roles = 0;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    if (item == "socks")
      roles |= role_socks;
    else if (item == "admin")
      roles |= role_admin;
    else
      return std::nullopt;
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
  }
  if (roles == 0)
    return std::nullopt;
  return roles;
}

std::variant<std::vector<user_entry>, std::string>
parse_users(const std::string& text, const std::string& path) {
  std::vector<user_entry> users;
  std::set<std::string> names;
  std::istringstream in{text};
  std::string line;
  int lineno = 0;
  auto fail = [&](const std::string& what) {
    return path + ":" + std::to_string(lineno) + ": " + what;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty() || line.front() == '#')
      continue;
    user_entry u;
    if (auto err = parse_user_line(line, u))
      return fail(*err);
    if (!names.insert(u.name).second)
      return fail("user '" + u.name + "' appears twice");
    users.push_back(std::move(u));
  }
  return users;
}

std::variant<std::vector<user_entry>, std::string>
load_users(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return path + ": cannot open users file: " + std::strerror(errno);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return path + ": cannot open users file: not a regular file";
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_users(ss.str(), path);
}

std::string format_users(const std::vector<user_entry>& users) {
  std::string out = "# name:roles:hash (written by the proxy; edit with care)\n";
  for (auto& u : users) {
    auto options = format_options(u);
    out += u.name + ":" + roles_to_string(u.roles) + ":" + u.hash
           + (options.empty() ? "" : ":" + options) + "\n";
  }
  return out;
}

std::optional<std::string> hash_password(std::string_view password) {
  if (!valid_password(password))
    return std::nullopt;
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof(salt)))
    return std::nullopt;
  crypt_data data;
  std::memset(&data, 0, sizeof(data));
  std::string pw{password};
  auto h = crypt_r(pw.c_str(), salt, &data);
  if (!h || h[0] != '$')
    return std::nullopt;
  return std::string{h};
}

bool verify_password(std::string_view password, const std::string& hash) {
  if (!valid_password(password) || hash.empty())
    return false;
  crypt_data data;
  std::memset(&data, 0, sizeof(data));
  std::string pw{password};
  auto h = crypt_r(pw.c_str(), hash.c_str(), &data);
  if (!h || h[0] != '$')
    return false;
  auto len = std::strlen(h);
  if (len != hash.size())
    return false;
  // Constant-time comparison.
  unsigned char diff = 0;
  for (size_t i = 0; i < len; ++i)
    diff |= static_cast<unsigned char>(h[i] ^ hash[i]);
  return diff == 0;
}

std::optional<std::string> write_file_atomically(const std::string& path,
                                                 const std::string& contents) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto err = [&](const char* what) {
    return std::string{what} + " " + tmp + ": " + std::strerror(errno);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return err("cannot create");
  if (!net::write_all(fd, contents)) {
    auto e = err("cannot write");
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::fsync(fd) != 0) {
    auto e = err("cannot fsync");
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = err("cannot rename");
    ::unlink(tmp.c_str());
    return e;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return std::nullopt;
}

} // namespace px::config
