#include "admin/cluster_codec.hpp"

#include <algorithm>
#include <array>

#include "admin/codec.hpp"

namespace px::admin::manager {

namespace {

/// The counters of `c` in wire order.
std::array<uint64_t*, 6> numbers_of(cluster_node_counters& c) {
  return {&c.active, &c.accepted, &c.bytes_up, &c.bytes_down, &c.auth_failures,
          &c.users};
}

/// NLEN NAME (cut at 255 bytes).
void encode_name(const std::string& s, std::vector<uint8_t>& out) {
  auto len = std::min<size_t>(s.size(), 255);
  out.push_back(static_cast<uint8_t>(len));
  out.insert(out.end(), s.begin(), s.begin() + static_cast<long>(len));
}

/// NLEN NAME at `pos` (advanced past it).
bool decode_name(const uint8_t* buf, size_t n, size_t& pos, std::string& out) {
  if (pos >= n || n - pos - 1 < buf[pos])
    return false;
  size_t len = buf[pos++];
  out.assign(reinterpret_cast<const char*>(buf + pos), len);
  pos += len;
  return true;
}

/// The header of an ok reply to `c`: VER CMD STATUS.
std::vector<uint8_t> ok_header(cmd c) {
  return {version, static_cast<uint8_t>(c), static_cast<uint8_t>(status::ok)};
}

/// True when `buf` starts an ok reply to `c` with room for both counts.
bool is_ok_reply(const uint8_t* buf, size_t n, cmd c) {
  return n >= 5 && buf[0] == version && buf[1] == static_cast<uint8_t>(c)
         && buf[2] == static_cast<uint8_t>(status::ok);
}

/// The nodes that did not answer: COUNT then a name each (255 at most).
void encode_missing(const std::vector<std::string>& missing, std::vector<uint8_t>& out) {
  auto count = std::min<size_t>(missing.size(), 255);
  out.push_back(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i)
    encode_name(missing[i], out);
}

/// The list of encode_missing at `pos`, which must end the reply.
bool decode_missing(const uint8_t* buf, size_t n, size_t pos,
                    std::vector<std::string>& missing) {
  if (pos >= n)
    return false;
  missing.resize(buf[pos++]);
  for (auto& m : missing)
    if (!decode_name(buf, n, pos, m))
      return false;
  return pos == n;
}

} // namespace

std::vector<uint8_t> encode_cluster_metrics_reply(const cluster_metrics_values& v) {
  auto out = ok_header(cmd::cluster_metrics);
  auto count = std::min<size_t>(v.nodes.size(), 255);
  out.push_back(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i) {
    auto c = v.nodes[i];
    encode_name(c.node, out);
    for (auto* x : numbers_of(c))
      encode_number(*x, out);
  }
  encode_missing(v.missing, out);
  return out;
}

std::optional<cluster_metrics_values> parse_cluster_metrics_reply(const uint8_t* buf,
                                                                  size_t n) {
  if (!is_ok_reply(buf, n, cmd::cluster_metrics))
    return std::nullopt;
  cluster_metrics_values v;
  size_t pos = 4;
  v.nodes.resize(buf[3]);
  for (auto& c : v.nodes) {
    if (!decode_name(buf, n, pos, c.node))
      return std::nullopt;
    for (auto* x : numbers_of(c))
      if (!decode_number(buf, n, pos, *x))
        return std::nullopt;
  }
  if (!decode_missing(buf, n, pos, v.missing))
    return std::nullopt;
  return v;
}

std::vector<uint8_t> encode_cluster_setting_reply(const cluster_setting_values& v) {
  auto out = ok_header(cmd::cluster_setting);
  auto count = std::min<size_t>(v.nodes.size(), 255);
  out.push_back(static_cast<uint8_t>(count));
  for (size_t i = 0; i < count; ++i) {
    encode_name(v.nodes[i].node, out);
    out.push_back(static_cast<uint8_t>(v.nodes[i].st));
  }
  encode_missing(v.missing, out);
  return out;
}

std::optional<cluster_setting_values> parse_cluster_setting_reply(const uint8_t* buf,
                                                                  size_t n) {
  if (!is_ok_reply(buf, n, cmd::cluster_setting))
    return std::nullopt;
  cluster_setting_values v;
  size_t pos = 4;
  v.nodes.resize(buf[3]);
  for (auto& c : v.nodes) {
    if (!decode_name(buf, n, pos, c.node) || pos >= n)
      return std::nullopt;
    c.st = static_cast<status>(buf[pos++]);
  }
  if (!decode_missing(buf, n, pos, v.missing))
    return std::nullopt;
  return v;
}

} // namespace px::admin::manager
