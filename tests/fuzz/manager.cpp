// Fuzz target: the Manager protocol (admin/codec.hpp): login, requests and
// the replies proxyctl reads, each input read as one whole SCTP message of
// every kind.
#include "admin/cluster_codec.hpp"
#include "admin/codec.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace px;
using namespace px::admin;
using namespace px::fuzz;

namespace {

void check_login(const uint8_t* data, size_t size) {
  auto c = manager::parse_login(data, size);
  if (!c)
    return;
  FUZZ_CHECK(!c->user.empty() && c->user.size() <= 255);
  FUZZ_CHECK(!c->password.empty() && c->password.size() <= 255);
  FUZZ_CHECK(same_bytes(manager::encode_login(*c), data, size));
  check_exact_length(data, size, [](const uint8_t* buf, size_t n) {
    return manager::parse_login(buf, n).has_value();
  });
}

void check_request(const uint8_t* data, size_t size) {
  auto err = manager::request_error::unknown_command;
  auto r = manager::parse_request(data, size, err);
  if (!r) {
    bool unknown = size >= 2 && data[0] == manager::version && data[1] > static_cast<uint8_t>(manager::cmd::cluster_setting); // the last CMD
    FUZZ_CHECK((err == manager::request_error::unknown_command) == unknown);
    return;
  }
  FUZZ_CHECK(same_bytes(manager::encode_request(*r), data, size));
  check_exact_length(data, size, [](const uint8_t* buf, size_t n) {
    manager::request_error e;
    return manager::parse_request(buf, n, e).has_value();
  });
}

/// Reads a metrics reply the long way: each number must fit in 64 bits
/// (leading zero bytes are allowed).
std::optional<manager::metrics_values> reference_metrics(const uint8_t* buf,
                                                         size_t n) {
  if (n < 2 || buf[0] != manager::version
      || buf[1] != static_cast<uint8_t>(manager::cmd::metrics))
    return std::nullopt;
  size_t pos = 2;
  uint64_t values[3] = {0, 0, 0};
  for (auto& v : values) {
    if (pos >= n)
      return std::nullopt;
    size_t len = buf[pos++];
    if (len == 0 || n - pos < len)
      return std::nullopt;
    for (size_t i = 0; i < len; ++i) {
      if ((v >> 56) != 0)
        return std::nullopt; // one more byte would not fit
      v = (v << 8) | buf[pos + i];
    }
    pos += len;
  }
  if (pos != n)
    return std::nullopt;
  return manager::metrics_values{values[0], values[1], values[2]};
}

bool same_metrics(const manager::metrics_values& x, const manager::metrics_values& y) {
  return x.historical == y.historical && x.active == y.active && x.bytes == y.bytes;
}

void check_metrics_reply(const uint8_t* data, size_t size) {
  auto m = manager::parse_metrics_reply(data, size);
  auto ref = reference_metrics(data, size);
  FUZZ_CHECK(m.has_value() == ref.has_value());
  if (!m)
    return;
  FUZZ_CHECK(same_metrics(*m, *ref));
  // Round trip through the encoder (shortest lengths, so not always the same
  // bytes, but always the same values).
  auto enc = manager::encode_metrics_reply(m->historical, m->active, m->bytes);
  auto back = manager::parse_metrics_reply(enc.data(), enc.size());
  FUZZ_CHECK(back && same_metrics(*back, *m));
}

void check_list_reply(const uint8_t* data, size_t size) {
  auto names = manager::parse_list_reply(data, size);
  if (!names)
    return;
  FUZZ_CHECK(names->size() == data[2]);
  FUZZ_CHECK(same_bytes(manager::encode_list_reply(*names), data, size));
  check_exact_length(data, size, [](const uint8_t* buf, size_t n) {
    return manager::parse_list_reply(buf, n).has_value();
  });
}

void check_reload_reply(const uint8_t* data, size_t size) {
  auto r = manager::parse_reload_reply(data, size);
  if (!r)
    return;
  FUZZ_CHECK(r->text.size() == data[3]);
  FUZZ_CHECK(same_bytes(manager::encode_reload_reply(r->st, r->text), data, size));
  check_exact_length(data, size, [](const uint8_t* buf, size_t n) {
    return manager::parse_reload_reply(buf, n).has_value();
  });
}

/// A user-stats reply that parses re-encodes (canonically) to one that
/// parses to the same users and numbers.
void check_user_stats_reply(const uint8_t* data, size_t size) {
  auto r = manager::parse_user_stats_reply(data, size);
  if (!r)
    return;
  auto enc = manager::encode_user_stats_reply(*r);
  auto back = manager::parse_user_stats_reply(enc.data(), enc.size());
  FUZZ_CHECK(back && back->size() == r->size());
  for (size_t i = 0; back && i < r->size(); ++i)
    FUZZ_CHECK((*back)[i].name == (*r)[i].name && (*back)[i].bytes_up == (*r)[i].bytes_up
               && (*back)[i].bandwidth_down == (*r)[i].bandwidth_down);
}

/// Cluster replies (0x08, 0x09) that parse re-encode (canonically) to ones
/// that parse to the same nodes, numbers and missing names.
void check_cluster_replies(const uint8_t* data, size_t size) {
  if (auto m = manager::parse_cluster_metrics_reply(data, size)) {
    auto enc = manager::encode_cluster_metrics_reply(*m);
    auto back = manager::parse_cluster_metrics_reply(enc.data(), enc.size());
    FUZZ_CHECK(back && back->nodes.size() == m->nodes.size()
               && back->missing == m->missing);
    for (size_t i = 0; back && i < m->nodes.size(); ++i)
      FUZZ_CHECK(back->nodes[i].node == m->nodes[i].node
                 && back->nodes[i].users == m->nodes[i].users);
  }
  if (auto v = manager::parse_cluster_setting_reply(data, size)) {
    FUZZ_CHECK(same_bytes(manager::encode_cluster_setting_reply(*v), data, size));
  }
}

/// Whatever the encoders are given, their output parses back to it.
void check_encoders(const uint8_t* data, size_t size) {
  uint64_t v[3] = {0, 0, 0};
  for (size_t i = 0; i < size && i < 24; ++i)
    v[i / 8] = (v[i / 8] << 8) | data[i];
  auto enc = manager::encode_metrics_reply(v[0], v[1], v[2]);
  auto m = manager::parse_metrics_reply(enc.data(), enc.size());
  FUZZ_CHECK(m && same_metrics(*m, manager::metrics_values{v[0], v[1], v[2]}));
  manager::request r;
  r.cmd = static_cast<uint8_t>(manager::cmd::max_clients);
  r.max_clients = static_cast<uint32_t>(v[0]);
  auto req_bytes = manager::encode_request(r);
  manager::request_error err;
  auto back = manager::parse_request(req_bytes.data(), req_bytes.size(), err);
  FUZZ_CHECK(back && back->cmd == r.cmd && back->max_clients == r.max_clients);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size <= max_admin_message) // the transports refuse longer ones unread
    check_all(data, size, check_login, check_request, check_metrics_reply,
              check_list_reply, check_reload_reply, check_user_stats_reply,
              check_cluster_replies, check_encoders);
  return 0;
}
