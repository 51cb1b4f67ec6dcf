#include "net/upstream.hpp"

namespace px::net {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Undoes %XX escapes; nothing when one is malformed.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size())
      return std::nullopt;
    int hi = hex_digit(in[i + 1]);
    int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool valid_credential(const std::string& s) {
  return !s.empty() && s.size() <= 255 && s.find('\0') == std::string::npos;
}

/// Splits `USER:PASS` into `out`.
std::optional<std::string> parse_userinfo(std::string_view info, parent_proxy& out) {
  auto colon = info.find(':');
  if (colon == std::string_view::npos)
    return std::string{"credentials must be USER:PASS"};
  auto user = percent_decode(info.substr(0, colon));
  auto pass = percent_decode(info.substr(colon + 1));
  if (!user || !pass || !valid_credential(*user) || !valid_credential(*pass))
    return std::string{"USER and PASS must be 1 to 255 bytes (%XX escapes allowed)"};
  out.user = std::move(*user);
  out.password = std::move(*pass);
  return std::nullopt;
}

/// A DNS name: labels of letters, digits and '-' (not at either end),
/// 1 to 63 bytes each, separated by dots, 253 bytes at most, not all digits.
bool host_name(std::string_view s) {
  if (s.empty() || s.size() > 253)
    return false;
  bool letter = false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || (c >= '0' && c <= '9') || (c == '-' && label > 0);
    if (!ok || ++label > 63)
      return false;
    letter = letter || alpha || c == '-';
  }
  return label > 0 && s.back() != '-' && letter;
}

} // namespace

std::optional<std::string> parse_parent_url(std::string_view url, parent_proxy& out) {
  std::string_view rest;
  if (url.rfind("socks5://", 0) == 0) {
    out.kind = parent_kind::socks5;
    rest = url.substr(9);
  } else if (url.rfind("http://", 0) == 0) {
    out.kind = parent_kind::http;
    rest = url.substr(7);
  } else {
    return std::string{"a parent is socks5://[USER:PASS@]IP:PORT or http://[USER:PASS@]IP:PORT"};
  }
  out.user.clear();
  out.password.clear();
  if (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (auto err = parse_userinfo(rest.substr(0, at), out))
      return err;
    rest = rest.substr(at + 1);
  }
  out.host.clear();
  if (auto ep = ip_endpoint::parse(rest); ep && ep->port != 0) {
    out.address = *ep;
    return std::nullopt;
  }
  auto colon = rest.rfind(':');
  auto port = colon == std::string_view::npos ? std::nullopt
                                              : parse_decimal(rest.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535 || !host_name(rest.substr(0, colon)))
    return std::string{"the parent's address must be HOST:PORT (e.g. 127.0.0.1:1080, "
                       "[::1]:1080 or proxy.example.com:1080)"};
  out.host = std::string{rest.substr(0, colon)};
  out.address = ip_endpoint{};
  out.address.port = static_cast<uint16_t>(*port);
  return std::nullopt;
}

std::string to_string(const parent_proxy& p) {
  std::string out = p.kind == parent_kind::socks5 ? "socks5://" : "http://";
  if (p.has_credentials()) {
    // The name is shown as written, bar the bytes a URL cannot hold.
    for (auto c : p.user)
      out += (c == ':' || c == '@' || c == '%' || static_cast<unsigned char>(c) < 0x21)
               ? '?'
               : c;
    out += ":***@";
  }
  if (!p.host.empty())
    return out + p.host + ":" + std::to_string(p.address.port);
  return out + p.address.to_string();
}

upstream_set::upstream_set(std::vector<parent_proxy> parents,
                           std::vector<parent_group> groups, std::string default_via)
  : parents_(std::move(parents)), groups_(std::move(groups)), default_(std::move(default_via)) {
  for (size_t i = 0; i < parents_.size(); ++i)
    routes_.emplace_back(parents_[i].name, parent_route{static_cast<uint16_t>(i)});
  for (auto& g : groups_) {
    parent_route r;
    for (auto& m : g.members)
      for (size_t i = 0; i < parents_.size(); ++i)
        if (parents_[i].name == m)
          r.push_back(static_cast<uint16_t>(i));
    routes_.emplace_back(g.name, std::move(r));
  }
}

const parent_route* upstream_set::route(std::string_view name) const {
  for (auto& kv : routes_)
    if (kv.first == name)
      return kv.second.empty() ? nullptr : &kv.second;
  return nullptr;
}

std::string upstream_set::describe() const {
  std::string out;
  for (auto& p : parents_)
    out += "parent = " + p.name + " " + to_string(p) + "\n";
  for (auto& g : groups_) {
    out += "group = " + g.name + " ";
    for (size_t i = 0; i < g.members.size(); ++i)
      out += (i ? "," : "") + g.members[i];
    out += "\n";
  }
  out += "default = " + (default_.empty() ? std::string{"direct"} : default_) + "\n";
  return out;
}

} // namespace px::net
