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
  auto ep = ip_endpoint::parse(rest);
  if (!ep || ep->port == 0)
    return std::string{"the parent's address must be IP:PORT (e.g. 127.0.0.1:1080 or [::1]:1080; no names)"};
  out.address = *ep;
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
