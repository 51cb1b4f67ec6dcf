#include "net/socks5_codec.hpp"

#include <algorithm>

namespace px::socks5 {

const char* to_string(reply x) {
  switch (x) {
    case reply::succeeded:
      return "succeeded";
    case reply::general_failure:
      return "general-failure";
    case reply::not_allowed:
      return "not-allowed";
    case reply::network_unreachable:
      return "network-unreachable";
    case reply::host_unreachable:
      return "host-unreachable";
    case reply::connection_refused:
      return "connection-refused";
    case reply::ttl_expired:
      return "ttl-expired";
    case reply::command_not_supported:
      return "command-not-supported";
    case reply::address_type_not_supported:
      return "address-type-not-supported";
  }
  return "unknown-reply";
}

const char* to_string(codec_error x) {
  switch (x) {
    case codec_error::none:
      return "none";
    case codec_error::bad_version:
      return "bad-version";
    case codec_error::no_methods:
      return "no-methods";
    case codec_error::empty_credentials:
      return "empty-credentials";
    case codec_error::bad_command:
      return "bad-command";
    case codec_error::bad_reserved:
      return "bad-reserved";
    case codec_error::bad_address_type:
      return "bad-address-type";
    case codec_error::bad_domain:
      return "bad-domain";
  }
  return "unknown-error";
}

bool greeting::offers(method m) const {
  return std::find(methods.begin(), methods.end(), static_cast<uint8_t>(m))
         != methods.end();
}

method choose_method(const greeting& g, bool userpass, bool no_auth) {
  if (userpass && g.offers(method::userpass))
    return method::userpass;
  if (no_auth && g.offers(method::no_auth))
    return method::no_auth;
  return method::none_acceptable;
}

std::string address::to_string() const {
  if (type == atyp::domain)
    return domain + ":" + std::to_string(ip.port);
  return ip.to_string();
}

address address::from(const net::ip_endpoint& ep) {
  address result;
  result.type = ep.v6 ? atyp::ipv6 : atyp::ipv4;
  result.ip = ep;
  return result;
}

parse_result parse_greeting(const uint8_t* buf, size_t n, greeting& out) {
  if (n < 1)
    return parse_result::more();
  if (buf[0] != version)
    return parse_result::fail(codec_error::bad_version);
  if (n < 2)
    return parse_result::more();
  size_t count = buf[1];
  if (count == 0)
    return parse_result::fail(codec_error::no_methods);
  if (n < 2 + count)
    return parse_result::more();
  out.methods.assign(buf + 2, buf + 2 + count);
  return parse_result::ok(2 + count);
}

parse_result parse_credentials(const uint8_t* buf, size_t n, credentials& out) {
  if (n < 1)
    return parse_result::more();
  if (buf[0] != auth_version)
    return parse_result::fail(codec_error::bad_version);
  if (n < 2)
    return parse_result::more();
  size_t ulen = buf[1];
  if (ulen == 0)
    return parse_result::fail(codec_error::empty_credentials);
  if (n < 2 + ulen + 1)
    return parse_result::more();
  size_t plen = buf[2 + ulen];
  if (plen == 0)
    return parse_result::fail(codec_error::empty_credentials);
  size_t total = 3 + ulen + plen;
  if (n < total)
    return parse_result::more();
  out.user.assign(reinterpret_cast<const char*>(buf + 2), ulen);
  out.password.assign(reinterpret_cast<const char*>(buf + 3 + ulen), plen);
  return parse_result::ok(total);
}

parse_result parse_address(const uint8_t* buf, size_t n, address& out) {
  if (n < 1)
    return parse_result::more();
  size_t addr_len = 0;
  size_t header = 1;
  switch (buf[0]) {
    case static_cast<uint8_t>(atyp::ipv4):
      addr_len = 4;
      break;
    case static_cast<uint8_t>(atyp::ipv6):
      addr_len = 16;
      break;
    case static_cast<uint8_t>(atyp::domain):
      if (n < 2)
        return parse_result::more();
      addr_len = buf[1];
      header = 2;
      if (addr_len == 0)
        return parse_result::fail(codec_error::bad_domain);
      break;
    default:
      return parse_result::fail(codec_error::bad_address_type);
  }
  size_t total = header + addr_len + 2;
  if (n < total)
    return parse_result::more();
  out = address{};
  out.type = static_cast<atyp>(buf[0]);
  const uint8_t* a = buf + header;
  if (out.type == atyp::domain) {
    if (std::find(a, a + addr_len, 0) != a + addr_len)
      return parse_result::fail(codec_error::bad_domain);
    out.domain.assign(reinterpret_cast<const char*>(a), addr_len);
  } else {
    out.ip.v6 = out.type == atyp::ipv6;
    std::copy(a, a + addr_len, out.ip.bytes.begin());
  }
  out.ip.port = static_cast<uint16_t>((a[addr_len] << 8) | a[addr_len + 1]);
  return parse_result::ok(total);
}

parse_result parse_request(const uint8_t* buf, size_t n, request& out) {
  if (n < 1)
    return parse_result::more();
  if (buf[0] != version)
    return parse_result::fail(codec_error::bad_version);
  if (n < 2)
    return parse_result::more();
  if (buf[1] < static_cast<uint8_t>(command::connect)
      || buf[1] > static_cast<uint8_t>(command::udp_associate))
    return parse_result::fail(codec_error::bad_command);
  if (n < 3)
    return parse_result::more();
  if (buf[2] != 0)
    return parse_result::fail(codec_error::bad_reserved);
  auto res = parse_address(buf + 3, n - 3, out.dst);
  if (res.status != parse_status::done)
    return res;
  out.cmd = static_cast<command>(buf[1]);
  return parse_result::ok(3 + res.consumed);
}

parse_result parse_udp_header(const uint8_t* buf, size_t n, udp_header& out) {
  if (n < 3)
    return parse_result::more();
  if (buf[0] != 0 || buf[1] != 0)
    return parse_result::fail(codec_error::bad_reserved);
  out.frag = buf[2];
  auto res = parse_address(buf + 3, n - 3, out.addr);
  if (res.status != parse_status::done)
    return res;
  return parse_result::ok(3 + res.consumed);
}

void encode_udp_header(const address& from, std::vector<uint8_t>& out) {
  out.push_back(0);
  out.push_back(0);
  out.push_back(0);
  encode_address(from, out);
}

std::vector<uint8_t> encode_method_choice(method m) {
  return {version, static_cast<uint8_t>(m)};
}

std::vector<uint8_t> encode_auth_status(bool success) {
  return {auth_version, success ? auth_success : auth_failure};
}

void encode_address(const address& addr, std::vector<uint8_t>& out) {
  out.push_back(static_cast<uint8_t>(addr.type));
  switch (addr.type) {
    case atyp::ipv4:
      out.insert(out.end(), addr.ip.bytes.begin(), addr.ip.bytes.begin() + 4);
      break;
    case atyp::ipv6:
      out.insert(out.end(), addr.ip.bytes.begin(), addr.ip.bytes.end());
      break;
    case atyp::domain: {
      auto len = std::min<size_t>(addr.domain.size(), 255);
      out.push_back(static_cast<uint8_t>(len));
      out.insert(out.end(), addr.domain.begin(), addr.domain.begin() + len);
      break;
    }
  }
  out.push_back(static_cast<uint8_t>(addr.ip.port >> 8));
  out.push_back(static_cast<uint8_t>(addr.ip.port & 0xFF));
}

std::vector<uint8_t> encode_reply(reply rep, const address& bound) {
  std::vector<uint8_t> out{version, static_cast<uint8_t>(rep), 0x00};
  encode_address(bound, out);
  return out;
}

} // namespace px::socks5
