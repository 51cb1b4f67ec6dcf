#include "admin/codec.hpp"

#include <algorithm>
#include <array>

namespace px::spcp {

const char* to_string(status x) {
  switch (x) {
    case status::ok:
      return "ok";
    case status::auth_error:
      return "authentication error";
    case status::invalid_command:
      return "invalid command";
    case status::invalid_args:
      return "invalid arguments";
    case status::general_error:
      return "general error";
  }
  return "unknown status";
}

const char* to_string(cmd x) {
  switch (x) {
    case cmd::user:
      return "USER";
    case cmd::pass:
      return "PASS";
    case cmd::concurrent:
      return "CONCURRENT";
    case cmd::bytes:
      return "BYTES";
    case cmd::historical:
      return "HISTORICAL";
    case cmd::get_transform:
      return "GET-TRANSFORM";
    case cmd::set_buffer:
      return "SET-BUFFER";
    case cmd::set_transform:
      return "SET-TRANSFORM";
    case cmd::quit:
      return "QUIT";
  }
  return nullptr;
}

} // namespace px::spcp

namespace px::admin {

// -- SPCP ---------------------------------------------------------------------

std::optional<spcp_request> parse_spcp_request(const uint8_t* buf, size_t n,
                                               spcp_error& err) {
  if (n < 2) {
    err = spcp_error::no_header;
    return std::nullopt;
  }
  spcp_request req;
  req.cmd = buf[0];
  size_t nargs = buf[1];
  size_t pos = 2;
  for (size_t i = 0; i < nargs; ++i) {
    if (pos >= n) {
      err = spcp_error::truncated;
      return std::nullopt;
    }
    size_t len = buf[pos++];
    if (n - pos < len) {
      err = spcp_error::truncated;
      return std::nullopt;
    }
    req.args.emplace_back(reinterpret_cast<const char*>(buf + pos), len);
    pos += len;
  }
  if (pos != n) {
    err = spcp_error::trailing_bytes;
    return std::nullopt;
  }
  return req;
}

std::vector<uint8_t> encode_spcp_request(uint8_t cmd,
                                         const std::vector<std::string>& args) {
  // (push_back rather than an initializer list: GCC 12 reports a false
  // -Warray-bounds on insert after brace-initialization.)
  std::vector<uint8_t> out;
  out.reserve(2 + args.size() * 16);
  out.push_back(cmd);
  out.push_back(static_cast<uint8_t>(std::min<size_t>(args.size(), 255)));
  for (size_t i = 0; i < args.size() && i < 255; ++i) {
    auto len = std::min<size_t>(args[i].size(), 255);
    out.push_back(static_cast<uint8_t>(len));
    out.insert(out.end(), args[i].begin(), args[i].begin() + static_cast<long>(len));
  }
  return out;
}

std::vector<uint8_t> encode_spcp_response(spcp::status st, std::string_view data) {
  auto len = std::min<size_t>(data.size(), 255);
  std::vector<uint8_t> out;
  out.reserve(2 + len);
  out.push_back(static_cast<uint8_t>(st));
  out.push_back(static_cast<uint8_t>(len));
  out.insert(out.end(), data.begin(), data.begin() + static_cast<long>(len));
  return out;
}

std::optional<spcp_response> parse_spcp_response(const uint8_t* buf, size_t n) {
  if (n < 2 || n != 2u + buf[1])
    return std::nullopt;
  spcp_response r;
  r.status = static_cast<spcp::status>(buf[0]);
  r.data.assign(reinterpret_cast<const char*>(buf + 2), buf[1]);
  return r;
}

// -- Manager ------------------------------------------------------------------

namespace manager {

const char* to_string(status x) {
  switch (x) {
    case status::ok:
      return "ok";
    case status::auth_failed:
      return "authentication failed";
    case status::malformed:
      return "malformed request";
    case status::unknown_command:
      return "unknown command";
    case status::user_exists:
      return "user exists";
    case status::registry_full:
      return "registry full";
    case status::invalid_value:
      return "invalid value";
    case status::server_error:
      return "server error";
    case status::no_such_user:
      return "no such user";
    case status::forbidden:
      return "forbidden";
    case status::busy:
      return "busy";
    case status::invalid_config:
      return "invalid configuration";
  }
  return "unknown status";
}

namespace {

/// Parses ULEN UNAME PLEN PASSWD filling exactly [pos, n).
bool parse_user_pass(const uint8_t* buf, size_t n, size_t pos, credentials& out) {
  if (pos >= n)
    return false;
  size_t ulen = buf[pos++];
  if (ulen == 0 || n - pos < ulen + 1)
    return false;
  out.user.assign(reinterpret_cast<const char*>(buf + pos), ulen);
  pos += ulen;
  size_t plen = buf[pos++];
  if (plen == 0 || n - pos != plen)
    return false;
  out.password.assign(reinterpret_cast<const char*>(buf + pos), plen);
  return true;
}

/// Parses ULEN UNAME filling exactly [pos, n).
bool parse_user(const uint8_t* buf, size_t n, size_t pos, credentials& out) {
  if (pos >= n)
    return false;
  size_t ulen = buf[pos++];
  if (ulen == 0 || n - pos != ulen)
    return false;
  out.user.assign(reinterpret_cast<const char*>(buf + pos), ulen);
  return true;
}

void encode_user(const credentials& c, std::vector<uint8_t>& out) {
  auto u = std::min<size_t>(c.user.size(), 255);
  out.push_back(static_cast<uint8_t>(u));
  out.insert(out.end(), c.user.begin(), c.user.begin() + static_cast<long>(u));
}

void encode_user_pass(const credentials& c, std::vector<uint8_t>& out) {
  encode_user(c, out);
  auto p = std::min<size_t>(c.password.size(), 255);
  out.push_back(static_cast<uint8_t>(p));
  out.insert(out.end(), c.password.begin(), c.password.begin() + static_cast<long>(p));
}

} // namespace

void encode_number(uint64_t v, std::vector<uint8_t>& out) {
  uint8_t len = 1;
  while (len < 8 && (v >> (8 * len)) != 0)
    ++len;
  out.push_back(len);
  for (int i = len - 1; i >= 0; --i)
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool decode_number(const uint8_t* buf, size_t n, size_t& pos, uint64_t& out) {
  if (pos >= n)
    return false;
  size_t len = buf[pos++];
  if (len == 0 || n - pos < len)
    return false;
  out = 0;
  for (size_t i = 0; i < len; ++i) {
    if (i + 8 < len && buf[pos + i] != 0)
      return false; // more than 64 bits: only leading zero bytes may exceed 8
    out = (out << 8) | buf[pos + i];
  }
  pos += len;
  return true;
}

std::optional<credentials> parse_login(const uint8_t* buf, size_t n) {
  if (n < 1 || buf[0] != login_version)
    return std::nullopt;
  credentials c;
  if (!parse_user_pass(buf, n, 1, c))
    return std::nullopt;
  return c;
}

std::vector<uint8_t> encode_login(const credentials& c) {
  std::vector<uint8_t> out;
  out.reserve(520);
  out.push_back(login_version);
  encode_user_pass(c, out);
  return out;
}

std::optional<request> parse_request(const uint8_t* buf, size_t n,
                                     request_error& err) {
  err = request_error::malformed;
  if (n < 2 || buf[0] != version)
    return std::nullopt;
  request r;
  r.cmd = buf[1];
  switch (static_cast<cmd>(r.cmd)) {
    case cmd::add_user:
    case cmd::passwd:
      if (!parse_user_pass(buf, n, 2, r.user))
        return std::nullopt;
      return r;
    case cmd::del_user:
      if (!parse_user(buf, n, 2, r.user))
        return std::nullopt;
      return r;
    case cmd::user_stats:
      // ULEN UNAME, where ULEN 0 asks for every user.
      if (n < 3 || n - 3 != buf[2])
        return std::nullopt;
      r.user.user.assign(reinterpret_cast<const char*>(buf + 3), buf[2]);
      return r;
    case cmd::list_users:
    case cmd::metrics:
    case cmd::reload:
    case cmd::cluster_metrics:
      if (n != 2)
        return std::nullopt;
      return r;
    case cmd::cluster_setting:
      // KIND VLEN VALUE, KIND 1 to 3.
      if (n < 4 || buf[2] < 1 || buf[2] > 3 || n - 4 != buf[3])
        return std::nullopt;
      r.setting = buf[2];
      r.value.assign(reinterpret_cast<const char*>(buf + 4), buf[3]);
      return r;
    case cmd::max_clients:
      if (n != 7 || buf[2] != 4)
        return std::nullopt;
      r.max_clients = (uint32_t{buf[3]} << 24) | (uint32_t{buf[4]} << 16)
                      | (uint32_t{buf[5]} << 8) | uint32_t{buf[6]};
      return r;
  }
  err = request_error::unknown_command;
  return std::nullopt;
}

std::vector<uint8_t> encode_request(const request& r) {
  std::vector<uint8_t> out;
  out.reserve(520);
  out.push_back(version);
  out.push_back(r.cmd);
  switch (static_cast<cmd>(r.cmd)) {
    case cmd::add_user:
    case cmd::passwd:
      encode_user_pass(r.user, out);
      break;
    case cmd::del_user:
    case cmd::user_stats:
      encode_user(r.user, out);
      break;
    case cmd::max_clients:
      out.push_back(4);
      for (int i = 3; i >= 0; --i)
        out.push_back(static_cast<uint8_t>(r.max_clients >> (8 * i)));
      break;
    case cmd::cluster_setting: {
      out.push_back(r.setting);
      auto len = std::min<size_t>(r.value.size(), 255);
      out.push_back(static_cast<uint8_t>(len));
      out.insert(out.end(), r.value.begin(), r.value.begin() + static_cast<long>(len));
      break;
    }
    case cmd::list_users:
    case cmd::metrics:
    case cmd::reload:
    case cmd::cluster_metrics:
      break;
  }
  return out;
}

std::vector<uint8_t> encode_login_reply(status st) {
  return {version, static_cast<uint8_t>(st)};
}

std::vector<uint8_t> encode_status_reply(uint8_t c, status st) {
  return {version, c, static_cast<uint8_t>(st)};
}

std::vector<uint8_t> encode_list_reply(const std::vector<std::string>& names) {
  std::vector<uint8_t> out;
  out.reserve(3 + names.size() * 16);
  out.push_back(version);
  out.push_back(static_cast<uint8_t>(cmd::list_users));
  auto count = std::min<size_t>(names.size(), 255);
  out.push_back(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i) {
    auto len = std::min<size_t>(names[i].size(), 255);
    out.push_back(static_cast<uint8_t>(len));
    out.insert(out.end(), names[i].begin(), names[i].begin() + static_cast<long>(len));
  }
  return out;
}

std::vector<uint8_t> encode_metrics_reply(uint64_t historical, uint64_t active,
                                          uint64_t bytes) {
  std::vector<uint8_t> out;
  out.reserve(32);
  out.push_back(version);
  out.push_back(static_cast<uint8_t>(cmd::metrics));
  encode_number(historical, out);
  encode_number(active, out);
  encode_number(bytes, out);
  return out;
}

std::vector<uint8_t> encode_reload_reply(status st, std::string_view text) {
  auto len = std::min(text.size(), max_reload_text);
  std::vector<uint8_t> out;
  out.reserve(4 + len);
  out.push_back(version);
  out.push_back(static_cast<uint8_t>(cmd::reload));
  out.push_back(static_cast<uint8_t>(st));
  out.push_back(static_cast<uint8_t>(len));
  out.insert(out.end(), text.begin(), text.begin() + static_cast<long>(len));
  return out;
}

std::optional<reload_values> parse_reload_reply(const uint8_t* buf, size_t n) {
  if (n < 4 || buf[0] != version || buf[1] != static_cast<uint8_t>(cmd::reload)
      || n != 4u + buf[3])
    return std::nullopt;
  reload_values v;
  v.st = static_cast<status>(buf[2]);
  v.text.assign(reinterpret_cast<const char*>(buf + 4), buf[3]);
  return v;
}

std::optional<metrics_values> parse_metrics_reply(const uint8_t* buf, size_t n) {
  if (n < 2 || buf[0] != version || buf[1] != static_cast<uint8_t>(cmd::metrics))
    return std::nullopt;
  size_t pos = 2;
  metrics_values v;
  if (!decode_number(buf, n, pos, v.historical) || !decode_number(buf, n, pos, v.active)
      || !decode_number(buf, n, pos, v.bytes) || pos != n)
    return std::nullopt;
  return v;
}

std::optional<std::vector<std::string>> parse_list_reply(const uint8_t* buf,
                                                         size_t n) {
  if (n < 3 || buf[0] != version || buf[1] != static_cast<uint8_t>(cmd::list_users))
    return std::nullopt;
  size_t count = buf[2];
  size_t pos = 3;
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    if (pos >= n)
      return std::nullopt;
    size_t len = buf[pos++];
    if (n - pos < len)
      return std::nullopt;
    names.emplace_back(reinterpret_cast<const char*>(buf + pos), len);
    pos += len;
  }
  if (pos != n)
    return std::nullopt;
  return names;
}

namespace {

/// The numbers of `u` in wire order.
std::array<uint64_t*, 10> numbers_of(user_counters& u) {
  return {&u.open,          &u.connections,      &u.bytes_up,     &u.bytes_down,
          &u.refused_sessions, &u.refused_rate, &u.max_sessions, &u.connect_rate,
          &u.bandwidth_up,  &u.bandwidth_down};
}

} // namespace

std::vector<uint8_t> encode_user_stats_reply(const std::vector<user_counters>& users) {
  std::vector<uint8_t> out{version, static_cast<uint8_t>(cmd::user_stats),
                           static_cast<uint8_t>(status::ok)};
  auto count = std::min<size_t>(users.size(), 255);
  out.push_back(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i) {
    auto u = users[i];
    encode_user(credentials{u.name, {}}, out);
    for (auto* v : numbers_of(u))
      encode_number(*v, out);
  }
  return out;
}

std::optional<std::vector<user_counters>> parse_user_stats_reply(const uint8_t* buf,
                                                                 size_t n) {
  if (n < 4 || buf[0] != version || buf[1] != static_cast<uint8_t>(cmd::user_stats)
      || buf[2] != static_cast<uint8_t>(status::ok))
    return std::nullopt;
  size_t count = buf[3];
  size_t pos = 4;
  std::vector<user_counters> out(count);
  for (auto& u : out) {
    if (pos >= n || n - pos - 1 < buf[pos])
      return std::nullopt;
    size_t len = buf[pos++];
    u.name.assign(reinterpret_cast<const char*>(buf + pos), len);
    pos += len;
    for (auto* v : numbers_of(u))
      if (!decode_number(buf, n, pos, *v))
        return std::nullopt;
  }
  if (pos != n)
    return std::nullopt;
  return out;
}

} // namespace manager

} // namespace px::admin
