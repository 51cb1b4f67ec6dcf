#include "net/reactor/upstream_engine.hpp"

#include <algorithm>

namespace px::net {

using socks5::parse_status;

connect_error from_parent_reply(uint8_t rep) {
  switch (static_cast<socks5::reply>(rep)) {
    case socks5::reply::succeeded:
      return connect_error::none;
    case socks5::reply::not_allowed:
      return connect_error::denied;
    case socks5::reply::network_unreachable:
      return connect_error::network_unreachable;
    case socks5::reply::host_unreachable:
      return connect_error::host_unreachable;
    case socks5::reply::connection_refused:
      return connect_error::refused;
    case socks5::reply::ttl_expired:
      return connect_error::timeout;
    case socks5::reply::address_type_not_supported:
      return connect_error::address_unsupported;
    case socks5::reply::command_not_supported:
      return connect_error::command_unsupported;
    case socks5::reply::general_failure:
      return connect_error::other;
  }
  return connect_error::other;
}

connect_error from_http_status(int status) {
  if (status >= 200 && status < 300)
    return connect_error::none;
  switch (status) {
    case 403:
      return connect_error::denied;
    case 404:
    case 503:
      return connect_error::host_unreachable;
    case 502:
      return connect_error::refused;
    case 504:
      return connect_error::timeout;
    default:
      return connect_error::other;
  }
}

std::string base64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16)
                 | (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8)
                 | static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6)
      out += abc[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (i + 1 < in.size())
      v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string http_connect_request(const parent_proxy& parent,
                                 const socks5::address& target) {
  std::string authority;
  if (target.type == socks5::atyp::domain)
    authority = target.domain + ":" + std::to_string(target.port());
  else
    authority = target.ip.to_string(); // "[v6]:port" for IPv6
  std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (parent.has_credentials())
    out += "Proxy-Authorization: Basic " + base64(parent.user + ":" + parent.password)
           + "\r\n";
  return out + "\r\n";
}

void upstream_engine::start(const parent_proxy& parent, const socks5::address& target,
                            std::vector<uint8_t>& out, socks5::command cmd) {
  parent_ = &parent;
  target_ = target;
  cmd_ = cmd;
  bound_ = socks5::address{};
  if (parent.kind == parent_kind::http) {
    step_ = up_step::http_head;
    auto req = http_connect_request(parent, target);
    out.insert(out.end(), req.begin(), req.end());
    return;
  }
  step_ = up_step::method;
  out.push_back(socks5::version);
  if (parent.has_credentials()) {
    out.push_back(2);
    out.push_back(static_cast<uint8_t>(socks5::method::no_auth));
    out.push_back(static_cast<uint8_t>(socks5::method::userpass));
  } else {
    out.push_back(1);
    out.push_back(static_cast<uint8_t>(socks5::method::no_auth));
  }
}

up_action upstream_engine::fail(connect_error err, bool parent_fault) {
  step_ = up_step::done;
  up_action a;
  a.kind = up_action::failed;
  a.err = err;
  a.parent_fault = parent_fault;
  return a;
}

up_action upstream_engine::advance(const uint8_t* data, size_t size,
                                   std::vector<uint8_t>& out) {
  size_t used = 0;
  for (;;) {
    up_action a;
    switch (step_) {
      case up_step::method:
        a = on_method(data + used, size - used, out);
        break;
      case up_step::auth:
        a = on_auth(data + used, size - used, out);
        break;
      case up_step::reply:
        a = on_reply(data + used, size - used);
        break;
      case up_step::http_head:
        a = on_http_head(data + used, size - used);
        break;
      case up_step::done:
        a = fail(connect_error::other, true);
        break;
    }
    auto now = a.consumed;
    used += now;
    a.consumed = used;
    if (a.kind != up_action::need_more || now == 0)
      return a;
  }
}

void upstream_engine::send_request(std::vector<uint8_t>& out) {
  step_ = up_step::reply;
  out.push_back(socks5::version);
  out.push_back(static_cast<uint8_t>(cmd_));
  out.push_back(0);
  socks5::encode_address(target_, out);
}

up_action upstream_engine::on_method(const uint8_t* data, size_t size,
                                     std::vector<uint8_t>& out) {
  if (size < 2)
    return up_action{};
  if (data[0] != socks5::version)
    return fail(connect_error::other, true);
  up_action a;
  a.consumed = 2;
  if (data[1] == static_cast<uint8_t>(socks5::method::no_auth)) {
    send_request(out);
    return a;
  }
  if (data[1] != static_cast<uint8_t>(socks5::method::userpass)
      || !parent_->has_credentials())
    return fail(connect_error::other, true); // 0xFF: our methods are not enough
  step_ = up_step::auth;
  out.push_back(socks5::auth_version);
  out.push_back(static_cast<uint8_t>(parent_->user.size()));
  out.insert(out.end(), parent_->user.begin(), parent_->user.end());
  out.push_back(static_cast<uint8_t>(parent_->password.size()));
  out.insert(out.end(), parent_->password.begin(), parent_->password.end());
  return a;
}

up_action upstream_engine::on_auth(const uint8_t* data, size_t size,
                                   std::vector<uint8_t>& out) {
  if (size < 2)
    return up_action{};
  // Some servers answer RFC 1929 with VER 5 instead of 1: both are read.
  if ((data[0] != socks5::auth_version && data[0] != socks5::version)
      || data[1] != socks5::auth_success)
    return fail(connect_error::other, true);
  send_request(out);
  up_action a;
  a.consumed = 2;
  return a;
}

up_action upstream_engine::on_reply(const uint8_t* data, size_t size) {
  if (size < 4)
    return up_action{};
  if (data[0] != socks5::version || data[2] != 0)
    return fail(connect_error::other, true);
  socks5::address bound;
  auto r = socks5::parse_address(data + 3, size - 3, bound);
  if (r.status == parse_status::need_more)
    return up_action{};
  if (r.status == parse_status::error)
    return fail(connect_error::other, true);
  if (data[1] != 0) // the parent's verdict on the target, told truthfully
    return fail(from_parent_reply(data[1]), false);
  step_ = up_step::done;
  bound_ = bound;
  up_action a;
  a.kind = up_action::done;
  a.consumed = 3 + r.consumed;
  return a;
}

namespace {

/// The end of an HTTP head (after its empty line) in `data`, or 0.
size_t head_end(const uint8_t* data, size_t size) {
  for (size_t i = 0; i + 1 < size; ++i) {
    if (data[i] != '\n')
      continue;
    if (data[i + 1] == '\n')
      return i + 2;
    if (data[i + 1] == '\r' && i + 2 < size && data[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

/// The status of "HTTP/1.x SSS ...", or -1.
int http_status(const uint8_t* data, size_t size) {
  std::string_view line{reinterpret_cast<const char*>(data), size};
  line = line.substr(0, line.find('\n'));
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12 || line[8] != ' ')
    return -1;
  int s = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9')
      return -1;
    s = s * 10 + (line[i] - '0');
  }
  return (line.size() == 12 || line[12] == ' ' || line[12] == '\r') ? s : -1;
}

} // namespace

up_action upstream_engine::on_http_head(const uint8_t* data, size_t size) {
  auto end = head_end(data, std::min(size, max_http_head));
  if (end == 0) {
    if (size >= max_http_head)
      return fail(connect_error::other, true);
    return up_action{};
  }
  auto status = http_status(data, end);
  if (status < 0)
    return fail(connect_error::other, true);
  auto err = from_http_status(status);
  if (err != connect_error::none)
    return fail(err, status == 407 || status < 400);
  step_ = up_step::done;
  up_action a;
  a.kind = up_action::done;
  a.consumed = end;
  return a;
}

} // namespace px::net
